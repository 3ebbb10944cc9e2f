//! What the trackers tell Scribe: `POST /github/webhook` (signed with `GITHUB_WEBHOOK_SECRET`,
//! `X-Hub-Signature-256`) and `POST /jira/webhook?secret=…` (`JIRA_WEBHOOK_SECRET` in the URL
//! Jira calls). A delivery is checked before its body is read as JSON; a bad signature or
//! secret gets 401 and changes nothing. What it says becomes commands said by the tracker in
//! the incident's channel: an issue closed marks its action done, reopened not done; the
//! postmortem's pull request merged marks it published.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use tower::limit::GlobalConcurrencyLimitLayer;

use crate::app::App;
use crate::config::TrackerKind;
use crate::domain::{Author, Stage};
use crate::followthrough::{actions_tracked_as, incidents_of_pull, set_done};
use crate::followups::IssueState;
use crate::followups::webhook::{self, GithubHook, HookError};
use crate::storage::StoreError;

/// The routes whose secret is set.
pub fn routes(app: Arc<App>) -> Router {
    let buffered = app.config.server.max_buffered_bodies.get();
    let mut router = Router::new();
    if app.secrets.github_webhook_secret.is_some() {
        router = router.route("/github/webhook", post(github));
    }
    if app.secrets.jira_webhook_secret.is_some() {
        router = router.route("/jira/webhook", post(jira));
    }
    router
        .layer(GlobalConcurrencyLimitLayer::new(buffered))
        .with_state(app)
}

/// The body, read within the server's limits of size and time.
async fn body(app: &App, body: Body) -> Result<Bytes, Response> {
    let server = &app.config.server;
    let limit = server.max_body_bytes.get().min(webhook::MAX_BODY_BYTES);
    let read = axum::body::to_bytes(body, limit);
    match tokio::time::timeout(server.body_read_timeout(), read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => {
            Err((StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response())
        }
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            "request body not received in time",
        )
            .into_response()),
    }
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, "bad signature or secret").into_response()
}

fn refused(error: HookError) -> Response {
    (StatusCode::BAD_REQUEST, error.to_string()).into_response()
}

fn failed(error: StoreError) -> Response {
    tracing::error!(%error, "cannot record what a tracker told");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "not recorded; send it again",
    )
        .into_response()
}

async fn github(State(app): State<Arc<App>>, headers: HeaderMap, raw: Body) -> Response {
    let bytes = match body(&app, raw).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(secret) = &app.secrets.github_webhook_secret else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !webhook::verify_github(
        secret.expose().as_bytes(),
        &bytes,
        header("x-hub-signature-256"),
    ) {
        return unauthorized();
    }
    let event = header("x-github-event").unwrap_or_default();
    let hook = match webhook::parse_github(event, &bytes) {
        Ok(Some(hook)) => hook,
        Ok(None) => return (StatusCode::OK, "nothing to do").into_response(),
        Err(error) => return refused(error),
    };
    // A redelivery carries the same delivery id (else the same body): what it says is stored
    // once.
    let delivery: String = match header("x-github-delivery") {
        Some(id) => id.chars().take(64).collect(),
        None => crate::signin::digest(&String::from_utf8_lossy(&bytes))[..32].to_string(),
    };
    let author = Author::integration("github", "GitHub");
    let result = match hook {
        GithubHook::Issue {
            repository,
            number,
            state,
        } => {
            let ours = app.config.followups.tracker == TrackerKind::Github
                && app
                    .config
                    .followups
                    .github
                    .repository
                    .as_ref()
                    .is_some_and(|r| r.to_string().eq_ignore_ascii_case(&repository));
            if !ours {
                return (StatusCode::OK, "not a repository Scribe tracks").into_response();
            }
            issue_changed(&app, &format!("#{number}"), state, author, &delivery).await
        }
        GithubHook::PullOpened {
            repository, number, ..
        } => {
            pull_changed(
                &app,
                &repository,
                number,
                Stage::InReview,
                author,
                &delivery,
            )
            .await
        }
        GithubHook::PullMerged {
            repository, number, ..
        } => {
            pull_changed(
                &app,
                &repository,
                number,
                Stage::Published,
                author,
                &delivery,
            )
            .await
        }
    };
    match result {
        Ok(()) => (StatusCode::OK, "recorded").into_response(),
        Err(error) => failed(error),
    }
}

#[derive(Deserialize)]
struct JiraQuery {
    #[serde(default)]
    secret: String,
}

async fn jira(State(app): State<Arc<App>>, Query(query): Query<JiraQuery>, raw: Body) -> Response {
    let Some(secret) = &app.secrets.jira_webhook_secret else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !webhook::verify_shared(secret.expose(), &query.secret) {
        return unauthorized();
    }
    let bytes = match body(&app, raw).await {
        Ok(bytes) => bytes,
        Err(response) => return response,
    };
    let hook = match webhook::parse_jira(&bytes) {
        Ok(Some(hook)) => hook,
        Ok(None) => return (StatusCode::OK, "nothing to do").into_response(),
        Err(error) => return refused(error),
    };
    if app.config.followups.tracker != TrackerKind::Jira {
        return (StatusCode::OK, "Jira is not the tracker").into_response();
    }
    // Jira's plain webhooks carry no delivery id: the state itself names the change, and a
    // change to the state the action already has records nothing.
    let author = Author::integration("jira", "Jira");
    let key = format!(
        "{}:{}",
        hook.key,
        crate::signin::digest(&String::from_utf8_lossy(&bytes))
    );
    match issue_changed(
        &app,
        &hook.key,
        hook.state,
        author,
        &key[..key.len().min(96)],
    )
    .await
    {
        Ok(()) => (StatusCode::OK, "recorded").into_response(),
        Err(error) => failed(error),
    }
}

/// Marks every action tracked as `key` done (closed) or not done (open), where it differs.
async fn issue_changed(
    app: &App,
    key: &str,
    state: IssueState,
    author: Author,
    delivery: &str,
) -> Result<(), StoreError> {
    for (id, action) in actions_tracked_as(app, key).await? {
        let change = format!("hook:{delivery}:{}:{}", id.opened_by, action.n);
        set_done(app, &id, &action, state, author.clone(), &change).await?;
    }
    Ok(())
}

/// The postmortem carried by pull request `number` is in review (opened) or published (merged).
async fn pull_changed(
    app: &App,
    repository: &str,
    number: u64,
    stage: Stage,
    author: Author,
    delivery: &str,
) -> Result<(), StoreError> {
    for incident in incidents_of_pull(app, repository, number).await? {
        let (current, command) = (
            incident.postmortem.stage,
            match stage {
                Stage::Published => "/incident postmortem published",
                _ => "/incident postmortem review",
            },
        );
        if current == stage || current == Stage::Published {
            continue;
        }
        let id = incident.id();
        app.record_integration(
            &id,
            &format!("hook:{delivery}:{}:pull", id.opened_by),
            author.clone(),
            command,
        )
        .await?;
    }
    Ok(())
}
