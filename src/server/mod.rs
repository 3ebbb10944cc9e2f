//! The HTTP server of `scribe serve`: health, readiness, metrics, the incident API, the web
//! workspace, the trackers' webhooks, and the routes of the HTTP adapters (Slack's).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::adapters::slack::{self, Slack};
use crate::app::App;
use crate::config::ServerConfig;
use crate::metrics::RequestLabels;
use crate::storage::Store;

pub mod api;
pub mod hooks;
pub mod web;

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
    if app.config.web.enabled {
        router = router.merge(web::routes(Arc::clone(&app)));
    }
    router = router.merge(hooks::routes(Arc::clone(&app)));
    if app.secrets.slack_signing_secret.is_some() {
        router = router.merge(slack::http::routes(slack));
    }
    router.layer(middleware::from_fn_with_state(app, count_requests))
}

/// How long the server waits before it accepts again after an accept failed (out of file
/// descriptors, mostly): retrying at once would spin and fill the log.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves until `shutdown` completes, then finishes the requests in flight, and closes what is
/// still open once `config`'s grace period has passed. HTTP/1 only. A connection that does not
/// send its headers in time is closed, and at most `max_connections` are open at once: more
/// wait in the listen queue.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(config.max_connections.get()));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout());
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection; pausing");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Who is asking, for the limits that count per address (sign-in attempts).
        let service = tower::util::MapRequest::new(
            router.clone(),
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        );
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        connections.spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    let grace = config.shutdown_grace();
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?grace,
            open = connections.len(),
            "closing the connections still open after the grace period"
        );
    }
    connections.shutdown().await;
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
    match app.recent_postmortem_counts().await {
        Ok(counts) => {
            for (state, count) in counts {
                app.metrics
                    .postmortems
                    .get_or_create(&crate::metrics::StateLabels {
                        state: state.as_str(),
                    })
                    .set(count);
            }
        }
        Err(error) => tracing::warn!(%error, "cannot count the postmortems by state"),
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
