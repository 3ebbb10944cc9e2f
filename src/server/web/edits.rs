//! Changes made on the web: each form becomes the command a person would type in the channel,
//! stored as that person's message (an id starting `web:`) and folded like any other, so chat,
//! the API, the published file and a restart all agree with the page. "Add to timeline" is a
//! 📌 of the web's own ([`WEB_PIN`]).

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Signed, WebError, signed, visible};
use crate::app::App;
use crate::domain::event::WEB_PIN;
use crate::domain::{Author, ChatEvent, EventKind, Incident, MessageId, UserId, command, reply};
use crate::storage::Store;

/// The longest text a form may carry.
const MAX_TEXT: usize = 4_000;

/// The signed-in person, when the form carries their CSRF token, and the incident they may
/// change.
async fn allowed(
    app: &App,
    headers: &HeaderMap,
    id: &str,
    csrf: &str,
) -> Result<(Signed, Incident), WebError> {
    let signed = signed(app, headers).await?;
    if !crate::signin::same(csrf, &signed.csrf) {
        return Err(WebError::Forged);
    }
    let incident = visible(app, &signed.who, id).await?;
    Ok((signed, incident))
}

fn text(value: &str) -> Result<&str, WebError> {
    let value = value.trim();
    match value.chars().count() {
        0 => Err(WebError::BadForm("The text is empty: nothing was changed.")),
        n if n > MAX_TEXT => Err(WebError::BadForm(
            "The text is longer than 4,000 characters: nothing was changed.",
        )),
        _ => Ok(value),
    }
}

fn number(n: Option<u32>) -> Result<u32, WebError> {
    n.filter(|n| *n > 0)
        .ok_or(WebError::BadForm("Which one? The form has no number."))
}

/// Stores `command` as the signed-in person's message in the incident's channel, naming the
/// incident (a later one may have started in the channel since), and goes back to the page
/// with the answer the channel would have seen.
async fn run(
    app: &App,
    signed: &Signed,
    incident: &Incident,
    command: String,
    anchor: &str,
) -> Result<Response, WebError> {
    let event = ChatEvent {
        channel: incident.channel.clone(),
        message: MessageId::new(format!("web:{}", &crate::signin::secret()[..24])),
        at: app.clock.now(),
        kind: EventKind::Posted {
            author: Author::human(&signed.who.person_id, &signed.who.person_name),
            text: command::aimed(&command, incident.opened_by.as_str()),
            thread: None,
        },
    };
    let recorded = app.record(&event).await?;
    let said = recorded
        .effect
        .map(|e| reply::text(&e.outcome, recorded.incident.as_ref()))
        .unwrap_or_default();
    Ok(back(incident, &said, anchor))
}

fn back(incident: &Incident, said: &str, anchor: &str) -> Response {
    let said = url::form_urlencoded::byte_serialize(said.as_bytes()).collect::<String>();
    Redirect::to(&format!(
        "{}?said={said}#{anchor}",
        super::view::href(incident)
    ))
    .into_response()
}

#[derive(Deserialize)]
pub struct AssistForm {
    csrf: String,
    op: String,
    n: Option<u32>,
    /// The section a "Suggest" is for; none: every section.
    #[serde(default)]
    section: String,
}

/// "Suggest" (for a section, or all) and a suggestion's "Accept": `/incident assist
/// [section]` and `/incident assist accept N`.
pub async fn assist(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<AssistForm>,
) -> Result<Response, WebError> {
    let (signed, incident) = allowed(&app, &headers, &id, &form.csrf).await?;
    let command = match form.op.as_str() {
        "suggest" if form.section.is_empty() => "/incident assist".to_string(),
        "suggest" => match crate::domain::assist::Section::read(&form.section) {
            Some(section) => format!("/incident assist {}", section.as_str()),
            None => return Err(WebError::BadForm("No such section.")),
        },
        "accept" => format!("/incident assist accept {}", number(form.n)?),
        _ => return Err(WebError::BadForm("No such change.")),
    };
    run(&app, &signed, &incident, command, "suggestions").await
}

#[derive(Deserialize)]
pub struct FactsForm {
    csrf: String,
    field: String,
    #[serde(default)]
    value: String,
}

pub async fn facts(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<FactsForm>,
) -> Result<Response, WebError> {
    let (signed, incident) = allowed(&app, &headers, &id, &form.csrf).await?;
    let command = match form.field.as_str() {
        field @ ("title" | "severity" | "lead" | "summary" | "impact") => {
            format!("/incident {field} {}", text(&form.value)?)
        }
        // The state changes a channel makes with /incident resolve and /incident close.
        "resolve" => format!("/incident resolve {}", form.value.trim()),
        "close" => "/incident close".to_string(),
        // The postmortem's owner, due date (a date field: YYYY-MM-DD) and state.
        "postmortem_owner" => format!(
            "/incident postmortem owner {}",
            text(form.value.trim().trim_start_matches('@'))?
        ),
        "postmortem_due" => format!("/incident postmortem due {}", text(&form.value)?),
        "postmortem_review" => "/incident postmortem review".to_string(),
        "postmortem_published" => "/incident postmortem published".to_string(),
        _ => return Err(WebError::BadForm("No such field.")),
    };
    run(&app, &signed, &incident, command, "facts").await
}

#[derive(Deserialize)]
pub struct TimelineForm {
    csrf: String,
    op: String,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    time: String,
}

pub async fn timeline(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<TimelineForm>,
) -> Result<Response, WebError> {
    let (signed, incident) = allowed(&app, &headers, &id, &form.csrf).await?;
    let time = form.time.trim();
    let command = match form.op.as_str() {
        "add" if time.is_empty() => format!("/timeline {}", text(&form.text)?),
        "add" => format!("/timeline {time} {}", text(&form.text)?),
        "edit" => format!("/timeline edit {} {}", number(form.n)?, text(&form.text)?),
        "move" => format!("/timeline move {} {}", number(form.n)?, text(time)?),
        "remove" => format!("/timeline remove {}", number(form.n)?),
        "restore" => format!("/timeline restore {}", number(form.n)?),
        _ => return Err(WebError::BadForm("No such change.")),
    };
    run(&app, &signed, &incident, command, "timeline").await
}

#[derive(Deserialize)]
pub struct PinForm {
    csrf: String,
    message: String,
}

/// "Add to timeline" on a message of the channel: the same as a 📌 on it.
pub async fn pin(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<PinForm>,
) -> Result<Response, WebError> {
    let (signed, incident) = allowed(&app, &headers, &id, &form.csrf).await?;
    let message = MessageId::new(form.message);
    let events = app.store().channel_events(&incident.channel).await?;
    if !events
        .iter()
        .any(|e| e.message == message && matches!(e.kind, EventKind::Posted { .. }))
    {
        return Err(WebError::NotFound);
    }
    let event = ChatEvent {
        channel: incident.channel.clone(),
        message,
        at: app.clock.now(),
        kind: EventKind::ReactionAdded {
            emoji: WEB_PIN.to_string(),
            user: UserId::new(&signed.who.person_id),
        },
    };
    app.record(&event).await?;
    Ok(back(&incident, "Added to the timeline.", "timeline"))
}

#[derive(Deserialize)]
pub struct StoryForm {
    csrf: String,
    list: String,
    op: String,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    text: String,
}

pub async fn story(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<StoryForm>,
) -> Result<Response, WebError> {
    let (signed, incident) = allowed(&app, &headers, &id, &form.csrf).await?;
    let list = match form.list.as_str() {
        list @ ("factor" | "worked" | "improve") => list,
        _ => return Err(WebError::BadForm("No such list.")),
    };
    let command = match form.op.as_str() {
        "add" => format!("/incident {list} {}", text(&form.text)?),
        "edit" => format!(
            "/incident {list} edit {} {}",
            number(form.n)?,
            text(&form.text)?
        ),
        op @ ("remove" | "restore") => format!("/incident {list} {op} {}", number(form.n)?),
        _ => return Err(WebError::BadForm("No such change.")),
    };
    run(&app, &signed, &incident, command, "story").await
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
    op: String,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    horizon: String,
    #[serde(default)]
    due: String,
}

pub async fn actions(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    let (signed, incident) = allowed(&app, &headers, &id, &form.csrf).await?;
    let command = match form.op.as_str() {
        op @ ("add" | "edit") => {
            let horizon = match form.horizon.as_str() {
                h @ ("now" | "short" | "long") => h,
                _ => "short",
            };
            let mut command = match op {
                "add" => format!("/incident action {horizon} {}", text(&form.text)?),
                _ => format!(
                    "/incident action edit {} {}",
                    number(form.n)?,
                    text(&form.text)?
                ),
            };
            let owner = form.owner.trim().trim_start_matches('@');
            if !owner.is_empty() {
                if owner.split_whitespace().count() > 3 || owner.chars().count() > 64 {
                    return Err(WebError::BadForm(
                        "An owner is a name of at most three words: nothing was changed.",
                    ));
                }
                command.push_str(&format!(" @{owner}"));
            }
            let due = form.due.trim();
            if !due.is_empty() {
                command.push_str(&format!(" due {due}"));
            }
            command
        }
        op @ ("done" | "reopen" | "remove" | "restore") => {
            format!("/incident action {op} {}", number(form.n)?)
        }
        _ => return Err(WebError::BadForm("No such change.")),
    };
    run(&app, &signed, &incident, command, "actions").await
}

#[derive(Deserialize)]
pub struct ReferenceForm {
    csrf: String,
    #[serde(default)]
    op: String,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    label: String,
    #[serde(default)]
    text: String,
}

pub async fn references(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ReferenceForm>,
) -> Result<Response, WebError> {
    let (signed, incident) = allowed(&app, &headers, &id, &form.csrf).await?;
    let command = match form.op.as_str() {
        "" | "add" => {
            let label: String = text(&form.label)?
                .split_whitespace()
                .collect::<Vec<_>>()
                .join("-");
            format!("/incident ref {label} {}", text(&form.text)?)
        }
        "edit" => format!(
            "/incident ref edit {} {}",
            number(form.n)?,
            text(&form.text)?
        ),
        op @ ("remove" | "restore") => format!("/incident ref {op} {}", number(form.n)?),
        _ => return Err(WebError::BadForm("No such change.")),
    };
    run(&app, &signed, &incident, command, "references").await
}

#[derive(Deserialize)]
pub struct PublishForm {
    csrf: String,
}

/// Publishes the draft to the configured targets: the same jobs as `/incident draft --publish`.
pub async fn publish(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<PublishForm>,
) -> Result<Response, WebError> {
    let (signed, incident) = allowed(&app, &headers, &id, &form.csrf).await?;
    run(
        &app,
        &signed,
        &incident,
        "/incident draft --publish".to_string(),
        "draft",
    )
    .await
}
