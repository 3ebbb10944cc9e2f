//! A failed call to GitHub as this client sees it: GitHub's answer sorted by
//! [`crate::outbound::github::sort`], shared with every client of GitHub's REST API.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::GithubError;
use crate::outbound::github::{Kind, sort};
use crate::outbound::{Again, Retryable};

/// A failed attempt, with what [`crate::outbound::retry`] and the callers need to know about it.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) error: GithubError,
    /// How long GitHub asked us to wait (a rate limit), when it did.
    pub(super) wait: Option<Duration>,
    /// The 422 GitHub answers when the head and base already have an open pull request.
    pub(super) already_exists: bool,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl Retryable for Failure {
    fn again(&self) -> Again {
        match (&self.error, self.wait) {
            (GithubError::Permanent(_), _) => Again::No,
            (GithubError::Transient(_), Some(wait)) => Again::After(wait),
            (GithubError::Transient(_), None) => Again::Backoff,
        }
    }
}

impl Failure {
    fn transient(reason: String) -> Self {
        Failure {
            error: GithubError::Transient(reason),
            wait: None,
            already_exists: false,
        }
    }

    pub(super) fn permanent(reason: String) -> Self {
        Failure {
            error: GithubError::Permanent(reason),
            wait: None,
            already_exists: false,
        }
    }

    pub(super) fn into_error(self) -> GithubError {
        self.error
    }

    /// Sorts a non-2xx answer. `now` is for `x-ratelimit-reset`, which is an absolute time.
    pub(super) fn from_response(
        operation: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Self {
        let answer = sort(operation, status, headers, body, now);
        let what = answer.what;
        match answer.kind {
            Kind::RateLimited(wait) => {
                let mut failure = Failure::transient(format!(
                    "{what} (rate limited; retry after {}s)",
                    wait.as_secs()
                ));
                failure.wait = Some(wait);
                failure
            }
            Kind::Unavailable => Failure::transient(what),
            // GitHub answers 301 for a renamed repository.
            Kind::Redirect => Failure::permanent(format!(
                "{what} (a redirect: check the base URL and the repository name)"
            )),
            Kind::Refused => {
                let mut failure = Failure::permanent(what);
                failure.already_exists = answer.already_exists;
                failure
            }
        }
    }

    pub(super) fn network(operation: &str, error: reqwest::Error) -> Self {
        // A request that cannot even be built will never be.
        if error.is_builder() {
            return Failure::permanent(format!("{operation}: the request could not be built"));
        }
        Failure::transient(format!("{operation}: {}", crate::outbound::describe(error)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use reqwest::header::HeaderValue;

    use super::*;
    use crate::outbound::github::{DEFAULT_RATE_LIMIT_WAIT, MAX_DETAIL};

    fn sort(status: u16, headers: &[(&str, &str)], body: &str) -> Failure {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        Failure::from_response(
            "o/r: create pull request",
            StatusCode::from_u16(status).unwrap(),
            &map,
            body.as_bytes(),
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )
    }

    #[test]
    fn statuses_are_sorted_by_whether_waiting_helps() {
        for status in [500, 502, 503, 504, 408] {
            let failure = sort(status, &[], "");
            assert!(
                matches!(failure.error, GithubError::Transient(_)),
                "{status}"
            );
            assert_eq!(failure.wait, None, "{status}");
        }
        for status in [400, 401, 404, 409, 410, 422, 301] {
            let failure = sort(status, &[], r#"{"message":"Nope"}"#);
            assert!(
                matches!(failure.error, GithubError::Permanent(_)),
                "{status}"
            );
            assert!(failure.error.to_string().contains("Nope"), "{status}");
            assert!(!failure.already_exists);
        }
        let refused = sort(
            403,
            &[],
            r#"{"message":"Resource not accessible by integration"}"#,
        );
        assert!(matches!(refused.error, GithubError::Permanent(_)));
    }

    #[test]
    fn rate_limits_come_as_429_or_403_and_say_how_long_to_wait() {
        let secondary = sort(
            403,
            &[("retry-after", "12")],
            r#"{"message":"You have exceeded a secondary rate limit."}"#,
        );
        assert!(matches!(secondary.error, GithubError::Transient(_)));
        assert_eq!(secondary.wait, Some(Duration::from_secs(12)));

        let primary = sort(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1700000020"),
            ],
            r#"{"message":"API rate limit exceeded for user ID 1."}"#,
        );
        assert!(matches!(primary.error, GithubError::Transient(_)));
        assert_eq!(primary.wait, Some(Duration::from_secs(21)));

        // A reset already past still waits a moment rather than not at all.
        let past = sort(
            429,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1600000000"),
            ],
            "",
        );
        assert_eq!(past.wait, Some(Duration::from_secs(1)));

        // With nothing to go on, GitHub asks for at least a minute.
        let bare = sort(429, &[], "");
        assert_eq!(bare.wait, Some(DEFAULT_RATE_LIMIT_WAIT));
        let message_only = sort(403, &[], r#"{"message":"secondary rate limit"}"#);
        assert_eq!(message_only.wait, Some(DEFAULT_RATE_LIMIT_WAIT));

        // Some requests remaining: x-ratelimit-reset alone does not make a 403 a rate limit.
        let forbidden = sort(
            403,
            &[
                ("x-ratelimit-remaining", "4999"),
                ("x-ratelimit-reset", "1700000020"),
            ],
            r#"{"message":"Must have admin rights to Repository."}"#,
        );
        assert!(matches!(forbidden.error, GithubError::Permanent(_)));
    }

    #[test]
    fn an_existing_pull_request_is_recognised_in_githubs_422() {
        let body = r#"{
            "message": "Validation Failed",
            "errors": [{
                "resource": "PullRequest",
                "code": "custom",
                "message": "A pull request already exists for octo-org:postmortem/db."
            }],
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
            "status": "422"
        }"#;
        let failure = sort(422, &[], body);
        assert!(failure.already_exists);
        assert!(matches!(failure.error, GithubError::Permanent(_)));
        let text = failure.error.to_string();
        assert!(
            text.contains("Validation Failed; A pull request already exists"),
            "{text}"
        );

        let other = sort(
            422,
            &[],
            r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"No commits between main and postmortem/db"}]}"#,
        );
        assert!(!other.already_exists);
        let missing = sort(
            422,
            &[],
            r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","field":"base","code":"invalid"}]}"#,
        );
        assert!(missing.error.to_string().contains("base: invalid"));
    }

    #[test]
    fn long_or_multiline_details_are_bounded() {
        let page = format!("{{\"message\":\"{}\\nsecond line\"}}", "x".repeat(1000));
        let failure = sort(400, &[], &page);
        let text = failure.error.to_string();
        assert!(!text.contains('\n'));
        assert!(text.chars().count() < MAX_DETAIL + 100, "{}", text.len());
        // Not JSON at all (an HTML error page): the status still says enough.
        let html = sort(502, &[], "<html>Bad gateway</html>");
        assert!(
            html.error.to_string().ends_with("HTTP 502"),
            "{}",
            html.error
        );
    }
}
