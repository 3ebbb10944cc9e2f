//! Scribe's GitHub REST client: opens (or refreshes) the pull request that carries a postmortem.
//!
//! One operation matters here, [`GithubApi::ensure_pull_request`]: publishing the same draft
//! twice must update the pull request already open for its branch, never open a second one.
//! Each call retries inside ([`crate::outbound::retry`]), so callers see a final answer:
//! [`GithubError::Transient`] (try again later) or [`GithubError::Permanent`] (fix something).
//!
//! GitHub's documented quirks this code relies on:
//! - the `head` filter of "List pull requests" must be `owner:branch`; a bare branch name is
//!   silently ignored and every pull request comes back, so results are checked here again;
//! - creating a pull request for a head and base that already have an open one answers 422
//!   with "A pull request already exists for owner:branch.", which makes a retried or racing
//!   create safe: it ends in a lookup instead of a duplicate;
//! - rate limits come as 429 *or* 403; `retry-after` wins, then `x-ratelimit-reset` when
//!   `x-ratelimit-remaining` is 0, and otherwise GitHub asks for at least a minute.

use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{Method, RequestBuilder};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use crate::config::{BranchName, Repository, Secret};
use crate::jobs::JobError;
use crate::outbound::{Retries, retry};

mod failure;

use failure::Failure;

/// Three attempts per call; GitHub asking for a wait longer than 30 s is the caller's to
/// schedule, since retrying early while rate limited can get an integration banned.
const RETRIES: Retries = Retries {
    attempts: 3,
    base: Duration::from_millis(250),
    max_wait: Duration::from_secs(30),
};
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

const MEDIA_TYPE: &str = "application/vnd.github+json";
const API_VERSION_HEADER: &str = "x-github-api-version";
const API_VERSION: &str = "2022-11-28";
/// Enough for any one branch: GitHub allows one open pull request per head and base.
const PER_PAGE: &str = "100";

/// Why a GitHub call failed, sorted by what the caller can do about it. Messages name the
/// repository, the operation, the HTTP status and GitHub's own message; never the token.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    /// Network trouble, a 5xx, or a rate limit that outlasted the retries: worth trying later.
    #[error("GitHub transient failure: {0}")]
    Transient(String),
    /// GitHub refused the request itself (bad credentials, no such repository, invalid
    /// input), or the client was misconfigured: retrying won't help.
    #[error("GitHub refused: {0}")]
    Permanent(String),
}

impl From<GithubError> for JobError {
    fn from(error: GithubError) -> Self {
        match error {
            GithubError::Transient(_) => JobError::Transient(error.to_string()),
            GithubError::Permanent(_) => JobError::Permanent(error.to_string()),
        }
    }
}

/// The pull request a draft was published to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    pub html_url: String,
}

/// A GitHub REST client for one repository. Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct GithubApi {
    http: reqwest::Client,
    /// The REST root, `https://api.github.com/` or a GitHub Enterprise Server's `…/api/v3/`.
    base: Url,
    owner: String,
    name: String,
    token: Secret,
}

/// The part of a pull request this client reads.
#[derive(Debug, Deserialize)]
struct PullRecord {
    number: u64,
    html_url: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    title: String,
    /// `null` when the pull request has no description.
    #[serde(default)]
    body: Option<String>,
    head: BranchRef,
    base: BranchRef,
}

#[derive(Debug, Deserialize)]
struct BranchRef {
    #[serde(rename = "ref")]
    name: String,
    #[serde(default)]
    label: Option<String>,
}

impl PullRecord {
    fn to_pull_request(&self) -> PullRequest {
        PullRequest {
            number: self.number,
            html_url: self.html_url.clone(),
        }
    }
}

impl GithubApi {
    /// `base_url` is the REST root: `https://api.github.com/`, or `https://HOST/api/v3/` for
    /// GitHub Enterprise Server.
    ///
    /// Refuses, as [`GithubError::Permanent`], an empty token or one that cannot travel in a
    /// header, and a base URL that would carry the token in the clear (plain `http` is for
    /// loopback test servers only) or that holds credentials, a query or a fragment of its own.
    ///
    /// # Panics
    /// If the TLS backend cannot initialise, which no argument here can cause.
    pub fn new(base_url: Url, repository: &Repository, token: Secret) -> Result<Self, GithubError> {
        let base =
            crate::outbound::check_base(base_url, "GitHub").map_err(GithubError::Permanent)?;
        if token.expose().trim().is_empty() {
            return Err(GithubError::Permanent(
                "the GitHub token is empty".to_owned(),
            ));
        }
        if HeaderValue::from_str(&format!("Bearer {}", token.expose())).is_err() {
            return Err(GithubError::Permanent(
                "the GitHub token has characters a header cannot carry".to_owned(),
            ));
        }
        let http = crate::outbound::client(CONNECT_TIMEOUT, REQUEST_TIMEOUT);
        Ok(GithubApi {
            http,
            base,
            owner: repository.owner().to_owned(),
            name: repository.name().to_owned(),
            token,
        })
    }

    /// `owner/name`, as GitHub spells it in URLs.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Makes sure one open pull request from `head_branch` into `base_branch` carries `title`
    /// and `body`, and returns it with whether this call created it.
    ///
    /// An open pull request for the branch is updated (only when its title or body differ), so
    /// publishing again refreshes rather than duplicates. When the create loses a race (or a
    /// retried create finds its first attempt did land), GitHub's 422 "already exists" leads
    /// to a second lookup, and that pull request is brought up to date and returned.
    ///
    /// The branches must already exist on GitHub; `head_branch` is in this repository (not a
    /// fork).
    pub async fn ensure_pull_request(
        &self,
        head_branch: &BranchName,
        base_branch: &BranchName,
        title: &str,
        body: &str,
    ) -> Result<(PullRequest, bool), GithubError> {
        let (head_branch, base_branch) = (head_branch.as_str(), base_branch.as_str());
        if title.trim().is_empty() {
            return Err(GithubError::Permanent(
                "a pull request needs a title".to_owned(),
            ));
        }

        if let Some(found) = self.find_open(head_branch, base_branch).await? {
            let pull = self.refresh(&found, title, body).await?;
            return Ok((pull, false));
        }

        match self.create(head_branch, base_branch, title, body).await {
            Ok(created) => {
                tracing::info!(
                    repository = %self.repository(),
                    number = created.number,
                    head = head_branch,
                    base = base_branch,
                    "opened a GitHub pull request"
                );
                Ok((created.to_pull_request(), true))
            }
            Err(failure) if failure.already_exists => {
                tracing::info!(
                    repository = %self.repository(),
                    head = head_branch,
                    base = base_branch,
                    "a pull request for the branch appeared meanwhile; updating that one"
                );
                match self.find_open(head_branch, base_branch).await? {
                    Some(found) => Ok((self.refresh(&found, title, body).await?, false)),
                    // GitHub's list can lag behind its own uniqueness check for a moment.
                    None => Err(GithubError::Transient(format!(
                        "{}: a pull request from {head_branch} into {base_branch} already \
                         exists but is not listed yet",
                        self.repository()
                    ))),
                }
            }
            Err(failure) => Err(failure.into_error()),
        }
    }

    async fn find_open(
        &self,
        head_branch: &str,
        base_branch: &str,
    ) -> Result<Option<PullRecord>, GithubError> {
        let mut url = self.pulls_url(None);
        url.query_pairs_mut()
            .append_pair("head", &format!("{}:{head_branch}", self.owner))
            .append_pair("base", base_branch)
            .append_pair("state", "open")
            .append_pair("per_page", PER_PAGE);
        let operation = format!("{}: list pull requests", self.repository());
        let listed: Vec<PullRecord> = self
            .call(&operation, Method::GET, &url, None)
            .await
            .map_err(Failure::into_error)?;
        // The filter is GitHub's, but a filter GitHub does not understand is ignored rather
        // than refused, so what comes back is checked against what was asked.
        let label = format!("{}:{head_branch}", self.owner);
        Ok(listed.into_iter().find(|pull| {
            pull.state == "open"
                && pull.head.name == head_branch
                && pull.base.name == base_branch
                && pull
                    .head
                    .label
                    .as_deref()
                    .is_none_or(|l| l.eq_ignore_ascii_case(&label))
        }))
    }

    async fn create(
        &self,
        head_branch: &str,
        base_branch: &str,
        title: &str,
        body: &str,
    ) -> Result<PullRecord, Failure> {
        let url = self.pulls_url(None);
        let request = json!({
            "title": title,
            "head": head_branch,
            "base": base_branch,
            "body": body,
        });
        let operation = format!("{}: create pull request", self.repository());
        self.call(&operation, Method::POST, &url, Some(&request))
            .await
    }

    /// Brings `found` to `title` and `body`, sending nothing when it already has them.
    async fn refresh(
        &self,
        found: &PullRecord,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, GithubError> {
        let current_body = found.body.as_deref().unwrap_or_default();
        if found.title == title && current_body == body {
            tracing::debug!(
                repository = %self.repository(),
                number = found.number,
                "the GitHub pull request is up to date"
            );
            return Ok(found.to_pull_request());
        }
        let url = self.pulls_url(Some(found.number));
        let request = json!({ "title": title, "body": body });
        let operation = format!(
            "{}: update pull request #{}",
            self.repository(),
            found.number
        );
        let updated: PullRecord = self
            .call(&operation, Method::PATCH, &url, Some(&request))
            .await
            .map_err(Failure::into_error)?;
        tracing::info!(
            repository = %self.repository(),
            number = updated.number,
            "updated a GitHub pull request"
        );
        Ok(updated.to_pull_request())
    }

    /// `…/repos/{owner}/{name}/pulls[/{number}]`, each segment escaped as a path segment.
    fn pulls_url(&self, number: Option<u64>) -> Url {
        let mut url = self.base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .expect("the base URL was checked to take a path");
            segments
                .pop_if_empty()
                .extend(["repos", &self.owner, &self.name, "pulls"]);
            if let Some(number) = number {
                segments.push(&number.to_string());
            }
        }
        url
    }

    /// One REST call with its JSON answer, retried as GitHub's answers allow.
    async fn call<T: DeserializeOwned>(
        &self,
        operation: &str,
        method: Method,
        url: &Url,
        body: Option<&Value>,
    ) -> Result<T, Failure> {
        retry(RETRIES, operation, || async {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(self.token.expose())
                .header(ACCEPT, MEDIA_TYPE)
                .header(API_VERSION_HEADER, API_VERSION);
            if let Some(body) = body {
                request = request.json(body);
            }
            let bytes = send(operation, request).await?;
            serde_json::from_slice(&bytes).map_err(|_| {
                Failure::permanent(format!("{operation}: GitHub's answer was not understood"))
            })
        })
        .await
    }
}

/// Sends `request` and returns the body of a 2xx answer; anything else becomes a [`Failure`].
async fn send(operation: &str, request: RequestBuilder) -> Result<Vec<u8>, Failure> {
    let response = request
        .send()
        .await
        .map_err(|e| Failure::network(operation, e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| Failure::network(operation, e))?;
    if status.is_success() {
        Ok(body.to_vec())
    } else {
        Err(Failure::from_response(
            operation,
            status,
            &headers,
            &body,
            SystemTime::now(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "ghp_secret0123456789";

    fn api(base: &str, repository: &str) -> Result<GithubApi, GithubError> {
        let repository = repository.parse().unwrap();
        GithubApi::new(base.parse().unwrap(), &repository, Secret::new(SECRET))
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let token = Secret::new(SECRET);
        assert_eq!(format!("{token:?}"), "Secret(***)");
        let api = api("https://api.github.com/", "octo-org/postmortems").unwrap();
        let debug = format!("{api:?}");
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(debug.contains("Secret(***)"), "{debug}");
    }

    #[test]
    fn the_token_must_be_usable_in_a_header() {
        let base: Url = "https://api.github.com/".parse().unwrap();
        for token in ["", "  ", "ghp_a\nb"] {
            let repository = "o/r".parse().unwrap();
            let error = GithubApi::new(base.clone(), &repository, Secret::new(token)).unwrap_err();
            assert!(matches!(error, GithubError::Permanent(_)), "{error:?}");
            assert!(!error.to_string().contains("ghp_a"), "{error}");
        }
    }

    #[test]
    fn urls_join_the_public_and_enterprise_roots() {
        let cases = [
            (
                "https://api.github.com",
                "https://api.github.com/repos/o/r/pulls",
            ),
            (
                "https://api.github.com/",
                "https://api.github.com/repos/o/r/pulls",
            ),
            (
                "https://ghe.example.com/api/v3",
                "https://ghe.example.com/api/v3/repos/o/r/pulls",
            ),
            (
                "https://ghe.example.com/api/v3/",
                "https://ghe.example.com/api/v3/repos/o/r/pulls",
            ),
        ];
        for (base, expected) in cases {
            let api = api(base, "o/r").unwrap();
            assert_eq!(api.pulls_url(None).as_str(), expected, "{base}");
            assert_eq!(api.pulls_url(Some(7)).as_str(), format!("{expected}/7"));
        }
    }
}
