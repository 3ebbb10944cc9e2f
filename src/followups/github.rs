//! GitHub Issues (REST, API version 2022-11-28): an action's issue in one repository.
//!
//! The marker travels as an HTML comment at the end of the body, invisible on the page. Search
//! is eventually consistent (a minute or more behind), so an issue is looked for in the newest
//! issues first (`List repository issues`, which also returns pull requests, skipped here),
//! then by search. GitHub issues have no due date: it goes into the body.

use std::time::SystemTime;

use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use super::{
    Failure, IssueSpec, IssueState, RETRIES, Refused, TrackedIssue, TrackerError, check_credential,
    check_spec, parse, send,
};
use crate::config::{Repository, Secret};
use crate::outbound::github::{Kind, sort};
use crate::outbound::retry;

const MEDIA_TYPE: &str = "application/vnd.github+json";
const API_VERSION: &str = "2022-11-28";
/// The newest issues a retry looks through before asking search.
const RECENT: &str = "100";

/// A GitHub Issues client for one repository. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GithubIssues {
    http: reqwest::Client,
    /// `https://api.github.com/` or a GitHub Enterprise Server's `…/api/v3/`.
    base: Url,
    owner: String,
    name: String,
    token: Secret,
    /// Added to every issue's own labels.
    labels: Vec<String>,
}

/// The part of an issue (or of a pull request, in listings) this client reads.
#[derive(Debug, Deserialize)]
struct IssueRecord {
    number: u64,
    html_url: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    body: Option<String>,
    /// Present on pull requests only.
    #[serde(default)]
    pull_request: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct SearchAnswer {
    items: Vec<IssueRecord>,
}

impl IssueRecord {
    fn tracked(&self) -> TrackedIssue {
        TrackedIssue {
            key: format!("#{}", self.number),
            url: self.html_url.clone(),
            api_id: self.number.to_string(),
        }
    }

    fn carries(&self, marker: &str) -> bool {
        self.pull_request.is_none()
            && self
                .body
                .as_deref()
                .is_some_and(|body| body.contains(&comment(marker)))
    }
}

/// How the marker is written in a body.
fn comment(marker: &str) -> String {
    format!("<!-- {marker} -->")
}

/// The issue's body: the text, the due date, the marker.
fn body(spec: &IssueSpec) -> String {
    let mut body = spec.body.trim_end().to_owned();
    if let Some(due) = spec.due {
        if !body.is_empty() {
            body.push_str("\n\n");
        }
        body.push_str(&format!("**Due:** {}", due.format("%Y-%m-%d")));
    }
    if !body.is_empty() {
        body.push_str("\n\n");
    }
    body.push_str(&comment(&spec.marker));
    body
}

impl GithubIssues {
    /// Refuses an empty token or one a header cannot carry, and a base URL that would not keep
    /// the token safe ([`crate::outbound::check_base`]).
    pub fn new(
        base_url: Url,
        repository: &Repository,
        token: Secret,
        labels: Vec<String>,
    ) -> Result<Self, TrackerError> {
        let base =
            crate::outbound::check_base(base_url, "GitHub").map_err(TrackerError::Permanent)?;
        check_credential(token.expose(), "GitHub token")?;
        Ok(GithubIssues {
            http: crate::outbound::client(super::CONNECT_TIMEOUT, super::REQUEST_TIMEOUT),
            base,
            owner: repository.owner().to_owned(),
            name: repository.name().to_owned(),
            token,
            labels,
        })
    }

    /// `owner/name`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// The issue carrying `spec.marker`, else a new one. A create is sent once per attempt and
    /// never retried blindly: after a failure the next attempt looks for it first.
    pub async fn ensure(&self, spec: &IssueSpec) -> Result<TrackedIssue, TrackerError> {
        check_spec(spec)?;
        let operation = format!("GitHub {}: create issue", self.repository());
        retry(RETRIES, &operation, || async {
            if let Some(found) = self.find(&spec.marker).await? {
                return Ok(found.tracked());
            }
            let created: IssueRecord = self
                .call_once(
                    &operation,
                    Method::POST,
                    &self.url(&["issues"]),
                    Some(&self.fields(spec)),
                    false,
                )
                .await?;
            tracing::info!(
                repository = %self.repository(),
                number = created.number,
                "opened a GitHub issue"
            );
            Ok(created.tracked())
        })
        .await
        .map_err(|failure: Failure| failure.error)
    }

    pub async fn update(&self, issue: &TrackedIssue, spec: &IssueSpec) -> Result<(), TrackerError> {
        check_spec(spec)?;
        let operation = format!("GitHub {}: update issue {}", self.repository(), issue.key);
        let request = json!({
            "title": spec.title,
            "body": body(spec),
            "assignees": spec.assignee.iter().collect::<Vec<_>>(),
        });
        let _: IssueRecord = self
            .call(
                &operation,
                Method::PATCH,
                &self.issue_url(issue),
                Some(&request),
                true,
            )
            .await?;
        Ok(())
    }

    pub async fn state(&self, issue: &TrackedIssue) -> Result<IssueState, TrackerError> {
        let operation = format!("GitHub {}: read issue {}", self.repository(), issue.key);
        let record: IssueRecord = self
            .call(&operation, Method::GET, &self.issue_url(issue), None, true)
            .await?;
        Ok(if record.state == "closed" {
            IssueState::Closed
        } else {
            IssueState::Open
        })
    }

    /// The issue carrying `marker`: among the newest issues (consistent at once), then by
    /// search (which reaches older ones).
    async fn find(&self, marker: &str) -> Result<Option<IssueRecord>, Failure> {
        let mut url = self.url(&["issues"]);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("state", "all");
            if let Some(label) = self.all_labels(&[]).first() {
                query.append_pair("labels", label);
            }
            query
                .append_pair("per_page", RECENT)
                .append_pair("sort", "created")
                .append_pair("direction", "desc");
        }
        let operation = format!("GitHub {}: list issues", self.repository());
        let recent: Vec<IssueRecord> = self
            .call(&operation, Method::GET, &url, None, false)
            .await?;
        if let Some(found) = recent.into_iter().find(|i| i.carries(marker)) {
            return Ok(Some(found));
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("the base URL was checked to take a path")
            .pop_if_empty()
            .extend(["search", "issues"]);
        url.query_pairs_mut().append_pair(
            "q",
            &format!("\"{marker}\" repo:{} in:body type:issue", self.repository()),
        );
        let operation = format!("GitHub {}: search issues", self.repository());
        let found: SearchAnswer = self
            .call(&operation, Method::GET, &url, None, false)
            .await?;
        Ok(found.items.into_iter().find(|i| i.carries(marker)))
    }

    fn fields(&self, spec: &IssueSpec) -> Value {
        json!({
            "title": spec.title,
            "body": body(spec),
            "labels": self.all_labels(&spec.labels),
            "assignees": spec.assignee.iter().collect::<Vec<_>>(),
        })
    }

    /// The configured labels, then the spec's, each once.
    fn all_labels(&self, own: &[String]) -> Vec<String> {
        let mut labels: Vec<String> = Vec::new();
        for label in self.labels.iter().chain(own) {
            if !label.trim().is_empty() && !labels.contains(label) {
                labels.push(label.clone());
            }
        }
        labels
    }

    /// `…/repos/{owner}/{name}/{rest…}`, each segment escaped.
    fn url(&self, rest: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("the base URL was checked to take a path")
            .pop_if_empty()
            .extend(["repos", &self.owner, &self.name])
            .extend(rest);
        url
    }

    fn issue_url(&self, issue: &TrackedIssue) -> Url {
        self.url(&["issues", &issue.api_id])
    }

    /// One idempotent call, retried as GitHub's answers allow.
    async fn call<T: DeserializeOwned>(
        &self,
        operation: &str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        on_issue: bool,
    ) -> Result<T, Failure> {
        retry(RETRIES, operation, || {
            self.call_once(operation, method.clone(), url, body, on_issue)
        })
        .await
    }

    /// One attempt. `on_issue`: the URL names an issue, so 404 and 410 mean it is gone.
    async fn call_once<T: DeserializeOwned>(
        &self,
        operation: &str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        on_issue: bool,
    ) -> Result<T, Failure> {
        let mut request = self
            .http
            .request(method, url.clone())
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, MEDIA_TYPE)
            .header("x-github-api-version", API_VERSION);
        if let Some(body) = body {
            request = request.json(body);
        }
        match send(operation, request).await? {
            Ok(text) => parse(operation, "GitHub", &text),
            Err(refused) => Err(sorted(operation, &refused, on_issue)),
        }
    }
}

/// GitHub's answer sorted as for pull requests, with 404 and 410 on an issue meaning gone.
fn sorted(operation: &str, refused: &Refused, on_issue: bool) -> Failure {
    let answer = sort(
        operation,
        refused.status,
        &refused.headers,
        &refused.body,
        SystemTime::now(),
    );
    let what = answer.what;
    match answer.kind {
        Kind::RateLimited(wait) => Failure::rate_limited(what, wait),
        Kind::Unavailable => Failure::transient(what),
        Kind::Redirect => Failure::permanent(format!(
            "{what} (a redirect: check the base URL and the repository name)"
        )),
        Kind::Refused if on_issue && matches!(refused.status.as_u16(), 404 | 410) => Failure {
            error: TrackerError::Gone(what),
            wait: None,
        },
        Kind::Refused => Failure::permanent(what),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_ends_with_the_due_date_and_the_hidden_marker() {
        let mut spec = IssueSpec {
            title: "Alert on queue depth".into(),
            body: "From the checkout incident.\n".into(),
            marker: "scribe-action:1a2b".into(),
            due: chrono::NaiveDate::from_ymd_opt(2024, 5, 31),
            assignee: None,
            labels: Vec::new(),
        };
        assert_eq!(
            body(&spec),
            "From the checkout incident.\n\n**Due:** 2024-05-31\n\n<!-- scribe-action:1a2b -->"
        );
        spec.body.clear();
        spec.due = None;
        assert_eq!(body(&spec), "<!-- scribe-action:1a2b -->");
    }

    #[test]
    fn a_marker_is_matched_whole_and_never_on_a_pull_request() {
        let record = |body: &str, pull: bool| IssueRecord {
            number: 1,
            html_url: String::new(),
            state: "open".into(),
            body: Some(body.into()),
            pull_request: pull.then(|| json!({})),
        };
        assert!(record("x\n<!-- scribe-action:ab -->", false).carries("scribe-action:ab"));
        assert!(!record("<!-- scribe-action:abc -->", false).carries("scribe-action:ab"));
        assert!(!record("<!-- scribe-action:ab -->", true).carries("scribe-action:ab"));
    }
}
