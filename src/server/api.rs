//! `/api/incidents`: the incidents as JSON (the `scribe draft --format json` schema plus `id`,
//! `platform` and `channel`) and their drafts; `/api/insights`: the incidents together (as
//! `scribe insights --format json`); `/api/search`: full-text search over every incident. Only with `SCRIBE_API_TOKEN`, as a bearer token.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::domain::{Incident, IncidentId, Severity};
use crate::drafting::IncidentDocument;
use crate::insights::{Filter, Insights};
use crate::search::{Scope, Similar, Words};
use crate::storage::{JobStatus, Store};

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/incidents", get(list))
        .route("/api/incidents/{id}", get(show))
        .route("/api/incidents/{id}/postmortem.md", get(postmortem))
        .route("/api/insights", get(insights))
        .route("/api/search", get(search))
}

#[derive(Serialize)]
struct ApiIncident {
    id: String,
    platform: &'static str,
    #[serde(flatten)]
    document: IncidentDocument,
    /// `/incident private`: never sent to a language model.
    private: bool,
    /// The facts (`summary`, `impact`) accepted from a suggestion.
    assisted: Vec<&'static str>,
    /// Checked suggestions no one has accepted: not part of the postmortem.
    suggestions: Vec<ApiSuggestion>,
    /// How many suggestions of the latest answer failed the checks.
    suggestions_dropped: u32,
}

#[derive(Serialize)]
struct ApiSuggestion {
    n: u32,
    section: &'static str,
    text: String,
    cites: Vec<String>,
}

#[derive(Serialize)]
struct ApiJob {
    key: String,
    kind: String,
    state: &'static str,
    attempts: u32,
    last_error: Option<String>,
}

impl From<JobStatus> for ApiJob {
    fn from(job: JobStatus) -> Self {
        ApiJob {
            key: job.key,
            kind: job.kind,
            state: job.state.as_str(),
            attempts: job.attempts,
            last_error: job.last_error,
        }
    }
}

fn api_incident(incident: &Incident, today: chrono::NaiveDate) -> ApiIncident {
    ApiIncident {
        id: incident.id().to_string(),
        platform: incident.channel.platform.as_str(),
        document: IncidentDocument::new(incident, &incident.channel.id, Some(today)),
        private: incident.private,
        assisted: incident.assisted.iter().copied().collect(),
        suggestions: incident
            .suggestions
            .iter()
            .map(|pending| ApiSuggestion {
                n: pending.n,
                section: pending.suggestion.section.as_str(),
                text: pending.suggestion.text.clone(),
                cites: pending
                    .suggestion
                    .cites
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            })
            .collect(),
        suggestions_dropped: incident.suggestions_dropped,
    }
}

/// The bearer token, compared through digests so timing says nothing about it.
fn authorized(app: &App, headers: &HeaderMap) -> bool {
    let Some(expected) = &app.secrets.api_token else {
        return false;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    Sha256::digest(given.as_bytes()) == Sha256::digest(expected.expose().as_bytes())
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "missing or wrong bearer token",
    )
        .into_response()
}

fn internal(error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "API request failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

async fn list(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !authorized(&app, &headers) {
        return unauthorized();
    }
    let today = app.today();
    match app.all_incidents().await {
        Ok(incidents) => Json(
            incidents
                .iter()
                .map(|incident| api_incident(incident, today))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => internal(e),
    }
}

/// `?from=YYYY-MM-DD&to=YYYY-MM-DD&severity=sev2`, each optional; empty counts as unset.
#[derive(Deserialize)]
struct InsightsQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    severity: String,
}

impl InsightsQuery {
    fn filter(&self) -> Result<Filter, String> {
        let date = |name: &str, text: &str| {
            (!text.is_empty())
                .then(|| {
                    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                        .map_err(|_| format!("{name}: `{text}` is not a date (YYYY-MM-DD)"))
                })
                .transpose()
        };
        let severity = (!self.severity.is_empty())
            .then(|| self.severity.parse::<Severity>())
            .transpose()
            .map_err(|e| format!("severity: {e}"))?;
        Ok(Filter {
            from: date("from", &self.from)?,
            to: date("to", &self.to)?,
            severity,
        })
    }
}

/// The incidents together (`scribe insights --format json`), for the query's filter.
async fn insights(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<InsightsQuery>,
) -> Response {
    if !authorized(&app, &headers) {
        return unauthorized();
    }
    let filter = match query.filter() {
        Ok(filter) => filter,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    match app.all_incidents().await {
        Ok(incidents) => Json(Insights::new(&incidents, &filter, app.today())).into_response(),
        Err(e) => internal(e),
    }
}

/// `?q=words&limit=N`: `q` is read as plain words (every one must match), `limit` 1 to
/// [`MAX_LIMIT`] (default 10).
#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    limit: Option<String>,
}

/// The most results one search answers with.
const MAX_LIMIT: usize = 50;

#[derive(Serialize)]
struct Found {
    id: String,
    title: String,
    severity: Option<String>,
    started_at: chrono::DateTime<chrono::Utc>,
    duration_minutes: Option<i64>,
    /// Where the words matched, each match between `**`.
    snippet: String,
    score: f64,
}

/// Every incident holding the query's words, best first.
async fn search(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> Response {
    if !authorized(&app, &headers) {
        return unauthorized();
    }
    let limit = match query.limit.as_deref().map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("limit: give a whole number from 1 to {MAX_LIMIT}"),
            )
                .into_response();
        }
    };
    let words = Words::parse(&query.q);
    if words.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            "q: give the words to search for (letters and digits; every word must match)",
        )
            .into_response();
    }
    let asked = crate::search::Query::every_word(words, Scope::Everywhere, limit);
    match app.search(&asked).await {
        Ok(hits) => {
            let results: Vec<Found> = hits
                .into_iter()
                .map(|hit| Found {
                    snippet: crate::search::marked(&hit.snippet, "**", "**"),
                    id: hit.id,
                    title: hit.title,
                    severity: hit.severity,
                    started_at: hit.started_at,
                    duration_minutes: hit.duration_minutes,
                    score: hit.score,
                })
                .collect();
            Json(serde_json::json!({ "results": results })).into_response()
        }
        Err(e) => internal(e),
    }
}

/// The incident named by `id` for an authorized request, or the response to give instead.
async fn find(app: &App, headers: &HeaderMap, id: &str) -> Result<Incident, Response> {
    if !authorized(app, headers) {
        return Err(unauthorized());
    }
    let id: IncidentId = id
        .parse()
        .map_err(|e: crate::domain::incident::InvalidIncidentId| {
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        })?;
    app.incident(&id)
        .await
        .map_err(internal)?
        .ok_or_else(|| (StatusCode::NOT_FOUND, "no such incident").into_response())
}

async fn show(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let incident = match find(&app, &headers, &id).await {
        Ok(incident) => incident,
        Err(response) => return response,
    };
    let jobs = match app
        .recorder
        .store()
        .jobs(&crate::jobs::job_prefix(&incident.id()))
        .await
    {
        Ok(jobs) => jobs.into_iter().map(ApiJob::from),
        Err(e) => return internal(e),
    };
    // Reminders wait for their time; the other jobs run at once.
    let (reminders, jobs): (Vec<ApiJob>, Vec<ApiJob>) =
        jobs.partition(|job| job.kind.starts_with("remind."));
    let mut body =
        serde_json::to_value(api_incident(&incident, app.today())).expect("serialisable");
    body["jobs"] = serde_json::to_value(jobs).expect("serialisable");
    body["reminders"] = serde_json::to_value(reminders).expect("serialisable");
    let similar: Vec<Similar> = match app.similar(&incident).await {
        Ok(hits) => hits.into_iter().map(Similar::from).collect(),
        Err(e) => return internal(e),
    };
    body["similar"] = serde_json::to_value(similar).expect("serialisable");
    Json(body).into_response()
}

async fn postmortem(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let incident = match find(&app, &headers, &id).await {
        Ok(incident) => incident,
        Err(response) => return response,
    };
    match app.render_draft(&incident, &incident.channel.id) {
        Ok(draft) => (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            draft,
        )
            .into_response(),
        Err(e) => internal(e),
    }
}
