//! A fake Discord on one local port: the REST API under `/api/v10/…` and the WebSocket gateway
//! at `/gateway-ws`, so tests drive Scribe's real serenity client end to end.
//!
//! Payloads follow Discord's documentation field for field: serenity's models are strict, and a
//! gateway event missing a required field is silently dropped as `Event::Unknown`. The fake
//! records every REST call, keeps channels, members, message history, pins and reactions that
//! tests set up, and runs gateway sessions as Discord does: HELLO, IDENTIFY → READY +
//! GUILD_CREATE, heartbeats, RESUME replaying what the session missed, INVALID_SESSION, op 7
//! RECONNECT. Knobs inject a 429 (with Discord's real body and headers) or an error status.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The application, which is also the bot user's id (as for every bot made since 2019).
pub const APPLICATION_ID: &str = "1175928847204634624";
/// The one guild (server) the bot is in.
pub const GUILD_ID: &str = "1175930166690787328";
/// A bot token in Discord's shape: the base64 of the bot's id, a timestamp part and an HMAC part.
pub const BOT_TOKEN: &str = "MTE3NTkyODg0NzIwNDYzNDYyNA.GfAkeD.scribe-fake-discord-token-0001";
pub const BOT_USERNAME: &str = "Scribe";

/// The path the gateway's WebSocket is served at.
pub const GATEWAY_PATH: &str = "/gateway-ws";
/// Discord's epoch (2015-01-01T00:00:00Z) in Unix milliseconds.
pub const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;

/// Intent bits (Discord's Gateway Intents table).
pub const INTENT_GUILDS: u64 = 1 << 0;
pub const INTENT_GUILD_MESSAGES: u64 = 1 << 9;
pub const INTENT_GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
pub const INTENT_MESSAGE_CONTENT: u64 = 1 << 15;

/// An interaction token is good for its initial response this long (Discord: 3 seconds).
const INITIAL_RESPONSE_WINDOW: Duration = Duration::from_secs(3);
const HEARTBEAT_INTERVAL_MS: u64 = 41_250;

/// The snowflake of a moment: milliseconds since Discord's epoch, shifted left by 22 bits.
pub fn snowflake_at(at: DateTime<Utc>, increment: u64) -> String {
    let ms = (at.timestamp_millis() - DISCORD_EPOCH_MS).max(0) as u64;
    ((ms << 22) | (increment & 0xfff)).to_string()
}

/// The moment a snowflake encodes.
pub fn snowflake_time(id: &str) -> DateTime<Utc> {
    let id: u64 = id.parse().expect("a snowflake");
    let ms = (id >> 22) as i64 + DISCORD_EPOCH_MS;
    Utc.timestamp_millis_opt(ms).single().expect("a valid time")
}

/// ISO 8601 as Discord writes it: `2024-03-01T14:05:09.123000+00:00`.
pub fn iso(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

fn iso_of(id: u64) -> String {
    iso(snowflake_time(&id.to_string()))
}

/// One REST request the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// The path from `/api/v10/…` on, without the query.
    pub path: String,
    pub query: Option<String>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The JSON body, or a multipart body's `payload_json`.
    pub json: Option<Value>,
    /// A multipart body's parts (`payload_json` included).
    pub parts: Vec<Part>,
    /// The status the fake answered with.
    pub status: u16,
    pub at: Instant,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, key: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or_default().as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// A message the bot created with `POST /channels/{id}/messages`.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The JSON body or the multipart `payload_json`.
    pub body: Value,
    /// `files[n]` parts: filename and content.
    pub files: Vec<(String, Vec<u8>)>,
    /// The message object the fake answered with.
    pub message: Value,
}

impl Posted {
    pub fn content(&self) -> &str {
        self.body["content"].as_str().unwrap_or_default()
    }
}

pub struct FakeDiscord {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

struct Shared {
    /// `127.0.0.1:PORT`
    addr: SocketAddr,
    state: Mutex<FakeState>,
}

#[derive(Default)]
struct FakeState {
    /// `127.0.0.1:PORT`
    addr: String,
    calls: Vec<Call>,
    rigs: Vec<Rig>,
    /// Rate-limited buckets: method, path part, and when the limit resets.
    limited: Vec<(String, String, Instant)>,
    members: BTreeMap<String, MemberInfo>,
    channels: BTreeMap<String, ChannelInfo>,
    /// Every message of every channel, by id (deleted ones are removed).
    messages: BTreeMap<u64, Stored>,
    posted: Vec<(String, Posted)>,
    guild_commands: Vec<Value>,
    global_commands: Vec<Value>,
    command_ids: HashMap<String, String>,
    interactions: HashMap<String, InteractionInfo>,
    last_id: u64,
    pin_serial: u64,
    /// The bot's messages by channel and nonce, for `enforce_nonce`.
    nonces: HashMap<(String, String), u64>,
    gateway: Gateway,
}

struct Rig {
    method: String,
    path_contains: String,
    kind: RigKind,
}

enum RigKind {
    RateLimit(f64),
    Status(u16),
    /// The call takes effect, but its answer is lost: the client sees this status.
    LoseAnswer(u16),
}

#[derive(Clone)]
struct MemberInfo {
    username: String,
    global_name: Option<String>,
    nick: Option<String>,
    joined_at: String,
}

#[derive(Clone)]
struct ChannelInfo {
    id: String,
    name: String,
    parent: Option<String>,
    kind: u8,
}

#[derive(Clone)]
struct Stored {
    id: u64,
    channel: String,
    author: String,
    content: String,
    edited: Option<String>,
    /// The order it was pinned in, while pinned.
    pinned: Option<u64>,
    kind: u8,
    attachments: Vec<Value>,
    /// Emoji name → users who reacted with it, in order.
    reactions: Vec<(String, Vec<String>)>,
    webhook_id: Option<String>,
    interaction: Option<Value>,
    mention_everyone: bool,
}

struct InteractionInfo {
    token: String,
    channel: String,
    user: String,
    name: String,
    created: Instant,
    /// The callback body, once answered.
    response: Option<Value>,
    /// The id of the response message, once there is one.
    original: Option<u64>,
}

#[derive(Default)]
struct Gateway {
    connections: usize,
    /// The connection dispatches go to: number and sender.
    current: Option<(usize, mpsc::UnboundedSender<Outgoing>)>,
    session: Option<Session>,
    sessions: u64,
    identifies: Vec<Value>,
    resumes: usize,
    replayed: usize,
    invalid_sessions: usize,
    /// Answer IDENTIFY/RESUME only once released.
    hold: bool,
    held: Vec<(usize, mpsc::UnboundedSender<Outgoing>, Value)>,
    invalidate_next_resume: bool,
    /// Heartbeats received.
    heartbeats: usize,
}

struct Session {
    id: String,
    seq: u64,
    intents: u64,
    /// Every dispatch of the session, with its sequence number, for RESUME.
    log: Vec<(u64, Value)>,
}

enum Outgoing {
    Frame(Value),
    /// Drop the TCP connection without a closing handshake.
    Drop,
    /// Close with this code.
    Close(u16),
}

impl FakeDiscord {
    /// Binds 127.0.0.1 on a free port and serves REST and the gateway on it.
    pub async fn start() -> FakeDiscord {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            addr,
            state: Mutex::default(),
        });
        {
            let mut state = shared.state.lock().unwrap();
            state.addr = addr.to_string();
            state.members.insert(
                APPLICATION_ID.to_owned(),
                MemberInfo {
                    username: BOT_USERNAME.to_owned(),
                    global_name: None,
                    nick: None,
                    joined_at: "2023-11-20T09:12:44.512000+00:00".to_owned(),
                },
            );
        }
        let (http_tx, http_rx) = mpsc::unbounded_channel();
        let accept = tokio::spawn(accept_loop(listener, shared.clone(), http_tx));
        let app = Router::new().fallback(rest).with_state(shared.clone());
        let http = tokio::spawn(async move {
            let listener = HandedOver { rx: http_rx, addr };
            axum::serve(listener, app)
                .await
                .expect("fake Discord serves");
        });
        FakeDiscord {
            shared,
            tasks: vec![accept, http],
        }
    }

    /// `http://127.0.0.1:PORT`: serenity's proxy base, requests then arrive as `/api/v10/…`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// `ws://127.0.0.1:PORT/gateway-ws`
    pub fn gateway_url(&self) -> String {
        format!("ws://{}{GATEWAY_PATH}", self.shared.addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.shared.state.lock().expect("fake Discord state")
    }

    // ---- what tests set up -------------------------------------------------------------

    /// A guild member. Discord shows the nick, else the global name, else the username.
    pub fn add_member(
        &self,
        user_id: &str,
        username: &str,
        global_name: Option<&str>,
        nick: Option<&str>,
    ) {
        self.state().members.insert(
            user_id.to_owned(),
            MemberInfo {
                username: username.to_owned(),
                global_name: global_name.map(str::to_owned),
                nick: nick.map(str::to_owned),
                joined_at: "2024-02-01T08:00:00.000000+00:00".to_owned(),
            },
        );
    }

    /// A guild text channel (type 0).
    pub fn add_channel(&self, channel_id: &str, name: &str) {
        self.state().channels.insert(
            channel_id.to_owned(),
            ChannelInfo {
                id: channel_id.to_owned(),
                name: name.to_owned(),
                parent: None,
                kind: 0,
            },
        );
    }

    /// A public thread (type 11) under `parent_id`.
    pub fn add_thread(&self, thread_id: &str, parent_id: &str, name: &str) {
        self.state().channels.insert(
            thread_id.to_owned(),
            ChannelInfo {
                id: thread_id.to_owned(),
                name: name.to_owned(),
                parent: Some(parent_id.to_owned()),
                kind: 11,
            },
        );
    }

    /// A fresh snowflake for now, greater than every id handed out before.
    pub fn next_id(&self) -> String {
        self.state().next_id().to_string()
    }

    /// A message that exists in the channel but is not dispatched (posted while the bot was away).
    pub fn add_history(&self, channel_id: &str, message_id: &str, author_id: &str, content: &str) {
        let id: u64 = message_id.parse().expect("a snowflake message id");
        let mut state = self.state();
        state.last_id = state.last_id.max(id);
        state.messages.insert(
            id,
            Stored::new(id, channel_id, author_id, content, 0, Vec::new()),
        );
    }

    /// Marks a message pinned (what `GET …/pins` serves); dispatches nothing.
    pub fn pin(&self, channel_id: &str, message_id: &str) {
        let mut state = self.state();
        state.pin_serial += 1;
        let serial = state.pin_serial;
        let stored = state.message_mut(channel_id, message_id);
        stored.pinned = Some(serial);
    }

    pub fn unpin(&self, channel_id: &str, message_id: &str) {
        self.state().message_mut(channel_id, message_id).pinned = None;
    }

    /// Records `user_id`'s reaction on a stored message; dispatches nothing.
    pub fn add_reaction(&self, channel_id: &str, message_id: &str, user_id: &str, emoji: &str) {
        let mut state = self.state();
        let stored = state.message_mut(channel_id, message_id);
        match stored.reactions.iter_mut().find(|(e, _)| e == emoji) {
            Some((_, users)) if users.iter().any(|u| u == user_id) => {}
            Some((_, users)) => users.push(user_id.to_owned()),
            None => stored
                .reactions
                .push((emoji.to_owned(), vec![user_id.to_owned()])),
        }
    }

    pub fn remove_reaction(&self, channel_id: &str, message_id: &str, user_id: &str, emoji: &str) {
        let mut state = self.state();
        let stored = state.message_mut(channel_id, message_id);
        for (e, users) in &mut stored.reactions {
            if e == emoji {
                users.retain(|u| u != user_id);
            }
        }
        stored.reactions.retain(|(_, users)| !users.is_empty());
    }

    // ---- failure knobs -----------------------------------------------------------------

    /// The next `method` call whose path contains `path_contains` gets Discord's 429, and so
    /// does every matching call until `retry_after_secs` have passed (the bucket's reset).
    pub fn rate_limit_next(&self, method: &str, path_contains: &str, retry_after_secs: f64) {
        self.state().rigs.push(Rig {
            method: method.to_uppercase(),
            path_contains: path_contains.to_owned(),
            kind: RigKind::RateLimit(retry_after_secs),
        });
    }

    /// The next matching call gets `status` with a Discord error body.
    pub fn fail_next(&self, method: &str, path_contains: &str, status: u16) {
        self.state().rigs.push(Rig {
            method: method.to_uppercase(),
            path_contains: path_contains.to_owned(),
            kind: RigKind::Status(status),
        });
    }

    /// The next matching call takes effect, but the client gets `status` instead of the
    /// answer (a response lost on the way back).
    pub fn lose_answer_next(&self, method: &str, path_contains: &str, status: u16) {
        self.state().rigs.push(Rig {
            method: method.to_uppercase(),
            path_contains: path_contains.to_owned(),
            kind: RigKind::LoseAnswer(status),
        });
    }

    // ---- what the fake saw -------------------------------------------------------------

    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    pub fn calls_to(&self, method: &str, path_contains: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method) && c.path.contains(path_contains))
            .collect()
    }

    /// Waits until `count` matching calls have succeeded (2xx) and returns them.
    pub async fn wait_for(
        &self,
        method: &str,
        path_contains: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<Call> {
        let deadline = Instant::now() + timeout;
        loop {
            let done: Vec<Call> = self
                .calls_to(method, path_contains)
                .into_iter()
                .filter(Call::ok)
                .collect();
            if done.len() >= count {
                return done;
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {timeout:?} for {count} successful {method} …{path_contains}… calls, saw {}; all calls:\n{}",
                    done.len(),
                    self.describe_calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One line per call, for failure messages.
    pub fn describe_calls(&self) -> String {
        self.calls()
            .iter()
            .map(|c| {
                format!(
                    "{} {}{} -> {} {}",
                    c.method,
                    c.path,
                    c.query
                        .as_deref()
                        .map(|q| format!("?{q}"))
                        .unwrap_or_default(),
                    c.status,
                    c.json.as_ref().map(Value::to_string).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The commands last registered for [`GUILD_ID`] (as the fake answered them, with ids).
    pub fn registered_commands(&self) -> Vec<Value> {
        self.state().guild_commands.clone()
    }

    pub fn registered_global_commands(&self) -> Vec<Value> {
        self.state().global_commands.clone()
    }

    /// Messages the bot created in `channel_id` with `POST /channels/{id}/messages`.
    pub fn posted(&self, channel_id: &str) -> Vec<Posted> {
        self.state()
            .posted
            .iter()
            .filter(|(c, _)| c == channel_id)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// The channel's messages as `GET …/messages` would list them, oldest first.
    pub fn history(&self, channel_id: &str) -> Vec<Value> {
        let state = self.state();
        state
            .messages
            .values()
            .filter(|m| m.channel == channel_id)
            .map(|m| state.message_json(m))
            .collect()
    }

    /// Waits for the initial response to interaction `id` and returns the callback body.
    pub async fn interaction_response(&self, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(response) = self
                .state()
                .interactions
                .get(id)
                .and_then(|i| i.response.clone())
            {
                return response;
            }
            if Instant::now() >= deadline {
                panic!(
                    "no response to interaction {id} within {timeout:?}; calls:\n{}",
                    self.describe_calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the user finally sees for interaction `id`: the type-4 callback's `data`, or after a
    /// type-5 deferral the edit of `@original` or the first follow-up.
    pub async fn interaction_answer(&self, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        let response = self.interaction_response(id, timeout).await;
        if response["type"] == 4 {
            return response["data"].clone();
        }
        let token = self.state().interactions[id].token.clone();
        loop {
            let answer = self.calls().into_iter().find(|c| {
                c.ok()
                    && c.path
                        .contains(&format!("/webhooks/{APPLICATION_ID}/{token}"))
                    && (c.method == "POST" || c.method == "PATCH")
            });
            if let Some(call) = answer {
                return call.json.unwrap_or(Value::Null);
            }
            if Instant::now() >= deadline {
                panic!(
                    "interaction {id} was deferred ({response}) but never answered within {timeout:?}; calls:\n{}",
                    self.describe_calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // ---- the gateway -------------------------------------------------------------------

    /// Sends an op 0 dispatch on the live session; while no connection is live it waits in the
    /// session's log for a RESUME (an IDENTIFY starts a new session and loses it, as on
    /// Discord). Events the session's intents do not cover are not sent, as on Discord.
    pub fn dispatch(&self, t: &str, data: Value) {
        self.state().dispatch(t, data);
    }

    /// Waits until a session is READY (or RESUMED) on a live connection.
    pub async fn wait_connected(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.state().gateway.current.is_none() {
            if Instant::now() >= deadline {
                panic!(
                    "no gateway session within {timeout:?}; REST calls:\n{}",
                    self.describe_calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// IDENTIFY payloads received, oldest first.
    pub fn identifies(&self) -> Vec<Value> {
        self.state().gateway.identifies.clone()
    }

    pub fn identify_count(&self) -> usize {
        self.state().gateway.identifies.len()
    }

    /// The intents of the last IDENTIFY.
    pub fn last_intents(&self) -> Option<u64> {
        self.state()
            .gateway
            .identifies
            .last()
            .and_then(|i| i["intents"].as_u64())
    }

    /// Successful RESUMEs.
    pub fn resume_count(&self) -> usize {
        self.state().gateway.resumes
    }

    /// Dispatches sent again in answer to a RESUME.
    pub fn replayed_count(&self) -> usize {
        self.state().gateway.replayed
    }

    /// RESUMEs answered with INVALID_SESSION.
    pub fn invalid_session_count(&self) -> usize {
        self.state().gateway.invalid_sessions
    }

    pub fn connection_count(&self) -> usize {
        self.state().gateway.connections
    }

    pub fn heartbeat_count(&self) -> usize {
        self.state().gateway.heartbeats
    }

    /// Closes the live connection abruptly (no close frame); dispatches wait for a RESUME.
    pub fn drop_connection(&self) {
        let current = self.state().gateway.current.take();
        if let Some((_, tx)) = current {
            tx.send(Outgoing::Drop).ok();
        }
    }

    /// Closes the live connection with a close frame carrying `code` (4000: unknown error,
    /// resumable).
    pub fn close_connection(&self, code: u16) {
        let current = self.state().gateway.current.take();
        if let Some((_, tx)) = current {
            tx.send(Outgoing::Close(code)).ok();
        }
    }

    /// Sends op 7 RECONNECT; dispatches from now on wait for the client's RESUME.
    pub fn send_reconnect(&self) {
        let current = self.state().gateway.current.take();
        if let Some((_, tx)) = current {
            tx.send(Outgoing::Frame(
                json!({"op": 7, "d": null, "s": null, "t": null}),
            ))
            .ok();
        }
    }

    /// While held, IDENTIFY and RESUME are read but not answered, so the bot stays away (its
    /// heartbeats are still acknowledged). Releasing answers them in order.
    pub fn hold_sessions(&self, hold: bool) {
        let mut state = self.state();
        state.gateway.hold = hold;
        if !hold {
            for (conn, tx, frame) in std::mem::take(&mut state.gateway.held) {
                state.session_op(conn, tx, &frame);
            }
        }
    }

    /// The next RESUME is answered with INVALID_SESSION (`d: false`): the client must IDENTIFY.
    pub fn invalidate_next_resume(&self) {
        self.state().gateway.invalidate_next_resume = true;
    }

    // ---- payload builders (Discord's Gateway Events documentation) ---------------------

    /// MESSAGE_CREATE data for a message by `author_id` (with its `member`, as in a guild).
    pub fn message_create(
        &self,
        channel_id: &str,
        message_id: &str,
        author_id: &str,
        content: &str,
    ) -> Value {
        let id: u64 = message_id.parse().expect("a snowflake");
        let state = self.state();
        let stored = Stored::new(id, channel_id, author_id, content, 0, Vec::new());
        state.gateway_message(&stored)
    }

    /// MESSAGE_UPDATE data: the whole message with its new content and `edited_timestamp`.
    pub fn message_update(
        &self,
        channel_id: &str,
        message_id: &str,
        author_id: &str,
        content: &str,
    ) -> Value {
        let id: u64 = message_id.parse().expect("a snowflake");
        let state = self.state();
        let mut stored = state
            .messages
            .get(&id)
            .cloned()
            .unwrap_or_else(|| Stored::new(id, channel_id, author_id, content, 0, Vec::new()));
        stored.content = content.to_owned();
        stored.edited = Some(iso(Utc::now()));
        state.gateway_message(&stored)
    }

    pub fn message_delete(&self, channel_id: &str, message_id: &str) -> Value {
        json!({"id": message_id, "channel_id": channel_id, "guild_id": GUILD_ID})
    }

    pub fn reaction_add(
        &self,
        channel_id: &str,
        message_id: &str,
        user_id: &str,
        emoji_name: &str,
    ) -> Value {
        let state = self.state();
        let author = state
            .messages
            .get(&message_id.parse::<u64>().expect("a snowflake"))
            .map(|m| m.author.clone());
        let mut data = json!({
            "user_id": user_id,
            "type": 0,
            "message_id": message_id,
            "member": state.member_json(user_id, true),
            "emoji": {"id": null, "name": emoji_name},
            "channel_id": channel_id,
            "burst": false,
            "burst_colors": [],
            "guild_id": GUILD_ID,
        });
        if let Some(author) = author {
            data["message_author_id"] = json!(author);
        }
        data
    }

    pub fn reaction_remove(
        &self,
        channel_id: &str,
        message_id: &str,
        user_id: &str,
        emoji_name: &str,
    ) -> Value {
        json!({
            "user_id": user_id,
            "type": 0,
            "message_id": message_id,
            "emoji": {"id": null, "name": emoji_name},
            "channel_id": channel_id,
            "burst": false,
            "guild_id": GUILD_ID,
        })
    }

    /// CHANNEL_PINS_UPDATE data, with the time of the latest pin still in place.
    pub fn channel_pins_update(&self, channel_id: &str) -> Value {
        let state = self.state();
        let pinned = state
            .messages
            .values()
            .filter(|m| m.channel == channel_id && m.pinned.is_some())
            .count();
        let last = if pinned > 0 {
            json!(iso(Utc::now()))
        } else {
            Value::Null
        };
        json!({"guild_id": GUILD_ID, "channel_id": channel_id, "last_pin_timestamp": last})
    }

    /// THREAD_CREATE data for a thread added with [`FakeDiscord::add_thread`].
    pub fn thread_create(&self, thread_id: &str) -> Value {
        let state = self.state();
        let info = state.channels.get(thread_id).expect("a known thread");
        let mut data = state.channel_json(info);
        data["newly_created"] = json!(true);
        data
    }

    /// An APPLICATION_COMMAND interaction (type 2) by `user_id` in `channel_id`, for
    /// INTERACTION_CREATE; returns its id and token too.
    pub fn interaction(
        &self,
        channel_id: &str,
        user_id: &str,
        command_name: &str,
        options: Value,
    ) -> (String, String, Value) {
        let mut state = self.state();
        let id = state.next_id().to_string();
        let token = format!("aW50ZXJhY3Rpb246{id}OmZha2UtdG9rZW4");
        let command_id = state
            .command_ids
            .get(command_name)
            .cloned()
            .unwrap_or_else(|| "1175940000000000000".to_owned());
        let mut resolved_users = serde_json::Map::new();
        let mut resolved_members = serde_json::Map::new();
        collect_users(&options, &mut |user| {
            resolved_users.insert(user.to_owned(), state.user_json(user));
            let mut member = state.member_json(user, false);
            member["permissions"] = json!("0");
            resolved_members.insert(user.to_owned(), member);
        });
        let mut data = json!({
            "id": command_id,
            "name": command_name,
            "type": 1,
            "options": options,
            "guild_id": GUILD_ID,
        });
        if !resolved_users.is_empty() {
            data["resolved"] = json!({"users": resolved_users, "members": resolved_members});
        }
        let channel = state
            .channels
            .get(channel_id)
            .cloned()
            .unwrap_or(ChannelInfo {
                id: channel_id.to_owned(),
                name: "unknown".to_owned(),
                parent: None,
                kind: 0,
            });
        let mut channel_json = state.channel_json(&channel);
        channel_json["permissions"] = json!("2248473465835073");
        let mut member = state.member_json(user_id, true);
        member["permissions"] = json!("2248473465835073");
        let payload = json!({
            "id": id,
            "application_id": APPLICATION_ID,
            "type": 2,
            "data": data,
            "guild": {"id": GUILD_ID, "locale": "en-US", "features": []},
            "guild_id": GUILD_ID,
            "channel": channel_json,
            "channel_id": channel_id,
            "member": member,
            "token": token,
            "version": 1,
            "app_permissions": "2248473465835073",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD_ID},
            "context": 0,
            "attachment_size_limit": 10_485_760,
        });
        state.interactions.insert(
            id.clone(),
            InteractionInfo {
                token: token.clone(),
                channel: channel_id.to_owned(),
                user: user_id.to_owned(),
                name: command_name.to_owned(),
                created: Instant::now(),
                response: None,
                original: None,
            },
        );
        (id, token, payload)
    }

    // ---- conveniences: change the state and dispatch what Discord would ----------------

    /// A message posted now: added to the history and dispatched; returns its id.
    pub fn post(&self, channel_id: &str, author_id: &str, content: &str) -> String {
        let id = self.next_id();
        self.add_history(channel_id, &id, author_id, content);
        let data = self.message_create(channel_id, &id, author_id, content);
        self.dispatch("MESSAGE_CREATE", data);
        id
    }

    /// Edits a stored message and dispatches MESSAGE_UPDATE.
    pub fn edit(&self, channel_id: &str, message_id: &str, content: &str) {
        let author = {
            let mut state = self.state();
            let stored = state.message_mut(channel_id, message_id);
            stored.content = content.to_owned();
            stored.edited = Some(iso(Utc::now()));
            stored.author.clone()
        };
        let data = self.message_update(channel_id, message_id, &author, content);
        self.dispatch("MESSAGE_UPDATE", data);
    }

    /// Deletes a stored message and dispatches MESSAGE_DELETE.
    pub fn delete(&self, channel_id: &str, message_id: &str) {
        self.state()
            .messages
            .remove(&message_id.parse::<u64>().expect("a snowflake"));
        self.dispatch(
            "MESSAGE_DELETE",
            self.message_delete(channel_id, message_id),
        );
    }

    /// Reacts and dispatches MESSAGE_REACTION_ADD.
    pub fn react(&self, channel_id: &str, message_id: &str, user_id: &str, emoji: &str) {
        self.add_reaction(channel_id, message_id, user_id, emoji);
        let data = self.reaction_add(channel_id, message_id, user_id, emoji);
        self.dispatch("MESSAGE_REACTION_ADD", data);
    }

    /// Takes a reaction back and dispatches MESSAGE_REACTION_REMOVE.
    pub fn unreact(&self, channel_id: &str, message_id: &str, user_id: &str, emoji: &str) {
        self.remove_reaction(channel_id, message_id, user_id, emoji);
        let data = self.reaction_remove(channel_id, message_id, user_id, emoji);
        self.dispatch("MESSAGE_REACTION_REMOVE", data);
    }

    /// Pins and dispatches CHANNEL_PINS_UPDATE (which, as on Discord, does not say which).
    pub fn pin_and_announce(&self, channel_id: &str, message_id: &str) {
        self.pin(channel_id, message_id);
        self.dispatch("CHANNEL_PINS_UPDATE", self.channel_pins_update(channel_id));
    }

    pub fn unpin_and_announce(&self, channel_id: &str, message_id: &str) {
        self.unpin(channel_id, message_id);
        self.dispatch("CHANNEL_PINS_UPDATE", self.channel_pins_update(channel_id));
    }

    /// Dispatches a slash command; returns the interaction's id.
    pub fn command(&self, channel_id: &str, user_id: &str, name: &str, options: Value) -> String {
        let (id, _, payload) = self.interaction(channel_id, user_id, name, options);
        self.dispatch("INTERACTION_CREATE", payload);
        id
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // Connections end with their senders.
        if let Ok(mut state) = self.shared.state.lock() {
            state.gateway.current = None;
            state.gateway.held.clear();
        }
    }
}

/// `{"name": "start", "type": 1, "options": [...]}`: a subcommand option.
pub fn subcommand(name: &str, options: Value) -> Value {
    json!({"name": name, "type": 1, "options": options})
}

/// A string option (type 3).
pub fn string_option(name: &str, value: &str) -> Value {
    json!({"name": name, "type": 3, "value": value})
}

/// A user option (type 6); the interaction resolves the user.
pub fn user_option(name: &str, user_id: &str) -> Value {
    json!({"name": name, "type": 6, "value": user_id})
}

fn collect_users(options: &Value, found: &mut impl FnMut(&str)) {
    if let Some(options) = options.as_array() {
        for option in options {
            if option["type"] == 6
                && let Some(user) = option["value"].as_str()
            {
                found(user);
            }
            collect_users(&option["options"], found);
        }
    }
}

impl Stored {
    fn new(
        id: u64,
        channel: &str,
        author: &str,
        content: &str,
        kind: u8,
        attachments: Vec<Value>,
    ) -> Stored {
        Stored {
            id,
            channel: channel.to_owned(),
            author: author.to_owned(),
            content: content.to_owned(),
            edited: None,
            pinned: None,
            kind,
            attachments,
            reactions: Vec::new(),
            webhook_id: None,
            interaction: None,
            mention_everyone: false,
        }
    }
}

impl FakeState {
    fn next_id(&mut self) -> u64 {
        let now: u64 = snowflake_at(Utc::now(), 0).parse().unwrap();
        self.last_id = (self.last_id + 1).max(now);
        self.last_id
    }

    fn message_mut(&mut self, channel_id: &str, message_id: &str) -> &mut Stored {
        let id: u64 = message_id.parse().expect("a snowflake");
        self.messages
            .get_mut(&id)
            .filter(|m| m.channel == channel_id)
            .unwrap_or_else(|| panic!("no message {message_id} in channel {channel_id}"))
    }

    fn user_json(&self, user_id: &str) -> Value {
        let info = self.members.get(user_id);
        let mut user = json!({
            "id": user_id,
            "username": info.map_or_else(|| format!("user{user_id}"), |m| m.username.clone()),
            "discriminator": "0",
            "global_name": info.and_then(|m| m.global_name.clone()),
            "avatar": null,
            "public_flags": 0,
            "flags": 0,
            "banner": null,
            "accent_color": null,
            "avatar_decoration_data": null,
            "collectibles": null,
            "primary_guild": null,
        });
        if user_id == APPLICATION_ID {
            user["bot"] = json!(true);
        }
        user
    }

    /// A guild member object; `with_user` is false for the partial member a MESSAGE_CREATE or
    /// a resolved option carries.
    fn member_json(&self, user_id: &str, with_user: bool) -> Value {
        let info = self.members.get(user_id);
        let mut member = json!({
            "nick": info.and_then(|m| m.nick.clone()),
            "avatar": null,
            "banner": null,
            "roles": [],
            "joined_at": info.map_or("2024-02-01T08:00:00.000000+00:00".to_owned(), |m| m.joined_at.clone()),
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "communication_disabled_until": null,
        });
        if with_user {
            member["user"] = self.user_json(user_id);
        }
        member
    }

    fn channel_json(&self, info: &ChannelInfo) -> Value {
        let last = self
            .messages
            .values()
            .rev()
            .find(|m| m.channel == info.id)
            .map(|m| m.id.to_string());
        if info.kind == 11 {
            let count = self
                .messages
                .values()
                .filter(|m| m.channel == info.id)
                .count();
            let created = iso_of(info.id.parse().unwrap_or(0));
            json!({
                "id": info.id,
                "type": 11,
                "guild_id": GUILD_ID,
                "parent_id": info.parent,
                "owner_id": self.members.keys().find(|k| *k != APPLICATION_ID).cloned().unwrap_or_else(|| APPLICATION_ID.to_owned()),
                "name": info.name,
                "last_message_id": last,
                "rate_limit_per_user": 0,
                "flags": 0,
                "message_count": count,
                "member_count": 2,
                "total_message_sent": count,
                "thread_metadata": {
                    "archived": false,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": created,
                    "locked": false,
                    "create_timestamp": created,
                },
            })
        } else {
            json!({
                "id": info.id,
                "type": 0,
                "guild_id": GUILD_ID,
                "name": info.name,
                "position": 0,
                "permission_overwrites": [],
                "parent_id": null,
                "nsfw": false,
                "topic": null,
                "last_message_id": last,
                "rate_limit_per_user": 0,
                "flags": 0,
                "icon_emoji": null,
                "theme_color": null,
            })
        }
    }

    /// A message object as the REST API returns it.
    fn message_json(&self, m: &Stored) -> Value {
        let mut message = json!({
            "type": m.kind,
            "channel_id": m.channel,
            "content": m.content,
            "attachments": m.attachments,
            "embeds": [],
            "timestamp": iso_of(m.id),
            "edited_timestamp": m.edited,
            "flags": 0,
            "components": [],
            "id": m.id.to_string(),
            "author": self.user_json(&m.author),
            "mentions": [],
            "mention_roles": [],
            "pinned": m.pinned.is_some(),
            "mention_everyone": m.mention_everyone,
            "tts": false,
        });
        if !m.reactions.is_empty() {
            message["reactions"] = m
                .reactions
                .iter()
                .map(|(emoji, users)| {
                    json!({
                        "emoji": {"id": null, "name": emoji},
                        "count": users.len(),
                        "count_details": {"burst": 0, "normal": users.len()},
                        "burst_colors": [],
                        "me_burst": false,
                        "burst_me": false,
                        "me": users.iter().any(|u| u == APPLICATION_ID),
                        "burst_count": 0,
                    })
                })
                .collect();
        }
        if let Some(webhook) = &m.webhook_id {
            message["webhook_id"] = json!(webhook);
            message["application_id"] = json!(APPLICATION_ID);
        }
        if let Some(interaction) = &m.interaction {
            message["interaction_metadata"] = interaction.clone();
        }
        if let Some(position) = self.thread_position(m) {
            message["position"] = json!(position);
        }
        message
    }

    fn thread_position(&self, m: &Stored) -> Option<usize> {
        let info = self.channels.get(&m.channel)?;
        (info.kind == 11).then(|| {
            self.messages
                .values()
                .filter(|o| o.channel == m.channel && o.id < m.id)
                .count()
        })
    }

    /// A message as MESSAGE_CREATE / MESSAGE_UPDATE carry it: with `guild_id` and `member`.
    fn gateway_message(&self, m: &Stored) -> Value {
        let mut message = self.message_json(m);
        message["guild_id"] = json!(GUILD_ID);
        message["member"] = self.member_json(&m.author, false);
        message.as_object_mut().unwrap().remove("reactions");
        message
    }

    fn guild_json(&self) -> Value {
        let members: Vec<Value> = self
            .members
            .keys()
            .map(|id| self.member_json(id, true))
            .collect();
        let channels: Vec<Value> = self
            .channels
            .values()
            .filter(|c| c.kind != 11)
            .map(|c| self.channel_json(c))
            .collect();
        let threads: Vec<Value> = self
            .channels
            .values()
            .filter(|c| c.kind == 11)
            .map(|c| self.channel_json(c))
            .collect();
        let owner = self
            .members
            .keys()
            .find(|k| *k != APPLICATION_ID)
            .cloned()
            .unwrap_or_else(|| "1175931000000000001".to_owned());
        let mut guild = json!({
            "id": GUILD_ID,
            "name": "Acme Ops",
            "icon": null,
            "icon_hash": null,
            "splash": null,
            "discovery_splash": null,
            "owner_id": owner,
            "afk_channel_id": null,
            "afk_timeout": 300,
            "widget_enabled": false,
            "widget_channel_id": null,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": [{
                "id": GUILD_ID,
                "name": "@everyone",
                "description": null,
                "color": 0,
                "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
                "hoist": false,
                "icon": null,
                "unicode_emoji": null,
                "position": 0,
                "permissions": "2248473465835073",
                "managed": false,
                "mentionable": false,
                "flags": 0,
            }],
            "emojis": [],
            "features": [],
            "mfa_level": 0,
            "application_id": null,
            "system_channel_id": null,
            "system_channel_flags": 0,
            "rules_channel_id": null,
            "max_presences": null,
            "max_members": 500000,
            "vanity_url_code": null,
            "description": null,
            "banner": null,
        });
        let more = json!({
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": null,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "stickers": [],
            "premium_progress_bar_enabled": false,
            "safety_alerts_channel_id": null,
            "incidents_data": null,
            "joined_at": "2023-11-20T09:12:44.512000+00:00",
            "large": false,
            "unavailable": false,
            "member_count": members.len(),
            "voice_states": [],
            "members": members,
            "channels": channels,
            "threads": threads,
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "lazy": true,
        });
        guild
            .as_object_mut()
            .unwrap()
            .extend(more.as_object().unwrap().clone());
        guild
    }

    fn application_json(&self) -> Value {
        json!({
            "id": APPLICATION_ID,
            "name": BOT_USERNAME,
            "icon": null,
            "description": "Keeps the incident timeline.",
            "summary": "",
            "type": null,
            "bot_public": false,
            "bot_require_code_grant": false,
            "verify_key": "1e0a356058d627ca38a5c8c9648818061d49e49bd9da9e3ab17d98ad4d6bg2u8",
            "flags": 565_248,
            "owner": self.user_json("1175931000000000001"),
            "team": null,
            "guild_id": GUILD_ID,
            "bot": self.user_json(APPLICATION_ID),
            "interactions_endpoint_url": null,
            "role_connections_verification_url": null,
            "redirect_uris": [],
            "tags": [],
            "integration_types_config": {"0": {}},
            "approximate_guild_count": 1,
        })
    }

    // ---- gateway -----------------------------------------------------------------------

    fn dispatch(&mut self, t: &str, mut data: Value) {
        let Some(session) = self.gateway.session.as_mut() else {
            return;
        };
        if let Some(needed) = intent_for(t)
            && session.intents & needed == 0
        {
            return;
        }
        if matches!(t, "MESSAGE_CREATE" | "MESSAGE_UPDATE")
            && session.intents & INTENT_MESSAGE_CONTENT == 0
            && !data["content"]
                .as_str()
                .unwrap_or_default()
                .contains(&format!("<@{APPLICATION_ID}>"))
        {
            data["content"] = json!("");
            data["embeds"] = json!([]);
            data["attachments"] = json!([]);
            data["components"] = json!([]);
        }
        session.seq += 1;
        let frame = json!({"op": 0, "s": session.seq, "t": t, "d": data});
        session.log.push((session.seq, frame.clone()));
        if let Some((_, tx)) = &self.gateway.current {
            tx.send(Outgoing::Frame(frame)).ok();
        }
    }

    /// IDENTIFY (op 2) or RESUME (op 6) from connection `conn`.
    fn session_op(&mut self, conn: usize, tx: mpsc::UnboundedSender<Outgoing>, frame: &Value) {
        if self.gateway.hold {
            self.gateway.held.push((conn, tx, frame.clone()));
            return;
        }
        let d = &frame["d"];
        let token = d["token"].as_str().unwrap_or_default();
        if token.strip_prefix("Bot ").unwrap_or(token) != BOT_TOKEN {
            tx.send(Outgoing::Close(4004)).ok();
            return;
        }
        match frame["op"].as_u64() {
            Some(2) => {
                self.gateway.identifies.push(d.clone());
                self.gateway.sessions += 1;
                let session_id = format!("f4k3d15c0rd5e55{:04}", self.gateway.sessions);
                let intents = d["intents"].as_u64().unwrap_or(0);
                self.gateway.session = Some(Session {
                    id: session_id.clone(),
                    seq: 0,
                    intents,
                    log: Vec::new(),
                });
                self.gateway.current = Some((conn, tx));
                let ready = self.ready_json(&session_id, &d["shard"]);
                self.dispatch("READY", ready);
                let guild = self.guild_json();
                self.dispatch("GUILD_CREATE", guild);
            }
            Some(6) => {
                let seq = d["seq"].as_u64().unwrap_or(0);
                let resumable = !std::mem::take(&mut self.gateway.invalidate_next_resume)
                    && self
                        .gateway
                        .session
                        .as_ref()
                        .is_some_and(|s| Some(s.id.as_str()) == d["session_id"].as_str());
                if !resumable {
                    self.gateway.invalid_sessions += 1;
                    self.gateway.session = None;
                    tx.send(Outgoing::Frame(
                        json!({"op": 9, "d": false, "s": null, "t": null}),
                    ))
                    .ok();
                    return;
                }
                self.gateway.resumes += 1;
                let session = self.gateway.session.as_ref().unwrap();
                let missed: Vec<Value> = session
                    .log
                    .iter()
                    .filter(|(s, _)| *s > seq)
                    .map(|(_, f)| f.clone())
                    .collect();
                self.gateway.replayed += missed.len();
                for frame in missed {
                    tx.send(Outgoing::Frame(frame)).ok();
                }
                self.gateway.current = Some((conn, tx));
                self.dispatch("RESUMED", json!({"_trace": ["[\"gateway-prd-fake-1\"]"]}));
            }
            _ => {}
        }
    }

    fn ready_json(&self, session_id: &str, shard: &Value) -> Value {
        let mut user = self.user_json(APPLICATION_ID);
        user["verified"] = json!(true);
        user["mfa_enabled"] = json!(false);
        user["email"] = Value::Null;
        let shard = if shard.is_array() {
            shard.clone()
        } else {
            json!([0, 1])
        };
        json!({
            "v": 10,
            "user_settings": {},
            "user": user,
            "session_type": "normal",
            "session_id": session_id,
            "resume_gateway_url": format!("ws://{}{GATEWAY_PATH}", self.gateway_addr()),
            "relationships": [],
            "private_channels": [],
            "presences": [],
            "guilds": [{"id": GUILD_ID, "unavailable": true}],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["us-east", "us-central"],
            "auth": {},
            "application": {"id": APPLICATION_ID, "flags": 565_248},
            "shard": shard,
            "_trace": ["[\"gateway-prd-fake-1\"]"],
        })
    }

    fn gateway_addr(&self) -> String {
        self.addr.clone()
    }
}

fn intent_for(t: &str) -> Option<u64> {
    match t {
        "GUILD_CREATE"
        | "GUILD_UPDATE"
        | "GUILD_DELETE"
        | "CHANNEL_CREATE"
        | "CHANNEL_UPDATE"
        | "CHANNEL_DELETE"
        | "CHANNEL_PINS_UPDATE"
        | "THREAD_CREATE"
        | "THREAD_UPDATE"
        | "THREAD_DELETE"
        | "THREAD_LIST_SYNC"
        | "THREAD_MEMBER_UPDATE" => Some(INTENT_GUILDS),
        "MESSAGE_CREATE" | "MESSAGE_UPDATE" | "MESSAGE_DELETE" | "MESSAGE_DELETE_BULK" => {
            Some(INTENT_GUILD_MESSAGES)
        }
        "MESSAGE_REACTION_ADD"
        | "MESSAGE_REACTION_REMOVE"
        | "MESSAGE_REACTION_REMOVE_ALL"
        | "MESSAGE_REACTION_REMOVE_EMOJI" => Some(INTENT_GUILD_MESSAGE_REACTIONS),
        _ => None,
    }
}

// ---- the network side --------------------------------------------------------------------

/// Connections the accept loop hands to axum (everything but the gateway).
struct HandedOver {
    rx: mpsc::UnboundedReceiver<(TcpStream, SocketAddr)>,
    addr: SocketAddr,
}

impl axum::serve::Listener for HandedOver {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        match self.rx.recv().await {
            Some(connection) => connection,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

/// One port for both: a connection whose first request is `GET /gateway-ws…` is the gateway,
/// any other goes to the REST router.
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    http: mpsc::UnboundedSender<(TcpStream, SocketAddr)>,
) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        let http = http.clone();
        tokio::spawn(async move {
            let wanted = format!("GET {GATEWAY_PATH}");
            let mut head = vec![0u8; wanted.len()];
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match stream.peek(&mut head).await {
                    Ok(n) if n >= head.len() => break,
                    Ok(0) | Err(_) => return,
                    Ok(_) if Instant::now() >= deadline => break,
                    Ok(_) => tokio::time::sleep(Duration::from_millis(2)).await,
                }
            }
            if head == wanted.as_bytes() {
                serve_gateway(stream, shared).await;
            } else {
                http.send((stream, peer)).ok();
            }
        });
    }
}

async fn serve_gateway(stream: TcpStream, shared: Arc<Shared>) {
    let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn = {
        let mut state = shared.state.lock().expect("fake Discord state");
        state.gateway.connections += 1;
        state.gateway.connections
    };
    let hello = json!({
        "op": 10,
        "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS, "_trace": ["[\"gateway-prd-fake-1\"]"]},
        "s": null,
        "t": null,
    });
    if socket
        .send(WsMessage::Text(hello.to_string()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            Some(out) = rx.recv() => match out {
                Outgoing::Frame(frame) => {
                    if socket.send(WsMessage::Text(frame.to_string())).await.is_err() {
                        break;
                    }
                }
                Outgoing::Drop => break,
                Outgoing::Close(code) => {
                    let close = CloseFrame { code: CloseCode::from(code), reason: "".into() };
                    let _ = socket.send(WsMessage::Close(Some(close))).await;
                    break;
                }
            },
            frame = socket.next() => match frame {
                Some(Ok(WsMessage::Text(text))) => {
                    let Ok(frame) = serde_json::from_str::<Value>(&text) else { continue };
                    let mut state = shared.state.lock().expect("fake Discord state");
                    match frame["op"].as_u64() {
                        Some(1) => {
                            state.gateway.heartbeats += 1;
                            tx.send(Outgoing::Frame(json!({"op": 11, "d": null, "s": null, "t": null}))).ok();
                        }
                        Some(2 | 6) => state.session_op(conn, tx.clone(), &frame),
                        _ => {}
                    }
                }
                Some(Ok(WsMessage::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let mut state = shared.state.lock().expect("fake Discord state");
    if state
        .gateway
        .current
        .as_ref()
        .is_some_and(|(n, _)| *n == conn)
    {
        state.gateway.current = None;
    }
    state.gateway.held.retain(|(n, _, _)| *n != conn);
}

/// What a route answers: status, JSON body (none for 204) and extra headers.
struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn json(body: Value) -> Reply {
        Reply {
            status: 200,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            headers: Vec::new(),
        }
    }

    /// Discord's JSON error: `{"message": …, "code": …}`.
    fn error(status: u16, code: u64, message: &str) -> Reply {
        Reply {
            status,
            body: Some(json!({"message": message, "code": code})),
            headers: Vec::new(),
        }
    }

    fn invalid_form(field: &str, code: &str, message: &str) -> Reply {
        let mut errors = json!({});
        let mut at = &mut errors;
        for key in field.split('.') {
            at[key] = json!({});
            at = &mut at[key];
        }
        *at = json!({"_errors": [{"code": code, "message": message}]});
        Reply {
            status: 400,
            body: Some(json!({"message": "Invalid Form Body", "code": 50035, "errors": errors})),
            headers: Vec::new(),
        }
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).expect("a status code");
        let mut response = match self.body {
            Some(body) => (status, axum::Json(body)).into_response(),
            None => status.into_response(),
        };
        for (name, value) in self.headers {
            response
                .headers_mut()
                .insert(name, HeaderValue::from_str(&value).expect("a header value"));
        }
        response
    }
}

async fn rest(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (json_body, parts) = parse_body(&headers, &body);
    let mut call = Call {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        json: json_body,
        parts,
        status: 0,
        at: Instant::now(),
    };
    let mut state = shared.state.lock().expect("fake Discord state");
    let reply = state.answer(&call);
    call.status = reply.status;
    state.calls.push(call);
    reply.into_response()
}

impl FakeState {
    fn answer(&mut self, call: &Call) -> Reply {
        let Some(rest) = call.path.strip_prefix("/api/v10/") else {
            return Reply::error(404, 0, "404: Not Found");
        };
        let segments: Vec<String> = rest
            .split('/')
            .map(|s| {
                url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            })
            .collect();
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let needs_bot = !matches!(segs.first(), Some(&"interactions" | &"webhooks"));
        if needs_bot && call.header("authorization") != Some(&format!("Bot {BOT_TOKEN}")) {
            return Reply::error(401, 0, "401: Unauthorized");
        }
        // A bucket stays limited until its reset: calling again early gets another 429.
        self.limited.retain(|(_, _, until)| *until > Instant::now());
        if let Some((_, _, until)) = self
            .limited
            .iter()
            .find(|(m, p, _)| *m == call.method && call.path.contains(p.as_str()))
        {
            return rate_limited(until.duration_since(Instant::now()).as_secs_f64());
        }
        if let Some(at) = self
            .rigs
            .iter()
            .position(|r| r.method == call.method && call.path.contains(&r.path_contains))
        {
            let rig = self.rigs.remove(at);
            return match rig.kind {
                RigKind::RateLimit(secs) => {
                    self.limited.push((
                        rig.method.clone(),
                        rig.path_contains.clone(),
                        Instant::now() + Duration::from_secs_f64(secs),
                    ));
                    rate_limited(secs)
                }
                RigKind::LoseAnswer(status) => {
                    let _ = self.answer(call);
                    Reply::error(status, 0, &format!("{status}: Internal Server Error"))
                }
                RigKind::Status(status) => match status {
                    403 => Reply::error(403, 50013, "Missing Permissions"),
                    404 => Reply::error(404, 0, "404: Not Found"),
                    s if s >= 500 => Reply::error(s, 0, &format!("{s}: Internal Server Error")),
                    s => Reply::error(s, 0, &format!("{s}: Error")),
                },
            };
        }
        let json = call.json.clone().unwrap_or(Value::Null);
        let base = format!("ws://{}{GATEWAY_PATH}", self.addr);
        match (call.method.as_str(), segs.as_slice()) {
            ("GET", ["gateway"]) => Reply::json(json!({"url": base})),
            ("GET", ["gateway", "bot"]) => Reply::json(json!({
                "url": base,
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1},
            })),
            ("GET", ["users", "@me"]) => {
                let mut user = self.user_json(APPLICATION_ID);
                user["verified"] = json!(true);
                user["mfa_enabled"] = json!(false);
                user["email"] = Value::Null;
                Reply::json(user)
            }
            ("GET", ["users", id]) => match self.members.contains_key(*id) {
                true => Reply::json(self.user_json(id)),
                false => Reply::error(404, 10013, "Unknown User"),
            },
            ("GET", ["oauth2", "applications", "@me"] | ["applications", "@me"]) => {
                Reply::json(self.application_json())
            }
            (_, ["applications", app, ..]) if *app != APPLICATION_ID => {
                Reply::error(403, 50001, "Missing Access")
            }
            ("PUT", ["applications", _, "guilds", guild, "commands"]) => {
                if *guild != GUILD_ID {
                    return Reply::error(403, 50001, "Missing Access");
                }
                self.set_commands(&json, Some(guild))
            }
            ("PUT", ["applications", _, "commands"]) => self.set_commands(&json, None),
            ("GET", ["applications", _, "guilds", _, "commands"]) => {
                Reply::json(json!(self.guild_commands))
            }
            ("GET", ["applications", _, "commands"]) => Reply::json(json!(self.global_commands)),
            ("POST", ["applications", _, "guilds", _, "commands"]) => {
                let mut all = self.guild_commands.clone();
                all.retain(|c| c["name"] != json["name"]);
                all.push(json.clone());
                match self.set_commands(&json!(all), Some(GUILD_ID)) {
                    r if r.status == 200 => Reply::json(
                        self.guild_commands
                            .iter()
                            .find(|c| c["name"] == json["name"])
                            .cloned()
                            .unwrap_or_default(),
                    ),
                    r => r,
                }
            }
            ("POST", ["interactions", id, token, "callback"]) => {
                self.interaction_callback(id, token, &json, &call.parts)
            }
            ("POST", ["webhooks", app, token]) if *app == APPLICATION_ID => {
                self.followup(token, &json, &call.parts)
            }
            (method, ["webhooks", app, token, "messages", message]) if *app == APPLICATION_ID => {
                self.webhook_message(method, token, message, &json)
            }
            ("GET", ["channels", id]) => match self.channels.get(*id) {
                Some(info) => Reply::json(self.channel_json(info)),
                None => unknown_channel(),
            },
            ("GET", ["channels", id, "messages"]) => self.list_messages(id, call),
            ("POST", ["channels", id, "messages"]) => self.create_message(id, &json, &call.parts),
            ("GET", ["channels", id, "pins"]) => {
                if !self.channels.contains_key(*id) {
                    return unknown_channel();
                }
                Reply::json(json!(
                    self.pinned(id)
                        .iter()
                        .map(|m| self.message_json(m))
                        .collect::<Vec<_>>()
                ))
            }
            ("GET", ["channels", id, "messages", "pins"]) => {
                if !self.channels.contains_key(*id) {
                    return unknown_channel();
                }
                let items: Vec<Value> = self
                    .pinned(id)
                    .iter()
                    .map(|m| json!({"pinned_at": iso(Utc::now()), "message": self.message_json(m)}))
                    .collect();
                Reply::json(json!({"items": items, "has_more": false}))
            }
            ("GET", ["channels", channel, "messages", id]) => match self.find(channel, id) {
                Some(m) => Reply::json(self.message_json(m)),
                None => unknown_message(),
            },
            ("GET", ["channels", channel, "messages", id, "reactions", emoji]) => {
                match self.find(channel, id) {
                    Some(m) => {
                        let users: Vec<Value> = m
                            .reactions
                            .iter()
                            .filter(|(e, _)| e == emoji)
                            .flat_map(|(_, users)| users.iter().map(|u| self.user_json(u)))
                            .collect();
                        Reply::json(json!(users))
                    }
                    None => unknown_message(),
                }
            }
            ("GET", ["guilds", guild]) if *guild == GUILD_ID => {
                let mut guild = self.guild_json();
                for key in [
                    "joined_at",
                    "large",
                    "unavailable",
                    "member_count",
                    "voice_states",
                    "members",
                    "channels",
                    "threads",
                    "presences",
                    "stage_instances",
                    "guild_scheduled_events",
                    "soundboard_sounds",
                    "lazy",
                ] {
                    guild.as_object_mut().unwrap().remove(key);
                }
                Reply::json(guild)
            }
            ("GET", ["guilds", guild, "channels"]) if *guild == GUILD_ID => Reply::json(json!(
                self.channels
                    .values()
                    .filter(|c| c.kind != 11)
                    .map(|c| self.channel_json(c))
                    .collect::<Vec<_>>()
            )),
            ("GET", ["guilds", guild, "threads", "active"]) if *guild == GUILD_ID => {
                Reply::json(json!({
                    "threads": self.channels.values().filter(|c| c.kind == 11).map(|c| self.channel_json(c)).collect::<Vec<_>>(),
                    "members": [],
                }))
            }
            ("GET", ["guilds", guild, "members", user]) if *guild == GUILD_ID => {
                match self.members.contains_key(*user) {
                    true => Reply::json(self.member_json(user, true)),
                    false => Reply::error(404, 10007, "Unknown Member"),
                }
            }
            ("GET", ["guilds", ..]) => Reply::error(403, 50001, "Missing Access"),
            _ => Reply::error(404, 0, "404: Not Found"),
        }
    }

    fn find(&self, channel: &str, id: &str) -> Option<&Stored> {
        let id: u64 = id.parse().ok()?;
        self.messages.get(&id).filter(|m| m.channel == channel)
    }

    /// Pinned messages of a channel, the latest pin first.
    fn pinned(&self, channel: &str) -> Vec<&Stored> {
        let mut pinned: Vec<&Stored> = self
            .messages
            .values()
            .filter(|m| m.channel == channel && m.pinned.is_some())
            .collect();
        pinned.sort_by_key(|m| std::cmp::Reverse(m.pinned));
        pinned
    }

    /// `GET /channels/{id}/messages`: `limit` 1..=100 (default 50); with `after` the oldest
    /// `limit` messages after it, with `before` the newest before it; always newest first.
    fn list_messages(&self, channel: &str, call: &Call) -> Reply {
        if !self.channels.contains_key(channel) {
            return unknown_channel();
        }
        let limit = match call.query_param("limit").map(|l| l.parse::<usize>()) {
            None => 50,
            Some(Ok(l)) if (1..=100).contains(&l) => l,
            Some(_) => {
                return Reply::invalid_form(
                    "limit",
                    "NUMBER_TYPE_MAX",
                    "int value should be less than or equal to 100.",
                );
            }
        };
        let id_param = |key: &str| -> Result<Option<u64>, Reply> {
            match call.query_param(key) {
                None => Ok(None),
                Some(v) => v.parse().map(Some).map_err(|_| {
                    Reply::invalid_form(key, "NUMBER_TYPE_COERCE", "Value is not snowflake.")
                }),
            }
        };
        let (after, before, around) =
            match (id_param("after"), id_param("before"), id_param("around")) {
                (Ok(a), Ok(b), Ok(c)) => (a, b, c),
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
            };
        let all: Vec<&Stored> = self
            .messages
            .values()
            .filter(|m| m.channel == channel)
            .collect();
        let mut page: Vec<&Stored> = if let Some(around) = around {
            let older: Vec<&Stored> = all.iter().copied().filter(|m| m.id < around).collect();
            let newer: Vec<&Stored> = all.iter().copied().filter(|m| m.id >= around).collect();
            let half = limit / 2;
            let mut page: Vec<&Stored> = older[older.len().saturating_sub(half)..].to_vec();
            page.extend(newer.into_iter().take(limit - page.len()));
            page
        } else if let Some(after) = after {
            all.into_iter()
                .filter(|m| m.id > after)
                .take(limit)
                .collect()
        } else {
            let older: Vec<&Stored> = all
                .into_iter()
                .filter(|m| before.is_none_or(|b| m.id < b))
                .collect();
            older[older.len().saturating_sub(limit)..].to_vec()
        };
        page.reverse();
        Reply::json(json!(
            page.iter()
                .map(|m| self.message_json(m))
                .collect::<Vec<_>>()
        ))
    }

    fn create_message(&mut self, channel: &str, body: &Value, parts: &[Part]) -> Reply {
        if !self.channels.contains_key(channel) {
            return unknown_channel();
        }
        let content = body["content"].as_str().unwrap_or_default().to_owned();
        if content.chars().count() > 2000 {
            return Reply::invalid_form(
                "content",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 2000 or fewer in length.",
            );
        }
        let files = files_of(parts);
        let has_embeds = body["embeds"].as_array().is_some_and(|e| !e.is_empty());
        if content.is_empty() && files.is_empty() && !has_embeds {
            return Reply::error(400, 50006, "Cannot send an empty message");
        }
        // With `enforce_nonce`, a nonce the bot used in this channel returns that message.
        let nonce = match &body["nonce"] {
            Value::String(n) => Some(n.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let nonce_key = nonce
            .filter(|_| body["enforce_nonce"] == json!(true))
            .map(|n| (channel.to_owned(), n));
        if let Some(existing) = nonce_key.as_ref().and_then(|key| self.nonces.get(key))
            && let Some(stored) = self.messages.get(existing)
        {
            return Reply::json(self.message_json(stored));
        }
        let id = self.next_id();
        if let Some(key) = nonce_key {
            self.nonces.insert(key, id);
        }
        let mut stored = Stored::new(
            id,
            channel,
            APPLICATION_ID,
            &content,
            0,
            self.attachments(channel, &files),
        );
        stored.mention_everyone = pings_everyone(&content, &body["allowed_mentions"]);
        self.messages.insert(id, stored);
        let message = self.message_json(&self.messages[&id]);
        self.posted.push((
            channel.to_owned(),
            Posted {
                body: body.clone(),
                files,
                message: message.clone(),
            },
        ));
        Reply::json(message)
    }

    fn attachments(&mut self, channel: &str, files: &[(String, Vec<u8>)]) -> Vec<Value> {
        files
            .iter()
            .map(|(name, data)| {
                let id = self.next_id();
                let url = format!("https://cdn.discordapp.com/attachments/{channel}/{id}/{name}");
                json!({
                    "id": id.to_string(),
                    "filename": name,
                    "size": data.len(),
                    "url": url,
                    "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
                    "content_type": "text/markdown; charset=utf-8",
                })
            })
            .collect()
    }

    fn set_commands(&mut self, body: &Value, guild: Option<&str>) -> Reply {
        let Some(commands) = body.as_array() else {
            return Reply::invalid_form("_root", "ARRAY_TYPE_CONVERT", "Must be an array.");
        };
        let mut answered = Vec::new();
        for (i, command) in commands.iter().enumerate() {
            if let Err((field, message)) = check_command(command) {
                return Reply::invalid_form(&format!("{i}.{field}"), "BASE_TYPE_INVALID", &message);
            }
            let name = command["name"].as_str().unwrap().to_owned();
            let id = match self.command_ids.get(&name) {
                Some(id) => id.clone(),
                None => {
                    let id = self.next_id().to_string();
                    self.command_ids.insert(name.clone(), id.clone());
                    id
                }
            };
            let mut out = command.clone();
            out["id"] = json!(id);
            out["application_id"] = json!(APPLICATION_ID);
            out["version"] = json!(self.next_id().to_string());
            out["type"] = json!(command["type"].as_u64().unwrap_or(1));
            out["default_member_permissions"] = command
                .get("default_member_permissions")
                .cloned()
                .unwrap_or(Value::Null);
            out["nsfw"] = json!(command["nsfw"].as_bool().unwrap_or(false));
            out["integration_types"] = json!([0]);
            out["contexts"] = command.get("contexts").cloned().unwrap_or(Value::Null);
            if let Some(guild) = guild {
                out["guild_id"] = json!(guild);
            } else {
                out["dm_permission"] = json!(command["dm_permission"].as_bool().unwrap_or(true));
            }
            answered.push(out);
        }
        if guild.is_some() {
            self.guild_commands = answered.clone();
        } else {
            self.global_commands = answered.clone();
        }
        Reply::json(json!(answered))
    }

    fn interaction_callback(
        &mut self,
        id: &str,
        token: &str,
        body: &Value,
        parts: &[Part],
    ) -> Reply {
        let Some(info) = self.interactions.get(id).filter(|i| i.token == token) else {
            return Reply::error(404, 10062, "Unknown interaction");
        };
        if info.response.is_some() {
            return Reply::error(400, 40060, "Interaction has already been acknowledged.");
        }
        if info.created.elapsed() > INITIAL_RESPONSE_WINDOW {
            return Reply::error(404, 10062, "Unknown interaction");
        }
        let kind = body["type"].as_u64();
        let data = &body["data"];
        let content = data["content"].as_str().unwrap_or_default().to_owned();
        let files = files_of(parts);
        match kind {
            Some(4) => {
                if content.is_empty()
                    && files.is_empty()
                    && data["embeds"].as_array().is_none_or(|e| e.is_empty())
                {
                    return Reply::error(400, 50006, "Cannot send an empty message");
                }
                if content.chars().count() > 2000 {
                    return Reply::invalid_form(
                        "data.content",
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 2000 or fewer in length.",
                    );
                }
            }
            Some(1 | 5 | 6 | 7 | 8 | 9 | 12) => {}
            _ => {
                return Reply::invalid_form(
                    "type",
                    "BASE_TYPE_CHOICES",
                    "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.",
                );
            }
        }
        let (channel, user, name) = (info.channel.clone(), info.user.clone(), info.name.clone());
        let ephemeral = data["flags"].as_u64().unwrap_or(0) & 64 != 0;
        let original = if matches!(kind, Some(4 | 5)) && !ephemeral {
            let message_id = self.next_id();
            let attachments = self.attachments(&channel, &files);
            let mut stored = Stored::new(
                message_id,
                &channel,
                APPLICATION_ID,
                &content,
                20,
                attachments,
            );
            stored.webhook_id = Some(APPLICATION_ID.to_owned());
            stored.mention_everyone = pings_everyone(&content, &data["allowed_mentions"]);
            stored.interaction = Some(json!({
                "id": id,
                "type": 2,
                "user": self.user_json(&user),
                "authorizing_integration_owners": {"0": GUILD_ID},
                "name": name,
                "command_type": 1,
            }));
            self.messages.insert(message_id, stored);
            Some(message_id)
        } else {
            None
        };
        let info = self.interactions.get_mut(id).unwrap();
        info.response = Some(body.clone());
        info.original = original;
        Reply::no_content()
    }

    fn interaction_by_token(&self, token: &str) -> Option<(&String, &InteractionInfo)> {
        self.interactions
            .iter()
            .find(|(_, i)| i.token == token && i.response.is_some())
    }

    fn followup(&mut self, token: &str, body: &Value, parts: &[Part]) -> Reply {
        let Some((id, info)) = self.interaction_by_token(token) else {
            return Reply::error(404, 10015, "Unknown Webhook");
        };
        let (id, channel) = (id.clone(), info.channel.clone());
        let content = body["content"].as_str().unwrap_or_default().to_owned();
        let files = files_of(parts);
        if content.is_empty()
            && files.is_empty()
            && body["embeds"].as_array().is_none_or(|e| e.is_empty())
        {
            return Reply::error(400, 50006, "Cannot send an empty message");
        }
        let message_id = self.next_id();
        let attachments = self.attachments(&channel, &files);
        let mut stored = Stored::new(
            message_id,
            &channel,
            APPLICATION_ID,
            &content,
            20,
            attachments,
        );
        stored.webhook_id = Some(APPLICATION_ID.to_owned());
        stored.mention_everyone = pings_everyone(&content, &body["allowed_mentions"]);
        let message = self.message_json(&stored);
        let ephemeral = body["flags"].as_u64().unwrap_or(0) & 64 != 0;
        if !ephemeral {
            self.messages.insert(message_id, stored);
        }
        let info = self.interactions.get_mut(&id).unwrap();
        if info.original.is_none() && info.response.as_ref().is_some_and(|r| r["type"] == 5) {
            info.original = Some(message_id);
        }
        Reply::json(message)
    }

    fn webhook_message(&mut self, method: &str, token: &str, message: &str, body: &Value) -> Reply {
        let Some((_, info)) = self.interaction_by_token(token) else {
            return Reply::error(404, 10015, "Unknown Webhook");
        };
        let target = if message == "@original" {
            info.original
        } else {
            message.parse().ok()
        };
        let Some(target) = target.filter(|t| self.messages.contains_key(t)) else {
            return unknown_message();
        };
        match method {
            "GET" => Reply::json(self.message_json(&self.messages[&target])),
            "DELETE" => {
                self.messages.remove(&target);
                Reply::no_content()
            }
            "PATCH" => {
                let stored = self.messages.get_mut(&target).unwrap();
                if let Some(content) = body["content"].as_str() {
                    if content.chars().count() > 2000 {
                        return Reply::invalid_form(
                            "content",
                            "BASE_TYPE_MAX_LENGTH",
                            "Must be 2000 or fewer in length.",
                        );
                    }
                    stored.content = content.to_owned();
                    stored.mention_everyone = pings_everyone(content, &body["allowed_mentions"]);
                }
                stored.edited = Some(iso(Utc::now()));
                let stored = stored.clone();
                Reply::json(self.message_json(&stored))
            }
            _ => Reply::error(405, 0, "405: Method Not Allowed"),
        }
    }
}

fn unknown_channel() -> Reply {
    Reply::error(404, 10003, "Unknown Channel")
}

fn unknown_message() -> Reply {
    Reply::error(404, 10008, "Unknown Message")
}

/// Discord's 429: its body, `Retry-After` and the `X-RateLimit-*` headers.
fn rate_limited(secs: f64) -> Reply {
    let reset = Utc::now().timestamp_millis() as f64 / 1000.0 + secs;
    Reply {
        status: 429,
        body: Some(
            json!({"message": "You are being rate limited.", "retry_after": secs, "global": false}),
        ),
        headers: vec![
            ("retry-after", (secs.ceil() as u64).to_string()),
            ("x-ratelimit-limit", "5".to_owned()),
            ("x-ratelimit-remaining", "0".to_owned()),
            ("x-ratelimit-reset", format!("{reset:.3}")),
            ("x-ratelimit-reset-after", format!("{secs:.3}")),
            (
                "x-ratelimit-bucket",
                "80c17d2f203122d936070c88c8d10f33".to_owned(),
            ),
            ("x-ratelimit-scope", "user".to_owned()),
        ],
    }
}

/// Whether a message with this content pings @everyone/@here under these allowed mentions
/// (absent allowed mentions parse everything, as on Discord).
fn pings_everyone(content: &str, allowed: &Value) -> bool {
    let mentions = content.contains("@everyone") || content.contains("@here");
    let allowed = match allowed.get("parse") {
        Some(parse) => parse
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p == "everyone")),
        None => allowed.is_null(),
    };
    mentions && allowed
}

/// A command Discord accepts: names 1-32 lower-case characters, descriptions 1-100 characters,
/// required options before optional ones, at most 25 choices.
fn check_command(command: &Value) -> Result<(), (String, String)> {
    let name_ok = |name: &Value| {
        name.as_str().is_some_and(|n| {
            (1..=32).contains(&n.chars().count())
                && n.chars()
                    .all(|c| c.is_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        })
    };
    if !name_ok(&command["name"]) {
        return Err(("name".into(), "Command name is invalid".into()));
    }
    let kind = command["type"].as_u64().unwrap_or(1);
    let described = |v: &Value| {
        v["description"]
            .as_str()
            .is_some_and(|d| (1..=100).contains(&d.chars().count()))
    };
    if kind == 1 && !described(command) {
        return Err((
            "description".into(),
            "Must be between 1 and 100 in length.".into(),
        ));
    }
    fn check_options(
        options: &Value,
        at: &str,
        name_ok: &dyn Fn(&Value) -> bool,
        described: &dyn Fn(&Value) -> bool,
    ) -> Result<(), (String, String)> {
        let Some(options) = options.as_array() else {
            return Ok(());
        };
        let mut optional_seen = false;
        for (i, option) in options.iter().enumerate() {
            let here = format!("{at}.{i}");
            if !name_ok(&option["name"]) {
                return Err((format!("{here}.name"), "Command name is invalid".into()));
            }
            if !described(option) {
                return Err((
                    format!("{here}.description"),
                    "Must be between 1 and 100 in length.".into(),
                ));
            }
            let kind = option["type"].as_u64().unwrap_or(0);
            if !(1..=11).contains(&kind) {
                return Err((
                    format!("{here}.type"),
                    "Value must be one of {1..11}.".into(),
                ));
            }
            let required = option["required"].as_bool().unwrap_or(false);
            if kind > 2 {
                if required && optional_seen {
                    return Err((
                        format!("{here}.required"),
                        "Required options must be placed before non-required options".into(),
                    ));
                }
                optional_seen |= !required;
            }
            if option["choices"].as_array().is_some_and(|c| c.len() > 25) {
                return Err((
                    format!("{here}.choices"),
                    "Must be 25 or fewer in length.".into(),
                ));
            }
            check_options(
                &option["options"],
                &format!("{here}.options"),
                name_ok,
                described,
            )?;
        }
        Ok(())
    }
    check_options(&command["options"], "options", &name_ok, &described)
}

fn files_of(parts: &[Part]) -> Vec<(String, Vec<u8>)> {
    parts
        .iter()
        .filter(|p| p.name.starts_with("files[") || p.name.starts_with("file"))
        .filter_map(|p| Some((p.filename.clone()?, p.data.clone())))
        .collect()
}

/// A JSON body, or a multipart body's parts with its `payload_json` as the JSON.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> (Option<Value>, Vec<Part>) {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if let Some(boundary) = content_type
        .strip_prefix("multipart/form-data")
        .and_then(|rest| rest.split("boundary=").nth(1))
    {
        let boundary = boundary.split(';').next().unwrap().trim().trim_matches('"');
        let parts = parse_multipart(body, boundary);
        let json = parts
            .iter()
            .find(|p| p.name == "payload_json")
            .and_then(|p| serde_json::from_slice(&p.data).ok());
        return (json, parts);
    }
    (serde_json::from_slice(body).ok(), Vec::new())
}

fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    // Everything before the first delimiter is preamble.
    let Some(start) = find(rest, &delimiter) else {
        return parts;
    };
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        let rest_after_crlf = rest.strip_prefix(b"\r\n").unwrap_or(rest);
        let Some(end) = find(rest_after_crlf, &delimiter) else {
            break;
        };
        let chunk = &rest_after_crlf[..end];
        let chunk = chunk.strip_suffix(b"\r\n").unwrap_or(chunk);
        if let Some(split) = find(chunk, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&chunk[..split]).into_owned();
            let data = chunk[split + 4..].to_vec();
            let mut part = Part {
                name: String::new(),
                filename: None,
                content_type: None,
                data,
            };
            for line in head.split("\r\n") {
                let Some((key, value)) = line.split_once(':') else {
                    continue;
                };
                if key.trim().eq_ignore_ascii_case("content-disposition") {
                    for param in value.split(';').skip(1) {
                        if let Some((k, v)) = param.trim().split_once('=') {
                            let v = v.trim().trim_matches('"').to_owned();
                            match k.trim() {
                                "name" => part.name = v,
                                "filename" => part.filename = Some(v),
                                _ => {}
                            }
                        }
                    }
                } else if key.trim().eq_ignore_ascii_case("content-type") {
                    part.content_type = Some(value.trim().to_owned());
                }
            }
            parts.push(part);
        }
        rest = &rest_after_crlf[end + delimiter.len()..];
    }
    parts
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
