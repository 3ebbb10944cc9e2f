//! A fake GitHub REST API on a local port, so tests drive Scribe's real GitHub client end to end.
//!
//! It serves "List pull requests", "Create a pull request" and "Update a pull request" for one
//! repository, with payloads shaped as GitHub documents them, and refuses as GitHub does: 401
//! without a bearer token, 404 for any other repository, 422 "A pull request already exists"
//! for a second open pull request on the same head and base. Every call is recorded (outages
//! and refusals included). Knobs: an outage (503 until lifted), one-shot statuses, rate limits
//! with `retry-after`, and a racing publisher that opens the pull request first.
//!
//! It serves GitHub Issues too, for the follow-up tracker: "Create an issue", "Get an issue",
//! "Update an issue", "List repository issues" (pull requests included, with `pull_request`,
//! as GitHub lists them) and "Search issues" (`{total_count, incomplete_results, items}`,
//! matching the quoted phrase in bodies). Issue knobs: close, reopen or delete an issue as a
//! person would (a deleted issue answers 410), a create that is stored but whose answer is
//! lost (502, or the connection dropped mid-answer), search that lags behind (new issues unseen), a primary rate limit (403 with
//! `x-ratelimit-remaining: 0`), and a revoked token (401 Bad credentials).
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
const ISSUES_DOCS: &str = "https://docs.github.com/rest/issues/issues";

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
    /// Issues, deleted ones included (`deleted: true` here only, never served).
    issues: Vec<Value>,
    /// Issues created while set are not found by search.
    search_stale: bool,
    /// Numbers search does not see yet.
    unindexed: Vec<u64>,
    /// The next issue creates are stored, then answered 502.
    lose_creates: u32,
    /// The next issue creates are stored, then their connection drops mid-answer.
    drop_creates: u32,
    /// Every token is refused.
    revoked: bool,
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
    RateLimit {
        status: u16,
        retry_after: u64,
    },
    /// 403, `x-ratelimit-remaining: 0`, reset this many seconds from now.
    PrimaryRateLimit {
        reset_in: u64,
    },
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

    /// The next authenticated call gets GitHub's primary rate limit: 403 with
    /// `x-ratelimit-remaining: 0` and `x-ratelimit-reset` `reset_in_secs` from now.
    pub fn primary_rate_limit_next(&self, reset_in_secs: u64) {
        self.state().rigged.push_back(Rigged::PrimaryRateLimit {
            reset_in: reset_in_secs,
        });
    }

    /// Every token is refused from now on: 401 "Bad credentials".
    pub fn revoke_token(&self) {
        self.state().revoked = true;
    }

    /// Every issue, oldest first, deleted ones left out.
    pub fn issues(&self) -> Vec<Value> {
        self.state()
            .issues
            .iter()
            .filter(|i| i["deleted"] != json!(true))
            .cloned()
            .collect()
    }

    /// Issue `number` as a person would leave it after closing it on github.com.
    pub fn close_issue(&self, number: u64) {
        self.set_issue_state(number, "closed");
    }

    pub fn reopen_issue(&self, number: u64) {
        self.set_issue_state(number, "open");
    }

    fn set_issue_state(&self, number: u64, state: &str) {
        let mut guard = self.state();
        let issue = guard.issue_mut(number).expect("an issue with that number");
        issue["state"] = json!(state);
        issue["closed_at"] = if state == "closed" {
            json!(now())
        } else {
            Value::Null
        };
        issue["updated_at"] = json!(now());
    }

    /// Deletes issue `number`, as an admin can: from now on it answers 410.
    pub fn delete_issue(&self, number: u64) {
        let mut guard = self.state();
        let issue = guard.issue_mut(number).expect("an issue with that number");
        issue["deleted"] = json!(true);
    }

    /// The next `n` issue creates are stored, then answered 502 as if a proxy lost the answer.
    pub fn lose_next_create_answers(&self, n: u32) {
        self.state().lose_creates = n;
    }

    /// The next `n` creates are stored, then their connection drops in the middle of the
    /// answer.
    pub fn drop_next_create_answers(&self, n: u32) {
        self.state().drop_creates = n;
    }

    /// While set, issues created are not found by search (GitHub's index lags behind).
    pub fn set_search_stale(&self, stale: bool) {
        self.state().search_stale = stale;
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
            (Method::GET, Route::Issues) => self.list_issues(&call.query),
            (Method::POST, Route::Issues) => self.create_issue(origin, call.body.as_ref()),
            (Method::GET, Route::Issue(number)) => match self.issue(*number) {
                Ok(issue) => (StatusCode::OK, axum::Json(issue)).into_response(),
                Err(missing) => missing.response(),
            },
            (Method::PATCH, Route::Issue(number)) => self.update_issue(*number, call.body.as_ref()),
            (Method::GET, Route::Search) => self.search(&call.query),
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

    fn issue_mut(&mut self, number: u64) -> Option<&mut Value> {
        self.issues
            .iter_mut()
            .find(|i| i["number"] == json!(number))
    }

    /// The issue as served, or why not.
    fn issue(&self, number: u64) -> Result<Value, Missing> {
        match self.issues.iter().find(|i| i["number"] == json!(number)) {
            Some(issue) if issue["deleted"] == json!(true) => Err(Missing::Deleted),
            Some(issue) => Ok(issue.clone()),
            None => Err(Missing::Never),
        }
    }

    /// "Create an issue": `title` (required), `body`, `labels`, `assignees`.
    fn create_issue(&mut self, origin: &str, body: Option<&Value>) -> Response {
        let Some(Value::Object(body)) = body else {
            return error(
                StatusCode::BAD_REQUEST,
                "Problems parsing JSON",
                ISSUES_DOCS,
            );
        };
        let Some(title) = body
            .get("title")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        else {
            return validation_failed(vec![
                json!({ "resource": "Issue", "field": "title", "code": "missing_field" }),
            ]);
        };
        let names = |key: &str| -> Vec<String> {
            body.get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        self.serial += 1;
        let number = self.serial;
        let now = now();
        let api = format!("{origin}/repos/{REPOSITORY}");
        let issue = json!({
            "url": format!("{api}/issues/{number}"),
            "id": 2_000_000 + number,
            "node_id": format!("I_kwFAKE{number:06}"),
            "html_url": format!("https://github.com/{REPOSITORY}/issues/{number}"),
            "number": number,
            "state": "open",
            "state_reason": null,
            "title": title,
            "body": body.get("body").cloned().unwrap_or(Value::Null),
            "user": user(BOT_LOGIN, 99),
            "labels": names("labels").iter().enumerate().map(|(n, name)| json!({
                "id": 3_000 + n, "name": name, "color": "ededed", "default": false,
            })).collect::<Vec<_>>(),
            "assignee": names("assignees").first().map(|login| user(login, 7)),
            "assignees": names("assignees").iter().map(|login| user(login, 7)).collect::<Vec<_>>(),
            "milestone": null,
            "locked": false,
            "comments": 0,
            "created_at": now,
            "updated_at": now,
            "closed_at": null,
            "author_association": "NONE",
        });
        self.issues.push(issue.clone());
        if self.search_stale {
            self.unindexed.push(number);
        }
        if self.drop_creates > 0 {
            self.drop_creates -= 1;
            return super::dropped_answer(201);
        }
        if self.lose_creates > 0 {
            self.lose_creates -= 1;
            return error(StatusCode::BAD_GATEWAY, "Server Error", "");
        }
        let mut response = (StatusCode::CREATED, axum::Json(issue)).into_response();
        if let Ok(location) = format!("{api}/issues/{number}").parse() {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
    }

    /// "Update an issue": `title`, `body`, `state`, `assignees`, `labels`.
    fn update_issue(&mut self, number: u64, body: Option<&Value>) -> Response {
        let Some(Value::Object(body)) = body else {
            return error(
                StatusCode::BAD_REQUEST,
                "Problems parsing JSON",
                ISSUES_DOCS,
            );
        };
        if let Err(missing) = self.issue(number) {
            return missing.response();
        }
        let issue = self.issue_mut(number).expect("checked above");
        if let Some(state) = body.get("state") {
            if state != "open" && state != "closed" {
                return validation_failed(vec![
                    json!({ "resource": "Issue", "field": "state", "code": "invalid" }),
                ]);
            }
            issue["state"] = state.clone();
        }
        for key in ["title", "body"] {
            if let Some(value) = body.get(key) {
                issue[key] = value.clone();
            }
        }
        if let Some(Value::Array(logins)) = body.get("assignees") {
            let users: Vec<Value> = logins
                .iter()
                .filter_map(Value::as_str)
                .map(|login| user(login, 7))
                .collect();
            issue["assignee"] = users.first().cloned().unwrap_or(Value::Null);
            issue["assignees"] = json!(users);
        }
        issue["updated_at"] = json!(now());
        (StatusCode::OK, axum::Json(issue.clone())).into_response()
    }

    /// "List repository issues": `state` (open by default), `labels` (all of them, by name),
    /// newest first, `per_page`; pull requests come too, marked with `pull_request`.
    fn list_issues(&self, query: &BTreeMap<String, String>) -> Response {
        let state = query.get("state").map_or("open", String::as_str);
        let labels: Vec<&str> = query
            .get("labels")
            .map(|l| l.split(',').filter(|l| !l.is_empty()).collect())
            .unwrap_or_default();
        let per_page = query
            .get("per_page")
            .and_then(|p| p.parse::<usize>().ok())
            .unwrap_or(30)
            .clamp(1, 100);
        let pulls = self.pulls.iter().map(|p| {
            let mut item = p.clone();
            item["pull_request"] = json!({ "url": p["url"], "html_url": p["html_url"] });
            item
        });
        let mut all: Vec<Value> = self
            .issues
            .iter()
            .filter(|i| i["deleted"] != json!(true))
            .cloned()
            .chain(pulls)
            .collect();
        all.sort_by_key(|i| std::cmp::Reverse(i["number"].as_u64()));
        let listed: Vec<Value> = all
            .into_iter()
            .filter(|i| state == "all" || i["state"] == json!(state))
            .filter(|i| {
                labels.iter().all(|wanted| {
                    i["labels"]
                        .as_array()
                        .is_some_and(|have| have.iter().any(|l| l["name"] == json!(wanted)))
                })
            })
            .take(per_page)
            .collect();
        (StatusCode::OK, axum::Json(Value::Array(listed))).into_response()
    }

    /// "Search issues": the `"quoted phrase"` of `q` in bodies (or any word of it, unquoted),
    /// `type:issue` leaving pull requests out; issues created while search was stale are not
    /// found.
    fn search(&self, query: &BTreeMap<String, String>) -> Response {
        let q = query.get("q").cloned().unwrap_or_default();
        if !q.contains(&format!("repo:{REPOSITORY}")) {
            return validation_failed(vec![json!({
                "message": "The listed users and repositories cannot be searched",
                "resource": "Search", "field": "q", "code": "invalid",
            })]);
        }
        let phrase = q.split('"').nth(1).unwrap_or_default().to_owned();
        let items: Vec<Value> = self
            .issues
            .iter()
            .filter(|i| i["deleted"] != json!(true))
            .filter(|i| !self.unindexed.iter().any(|n| i["number"] == json!(n)))
            .filter(|i| {
                !phrase.is_empty() && i["body"].as_str().is_some_and(|b| b.contains(&phrase))
            })
            .map(|i| {
                let mut item = i.clone();
                item["score"] = json!(1.0);
                item
            })
            .collect();
        let answer = json!({
            "total_count": items.len(),
            "incomplete_results": false,
            "items": items,
        });
        (StatusCode::OK, axum::Json(answer)).into_response()
    }
}

/// An issue not served: 410 once deleted, 404 if it never was.
enum Missing {
    Deleted,
    Never,
}

impl Missing {
    fn response(self) -> Response {
        match self {
            Missing::Deleted => error(
                StatusCode::GONE,
                "This issue was deleted",
                "https://docs.github.com/rest/issues/issues#get-an-issue",
            ),
            Missing::Never => not_found(),
        }
    }
}

enum Route {
    Pulls,
    Pull(u64),
    Issues,
    Issue(u64),
    Search,
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
        ["repos", owner, repo, "issues", rest @ ..]
            if owner.eq_ignore_ascii_case(OWNER) && repo.eq_ignore_ascii_case(REPO) =>
        {
            match rest {
                [] | [""] => Some(Route::Issues),
                [number] => number.parse().ok().map(Route::Issue),
                _ => None,
            }
        }
        ["search", "issues"] => Some(Route::Search),
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
    } else if state.revoked || state.token.as_deref().is_some_and(|t| Some(t) != token) {
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
            Rigged::PrimaryRateLimit { reset_in } => {
                let mut response = error(
                    StatusCode::FORBIDDEN,
                    "API rate limit exceeded for user ID 99.",
                    "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api",
                );
                let reset = chrono::Utc::now().timestamp() as u64 + reset_in;
                let headers = response.headers_mut();
                headers.insert("x-ratelimit-limit", 5000u64.into());
                headers.insert("x-ratelimit-remaining", 0u64.into());
                headers.insert("x-ratelimit-reset", reset.into());
                response
            }
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
