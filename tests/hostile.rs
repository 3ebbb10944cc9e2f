//! Scribe under attack: one live server and a table of hostile requests against its Slack
//! routes. Each row says what it sends, the status it must get and how many events it may
//! store; a refused row carries a marker that must end up nowhere in the database. Valid rows
//! carry injection attempts (SQL, template syntax, control characters, mass mentions, path
//! traversal in titles) that must be stored verbatim and come out of every draft and post as
//! inert text.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::Sandbox;
use common::fake_slack::FakeSlack;
use common::server::{
    API_TOKEN, APP_TOKEN, BOT_TOKEN, Clock, SIGNING_SECRET, Server, event_callback, now,
};
use serde_json::{Value, json};
use sqlx::{Connection, Row as _, SqliteConnection};

const CHANNEL: &str = "C0HOSTILE";
const WAIT: Duration = Duration::from_secs(30);
/// `[server] max_body_bytes` in config/scribe.toml, the default the server runs with.
const MAX_BODY: usize = 1_048_576;
const JSON: Option<&str> = Some("application/json");
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// A person Slack knows, whose display name is itself an attack.
const EVIL_USER: &str = "U0MALLORY1";
const EVIL_DISPLAY_NAME: &str =
    "Mallory {{ 7*7 }} <!channel> '); DROP TABLE events;-- \u{202e}gpj.exe";
/// A person Slack does not know: the command's `user_name` is all Scribe has.
const EVIL_COMMANDER: &str = "U0EVE00002";
const EVIL_USER_NAME: &str = "eve\u{0}{% raw %}<!everyone>{{ config }}";
const EVIL_CHANNEL_NAME: &str = "inc-{{ config }}-<!here>-\u{1b}[2J";

const TITLE: &str = "Checkout {{ 7*7 }} '); DROP TABLE events;-- <!channel> \u{202e}down";

/// Hostile text for every free-text field, and how the draft must show it (user text made
/// inert: control and bidirectional characters dropped, whitespace folded, `<`/`>` as entities,
/// mass mentions broken by a zero-width space). Each starts with a tag so that no row's text
/// starts with a markdown block marker and each can be found again.
const PAYLOADS: &[(&str, &str, &str)] = &[
    // (tag, text as sent, as the draft shows it)
    (
        "sql",
        "'); DROP TABLE events;--",
        "'); DROP TABLE events;--",
    ),
    (
        "sql2",
        "\" OR 1=1; DELETE FROM jobs WHERE ''='",
        "\" OR 1=1; DELETE FROM jobs WHERE ''='",
    ),
    ("tpl", "{{ 7*7 }}", "{{ 7*7 }}"),
    (
        "tplfor",
        "{% for x in range(3) %}x{% endfor %}",
        "{% for x in range(3) %}x{% endfor %}",
    ),
    (
        "tplcfg",
        "{{ config }} {{ self }}",
        "{{ config }} {{ self }}",
    ),
    (
        "ctl",
        "bell\u{7} esc\u{1b}[31mred back\u{8}space\r\nINJECTED log line",
        "bell esc\\[31mred backspace INJECTED log line",
    ),
    ("rtl", "invoice\u{202e}fdp.exe", "invoicefdp.exe"),
    ("nul", "before\u{0}after", "beforeafter"),
    (
        "ping",
        "<!channel> <!everyone> <!here> @everyone @here",
        "@\u{200b}channel @\u{200b}everyone @\u{200b}here @\u{200b}everyone @\u{200b}here",
    ),
];

/// What a payload becomes once Slack markup is decoded: what Scribe must store.
fn decoded(text: &str) -> String {
    text.replace("<!channel>", "@channel")
        .replace("<!everyone>", "@everyone")
        .replace("<!here>", "@here")
}

/// Titles that try to leave the `files` target's directory.
const TRAVERSAL_TITLES: &[&str] = &[
    "../../etc/passwd",
    "..\\..\\x",
    "/etc/scribe-hostile-absolute",
    "%2e%2e/%2e%2e/%2e%2e/escaped",
    "%252e%252e%252fdouble",
    "....//....//nested",
    "./.././../dots",
    "C:\\Windows\\system32\\drivers",
    "yaml\n---\nadmin: true",
];

/// How a row is signed.
enum Auth {
    /// Signed now with the signing secret.
    Signed,
    /// Signed with the signing secret at now + this many seconds.
    SignedAt(i64),
    /// Signed with another secret.
    Secret(&'static str),
    /// A valid signature, but over another body.
    OtherBody(Vec<u8>),
    /// These headers exactly, nothing else.
    Raw {
        timestamp: Option<String>,
        signature: Option<String>,
    },
}

struct Row {
    name: String,
    route: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    auth: Auth,
    extra: Vec<(&'static str, String)>,
    status: u16,
    /// Events this row adds to the log.
    stores: u64,
    /// For a row that must store nothing: a string in its body that must appear in no stored
    /// event.
    marker: Option<String>,
}

impl Row {
    fn new(
        name: &str,
        route: &'static str,
        content_type: Option<&'static str>,
        body: impl Into<Vec<u8>>,
    ) -> Row {
        Row {
            name: name.to_string(),
            route,
            content_type,
            body: body.into(),
            auth: Auth::Signed,
            extra: Vec::new(),
            status: 200,
            stores: 0,
            marker: None,
        }
    }

    fn auth(mut self, auth: Auth) -> Row {
        self.auth = auth;
        self
    }

    fn header(mut self, name: &'static str, value: &str) -> Row {
        self.extra.push((name, value.to_string()));
        self
    }

    /// A row that is refused with `status` and stores nothing: `marker` is in its body.
    fn refused(mut self, status: u16, marker: &str) -> Row {
        assert!(
            String::from_utf8_lossy(&self.body).contains(marker),
            "{}: the marker must be in the body",
            self.name
        );
        self.status = status;
        self.marker = Some(marker.to_string());
        self
    }

    /// A row answered with `status` that stores nothing.
    fn ignored(mut self, marker: &str) -> Row {
        self = self.refused(200, marker);
        self
    }

    /// A valid row that stores `events` events.
    fn stores(mut self, events: u64) -> Row {
        self.stores = events;
        self
    }
}

fn message(channel: &str, user: &str, text: &str, ts: &str) -> Value {
    json!({"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
           "channel_type": "channel", "event_ts": ts})
}

fn event_body(event_id: &str, event: Value) -> Vec<u8> {
    event_callback(event_id, event).to_string().into_bytes()
}

fn command_body(
    channel: &str,
    channel_name: &str,
    user: &str,
    user_name: &str,
    command: &str,
    text: &str,
    trigger: &str,
) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", "deprecated")
        .append_pair("team_id", "T0001")
        .append_pair("team_domain", "acme")
        .append_pair("channel_id", channel)
        .append_pair("channel_name", channel_name)
        .append_pair("user_id", user)
        .append_pair("user_name", user_name)
        .append_pair("command", command)
        .append_pair("text", text)
        .append_pair("api_app_id", "A0001")
        .append_pair(
            "response_url",
            "https://hooks.slack.com/commands/T0001/1/abc",
        )
        .append_pair("trigger_id", trigger)
        .finish()
}

/// A command in the hostile channel, from the person Slack does not know.
fn evil_command(command: &str, text: &str, trigger: &str) -> String {
    command_body(
        CHANNEL,
        EVIL_CHANNEL_NAME,
        EVIL_COMMANDER,
        EVIL_USER_NAME,
        command,
        text,
        trigger,
    )
}

/// Sends `row` and returns its status and body.
async fn send(http: &reqwest::Client, base: &str, row: &Row) -> (u16, String) {
    let sign = |timestamp: i64, body: &[u8]| {
        scribe::adapters::slack::signature::sign(SIGNING_SECRET.as_bytes(), timestamp, body)
    };
    let (timestamp, signature) = match &row.auth {
        Auth::Signed => (Some(now().to_string()), Some(sign(now(), &row.body))),
        Auth::SignedAt(offset) => {
            let at = now() + offset;
            (Some(at.to_string()), Some(sign(at, &row.body)))
        }
        Auth::Secret(secret) => (
            Some(now().to_string()),
            Some(scribe::adapters::slack::signature::sign(
                secret.as_bytes(),
                now(),
                &row.body,
            )),
        ),
        Auth::OtherBody(other) => (Some(now().to_string()), Some(sign(now(), other))),
        Auth::Raw {
            timestamp,
            signature,
        } => (timestamp.clone(), signature.clone()),
    };
    let mut request = http
        .post(format!("{base}{}", row.route))
        .body(row.body.clone());
    if let Some(content_type) = row.content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(timestamp) = timestamp {
        request = request.header("x-slack-request-timestamp", timestamp);
    }
    if let Some(signature) = signature {
        request = request.header("x-slack-signature", signature);
    }
    for (name, value) in &row.extra {
        request = request.header(*name, value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: no answer: {e}", row.name));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// A signed events body padded with an unknown field to exactly `len` bytes.
fn padded_event(event_id: &str, event: Value, len: usize) -> Vec<u8> {
    let mut body = event_callback(event_id, event);
    body["pad"] = json!("");
    let base = body.to_string().len();
    assert!(base <= len);
    body["pad"] = json!("p".repeat(len - base));
    let bytes = body.to_string().into_bytes();
    assert_eq!(bytes.len(), len);
    bytes
}

/// The rows sent while the hostile channel's incident is open.
fn table(clock: &mut Clock) -> Vec<Row> {
    let mut rows = Vec::new();
    let refused_event = |marker: &str, clock: &mut Clock| {
        event_body(
            "EvRefused",
            message(
                CHANNEL,
                EVIL_USER,
                &format!("{marker} refused text"),
                &clock.next(),
            ),
        )
    };

    // Signatures and timestamps.
    let body = refused_event("hx-unsigned", clock);
    rows.push(
        Row::new("no signature headers", "/slack/events", JSON, body)
            .auth(Auth::Raw {
                timestamp: None,
                signature: None,
            })
            .refused(401, "hx-unsigned"),
    );
    let body = refused_event("hx-no-signature", clock);
    rows.push(
        Row::new("timestamp but no signature", "/slack/events", JSON, body)
            .auth(Auth::Raw {
                timestamp: Some(now().to_string()),
                signature: None,
            })
            .refused(401, "hx-no-signature"),
    );
    let body = refused_event("hx-no-timestamp", clock);
    let signature =
        scribe::adapters::slack::signature::sign(SIGNING_SECRET.as_bytes(), now(), &body);
    rows.push(
        Row::new("signature but no timestamp", "/slack/events", JSON, body)
            .auth(Auth::Raw {
                timestamp: None,
                signature: Some(signature),
            })
            .refused(401, "hx-no-timestamp"),
    );
    let body = refused_event("hx-empty-headers", clock);
    rows.push(
        Row::new("empty signature headers", "/slack/events", JSON, body)
            .auth(Auth::Raw {
                timestamp: Some(String::new()),
                signature: Some(String::new()),
            })
            .refused(401, "hx-empty-headers"),
    );
    let body = refused_event("hx-forged", clock);
    rows.push(
        Row::new("signed with another secret", "/slack/events", JSON, body)
            .auth(Auth::Secret("not-the-signing-secret"))
            .refused(401, "hx-forged"),
    );
    let body = refused_event("hx-garbage-signature", clock);
    rows.push(
        Row::new("signature not hex", "/slack/events", JSON, body)
            .auth(Auth::Raw {
                timestamp: Some(now().to_string()),
                signature: Some(format!("v0={}", "zz".repeat(32))),
            })
            .refused(401, "hx-garbage-signature"),
    );
    let body = refused_event("hx-stale", clock);
    rows.push(
        Row::new("timestamp 5 min 30 s old", "/slack/events", JSON, body)
            .auth(Auth::SignedAt(-330))
            .refused(401, "hx-stale"),
    );
    let body = refused_event("hx-very-stale", clock);
    rows.push(
        Row::new("timestamp a day old", "/slack/events", JSON, body)
            .auth(Auth::SignedAt(-86_400))
            .refused(401, "hx-very-stale"),
    );
    let body = refused_event("hx-future", clock);
    rows.push(
        Row::new("timestamp 5 min 30 s ahead", "/slack/events", JSON, body)
            .auth(Auth::SignedAt(330))
            .refused(401, "hx-future"),
    );
    let body = refused_event("hx-replayed-timestamp", clock);
    let old = now() - 600;
    let signature = scribe::adapters::slack::signature::sign(SIGNING_SECRET.as_bytes(), old, &body);
    rows.push(
        Row::new(
            "old signature under a fresh timestamp",
            "/slack/events",
            JSON,
            body,
        )
        .auth(Auth::Raw {
            timestamp: Some(now().to_string()),
            signature: Some(signature),
        })
        .refused(401, "hx-replayed-timestamp"),
    );
    let body = refused_event("hx-other-body", clock);
    let innocent = event_body(
        "EvInnocent",
        message(CHANNEL, EVIL_USER, "innocent", &clock.next()),
    );
    rows.push(
        Row::new(
            "valid signature over a different body",
            "/slack/events",
            JSON,
            body,
        )
        .auth(Auth::OtherBody(innocent))
        .refused(401, "hx-other-body"),
    );
    let body = evil_command("/timeline", "hx-forged-command", "hx.1");
    rows.push(
        Row::new("forged command", "/slack/commands", FORM, body)
            .auth(Auth::Secret("nope"))
            .refused(401, "hx-forged-command"),
    );
    let body = evil_command("/timeline", "hx-stale-command", "hx.2");
    rows.push(
        Row::new("stale command", "/slack/commands", FORM, body)
            .auth(Auth::SignedAt(-400))
            .refused(401, "hx-stale-command"),
    );

    // Sizes: the limit is the limit.
    let ts = clock.next();
    rows.push(
        Row::new(
            "body of exactly max_body_bytes",
            "/slack/events",
            JSON,
            padded_event(
                "EvAtLimit",
                message(CHANNEL, EVIL_USER, "hv-at-limit", &ts),
                MAX_BODY,
            ),
        )
        .stores(1),
    );
    let ts = clock.next();
    let oversized = padded_event(
        "EvOverLimit",
        message(CHANNEL, EVIL_USER, "hx-over-limit", &ts),
        MAX_BODY + 1,
    );
    rows.push(
        Row::new(
            "body one byte over max_body_bytes",
            "/slack/events",
            JSON,
            oversized.clone(),
        )
        .refused(413, "hx-over-limit"),
    );
    let ts = clock.next();
    rows.push(
        Row::new(
            "unsigned body over max_body_bytes",
            "/slack/events",
            JSON,
            padded_event(
                "EvOverLimit2",
                message(CHANNEL, EVIL_USER, "hx-unsigned-over", &ts),
                3 * MAX_BODY,
            ),
        )
        .auth(Auth::Raw {
            timestamp: None,
            signature: None,
        })
        .refused(413, "hx-unsigned-over"),
    );
    let mut form = evil_command("/timeline", "hx-big-command", "hx.3");
    form.push_str("&pad=");
    form.push_str(&"p".repeat(MAX_BODY));
    rows.push(
        Row::new("command over max_body_bytes", "/slack/commands", FORM, form)
            .refused(413, "hx-big-command"),
    );

    // Bodies that are not what they claim to be.
    let whole = refused_event("hx-truncated", clock);
    rows.push(
        Row::new(
            "truncated JSON",
            "/slack/events",
            JSON,
            whole[..whole.len() - 40].to_vec(),
        )
        .refused(400, "hx-truncated"),
    );
    rows.push(
        Row::new(
            "invalid JSON",
            "/slack/events",
            JSON,
            r#"{"type": event_callback, "event_id": "hx-invalid-json", "event": {'type': 'message'}}"#,
        )
        .refused(400, "hx-invalid-json"),
    );
    rows.push(
        Row::new("JSON with trailing garbage", "/slack/events", JSON, {
            let mut body = refused_event("hx-trailing", clock);
            body.extend_from_slice(b" {\"more\": 1}");
            body
        })
        .refused(400, "hx-trailing"),
    );
    rows.push(
        Row::new("invalid UTF-8 in a JSON string", "/slack/events", JSON, {
            let body = refused_event("hx-bad-utf8", clock);
            let at = body.windows(4).position(|w| w == b"text").unwrap();
            [&body[..at], &b"\xff\xfe"[..], &body[at..]].concat()
        })
        .refused(400, "hx-bad-utf8"),
    );
    rows.push(Row::new("empty events body", "/slack/events", JSON, "").refused(400, ""));
    rows.push(Row::new("empty command body", "/slack/commands", FORM, "").refused(400, ""));
    rows.push(Row::new("JSON null", "/slack/events", JSON, "null").refused(400, "null"));
    rows.push(
        Row::new("JSON array", "/slack/events", JSON, "[\"hx-array\"]").refused(400, "hx-array"),
    );
    rows.push(
        Row::new(
            "JSON to the command route",
            "/slack/commands",
            JSON,
            json!({"command": "/timeline", "text": "hx-json-command", "user_id": EVIL_COMMANDER,
                   "channel_id": CHANNEL, "trigger_id": "hx.4"})
            .to_string(),
        )
        .refused(400, "hx-json-command"),
    );
    rows.push(
        Row::new(
            "a form to the events route",
            "/slack/events",
            FORM,
            "type=event_callback&event_id=hx-form-event&event[type]=message",
        )
        .refused(400, "hx-form-event"),
    );
    rows.push(
        Row::new(
            "a command form to the events route",
            "/slack/events",
            FORM,
            evil_command("/timeline", "hx-command-as-event", "hx.5"),
        )
        .refused(400, "hx-command-as-event"),
    );
    // Slack always says what it sends; a body signed with the secret is Slack's whatever its
    // content type says, so these are read by the route's own format.
    let ts = clock.next();
    rows.push(
        Row::new(
            "signed event without a content type",
            "/slack/events",
            None,
            event_body(
                "EvNoType",
                message(CHANNEL, EVIL_USER, "hv-no-content-type", &ts),
            ),
        )
        .stores(1),
    );
    rows.push(
        Row::new(
            "signed command as text/plain",
            "/slack/commands",
            Some("text/plain"),
            evil_command("/timeline", "hv-command-as-text-plain", "hv.1"),
        )
        .stores(1),
    );

    // Envelopes and events Scribe does not record.
    rows.push(
        Row::new(
            "unknown event type",
            "/slack/events",
            JSON,
            event_body(
                "EvUnknown",
                json!({"type": "hx_unknown_event", "channel": CHANNEL, "text": "hx-unknown-event"}),
            ),
        )
        .ignored("hx-unknown-event"),
    );
    rows.push(
        Row::new(
            "app_mention (not recorded)",
            "/slack/events",
            JSON,
            event_body(
                "EvMention",
                json!({"type": "app_mention", "channel": CHANNEL, "user": EVIL_USER,
                       "text": "hx-app-mention", "ts": clock.next()}),
            ),
        )
        .ignored("hx-app-mention"),
    );
    rows.push(
        Row::new(
            "unknown envelope type",
            "/slack/events",
            JSON,
            json!({"type": "hx_envelope", "event_id": "EvEnvelope",
                   "event": message(CHANNEL, EVIL_USER, "hx-unknown-envelope", &clock.next())})
            .to_string(),
        )
        .ignored("hx-unknown-envelope"),
    );
    rows.push(
        Row::new(
            "app_rate_limited envelope",
            "/slack/events",
            JSON,
            json!({"token": "x", "type": "app_rate_limited", "team_id": "hx-rate-limited",
                   "minute_rate_limited": 1518467820, "api_app_id": "A0001"})
            .to_string(),
        )
        .ignored("hx-rate-limited"),
    );
    rows.push(
        Row::new(
            "envelope without a type",
            "/slack/events",
            JSON,
            json!({"event_id": "EvNoType", "event": message(CHANNEL, EVIL_USER, "hx-no-type", &clock.next())}).to_string(),
        )
        .refused(400, "hx-no-type"),
    );
    rows.push(
        Row::new(
            "event_callback without an event",
            "/slack/events",
            JSON,
            json!({"type": "event_callback", "event_id": "hx-no-event"}).to_string(),
        )
        .refused(400, "hx-no-event"),
    );
    rows.push(
        Row::new(
            "message with fields of the wrong types",
            "/slack/events",
            JSON,
            event_body(
                "EvWrongTypes",
                json!({"type": "message", "channel": CHANNEL, "user": ["hx-wrong-types"], "text": {"a": 1}, "ts": 12}),
            ),
        )
        .refused(400, "hx-wrong-types"),
    );
    rows.push(
        Row::new(
            "message with an impossible ts",
            "/slack/events",
            JSON,
            event_body(
                "EvBadTs",
                message(CHANNEL, EVIL_USER, "hx-bad-ts", "99999999999999999999.1"),
            ),
        )
        .refused(400, "hx-bad-ts"),
    );
    rows.push(
        Row::new(
            "unknown command",
            "/slack/commands",
            FORM,
            evil_command("/deploy", "hx-unknown-command", "hx.6"),
        )
        .ignored("hx-unknown-command"),
    );
    rows.push(
        Row::new(
            "url_verification with a hostile challenge",
            "/slack/events",
            JSON,
            json!({"type": "url_verification", "token": "x",
                   "challenge": "hx-challenge {{ 7*7 }} <!channel> \u{0}"})
            .to_string(),
        )
        .ignored("hx-challenge"),
    );

    // Huge and deep payloads: within the size limit, they must neither crash nor hang. JSON
    // nested past serde_json's recursion limit is refused where Scribe reads it, and skipped
    // (without recursion) in fields Scribe does not read.
    let mut many_keys = message(CHANNEL, EVIL_USER, "hv-many-keys", &clock.next());
    for i in 0..40_000 {
        many_keys[format!("k{i}")] = json!(i);
    }
    rows.push(
        Row::new(
            "40k keys in the event",
            "/slack/events",
            JSON,
            event_body("EvManyKeys", many_keys),
        )
        .stores(1),
    );
    let long_text = format!("hv-long-string {}", "long ".repeat(180_000));
    rows.push(
        Row::new(
            "900 kB message text",
            "/slack/events",
            JSON,
            event_body(
                "EvLong",
                message(CHANNEL, EVIL_USER, &long_text, &clock.next()),
            ),
        )
        .stores(1),
    );
    let deep_arrays = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    rows.push(
        Row::new(
            "100k nested arrays as the event",
            "/slack/events",
            JSON,
            format!(r#"{{"type": "event_callback", "event_id": "hx-deep-event", "event": {deep_arrays}}}"#),
        )
        .refused(400, "hx-deep-event"),
    );
    rows.push(
        Row::new(
            "100k nested arrays in an unknown field",
            "/slack/events",
            JSON,
            {
                let body = event_callback(
                    "EvDeep",
                    message(CHANNEL, EVIL_USER, "hv-deep-field", &clock.next()),
                )
                .to_string();
                format!(r#"{{"deep": {deep_arrays}, {}"#, &body[1..])
            },
        )
        .stores(1),
    );
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(100_000), "}".repeat(100_000));
    rows.push(
        Row::new("100k nested objects in the event", "/slack/events", JSON, {
            let body = event_callback(
                "EvDeepObjects",
                message(CHANNEL, EVIL_USER, "hv-deep-objects", &clock.next()),
            )
            .to_string();
            let body = body.replacen(
                r#""channel_type":"channel""#,
                &format!(r#""channel_type":{deep_objects}"#),
                1,
            );
            assert!(body.contains(r#""a":{"a""#));
            body
        })
        .stores(1),
    );
    rows.push(
        Row::new(
            "100k brackets in command text",
            "/slack/commands",
            FORM,
            evil_command("/timeline", &format!("hv-deep-text {deep_arrays}"), "hv.2"),
        )
        .stores(1),
    );
    rows.push(
        Row::new("20k form fields", "/slack/commands", FORM, {
            let mut form = evil_command("/timeline", "hv-many-fields", "hv.3");
            for i in 0..20_000 {
                form.push_str(&format!("&f{i}={i}"));
            }
            form
        })
        .stores(1),
    );
    rows
}

/// The injection rows: each payload as `/timeline` text (from the person Slack does not know)
/// and as a message (from the person whose name is an attack) that is then 📌-pinned.
/// Returns the rows and the timeline texts they must produce.
fn injections(clock: &mut Clock) -> (Vec<Row>, Vec<(String, String)>) {
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    for (i, (tag, text, shown)) in PAYLOADS.iter().enumerate() {
        let command_text = format!("T-{tag} {text}");
        rows.push(
            Row::new(
                &format!("/timeline with {tag}"),
                "/slack/commands",
                FORM,
                evil_command("/timeline", &command_text, &format!("inj.{i}")),
            )
            .stores(1),
        );
        entries.push((
            decoded(&format!("T-{tag} {text}")),
            format!("T-{tag} {shown}"),
        ));
        let ts = clock.next();
        let message_text = format!("M-{tag} {text}");
        rows.push(
            Row::new(
                &format!("message with {tag}"),
                "/slack/events",
                JSON,
                event_body(
                    &format!("EvInj{i}"),
                    message(CHANNEL, EVIL_USER, &message_text, &ts),
                ),
            )
            .stores(1),
        );
        rows.push(
            Row::new(
                &format!("📌 on the message with {tag}"),
                "/slack/events",
                JSON,
                event_body(
                    &format!("EvPin{i}"),
                    json!({"type": "reaction_added", "user": EVIL_USER, "reaction": "pushpin",
                           "item": {"type": "message", "channel": CHANNEL, "ts": ts},
                           "event_ts": clock.next()}),
                ),
            )
            .stores(1),
        );
        entries.push((decoded(&message_text), format!("M-{tag} {shown}")));
        if i == 0 {
            // Slack redelivers: the same event again stores nothing.
            rows.push(
                Row::new(
                    "a redelivered message",
                    "/slack/events",
                    JSON,
                    event_body(
                        &format!("EvInj{i}"),
                        message(CHANNEL, EVIL_USER, &message_text, &ts),
                    ),
                )
                .header("x-slack-retry-num", "1")
                .header("x-slack-retry-reason", "http_timeout"),
            );
        }
    }
    (rows, entries)
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The jobs of every incident, once none is pending.
async fn all_jobs_done(server: &Server) -> Vec<Value> {
    let mut jobs = Vec::new();
    server
        .eventually(WAIT, "every job to be done", || async {
            let mut all = Vec::new();
            for incident in server.incidents().await {
                let id = incident["id"].as_str().unwrap().to_string();
                let detail: Value = server
                    .api(&format!("/api/incidents/{id}"))
                    .await
                    .json()
                    .await
                    .unwrap();
                all.extend(detail["jobs"].as_array().cloned().unwrap_or_default());
            }
            all.iter().all(|j| j["state"] != "pending")
        })
        .await;
    for incident in server.incidents().await {
        let id = incident["id"].as_str().unwrap().to_string();
        let detail: Value = server
            .api(&format!("/api/incidents/{id}"))
            .await
            .json()
            .await
            .unwrap();
        jobs.extend(detail["jobs"].as_array().cloned().unwrap_or_default());
    }
    jobs
}

/// Everything a Slack user could see from Scribe: posts, uploads, and the command answers.
fn assert_no_pings(what: &str, text: &str) {
    for ping in ["<!channel>", "<!everyone>", "<!here>", "<!subteam", "<@U"] {
        assert!(!text.contains(ping), "{what} would notify ({ping}): {text}");
    }
}

/// The markdown a user text must never turn into: a template evaluated, a mention live.
fn assert_inert(what: &str, draft: &str) {
    for evaluated in [
        "T-tpl 49",
        "M-tpl 49",
        "T-tplfor xxx",
        "M-tplfor xxx",
        "max_body_bytes",
        "signing_secret",
    ] {
        assert!(
            !draft.contains(evaluated),
            "{what} evaluated user text ({evaluated}):\n{draft}"
        );
    }
    for live in [
        "@channel",
        "@everyone",
        "@here",
        "<!",
        "\u{202e}",
        "\u{0}",
        "\u{1b}",
    ] {
        assert!(!draft.contains(live), "{what} contains {live:?}:\n{draft}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_requests_are_refused_or_kept_as_inert_data() {
    let fake = FakeSlack::start().await;
    fake.add_user(EVIL_USER, EVIL_DISPLAY_NAME, EVIL_DISPLAY_NAME);
    let sandbox = Sandbox::new();
    let api_base = fake.api_base();
    let server = Server::start_with(
        &sandbox,
        &[
            ("SCRIBE__SLACK__API_BASE_URL", &api_base),
            ("SCRIBE__PUBLISH__TARGETS", r#"["chat","files"]"#),
            ("SCRIBE__PUBLISH__FILES__DIR", "drafts"),
            // Present so that the log check covers it too.
            ("SLACK_APP_TOKEN", APP_TOKEN),
        ],
    );
    let http = reqwest::Client::new();
    let mut clock = Clock::default();
    let mut expected_events: u64 = 0;
    let mut failures = Vec::new();
    let mut answers = Vec::new();
    let run = async |rows: Vec<Row>,
                     failures: &mut Vec<String>,
                     answers: &mut Vec<String>,
                     expected: &mut u64| {
        let mut markers = Vec::new();
        for row in rows {
            let (status, body) = send(&http, &server.base, &row).await;
            if status != row.status {
                failures.push(format!(
                    "{}: expected {}, got {status} ({body})",
                    row.name, row.status
                ));
            }
            if row.route == "/slack/commands" && status == 200 {
                answers.push(body);
            }
            *expected += row.stores;
            if let Some(marker) = row.marker.filter(|m| m.starts_with("hx-")) {
                markers.push(marker);
            }
        }
        markers
    };

    // The incident, opened by a command whose every field is hostile.
    let start = vec![
        Row::new(
            "/incident start with a hostile title",
            "/slack/commands",
            FORM,
            evil_command("/incident", &format!("start {TITLE}"), "start.1"),
        )
        .stores(1),
    ];
    run(start, &mut failures, &mut answers, &mut expected_events).await;
    let rows = table(&mut clock);
    let count = rows.len();
    let mut markers = run(rows, &mut failures, &mut answers, &mut expected_events).await;
    let (rows, entries) = injections(&mut clock);
    let count = count + rows.len();
    markers.extend(run(rows, &mut failures, &mut answers, &mut expected_events).await);
    let end = vec![
        Row::new(
            "/incident draft",
            "/slack/commands",
            FORM,
            evil_command("/incident", "draft", "draft.1"),
        )
        .stores(1),
        Row::new(
            "/incident close",
            "/slack/commands",
            FORM,
            evil_command("/incident", "close", "close.1"),
        )
        .stores(1),
    ];
    run(end, &mut failures, &mut answers, &mut expected_events).await;

    // Titles that try to leave the drafts folder, each an incident of its own.
    for (i, title) in TRAVERSAL_TITLES.iter().enumerate() {
        let channel = format!("C0PATH{i:04}");
        let rows = vec![
            Row::new(
                &format!("start {title:?}"),
                "/slack/commands",
                FORM,
                command_body(
                    &channel,
                    "paths",
                    EVIL_COMMANDER,
                    "eve",
                    "/incident",
                    &format!("start {title}"),
                    &format!("path.{i}.start"),
                ),
            )
            .stores(1),
            Row::new(
                &format!("close {title:?}"),
                "/slack/commands",
                FORM,
                command_body(
                    &channel,
                    "paths",
                    EVIL_COMMANDER,
                    "eve",
                    "/incident",
                    "close",
                    &format!("path.{i}.close"),
                ),
            )
            .stores(1),
        ];
        run(rows, &mut failures, &mut answers, &mut expected_events).await;
    }
    println!(
        "{} rows sent; {expected_events} events expected",
        count + 4 + 2 * TRAVERSAL_TITLES.len()
    );
    assert!(
        failures.is_empty(),
        "rows answered wrongly:\n{}\n\nserver log:\n{}",
        failures.join("\n"),
        server.log()
    );

    // Still up, and every job (posts, uploads, files) ran.
    for path in ["/healthz", "/readyz"] {
        let response = reqwest::get(format!("{}{path}", server.base))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let jobs = all_jobs_done(&server).await;
    let not_done: Vec<&Value> = jobs.iter().filter(|j| j["state"] != "done").collect();
    assert!(
        not_done.is_empty(),
        "jobs that did not run: {not_done:#?}\n{}",
        server.log()
    );

    // Exactly the valid rows' events were stored, and no refused row left a trace.
    let metrics = server.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l == format!("scribe_events_stored_total {expected_events}")),
        "expected {expected_events} events stored:\n{metrics}"
    );
    let db = sandbox.path().join("data/scribe.db");
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display()))
        .await
        .unwrap();
    let payloads: Vec<String> = sqlx::query("SELECT payload FROM events")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect();
    assert_eq!(
        payloads.len() as u64,
        expected_events,
        "events in the database"
    );
    for marker in &markers {
        let found: Vec<&String> = payloads
            .iter()
            .filter(|p| p.contains(marker.as_str()))
            .collect();
        assert!(
            found.is_empty(),
            "a refused request was stored ({marker}): {found:?}"
        );
    }
    let tables: Vec<String> = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect();
    assert!(
        tables.contains(&"events".to_string()) && tables.contains(&"jobs".to_string()),
        "{tables:?}"
    );
    conn.close().await.unwrap();

    // The hostile incident: data kept verbatim.
    let incidents = server.incidents().await;
    let incident = incidents
        .iter()
        .find(|i| i["channel"] == CHANNEL)
        .unwrap_or_else(|| panic!("no incident in {CHANNEL}: {incidents:#?}"));
    assert_eq!(incident["status"], "closed");
    assert_eq!(
        incident["title"],
        decoded(TITLE),
        "the title is stored verbatim"
    );
    let texts: Vec<String> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] != "event")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect();
    for (stored, _) in &entries {
        assert_eq!(
            texts.iter().filter(|t| *t == stored).count(),
            1,
            "timeline entry {stored:?} verbatim, once; timeline: {texts:#?}"
        );
    }
    let authors: Vec<&str> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["author"].as_str())
        .collect();
    assert!(authors.contains(&EVIL_DISPLAY_NAME), "{authors:?}");
    assert!(authors.contains(&EVIL_USER_NAME), "{authors:?}");
    let names: Vec<&str> = incident["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        names.contains(&EVIL_DISPLAY_NAME) && names.contains(&EVIL_USER_NAME),
        "{names:?}"
    );

    // …and shown as inert text in every copy of the draft.
    let id = incident["id"].as_str().unwrap();
    let from_api = server
        .api(&format!("/api/incidents/{id}/postmortem.md"))
        .await
        .text()
        .await
        .unwrap();
    let drafts_dir = sandbox.path().join("drafts");
    let drafted = files_under(&drafts_dir);
    let file = drafted
        .iter()
        .find(|p| {
            p.to_string_lossy()
                .contains("checkout-7-7-drop-table-events")
        })
        .unwrap_or_else(|| panic!("no draft file for the hostile incident: {drafted:?}"));
    let from_file = std::fs::read_to_string(drafts_dir.join(file)).unwrap();
    let uploads = fake.uploads();
    let upload = uploads
        .iter()
        .map(|(_, content)| String::from_utf8(content.clone()).unwrap())
        .find(|content| content.contains("T-sql "))
        .expect("the hostile draft was uploaded");
    // The file's front matter is data for tools: user text there is kept as written, as JSON
    // strings (which YAML reads as they are), minus control and bidirectional-override
    // characters; the document below it is what people read.
    let plain = |text: &str| -> String {
        text.chars()
            .filter(|c| {
                !c.is_control() && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            })
            .collect()
    };
    let (front, body) = from_file
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .unwrap_or_else(|| panic!("no front matter:\n{from_file}"));
    let title_line = format!(
        "title: {}",
        serde_json::to_string(&plain(&decoded(TITLE))).unwrap()
    );
    assert!(
        front.lines().any(|l| l == title_line),
        "{title_line} in\n{front}"
    );
    for name in [EVIL_DISPLAY_NAME, EVIL_USER_NAME] {
        let line = format!("  - {}", serde_json::to_string(&plain(name)).unwrap());
        assert!(front.lines().any(|l| l == line), "{line} in\n{front}");
    }
    let from_file = body.to_string();
    for (what, draft) in [
        ("the API's draft", &from_api),
        ("the draft file", &from_file),
        ("the uploaded draft", &upload),
    ] {
        for (_, shown) in &entries {
            assert!(
                draft.contains(&format!(" - {shown} — ")),
                "{what} lacks {shown:?}:\n{draft}"
            );
        }
        assert!(
            draft.contains("Checkout {{ 7*7 }} '); DROP TABLE events;-- @\u{200b}channel down"),
            "{what}: the title as text:\n{draft}"
        );
        assert_inert(what, draft);
    }
    let draft_answer = answers
        .iter()
        .find(|a| a.contains("T-sql "))
        .expect("/incident draft answered with the draft");
    let draft_answer: Value = serde_json::from_str(draft_answer).unwrap();
    assert_inert(
        "/incident draft's answer",
        draft_answer["text"].as_str().unwrap(),
    );

    // Nothing Scribe posted can notify anyone.
    let posts = fake.calls_to("chat.postMessage");
    assert!(posts.len() >= 2, "headline and summary: {posts:#?}");
    for call in fake.calls() {
        for key in ["text", "blocks", "initial_comment", "title"] {
            if let Some(value) = call.params.get(key) {
                assert_no_pings(&call.method, &value.to_string());
            }
        }
        assert!(
            call.params
                .get("link_names")
                .is_none_or(|v| v == "false" || v == false),
            "{call:?}"
        );
        assert!(
            call.params.get("parse").is_none_or(|v| v != "full"),
            "{call:?}"
        );
    }
    for (_, content) in &uploads {
        assert_no_pings("an uploaded draft", &String::from_utf8_lossy(content));
    }
    for answer in &answers {
        assert_no_pings("a command answer", answer);
    }

    // Every draft landed inside the configured folder, one per closed incident.
    let closed = incidents.iter().filter(|i| i["status"] == "closed").count();
    assert_eq!(closed, 1 + TRAVERSAL_TITLES.len());
    assert_eq!(
        drafted.len(),
        closed,
        "one draft per closed incident: {drafted:?}"
    );
    for path in &drafted {
        let parts: Vec<_> = path.components().collect();
        assert!(
            parts.len() == 2
                && parts
                    .iter()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
                && path.extension().is_some_and(|e| e == "md"),
            "a draft outside {{yyyy}}/{{date}}-{{slug}}.md: {path:?}"
        );
        let content = std::fs::read_to_string(drafts_dir.join(path)).unwrap();
        let front: Vec<&str> = content
            .lines()
            .skip(1)
            .take_while(|l| *l != "---")
            .collect();
        for line in &front {
            let known = [
                "incident:",
                "title:",
                "severity:",
                "status:",
                "started_at:",
                "resolved_at:",
                "closed_at:",
                "channel:",
                "participants:",
                "  - ",
            ];
            assert!(
                known.iter().any(|k| line.starts_with(k)),
                "front matter broken by a title: {line:?} in\n{content}"
            );
        }
    }
    let everything = sandbox.files();
    let stray: Vec<&PathBuf> = everything
        .iter()
        .filter(|p| !p.starts_with("drafts") && !p.starts_with("data"))
        .collect();
    assert!(
        stray.is_empty(),
        "files outside the drafts folder: {stray:?}"
    );
    for title in TRAVERSAL_TITLES {
        let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        let incident = incidents
            .iter()
            .find(|i| i["title"].as_str().map(words) == Some(words(title)))
            .unwrap_or_else(|| panic!("no incident titled {title:?}: {incidents:#?}"));
        assert_eq!(incident["status"], "closed", "{title:?}");
    }
    assert!(!Path::new("/etc/scribe-hostile-absolute").exists());
    assert!(!Path::new("/etc/scribe-hostile-absolute.md").exists());

    // Nothing secret in the log, and no line forged by user text.
    let log = server.log();
    for (name, secret) in [
        ("signing secret", SIGNING_SECRET),
        ("bot token", BOT_TOKEN),
        ("API token", API_TOKEN),
        ("app token", APP_TOKEN),
    ] {
        assert!(!log.contains(secret), "the {name} is in the log");
    }
    assert!(
        !log.lines().any(|l| l.starts_with("INJECTED")),
        "user text forged a log line:\n{log}"
    );
}
