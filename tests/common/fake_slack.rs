//! A fake Slack Web API on a local port, so tests drive Scribe's real HTTP client end to end.
//!
//! It answers the methods Scribe calls with the shapes Slack documents, records every call
//! (outages and refusals included), and has knobs for the failures a live workspace produces:
//! a 429 with `Retry-After`, an `ok: false` error code, a 503 outage.
//!
//! It also speaks Socket Mode: `apps.connections.open` hands out a one-use URL on a second
//! listener, where tests send envelopes down the WebSocket and wait for Scribe's acks.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

/// The bot's own ids, as `chat.postMessage` reports them on the messages it posts.
pub const BOT_ID: &str = "B0FAKESCRIBE";
pub const BOT_USER: &str = "U0FAKESCRIBE";

/// The method name under which uploads to an `upload_url` are recorded and can be rigged.
pub const UPLOAD: &str = "upload";

/// The method name under which answers posted to a `response_url` are recorded.
pub const RESPONSE_URL: &str = "response_url";

/// The Web API method that opens Socket Mode connections.
pub const CONNECTIONS_OPEN: &str = "apps.connections.open";
/// The app the Socket Mode connections belong to.
pub const APP_ID: &str = "A0001";
/// How long the Socket Mode knobs wait for Scribe to be connected.
const SOCKET_WAIT: Duration = Duration::from_secs(20);

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// The Web API method (`chat.postMessage`), or [`UPLOAD`] for file content.
    pub method: String,
    /// The `Authorization` header as sent.
    pub auth: Option<String>,
    /// Query, form and JSON arguments merged into one object; form values stay strings.
    pub params: Value,
    /// The raw request body.
    pub body: Vec<u8>,
}

pub struct FakeSlack {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
    socket_server: JoinHandle<()>,
}

struct Shared {
    /// `http://127.0.0.1:PORT`
    origin: String,
    /// `ws://127.0.0.1:PORT2`, where Socket Mode connections go.
    socket_origin: String,
    state: Mutex<FakeState>,
}

#[derive(Default)]
struct FakeState {
    /// Every call, with whether it succeeded.
    calls: Vec<(Call, bool)>,
    rate_limits: HashMap<String, u64>,
    failures: HashMap<String, String>,
    /// Methods whose next call takes effect but answers HTTP 502 (the answer lost).
    lost_answers: HashSet<String>,
    outage: bool,
    users: HashMap<String, Value>,
    messages: Vec<Message>,
    /// By file id, in the order they were reserved.
    files: BTreeMap<String, File>,
    channels: HashMap<String, Channel>,
    serial: u64,
    socket: SocketState,
}

#[derive(Default)]
struct SocketState {
    /// Tickets handed out by `apps.connections.open` and not used yet.
    tickets: HashSet<String>,
    /// WebSocket connections accepted so far.
    opened: usize,
    /// The connection envelopes go to, by its number.
    current: Option<(usize, mpsc::UnboundedSender<Outgoing>)>,
    /// What clients sent (their acks), oldest first, not yet claimed by a test.
    received: Vec<Value>,
}

/// What a test asks a connection to do.
enum Outgoing {
    Frame(Value),
    /// Drop the TCP connection without a closing handshake.
    Drop,
}

struct Message {
    channel: String,
    ts: String,
    thread_ts: Option<String>,
    user: Option<String>,
    bot_id: Option<String>,
    text: String,
    /// Message metadata an app attached (`chat.postMessage`'s `metadata`).
    metadata: Option<Value>,
    /// Files shared with the message (`files.completeUploadExternal`).
    files: Vec<Value>,
    /// Emoji name → who reacted with it, in order.
    reactions: Vec<(String, Vec<String>)>,
    /// The last edit's `ts`.
    edited: Option<String>,
    /// When it was pinned (Unix seconds), while pinned.
    pinned: Option<u64>,
}

struct File {
    filename: String,
    content: Option<Vec<u8>>,
}

struct Channel {
    id: String,
    members: HashSet<String>,
}

impl FakeSlack {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start() -> FakeSlack {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        let socket_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let socket_addr = socket_listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            origin: format!("http://{addr}"),
            socket_origin: format!("ws://{socket_addr}"),
            state: Mutex::default(),
        });
        let socket_server = tokio::spawn(accept_sockets(socket_listener, shared.clone()));
        let app = Router::new()
            .route(&format!("/api/{CONNECTIONS_OPEN}"), post(connections_open))
            .route("/api/{method}", any(api))
            .route("/upload/{file_id}", post(upload))
            .route("/respond/{*rest}", post(respond))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake Slack serves");
        });
        FakeSlack {
            shared,
            server,
            socket_server,
        }
    }

    /// A `response_url` as an interaction carries it, served here: what is posted to it is
    /// recorded as a [`RESPONSE_URL`] call.
    pub fn response_url(&self, name: &str) -> String {
        format!("{}/respond/{name}", self.shared.origin)
    }

    /// The Web API root to hand to the client: `http://127.0.0.1:PORT/api/`.
    pub fn api_base(&self) -> String {
        format!("{}/api/", self.shared.origin)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.iter().map(|(c, _)| c.clone()).collect()
    }

    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Content posted to upload URLs, with the filename it was reserved under.
    pub fn uploads(&self) -> Vec<(String, Vec<u8>)> {
        self.state()
            .files
            .values()
            .filter_map(|f| Some((f.filename.clone(), f.content.clone()?)))
            .collect()
    }

    /// The next call to `method` gets HTTP 429 with `Retry-After: retry_after_secs`.
    pub fn rate_limit_next(&self, method: &str, retry_after_secs: u64) {
        self.state()
            .rate_limits
            .insert(method.to_owned(), retry_after_secs);
    }

    /// The next call to `method` gets `{"ok": false, "error": error}`.
    pub fn fail_next(&self, method: &str, error: &str) {
        self.state()
            .failures
            .insert(method.to_owned(), error.to_owned());
    }

    /// The next call to `method` takes effect, but its answer is lost: the client gets HTTP 502.
    pub fn lose_answer_next(&self, method: &str) {
        self.state().lost_answers.insert(method.to_owned());
    }

    /// While down, every call gets HTTP 503 (and is still recorded).
    pub fn set_outage(&self, down: bool) {
        self.state().outage = down;
    }

    /// A workspace member. Their legacy username (`name`) is the id in lower case.
    pub fn add_user(&self, id: &str, display_name: &str, real_name: &str) {
        let user = json!({
            "id": id,
            "team_id": "T0FAKE",
            "name": id.to_lowercase(),
            "deleted": false,
            "real_name": real_name,
            "is_bot": false,
            "profile": {
                "display_name": display_name,
                "display_name_normalized": display_name,
                "real_name": real_name,
                "real_name_normalized": real_name,
                "team": "T0FAKE",
            },
        });
        self.state().users.insert(id.to_owned(), user);
    }

    /// Gives a user added before the time zone `users.info` reports (`tz`, with the label and
    /// offset Slack sends beside it).
    pub fn set_zone(&self, id: &str, tz: &str, label: &str, offset_seconds: i64) {
        let mut state = self.state();
        let user = state.users.get_mut(id).expect("add_user first");
        user["tz"] = json!(tz);
        user["tz_label"] = json!(label);
        user["tz_offset"] = json!(offset_seconds);
    }

    /// A top-level message, for `conversations.history` and `conversations.replies`.
    pub fn add_message(&self, channel: &str, ts: &str, user: &str, text: &str) {
        self.state()
            .messages
            .push(Message::from_user(channel, ts, None, user, text));
    }

    /// A reply in the thread under `thread_ts`: only `conversations.replies` lists it.
    pub fn add_reply(&self, channel: &str, thread_ts: &str, ts: &str, user: &str, text: &str) {
        self.state()
            .messages
            .push(Message::from_user(channel, ts, Some(thread_ts), user, text));
    }

    /// `user` reacts to a stored message with `name` (as Slack names emoji: `pushpin`).
    pub fn add_reaction(&self, channel: &str, ts: &str, user: &str, name: &str) {
        let mut state = self.state();
        let message = state.message_mut(channel, ts);
        match message.reactions.iter_mut().find(|(n, _)| n == name) {
            Some((_, users)) if users.iter().any(|u| u == user) => {}
            Some((_, users)) => users.push(user.to_owned()),
            None => message
                .reactions
                .push((name.to_owned(), vec![user.to_owned()])),
        }
    }

    pub fn remove_reaction(&self, channel: &str, ts: &str, user: &str, name: &str) {
        let mut state = self.state();
        let message = state.message_mut(channel, ts);
        for (n, users) in &mut message.reactions {
            if n == name {
                users.retain(|u| u != user);
            }
        }
        message.reactions.retain(|(_, users)| !users.is_empty());
    }

    /// Edits a stored message: `edited_ts` is the edit's time.
    pub fn edit_message(&self, channel: &str, ts: &str, text: &str, edited_ts: &str) {
        let mut state = self.state();
        let message = state.message_mut(channel, ts);
        message.text = text.to_owned();
        message.edited = Some(edited_ts.to_owned());
    }

    /// Pins a stored message (what `pins.list` lists).
    pub fn pin(&self, channel: &str, ts: &str) {
        let mut state = self.state();
        let serial = state.next_serial();
        state.message_mut(channel, ts).pinned = Some(1_700_000_000 + serial);
    }

    pub fn unpin(&self, channel: &str, ts: &str) {
        self.state().message_mut(channel, ts).pinned = None;
    }

    /// How many of the messages Scribe posted (`chat.postMessage`) hold `needle`.
    pub fn posts_with(&self, needle: &str) -> usize {
        self.calls_to("chat.postMessage")
            .iter()
            .filter(|call| {
                call.params["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(needle)
            })
            .count()
    }

    /// Waits until `count` calls to `method` have succeeded and returns them; panics with
    /// everything recorded if that takes longer than `timeout`.
    pub async fn wait_for(&self, method: &str, count: usize, timeout: Duration) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let done: Vec<Call> = self
                .state()
                .calls
                .iter()
                .filter(|(c, ok)| *ok && c.method == method)
                .map(|(c, _)| c.clone())
                .collect();
            if done.len() >= count {
                return done;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "waited {timeout:?} for {count} successful {method} calls, saw {}; all calls: {:#?}",
                    done.len(),
                    self.calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sends `envelope` down the current Socket Mode connection, once there is one.
    pub async fn socket_send(&self, envelope: Value) {
        self.socket(false)
            .await
            .send(Outgoing::Frame(envelope))
            .ok();
    }

    /// Waits for the client's ack of `envelope_id` and returns it; each ack is returned once.
    pub async fn socket_ack(&self, envelope_id: &str, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            {
                let received = &mut self.state().socket.received;
                if let Some(at) = received
                    .iter()
                    .position(|r| r["envelope_id"] == envelope_id)
                {
                    return received.remove(at);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "no ack of {envelope_id} within {timeout:?}; received: {:#?}",
                    self.state().socket.received
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// How many Socket Mode connections were opened so far.
    pub fn socket_connections(&self) -> usize {
        self.state().socket.opened
    }

    /// Tells the current connection's client to reconnect, as Slack does before it refreshes a
    /// connection; envelopes sent from now on wait for the next connection.
    pub async fn socket_disconnect(&self, reason: &str) {
        let disconnect = json!({
            "type": "disconnect",
            "reason": reason,
            "debug_info": { "host": "wss-111.slack.com" },
        });
        self.socket(true)
            .await
            .send(Outgoing::Frame(disconnect))
            .ok();
    }

    /// Drops the current connection's TCP stream without a closing handshake.
    pub async fn socket_drop(&self) {
        self.socket(true).await.send(Outgoing::Drop).ok();
    }

    /// The current connection, once there is one; `take` retires it from getting envelopes.
    async fn socket(&self, take: bool) -> mpsc::UnboundedSender<Outgoing> {
        let deadline = tokio::time::Instant::now() + SOCKET_WAIT;
        loop {
            {
                let current = &mut self.state().socket.current;
                let found = if take {
                    current.take()
                } else {
                    current.clone()
                };
                if let Some((_, sender)) = found {
                    return sender;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "no Socket Mode connection within {SOCKET_WAIT:?}; calls: {:#?}",
                    self.calls_to(CONNECTIONS_OPEN)
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.shared.state.lock().expect("fake Slack state")
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
        self.socket_server.abort();
    }
}

impl Message {
    fn from_user(channel: &str, ts: &str, thread_ts: Option<&str>, user: &str, text: &str) -> Self {
        Message {
            channel: channel.to_owned(),
            ts: ts.to_owned(),
            thread_ts: thread_ts.map(str::to_owned),
            user: Some(user.to_owned()),
            bot_id: None,
            text: text.to_owned(),
            metadata: None,
            files: Vec::new(),
            reactions: Vec::new(),
            edited: None,
            pinned: None,
        }
    }

    fn is_top_level(&self) -> bool {
        self.thread_ts.as_ref().is_none_or(|t| *t == self.ts)
    }

    fn to_json(&self, replies: usize) -> Value {
        let mut m = json!({ "type": "message", "ts": self.ts, "text": self.text });
        if !self.files.is_empty() {
            m["files"] = json!(self.files);
        }
        if let Some(user) = &self.user {
            m["user"] = json!(user);
        }
        if let Some(bot_id) = &self.bot_id {
            m["bot_id"] = json!(bot_id);
        }
        if let Some(edited) = &self.edited {
            m["edited"] = json!({ "user": self.user, "ts": edited });
        }
        if !self.reactions.is_empty() {
            m["reactions"] = self
                .reactions
                .iter()
                .map(|(name, users)| json!({ "name": name, "users": users, "count": users.len() }))
                .collect();
        }
        if self.pinned.is_some() {
            m["pinned_to"] = json!([self.channel]);
        }
        if let Some(thread_ts) = &self.thread_ts {
            m["thread_ts"] = json!(thread_ts);
        } else if replies > 0 {
            m["thread_ts"] = json!(self.ts);
            m["reply_count"] = json!(replies);
        }
        m
    }
}

impl FakeState {
    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    fn replies_to(&self, channel: &str, ts: &str) -> usize {
        self.messages
            .iter()
            .filter(|m| m.channel == channel && m.ts != ts && m.thread_ts.as_deref() == Some(ts))
            .count()
    }

    /// Applies the outage and the one-shot knobs; `Some` is the answer that replaces the method.
    fn rigged(&mut self, method: &str) -> Option<Response> {
        if self.outage {
            return Some((StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response());
        }
        if let Some(secs) = self.rate_limits.remove(method) {
            return Some(
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, secs.to_string())],
                    axum::Json(json!({ "ok": false, "error": "ratelimited" })),
                )
                    .into_response(),
            );
        }
        self.failures.remove(method).map(|e| error(&e))
    }

    fn dispatch(&mut self, origin: &str, method: &str, p: &Map<String, Value>) -> Value {
        match method {
            "chat.postMessage" => self.post_message(p),
            "users.info" => self.users_info(p),
            "conversations.history" => self.history(p),
            "conversations.replies" => self.replies(p),
            "pins.list" => self.pins_list(p),
            "files.getUploadURLExternal" => self.get_upload_url(origin, p),
            "files.completeUploadExternal" => self.complete_upload(p),
            "conversations.create" => self.create(p),
            "conversations.invite" => self.invite(p),
            "views.open" => self.open_view(p),
            _ => fail("unknown_method"),
        }
    }

    fn post_message(&mut self, p: &Map<String, Value>) -> Value {
        let Some(channel) = arg(p, "channel") else {
            return fail("channel_not_found");
        };
        let Some(text) = arg(p, "text").filter(|t| !t.is_empty()) else {
            return fail("no_text");
        };
        let serial = self.next_serial();
        let ts = format!("{}.{:06}", 1_700_000_000 + serial, serial);
        // A JSON body carries `metadata` as an object, a form as a JSON string.
        let metadata = match p.get("metadata") {
            Some(Value::String(s)) => serde_json::from_str(s).ok(),
            Some(v @ Value::Object(_)) => Some(v.clone()),
            _ => None,
        };
        let message = Message {
            channel: channel.clone(),
            ts: ts.clone(),
            thread_ts: arg(p, "thread_ts"),
            user: Some(BOT_USER.to_owned()),
            bot_id: Some(BOT_ID.to_owned()),
            text,
            metadata,
            files: Vec::new(),
            reactions: Vec::new(),
            edited: None,
            pinned: None,
        };
        let shown = message.to_json(0);
        self.messages.push(message);
        json!({ "ok": true, "channel": channel, "ts": ts, "message": shown })
    }

    /// `views.open`: a trigger and a modal with a title of at most 24 characters, as Slack
    /// requires.
    fn open_view(&mut self, p: &Map<String, Value>) -> Value {
        if arg(p, "trigger_id").is_none() {
            return fail("invalid_arguments");
        }
        let view = match p.get("view") {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
            Some(v) => v.clone(),
            None => Value::Null,
        };
        let titled = view["title"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty() && t.chars().count() <= 24);
        if view["type"] != "modal" || !titled || !view["blocks"].is_array() {
            return fail("invalid_arguments");
        }
        let id = format!("V{:08}", self.next_serial());
        json!({ "ok": true, "view": { "id": id, "callback_id": view["callback_id"] } })
    }

    fn users_info(&self, p: &Map<String, Value>) -> Value {
        match arg(p, "user").and_then(|id| self.users.get(&id)) {
            Some(user) => json!({ "ok": true, "user": user }),
            None => fail("user_not_found"),
        }
    }

    fn history(&self, p: &Map<String, Value>) -> Value {
        let Some(channel) = arg(p, "channel") else {
            return fail("channel_not_found");
        };
        let window = Window::from_args(p);
        let mut found: Vec<&Message> = self
            .messages
            .iter()
            .filter(|m| m.channel == channel && m.is_top_level() && window.contains(&m.ts))
            .collect();
        found.sort_by(|a, b| ts_cmp(&b.ts, &a.ts));
        let Some((found, next_cursor)) = paginate(found, p) else {
            return fail("invalid_cursor");
        };
        let has_more = !next_cursor.is_empty();
        let with_metadata = arg(p, "include_all_metadata").as_deref() == Some("true");
        let messages: Vec<Value> = found
            .into_iter()
            .map(|m| {
                let mut shown = m.to_json(self.replies_to(&channel, &m.ts));
                if let (true, Some(metadata)) = (with_metadata, &m.metadata) {
                    shown["metadata"] = metadata.clone();
                }
                shown
            })
            .collect();
        json!({
            "ok": true,
            "messages": messages,
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": { "next_cursor": next_cursor },
        })
    }

    /// The whole thread around `ts` (parent or reply), parent first, as Slack lists it.
    fn replies(&self, p: &Map<String, Value>) -> Value {
        let (Some(channel), Some(ts)) = (arg(p, "channel"), arg(p, "ts")) else {
            return fail("thread_not_found");
        };
        let Some(anchor) = self
            .messages
            .iter()
            .find(|m| m.channel == channel && m.ts == ts)
        else {
            return fail("thread_not_found");
        };
        let root = anchor
            .thread_ts
            .clone()
            .unwrap_or_else(|| anchor.ts.clone());
        let window = Window::from_args(p);
        let mut thread: Vec<&Message> = self
            .messages
            .iter()
            .filter(|m| {
                m.channel == channel
                    && (m.ts == root
                        || (m.thread_ts.as_deref() == Some(&root) && window.contains(&m.ts)))
            })
            .collect();
        thread.sort_by(|a, b| ts_cmp(&a.ts, &b.ts));
        let Some((thread, next_cursor)) = paginate(thread, p) else {
            return fail("invalid_cursor");
        };
        let messages: Vec<Value> = thread
            .into_iter()
            .map(|m| m.to_json(self.replies_to(&channel, &m.ts)))
            .collect();
        json!({
            "ok": true,
            "messages": messages,
            "has_more": !next_cursor.is_empty(),
            "response_metadata": { "next_cursor": next_cursor },
        })
    }

    /// `pins.list`: the channel's pinned messages, the latest pin first.
    fn pins_list(&self, p: &Map<String, Value>) -> Value {
        let Some(channel) = arg(p, "channel") else {
            return fail("channel_not_found");
        };
        let mut pinned: Vec<&Message> = self
            .messages
            .iter()
            .filter(|m| m.channel == channel && m.pinned.is_some())
            .collect();
        pinned.sort_by_key(|m| std::cmp::Reverse(m.pinned));
        let items: Vec<Value> = pinned
            .into_iter()
            .map(|m| {
                json!({
                    "type": "message",
                    "created": m.pinned,
                    "created_by": m.user,
                    "channel": channel,
                    "message": m.to_json(self.replies_to(&channel, &m.ts)),
                })
            })
            .collect();
        json!({ "ok": true, "items": items })
    }

    fn message_mut(&mut self, channel: &str, ts: &str) -> &mut Message {
        self.messages
            .iter_mut()
            .find(|m| m.channel == channel && m.ts == ts)
            .expect("a message the test added")
    }

    fn get_upload_url(&mut self, origin: &str, p: &Map<String, Value>) -> Value {
        let length = arg(p, "length").and_then(|l| l.parse::<u64>().ok());
        let (Some(filename), Some(1..)) = (arg(p, "filename"), length) else {
            return fail("missing_argument");
        };
        let file_id = format!("F{:010}", self.next_serial());
        self.files.insert(
            file_id.clone(),
            File {
                filename,
                content: None,
            },
        );
        json!({
            "ok": true,
            "upload_url": format!("{origin}/upload/{file_id}"),
            "file_id": file_id,
        })
    }

    fn complete_upload(&mut self, p: &Map<String, Value>) -> Value {
        // A form carries `files` as a JSON string, a JSON body as an array.
        let files = match p.get("files") {
            Some(Value::String(s)) => serde_json::from_str(s).ok(),
            Some(v @ Value::Array(_)) => Some(v.clone()),
            _ => None,
        };
        let Some(Value::Array(files)) = files else {
            return fail("invalid_arguments");
        };
        let mut completed = Vec::new();
        for entry in &files {
            let id = entry["id"].as_str().unwrap_or_default();
            let Some(file) = self.files.get(id).filter(|f| f.content.is_some()) else {
                return fail("file_not_found");
            };
            let title = entry["title"].as_str().unwrap_or(&file.filename);
            completed.push(json!({ "id": id, "title": title, "name": file.filename }));
        }
        // Shared in a channel, the files appear there as the bot's message.
        if let Some(channel) = arg(p, "channel_id") {
            let serial = self.next_serial();
            self.messages.push(Message {
                channel,
                ts: format!("{}.{:06}", 1_700_000_000 + serial, serial),
                thread_ts: None,
                user: Some(BOT_USER.to_owned()),
                bot_id: Some(BOT_ID.to_owned()),
                text: arg(p, "initial_comment").unwrap_or_default(),
                metadata: None,
                files: completed.clone(),
                reactions: Vec::new(),
                edited: None,
                pinned: None,
            });
        }
        json!({ "ok": true, "files": completed })
    }

    fn create(&mut self, p: &Map<String, Value>) -> Value {
        let name = arg(p, "name").unwrap_or_default();
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if name.is_empty() {
            return fail("invalid_name_required");
        }
        if name.chars().count() > 80 {
            return fail("invalid_name_maxlength");
        }
        if !name.chars().all(valid) {
            return fail("invalid_name_specials");
        }
        if self.channels.contains_key(&name) {
            return fail("name_taken");
        }
        let id = format!("C{:010}", self.next_serial());
        self.channels.insert(
            name.clone(),
            Channel {
                id: id.clone(),
                members: HashSet::from([BOT_USER.to_owned()]),
            },
        );
        json!({
            "ok": true,
            "channel": {
                "id": id,
                "name": name,
                "name_normalized": name,
                "is_channel": true,
                "is_private": false,
                "is_archived": false,
                "is_member": true,
                "creator": BOT_USER,
                "topic": { "value": "", "creator": "", "last_set": 0 },
                "purpose": { "value": "", "creator": "", "last_set": 0 },
            },
        })
    }

    fn invite(&mut self, p: &Map<String, Value>) -> Value {
        let channel = arg(p, "channel").unwrap_or_default();
        let Some(found) = self.channels.values_mut().find(|c| c.id == channel) else {
            return fail("channel_not_found");
        };
        let users = arg(p, "users").unwrap_or_default();
        let users: Vec<&str> = users.split(',').filter(|u| !u.is_empty()).collect();
        if users.is_empty() {
            return fail("no_user");
        }
        if users.iter().any(|u| found.members.contains(*u)) {
            return fail("already_in_channel");
        }
        found.members.extend(users.iter().map(|u| u.to_string()));
        json!({ "ok": true, "channel": { "id": found.id, "is_channel": true } })
    }
}

/// The `oldest`/`latest`/`inclusive` window of the history methods.
struct Window {
    oldest: Option<String>,
    latest: Option<String>,
    inclusive: bool,
}

impl Window {
    fn from_args(p: &Map<String, Value>) -> Self {
        Window {
            oldest: arg(p, "oldest"),
            latest: arg(p, "latest"),
            inclusive: matches!(arg(p, "inclusive").as_deref(), Some("true" | "1")),
        }
    }

    fn contains(&self, ts: &str) -> bool {
        let edge_ok = |o: Ordering| o != Ordering::Equal || self.inclusive;
        let after_oldest = self.oldest.as_deref().is_none_or(|o| {
            let c = ts_cmp(ts, o);
            c != Ordering::Less && edge_ok(c)
        });
        let before_latest = self.latest.as_deref().is_none_or(|l| {
            let c = ts_cmp(ts, l);
            c != Ordering::Greater && edge_ok(c)
        });
        after_oldest && before_latest
    }
}

/// Slack `ts` values order as (seconds, microseconds), which string order gets wrong when the
/// seconds differ in length.
fn ts_cmp(a: &str, b: &str) -> Ordering {
    fn key(ts: &str) -> (u64, u64) {
        let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
        let frac = format!("{frac:0<6}");
        (secs.parse().unwrap_or(0), frac[..6].parse().unwrap_or(0))
    }
    key(a).cmp(&key(b))
}

/// One page of `items` as `limit` (default 100, at most 999) and the opaque `cursor` of an
/// earlier page ask, with the cursor of the next page ("" on the last); `None` for a cursor
/// this fake never handed out.
fn paginate<T>(items: Vec<T>, p: &Map<String, Value>) -> Option<(Vec<T>, String)> {
    let limit = arg(p, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 999);
    let skip = match arg(p, "cursor").filter(|c| !c.is_empty()) {
        Some(cursor) => cursor.strip_prefix("next:")?.parse().ok()?,
        None => 0,
    };
    let more = items.len() > skip + limit;
    let page = items.into_iter().skip(skip).take(limit).collect();
    let next = if more {
        format!("next:{}", skip + limit)
    } else {
        String::new()
    };
    Some((page, next))
}

fn arg(p: &Map<String, Value>, key: &str) -> Option<String> {
    match p.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn fail(code: &str) -> Value {
    json!({ "ok": false, "error": code })
}

fn error(code: &str) -> Response {
    axum::Json(fail(code)).into_response()
}

/// Query string, then a form or JSON body, as one object.
fn params(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Map<String, Value> {
    let mut params = Map::new();
    let mut add_form = |bytes: &[u8]| {
        for (k, v) in url::form_urlencoded::parse(bytes) {
            params.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    };
    add_form(query.unwrap_or_default().as_bytes());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        add_form(body);
    } else if content_type.starts_with("application/json")
        && let Ok(Value::Object(json)) = serde_json::from_slice(body)
    {
        params.extend(json);
    }
    params
}

fn auth(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn api(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = Call {
        method: method.clone(),
        auth: auth(&headers),
        params: Value::Object(params(query.as_deref(), &headers, &body)),
        body: body.to_vec(),
    };
    let mut state = shared.state.lock().expect("fake Slack state");
    let authed = call
        .auth
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|token| !token.trim().is_empty());
    // An outage answers before the token check; the token check before the one-shot knobs,
    // so that an unauthenticated call does not use them up.
    let rigged = if state.outage || authed {
        state.rigged(&method)
    } else {
        Some(error("not_authed"))
    };
    let (answer, ok) = if let Some(rigged) = rigged {
        (rigged, false)
    } else {
        let Value::Object(p) = &call.params else {
            unreachable!("params are built as an object")
        };
        let answer = state.dispatch(&shared.origin, &method, p);
        let ok = answer["ok"] == json!(true);
        if state.lost_answers.remove(&method) {
            (
                (StatusCode::BAD_GATEWAY, "Bad Gateway").into_response(),
                false,
            )
        } else {
            (axum::Json(answer).into_response(), ok)
        }
    };
    state.calls.push((call, ok));
    answer
}

async fn upload(
    State(shared): State<Arc<Shared>>,
    Path(file_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = Call {
        method: UPLOAD.to_owned(),
        auth: auth(&headers),
        params: json!({ "file_id": file_id }),
        body: body.to_vec(),
    };
    let mut state = shared.state.lock().expect("fake Slack state");
    let answer = match state.rigged(UPLOAD) {
        Some(rigged) => Err(rigged),
        None => match state.files.get_mut(&file_id) {
            Some(file) => {
                file.content = Some(body.to_vec());
                // Slack documents only the status: 200 means the bytes arrived.
                Ok("OK".into_response())
            }
            None => Err((StatusCode::NOT_FOUND, "file not found").into_response()),
        },
    };
    state.calls.push((call, answer.is_ok()));
    answer.unwrap_or_else(|e| e)
}

/// A `response_url`: Slack takes a JSON message for the person who interacted, with no token
/// (the URL authorises it), and answers `ok`.
async fn respond(
    State(shared): State<Arc<Shared>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let call = Call {
        method: RESPONSE_URL.to_owned(),
        auth: auth(&headers),
        params: json.clone().unwrap_or_else(|| json!({ "path": rest })),
        body: body.to_vec(),
    };
    let mut state = shared.state.lock().expect("fake Slack state");
    let answer = match (state.rigged(RESPONSE_URL), json) {
        (Some(rigged), _) => Err(rigged),
        (None, Some(Value::Object(m))) if m.get("text").is_some_and(Value::is_string) => {
            Ok("ok".into_response())
        }
        (None, _) => Err((StatusCode::BAD_REQUEST, "invalid_payload").into_response()),
    };
    state.calls.push((call, answer.is_ok()));
    answer.unwrap_or_else(|e| e)
}

/// `apps.connections.open`: only an app-level token may call it, and the URL it answers with
/// is good for one connection.
async fn connections_open(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = Call {
        method: CONNECTIONS_OPEN.to_owned(),
        auth: auth(&headers),
        params: Value::Object(params(None, &headers, &body)),
        body: body.to_vec(),
    };
    let mut state = shared.state.lock().expect("fake Slack state");
    let token = call.auth.as_deref().and_then(|a| a.strip_prefix("Bearer "));
    let rigged = match token.map(str::trim) {
        _ if state.outage => state.rigged(CONNECTIONS_OPEN),
        Some(token) if token.starts_with("xapp-") => state.rigged(CONNECTIONS_OPEN),
        Some(token) if !token.is_empty() => Some(error("not_allowed_token_type")),
        _ => Some(error("not_authed")),
    };
    let (answer, ok) = match rigged {
        Some(rigged) => (rigged, false),
        None => {
            let ticket = format!("{:08x}-{:04x}", rand::random::<u32>(), state.next_serial());
            state.socket.tickets.insert(ticket.clone());
            let url = format!(
                "{}/link/?ticket={ticket}&app_id={APP_ID}",
                shared.socket_origin
            );
            (
                axum::Json(json!({ "ok": true, "url": url })).into_response(),
                true,
            )
        }
    };
    state.calls.push((call, ok));
    answer
}

async fn accept_sockets(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        if let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_socket(stream, shared.clone()));
        }
    }
}

/// One Socket Mode connection: `hello`, then what tests send, while recording what the client
/// sends back.
async fn serve_socket(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    #[expect(
        clippy::result_large_err,
        reason = "tungstenite's handshake callback returns its own response"
    )]
    let ticket_known = |request: &tungstenite::handshake::server::Request,
                        response: tungstenite::handshake::server::Response| {
        let ticket =
            url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
                .find(|(key, _)| key == "ticket")
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default();
        let mut state = shared.state.lock().expect("fake Slack state");
        if request.uri().path() == "/link/" && state.socket.tickets.remove(&ticket) {
            Ok(response)
        } else {
            let refused = tungstenite::http::Response::builder()
                .status(401)
                .body(Some("invalid ticket".to_owned()))
                .expect("a static response");
            Err(refused)
        }
    };
    let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, ticket_known).await else {
        return;
    };
    let (sender, mut outgoing) = mpsc::unbounded_channel();
    let number = {
        let mut state = shared.state.lock().expect("fake Slack state");
        state.socket.opened += 1;
        state.socket.current = Some((state.socket.opened, sender));
        state.socket.opened
    };
    let hello = json!({
        "type": "hello",
        "num_connections": 1,
        "debug_info": {
            "host": "applink-fake-1",
            "build_number": 10,
            "approximate_connection_time": 18060,
        },
        "connection_info": { "app_id": APP_ID },
    });
    if socket
        .send(WsMessage::Text(hello.to_string()))
        .await
        .is_ok()
    {
        loop {
            tokio::select! {
                // Once no test can send any more (after a disconnect), only reading goes on.
                Some(out) = outgoing.recv() => match out {
                    Outgoing::Frame(frame) => {
                        if socket.send(WsMessage::Text(frame.to_string())).await.is_err() {
                            break;
                        }
                    }
                    Outgoing::Drop => break,
                },
                frame = socket.next() => match frame {
                    Some(Ok(WsMessage::Text(text))) => {
                        if let Ok(sent) = serde_json::from_str(&text) {
                            shared.state.lock().expect("fake Slack state").socket.received.push(sent);
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
            }
        }
    }
    let mut state = shared.state.lock().expect("fake Slack state");
    if state
        .socket
        .current
        .as_ref()
        .is_some_and(|(n, _)| *n == number)
    {
        state.socket.current = None;
    }
}
