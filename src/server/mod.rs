//! `scribe serve`: one HTTP server for Slack's requests, health checks, metrics and the
//! incident API, plus the job worker that does the slow work after each acknowledgement.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::adapters::discord::DiscordApi;
use crate::adapters::slack::web::SlackApi;
use crate::config::{Config, Secrets};
use crate::domain::{History, Incident, IncidentId, Status};
use crate::drafting::Drafter;
use crate::jobs::JobError;
use crate::recorder::Recorder;
use crate::storage::{Job, NewJob, Store, StoreError};

pub mod api;
pub mod metrics;

pub use metrics::Metrics;

/// Everything a request handler or a job needs.
pub struct App<S> {
    pub config: Config,
    pub secrets: Secrets,
    pub recorder: Recorder<S>,
    pub drafter: Drafter,
    pub metrics: Metrics,
    /// Wakes the job worker when a job was enqueued.
    pub wake: Arc<Notify>,
    /// The Slack Web API, when a bot token is configured.
    pub slack: Option<SlackApi>,
    /// Discord's REST API, when a bot token is configured.
    pub discord: Option<DiscordApi>,
}

impl<S: Store> App<S> {
    /// The channel's state, folded from its log.
    pub async fn history(&self, id: &IncidentId) -> Result<History, StoreError> {
        self.recorder.history(&id.channel).await
    }

    /// The incident a job is about; a job outliving its incident fails for good.
    pub async fn incident_for_job(&self, id: &IncidentId) -> Result<Incident, JobError> {
        self.history(id)
            .await
            .map_err(|e| JobError::Transient(e.to_string()))?
            .incidents
            .into_iter()
            .find(|i| i.opened_by == id.opened_by)
            .ok_or_else(|| {
                JobError::Permanent(format!("incident {id} is not in its channel's log"))
            })
    }

    /// Queues a job outside any command (a post, a report) and wakes the worker; a store that
    /// cannot take it is logged, as there is nobody to answer.
    pub async fn enqueue(&self, job: NewJob) {
        if let Err(error) = self.recorder.store().enqueue(&[job]).await {
            tracing::error!(%error, "cannot enqueue a job");
        }
        self.wake.notify_one();
    }

    /// Recounts the open incidents for the metrics.
    pub async fn count_open_incidents(&self) -> Result<(), StoreError> {
        let mut open = 0;
        for channel in self.recorder.store().channels().await? {
            let history = self.recorder.history(&channel).await?;
            open += history
                .incidents
                .iter()
                .filter(|i| i.status() != Status::Closed)
                .count() as i64;
        }
        self.metrics.incidents_open.set(open);
        Ok(())
    }
}

/// The routes: Slack's only where a signing secret is set, the API only where a token is.
pub fn router<S: Store + 'static>(app: Arc<App<S>>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz::<S>))
        .route("/metrics", get(metrics::<S>));
    if app.secrets.api_token.is_some() {
        router = router.merge(api::routes());
    }
    if app.secrets.slack_signing_secret.is_some() {
        router = router.merge(crate::adapters::slack::http::routes());
    }
    router
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            count_requests::<S>,
        ))
        .with_state(app)
}

/// Runs one stored job with the adapter that knows its kind.
pub async fn run_job<S: Store>(app: &App<S>, job: Job) -> Result<(), JobError> {
    if job.kind.starts_with("slack.") {
        crate::adapters::slack::jobs::run(app, job).await
    } else if job.kind.starts_with("discord.") {
        crate::adapters::discord::jobs::run(app, job).await
    } else if job.kind.starts_with("publish.") {
        crate::publish::run(app, job).await
    } else {
        Err(JobError::Permanent(format!(
            "no runner for job kind `{}`",
            job.kind
        )))
    }
}

/// Posts `text` in the incident's channel, on its platform, once per `key`.
pub async fn announce<S: Store>(app: &App<S>, id: &IncidentId, key: &str, text: &str) {
    crate::adapters::slack::jobs::announce(app, id, key, text).await;
    crate::adapters::discord::jobs::announce(app, id, key, text).await;
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn readyz<S: Store>(State(app): State<Arc<App<S>>>) -> Response {
    match app.recorder.store().ping().await {
        Ok(()) => "ready".into_response(),
        Err(error) => {
            tracing::warn!(%error, "store unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable").into_response()
        }
    }
}

async fn metrics<S: Store>(State(app): State<Arc<App<S>>>) -> Response {
    if let Err(error) = app.count_open_incidents().await {
        tracing::warn!(%error, "cannot count open incidents");
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
        .into_response()
}

async fn count_requests<S: Store>(
    State(app): State<Arc<App<S>>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let response = next.run(request).await;
    app.metrics
        .requests
        .get_or_create(&metrics::RequestLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
