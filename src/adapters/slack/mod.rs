//! Slack: message markup, request signatures, and what the Events API and slash commands send.

pub mod blocks;
pub mod catch_up;
pub mod http;
pub mod inbound;
pub mod intake;
pub mod jobs;
pub mod markup;
pub mod signature;
pub mod socket;
pub(crate) mod ts;
pub mod web;

use std::sync::Arc;

use crate::app::App;
use web::SlackApi;

/// What Slack's intake, transports and jobs share: the application, and the Web API when a
/// bot token is set (without one, Scribe still records what Slack sends but posts nothing).
pub struct Slack {
    pub app: Arc<App>,
    pub api: Option<SlackApi>,
    /// Held by the catch-up in progress: a reconnect's catch-up waits for it.
    catching_up: tokio::sync::Mutex<()>,
}

impl Slack {
    pub fn new(app: Arc<App>) -> Self {
        let api = app
            .secrets
            .slack_bot_token
            .as_ref()
            .map(|token| SlackApi::new(app.config.slack.api_base_url.clone(), token.clone()));
        Slack {
            app,
            api,
            catching_up: tokio::sync::Mutex::new(()),
        }
    }
}
