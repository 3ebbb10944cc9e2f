//! Scribe in Slack over Socket Mode: the real server with an app-level token and no signing
//! secret, so that only the WebSocket can bring events, against a fake Slack that hands out
//! connection URLs and sends envelopes as Slack's documentation shows them.

mod common;

use std::time::Duration;

use common::Sandbox;
use common::fake_slack::{APP_ID, CONNECTIONS_OPEN, FakeSlack, RESPONSE_URL};
use common::server::{APP_TOKEN, BOT_TOKEN, Server, entry_texts, message_action, now};
use scribe::adapters::slack::web::{ApiError, SlackApi};
use scribe::config::Secret;
use serde_json::{Value, json};

const CHANNEL: &str = "C0CHECKOUT";
const WAIT: Duration = Duration::from_secs(20);

fn ts(n: u32) -> String {
    format!("{}.{n:06}", now())
}

fn slash_command(envelope_id: &str, user: &str, text: &str, trigger: &str) -> Value {
    json!({
        "payload": {
            "token": "bHKJ2n9AW6Ju3MjciOHfbA1b",
            "team_id": "T0001",
            "team_domain": "acme",
            "channel_id": CHANNEL,
            "channel_name": "inc-checkout",
            "user_id": user,
            "user_name": user.to_lowercase(),
            "command": "/incident",
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": "https://hooks.slack.com/commands/T0001/1/abc",
            "trigger_id": trigger,
        },
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": true,
    })
}

fn events_api(envelope_id: &str, event_id: &str, event: Value, retry_attempt: u32) -> Value {
    json!({
        "envelope_id": envelope_id,
        "payload": {
            "token": "XXYYZZ",
            "team_id": "T0001",
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": now(),
            "authorizations": [{"team_id": "T0001", "user_id": "U0BOT", "is_bot": true}],
            "is_ext_shared_channel": false,
        },
        "type": "events_api",
        "accepts_response_payload": false,
        "retry_attempt": retry_attempt,
        "retry_reason": if retry_attempt > 0 { "timeout" } else { "" },
    })
}

fn message(user: &str, text: &str, ts: &str) -> Value {
    json!({"type": "message", "channel": CHANNEL, "user": user, "text": text, "ts": ts,
           "channel_type": "channel", "event_ts": ts})
}

fn pushpin(user: &str, on: &str, ts: &str) -> Value {
    json!({"type": "reaction_added", "user": user, "reaction": "pushpin",
           "item": {"type": "message", "channel": CHANNEL, "ts": on}, "event_ts": ts})
}

async fn start() -> (FakeSlack, Sandbox, Server) {
    let fake = FakeSlack::start().await;
    fake.add_user("U0ROBIN01", "Robin Ayers", "Robin Ayers");
    fake.add_user("U0ZOE0002", "Zoë Kapoor", "Zoë Kapoor");
    let sandbox = Sandbox::new();
    let server = Server::start_socket_mode(&sandbox, &fake.api_base());
    (fake, sandbox, server)
}

/// Sends `envelope` and returns Scribe's ack of it.
async fn deliver(fake: &FakeSlack, envelope: Value) -> Value {
    let id = envelope["envelope_id"].as_str().unwrap().to_owned();
    fake.socket_send(envelope).await;
    fake.socket_ack(&id, WAIT).await
}

/// Opens an incident in [`CHANNEL`] with a slash command over the socket.
async fn open_incident(fake: &FakeSlack) -> Value {
    let command = slash_command("env-cmd-1", "U0ROBIN01", "start Checkout 5xx", "t.1");
    deliver(fake, command).await
}

/// The timeline's entries (not its bookkeeping events), read once.
async fn entries(server: &Server) -> Vec<String> {
    entry_texts(&server.the_incident().await)
}

async fn events_stored(server: &Server) -> String {
    server
        .metrics()
        .await
        .lines()
        .find(|l| l.starts_with("scribe_events_stored_total"))
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slash_command_over_the_socket_is_answered_in_its_ack() {
    let (fake, _sandbox, server) = start().await;

    let ack = open_incident(&fake).await;
    assert_eq!(ack["envelope_id"], "env-cmd-1");
    assert_eq!(ack["payload"]["response_type"], "ephemeral", "{ack}");
    assert!(
        ack["payload"]["text"]
            .as_str()
            .unwrap()
            .contains("Incident opened: Checkout 5xx"),
        "{ack}"
    );
    let headline = fake.wait_for("chat.postMessage", 1, WAIT).await;
    assert_eq!(headline[0].params["channel"], CHANNEL);
    assert!(
        headline[0].params["text"]
            .as_str()
            .unwrap()
            .contains("Incident opened: Checkout 5xx")
    );
    assert_eq!(
        headline[0].auth.as_deref(),
        Some(format!("Bearer {BOT_TOKEN}").as_str())
    );

    let opened = fake.calls_to(CONNECTIONS_OPEN);
    assert_eq!(opened.len(), 1);
    assert_eq!(
        opened[0].auth.as_deref(),
        Some(format!("Bearer {APP_TOKEN}").as_str())
    );
    // Without a signing secret, the HTTP routes are off.
    let http = reqwest::Client::new()
        .post(format!("{}/slack/commands", server.base))
        .body("command=%2Fincident&text=start+x&user_id=U1&channel_id=C1&trigger_id=t")
        .send()
        .await
        .unwrap();
    assert_eq!(http.status(), 404);
    server
        .eventually(WAIT, "Slack's hello in the log", || async {
            server.log().contains("Socket Mode connected")
        })
        .await;
    let log = server.log();
    for secret in [APP_TOKEN, BOT_TOKEN, "ticket="] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_are_acked_once_stored_and_stored_once() {
    let (fake, _sandbox, server) = start().await;
    open_incident(&fake).await;

    let finding = ts(11);
    let said = events_api(
        "env-ev-1",
        "Ev01",
        message("U0ZOE0002", "db failover started", &finding),
        0,
    );
    assert_eq!(
        deliver(&fake, said.clone()).await,
        json!({"envelope_id": "env-ev-1"})
    );
    let pinned = events_api(
        "env-ev-2",
        "Ev02",
        pushpin("U0ROBIN01", &finding, &ts(20)),
        0,
    );
    deliver(&fake, pinned).await;
    // Read once, right after the ack: the ack came only after the event was stored.
    assert_eq!(entries(&server).await, ["db failover started"]);
    let stored = events_stored(&server).await;
    assert_eq!(stored, "scribe_events_stored_total 3");

    // Slack redelivers what it thinks was lost: acked again, stored once.
    let mut again = said;
    again["retry_attempt"] = json!(1);
    again["retry_reason"] = json!("timeout");
    deliver(&fake, again).await;
    assert_eq!(events_stored(&server).await, stored);
    let incidents = server.incidents().await;
    let zoe = incidents[0]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Zoë Kapoor")
        .cloned()
        .unwrap();
    assert_eq!(zoe["messages"], 1, "{zoe}");

    // An envelope Scribe has no use for is acked all the same, so Slack stops sending it.
    let interactive = json!({"envelope_id": "env-int-1", "type": "interactive",
        "accepts_response_payload": false, "payload": {"type": "block_actions"}});
    deliver(&fake, interactive).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disconnects_and_drops_lead_to_new_connections() {
    let (fake, _sandbox, mut server) = start().await;
    open_incident(&fake).await;
    assert_eq!(fake.socket_connections(), 1);

    // Slack refreshes the connection: a new one at once, and events keep coming.
    fake.socket_disconnect("refresh_requested").await;
    let finding = ts(11);
    let said = message("U0ZOE0002", "db failover started", &finding);
    deliver(&fake, events_api("env-ev-1", "Ev01", said, 0)).await;
    assert_eq!(fake.socket_connections(), 2);
    assert_eq!(fake.calls_to(CONNECTIONS_OPEN).len(), 2);

    // The TCP connection dies without a word: reconnected after a backoff.
    fake.socket_drop().await;
    let pinned = pushpin("U0ROBIN01", &finding, &ts(20));
    deliver(&fake, events_api("env-ev-2", "Ev02", pinned, 0)).await;
    assert_eq!(fake.socket_connections(), 3);
    assert_eq!(entries(&server).await, ["db failover started"]);

    let stopped = server.terminate();
    assert!(stopped.is_ok(), "{stopped:?}\n{}", server.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn what_was_said_while_disconnected_is_read_back_on_reconnecting() {
    let (fake, _sandbox, server) = start().await;
    open_incident(&fake).await;
    // After the start command, as Slack would stamp them.
    let later = |n: u32| format!("{}.{n:06}", now() + 1);
    let said = later(11);
    fake.add_message(CHANNEL, &said, "U0ZOE0002", "db failover started");
    deliver(
        &fake,
        events_api(
            "env-ev-1",
            "Ev01",
            message("U0ZOE0002", "db failover started", &said),
            0,
        ),
    )
    .await;

    // Said while the connection was down, and never sent down the next one.
    fake.socket_drop().await;
    fake.add_reaction(CHANNEL, &said, "U0ROBIN01", "pushpin");
    let missed = later(30);
    fake.add_message(CHANNEL, &missed, "U0ROBIN01", "replica 2 promoted");
    fake.pin(CHANNEL, &missed);

    server
        .eventually(WAIT, "the missed message and reaction", || async {
            server.incidents().await.len() == 1
                && entries(&server).await == ["db failover started", "replica 2 promoted"]
        })
        .await;
    assert_eq!(fake.socket_connections(), 2);
}

#[tokio::test]
async fn connection_urls_are_opened_with_the_app_token() {
    let fake = FakeSlack::start().await;
    let api = SlackApi::new(fake.api_base().parse().unwrap(), Secret::new(BOT_TOKEN));

    fake.rate_limit_next(CONNECTIONS_OPEN, 1);
    let url = api.open_connection(APP_TOKEN).await.unwrap();
    assert_eq!(url.scheme(), "ws");
    assert!(url.query().unwrap().contains("ticket="), "{url}");
    let calls = fake.calls_to(CONNECTIONS_OPEN);
    assert_eq!(calls.len(), 2, "retried after the 429");
    let app_token = format!("Bearer {APP_TOKEN}");
    assert!(
        calls
            .iter()
            .all(|c| c.auth.as_deref() == Some(app_token.as_str()))
    );

    // A bot token is refused, and the token appears nowhere in the error.
    let error = api.open_connection(BOT_TOKEN).await.unwrap_err();
    assert!(
        matches!(&error, ApiError::Permanent { error, .. } if error == "not_allowed_token_type"),
        "{error:?}"
    );
    assert!(!format!("{error} {error:?}").contains(BOT_TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn add_to_timeline_over_the_socket_is_acked_once_stored_and_stored_once() {
    let (fake, _sandbox, server) = start().await;
    open_incident(&fake).await;
    let finding = ts(11);
    let said = events_api(
        "env-ev-1",
        "Ev01",
        message("U0ZOE0002", "db failover started", &finding),
        0,
    );
    deliver(&fake, said).await;

    let shown = json!({"type": "message", "user": "U0ZOE0002", "text": "db failover started",
                       "ts": finding, "team": "T0001"});
    let payload = message_action(
        CHANNEL,
        "U0ROBIN01",
        shown,
        "13345224609.738474920.8088930838d88f008e0",
        &ts(20),
        &fake.response_url("actions/T0001/1/abc"),
    );
    let envelope = json!({"envelope_id": "env-int-1", "payload": payload, "type": "interactive",
                          "accepts_response_payload": false});
    assert_eq!(
        deliver(&fake, envelope.clone()).await,
        json!({"envelope_id": "env-int-1"})
    );
    // Read once, right after the ack: the ack came only after the mark was stored.
    assert_eq!(entries(&server).await, ["db failover started"]);
    let stored = events_stored(&server).await;

    deliver(&fake, envelope).await;
    assert_eq!(events_stored(&server).await, stored);
    let answers = fake.wait_for(RESPONSE_URL, 2, WAIT).await;
    assert_eq!(
        answers[0].params["text"],
        "Added to the incident's timeline, at the message's time."
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_start_form_answers_in_its_ack() {
    let (fake, _sandbox, server) = start().await;
    let opened = deliver(
        &fake,
        slash_command("env-cmd-0", "U0ROBIN01", "start", "t.form"),
    )
    .await;
    assert_eq!(
        opened,
        json!({"envelope_id": "env-cmd-0"}),
        "the form is the answer"
    );
    assert_eq!(fake.calls_to("views.open").len(), 1);

    let submission = |trigger: &str, title: &str| {
        json!({
            "type": "view_submission",
            "team": {"id": "T0001", "domain": "acme"},
            "user": {"id": "U0ROBIN01", "username": "robin", "name": "robin"},
            "trigger_id": trigger,
            "view": {"id": "V1", "type": "modal", "callback_id": "start_incident",
                     "private_metadata": CHANNEL,
                     "state": {"values": {"title": {"title": {"type": "plain_text_input",
                                                              "value": title}}}}},
        })
    };
    let envelope = |id: &str, payload: Value| {
        json!({"envelope_id": id, "type": "interactive", "accepts_response_payload": true,
               "payload": payload})
    };
    let refused = deliver(&fake, envelope("env-int-1", submission("t.s.1", ""))).await;
    assert_eq!(refused["payload"]["response_action"], "errors", "{refused}");
    assert!(server.incidents().await.is_empty());

    let started = deliver(
        &fake,
        envelope("env-int-2", submission("t.s.2", "Checkout 5xx")),
    )
    .await;
    assert_eq!(started, json!({"envelope_id": "env-int-2"}));
    assert_eq!(server.the_incident().await["title"], "Checkout 5xx");
}
