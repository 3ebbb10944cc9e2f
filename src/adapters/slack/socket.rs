//! Slack over Socket Mode: Scribe opens a WebSocket to Slack and Slack sends down it what it
//! would otherwise post to the HTTP routes, each payload in an envelope Scribe acknowledges by
//! id. Nothing has to reach Scribe from outside, and no signing secret is needed: the
//! connection URL, fetched with the app-level token, is the credential.
//!
//! Payloads go through [`intake`] as the HTTP routes' do, and an envelope is acknowledged only
//! once what it carries is stored: Slack redelivers what it saw no acknowledgement for.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::Instrument;

use super::Slack;
use super::inbound::{self, Inbound, InboundError, Interaction, SlashCommand};
use super::web::{ApiError, SlackApi};
use super::{catch_up, intake};
use crate::config::Secret;
use crate::storage::StoreError;

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// The first wait before reconnecting after a failure; it doubles per failure up to
/// [`MAX_BACKOFF`], and starts over once Slack says hello.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A WebSocket handshake that takes longer is not going to finish.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// After this long without a frame Scribe pings, and after as long again it gives the
/// connection up: a NAT can forget a quiet connection without either end hearing of it.
const IDLE: Duration = Duration::from_secs(30);
/// How long a clean close waits for Slack's closing frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Keeps a Socket Mode connection open until `shutdown` completes, storing what Slack sends.
///
/// Slack refreshes connections every few hours and says so with a `disconnect` message: a new
/// connection is then opened at once. A connection that fails or drops is opened again after
/// a backoff, for as long as it takes.
pub async fn run(
    slack: Arc<Slack>,
    api: SlackApi,
    app_token: Secret,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = Backoff::default();
    loop {
        let socket = tokio::select! {
            () = &mut shutdown => return,
            socket = connect(&api, &app_token) => socket,
        };
        let end = match socket {
            Ok(socket) => session(&slack, socket, &mut backoff, shutdown.as_mut()).await,
            Err(lost) => End::Lost(lost),
        };
        match end {
            End::Shutdown => return,
            End::Refresh => {}
            End::Lost(error) => {
                let wait = backoff.next();
                tracing::warn!(
                    %error,
                    wait_ms = wait.as_millis() as u64,
                    "Socket Mode connection failed; reconnecting"
                );
                tokio::select! {
                    () = &mut shutdown => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// A slash command from a `slash_commands` envelope, whose payload holds the fields of the form
/// Slack posts over HTTP as a JSON object of strings; checked as [`inbound::parse_command`]
/// checks the form.
///
/// # Errors
/// When `command`, `user_id`, `channel_id` or `trigger_id` is missing or empty.
pub fn command_from_json(payload: &Value) -> Result<SlashCommand, InboundError> {
    SlashCommand::from_fields(|name| payload.get(name).and_then(Value::as_str).map(str::to_owned))
}

/// Why a connection ended.
enum End {
    Shutdown,
    /// Slack asked for a new connection.
    Refresh,
    Lost(Lost),
}

#[derive(Debug, thiserror::Error)]
enum Lost {
    #[error("cannot get a connection URL: {0}")]
    Open(#[from] ApiError),
    #[error("WebSocket: {0}")]
    Socket(Box<tungstenite::Error>),
    #[error("no WebSocket handshake within {CONNECT_TIMEOUT:?}")]
    ConnectTimeout,
    #[error("closed by Slack")]
    Closed,
    #[error("no answer to a ping within {IDLE:?}")]
    Silent,
}

impl From<tungstenite::Error> for Lost {
    fn from(error: tungstenite::Error) -> Self {
        Lost::Socket(Box::new(error))
    }
}

/// Exponential backoff with jitter, so that clients cut off together do not call back together.
struct Backoff {
    ceiling: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            ceiling: FIRST_BACKOFF,
        }
    }
}

impl Backoff {
    /// Between half the ceiling and all of it, at random; the ceiling then doubles.
    fn next(&mut self) -> Duration {
        let half = self.ceiling / 2;
        self.ceiling = (self.ceiling * 2).min(MAX_BACKOFF);
        half + half.mul_f64(rand::random::<f64>())
    }
}

/// A fresh URL from `apps.connections.open`, connected to. The URL is not logged: its ticket
/// opens a connection to the app's events.
async fn connect(api: &SlackApi, app_token: &Secret) -> Result<Socket, Lost> {
    let url = api.open_connection(app_token.expose()).await?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let (socket, _) = tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(url))
        .await
        .map_err(|_| Lost::ConnectTimeout)??;
    tracing::debug!(host, "Socket Mode WebSocket open");
    Ok(socket)
}

/// Reads one connection's frames until it ends, acknowledging each envelope once handled.
async fn session(
    slack: &Arc<Slack>,
    mut socket: Socket,
    backoff: &mut Backoff,
    mut shutdown: Pin<&mut impl Future<Output = ()>>,
) -> End {
    let mut pinged = false;
    loop {
        let frame = tokio::select! {
            () = shutdown.as_mut() => {
                close(socket).await;
                return End::Shutdown;
            }
            frame = tokio::time::timeout(IDLE, socket.next()) => frame,
        };
        let message = match frame {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(error))) => return End::Lost(error.into()),
            Ok(None) => return End::Lost(Lost::Closed),
            Err(_) if pinged => return End::Lost(Lost::Silent),
            Err(_) => {
                pinged = true;
                match socket.send(Message::Ping(Vec::new())).await {
                    Ok(()) => continue,
                    Err(error) => return End::Lost(error.into()),
                }
            }
        };
        pinged = false;
        // Tungstenite answers pings itself, and Slack's close frame on the next read.
        let Message::Text(text) = message else {
            continue;
        };
        match handle(slack, &text).await {
            Step::Hello => {
                *backoff = Backoff::default();
                // What was said while disconnected, read beside the events that now arrive.
                let slack = Arc::clone(slack);
                tokio::spawn(async move { catch_up::run(&slack).await });
            }
            Step::Ack(ack) => {
                if let Err(error) = socket.send(Message::Text(ack.to_string())).await {
                    return End::Lost(error.into());
                }
            }
            Step::Reconnect => {
                // The old connection closes while the new one opens.
                tokio::spawn(close(socket));
                return End::Refresh;
            }
            Step::Nothing => {}
        }
    }
}

/// What a frame from Slack calls for.
enum Step {
    Hello,
    /// Send this acknowledgement.
    Ack(Value),
    Reconnect,
    Nothing,
}

/// A frame as Slack sends it: `hello`, `disconnect`, or an envelope with a payload.
#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    envelope_id: Option<String>,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    retry_attempt: u32,
    #[serde(default)]
    reason: Option<String>,
}

async fn handle(slack: &Slack, text: &str) -> Step {
    let mut frame: Frame = match serde_json::from_str(text) {
        Ok(frame) => frame,
        Err(error) => {
            tracing::warn!(%error, "unreadable Socket Mode frame");
            return Step::Nothing;
        }
    };
    let Some(envelope_id) = frame.envelope_id.take() else {
        return match frame.kind.as_str() {
            "hello" => {
                tracing::info!("Socket Mode connected");
                Step::Hello
            }
            "disconnect" => {
                tracing::info!(reason = frame.reason, "Slack asks for a new connection");
                Step::Reconnect
            }
            kind => {
                tracing::debug!(kind, "Socket Mode message ignored");
                Step::Nothing
            }
        };
    };
    let span = tracing::info_span!(
        "slack_envelope",
        %envelope_id,
        kind = frame.kind,
        retry_attempt = frame.retry_attempt,
    );
    envelope(slack, envelope_id, frame).instrument(span).await
}

/// Handles an envelope and acknowledges it, unless the events it carries could not be stored
/// (a command is always answered: Slack would not send it again).
async fn envelope(slack: &Slack, envelope_id: String, frame: Frame) -> Step {
    let handled = match frame.kind.as_str() {
        "events_api" => events(slack, &frame.payload, frame.retry_attempt > 0)
            .await
            .map(|()| None),
        "slash_commands" => Ok(command(slack, &frame.payload).await),
        "interactive" => interaction(slack, &frame.payload).await,
        _ => {
            tracing::debug!("envelope not for Scribe");
            Ok(None)
        }
    };
    match handled {
        Ok(payload) => {
            tracing::debug!("acknowledged");
            let mut ack = json!({ "envelope_id": envelope_id });
            if let Some(payload) = payload {
                ack["payload"] = payload;
            }
            Step::Ack(ack)
        }
        Err(error) => {
            tracing::error!(%error, "cannot store a Slack event; Slack will redeliver it");
            Step::Nothing
        }
    }
}

/// Stores an `events_api` payload, which is an Events API request body.
async fn events(slack: &Slack, payload: &Value, retry: bool) -> Result<(), StoreError> {
    match inbound::parse_events_body(payload.to_string().as_bytes()) {
        Ok(Inbound::Events { event_id, events }) => {
            intake::events(slack, &event_id, retry, events).await
        }
        Ok(Inbound::Ignored(why)) => {
            tracing::debug!(why, "Slack event ignored");
            Ok(())
        }
        // URL verification belongs to the HTTP routes; Socket Mode never asks for it.
        Ok(Inbound::Challenge(_)) => Ok(()),
        // Acknowledged all the same: a redelivery would be just as malformed.
        Err(error) => {
            tracing::warn!(%error, "malformed Slack event");
            Ok(())
        }
    }
}

/// Stores an `interactive` payload, which is the JSON an interaction posts over HTTP, and
/// returns what the acknowledgement carries (the start form's errors).
async fn interaction(slack: &Slack, payload: &Value) -> Result<Option<Value>, StoreError> {
    match inbound::parse_interaction(payload.to_string().as_bytes()) {
        Ok(Interaction::AddToTimeline(shortcut)) => intake::add_to_timeline(slack, &shortcut)
            .await
            .map(|()| None),
        Ok(Interaction::HeadlineAction(action)) => {
            intake::headline_action(slack, &action).await.map(|()| None)
        }
        Ok(Interaction::StartForm(form)) => Ok(intake::start_form(slack, &form).await),
        Ok(Interaction::Ignored(why)) => {
            tracing::debug!(why, "Slack interaction ignored");
            Ok(None)
        }
        // Acknowledged all the same: a redelivery would be just as malformed.
        Err(error) => {
            tracing::warn!(%error, "malformed Slack interaction");
            Ok(None)
        }
    }
}

/// Stores a `slash_commands` payload and returns the answer to show.
async fn command(slack: &Slack, payload: &Value) -> Option<Value> {
    match command_from_json(payload) {
        Ok(command) => intake::command(slack, &command)
            .await
            .map(|answer| json!(answer)),
        Err(error) => {
            tracing::warn!(%error, "malformed slash command");
            None
        }
    }
}

/// Closes cleanly: a close frame, then a short wait for Slack's.
async fn close(mut socket: Socket) {
    let _ = socket.close(None).await;
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slash_command_payload_reads_like_the_form() {
        // A `slash_commands` payload as Slack's Socket Mode documentation shows it.
        let payload = json!({
            "token": "bHKJ2n9AW6Ju3MjciOHfbA1b",
            "team_id": "T0001",
            "team_domain": "acme",
            "channel_id": "C0CHECKOUT",
            "channel_name": "inc-checkout",
            "user_id": "U0ROBIN01",
            "user_name": "robin",
            "command": "/incident",
            "text": "start Checkout 5xx",
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/T0001/1/abc",
            "trigger_id": "t.1",
        });
        let command = command_from_json(&payload).unwrap();
        let form = "team_id=T0001&channel_id=C0CHECKOUT&channel_name=inc-checkout&user_id=U0ROBIN01\
            &user_name=robin&command=%2Fincident&text=start+Checkout+5xx\
            &response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0001%2F1%2Fabc&trigger_id=t.1";
        assert_eq!(command, inbound::parse_command(form.as_bytes()).unwrap());
    }

    #[test]
    fn a_slash_command_payload_without_a_required_field_is_refused() {
        let payload = json!({"command": "/incident", "user_id": "U1", "channel_id": "C1",
            "trigger_id": ""});
        assert_eq!(
            command_from_json(&payload),
            Err(InboundError::MissingParameter("trigger_id"))
        );
        assert_eq!(
            command_from_json(&json!({"command": 7})),
            Err(InboundError::MissingParameter("command"))
        );
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter() {
        let mut backoff = Backoff::default();
        let waits: Vec<Duration> = (0..8).map(|_| backoff.next()).collect();
        for (n, wait) in waits.iter().enumerate() {
            let ceiling = (FIRST_BACKOFF * 2u32.pow(n as u32)).min(MAX_BACKOFF);
            assert!(*wait >= ceiling / 2 && *wait <= ceiling, "{n}: {wait:?}");
        }
    }
}
