//! Jira Cloud (REST v3, basic auth with an account's email and API token): an action's issue in
//! one project.
//!
//! The description is an Atlassian Document Format document whose last paragraph is the
//! marker, which the enhanced JQL search (`POST /rest/api/3/search/jql`, `text ~ "…"`) finds
//! again. Jira has a due date field; done is a status category (`done`), whatever the workflow
//! names its statuses.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::{
    Failure, IssueSpec, IssueState, RETRIES, Refused, TrackedIssue, TrackerError, check_credential,
    check_spec, parse, send,
};
use crate::config::{ProjectKey, Secret};
use crate::outbound::retry;

/// Jira's 429 says how long to wait; without it, a minute is its documented advice.
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// Jira's messages are short; anything longer is a proxy's page.
const MAX_DETAIL: usize = 300;

/// A Jira Cloud client for one project. Cheap to clone.
#[derive(Debug, Clone)]
pub struct JiraIssues {
    http: reqwest::Client,
    /// `https://yourteam.atlassian.net/`.
    base: Url,
    project: ProjectKey,
    issue_type: String,
    email: Secret,
    token: Secret,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: String,
    key: String,
}

#[derive(Debug, Deserialize)]
struct Found {
    id: String,
    key: String,
    #[serde(default)]
    fields: Fields,
}

#[derive(Debug, Default, Deserialize)]
struct Fields {
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    description: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Status {
    #[serde(rename = "statusCategory")]
    category: Category,
}

#[derive(Debug, Deserialize)]
struct Category {
    key: String,
}

#[derive(Debug, Deserialize)]
struct SearchAnswer {
    issues: Vec<Found>,
}

/// Jira's error body: `{"errorMessages": [...], "errors": {"field": "message"}}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default, rename = "errorMessages")]
    messages: Vec<String>,
    #[serde(default)]
    errors: serde_json::Map<String, Value>,
}

/// The status category `done` is closed; `new` and `indeterminate` are open.
fn state_of(status: Option<&Status>) -> IssueState {
    match status {
        Some(status) if status.category.key == "done" => IssueState::Closed,
        _ => IssueState::Open,
    }
}

/// The description as an ADF document: a paragraph per block of text (lines kept with hard
/// breaks), then the marker. ADF refuses empty text nodes, so none is made.
fn description(spec: &IssueSpec) -> Value {
    let mut content: Vec<Value> = spec
        .body
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut nodes = Vec::new();
            for (n, line) in block.trim().lines().enumerate() {
                if n > 0 {
                    nodes.push(json!({ "type": "hardBreak" }));
                }
                if !line.is_empty() {
                    nodes.push(json!({ "type": "text", "text": line }));
                }
            }
            json!({ "type": "paragraph", "content": nodes })
        })
        .collect();
    content.push(json!({
        "type": "paragraph",
        "content": [{ "type": "text", "text": spec.marker }],
    }));
    json!({ "type": "doc", "version": 1, "content": content })
}

/// Every text of an ADF node, for finding the marker in a description.
fn texts<'a>(node: &'a Value, out: &mut Vec<&'a str>) {
    if let Some(text) = node.get("text").and_then(Value::as_str) {
        out.push(text);
    }
    if let Some(children) = node.get("content").and_then(Value::as_array) {
        for child in children {
            texts(child, out);
        }
    }
}

impl JiraIssues {
    /// Refuses empty credentials or ones a header cannot carry, and a base URL that would not
    /// keep them safe ([`crate::outbound::check_base`]).
    pub fn new(
        base_url: Url,
        project: ProjectKey,
        issue_type: &str,
        email: Secret,
        token: Secret,
    ) -> Result<Self, TrackerError> {
        let base =
            crate::outbound::check_base(base_url, "Jira").map_err(TrackerError::Permanent)?;
        check_credential(email.expose(), "Jira email")?;
        check_credential(token.expose(), "Jira API token")?;
        if issue_type.trim().is_empty() {
            return Err(TrackerError::Permanent(
                "the Jira issue type is empty".to_owned(),
            ));
        }
        Ok(JiraIssues {
            http: crate::outbound::client(super::CONNECT_TIMEOUT, super::REQUEST_TIMEOUT),
            base,
            project,
            issue_type: issue_type.to_owned(),
            email,
            token,
        })
    }

    /// The issue carrying `spec.marker`, else a new one; a create is never retried without
    /// looking for it first.
    pub async fn ensure(&self, spec: &IssueSpec) -> Result<TrackedIssue, TrackerError> {
        check_spec(spec)?;
        let operation = format!("Jira {}: create issue", self.project);
        retry(RETRIES, &operation, || async {
            if let Some(found) = self.find(&spec.marker).await? {
                return Ok(self.tracked(&found.id, &found.key));
            }
            let mut fields = self.fields(spec);
            fields["project"] = json!({ "key": self.project.as_str() });
            fields["issuetype"] = json!({ "name": self.issue_type });
            // A create leaves out what is unset; an update sends null to clear it.
            if let Some(fields) = fields.as_object_mut() {
                fields.retain(|_, value| !value.is_null());
            }
            let url = self.url(&["issue"]);
            let body = json!({ "fields": fields });
            let text = self
                .once(&operation, Method::POST, &url, Some(&body), false)
                .await?;
            let created: Created = parse(&operation, "Jira", &text)?;
            tracing::info!(project = %self.project, key = %created.key, "created a Jira issue");
            Ok(self.tracked(&created.id, &created.key))
        })
        .await
        .map_err(|failure: Failure| failure.error)
    }

    /// Title, description, due date and assignee (cleared when `spec` has none).
    pub async fn update(&self, issue: &TrackedIssue, spec: &IssueSpec) -> Result<(), TrackerError> {
        check_spec(spec)?;
        let operation = format!("Jira {}: update issue {}", self.project, issue.key);
        let body = json!({ "fields": self.fields(spec) });
        let url = self.url(&["issue", &issue.api_id]);
        self.call(&operation, Method::PUT, &url, Some(&body), true)
            .await?;
        Ok(())
    }

    pub async fn state(&self, issue: &TrackedIssue) -> Result<IssueState, TrackerError> {
        let operation = format!("Jira {}: read issue {}", self.project, issue.key);
        let mut url = self.url(&["issue", &issue.api_id]);
        url.query_pairs_mut().append_pair("fields", "status");
        let text = self.call(&operation, Method::GET, &url, None, true).await?;
        let found: Found = parse(&operation, "Jira", &text).map_err(|f| f.error)?;
        Ok(state_of(found.fields.status.as_ref()))
    }

    /// The issue of this project whose description carries `marker`, checked word for word:
    /// JQL's text search matches words, not strings.
    async fn find(&self, marker: &str) -> Result<Option<Found>, Failure> {
        let operation = format!("Jira {}: search issues", self.project);
        let body = json!({
            "jql": format!("project = {} AND text ~ \"\\\"{marker}\\\"\"", self.project),
            "fields": ["status", "description"],
            "maxResults": 20,
        });
        let url = self.url(&["search", "jql"]);
        let text = retry(RETRIES, &operation, || {
            self.once(&operation, Method::POST, &url, Some(&body), false)
        })
        .await?;
        let answer: SearchAnswer = parse(&operation, "Jira", &text)?;
        Ok(answer.issues.into_iter().find(|issue| {
            let mut found = Vec::new();
            if let Some(description) = &issue.fields.description {
                texts(description, &mut found);
            }
            found.contains(&marker)
        }))
    }

    /// The fields an update sets; a create adds project and type.
    fn fields(&self, spec: &IssueSpec) -> Value {
        json!({
            "summary": spec.title,
            "description": description(spec),
            "duedate": spec.due.map(|d| d.format("%Y-%m-%d").to_string()),
            "assignee": spec.assignee.as_ref().map(|id| json!({ "accountId": id })),
        })
    }

    fn tracked(&self, id: &str, key: &str) -> TrackedIssue {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("the base URL was checked to take a path")
            .pop_if_empty()
            .extend(["browse", key]);
        TrackedIssue {
            key: key.to_owned(),
            url: url.to_string(),
            api_id: id.to_owned(),
        }
    }

    /// `…/rest/api/3/{rest…}`, each segment escaped.
    fn url(&self, rest: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("the base URL was checked to take a path")
            .pop_if_empty()
            .extend(["rest", "api", "3"])
            .extend(rest);
        url
    }

    /// One idempotent call, retried as Jira's answers allow.
    async fn call(
        &self,
        operation: &str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        on_issue: bool,
    ) -> Result<Vec<u8>, TrackerError> {
        retry(RETRIES, operation, || {
            self.once(operation, method.clone(), url, body, on_issue)
        })
        .await
        .map_err(|failure| failure.error)
    }

    /// One attempt. `on_issue`: the URL names an issue, so 404 means it is gone.
    async fn once(
        &self,
        operation: &str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        on_issue: bool,
    ) -> Result<Vec<u8>, Failure> {
        let mut request = self
            .http
            .request(method, url.clone())
            .basic_auth(self.email.expose(), Some(self.token.expose()))
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        send(operation, request)
            .await?
            .map_err(|refused| sorted(operation, &refused, on_issue))
    }
}

/// Jira's refusals: 429 (and a 503 that says when) waits, other 5xx back off, 404 on an issue
/// is gone, anything else (401 and 403 for a revoked token too) is for good.
fn sorted(operation: &str, refused: &Refused, on_issue: bool) -> Failure {
    let parsed: ErrorBody = serde_json::from_slice(&refused.body).unwrap_or_default();
    let mut parts = parsed.messages.clone();
    parts.extend(
        parsed
            .errors
            .iter()
            .map(|(field, message)| format!("{field}: {}", message.as_str().unwrap_or_default())),
    );
    let detail = crate::outbound::bounded(&parts.join("; "), MAX_DETAIL);
    let status = refused.status;
    let what = if detail.is_empty() {
        format!("{operation}: HTTP {}", status.as_u16())
    } else {
        format!("{operation}: HTTP {}: {detail}", status.as_u16())
    };
    let asked = crate::outbound::retry_after(&refused.headers);
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Failure::rate_limited(what, asked.unwrap_or(DEFAULT_RATE_LIMIT_WAIT));
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return match asked {
            Some(wait) => Failure::rate_limited(what, wait),
            None => Failure::transient(what),
        };
    }
    if on_issue && matches!(status.as_u16(), 404 | 410) {
        return Failure {
            error: TrackerError::Gone(what),
            wait: None,
        };
    }
    if status.is_redirection() {
        return Failure::permanent(format!("{what} (a redirect: check the base URL)"));
    }
    Failure::permanent(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_is_adf_paragraphs_ending_with_the_marker() {
        let spec = IssueSpec {
            title: "Alert on queue depth".into(),
            body: "First line\nsecond line\n\n\n\nNext".into(),
            marker: "scribe-action:1a2b".into(),
            due: None,
            assignee: None,
            labels: Vec::new(),
        };
        let doc = description(&spec);
        assert_eq!(doc["type"], "doc");
        assert_eq!(doc["version"], 1);
        let paragraphs = doc["content"].as_array().unwrap();
        assert_eq!(paragraphs.len(), 3, "{doc:#}");
        assert_eq!(paragraphs[0]["content"][1]["type"], "hardBreak");
        assert_eq!(paragraphs[2]["content"][0]["text"], "scribe-action:1a2b");
        let mut found = Vec::new();
        texts(&doc, &mut found);
        assert_eq!(
            found,
            ["First line", "second line", "Next", "scribe-action:1a2b"]
        );
    }
}
