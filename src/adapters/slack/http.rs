//! Slack over HTTP: `POST /slack/events` (Events API), `POST /slack/commands` (slash
//! commands) and `POST /slack/interactions` (shortcuts). Every request is verified before its
//! body is parsed; what it carries then goes through [`intake`], the same path Socket Mode
//! takes.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use chrono::Utc;
use serde_json::json;
use tower::limit::GlobalConcurrencyLimitLayer;

use super::Slack;
use super::inbound::{self, Inbound, Interaction};
use super::{intake, signature};

/// Slack's routes, with their own state: merged into the server's router where a signing
/// secret is set. Their bodies are read into memory before the signature can be checked, so
/// only `[server] max_buffered_bodies` requests are served at once; the rest wait.
pub fn routes(slack: Arc<Slack>) -> Router {
    let buffered = slack.app.config.server.max_buffered_bodies.get();
    Router::new()
        .route("/slack/events", post(events))
        .route("/slack/commands", post(commands))
        .route("/slack/interactions", post(interactions))
        .layer(GlobalConcurrencyLimitLayer::new(buffered))
        .with_state(slack)
}

/// The body, once it is known to be Slack's: 413 when too large, 408 when it does not arrive
/// in time, 401 when not signed.
async fn verified(slack: &Slack, headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    let server = &slack.app.config.server;
    let read = axum::body::to_bytes(body, server.max_body_bytes.get());
    let bytes = match tokio::time::timeout(server.body_read_timeout(), read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return Err((StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response());
        }
        Err(_) => {
            let late = "request body not received in time";
            return Err((StatusCode::REQUEST_TIMEOUT, late).into_response());
        }
    };
    let secret = slack
        .app
        .secrets
        .slack_signing_secret
        .as_ref()
        .ok_or_else(|| StatusCode::NOT_FOUND.into_response())?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    signature::verify(
        secret.expose().as_bytes(),
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &bytes,
        Utc::now(),
    )
    .map_err(|error| {
        tracing::warn!(%error, "refused a Slack request");
        (StatusCode::UNAUTHORIZED, error.to_string()).into_response()
    })?;
    Ok(bytes)
}

fn server_error(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "cannot store a Slack event; Slack will retry");
    (StatusCode::INTERNAL_SERVER_ERROR, "not stored").into_response()
}

async fn events(State(slack): State<Arc<Slack>>, headers: HeaderMap, body: Body) -> Response {
    let bytes = match verified(&slack, &headers, body).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let (event_id, events) = match inbound::parse_events_body(&bytes) {
        Ok(Inbound::Challenge(challenge)) => {
            return Json(json!({ "challenge": challenge })).into_response();
        }
        Ok(Inbound::Ignored(why)) => {
            tracing::debug!(why, "Slack event ignored");
            return StatusCode::OK.into_response();
        }
        Ok(Inbound::Events { event_id, events }) => (event_id, events),
        Err(error) => {
            tracing::warn!(%error, "malformed Slack event");
            return (StatusCode::BAD_REQUEST, error.to_string()).into_response();
        }
    };
    let retry = headers.get("x-slack-retry-num").is_some();
    match intake::events(&slack, &event_id, retry, events).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => server_error(error),
    }
}

async fn commands(State(slack): State<Arc<Slack>>, headers: HeaderMap, body: Body) -> Response {
    let bytes = match verified(&slack, &headers, body).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let command = match inbound::parse_command(&bytes) {
        Ok(command) => command,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    match intake::command(&slack, &command).await {
        Some(answer) => Json(answer).into_response(),
        // The start form opened: Slack shows nothing more.
        None => StatusCode::OK.into_response(),
    }
}

/// A shortcut, the start form or a headline's button: stored before the 200. Slack sends an
/// interaction once, and shows the person an error when it is not acknowledged; the person is
/// also told to try again.
async fn interactions(State(slack): State<Arc<Slack>>, headers: HeaderMap, body: Body) -> Response {
    let bytes = match verified(&slack, &headers, body).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let stored = match inbound::parse_interaction_form(&bytes) {
        Ok(Interaction::AddToTimeline(shortcut)) => {
            intake::add_to_timeline(&slack, &shortcut).await
        }
        Ok(Interaction::HeadlineAction(action)) => intake::headline_action(&slack, &action).await,
        Ok(Interaction::StartForm(form)) => {
            return match intake::start_form(&slack, &form).await {
                Some(errors) => Json(errors).into_response(),
                None => StatusCode::OK.into_response(),
            };
        }
        Ok(Interaction::Ignored(why)) => {
            tracing::debug!(why, "Slack interaction ignored");
            return StatusCode::OK.into_response();
        }
        Err(error) => {
            tracing::warn!(%error, "malformed Slack interaction");
            return (StatusCode::BAD_REQUEST, error.to_string()).into_response();
        }
    };
    match stored {
        Ok(()) => StatusCode::OK.into_response(),
        // The intake logged the cause and asked the person to try again.
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "not stored").into_response(),
    }
}
