//! Follow-up actions as issues in the team's tracker (GitHub Issues or Jira Cloud), and what the
//! trackers tell Scribe back (`webhook`).
//!
//! A job runs at least once, so [`Tracker::ensure`] must create an issue at most once: every
//! issue carries its action's `marker` in its text, and before each create the tracker is asked
//! for it. A create whose answer was lost is found by the next attempt instead of repeated.
//! Each call retries inside ([`crate::outbound::retry`]); callers see a final answer.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};

use crate::config::{Config, Secrets, TrackerKind};
use crate::jobs::JobError;
use crate::outbound::{Again, Retries, Retryable};

pub mod github;
pub mod jira;
pub mod webhook;

pub use github::GithubIssues;
pub use jira::JiraIssues;

/// Three attempts per call; a wait longer than 30 s is the job worker's to schedule.
const RETRIES: Retries = Retries {
    attempts: 3,
    base: Duration::from_millis(250),
    max_wait: Duration::from_secs(30),
};
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// What an issue should say. The tracker's own fields (state, comments) are left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueSpec {
    pub title: String,
    pub body: String,
    /// Unique to the action, e.g. `scribe-action:1a2b3c4d`: letters, digits and `:._-` only,
    /// since it goes into HTML comments and search queries. It is how a retry finds the issue
    /// its earlier attempt created.
    pub marker: String,
    pub due: Option<chrono::NaiveDate>,
    /// A tracker login: a GitHub login, or a Jira accountId.
    pub assignee: Option<String>,
    /// GitHub only; the configured labels are added to these.
    pub labels: Vec<String>,
}

/// An issue Scribe made, as it is stored with its action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedIssue {
    /// What people call it: `#123` or `OPS-45`.
    pub key: String,
    /// Its page, for people.
    pub url: String,
    /// What the API calls it: the GitHub issue number, or the Jira issue id.
    pub api_id: String,
}

impl TrackedIssue {
    /// The issue an action names by its key (`#123`, `OPS-45`): GitHub's API takes the number,
    /// Jira's the key as well as the id.
    pub fn from_key(key: &str, url: Option<&str>) -> TrackedIssue {
        TrackedIssue {
            key: key.to_owned(),
            url: url.unwrap_or_default().to_owned(),
            api_id: key.trim_start_matches('#').to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueState {
    Open,
    Closed,
}

/// Why a tracker call failed, sorted by what the caller can do about it. Messages name the
/// tracker, the operation, the HTTP status and the tracker's own message; never a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    /// Network trouble, a 5xx, or a rate limit that outlasted the retries: worth trying later.
    #[error("issue tracker transient failure: {0}")]
    Transient(String),
    /// The tracker refused (bad credentials, no such project, invalid input): fix something.
    #[error("issue tracker refused: {0}")]
    Permanent(String),
    /// The issue is not there any more (deleted, 404 or 410).
    #[error("issue gone: {0}")]
    Gone(String),
}

impl From<TrackerError> for JobError {
    fn from(error: TrackerError) -> Self {
        match error {
            TrackerError::Transient(_) => JobError::Transient(error.to_string()),
            TrackerError::Permanent(_) | TrackerError::Gone(_) => {
                JobError::Permanent(error.to_string())
            }
        }
    }
}

/// The configured tracker.
#[derive(Debug, Clone)]
pub enum Tracker {
    Github(GithubIssues),
    Jira(JiraIssues),
}

impl Tracker {
    /// How people call it, for the author of what it tells Scribe.
    pub fn name(&self) -> &'static str {
        match self {
            Tracker::Github(_) => "GitHub",
            Tracker::Jira(_) => "Jira",
        }
    }

    /// The tracker `[followups]` names, or `None` for `tracker = "none"`. The keys and secrets
    /// it needs were checked at load; a credential a header cannot carry is refused here.
    pub fn from_config(
        config: &Config,
        secrets: &Secrets,
    ) -> Result<Option<Tracker>, TrackerError> {
        let followups = &config.followups;
        let unset = |what: &str| TrackerError::Permanent(format!("{what} is not set"));
        match followups.tracker {
            TrackerKind::None => Ok(None),
            TrackerKind::Github => {
                let github = &followups.github;
                let repository = github
                    .repository
                    .as_ref()
                    .ok_or_else(|| unset("followups.github.repository"))?;
                let token = secrets
                    .github_token
                    .clone()
                    .ok_or_else(|| unset("GITHUB_TOKEN"))?;
                let client = GithubIssues::new(
                    github.api_base_url.clone(),
                    repository,
                    token,
                    github.labels.clone(),
                )?;
                Ok(Some(Tracker::Github(client)))
            }
            TrackerKind::Jira => {
                let jira = &followups.jira;
                let base = jira
                    .base_url
                    .clone()
                    .ok_or_else(|| unset("followups.jira.base_url"))?;
                let project = jira
                    .project
                    .clone()
                    .ok_or_else(|| unset("followups.jira.project"))?;
                let email = secrets
                    .jira_email
                    .clone()
                    .ok_or_else(|| unset("JIRA_EMAIL"))?;
                let token = secrets
                    .jira_api_token
                    .clone()
                    .ok_or_else(|| unset("JIRA_API_TOKEN"))?;
                let client = JiraIssues::new(base, project, &jira.issue_type, email, token)?;
                Ok(Some(Tracker::Jira(client)))
            }
        }
    }

    /// The issue carrying `spec.marker`, created from `spec` if there is none; a create whose
    /// answer was lost is found, not repeated.
    pub async fn ensure(&self, spec: &IssueSpec) -> Result<TrackedIssue, TrackerError> {
        match self {
            Tracker::Github(client) => client.ensure(spec).await,
            Tracker::Jira(client) => client.ensure(spec).await,
        }
    }

    /// Brings `issue` to `spec`'s title, text, due date and assignee.
    pub async fn update(&self, issue: &TrackedIssue, spec: &IssueSpec) -> Result<(), TrackerError> {
        match self {
            Tracker::Github(client) => client.update(issue, spec).await,
            Tracker::Jira(client) => client.update(issue, spec).await,
        }
    }

    pub async fn state(&self, issue: &TrackedIssue) -> Result<IssueState, TrackerError> {
        match self {
            Tracker::Github(client) => client.state(issue).await,
            Tracker::Jira(client) => client.state(issue).await,
        }
    }

    /// Each issue's state by key, one call each; the first failure ends the walk.
    pub async fn states(
        &self,
        issues: &[TrackedIssue],
    ) -> Result<Vec<(String, IssueState)>, TrackerError> {
        let mut states = Vec::with_capacity(issues.len());
        for issue in issues {
            states.push((issue.key.clone(), self.state(issue).await?));
        }
        Ok(states)
    }
}

/// Refuses a spec no tracker should get: an empty title, or a marker that could end the HTML
/// comment or the search phrase it travels in.
fn check_spec(spec: &IssueSpec) -> Result<(), TrackerError> {
    if spec.title.trim().is_empty() {
        return Err(TrackerError::Permanent("an issue needs a title".to_owned()));
    }
    let marker_ok = !spec.marker.is_empty()
        && spec.marker.len() <= 100
        && spec
            .marker
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":._-".contains(c));
    if !marker_ok {
        return Err(TrackerError::Permanent(format!(
            "the action marker {:?} must be 1 to 100 letters, digits and `:._-`",
            spec.marker
        )));
    }
    Ok(())
}

/// A failed attempt, with how long the tracker asked us to wait, when it did.
#[derive(Debug)]
struct Failure {
    error: TrackerError,
    wait: Option<Duration>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl Retryable for Failure {
    fn again(&self) -> Again {
        match (&self.error, self.wait) {
            (TrackerError::Transient(_), Some(wait)) => Again::After(wait),
            (TrackerError::Transient(_), None) => Again::Backoff,
            _ => Again::No,
        }
    }
}

impl Failure {
    fn transient(reason: String) -> Self {
        Failure {
            error: TrackerError::Transient(reason),
            wait: None,
        }
    }

    fn permanent(reason: String) -> Self {
        Failure {
            error: TrackerError::Permanent(reason),
            wait: None,
        }
    }

    fn rate_limited(what: String, wait: Duration) -> Self {
        Failure {
            error: TrackerError::Transient(format!(
                "{what} (rate limited; retry after {}s)",
                wait.as_secs()
            )),
            wait: Some(wait),
        }
    }

    fn network(operation: &str, error: reqwest::Error) -> Self {
        if error.is_builder() {
            return Failure::permanent(format!("{operation}: the request could not be built"));
        }
        Failure::transient(format!("{operation}: {}", crate::outbound::describe(error)))
    }
}

impl From<Failure> for TrackerError {
    fn from(failure: Failure) -> Self {
        failure.error
    }
}

/// A non-2xx answer: its status, headers and body, for the tracker's client to sort.
struct Refused {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Sends `request`: the body of a 2xx answer, a [`Refused`] for any other, or the network
/// failure.
async fn send(
    operation: &str,
    request: RequestBuilder,
) -> Result<Result<Vec<u8>, Refused>, Failure> {
    let response = request
        .send()
        .await
        .map_err(|e| Failure::network(operation, e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| Failure::network(operation, e))?
        .to_vec();
    if status.is_success() {
        Ok(Ok(body))
    } else {
        Ok(Err(Refused {
            status,
            headers,
            body,
        }))
    }
}

/// `text`'s JSON as `T`, or a permanent failure naming the operation.
fn parse<T: serde::de::DeserializeOwned>(
    operation: &str,
    tracker: &str,
    text: &[u8],
) -> Result<T, Failure> {
    serde_json::from_slice(text).map_err(|_| {
        Failure::permanent(format!(
            "{operation}: {tracker}'s answer was not understood"
        ))
    })
}

/// A token must be set and fit in a header.
fn check_credential(value: &str, what: &str) -> Result<(), TrackerError> {
    if value.trim().is_empty() {
        return Err(TrackerError::Permanent(format!("the {what} is empty")));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(TrackerError::Permanent(format!(
            "the {what} has characters a header cannot carry"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(title: &str, marker: &str) -> IssueSpec {
        IssueSpec {
            title: title.to_owned(),
            body: String::new(),
            marker: marker.to_owned(),
            due: None,
            assignee: None,
            labels: Vec::new(),
        }
    }

    #[test]
    fn markers_stay_inside_comments_and_queries() {
        assert!(check_spec(&spec("Fix", "scribe-action:1a2b.3_c")).is_ok());
        for bad in ["", "a -->", "a\"b", "a b", "a\\b", &"x".repeat(101)] {
            assert!(check_spec(&spec("Fix", bad)).is_err(), "{bad:?}");
        }
        assert!(check_spec(&spec(" ", "m")).is_err());
    }

    #[test]
    fn a_deleted_issue_fails_the_job_for_good() {
        let gone: JobError = TrackerError::Gone("#3".into()).into();
        assert!(matches!(gone, JobError::Permanent(_)));
        let later: JobError = TrackerError::Transient("x".into()).into();
        assert!(matches!(later, JobError::Transient(_)));
    }
}
