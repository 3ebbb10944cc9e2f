//! The web workspace: every incident of a Slack workspace, Discord server or the console on
//! one page, the timeline live, the postmortem written together. Server-rendered HTML
//! (`templates/web/`, autoescaped), a little JavaScript of our own, assets embedded in the
//! binary. Every change made here is a command event in the incident's channel, authored by
//! the signed-in person, folded like any other: chat, the API, the file and the page agree.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::app::App;
use crate::domain::{Incident, IncidentId};
use crate::storage::{Store, StoreError, WebIdentity};

mod assets;
mod axis;
mod charts;
mod edits;
mod live;
mod markdown;
mod pages;
mod search;
mod view;

/// The session cookie's name.
const COOKIE: &str = "scribe_session";
/// Sign-in attempts one address may make per minute.
const SIGN_INS_PER_MINUTE: u32 = 20;
/// Addresses the sign-in limiter remembers at most (older ones are forgotten first).
const LIMITER_SIZE: usize = 10_000;

/// The strict policy every page is served with: our own scripts, styles and images only.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The web workspace's routes, each behind the security headers.
pub fn routes(app: Arc<App>) -> Router {
    let limiter = Arc::new(Limiter::default());
    Router::new()
        .route("/", get(pages::list))
        .route("/insights", get(pages::insights))
        .route("/search", get(search::page))
        .route("/insights.csv", get(pages::insights_csv))
        .route("/postmortems", get(pages::library))
        .route("/signin", get(pages::signin))
        .route(
            "/login/{token}",
            get(pages::login).route_layer(middleware::from_fn_with_state(limiter, limit_sign_ins)),
        )
        .route("/logout", post(pages::logout))
        .route("/incidents/{id}", get(pages::incident))
        .route("/incidents/{id}/postmortem", get(pages::postmortem))
        .route("/incidents/{id}/postmortem.md", get(pages::markdown))
        .route("/incidents/{id}/live", get(live::stream))
        .route("/incidents/{id}/facts", post(edits::facts))
        .route("/incidents/{id}/timeline", post(edits::timeline))
        .route("/incidents/{id}/pin", post(edits::pin))
        .route("/incidents/{id}/story", post(edits::story))
        .route("/incidents/{id}/assist", post(edits::assist))
        .route("/incidents/{id}/actions", post(edits::actions))
        .route("/incidents/{id}/references", post(edits::references))
        .route("/incidents/{id}/publish", post(edits::publish))
        .route("/assets/{name}", get(assets::serve))
        .with_state(app)
        .layer(middleware::from_fn(security_headers))
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Sign-in attempts per address and minute, so a link cannot be guessed by trying.
#[derive(Default)]
struct Limiter {
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Limiter {
    fn allow(&self, address: IpAddr, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= LIMITER_SIZE {
            seen.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
            if seen.len() >= LIMITER_SIZE {
                return false;
            }
        }
        let (start, count) = seen.entry(address).or_insert((now, 0));
        if now.duration_since(*start) >= Duration::from_secs(60) {
            (*start, *count) = (now, 0);
        }
        *count += 1;
        *count <= SIGN_INS_PER_MINUTE
    }
}

async fn limit_sign_ins(
    State(limiter): State<Arc<Limiter>>,
    request: Request,
    next: Next,
) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
    if !limiter.allow(address, Instant::now()) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "60")],
            "Too many sign-in attempts from this address: wait a minute.",
        )
            .into_response();
    }
    next.run(request).await
}

/// Why a web request got no page of its own. People see fixed words; the cause is logged.
#[derive(Debug, thiserror::Error)]
pub(super) enum WebError {
    #[error("not signed in")]
    SignedOut,
    #[error("not found")]
    NotFound,
    #[error("the form's CSRF token is missing or wrong")]
    Forged,
    #[error("bad form: {0}")]
    BadForm(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the page could not be rendered: {0}")]
    Render(String),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, text) = match &self {
            WebError::SignedOut => return Redirect::to("/signin").into_response(),
            WebError::NotFound => (StatusCode::NOT_FOUND, "There is nothing here."),
            WebError::Forged => (
                StatusCode::FORBIDDEN,
                "This form is out of date or did not come from this page. Reload the page and try again.",
            ),
            WebError::BadForm(why) => (StatusCode::BAD_REQUEST, *why),
            WebError::Store(_) | WebError::Render(_) => {
                tracing::error!(error = %self, "a web page failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Scribe cannot read its store just now; nothing was lost. Try again in a moment.",
                )
            }
        };
        (status, pages::message_page("Scribe", text)).into_response()
    }
}

/// The signed-in person of a request.
pub(super) struct Signed {
    pub who: WebIdentity,
    pub csrf: String,
    /// The digest the session is stored under.
    pub key: String,
}

/// The session the request's cookie names, if it is current.
pub(super) async fn signed(app: &App, headers: &HeaderMap) -> Result<Signed, WebError> {
    let Some(secret) = cookie(headers, COOKIE) else {
        return Err(WebError::SignedOut);
    };
    let key = crate::signin::digest(&secret);
    match app.store().web_session(&key, app.clock.now()).await? {
        Some(session) => Ok(Signed {
            who: session.who,
            csrf: session.csrf,
            key,
        }),
        None => Err(WebError::SignedOut),
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// The incident `id` names, when `who` may see it: one of their workspace's channels.
/// Anything else is not found, whether it exists or not.
pub(super) async fn visible(app: &App, who: &WebIdentity, id: &str) -> Result<Incident, WebError> {
    let id: IncidentId = id.parse().map_err(|_| WebError::NotFound)?;
    if id.channel.platform != who.platform {
        return Err(WebError::NotFound);
    }
    let workspace = app.store().channel_workspace(&id.channel).await?;
    if workspace.as_deref() != Some(who.workspace.as_str()) {
        return Err(WebError::NotFound);
    }
    app.incident(&id).await?.ok_or(WebError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_twenty_sign_ins_a_minute() {
        let limiter = Limiter::default();
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let start = Instant::now();
        for _ in 0..SIGN_INS_PER_MINUTE {
            assert!(limiter.allow(a, start));
        }
        assert!(!limiter.allow(a, start));
        assert!(limiter.allow(b, start), "others are not held back");
        assert!(limiter.allow(a, start + Duration::from_secs(61)));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; scribe_session=abc; b=2"),
        );
        assert_eq!(cookie(&headers, COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "missing"), None);
    }
}
