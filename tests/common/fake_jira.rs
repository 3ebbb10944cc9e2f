//! A fake Jira Cloud REST API (v3) on a local port, for the follow-up tracker's Jira client.
//!
//! It serves "Create issue" (`POST /rest/api/3/issue` → 201 `{id, key, self}`), "Get issue",
//! "Edit issue" (`PUT`, 204) and the enhanced JQL search (`POST /rest/api/3/search/jql`, `{issues,
//! isLast}`, understanding `project = KEY` and `text ~ "\"phrase\""` over summaries and
//! descriptions), behind basic auth with one email and API token. Knobs: move an issue to a
//! status category (`done`, `new`) as a person would, delete an issue (then 404), a rate limit
//! (429 with `Retry-After`), a create that is stored but whose answer is lost (502, or the
//! connection dropped mid-answer), and a revoked token (401).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

pub const PROJECT: &str = "OPS";
pub const EMAIL: &str = "scribe@example.com";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct JiraCall {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub auth: Option<String>,
    pub body: Option<Value>,
    pub status: u16,
}

pub struct FakeJira {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

struct Shared {
    origin: String,
    /// `Basic base64(email:token)`.
    expected_auth: String,
    state: Mutex<FakeState>,
}

#[derive(Default)]
struct FakeState {
    calls: Vec<JiraCall>,
    /// Issues as Jira stores them: `{id, key, fields}`, deleted ones removed.
    issues: Vec<Value>,
    serial: u64,
    /// One-shot 429s, with their `Retry-After` seconds.
    rate_limits: VecDeque<u64>,
    lose_creates: u32,
    /// The next issue creates are stored, then their connection drops mid-answer.
    drop_creates: u32,
    revoked: bool,
}

impl FakeJira {
    /// Binds 127.0.0.1 on a free port; accepts `EMAIL` with `token`.
    pub async fn start(token: &str) -> FakeJira {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        let credentials = format!("{EMAIL}:{token}");
        let shared = Arc::new(Shared {
            origin: format!("http://{addr}"),
            expected_auth: format!("Basic {}", base64(credentials.as_bytes())),
            state: Mutex::default(),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake Jira serves");
        });
        FakeJira { shared, server }
    }

    /// The site's base URL: `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.shared.origin.clone()
    }

    pub fn calls(&self) -> Vec<JiraCall> {
        self.state().calls.clone()
    }

    /// Every issue that was not deleted, oldest first.
    pub fn issues(&self) -> Vec<Value> {
        self.state().issues.clone()
    }

    /// Moves issue `key` to a status of category `category` (`done`, `new`, `indeterminate`).
    pub fn transition(&self, key: &str, category: &str) {
        let mut state = self.state();
        let issue = state.find_mut(key).expect("an issue with that key");
        issue["fields"]["status"] = status(category);
    }

    pub fn delete(&self, key: &str) {
        self.state().issues.retain(|i| i["key"] != json!(key));
    }

    /// The next authenticated call gets 429 with `Retry-After: retry_after_secs`.
    pub fn rate_limit_next(&self, retry_after_secs: u64) {
        self.state().rate_limits.push_back(retry_after_secs);
    }

    /// The next `n` creates are stored, then answered 502.
    pub fn lose_next_create_answers(&self, n: u32) {
        self.state().lose_creates = n;
    }

    /// The next `n` creates are stored, then their connection drops in the middle of the
    /// answer.
    pub fn drop_next_create_answers(&self, n: u32) {
        self.state().drop_creates = n;
    }

    /// Every token is refused from now on (401).
    pub fn revoke_token(&self) {
        self.state().revoked = true;
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.shared.state.lock().expect("fake Jira state")
    }
}

impl Drop for FakeJira {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn status(category: &str) -> Value {
    let (id, name) = match category {
        "done" => (3, "Done"),
        "indeterminate" => (4, "In Progress"),
        _ => (2, "To Do"),
    };
    json!({
        "name": name,
        "id": format!("1000{id}"),
        "statusCategory": { "id": id, "key": category, "name": name },
    })
}

fn errors(status: StatusCode, messages: &[&str]) -> Response {
    (
        status,
        axum::Json(json!({ "errorMessages": messages, "errors": {} })),
    )
        .into_response()
}

fn not_found() -> Response {
    errors(
        StatusCode::NOT_FOUND,
        &["Issue does not exist or you do not have permission to see it."],
    )
}

/// Every text node of an ADF document.
fn adf_text(node: &Value, out: &mut String) {
    if let Some(text) = node.get("text").and_then(Value::as_str) {
        out.push_str(text);
        out.push('\n');
    }
    if let Some(children) = node.get("content").and_then(Value::as_array) {
        for child in children {
            adf_text(child, out);
        }
    }
}

impl FakeState {
    fn find_mut(&mut self, id_or_key: &str) -> Option<&mut Value> {
        self.issues
            .iter_mut()
            .find(|i| i["key"] == json!(id_or_key) || i["id"] == json!(id_or_key))
    }

    fn serve(
        &mut self,
        origin: &str,
        method: &Method,
        parts: &[&str],
        call: &JiraCall,
    ) -> Response {
        match (method.clone(), parts) {
            (Method::POST, ["issue"]) => self.create(origin, call.body.as_ref()),
            (Method::GET, ["issue", id]) => match self.find_mut(id) {
                Some(issue) => (StatusCode::OK, axum::Json(issue.clone())).into_response(),
                None => not_found(),
            },
            (Method::PUT, ["issue", id]) => self.edit(id, call.body.as_ref()),
            (Method::POST, ["search", "jql"]) => self.search(call.body.as_ref()),
            _ => errors(StatusCode::NOT_FOUND, &["No such resource"]),
        }
    }

    fn create(&mut self, origin: &str, body: Option<&Value>) -> Response {
        let fields = body.map(|b| b["fields"].clone()).unwrap_or(Value::Null);
        if fields["project"]["key"] != json!(PROJECT) {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "errorMessages": [], "errors": { "project": "valid project is required" } })),
            )
                .into_response();
        }
        if fields["summary"].as_str().is_none_or(str::is_empty) {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "errorMessages": [], "errors": { "summary": "You must specify a summary of the issue." } })),
            )
                .into_response();
        }
        if fields["description"]["type"] != json!("doc") {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "errorMessages": [], "errors": { "description": "Operation value must be an Atlassian Document (see the Atlassian Document Format)" } })),
            )
                .into_response();
        }
        self.serial += 1;
        let id = (10_000 + self.serial).to_string();
        let key = format!("{PROJECT}-{}", self.serial);
        let mut stored = fields.clone();
        stored["status"] = status("new");
        stored["duedate"] = fields.get("duedate").cloned().unwrap_or(Value::Null);
        stored["assignee"] = fields.get("assignee").cloned().unwrap_or(Value::Null);
        let link = format!("{origin}/rest/api/3/issue/{id}");
        self.issues
            .push(json!({ "id": id, "key": key, "self": link, "fields": stored }));
        if self.drop_creates > 0 {
            self.drop_creates -= 1;
            return super::dropped_answer(201);
        }
        if self.lose_creates > 0 {
            self.lose_creates -= 1;
            return errors(StatusCode::BAD_GATEWAY, &["Bad gateway"]);
        }
        (
            StatusCode::CREATED,
            axum::Json(json!({ "id": id, "key": key, "self": link })),
        )
            .into_response()
    }

    fn edit(&mut self, id: &str, body: Option<&Value>) -> Response {
        let Some(issue) = self.find_mut(id) else {
            return not_found();
        };
        let Some(Value::Object(fields)) = body.map(|b| &b["fields"]) else {
            return errors(StatusCode::BAD_REQUEST, &["No fields"]);
        };
        for (name, value) in fields {
            issue["fields"][name] = value.clone();
        }
        StatusCode::NO_CONTENT.into_response()
    }

    /// `project = KEY [AND text ~ "\"phrase\""]`.
    fn search(&self, body: Option<&Value>) -> Response {
        let jql = body.and_then(|b| b["jql"].as_str()).unwrap_or_default();
        if !jql.starts_with(&format!("project = {PROJECT}")) {
            return errors(
                StatusCode::BAD_REQUEST,
                &["The value does not exist for the field 'project'."],
            );
        }
        let phrase = jql
            .split_once("text ~ \"\\\"")
            .and_then(|(_, rest)| rest.split_once("\\\"\""))
            .map(|(phrase, _)| phrase.to_owned());
        let issues: Vec<Value> = self
            .issues
            .iter()
            .filter(|i| {
                phrase.as_ref().is_none_or(|phrase| {
                    let mut text = i["fields"]["summary"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    adf_text(&i["fields"]["description"], &mut text);
                    text.contains(phrase.as_str())
                })
            })
            .cloned()
            .collect();
        (
            StatusCode::OK,
            axum::Json(json!({ "issues": issues, "isLast": true })),
        )
            .into_response()
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut call = JiraCall {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect(),
        auth: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(&body).ok(),
        status: 0,
    };
    let mut state = shared.state.lock().expect("fake Jira state");
    let authorised = !state.revoked && call.auth.as_deref() == Some(&shared.expected_auth);
    let response = if !authorised {
        errors(
            StatusCode::UNAUTHORIZED,
            &["Client must be authenticated to access this resource."],
        )
    } else if let Some(wait) = state.rate_limits.pop_front() {
        let mut response = errors(StatusCode::TOO_MANY_REQUESTS, &["Rate limit exceeded."]);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, wait.into());
        response
    } else {
        let path = uri.path().to_owned();
        match path.strip_prefix("/rest/api/3/") {
            Some(rest) => {
                let parts: Vec<&str> = rest.split('/').collect();
                state.serve(&shared.origin, &method, &parts, &call)
            }
            None => errors(StatusCode::NOT_FOUND, &["No such resource"]),
        }
    };
    call.status = response.status().as_u16();
    state.calls.push(call);
    response
}

/// Standard base64 with padding, for the expected `Authorization` header.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
