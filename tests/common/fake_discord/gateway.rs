//! The fake gateway: one WebSocket session at a time, run as Discord runs it (HELLO, IDENTIFY
//! → READY + GUILD_CREATE, heartbeats, RESUME replaying what the session missed,
//! INVALID_SESSION, op 7 RECONNECT), with dispatches filtered by the session's intents.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::model::FakeState;
use super::{
    APPLICATION_ID, BOT_TOKEN, GATEWAY_PATH, GUILD_ID, INTENT_GUILD_MESSAGE_REACTIONS,
    INTENT_GUILD_MESSAGES, INTENT_GUILDS, INTENT_MESSAGE_CONTENT, Shared,
};

const HEARTBEAT_INTERVAL_MS: u64 = 41_250;

#[derive(Default)]
pub(super) struct Gateway {
    pub(super) connections: usize,
    /// The connection dispatches go to: number and sender.
    pub(super) current: Option<(usize, mpsc::UnboundedSender<Outgoing>)>,
    session: Option<Session>,
    sessions: u64,
    pub(super) identifies: Vec<Value>,
    pub(super) resumes: usize,
    pub(super) replayed: usize,
    pub(super) invalid_sessions: usize,
    /// Answer IDENTIFY/RESUME only once released.
    pub(super) hold: bool,
    pub(super) held: Vec<(usize, mpsc::UnboundedSender<Outgoing>, Value)>,
    pub(super) invalidate_next_resume: bool,
    /// Heartbeats received.
    pub(super) heartbeats: usize,
}

struct Session {
    id: String,
    seq: u64,
    intents: u64,
    /// Every dispatch of the session, with its sequence number, for RESUME.
    log: Vec<(u64, Value)>,
}

pub(super) enum Outgoing {
    Frame(Value),
    /// Drop the TCP connection without a closing handshake.
    Drop,
    /// Close with this code.
    Close(u16),
}

impl FakeState {
    pub(super) fn dispatch(&mut self, t: &str, mut data: Value) {
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
    pub(super) fn session_op(
        &mut self,
        conn: usize,
        tx: mpsc::UnboundedSender<Outgoing>,
        frame: &Value,
    ) {
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

pub(super) async fn serve_gateway(stream: TcpStream, shared: Arc<Shared>) {
    let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn = {
        let mut state = shared.lock();
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
                    let mut state = shared.lock();
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
    let mut state = shared.lock();
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
