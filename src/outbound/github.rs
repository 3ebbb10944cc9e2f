//! How a failed answer from GitHub's REST API is sorted, for every client of it (the pull
//! requests of `publish`, the issues of `followups`): a refusal, an outage, a redirect, or a
//! rate limit and how long it lasts (429 *or* 403; `retry-after`, then `x-ratelimit-reset`,
//! else at least a minute).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Deserialize;

/// What GitHub asks for after a secondary rate limit that names no time: "at least one minute".
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// GitHub's own messages are short; anything longer is a proxy's page, not worth carrying.
pub const MAX_DETAIL: usize = 300;

/// GitHub's error body: `{"message", "errors": [{"resource", "field", "code", "message"}]}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Debug, Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// What a non-2xx answer means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Wait this long, then try again.
    RateLimited(Duration),
    /// A 5xx or 408: worth trying again after a backoff.
    Unavailable,
    /// A 3xx, refused so the token stays on the host configured.
    Redirect,
    /// GitHub refused the request itself.
    Refused,
}

/// A sorted answer: its kind, and one line naming the operation, the status and GitHub's own
/// message (never the token, which no answer carries).
#[derive(Debug, Clone)]
pub struct Answer {
    pub kind: Kind,
    pub what: String,
    /// A 422 whose errors say "already exists" (a pull request for the same head and base).
    pub already_exists: bool,
}

/// Sorts a non-2xx answer. `now` is for `x-ratelimit-reset`, which is an absolute time.
pub fn sort(
    operation: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Answer {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let detail = detail(&parsed);
    let what = if detail.is_empty() {
        format!("{operation}: HTTP {}", status.as_u16())
    } else {
        format!("{operation}: HTTP {}: {detail}", status.as_u16())
    };
    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && is_rate_limit(headers, &parsed.message));
    let kind = if rate_limited {
        Kind::RateLimited(rate_limit_wait(headers, now))
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        Kind::Unavailable
    } else if status.is_redirection() {
        Kind::Redirect
    } else {
        Kind::Refused
    };
    let already_exists = status == StatusCode::UNPROCESSABLE_ENTITY
        && parsed.errors.iter().any(|e| {
            e.message
                .as_deref()
                .is_some_and(|m| m.to_ascii_lowercase().contains("already exists"))
        });
    Answer {
        kind,
        what,
        already_exists,
    }
}

/// GitHub's message with its validation errors, one line, bounded.
fn detail(body: &ErrorBody) -> String {
    let mut parts = Vec::new();
    if !body.message.trim().is_empty() {
        parts.push(body.message.trim().to_owned());
    }
    for entry in &body.errors {
        let part = match (&entry.message, &entry.field, &entry.code) {
            (Some(message), _, _) => message.clone(),
            (None, Some(field), Some(code)) => format!("{field}: {code}"),
            (None, None, Some(code)) => code.clone(),
            _ => continue,
        };
        parts.push(part);
    }
    super::bounded(&parts.join("; "), MAX_DETAIL)
}

/// Whether a 403 is a rate limit rather than a refusal: GitHub marks the primary limit with
/// `x-ratelimit-remaining: 0` and the secondary ones with a message (and maybe `retry-after`).
fn is_rate_limit(headers: &HeaderMap, message: &str) -> bool {
    headers.contains_key(RETRY_AFTER)
        || super::header_str(headers, "x-ratelimit-remaining") == Some("0")
        || message.to_ascii_lowercase().contains("rate limit")
}

/// How long GitHub asked us to wait: `retry-after` seconds; else, with no requests remaining,
/// until `x-ratelimit-reset` (UTC epoch seconds) plus a second for clock skew; else a minute.
fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Duration {
    if let Some(wait) = super::retry_after(headers) {
        return wait;
    }
    if super::header_str(headers, "x-ratelimit-remaining") == Some("0")
        && let Some(reset) =
            super::header_str(headers, "x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok())
    {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        return Duration::from_secs(reset.saturating_sub(now) + 1);
    }
    DEFAULT_RATE_LIMIT_WAIT
}
