//! A fake GitHub REST API on a local port, so tests drive Scribe's real GitHub client end to end.
//!
//! It serves "List pull requests", "Create a pull request" and "Update a pull request" for one
//! repository, with payloads shaped as GitHub documents them, and refuses as GitHub does: 401
//! without a bearer token, 404 for any other repository, 422 "A pull request already exists"
//! for a second open pull request on the same head and base. Every call is recorded (outages
//! and refusals included). Knobs: an outage (503 until lifted), one-shot statuses, rate limits
//! with `retry-after`, and a racing publisher that opens the pull request first.
//!
//! Routes are answered both at the root (`https://api.github.com/repos/…`) and under
//! `/api/v3/` (GitHub Enterprise Server).

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// The repository the fake serves.
pub const OWNER: &str = "octo-org";
pub const REPO: &str = "postmortems";
pub const REPOSITORY: &str = "octo-org/postmortems";
/// The account the fake's pull requests are opened by.
pub const BOT_LOGIN: &str = "scribe-bot";
/// Who opens the pull requests of [`FakeGithub::race_next_create`].
pub const RACER_LOGIN: &str = "someone-else";

const DOCS: &str = "https://docs.github.com/rest/pulls/pulls";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct GithubCall {
    /// `GET`, `POST`, `PATCH`…
    pub method: String,
    /// The path as sent, e.g. `/repos/octo-org/postmortems/pulls/1` (or under `/api/v3`).
    pub path: String,
    /// The decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// The `Authorization` header as sent.
    pub auth: Option<String>,
    /// Every header, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The JSON body, when there was one that parsed.
    pub body: Option<Value>,
    /// The status the fake answered with.
    pub status: u16,
}

impl GithubCall {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The path without the GitHub Enterprise `/api/v3` prefix.
    pub fn route(&self) -> &str {
        self.path.strip_prefix("/api/v3").unwrap_or(&self.path)
    }
}

pub struct FakeGithub {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

struct Shared {
    /// `http://127.0.0.1:PORT`
    origin: String,
    state: Mutex<FakeState>,
}

#[derive(Default)]
struct FakeState {
    calls: Vec<GithubCall>,
    pulls: Vec<Value>,
    outage: bool,
    /// One-shot answers, used in order by the next authenticated calls.
    rigged: VecDeque<Rigged>,
    /// Pull requests someone else opens just before the next creates are handled.
    races: VecDeque<(String, String)>,
    /// The only token accepted, when set; otherwise any bearer token is.
    token: Option<String>,
    serial: u64,
}

enum Rigged {
    Status(u16),
    RateLimit { status: u16, retry_after: u64 },
}

impl FakeGithub {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start() -> FakeGithub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            origin: format!("http://{addr}"),
            state: Mutex::default(),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("fake GitHub serves");
        });
        FakeGithub { shared, server }
    }

    /// The REST root to hand to the client: `http://127.0.0.1:PORT/`.
    pub fn api_base(&self) -> String {
        format!("{}/", self.shared.origin)
    }

    /// The same API as a GitHub Enterprise Server serves it: `http://127.0.0.1:PORT/api/v3/`.
    pub fn enterprise_base(&self) -> String {
        format!("{}/api/v3/", self.shared.origin)
    }

    pub fn calls(&self) -> Vec<GithubCall> {
        self.state().calls.clone()
    }

    /// Calls with this method, e.g. `"PATCH"`.
    pub fn calls_with(&self, method: &str) -> Vec<GithubCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method)
            .collect()
    }

    /// Every pull request, open or closed, oldest first, as GitHub would return it.
    pub fn pulls(&self) -> Vec<Value> {
        self.state().pulls.clone()
    }

    /// While down, every call gets HTTP 503 (and is still recorded).
    pub fn set_outage(&self, down: bool) {
        self.state().outage = down;
    }

    /// The next authenticated call gets `status` with GitHub's error body for it. Calls queue:
    /// two `fail_next` fail the next two calls.
    pub fn fail_next(&self, status: u16) {
        self.state().rigged.push_back(Rigged::Status(status));
    }

    /// The next authenticated call gets a secondary rate limit: `status` (403 or 429) with
    /// `retry-after: retry_after_secs`.
    pub fn rate_limit_next(&self, status: u16, retry_after_secs: u64) {
        self.state().rigged.push_back(Rigged::RateLimit {
            status,
            retry_after: retry_after_secs,
        });
    }

    /// Accept only `Bearer token` from now on; anything else gets 401 "Bad credentials".
    pub fn require_token(&self, token: &str) {
        self.state().token = Some(token.to_owned());
    }

    /// Just before the next create is handled, [`RACER_LOGIN`] opens a pull request for the same
    /// head and base with this title and body, so that create answers 422.
    pub fn race_next_create(&self, title: &str, body: &str) {
        self.state()
            .races
            .push_back((title.to_owned(), body.to_owned()));
    }

    /// An open pull request from `head` (a branch of this repository) into `base`; returns
    /// its number.
    pub fn add_pull(&self, head: &str, base: &str, title: &str, body: &str) -> u64 {
        let origin = self.shared.origin.clone();
        self.state()
            .open_pull(&origin, BOT_LOGIN, head, base, title, Some(body))
    }

    /// Closes pull request `number`, as merging or closing it on github.com would.
    pub fn close_pull(&self, number: u64) {
        let mut state = self.state();
        let pull = state
            .pulls
            .iter_mut()
            .find(|p| p["number"] == json!(number))
            .expect("a pull request with that number");
        let now = now();
        pull["state"] = json!("closed");
        pull["closed_at"] = json!(now);
        pull["updated_at"] = json!(now);
    }

    /// Waits until there are `n` pull requests (open or closed) and returns them; panics with
    /// every recorded call if that takes longer than `timeout`.
    pub async fn wait_for_pulls(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let pulls = self.pulls();
            if pulls.len() >= n {
                return pulls;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "waited {timeout:?} for {n} pull requests, saw {}; all calls: {:#?}",
                    pulls.len(),
                    self.calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.shared.state.lock().expect("fake GitHub state")
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeState {
    fn open_pull(
        &mut self,
        origin: &str,
        login: &str,
        head: &str,
        base: &str,
        title: &str,
        body: Option<&str>,
    ) -> u64 {
        self.serial += 1;
        let number = self.serial;
        let now = now();
        let author = user(login, number);
        let repo = repository(origin);
        let sha = |seed: &str| {
            // Stable per branch, shaped like a commit id.
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
            for byte in seed.bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
            format!("{hash:016x}{hash:016x}{:08x}", hash as u32)
        };
        let api = format!("{origin}/repos/{REPOSITORY}");
        self.pulls.push(json!({
            "url": format!("{api}/pulls/{number}"),
            "id": 1_000_000 + number,
            "node_id": format!("PR_kwFAKE{number:06}"),
            "html_url": format!("https://github.com/{REPOSITORY}/pull/{number}"),
            "diff_url": format!("https://github.com/{REPOSITORY}/pull/{number}.diff"),
            "patch_url": format!("https://github.com/{REPOSITORY}/pull/{number}.patch"),
            "issue_url": format!("{api}/issues/{number}"),
            "commits_url": format!("{api}/pulls/{number}/commits"),
            "comments_url": format!("{api}/issues/{number}/comments"),
            "statuses_url": format!("{api}/statuses/{}", sha(head)),
            "number": number,
            "state": "open",
            "locked": false,
            "title": title,
            "user": author,
            "body": body,
            "labels": [],
            "milestone": null,
            "active_lock_reason": null,
            "created_at": now,
            "updated_at": now,
            "closed_at": null,
            "merged_at": null,
            "merge_commit_sha": null,
            "assignee": null,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": {
                "label": format!("{OWNER}:{head}"),
                "ref": head,
                "sha": sha(head),
                "user": user(OWNER, 1),
                "repo": repo,
            },
            "base": {
                "label": format!("{OWNER}:{base}"),
                "ref": base,
                "sha": sha(base),
                "user": user(OWNER, 1),
                "repo": repo,
            },
            "author_association": "CONTRIBUTOR",
            "auto_merge": null,
            "draft": false,
        }));
        number
    }

    fn serve(
        &mut self,
        origin: &str,
        method: &Method,
        route: &Route,
        call: &GithubCall,
    ) -> Response {
        match (method.clone(), route) {
            (Method::GET, Route::Pulls) => self.list(&call.query),
            (Method::POST, Route::Pulls) => self.create(origin, call.body.as_ref()),
            (Method::GET, Route::Pull(number)) => match self.find(*number) {
                Some(pull) => (StatusCode::OK, axum::Json(pull.clone())).into_response(),
                None => not_found(),
            },
            (Method::PATCH, Route::Pull(number)) => self.update(*number, call.body.as_ref()),
            _ => not_found(),
        }
    }

    /// "List pull requests": `state` (open by default), `head` as `owner:branch` (a bare branch
    /// is ignored, as GitHub ignores it), `base`, newest first, `per_page` (30, at most 100).
    fn list(&self, query: &BTreeMap<String, String>) -> Response {
        let state = query.get("state").map_or("open", String::as_str);
        let head = query
            .get("head")
            .and_then(|h| h.split_once(':'))
            .map(|(owner, branch)| (owner.to_ascii_lowercase(), branch.to_owned()));
        let base = query.get("base");
        let per_page = query
            .get("per_page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(30)
            .clamp(1, 100);
        let page = query
            .get("page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let listed: Vec<Value> = self
            .pulls
            .iter()
            .rev()
            .filter(|p| state == "all" || p["state"] == json!(state))
            .filter(|p| {
                head.as_ref().is_none_or(|(owner, branch)| {
                    p["head"]["label"].as_str().is_some_and(|label| {
                        label.to_ascii_lowercase()
                            == format!("{owner}:{}", branch.to_ascii_lowercase())
                            && p["head"]["ref"] == json!(branch)
                    })
                })
            })
            .filter(|p| base.is_none_or(|b| p["base"]["ref"] == json!(b)))
            .skip((page - 1) * per_page)
            .take(per_page)
            .cloned()
            .collect();
        (StatusCode::OK, axum::Json(Value::Array(listed))).into_response()
    }

    fn create(&mut self, origin: &str, body: Option<&Value>) -> Response {
        let Some(Value::Object(body)) = body else {
            return error(StatusCode::BAD_REQUEST, "Problems parsing JSON", DOCS);
        };
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let (title, head, base) = (text("title"), text("head"), text("base"));
        let missing: Vec<&str> = [("title", &title), ("head", &head), ("base", &base)]
            .into_iter()
            .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
            .map(|(k, _)| k)
            .collect();
        if !missing.is_empty() {
            let errors: Vec<Value> = missing
                .iter()
                .map(|field| json!({ "resource": "PullRequest", "field": field, "code": "missing_field" }))
                .collect();
            return validation_failed(errors);
        }
        let (title, head, base) = (title.unwrap(), head.unwrap(), base.unwrap());
        // `head` may be `branch` or `owner:branch`; this fake has no forks.
        let branch = match head.split_once(':') {
            Some((owner, branch)) if owner.eq_ignore_ascii_case(OWNER) => branch.to_owned(),
            Some(_) => {
                return validation_failed(vec![
                    json!({ "resource": "PullRequest", "field": "head", "code": "invalid" }),
                ]);
            }
            None => head.clone(),
        };
        if branch == base {
            return validation_failed(vec![json!({
                "resource": "PullRequest",
                "code": "custom",
                "message": format!("No commits between {base} and {branch}"),
            })]);
        }
        if let Some((their_title, their_body)) = self.races.pop_front() {
            self.open_pull(
                origin,
                RACER_LOGIN,
                &branch,
                &base,
                &their_title,
                Some(&their_body),
            );
        }
        let exists = self.pulls.iter().any(|p| {
            p["state"] == json!("open")
                && p["head"]["ref"] == json!(branch)
                && p["base"]["ref"] == json!(base)
        });
        if exists {
            return validation_failed(vec![json!({
                "resource": "PullRequest",
                "code": "custom",
                "message": format!("A pull request already exists for {OWNER}:{branch}."),
            })]);
        }
        let number = self.open_pull(
            origin,
            BOT_LOGIN,
            &branch,
            &base,
            &title,
            text("body").as_deref(),
        );
        let created = self.find(number).expect("just opened").clone();
        let mut response = (StatusCode::CREATED, axum::Json(created)).into_response();
        if let Ok(location) = created_location(origin, number).parse() {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }

    /// "Update a pull request": `title`, `body`, `state`, `base`; anything else is ignored.
    fn update(&mut self, number: u64, body: Option<&Value>) -> Response {
        let Some(Value::Object(body)) = body else {
            return error(StatusCode::BAD_REQUEST, "Problems parsing JSON", DOCS);
        };
        let Some(pull) = self.pulls.iter_mut().find(|p| p["number"] == json!(number)) else {
            return not_found();
        };
        if let Some(state) = body.get("state") {
            if state != "open" && state != "closed" {
                return validation_failed(vec![
                    json!({ "resource": "PullRequest", "field": "state", "code": "invalid" }),
                ]);
            }
            pull["state"] = state.clone();
        }
        for key in ["title", "body"] {
            if let Some(value) = body.get(key) {
                pull[key] = value.clone();
            }
        }
        if let Some(base) = body.get("base").and_then(Value::as_str) {
            pull["base"]["ref"] = json!(base);
            pull["base"]["label"] = json!(format!("{OWNER}:{base}"));
        }
        pull["updated_at"] = json!(now());
        (StatusCode::OK, axum::Json(pull.clone())).into_response()
    }

    fn find(&self, number: u64) -> Option<&Value> {
        self.pulls.iter().find(|p| p["number"] == json!(number))
    }
}

enum Route {
    Pulls,
    Pull(u64),
}

/// `/repos/{owner}/{repo}/pulls[/{number}]`, optionally under `/api/v3`, for this repository
/// only (owner and name compare without case, as on GitHub).
fn route(path: &str) -> Option<Route> {
    let path = path.strip_prefix("/api/v3").unwrap_or(path);
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["repos", owner, repo, "pulls", rest @ ..]
            if owner.eq_ignore_ascii_case(OWNER) && repo.eq_ignore_ascii_case(REPO) =>
        {
            match rest {
                [] | [""] => Some(Route::Pulls),
                [number] => number.parse().ok().map(Route::Pull),
                _ => None,
            }
        }
        _ => None,
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: BTreeMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let mut call = GithubCall {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query,
        auth: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        headers: headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: serde_json::from_slice(&body).ok(),
        status: 0,
    };
    let mut state = shared.state.lock().expect("fake GitHub state");
    let token = call
        .auth
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    // An outage answers before the token check; the token check before the one-shot knobs,
    // so that an unauthenticated call does not use them up.
    let response = if state.outage {
        error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable", "")
    } else if token.is_none() {
        error(
            StatusCode::UNAUTHORIZED,
            "Requires authentication",
            "https://docs.github.com/rest",
        )
    } else if state.token.as_deref().is_some_and(|t| Some(t) != token) {
        error(
            StatusCode::UNAUTHORIZED,
            "Bad credentials",
            "https://docs.github.com/rest",
        )
    } else if let Some(rigged) = state.rigged.pop_front() {
        rigged.response()
    } else {
        match route(uri.path()) {
            Some(route) => state.serve(&shared.origin, &method, &route, &call),
            None => not_found(),
        }
    };
    call.status = response.status().as_u16();
    state.calls.push(call);
    response
}

impl Rigged {
    fn response(&self) -> Response {
        match *self {
            Rigged::RateLimit {
                status,
                retry_after,
            } => {
                let status = StatusCode::from_u16(status).expect("a valid status");
                let mut response = error(
                    status,
                    "You have exceeded a secondary rate limit. Please wait a few minutes before \
                     you try again.",
                    "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api",
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after.into());
                response
            }
            Rigged::Status(status) => {
                let code = StatusCode::from_u16(status).expect("a valid status");
                match status {
                    401 => error(code, "Bad credentials", "https://docs.github.com/rest"),
                    403 => error(
                        code,
                        "Resource not accessible by personal access token",
                        DOCS,
                    ),
                    404 => not_found(),
                    422 => validation_failed(Vec::new()),
                    429 => {
                        let mut response = error(
                            code,
                            "You have exceeded a secondary rate limit.",
                            "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api",
                        );
                        response
                            .headers_mut()
                            .insert(header::RETRY_AFTER, 1u64.into());
                        response
                    }
                    _ => error(code, code.canonical_reason().unwrap_or("Error"), ""),
                }
            }
        }
    }
}

/// GitHub's error body: `message`, `documentation_url` and the status as a string.
fn error(status: StatusCode, message: &str, documentation_url: &str) -> Response {
    let mut body = json!({ "message": message, "status": status.as_u16().to_string() });
    if !documentation_url.is_empty() {
        body["documentation_url"] = json!(documentation_url);
    }
    (status, axum::Json(body)).into_response()
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "Not Found",
        "https://docs.github.com/rest",
    )
}

fn validation_failed(errors: Vec<Value>) -> Response {
    let body = json!({
        "message": "Validation Failed",
        "errors": errors,
        "documentation_url": format!("{DOCS}#create-a-pull-request"),
        "status": "422",
    });
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

fn created_location(origin: &str, number: u64) -> String {
    format!("{origin}/repos/{REPOSITORY}/pulls/{number}")
}

fn user(login: &str, id: u64) -> Value {
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_kgFAKE{id:06}"),
        "type": if login == OWNER { "Organization" } else { "User" },
        "site_admin": false,
        "html_url": format!("https://github.com/{login}"),
    })
}

fn repository(origin: &str) -> Value {
    json!({
        "id": 4242,
        "node_id": "R_kgFAKE",
        "name": REPO,
        "full_name": REPOSITORY,
        "private": true,
        "owner": user(OWNER, 1),
        "html_url": format!("https://github.com/{REPOSITORY}"),
        "url": format!("{origin}/repos/{REPOSITORY}"),
        "default_branch": "main",
    })
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
