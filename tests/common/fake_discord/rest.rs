//! The fake REST API under `/api/v10/…`: every call recorded, the bot token checked, the
//! failure knobs (429 with Discord's real body and headers, an error status, a lost answer)
//! applied, then each route answered from the model with Discord's status codes and error
//! bodies, and with its checks on messages, interaction callbacks and command registrations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Value, json};

use super::model::{FakeState, InteractionInfo, Posted, Stored};
use super::multipart::{Part, files_of, parse_body};
use super::{APPLICATION_ID, BOT_TOKEN, GATEWAY_PATH, GUILD_ID, Shared, iso};

/// An interaction token is good for its initial response this long (Discord: 3 seconds).
const INITIAL_RESPONSE_WINDOW: Duration = Duration::from_secs(3);

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

pub(super) struct Rig {
    pub(super) method: String,
    pub(super) path_contains: String,
    pub(super) kind: RigKind,
}

pub(super) enum RigKind {
    RateLimit(f64),
    Status(u16),
    /// The call takes effect, but its answer is lost: the client sees this status.
    LoseAnswer(u16),
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

pub(super) async fn rest(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let delay = {
        let mut state = shared.lock();
        let at = state
            .slow
            .iter()
            .position(|(m, p, _)| m == method.as_str() && uri.path().contains(p.as_str()));
        at.map(|at| state.slow.remove(at).2)
    };
    if let Some(delay) = delay {
        // The slowness under test, not a wait for something to happen.
        tokio::time::sleep(delay).await;
    }
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
    let mut state = shared.lock();
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
            // Discord answers every command with a description: "" for message commands.
            out["description"] = json!(command["description"].as_str().unwrap_or_default());
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
                if let Err(refused) = check_message_data(&content, data) {
                    return refused;
                }
            }
            Some(9) => {
                if let Err((field, message)) = check_modal(data) {
                    return Reply::invalid_form(
                        &format!("data.{field}"),
                        "BASE_TYPE_INVALID",
                        &message,
                    );
                }
            }
            Some(7) => {
                if info.kind != 3 {
                    return Reply::error(400, 40004, "Interaction has no message to update");
                }
                if let Err(refused) = check_message_data(&content, data) {
                    return refused;
                }
            }
            Some(1 | 5 | 6 | 8 | 12) => {}
            _ => {
                return Reply::invalid_form(
                    "type",
                    "BASE_TYPE_CHOICES",
                    "Value must be one of {1, 4, 5, 6, 7, 8, 9, 10, 12}.",
                );
            }
        }
        let (channel, user, name, interaction_kind) = (
            info.channel.clone(),
            info.user.clone(),
            info.name.clone(),
            info.kind,
        );
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
                "type": interaction_kind,
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
        if kind == Some(7) {
            // UPDATE_MESSAGE: the message the clicked component is on takes the new content.
            let clicked = self.interactions[id].payload["message"]["id"]
                .as_str()
                .and_then(|m| m.parse::<u64>().ok());
            if let Some(stored) = clicked.and_then(|m| self.messages.get_mut(&m)) {
                stored.content = content.clone();
                stored.edited = Some(iso(Utc::now()));
            }
        }
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
        let info = self.interactions.get_mut(&id).unwrap();
        // Discord: the first follow-up after a deferral that nothing replaced yet takes the
        // deferral's place, and the privacy the deferral chose; later ones choose their own.
        let deferral = info.response.as_ref().filter(|r| r["type"] == 5);
        let thinking =
            deferral.is_some() && info.original.is_none() && info.private_answer.is_none();
        let ephemeral = if thinking {
            deferral.is_some_and(|r| r["data"]["flags"].as_u64().unwrap_or(0) & 64 != 0)
        } else {
            body["flags"].as_u64().unwrap_or(0) & 64 != 0
        };
        match (thinking, ephemeral) {
            (true, true) => info.private_answer = Some(body.clone()),
            (true, false) => info.original = Some(message_id),
            _ => {}
        }
        if !ephemeral {
            self.messages.insert(message_id, stored);
        }
        Reply::json(message)
    }

    fn webhook_message(&mut self, method: &str, token: &str, message: &str, body: &Value) -> Reply {
        let Some((_, info)) = self.interaction_by_token(token) else {
            return Reply::error(404, 10015, "Unknown Webhook");
        };
        let private_deferral = info
            .response
            .as_ref()
            .is_some_and(|r| r["type"] == 5 && r["data"]["flags"].as_u64().unwrap_or(0) & 64 != 0);
        if message == "@original" && method == "PATCH" && private_deferral {
            // The asker's own "thinking…", which no channel shows.
            let (id, channel) = self
                .interaction_by_token(token)
                .map(|(id, info)| (id.clone(), info.channel.clone()))
                .unwrap();
            self.interactions.get_mut(&id).unwrap().private_answer = Some(body.clone());
            let content = body["content"].as_str().unwrap_or_default();
            let stored = Stored::new(
                self.next_id(),
                &channel,
                APPLICATION_ID,
                content,
                20,
                Vec::new(),
            );
            let mut shown = self.message_json(&stored);
            shown["flags"] = json!(64);
            return Reply::json(shown);
        }
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
/// at most 25 options at each level, required options before optional ones, at most 25
/// choices; subcommands (type 1) and groups (type 2) never beside plain options, groups only at
/// the top level holding only subcommands, and nothing below a subcommand but plain options.
/// A message's components, as Discord checks them: at most 5 action rows (type 1), each with
/// 1–5 buttons (type 2, a label and a custom id of at most 100) or one select (type 3, 1–25
/// options with a label and a value).
/// What Discord checks of a message a callback posts or updates: its length and components.
fn check_message_data(content: &str, data: &Value) -> Result<(), Reply> {
    if content.chars().count() > 2000 {
        return Err(Reply::invalid_form(
            "data.content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        ));
    }
    check_components(&data["components"]).map_err(|(field, message)| {
        Reply::invalid_form(
            &format!("data.components.{field}"),
            "BASE_TYPE_INVALID",
            &message,
        )
    })
}

fn check_components(rows: &Value) -> Result<(), (String, String)> {
    let Some(rows) = rows.as_array() else {
        return Ok(());
    };
    if rows.len() > 5 {
        return Err(("_root".into(), "Must be 5 or fewer in length.".into()));
    }
    let id_ok = |c: &Value| {
        c["custom_id"]
            .as_str()
            .is_some_and(|id| (1..=100).contains(&id.len()))
    };
    for (i, row) in rows.iter().enumerate() {
        let components = row["components"].as_array().filter(|c| !c.is_empty());
        let Some(components) = components.filter(|c| row["type"] == 1 && c.len() <= 5) else {
            return Err((
                format!("{i}"),
                "An action row holds 1 to 5 components".into(),
            ));
        };
        for (j, component) in components.iter().enumerate() {
            let at = format!("{i}.components.{j}");
            let ok = match component["type"].as_u64() {
                Some(2) => id_ok(component) && component["label"].is_string(),
                Some(3) => {
                    components.len() == 1
                        && id_ok(component)
                        && component["options"].as_array().is_some_and(|o| {
                            (1..=25).contains(&o.len())
                                && o.iter()
                                    .all(|o| o["label"].is_string() && o["value"].is_string())
                        })
                }
                _ => false,
            };
            if !ok {
                return Err((at, "Invalid component".into()));
            }
        }
    }
    Ok(())
}

/// A modal as Discord checks it: a custom id and a title of at most 45 characters, and 1–5
/// action rows each holding one text input (type 4) with a custom id, a label and a style.
fn check_modal(data: &Value) -> Result<(), (String, String)> {
    if !data["custom_id"]
        .as_str()
        .is_some_and(|id| (1..=100).contains(&id.len()))
    {
        return Err((
            "custom_id".into(),
            "Must be between 1 and 100 in length.".into(),
        ));
    }
    if !data["title"]
        .as_str()
        .is_some_and(|t| (1..=45).contains(&t.chars().count()))
    {
        return Err(("title".into(), "Must be between 1 and 45 in length.".into()));
    }
    let rows = data["components"]
        .as_array()
        .filter(|r| (1..=5).contains(&r.len()));
    let Some(rows) = rows else {
        return Err((
            "components".into(),
            "Must be between 1 and 5 in length.".into(),
        ));
    };
    for (i, row) in rows.iter().enumerate() {
        let input = row["components"]
            .as_array()
            .filter(|c| c.len() == 1)
            .map(|c| &c[0]);
        let ok = row["type"] == 1
            && input.is_some_and(|input| {
                input["type"] == 4
                    && input["custom_id"].is_string()
                    && input["label"].is_string()
                    && input["style"].is_u64()
            });
        if !ok {
            return Err((
                format!("components.{i}"),
                "A modal row holds one text input".into(),
            ));
        }
    }
    Ok(())
}

fn check_command(command: &Value) -> Result<(), (String, String)> {
    let name_ok = |name: &Value| {
        name.as_str().is_some_and(|n| {
            (1..=32).contains(&n.chars().count())
                && n.chars()
                    .all(|c| c.is_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        })
    };
    let kind = command["type"].as_u64().unwrap_or(1);
    // A user or message command's name is what the Apps menu shows: any 1–32 characters.
    let menu_name_ok = command["name"]
        .as_str()
        .is_some_and(|n| (1..=32).contains(&n.chars().count()));
    if (kind == 1 && !name_ok(&command["name"])) || !menu_name_ok {
        return Err(("name".into(), "Command name is invalid".into()));
    }
    if kind != 1
        && (command["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
            || command["options"].as_array().is_some_and(|o| !o.is_empty()))
    {
        return Err((
            "description".into(),
            "User and message commands cannot have a description or options".into(),
        ));
    }
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
        parent: Option<u64>,
        at: &str,
        name_ok: &dyn Fn(&Value) -> bool,
        described: &dyn Fn(&Value) -> bool,
    ) -> Result<(), (String, String)> {
        let Some(options) = options.as_array() else {
            return Ok(());
        };
        if options.len() > 25 {
            return Err((at.into(), "Must be 25 or fewer in length.".into()));
        }
        let nested = |o: &Value| matches!(o["type"].as_u64(), Some(1 | 2));
        if options.iter().any(nested) && !options.iter().all(nested) {
            return Err((
                at.into(),
                "Sub-commands and sub-command groups cannot be mixed with other options".into(),
            ));
        }
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
            // At the top anything; in a group only subcommands; in a subcommand only values.
            let allowed = match parent {
                None => true,
                Some(2) => kind == 1,
                Some(_) => kind > 2,
            };
            if !allowed {
                return Err((
                    format!("{here}.type"),
                    "Sub-commands nest at most one group deep".into(),
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
                Some(kind),
                &format!("{here}.options"),
                name_ok,
                described,
            )?;
        }
        Ok(())
    }
    check_options(&command["options"], None, "options", &name_ok, &described)
}
