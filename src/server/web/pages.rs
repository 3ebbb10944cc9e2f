//! The pages: sign-in, the list of incidents, one incident, its draft to download, the library
//! of published postmortems and the insights.

use std::sync::{Arc, LazyLock};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, Value, context};
use serde::Deserialize;

use super::charts::{self, Spread};
use super::view::{self, HitView, IncidentView, Row};
use super::{COOKIE, Signed, WebError, assets, signed, visible};
use crate::app::App;
use crate::domain::{Horizon, Incident, PostmortemState, Severity, Status};
use crate::insights::{self, Behind, Filter, Insights, Table};
use crate::storage::Store;

/// Incidents per page of the list.
const PAGE: usize = 25;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // A value inside a link's query: `{{ drill }}&factor={{ p.phrase | query }}`.
    env.add_filter("query", |text: String| -> String {
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
    });
    // Every page is HTML: user text is always escaped, whatever the file is called.
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    for (name, source) in [
        (
            "base.html",
            include_str!("../../../templates/web/base.html.j2"),
        ),
        (
            "message.html",
            include_str!("../../../templates/web/message.html.j2"),
        ),
        (
            "list.html",
            include_str!("../../../templates/web/list.html.j2"),
        ),
        (
            "incident.html",
            include_str!("../../../templates/web/incident.html.j2"),
        ),
        (
            "insights.html",
            include_str!("../../../templates/web/insights.html.j2"),
        ),
        (
            "search.html",
            include_str!("../../../templates/web/search.html.j2"),
        ),
        (
            "library.html",
            include_str!("../../../templates/web/library.html.j2"),
        ),
        (
            "postmortem.html",
            include_str!("../../../templates/web/postmortem.html.j2"),
        ),
    ] {
        env.add_template(name, source)
            .expect("the built-in web templates compile");
    }
    env
});

pub(super) fn render(name: &str, ctx: Value) -> Result<Html<String>, WebError> {
    let (css, js) = assets::paths();
    let ctx = context! { css, js, ..ctx };
    TEMPLATES
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map(Html)
        .map_err(|e| WebError::Render(format!("{e:#}")))
}

/// A page that says one thing.
pub fn message_page(title: &str, text: &str) -> Html<String> {
    render("message.html", context! { title, text }).unwrap_or_else(|_| Html(String::new()))
}

pub async fn signin() -> Html<String> {
    message_page(
        "Sign in to Scribe",
        "Ask for a sign-in link with /incident web in your incident channel (Slack or Discord), \
         or run `scribe link --as NAME` on the server for the console. A link works once, \
         within 10 minutes.",
    )
}

/// `GET /login/{token}`: a link that works signs its person in; any other gets a page that
/// says so, and nothing else.
pub async fn login(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let now = app.clock.now();
    let bounded = token.len() <= 128;
    let who = if bounded {
        app.store()
            .use_web_link(&crate::signin::digest(&token), now)
            .await?
    } else {
        None
    };
    let Some(who) = who else {
        let page = message_page(
            "This sign-in link does not work",
            "It was used already, has expired (links last 10 minutes), or is not one Scribe \
             made. Ask for a new one with /incident web in your incident channel.",
        );
        return Ok((axum::http::StatusCode::FORBIDDEN, page).into_response());
    };
    // Each sign-in sweeps out the links and sessions that expired: they can sign nobody in.
    let swept = app.store().forget_expired_web(now).await?;
    if swept > 0 {
        tracing::debug!(swept, "expired sign-in links and sessions deleted");
    }
    let session = crate::signin::secret();
    let hours = app.config.web.session_hours.get();
    // At most a year (`SessionHours`): the end is always a time both can say.
    let expires = now + chrono::Duration::hours(hours as i64);
    app.store()
        .add_web_session(
            &crate::signin::digest(&session),
            &who,
            &crate::signin::secret(),
            now,
            expires,
        )
        .await?;
    tracing::info!(platform = %who.platform, workspace = %who.workspace, person = %who.person_id, "signed in on the web");
    let secure = if app.config.public_url().starts_with("https:") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        hours * 3600
    );
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a cookie of hex and ASCII"),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct Csrf {
    pub csrf: String,
}

pub async fn logout(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<Csrf>,
) -> Result<Response, WebError> {
    let signed = signed(&app, &headers).await?;
    if !crate::signin::same(&form.csrf, &signed.csrf) {
        return Err(WebError::Forged);
    }
    app.store().end_web_session(&signed.key).await?;
    let mut response = Redirect::to("/signin").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("scribe_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(response)
}

#[derive(Deserialize, Default, serde::Serialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    q: String,
    /// The filters an insights figure links with: the incidents behind it.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    week: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    postmortem: String,
    #[serde(default)]
    actions: String,
    #[serde(default)]
    factor: String,
    #[serde(default)]
    person: String,
    #[serde(default, skip_serializing)]
    page: Option<usize>,
}

impl ListQuery {
    /// What the filters say; a value that does not read is left out (the form shows it).
    fn filters(&self) -> (Filter, Behind) {
        let filter = Filter {
            from: day(&self.from),
            to: day(&self.to),
            severity: Severity::from_code(&self.severity),
        };
        let behind = Behind {
            week: insights::parse_week(&self.week),
            month: insights::parse_month(&self.month),
            postmortem: PostmortemState::ALL
                .into_iter()
                .find(|s| s.as_str() == self.postmortem.trim()),
            actions: insights::ActionState::parse(&self.actions),
            factor: insights::phrase(&self.factor),
            person: Some(self.person.trim().to_string()).filter(|p| !p.is_empty()),
        };
        (filter, behind)
    }

    /// Page `page` of the same list: the filters given, and no empty ones.
    fn link(&self, page: usize) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("status", &self.status),
            ("severity", &self.severity),
            ("q", &self.q),
            ("from", &self.from),
            ("to", &self.to),
            ("week", &self.week),
            ("month", &self.month),
            ("postmortem", &self.postmortem),
            ("actions", &self.actions),
            ("factor", &self.factor),
            ("person", &self.person),
        ] {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        query.append_pair("page", &page.to_string());
        format!("/?{}", query.finish())
    }
}

/// `/`: the incidents of the person's workspace, newest first, filtered and paged.
pub async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, WebError> {
    let signed = signed(&app, &headers).await?;
    let mut incidents = workspace_incidents(&app, &signed).await?;
    let today = app.today();
    let status = Status::parse(&query.status);
    let (filter, behind) = query.filters();
    let words = query.q.trim().to_lowercase();
    incidents.retain(|i| {
        status.is_none_or(|s| i.status() == s)
            && filter.admits(i)
            && behind.admits(i, today)
            && (words.is_empty() || i.title.to_lowercase().contains(&words))
    });
    incidents.sort_by_key(|i| std::cmp::Reverse(i.started_at));
    let (page, pages) = paging(incidents.len(), query.page);
    let rows: Vec<Row> = incidents
        .iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .map(|incident| Row::new(incident, today))
        .collect();
    render(
        "list.html",
        context! {
            title => "Incidents",
            rows => Value::from(Serde(&rows)),
            newer => (page > 1).then(|| query.link(page - 1)),
            older => (page < pages).then(|| query.link(page + 1)),
            total => incidents.len(),
            page,
            pages,
            query => Value::from(Serde(&query)),
            who => signed.who.person_name,
            csrf => signed.csrf,
        },
    )
}

/// The page asked for (the first when none, the last past the end) and how many pages
/// `total` items fill.
fn paging(total: usize, asked: Option<usize>) -> (usize, usize) {
    let pages = total.div_ceil(PAGE).max(1);
    (asked.unwrap_or(1).clamp(1, pages), pages)
}

/// A day as the forms send it; anything else is no day.
fn day(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

#[derive(Deserialize, Default)]
pub struct LibraryQuery {
    #[serde(default)]
    severity: String,
    /// Words about the service, each of which the postmortem must hold.
    #[serde(default)]
    q: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    page: Option<usize>,
}

/// Whether the incident's postmortem is published: what puts it in the library.
fn published(incident: &Incident, today: chrono::NaiveDate) -> bool {
    incident.postmortem_state(incident.postmortem.due, today) == PostmortemState::Published
}

/// The text a library search reads: title, summary, impact and the factors, lowercased.
fn story_text(incident: &Incident) -> String {
    let mut text = incident.title.clone();
    for part in [&incident.summary, &incident.impact].into_iter().flatten() {
        text.push('\n');
        text.push_str(part);
    }
    for factor in incident.factors.iter().filter(|f| !f.hidden) {
        text.push('\n');
        text.push_str(&factor.text);
    }
    text.to_lowercase()
}

/// `/postmortems`: the workspace's published postmortems, newest first, to learn from past
/// incidents.
pub async fn library(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<LibraryQuery>,
) -> Result<Html<String>, WebError> {
    let signed = signed(&app, &headers).await?;
    let mut incidents = workspace_incidents(&app, &signed).await?;
    let today = app.today();
    let filter = Filter {
        from: day(&query.from),
        to: day(&query.to),
        severity: Severity::from_code(&query.severity),
    };
    let words: Vec<String> = query.q.split_whitespace().map(str::to_lowercase).collect();
    incidents.retain(|i| {
        published(i, today) && filter.admits(i) && {
            let text = story_text(i);
            words.iter().all(|w| text.contains(w.as_str()))
        }
    });
    incidents.sort_by_key(|i| std::cmp::Reverse(i.started_at));
    let (page, pages) = paging(incidents.len(), query.page);
    let rows: Vec<Value> = incidents
        .iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .map(|incident| {
            let row = Row::new(incident, today);
            context! {
                href => format!("{}/postmortem", row.href),
                row => Value::from(Serde(&row)),
                summary => incident.summary.as_deref().map(|s| s.chars().take(240).collect::<String>()),
            }
        })
        .collect();
    let link = |page: usize| {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("severity", &query.severity)
            .append_pair("q", &query.q)
            .append_pair("from", &query.from)
            .append_pair("to", &query.to)
            .append_pair("page", &page.to_string())
            .finish();
        format!("/postmortems?{query}")
    };
    render(
        "library.html",
        context! {
            title => "Postmortems",
            rows,
            newer => (page > 1).then(|| link(page - 1)),
            older => (page < pages).then(|| link(page + 1)),
            total => incidents.len(),
            page,
            pages,
            severity => query.severity,
            q => query.q,
            from => query.from,
            to => query.to,
            who => signed.who.person_name,
            csrf => signed.csrf,
        },
    )
}

/// `/incidents/{id}/postmortem`: a published postmortem to read (and print), rendered from the
/// same markdown as the draft. An incident whose postmortem is not published is not here.
pub async fn postmortem(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let signed = signed(&app, &headers).await?;
    let incident = visible(&app, &signed.who, &id).await?;
    if !published(&incident, app.today()) {
        return Err(WebError::NotFound);
    }
    let draft = app
        .render_draft(&incident, &incident.channel.id)
        .map_err(|e| WebError::Render(e.to_string()))?;
    let href = view::href(&incident);
    render(
        "postmortem.html",
        context! {
            title => incident.title.clone(),
            body => Value::from_safe_string(super::markdown::to_html(&draft)),
            incident => href.clone(),
            download => format!("{href}/postmortem.md"),
            who => signed.who.person_name,
            csrf => signed.csrf,
        },
    )
}

#[derive(Deserialize, Default)]
pub struct InsightsQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    severity: String,
    /// For `/insights.csv`: which table.
    #[serde(default)]
    table: Option<Table>,
}

impl InsightsQuery {
    /// The filter; a date or severity that does not read is left out (the form shows it).
    fn filter(&self) -> Filter {
        Filter {
            from: day(&self.from),
            to: day(&self.to),
            severity: Severity::from_code(&self.severity),
        }
    }

    fn query_string(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("from", &self.from)
            .append_pair("to", &self.to)
            .append_pair("severity", &self.severity)
            .finish()
    }

    /// The list of incidents with this page's dates (and severity, with `severity`): what a
    /// figure's link adds its own filter to.
    fn list_link(&self, severity: bool) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("from", &self.from)
            .append_pair("to", &self.to);
        if severity {
            query.append_pair("severity", &self.severity);
        }
        format!("/?{}", query.finish())
    }
}

/// `/insights`: the workspace's incidents together, charts of incidents per week and of time
/// to resolve, and the figures as tables (each downloadable as CSV).
pub async fn insights(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<InsightsQuery>,
) -> Result<Html<String>, WebError> {
    let signed = signed(&app, &headers).await?;
    let incidents = workspace_incidents(&app, &signed).await?;
    let insights = Insights::new(&incidents, &query.filter(), app.today());
    let severities: Vec<Spread> = insights
        .by_severity
        .iter()
        .map(|(key, f)| Spread {
            label: key,
            median: f.times.ttr_median_minutes,
            p90: f.times.ttr_p90_minutes,
        })
        .collect();
    let months: Vec<Spread> = insights
        .by_month
        .iter()
        .map(|m| Spread {
            label: &m.month,
            median: m.times.ttr_median_minutes,
            p90: m.times.ttr_p90_minutes,
        })
        .collect();
    let ttr_severity = charts::time_to_resolve(
        "ttr-severity",
        "Time to resolve by severity, median and 90th percentile (minutes)",
        &severities,
    );
    let ttr_month = charts::time_to_resolve(
        "ttr-month",
        "Time to resolve by month, median and 90th percentile (minutes)",
        &months,
    );
    render(
        "insights.html",
        context! {
            title => "Insights",
            insights => Value::from(Serde(&insights)),
            chart => Value::from_safe_string(charts::per_week(&insights.per_week, &query.list_link(false))),
            ttr_severity => Value::from_safe_string(ttr_severity),
            ttr_month => Value::from_safe_string(ttr_month),
            csv => format!("/insights.csv?{}&table=", query.query_string()),
            drill => query.list_link(true),
            dates => query.list_link(false),
            from => query.from,
            to => query.to,
            severity => query.severity,
            who => signed.who.person_name,
            csrf => signed.csrf,
        },
    )
}

/// `/insights.csv?table=…`: one table of `/insights` (by default the severity table), as a
/// file.
pub async fn insights_csv(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<InsightsQuery>,
) -> Result<Response, WebError> {
    let signed = signed(&app, &headers).await?;
    let incidents = workspace_incidents(&app, &signed).await?;
    let insights = Insights::new(&incidents, &query.filter(), app.today());
    let table = query.table.unwrap_or_default();
    let name = format!("attachment; filename=\"insights-{}.csv\"", table.as_str());
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        insights.csv(table),
    )
        .into_response())
}

async fn workspace_incidents(app: &App, signed: &Signed) -> Result<Vec<Incident>, WebError> {
    let channels = app
        .store()
        .workspace_channels(signed.who.platform, &signed.who.workspace)
        .await?;
    let mut incidents = Vec::new();
    for channel in channels {
        incidents.extend(app.history(&channel).await?.incidents);
    }
    Ok(incidents)
}

#[derive(Deserialize, Default)]
pub struct IncidentQuery {
    /// What the last change answered, shown once.
    #[serde(default)]
    said: String,
}

/// `/incidents/{id}`: the incident, its timeline, its messages, its story and its draft.
pub async fn incident(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<IncidentQuery>,
) -> Result<Html<String>, WebError> {
    let signed = signed(&app, &headers).await?;
    let incident = visible(&app, &signed.who, &id).await?;
    let history = app.history(&incident.channel).await?;
    let after = history.previous_close(&incident);
    let events = app.store().channel_events(&incident.channel).await?;
    let messages = view::messages(&events, &incident, after);
    let zone = app.config.team.timezone;
    let draft = app
        .render_draft(&incident, &incident.channel.id)
        .unwrap_or_else(|error| {
            tracing::error!(%error, "cannot render the postmortem draft");
            crate::domain::reply::no_draft()
        });
    let jobs = app
        .store()
        .jobs(&crate::jobs::job_prefix(&incident.id()))
        .await?
        .into_iter()
        .map(|job| context! { kind => job.kind, state => job.state.as_str(), attempts => job.attempts })
        .collect::<Vec<_>>();
    let similar: Vec<HitView> = app
        .similar(&incident)
        .await?
        .iter()
        .map(HitView::new)
        .collect();
    let said: String = query.said.chars().take(300).collect();
    render(
        "incident.html",
        context! {
            title => incident.title.clone(),
            incident => Value::from(Serde(IncidentView::new(&incident, zone, app.today(), messages))),
            axis => Value::from_safe_string(super::axis::axis(&incident)),
            factors => Value::from(Serde(&incident.factors)),
            worked => Value::from(Serde(&incident.worked)),
            improve => Value::from(Serde(&incident.improve)),
            suggestions => incident.suggestions.iter().map(|p| context! {
                n => p.n, section => p.suggestion.section.heading(), text => p.suggestion.text.clone(),
                cites => p.suggestion.cites.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            }).collect::<Vec<_>>(),
            suggestions_dropped => incident.suggestions_dropped,
            assist => app.config.assist.base_url.is_some() && !incident.private,
            private => incident.private,
            actions => incident.actions.iter().map(|a| context! {
                n => a.n, text => a.text.clone(), owner => a.owner.clone(), horizon => a.horizon.as_str(),
                due => a.due.map(|d| d.format("%Y-%m-%d").to_string()),
                done => a.done, hidden => a.hidden,
                issue => a.issue.as_ref().map(|i| i.key.clone()),
                issue_url => a.issue.as_ref().and_then(|i| i.url.clone()).filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            }).collect::<Vec<_>>(),
            horizons => [Horizon::Now, Horizon::Short, Horizon::Long].map(Horizon::as_str),
            references => Value::from(Serde(&incident.references)),
            severities => Severity::ALL.map(|s| context! { code => s.code(), label => s.to_string() }),
            draft,
            jobs,
            similar => Value::from(Serde(&similar)),
            said,
            who => signed.who.person_name,
            csrf => signed.csrf,
        },
    )
}

/// `/incidents/{id}/postmortem.md`: the draft, as a file.
pub async fn markdown(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let signed = signed(&app, &headers).await?;
    let incident = visible(&app, &signed.who, &id).await?;
    let draft = app
        .render_draft(&incident, &incident.channel.id)
        .map_err(|e| WebError::Render(e.to_string()))?;
    let name = format!(
        "attachment; filename=\"postmortem-{}\"",
        crate::drafting::slug::file_name(&incident)
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/markdown; charset=utf-8".to_string(),
            ),
            (header::CONTENT_DISPOSITION, name),
        ],
        draft,
    )
        .into_response())
}
