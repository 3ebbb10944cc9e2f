//! `/search`: full-text search over the incidents of the person's workspace, every word
//! required, matches marked in each result's snippet.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Html;
use minijinja::context;
use minijinja::value::{Serde, Value};
use serde::Deserialize;

use super::pages::render;
use super::view::HitView;
use super::{WebError, signed};
use crate::app::App;
use crate::search::{self, Scope, Words};

/// Results one search shows.
const RESULTS: usize = 25;

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> Result<Html<String>, WebError> {
    let signed = signed(&app, &headers).await?;
    let words = Words::parse(&query.q);
    let hits = if words.is_empty() {
        Vec::new()
    } else {
        let scope = Scope::Workspace {
            platform: signed.who.platform,
            workspace: signed.who.workspace.clone(),
        };
        app.search(&search::Query::every_word(words, scope, RESULTS))
            .await?
    };
    let results: Vec<HitView> = hits.iter().map(HitView::new).collect();
    render(
        "search.html",
        context! {
            title => "Search",
            q => query.q.chars().take(200).collect::<String>(),
            asked => !query.q.trim().is_empty(),
            results => Value::from(Serde(&results)),
            who => signed.who.person_name,
            csrf => signed.csrf,
        },
    )
}
