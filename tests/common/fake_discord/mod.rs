//! A fake Discord on one local port: the REST API under `/api/v10/…` and the WebSocket gateway
//! at `/gateway-ws`, so tests drive Scribe's real serenity client end to end.
//!
//! Payloads follow Discord's documentation field for field: serenity's models are strict, and a
//! gateway event missing a required field is silently dropped as `Event::Unknown`. The fake
//! records every REST call, keeps channels, members, message history, pins and reactions that
//! tests set up, and runs gateway sessions as Discord does: HELLO, IDENTIFY → READY +
//! GUILD_CREATE, heartbeats, RESUME replaying what the session missed, INVALID_SESSION, op 7
//! RECONNECT. Knobs inject a 429 (with Discord's real body and headers) or an error status.
//!
//! This file is the fake's face to the tests: the constants, the snowflake and time helpers,
//! and [`FakeDiscord`] with its set-up, knob, inspection and payload-builder methods. The
//! machinery behind it is split by concept: `model.rs` (the guild's state and its JSON),
//! `gateway.rs` (the WebSocket sessions), `rest.rs` (the HTTP API), `multipart.rs` (file
//! upload bodies) and `listener.rs` (the one port both are served on).

mod gateway;
mod listener;
mod model;
mod multipart;
mod rest;

pub use model::Posted;
// No test names a part yet, but `Call::parts` hands them out.
#[allow(unused_imports)]
pub use multipart::Part;
pub use rest::Call;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use gateway::Outgoing;
use listener::{HandedOver, accept_loop};
use model::{ChannelInfo, FakeState, InteractionInfo, MemberInfo, Stored};
use rest::{Rig, RigKind, rest};

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

pub struct FakeDiscord {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

struct Shared {
    /// `127.0.0.1:PORT`
    addr: SocketAddr,
    state: Mutex<FakeState>,
    /// Rung each time the bot's side (REST or the gateway) let go of the state: what the
    /// test's waits wake on.
    changed: Notify,
}

impl Shared {
    /// The state, for the bot's side: whoever waits for a change re-checks once it is let go.
    fn lock(&self) -> Changing<'_> {
        Changing {
            guard: Some(self.state.lock().expect("fake Discord state")),
            changed: &self.changed,
        }
    }
}

/// [`Shared::lock`]'s guard.
struct Changing<'a> {
    guard: Option<MutexGuard<'a, FakeState>>,
    changed: &'a Notify,
}

impl std::ops::Deref for Changing<'_> {
    type Target = FakeState;

    fn deref(&self) -> &FakeState {
        self.guard.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Changing<'_> {
    fn deref_mut(&mut self) -> &mut FakeState {
        self.guard.as_mut().expect("held until dropped")
    }
}

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.guard.take();
        self.changed.notify_waiters();
    }
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
            changed: Notify::new(),
        });
        {
            let mut state = shared.lock();
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

    /// What `check` finds, checked again each time the bot's side changes the state, until
    /// `timeout`; `None` when it found nothing by then.
    pub async fn until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Listening before the check: a change between the two is not missed.
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(found) = check() {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return check();
            }
        }
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

    /// Edits a stored message (as it serves it from then on, with `edited_timestamp`);
    /// dispatches nothing. Returns the author.
    pub fn edit_history(&self, channel_id: &str, message_id: &str, content: &str) -> String {
        let mut state = self.state();
        let stored = state.message_mut(channel_id, message_id);
        stored.content = content.to_owned();
        stored.edited = Some(iso(Utc::now()));
        stored.author.clone()
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

    /// The next matching call is answered only after `delay` (a slow Discord), so that what
    /// waits on it passes Discord's deferral point.
    pub fn slow_next(&self, method: &str, path_contains: &str, delay: Duration) {
        self.state()
            .slow
            .push((method.to_uppercase(), path_contains.to_owned(), delay));
    }

    /// What the asker alone saw of interaction `id` after a private deferral, if anything yet.
    pub fn private_answer(&self, id: &str) -> Option<Value> {
        self.state().interactions[id].private_answer.clone()
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
        let done = || -> Vec<Call> {
            self.calls_to(method, path_contains)
                .into_iter()
                .filter(Call::ok)
                .collect()
        };
        match self
            .until(timeout, || Some(done()).filter(|d| d.len() >= count))
            .await
        {
            Some(done) => done,
            None => panic!(
                "waited {timeout:?} for {count} successful {method} …{path_contains}… calls, saw {}; all calls:\n{}",
                done().len(),
                self.describe_calls()
            ),
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
        let response = || {
            self.state()
                .interactions
                .get(id)
                .and_then(|i| i.response.clone())
        };
        self.until(timeout, response).await.unwrap_or_else(|| {
            panic!(
                "no response to interaction {id} within {timeout:?}; calls:\n{}",
                self.describe_calls()
            )
        })
    }

    /// What the user finally sees for interaction `id`: the type-4 (or, for a click, type-7) callback's `data`, or after a
    /// type-5 deferral the edit of `@original` or the first follow-up.
    pub async fn interaction_answer(&self, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        let response = self.interaction_response(id, timeout).await;
        if response["type"] == 4 || response["type"] == 7 {
            return response["data"].clone();
        }
        let token = self.state().interactions[id].token.clone();
        let answer = || {
            self.calls().into_iter().find(|c| {
                c.ok()
                    && c.path
                        .contains(&format!("/webhooks/{APPLICATION_ID}/{token}"))
                    && (c.method == "POST" || c.method == "PATCH")
            })
        };
        let left = deadline.saturating_duration_since(Instant::now());
        match self.until(left, answer).await {
            Some(call) => call.json.unwrap_or(Value::Null),
            None => panic!(
                "interaction {id} was deferred ({response}) but never answered within {timeout:?}; calls:\n{}",
                self.describe_calls()
            ),
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
        let live = || self.state().gateway.current.is_some().then_some(());
        if self.until(timeout, live).await.is_none() {
            panic!(
                "no gateway session within {timeout:?}; REST calls:\n{}",
                self.describe_calls()
            );
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
        envelope(&mut state, 2, data, None, channel_id, user_id, command_name)
    }

    /// A MESSAGE command interaction (type 2, `data.type` 3: Apps → `command_name`) on
    /// `message_id`, with the message in `data.resolved.messages`; returns its id.
    pub fn message_command(
        &self,
        channel_id: &str,
        user_id: &str,
        command_name: &str,
        message_id: &str,
    ) -> String {
        let (id, _, payload) = {
            let mut state = self.state();
            let command_id = state
                .command_ids
                .get(command_name)
                .cloned()
                .unwrap_or_else(|| "1175940000000000001".to_owned());
            let target = state
                .messages
                .get(&message_id.parse::<u64>().expect("a snowflake"))
                .map(|m| state.message_json(m))
                .expect("a stored message");
            let data = json!({
                "id": command_id,
                "name": command_name,
                "type": 3,
                "target_id": message_id,
                "resolved": {"messages": {message_id: target}},
                "guild_id": GUILD_ID,
            });
            envelope(&mut state, 2, data, None, channel_id, user_id, command_name)
        };
        self.dispatch("INTERACTION_CREATE", payload);
        id
    }

    /// A MODAL_SUBMIT interaction (type 5) of the form `custom_id`, with one action row per
    /// text input (`custom_id`, `value`); returns its id.
    pub fn submit_modal(
        &self,
        channel_id: &str,
        user_id: &str,
        custom_id: &str,
        inputs: &[(&str, &str)],
    ) -> String {
        let rows: Vec<Value> = inputs
            .iter()
            .map(|(id, value)| {
                json!({"type": 1, "components": [{"type": 4, "custom_id": id, "value": value}]})
            })
            .collect();
        let data = json!({"custom_id": custom_id, "components": rows});
        let (id, _, payload) = envelope(
            &mut self.state(),
            5,
            data,
            None,
            channel_id,
            user_id,
            custom_id,
        );
        self.dispatch("INTERACTION_CREATE", payload);
        id
    }

    /// A MESSAGE_COMPONENT interaction (type 3): `user_id` clicks the button `custom_id` of
    /// the message `message_id` (`values`: none), or picks `values` in its select (component
    /// type 3); returns its id.
    pub fn click(
        &self,
        channel_id: &str,
        user_id: &str,
        message_id: &str,
        custom_id: &str,
        values: &[&str],
    ) -> String {
        let (id, _, payload) = {
            let mut state = self.state();
            let message = state
                .messages
                .get(&message_id.parse::<u64>().expect("a snowflake"))
                .map(|m| state.message_json(m))
                .expect("a stored message");
            let data = if values.is_empty() {
                json!({"custom_id": custom_id, "component_type": 2})
            } else {
                json!({"custom_id": custom_id, "component_type": 3, "values": values})
            };
            envelope(
                &mut state,
                3,
                data,
                Some(message),
                channel_id,
                user_id,
                custom_id,
            )
        };
        self.dispatch("INTERACTION_CREATE", payload);
        id
    }

    /// Dispatches interaction `id` again, as a gateway replay would: Discord accepts a new
    /// initial response, and the test waits for it as for the first.
    pub fn replay_interaction(&self, id: &str) {
        let payload = {
            let mut state = self.state();
            let info = state.interactions.get_mut(id).expect("a known interaction");
            info.response = None;
            info.original = None;
            info.created = Instant::now();
            info.payload.clone()
        };
        self.dispatch("INTERACTION_CREATE", payload);
    }

    /// The id of the message that answered interaction `id` in the channel, once answered.
    pub async fn answer_message(&self, id: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        self.interaction_response(id, timeout).await;
        // After a deferral the answer is a follow-up, which comes later.
        let original = || self.state().interactions[id].original;
        let left = deadline.saturating_duration_since(Instant::now());
        match self.until(left, original).await {
            Some(original) => original.to_string(),
            None => panic!(
                "no public answer in the channel to {id} within {timeout:?}; calls:\n{}",
                self.describe_calls()
            ),
        }
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
        let author = self.edit_history(channel_id, message_id, content);
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

/// `{"name": "action", "type": 2, "options": [<subcommand>]}`: a subcommand group holding the
/// one subcommand invoked, as Discord sends it.
pub fn subcommand_group(name: &str, subcommand: Value) -> Value {
    json!({"name": name, "type": 2, "options": [subcommand]})
}

/// An integer option (type 4).
pub fn integer_option(name: &str, value: i64) -> Value {
    json!({"name": name, "type": 4, "value": value})
}

/// A string option (type 3).
pub fn string_option(name: &str, value: &str) -> Value {
    json!({"name": name, "type": 3, "value": value})
}

/// A user option (type 6); the interaction resolves the user.
pub fn user_option(name: &str, user_id: &str) -> Value {
    json!({"name": name, "type": 6, "value": user_id})
}

/// An interaction of `kind` (INTERACTION_CREATE data, as Discord's Interaction Object) with
/// `data`, by `user_id` in `channel_id`, remembered for its callback; `message` for a
/// component's message. Returns its id and token too.
fn envelope(
    state: &mut FakeState,
    kind: u64,
    data: Value,
    message: Option<Value>,
    channel_id: &str,
    user_id: &str,
    name: &str,
) -> (String, String, Value) {
    let id = state.next_id().to_string();
    let token = format!("aW50ZXJhY3Rpb246{id}OmZha2UtdG9rZW4");
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
    let mut payload = json!({
        "id": id,
        "application_id": APPLICATION_ID,
        "type": kind,
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
    if let Some(message) = message {
        payload["message"] = message;
    }
    state.interactions.insert(
        id.clone(),
        InteractionInfo {
            kind,
            payload: payload.clone(),
            token: token.clone(),
            channel: channel_id.to_owned(),
            user: user_id.to_owned(),
            name: name.to_owned(),
            created: Instant::now(),
            response: None,
            original: None,
            private_answer: None,
        },
    );
    (id, token, payload)
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
