//! The HTTP server of `scribe serve`: health, readiness, metrics, the incident API, and the
//! routes of the HTTP adapters (Slack's).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::adapters::slack::{self, Slack};
use crate::app::App;
use crate::metrics::RequestLabels;
use crate::storage::Store;

pub mod api;

/// The routes: the API only where a token is set, Slack's only where a signing secret is;
/// every request is counted, those that match no route as "unmatched".
pub fn router(app: Arc<App>, slack: Arc<Slack>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics));
    if app.secrets.api_token.is_some() {
        router = router.merge(api::routes());
    }
    let mut router = router.with_state(Arc::clone(&app));
    if app.secrets.slack_signing_secret.is_some() {
        router = router.merge(slack::http::routes(slack));
    }
    router.layer(middleware::from_fn_with_state(app, count_requests))
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

async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.jobs.is_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "job worker down").into_response();
    }
    match app.store().ping().await {
        Ok(()) => "ready".into_response(),
        Err(error) => {
            tracing::warn!(%error, "store unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable").into_response()
        }
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
        .into_response()
}

async fn count_requests(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let response = next.run(request).await;
    app.metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
