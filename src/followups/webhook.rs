//! What GitHub and Jira tell Scribe about the issues (and pull requests) it follows: checked,
//! then read into the little Scribe needs. Pure functions; the HTTP route is the server's.
//!
//! GitHub signs each delivery with the webhook's secret (`X-Hub-Signature-256`). Jira Cloud's
//! plain webhooks are not signed, so the secret travels in the URL Jira calls and the caller
//! compares it with [`verify_shared`].

use serde::Deserialize;
use serde_json::Value;

use super::IssueState;
use crate::signing;

/// Larger deliveries are refused unread: GitHub caps its own at 25 MB, but what Scribe reads
/// fits in far less.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    #[error("the webhook body is over {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the webhook body is not the JSON expected: {0}")]
    Malformed(String),
}

/// What a GitHub delivery says, when it is about something Scribe follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GithubHook {
    /// An issue was closed or reopened.
    Issue {
        /// `owner/name`.
        repository: String,
        number: u64,
        state: IssueState,
    },
    PullOpened {
        repository: String,
        number: u64,
        head_ref: String,
    },
    PullMerged {
        repository: String,
        number: u64,
        head_ref: String,
    },
}

/// A Jira issue's state after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JiraHook {
    pub key: String,
    pub state: IssueState,
}

/// Whether `header` (`X-Hub-Signature-256: sha256=<hex>`) is the HMAC-SHA256 of `body` under
/// `secret`, compared in constant time. A missing or malformed header is not.
pub fn verify_github(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(tag) = header
        .and_then(|h| h.trim().strip_prefix("sha256="))
        .and_then(|hex| hex::decode(hex).ok())
        .filter(|tag| tag.len() == 32)
    else {
        return false;
    };
    !secret.is_empty() && signing::verify(secret, &[body], &tag)
}

/// The `X-Hub-Signature-256` GitHub would send for `body`: for tests and fakes.
pub fn sign_github(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", signing::sign_hex(secret, &[body]))
}

/// Whether the secret Jira's URL carried is the expected one, compared in constant time.
pub fn verify_shared(expected: &str, given: &str) -> bool {
    !expected.is_empty() && signing::same(expected.as_bytes(), given.as_bytes())
}

#[derive(Debug, Deserialize)]
struct GithubPayload {
    #[serde(default)]
    action: String,
    repository: Option<Repo>,
    issue: Option<Numbered>,
    pull_request: Option<Pull>,
}

#[derive(Debug, Deserialize)]
struct Repo {
    full_name: String,
}

#[derive(Debug, Deserialize)]
struct Numbered {
    number: u64,
}

#[derive(Debug, Deserialize)]
struct Pull {
    number: u64,
    #[serde(default)]
    merged: bool,
    head: Head,
}

#[derive(Debug, Deserialize)]
struct Head {
    #[serde(rename = "ref")]
    name: String,
}

fn bounded(body: &[u8]) -> Result<(), HookError> {
    if body.len() > MAX_BODY_BYTES {
        Err(HookError::TooLarge)
    } else {
        Ok(())
    }
}

/// Reads a delivery of event `event` (`X-GitHub-Event`): issues closed or reopened, pull
/// requests opened or merged; `Ok(None)` for everything else (`ping` included).
pub fn parse_github(event: &str, body: &[u8]) -> Result<Option<GithubHook>, HookError> {
    bounded(body)?;
    if event != "issues" && event != "pull_request" {
        return Ok(None);
    }
    let payload: GithubPayload =
        serde_json::from_slice(body).map_err(|e| HookError::Malformed(e.to_string()))?;
    let missing = |what: &str| HookError::Malformed(format!("a {event} event without {what}"));
    let repository = || {
        payload
            .repository
            .as_ref()
            .map(|r| r.full_name.clone())
            .ok_or_else(|| missing("repository"))
    };
    match (event, payload.action.as_str()) {
        ("issues", action @ ("closed" | "reopened")) => {
            let issue = payload.issue.as_ref().ok_or_else(|| missing("issue"))?;
            Ok(Some(GithubHook::Issue {
                repository: repository()?,
                number: issue.number,
                state: if action == "closed" {
                    IssueState::Closed
                } else {
                    IssueState::Open
                },
            }))
        }
        ("pull_request", action @ ("opened" | "closed")) => {
            let pull = payload
                .pull_request
                .as_ref()
                .ok_or_else(|| missing("pull_request"))?;
            let (repository, number, head_ref) =
                (repository()?, pull.number, pull.head.name.clone());
            Ok(match action {
                "opened" => Some(GithubHook::PullOpened {
                    repository,
                    number,
                    head_ref,
                }),
                _ if pull.merged => Some(GithubHook::PullMerged {
                    repository,
                    number,
                    head_ref,
                }),
                _ => None,
            })
        }
        _ => Ok(None),
    }
}

/// Reads a Jira delivery: `jira:issue_updated` gives the issue's key and state (its status
/// category `done` is closed); `Ok(None)` for every other event.
pub fn parse_jira(body: &[u8]) -> Result<Option<JiraHook>, HookError> {
    bounded(body)?;
    let payload: Value =
        serde_json::from_slice(body).map_err(|e| HookError::Malformed(e.to_string()))?;
    if payload.get("webhookEvent").and_then(Value::as_str) != Some("jira:issue_updated") {
        return Ok(None);
    }
    let issue = &payload["issue"];
    let key = issue["key"]
        .as_str()
        .ok_or_else(|| HookError::Malformed("jira:issue_updated without issue.key".into()))?;
    let category = issue["fields"]["status"]["statusCategory"]["key"]
        .as_str()
        .ok_or_else(|| {
            HookError::Malformed("jira:issue_updated without the status category".into())
        })?;
    Ok(Some(JiraHook {
        key: key.to_owned(),
        state: if category == "done" {
            IssueState::Closed
        } else {
            IssueState::Open
        },
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"It's a Secret to Everybody";
    /// GitHub's worked example ("Validating webhook deliveries").
    const GITHUB_EXAMPLE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_documented_example_verifies() {
        assert_eq!(sign_github(SECRET, b"Hello, World!"), GITHUB_EXAMPLE);
        assert!(verify_github(
            SECRET,
            b"Hello, World!",
            Some(GITHUB_EXAMPLE)
        ));
        let upper = format!("sha256={}", GITHUB_EXAMPLE[7..].to_uppercase());
        assert!(verify_github(SECRET, b"Hello, World!", Some(&upper)));
    }

    #[test]
    fn forged_or_missing_signatures_are_refused() {
        let body = b"Hello, World!";
        assert!(!verify_github(
            SECRET,
            b"Hello, World?",
            Some(GITHUB_EXAMPLE)
        ));
        assert!(!verify_github(
            b"another secret",
            body,
            Some(GITHUB_EXAMPLE)
        ));
        assert!(!verify_github(b"", body, Some(&sign_github(b"", body))));
        assert!(!verify_github(SECRET, body, None));
        for header in [
            "",
            "sha256=",
            &GITHUB_EXAMPLE[7..],
            &GITHUB_EXAMPLE.replace("sha256", "sha1"),
            &GITHUB_EXAMPLE[..GITHUB_EXAMPLE.len() - 2],
            &format!("{GITHUB_EXAMPLE}00"),
            &format!("{}zz", &GITHUB_EXAMPLE[..GITHUB_EXAMPLE.len() - 2]),
        ] {
            assert!(!verify_github(SECRET, body, Some(header)), "{header:?}");
        }
    }

    #[test]
    fn shared_secrets_compare_whole() {
        assert!(verify_shared("s3cret", "s3cret"));
        assert!(!verify_shared("s3cret", "s3cre"));
        assert!(!verify_shared("s3cret", "s3cret!"));
        assert!(!verify_shared("", ""));
    }

    fn github(event: &str, payload: Value) -> Result<Option<GithubHook>, HookError> {
        parse_github(event, payload.to_string().as_bytes())
    }

    const REPOSITORY: &str = "octo-org/ops";

    fn issue_event(action: &str) -> Value {
        json!({
            "action": action,
            "issue": { "number": 12, "state": "closed", "title": "x" },
            "repository": { "full_name": REPOSITORY },
            "sender": { "login": "sam" },
        })
    }

    fn pull_event(action: &str, merged: bool) -> Value {
        json!({
            "action": action,
            "number": 7,
            "pull_request": { "number": 7, "merged": merged, "head": { "ref": "fix/queue" } },
            "repository": { "full_name": REPOSITORY },
        })
    }

    #[test]
    fn issues_closed_and_reopened_are_read() {
        assert_eq!(
            github("issues", issue_event("closed")),
            Ok(Some(GithubHook::Issue {
                repository: REPOSITORY.into(),
                number: 12,
                state: IssueState::Closed,
            }))
        );
        let reopened = github("issues", issue_event("reopened")).unwrap().unwrap();
        assert!(matches!(
            reopened,
            GithubHook::Issue {
                state: IssueState::Open,
                ..
            }
        ));
        for other in ["opened", "edited", "labeled", "assigned"] {
            assert_eq!(github("issues", issue_event(other)), Ok(None), "{other}");
        }
    }

    #[test]
    fn pull_requests_opened_and_merged_are_read_and_closed_unmerged_is_not() {
        assert_eq!(
            github("pull_request", pull_event("opened", false)),
            Ok(Some(GithubHook::PullOpened {
                repository: REPOSITORY.into(),
                number: 7,
                head_ref: "fix/queue".into(),
            }))
        );
        assert_eq!(
            github("pull_request", pull_event("closed", true)),
            Ok(Some(GithubHook::PullMerged {
                repository: REPOSITORY.into(),
                number: 7,
                head_ref: "fix/queue".into(),
            }))
        );
        assert_eq!(
            github("pull_request", pull_event("closed", false)),
            Ok(None)
        );
        assert_eq!(
            github("pull_request", pull_event("synchronize", false)),
            Ok(None)
        );
    }

    #[test]
    fn pings_and_other_events_are_ignored_and_bad_bodies_refused() {
        assert_eq!(
            github("ping", json!({ "zen": "Keep it simple." })),
            Ok(None)
        );
        assert_eq!(parse_github("push", b"not even json"), Ok(None));
        assert!(matches!(
            parse_github("issues", b"{not json"),
            Err(HookError::Malformed(_))
        ));
        assert!(matches!(
            github(
                "issues",
                json!({ "action": "closed", "issue": { "number": 1 } })
            ),
            Err(HookError::Malformed(_))
        ));
        let huge = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(parse_github("issues", &huge), Err(HookError::TooLarge));
        assert_eq!(parse_jira(&huge), Err(HookError::TooLarge));
    }

    fn jira(event: &str, category: &str) -> Result<Option<JiraHook>, HookError> {
        let payload = json!({
            "timestamp": 1_700_000_000_000u64,
            "webhookEvent": event,
            "issue_event_type_name": "issue_generic",
            "issue": {
                "id": "10002",
                "key": "OPS-45",
                "fields": {
                    "status": {
                        "name": "Done",
                        "statusCategory": { "id": 3, "key": category, "name": "Done" },
                    },
                },
            },
        });
        parse_jira(payload.to_string().as_bytes())
    }

    #[test]
    fn jira_updates_give_the_issue_and_its_status_category() {
        assert_eq!(
            jira("jira:issue_updated", "done"),
            Ok(Some(JiraHook {
                key: "OPS-45".into(),
                state: IssueState::Closed,
            }))
        );
        for open in ["new", "indeterminate"] {
            let hook = jira("jira:issue_updated", open).unwrap().unwrap();
            assert_eq!(hook.state, IssueState::Open, "{open}");
        }
        assert_eq!(jira("jira:issue_created", "done"), Ok(None));
        assert_eq!(jira("comment_created", "done"), Ok(None));
        assert!(matches!(
            parse_jira(br#"{"webhookEvent":"jira:issue_updated","issue":{"key":"OPS-1"}}"#),
            Err(HookError::Malformed(_))
        ));
        assert!(matches!(parse_jira(b"[]"), Ok(None)));
    }
}
