//! Scribe's outbound Slack Web API client: post, look up, fetch, upload, create, invite, open
//! Socket Mode connections, and answer interactions through their `response_url`.
//!
//! Slack answers most failures with HTTP 200 and `{"ok": false, "error": "<code>"}`, so every
//! reply goes through one envelope check that sorts failures into [`ApiError`]'s three kinds.
//! Each call retries inside ([`crate::outbound::retry`]), so callers only ever see a final
//! answer: a rate limit Slack would not lift in time, an outage that outlasted the retries, or a
//! refusal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{RequestBuilder, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use url::Url;

use crate::config::Secret;
use crate::jobs::JobError;
use crate::outbound::{Again, Retries, Retryable, retry};

/// Three attempts per call; a `Retry-After` longer than 30 s is the caller's to schedule.
const RETRIES: Retries = Retries {
    attempts: 3,
    base: Duration::from_millis(100),
    max_wait: Duration::from_secs(30),
};
/// Messages per page of history: Slack's recommended most.
const HISTORY_PAGE: &str = "200";
/// Used when a 429 carries no readable `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The error name for the upload step, which is a plain URL rather than a Web API method.
const UPLOAD: &str = "upload";

/// Slack error codes that describe Slack's trouble rather than the request's.
const TRANSIENT_CODES: &[&str] = &[
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// Why a Slack call failed, sorted by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Slack asked us to wait longer than the retries allowed for.
    #[error("{method}: rate limited, retry after {retry_after:?}")]
    RateLimited {
        method: &'static str,
        retry_after: Duration,
    },
    /// Network trouble, a 5xx, or one of Slack's own transient error codes: worth trying later.
    #[error("{method}: transient failure: {reason}")]
    Transient {
        method: &'static str,
        reason: String,
    },
    /// Slack refused the request itself (`channel_not_found`, `not_authed`, …): retrying won't help.
    #[error("{method}: slack refused: {error}")]
    Permanent { method: &'static str, error: String },
}

/// A rate limit or an outage that outlasted the retries is worth another try later.
impl From<ApiError> for JobError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Permanent { .. } => JobError::Permanent(error.to_string()),
            ApiError::RateLimited { .. } | ApiError::Transient { .. } => {
                JobError::Transient(error.to_string())
            }
        }
    }
}

impl Retryable for ApiError {
    fn again(&self) -> Again {
        match self {
            ApiError::RateLimited { retry_after, .. } => Again::After(*retry_after),
            ApiError::Transient { .. } => Again::Backoff,
            ApiError::Permanent { .. } => Again::No,
        }
    }
}

impl ApiError {
    /// Sorts an `ok: false` error code.
    fn from_code(method: &'static str, code: String) -> Self {
        if TRANSIENT_CODES.contains(&code.as_str()) {
            ApiError::Transient {
                method,
                reason: code,
            }
        } else {
            ApiError::Permanent {
                method,
                error: code,
            }
        }
    }

    /// Sorts a non-2xx HTTP status; `None` when the status is a success.
    fn from_status(method: &'static str, status: StatusCode, headers: &HeaderMap) -> Option<Self> {
        if status.is_success() {
            None
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            Some(ApiError::RateLimited {
                method,
                retry_after: retry_after(headers),
            })
        } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            Some(ApiError::Transient {
                method,
                reason: format!("HTTP {status}"),
            })
        } else {
            Some(ApiError::Permanent {
                method,
                error: format!("http_{}", status.as_u16()),
            })
        }
    }

    fn network(method: &'static str, error: reqwest::Error) -> Self {
        // A request that cannot even be built (a token with a newline, say) never will be.
        if error.is_builder() {
            return ApiError::Permanent {
                method,
                error: "invalid_request".to_owned(),
            };
        }
        ApiError::Transient {
            method,
            reason: crate::outbound::describe(error),
        }
    }

    fn invalid_response(method: &'static str) -> Self {
        ApiError::Permanent {
            method,
            error: "invalid_response".to_owned(),
        }
    }
}

/// The metadata type of Scribe's posts.
const POST_EVENT: &str = "scribe_post";

/// What tells one of Scribe's posts from the others.
#[derive(Debug, Clone, Copy)]
pub enum Mark<'a> {
    /// The post of the job with this key.
    Job(&'a str),
    /// A file shared under this name.
    File(&'a str),
}

#[derive(Deserialize)]
struct SharedPage {
    messages: Vec<SharedMessage>,
}

/// A message as [`SlackApi::posted_before`] reads it.
#[derive(Deserialize)]
struct SharedMessage {
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    metadata: Option<PostMetadata>,
    #[serde(default)]
    files: Vec<SharedFile>,
}

#[derive(Deserialize)]
struct PostMetadata {
    event_type: String,
    #[serde(default)]
    event_payload: serde_json::Value,
}

#[derive(Deserialize)]
struct SharedFile {
    #[serde(default)]
    name: String,
}

/// One message as `conversations.history` or `conversations.replies` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FetchedMessage {
    pub ts: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub bot_id: Option<String>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub thread_ts: Option<String>,
}

/// A page of `conversations.history` or `conversations.replies`: the messages as Slack sends
/// them (read by [`super::inbound::listed`]) and the cursor of the next page, if any.
#[derive(Debug, Default)]
pub struct Page {
    pub messages: Vec<serde_json::Value>,
    pub next: Option<String>,
}

#[derive(Deserialize)]
struct RawPage {
    #[serde(default)]
    messages: Vec<serde_json::Value>,
    #[serde(default)]
    response_metadata: Option<NextCursor>,
}

#[derive(Deserialize)]
struct NextCursor {
    #[serde(default)]
    next_cursor: String,
}

impl From<RawPage> for Page {
    fn from(page: RawPage) -> Self {
        Page {
            messages: page.messages,
            next: page
                .response_metadata
                .map(|m| m.next_cursor)
                .filter(|c| !c.is_empty()),
        }
    }
}

#[derive(Deserialize)]
struct Pins {
    #[serde(default)]
    items: Vec<PinItem>,
}

#[derive(Deserialize)]
struct PinItem {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    message: Option<serde_json::Value>,
}

/// A Slack Web API client for one bot token. Cheap to clone: clones share the connection pool
/// and the user-name cache.
#[derive(Debug, Clone)]
pub struct SlackApi {
    http: reqwest::Client,
    base: Url,
    token: Secret,
    /// User id → display name; names change rarely and incidents mention the same people often.
    people: Arc<Mutex<HashMap<String, Person>>>,
}

/// How a request carries its arguments. Slack takes form bodies everywhere (`users.info` takes
/// nothing else) and recommends JSON for `chat.postMessage`.
enum Args<'a> {
    Form(&'a [(&'a str, &'a str)]),
    Json(serde_json::Value),
}

#[derive(Deserialize)]
struct Envelope {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Posted {
    ts: String,
}

/// Who a Slack user is, as Scribe shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    /// From `users.info`'s `tz`; `None` when missing or not a zone Scribe knows.
    pub zone: Option<chrono_tz::Tz>,
}

#[derive(Deserialize)]
struct UserInfo {
    user: User,
}

#[derive(Deserialize)]
struct User {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    real_name: Option<String>,
    /// An IANA zone name (`America/Los_Angeles`).
    #[serde(default)]
    tz: Option<String>,
    #[serde(default)]
    profile: Profile,
}

#[derive(Default, Deserialize)]
struct Profile {
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    real_name: Option<String>,
}

#[derive(Deserialize)]
struct Messages {
    #[serde(default)]
    messages: Vec<FetchedMessage>,
}

#[derive(Deserialize)]
struct UploadUrl {
    upload_url: String,
    file_id: String,
}

#[derive(Deserialize)]
struct Created {
    channel: CreatedChannel,
}

#[derive(Deserialize)]
struct CreatedChannel {
    id: String,
}

#[derive(Deserialize)]
struct Opened {
    url: String,
}

/// Any successful reply whose payload we do not need.
#[derive(Deserialize)]
struct Ignored {}

impl SlackApi {
    /// `base` is the Web API root, e.g. `https://slack.com/api/`; method names are joined to it.
    ///
    /// # Panics
    /// If the TLS backend cannot initialise, which no configuration here can cause.
    pub fn new(mut base: Url, token: Secret) -> Self {
        // Without the trailing slash, `join` would replace `api` instead of appending to it.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = crate::outbound::client(CONNECT_TIMEOUT, REQUEST_TIMEOUT);
        SlackApi {
            http,
            base,
            token,
            people: Arc::default(),
        }
    }

    /// Posts `text` (already escaped by the caller) and returns the new message's `ts`.
    /// Link previews stay off: timeline entries quote dashboards and runbooks constantly.
    pub async fn post_message(&self, channel: &str, text: &str) -> Result<String, ApiError> {
        let body = json!({
            "channel": channel,
            "text": text,
            "unfurl_links": false,
            "unfurl_media": false,
        });
        let posted: Posted = self.call("chat.postMessage", Args::Json(body)).await?;
        Ok(posted.ts)
    }

    /// Posts `text` as the work of `job`, marked so with message metadata (which only apps
    /// read). A try that failed may still have posted (its answer lost): before trying again,
    /// the channel is searched for the mark ([`SlackApi::posted_before`]).
    pub async fn post_message_once(
        &self,
        channel: &str,
        text: &str,
        blocks: &serde_json::Value,
        job: &str,
    ) -> Result<(), ApiError> {
        let args = Args::Json(json!({
            "channel": channel,
            "text": text,
            "blocks": blocks,
            "unfurl_links": false,
            "unfurl_media": false,
            "metadata": {"event_type": POST_EVENT, "event_payload": {"job": job}},
        }));
        self.once("chat.postMessage", channel, Mark::Job(job), &args)
            .await
    }

    /// Calls `method`; a retry first checks whether an earlier try left `mark` in `channel`.
    async fn once(
        &self,
        method: &'static str,
        channel: &str,
        mark: Mark<'_>,
        args: &Args<'_>,
    ) -> Result<(), ApiError> {
        let tried = &std::sync::atomic::AtomicBool::new(false);
        retry(RETRIES, method, move || async move {
            if tried.swap(true, std::sync::atomic::Ordering::Relaxed)
                && self.posted_before(channel, mark).await?
            {
                tracing::info!(
                    method,
                    "a failed try had already posted this; not posting again"
                );
                return Ok(());
            }
            self.call_once::<Ignored>(self.token.expose(), method, args)
                .await
                .map(drop)
        })
        .await
    }

    /// Whether a bot's message among the channel's latest carries `mark`: the post of a job, or a
    /// shared file of that name. A job whose last attempt was cut off asks before posting again.
    pub async fn posted_before(&self, channel: &str, mark: Mark<'_>) -> Result<bool, ApiError> {
        let page: SharedPage = self
            .call(
                "conversations.history",
                Args::Form(&[
                    ("channel", channel),
                    ("limit", "200"),
                    ("include_all_metadata", "true"),
                ]),
            )
            .await?;
        Ok(page.messages.iter().any(|m| {
            m.bot_id.is_some()
                && match mark {
                    Mark::Job(job) => m.metadata.as_ref().is_some_and(|meta| {
                        meta.event_type == POST_EVENT && meta.event_payload["job"] == job
                    }),
                    Mark::File(name) => m.files.iter().any(|f| f.name == name),
                }
        }))
    }

    /// The name people see for `user` (display name, else real name, else the username) and
    /// their time zone, when Slack knows it. Fetched once per user for the life of the process.
    pub async fn person(&self, user: &str) -> Result<Person, ApiError> {
        if let Some(person) = self.cached_people().get(user) {
            return Ok(person.clone());
        }
        let info: UserInfo = self
            .call("users.info", Args::Form(&[("user", user)]))
            .await?;
        let User {
            name,
            real_name,
            tz,
            profile,
        } = info.user;
        let name = [profile.display_name, real_name, profile.real_name, name]
            .into_iter()
            .flatten()
            .map(|n| n.trim().to_owned())
            .find(|n| !n.is_empty())
            .unwrap_or_else(|| user.to_owned());
        let person = Person {
            name,
            zone: tz.and_then(|tz| tz.parse().ok()),
        };
        self.cached_people().insert(user.to_owned(), person.clone());
        Ok(person)
    }

    /// The message at `ts` in `channel`, or `None` if Slack has no such message.
    ///
    /// `conversations.history` only lists top-level messages, so a thread reply is looked for
    /// with `conversations.replies` once history comes back with a different message.
    pub async fn message(
        &self,
        channel: &str,
        ts: &str,
    ) -> Result<Option<FetchedMessage>, ApiError> {
        let history: Messages = self
            .call(
                "conversations.history",
                Args::Form(&[
                    ("channel", channel),
                    ("latest", ts),
                    ("inclusive", "true"),
                    ("limit", "1"),
                ]),
            )
            .await?;
        if let Some(found) = history.messages.into_iter().find(|m| m.ts == ts) {
            return Ok(Some(found));
        }
        // Starting the page at `ts` puts the reply right after the parent Slack lists first,
        // instead of somewhere down a long thread.
        let replies = self
            .call::<Messages>(
                "conversations.replies",
                Args::Form(&[
                    ("channel", channel),
                    ("ts", ts),
                    ("oldest", ts),
                    ("inclusive", "true"),
                ]),
            )
            .await;
        match replies {
            Ok(thread) => Ok(thread.messages.into_iter().find(|m| m.ts == ts)),
            Err(ApiError::Permanent { error, .. }) if error == "thread_not_found" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A page of the channel's top-level messages from `oldest` (a `ts`) on, newest first.
    pub async fn history_since(
        &self,
        channel: &str,
        oldest: &str,
        cursor: Option<&str>,
    ) -> Result<Page, ApiError> {
        let mut args = vec![
            ("channel", channel),
            ("oldest", oldest),
            ("inclusive", "true"),
            ("limit", HISTORY_PAGE),
        ];
        args.extend(cursor.map(|c| ("cursor", c)));
        let page: RawPage = self
            .call("conversations.history", Args::Form(&args))
            .await?;
        Ok(page.into())
    }

    /// A page of the thread under `thread` (its parent first) from `oldest` on, oldest first.
    pub async fn replies_since(
        &self,
        channel: &str,
        thread: &str,
        oldest: &str,
        cursor: Option<&str>,
    ) -> Result<Page, ApiError> {
        let mut args = vec![
            ("channel", channel),
            ("ts", thread),
            ("oldest", oldest),
            ("inclusive", "true"),
            ("limit", HISTORY_PAGE),
        ];
        args.extend(cursor.map(|c| ("cursor", c)));
        let page: RawPage = self
            .call("conversations.replies", Args::Form(&args))
            .await?;
        Ok(page.into())
    }

    /// The messages pinned in `channel` (Slack keeps at most 100 pins a channel).
    pub async fn pinned(&self, channel: &str) -> Result<Vec<serde_json::Value>, ApiError> {
        let pins: Pins = self
            .call("pins.list", Args::Form(&[("channel", channel)]))
            .await?;
        Ok(pins
            .items
            .into_iter()
            .filter(|item| item.kind == "message")
            .filter_map(|item| item.message)
            .collect())
    }

    /// Shares `content` in `channel` as a file, with `comment` as its message; returns the file id.
    ///
    /// Slack's external upload takes three steps: reserve a URL, send the bytes there, then
    /// complete the upload, which is what shares it. Each step retries on its own.
    pub async fn upload_file(
        &self,
        channel: &str,
        filename: &str,
        title: &str,
        content: &[u8],
        comment: &str,
    ) -> Result<String, ApiError> {
        let length = content.len().to_string();
        let reserved: UploadUrl = self
            .call(
                "files.getUploadURLExternal",
                Args::Form(&[("filename", filename), ("length", &length)]),
            )
            .await?;
        let upload_url =
            Url::parse(&reserved.upload_url).map_err(|_| ApiError::invalid_response(UPLOAD))?;
        retry(RETRIES, UPLOAD, || {
            self.send_upload(upload_url.clone(), content)
        })
        .await?;

        let files = json!([{ "id": reserved.file_id, "title": title }]).to_string();
        let mut args = vec![("files", files.as_str()), ("channel_id", channel)];
        if !comment.is_empty() {
            args.push(("initial_comment", comment));
        }
        // Completing shares the file: done twice, it would be shared twice.
        self.once(
            "files.completeUploadExternal",
            channel,
            Mark::File(filename),
            &Args::Form(&args),
        )
        .await?;
        Ok(reserved.file_id)
    }

    /// Creates a public channel and returns its id.
    pub async fn create_channel(&self, name: &str) -> Result<String, ApiError> {
        let created: Created = self
            .call("conversations.create", Args::Form(&[("name", name)]))
            .await?;
        Ok(created.channel.id)
    }

    /// Invites `user` to `channel`. A user already there counts as invited, so that a retried
    /// or repeated invite is not an error.
    pub async fn invite(&self, channel: &str, user: &str) -> Result<(), ApiError> {
        let invited = self
            .call::<Ignored>(
                "conversations.invite",
                Args::Form(&[("channel", channel), ("users", user)]),
            )
            .await;
        match invited {
            Err(ApiError::Permanent { error, .. }) if error == "already_in_channel" => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// A fresh Socket Mode WebSocket URL. `apps.connections.open` takes the app-level token
    /// (`xapp-…`), which nothing else here uses; each URL is good for one connection.
    pub async fn open_connection(&self, app_token: &str) -> Result<Url, ApiError> {
        const METHOD: &str = "apps.connections.open";
        let opened: Opened = self.call_as(app_token, METHOD, Args::Form(&[])).await?;
        Url::parse(&opened.url).map_err(|_| ApiError::invalid_response(METHOD))
    }

    /// Opens a form (`views.open`) for the person whose `trigger_id` it is. Tried once: the
    /// trigger expires three seconds after the person acted.
    pub async fn open_view(
        &self,
        trigger_id: &str,
        view: &serde_json::Value,
    ) -> Result<(), ApiError> {
        let args = Args::Json(json!({ "trigger_id": trigger_id, "view": view }));
        self.call_once::<Ignored>(self.token.expose(), "views.open", &args)
            .await
            .map(drop)
    }

    /// Answers the person who used an interaction, for them only, through its `response_url`.
    pub async fn respond(&self, response_url: &str, text: &str) -> Result<(), ApiError> {
        let body = json!({ "response_type": "ephemeral", "replace_original": false, "text": text });
        self.respond_with(response_url, &body).await
    }

    /// Replaces the message an interaction came from (a headline whose buttons were used).
    pub async fn replace_original(
        &self,
        response_url: &str,
        text: &str,
        blocks: &serde_json::Value,
    ) -> Result<(), ApiError> {
        let body = json!({ "replace_original": true, "text": text, "blocks": blocks });
        self.respond_with(response_url, &body).await
    }

    /// Posts `body` to an interaction's `response_url`. The URL itself authorises the answer,
    /// so the bot token is not sent to it.
    async fn respond_with(
        &self,
        response_url: &str,
        body: &serde_json::Value,
    ) -> Result<(), ApiError> {
        const METHOD: &str = "response_url";
        let url = Url::parse(response_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "https" | "http"))
            .ok_or(ApiError::Permanent {
                method: METHOD,
                error: "invalid_response_url".to_owned(),
            })?;
        retry(RETRIES, METHOD, || {
            send(METHOD, self.http.post(url.clone()).json(body))
        })
        .await
        .map(|_| ())
    }

    fn cached_people(&self) -> std::sync::MutexGuard<'_, HashMap<String, Person>> {
        // A panic mid-insert cannot leave a map of names half-valid, so poisoning is moot.
        self.people.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls a Web API method with the bot token, retrying as Slack's answers allow.
    async fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        args: Args<'_>,
    ) -> Result<T, ApiError> {
        self.call_as(self.token.expose(), method, args).await
    }

    /// Calls a Web API method with `token`, retrying as Slack's answers allow.
    async fn call_as<T: DeserializeOwned>(
        &self,
        token: &str,
        method: &'static str,
        args: Args<'_>,
    ) -> Result<T, ApiError> {
        retry(RETRIES, method, || self.call_once(token, method, &args)).await
    }

    async fn call_once<T: DeserializeOwned>(
        &self,
        token: &str,
        method: &'static str,
        args: &Args<'_>,
    ) -> Result<T, ApiError> {
        let url = self
            .base
            .join(method)
            .map_err(|_| ApiError::invalid_response(method))?;
        let request = self.http.post(url).bearer_auth(token);
        let request = match args {
            Args::Form(pairs) => request.form(pairs),
            Args::Json(body) => request
                .header(
                    CONTENT_TYPE,
                    // Without the charset Slack answers with a `missing_charset` warning.
                    HeaderValue::from_static("application/json; charset=utf-8"),
                )
                .json(body),
        };
        let body = send(method, request).await?;
        let envelope: Envelope =
            serde_json::from_slice(&body).map_err(|_| ApiError::invalid_response(method))?;
        if !envelope.ok {
            let code = envelope.error.unwrap_or_else(|| "unknown_error".to_owned());
            return Err(ApiError::from_code(method, code));
        }
        serde_json::from_slice(&body).map_err(|_| ApiError::invalid_response(method))
    }

    /// Sends file bytes to a URL from `files.getUploadURLExternal`. The URL itself authorises
    /// the upload, so the bot token is not sent to it.
    async fn send_upload(&self, url: Url, content: &[u8]) -> Result<(), ApiError> {
        let request = self
            .http
            .post(url)
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            )
            .body(content.to_vec());
        send(UPLOAD, request).await.map(|_| ())
    }
}

/// Sends `request` and returns the body of a 2xx answer; anything else becomes an [`ApiError`].
async fn send(method: &'static str, request: RequestBuilder) -> Result<Vec<u8>, ApiError> {
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::network(method, e))?;
    if let Some(error) = ApiError::from_status(method, response.status(), response.headers()) {
        return Err(error);
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| ApiError::network(method, e))?;
    Ok(body.to_vec())
}

/// Slack's `Retry-After` is a whole number of seconds.
fn retry_after(headers: &HeaderMap) -> Duration {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let token = Secret::new("xoxb-secret-123");
        assert_eq!(format!("{token:?}"), "Secret(***)");
        let api = SlackApi::new("https://slack.com/api/".parse().unwrap(), token);
        let debug = format!("{api:?}");
        assert!(!debug.contains("xoxb-secret-123"), "{debug}");
        assert!(debug.contains("Secret(***)"), "{debug}");
    }

    #[test]
    fn the_base_url_gains_a_trailing_slash() {
        let api = SlackApi::new("http://127.0.0.1:9/api".parse().unwrap(), Secret::new("x"));
        assert_eq!(
            api.base.join("chat.postMessage").unwrap().as_str(),
            "http://127.0.0.1:9/api/chat.postMessage"
        );
    }

    #[test]
    fn slack_error_codes_are_permanent_unless_they_describe_slack_trouble() {
        for code in TRANSIENT_CODES {
            let error = ApiError::from_code("chat.postMessage", (*code).to_owned());
            assert!(
                matches!(error, ApiError::Transient { .. }),
                "{code}: {error:?}"
            );
        }
        for code in ["channel_not_found", "not_authed", "invalid_auth", "no_text"] {
            let error = ApiError::from_code("chat.postMessage", code.to_owned());
            assert!(
                matches!(error, ApiError::Permanent { .. }),
                "{code}: {error:?}"
            );
            assert!(error.to_string().contains(code));
        }
    }

    #[test]
    fn http_statuses_are_sorted_by_whether_waiting_helps() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        let sort = |status: u16| {
            ApiError::from_status("m", StatusCode::from_u16(status).unwrap(), &headers)
        };
        assert!(sort(200).is_none());
        assert!(matches!(
            sort(429),
            Some(ApiError::RateLimited { retry_after, .. }) if retry_after == Duration::from_secs(7)
        ));
        assert!(matches!(sort(503), Some(ApiError::Transient { .. })));
        assert!(matches!(sort(408), Some(ApiError::Transient { .. })));
        assert!(matches!(sort(404), Some(ApiError::Permanent { .. })));
    }

    #[test]
    fn an_unreadable_retry_after_falls_back_to_a_second() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), DEFAULT_RETRY_AFTER);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), DEFAULT_RETRY_AFTER);
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 12 "));
        assert_eq!(retry_after(&headers), Duration::from_secs(12));
    }
}
