//! Discord's REST API through serenity's client. Against Discord itself serenity's ratelimiter
//! paces every call; behind another base URL (a proxy, a fake) the ratelimiter is off, as it
//! would bypass that URL, and a 429 is waited out here ([`crate::outbound::retry`]). serenity
//! does not pass a 429's `retry_after` on, so the wait is a backoff longer than Discord's usual
//! bucket resets. Other failures are the job worker's to retry.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{ChannelId, CreateAllowedMentions, CreateMessage, Http, HttpBuilder, Nonce};

use crate::config::{DiscordConfig, Secret};
use crate::jobs::JobError;
use crate::outbound::{Again, Retries, Retryable, retry};

/// Discord's own API, where serenity's routes point.
const DISCORD: &str = "https://discord.com/";
/// Three tries of a call Discord rate-limits, 2–4 s apart then 4–8 s, before the job worker's
/// backoff takes over. Discord never gets to ask for a wait: serenity keeps it.
const RETRIES: Retries = Retries {
    attempts: 3,
    base: Duration::from_secs(4),
    max_wait: Duration::ZERO,
};

#[derive(Clone)]
pub struct DiscordApi {
    http: Arc<Http>,
}

impl DiscordApi {
    pub fn new(config: &DiscordConfig, token: &Secret) -> Self {
        DiscordApi {
            http: Arc::new(http(config, token)),
        }
    }

    pub fn http(&self) -> &Arc<Http> {
        &self.http
    }

    /// Posts a message; mentions are always switched off, whatever the message says. `once`
    /// (at most 25 characters) is sent as an enforced nonce: Discord creates one message per
    /// nonce for a few minutes, so a retry after a lost answer does not post twice.
    pub async fn send(
        &self,
        channel: ChannelId,
        message: CreateMessage,
        once: &str,
    ) -> Result<(), JobError> {
        let message = message
            .allowed_mentions(CreateAllowedMentions::new())
            .nonce(Nonce::String(once.to_string()))
            .enforce_nonce(true);
        retry(RETRIES, &format!("post in {channel}"), || async {
            channel
                .send_message(&self.http, message.clone())
                .await
                .map(drop)
                .map_err(Failure::from)
        })
        .await
        .map_err(JobError::from)
    }

    /// The channel's name, for drafts; its id when it cannot be read.
    pub async fn channel_name(&self, channel: ChannelId) -> String {
        match channel.name(&self.http).await {
            Ok(name) => format!("#{name}"),
            Err(_) => channel.to_string(),
        }
    }
}

/// The client for `config`: Discord's own with serenity's ratelimiter, or another base URL.
pub fn http(config: &DiscordConfig, token: &Secret) -> Http {
    let builder =
        HttpBuilder::new(token.expose()).default_allowed_mentions(CreateAllowedMentions::new());
    let base = config.api_base_url.as_str();
    if base == DISCORD {
        builder.build()
    } else {
        builder
            .proxy(base.trim_end_matches('/'))
            .ratelimiter_disabled(true)
            .build()
    }
}

/// A failed call, sorted by what can be done about it.
struct Failure {
    error: serenity::Error,
    sort: Sort,
}

enum Sort {
    RateLimited,
    Transient,
    Permanent,
}

impl From<serenity::Error> for Failure {
    fn from(error: serenity::Error) -> Self {
        use serenity::all::HttpError;
        let sort = match &error {
            serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
                let status = response.status_code.as_u16();
                if status == 429 {
                    Sort::RateLimited
                } else if (400..500).contains(&status) {
                    Sort::Permanent
                } else {
                    Sort::Transient
                }
            }
            serenity::Error::Http(HttpError::Request(_)) | serenity::Error::Io(_) => {
                Sort::Transient
            }
            serenity::Error::Model(_) | serenity::Error::Json(_) => Sort::Permanent,
            _ => Sort::Transient,
        };
        Failure { error, sort }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl Retryable for Failure {
    fn again(&self) -> Again {
        match self.sort {
            Sort::RateLimited => Again::Backoff,
            Sort::Transient | Sort::Permanent => Again::No,
        }
    }
}

/// A rate limit that outlasted the tries here is the job worker's to wait out.
impl From<Failure> for JobError {
    fn from(failure: Failure) -> Self {
        match failure.sort {
            Sort::RateLimited | Sort::Transient => JobError::Transient(failure.error.to_string()),
            Sort::Permanent => JobError::Permanent(failure.error.to_string()),
        }
    }
}
