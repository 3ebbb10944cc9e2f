//! A fake OpenAI-compatible server on a local port: `POST /v1/chat/completions`, JSON mode,
//! streaming off. It records every request and answers each with the next queued [`Reply`]:
//! a message's content, a content cut off at the token limit, an HTTP status, or no answer at
//! all (a hang, told through [`FakeLlm::hung`] so that a test waits on it, not on time).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Token counts the fake reports in `usage`.
pub const PROMPT_TOKENS: u64 = 321;
pub const COMPLETION_TOKENS: u64 = 54;

/// How the fake answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200, a chat completion whose message content is this text.
    Content(String),
    /// 200, the content cut off: `finish_reason: "length"`.
    CutOff(String),
    /// This status, with this body.
    Status(u16, String),
    /// Never answers.
    Hang,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct LlmCall {
    pub auth: Option<String>,
    /// The raw body, as sent.
    pub body: String,
}

impl LlmCall {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON request")
    }

    /// The user message: the material Scribe sent.
    pub fn material(&self) -> Value {
        let content = self.json()["messages"][1]["content"]
            .as_str()
            .expect("a user message")
            .to_string();
        serde_json::from_str(&content).expect("the material is one JSON document")
    }
}

pub struct FakeLlm {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

struct Shared {
    origin: String,
    state: Mutex<FakeState>,
    hung: Notify,
}

#[derive(Default)]
struct FakeState {
    calls: Vec<LlmCall>,
    replies: VecDeque<Reply>,
}

impl FakeLlm {
    pub async fn start() -> FakeLlm {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            origin: format!("http://{addr}"),
            state: Mutex::default(),
            hung: Notify::new(),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake model serves");
        });
        FakeLlm { shared, server }
    }

    /// The API root to configure: `http://127.0.0.1:PORT/v1/`.
    pub fn base_url(&self) -> String {
        format!("{}/v1/", self.shared.origin)
    }

    /// Queues how the next request is answered (unqueued: no suggestions).
    pub fn reply(&self, reply: Reply) {
        self.shared.state.lock().unwrap().replies.push_back(reply);
    }

    /// Queues a well-formed answer holding `suggestions`.
    pub fn suggest(&self, suggestions: Value) {
        self.reply(Reply::Content(
            json!({ "suggestions": suggestions }).to_string(),
        ));
    }

    pub fn calls(&self) -> Vec<LlmCall> {
        self.shared.state.lock().unwrap().calls.clone()
    }

    /// Returns once a request is being held without an answer. Ask before the request is
    /// made (`Notify` keeps one wake-up for a waiter that comes later).
    pub async fn hung(&self) {
        self.shared.hung.notified().await;
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn complete(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let reply = {
        let mut state = shared.state.lock().unwrap();
        state.calls.push(LlmCall {
            auth: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        state
            .replies
            .pop_front()
            .unwrap_or_else(|| Reply::Content("{\"suggestions\": []}".into()))
    };
    let completion = |content: String, finish: &str| {
        axum::Json(json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": "fake",
            "choices": [{
                "index": 0,
                "message": { "role": "assistant", "content": content },
                "finish_reason": finish,
            }],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        }))
        .into_response()
    };
    match reply {
        Reply::Content(content) => completion(content, "stop"),
        Reply::CutOff(content) => completion(content, "length"),
        Reply::Status(status, body) => (
            StatusCode::from_u16(status).expect("a status"),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Reply::Hang => {
            shared.hung.notify_one();
            std::future::pending::<Response>().await
        }
    }
}
