//! The hostile suite's table: every request it sends to Scribe's Slack routes, as rows that
//! say how each is signed, the status it must get and how many events it may store, with the
//! attack texts (payloads, traversal titles, names) the assertions look for again. Kept apart
//! from `tests/hostile.rs` so that the cases can be read, and added to, on their own.

use serde_json::{Value, json};

pub(super) use crate::common::server::command_body;
use crate::common::server::{Clock, SIGNING_SECRET, event_callback, now};

pub(super) const CHANNEL: &str = "C0HOSTILE";
/// `[server] max_body_bytes` in config/scribe.toml, the default the server runs with.
const MAX_BODY: usize = 1_048_576;
const JSON: Option<&str> = Some("application/json");
pub(super) const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// A person Slack knows, whose display name is itself an attack.
pub(super) const EVIL_USER: &str = "U0MALLORY1";
pub(super) const EVIL_DISPLAY_NAME: &str =
    "Mallory {{ 7*7 }} <!channel> '); DROP TABLE events;-- \u{202e}gpj.exe";
/// A person Slack does not know: the command's `user_name` is all Scribe has.
pub(super) const EVIL_COMMANDER: &str = "U0EVE00002";
pub(super) const EVIL_USER_NAME: &str = "eve\u{0}{% raw %}<!everyone>{{ config }}";
const EVIL_CHANNEL_NAME: &str = "inc-{{ config }}-<!here>-\u{1b}[2J";

pub(super) const TITLE: &str =
    "Checkout {{ 7*7 }} '); DROP TABLE events;-- <!channel> \u{202e}down";

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
pub(super) fn decoded(text: &str) -> String {
    text.replace("<!channel>", "@channel")
        .replace("<!everyone>", "@everyone")
        .replace("<!here>", "@here")
}

/// Titles that try to leave the `files` target's directory.
pub(super) const TRAVERSAL_TITLES: &[&str] = &[
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
pub(super) enum Auth {
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

pub(super) struct Row {
    pub(super) name: String,
    pub(super) route: &'static str,
    pub(super) content_type: Option<&'static str>,
    pub(super) body: Vec<u8>,
    pub(super) auth: Auth,
    pub(super) extra: Vec<(&'static str, String)>,
    pub(super) status: u16,
    /// Events this row adds to the log.
    pub(super) stores: u64,
    /// For a row that must store nothing: a string in its body that must appear in no stored
    /// event.
    pub(super) marker: Option<String>,
}

impl Row {
    pub(super) fn new(
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
    pub(super) fn stores(mut self, events: u64) -> Row {
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

/// A command in the hostile channel, from the person Slack does not know.
pub(super) fn evil_command(command: &str, text: &str, trigger: &str) -> String {
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
pub(super) fn table(clock: &mut Clock) -> Vec<Row> {
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
    // Ids Slack never makes: each would be stored under a name no incident id can carry.
    let ts = clock.next();
    let reaction = |tag: &str, channel: &str, item_ts: &str, clock: &mut Clock| {
        json!({"type": "reaction_added", "user": EVIL_USER, "reaction": tag,
               "item": {"type": "message", "channel": channel, "ts": item_ts},
               "event_ts": clock.next()})
    };
    let bad_ids = [
        (
            "message with an empty channel",
            "hx-empty-channel",
            message("", EVIL_USER, "hx-empty-channel", &ts),
        ),
        (
            "message in channel C:1",
            "hx-colon-channel",
            message("C:1", EVIL_USER, "hx-colon-channel", &ts),
        ),
        (
            "message from user u/1",
            "hx-odd-user",
            message(CHANNEL, "u/1", "hx-odd-user", &ts),
        ),
        (
            "📌 on item ts NaN",
            "hx-nan-ts",
            reaction("hx-nan-ts", CHANNEL, "NaN", clock),
        ),
        (
            "📌 in channel C 1",
            "hx-space-channel",
            reaction("hx-space-channel", "C 1", &ts, clock),
        ),
        (
            "reply in thread ts ../x",
            "hx-odd-thread",
            json!({"type": "message", "channel": CHANNEL, "user": EVIL_USER,
                   "text": "hx-odd-thread", "ts": ts, "thread_ts": "../x"}),
        ),
    ];
    for (name, tag, event) in bad_ids {
        let body = event_body(&format!("EvBadId-{tag}"), event);
        rows.push(Row::new(name, "/slack/events", JSON, body).refused(400, tag));
    }
    for (name, channel, user, trigger, tag) in [
        (
            "command in channel C:1",
            "C:1",
            EVIL_COMMANDER,
            "hx.id1",
            "hx-cmd-colon",
        ),
        (
            "command in channel c0lower",
            "c0lower",
            EVIL_COMMANDER,
            "hx.id2",
            "hx-cmd-lower",
        ),
        (
            "command from user U 1",
            CHANNEL,
            "U 1",
            "hx.id3",
            "hx-cmd-user",
        ),
        (
            "command with trigger_id a/b",
            CHANNEL,
            EVIL_COMMANDER,
            "a/b",
            "hx-cmd-trigger",
        ),
    ] {
        let body = command_body(
            channel,
            EVIL_CHANNEL_NAME,
            user,
            EVIL_USER_NAME,
            "/timeline",
            tag,
            trigger,
        );
        rows.push(Row::new(name, "/slack/commands", FORM, body).refused(400, tag));
    }
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
pub(super) fn injections(clock: &mut Clock) -> (Vec<Row>, Vec<(String, String)>) {
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

/// The story rows: each payload as a contributing factor, an action (with an owner after it)
/// and a reference under a label of its own. Returns the rows, and per payload what is stored
/// and how the draft shows it: `(tag, stored, shown)`.
pub(super) fn story_injections() -> (Vec<Row>, Vec<(String, String, String)>) {
    let mut rows = Vec::new();
    let mut texts = Vec::new();
    for (i, (tag, text, shown)) in PAYLOADS.iter().enumerate() {
        for (what, command) in [
            ("factor", format!("factor F-{tag} {text}")),
            ("action", format!("action A-{tag} {text} @owner-{i}")),
            ("ref", format!("ref R-{tag} {text}")),
        ] {
            rows.push(
                Row::new(
                    &format!("/incident {what} with {tag}"),
                    "/slack/commands",
                    FORM,
                    evil_command("/incident", &command, &format!("story.{what}.{i}")),
                )
                .stores(1),
            );
        }
        texts.push((tag.to_string(), decoded(text), shown.to_string()));
    }
    (rows, texts)
}

/// Curation commands whose numbers are out of range, huge, negative or zero, or whose time
/// has not come: each is stored, answered with what is wrong, and changes nothing.
pub(super) fn bad_numbers() -> Vec<Row> {
    [
        ("/timeline", "remove 99999999999999999999"),
        ("/timeline", "restore 4294967296"),
        ("/timeline", "edit -3 hijacked {{ 7*7 }}"),
        ("/timeline", "edit 4294967295 hijacked"),
        ("/timeline", "remove 0"),
        ("/timeline", "move 1 2999-01-01 00:00"),
        ("/incident", "action done 18446744073709551616"),
        ("/incident", "action remove #-1"),
        ("/incident", "factor remove 0"),
        ("/incident", "worked remove 99"),
        ("/incident", "improve restore 7"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (command, text))| {
        Row::new(
            &format!("{command} {text}"),
            "/slack/commands",
            FORM,
            evil_command(command, text, &format!("bad.{i}")),
        )
        .stores(1)
    })
    .collect()
}
