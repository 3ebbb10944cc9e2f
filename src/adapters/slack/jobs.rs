//! Slack's follow-up work, done by the job worker after the acknowledgement: the headline on
//! `/incident start`, the summary and the draft (as a file) on `/incident close`, and a report
//! in the channel when one of those fails for good.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::markup::escape;
use super::web::{ApiError, SlackApi};
use crate::domain::{ChatEvent, Incident, IncidentId, Outcome, Platform, Reply};
use crate::drafting::{Place, slug, view::human_duration};
use crate::jobs::{JobError, MAX_ATTEMPTS};
use crate::server::App;
use crate::server::api::job_prefix;
use crate::storage::{Job, NewJob, Store};

pub const HEADLINE: &str = "slack.headline";
pub const SUMMARY: &str = "slack.summary";
pub const DRAFT: &str = "slack.draft";
pub const REPORT: &str = "slack.report";

#[derive(Serialize, Deserialize)]
struct Payload {
    incident: String,
    /// For a report: what went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

fn job(id: &IncidentId, kind: &str, suffix: &str, text: Option<String>) -> NewJob {
    NewJob {
        key: format!("{}{kind}{suffix}", job_prefix(id)),
        kind: kind.to_string(),
        payload: serde_json::to_string(&Payload {
            incident: id.to_string(),
            text,
        })
        .expect("payloads serialise"),
        run_at: Utc::now(),
    }
}

/// The jobs a Slack command calls for, keyed by incident so a redelivery queues nothing new.
pub fn follow_ups(event: &ChatEvent, reply: &Reply, incident: Option<IncidentId>) -> Vec<NewJob> {
    let Some(incident) = incident.filter(|_| event.channel.platform == Platform::Slack) else {
        return Vec::new();
    };
    let kinds: &[&str] = match reply.outcome {
        Outcome::Opened => &[HEADLINE],
        Outcome::Closed => &[SUMMARY, DRAFT],
        _ => &[],
    };
    kinds
        .iter()
        .map(|kind| job(&incident, kind, "", None))
        .collect()
}

/// Runs one Slack job; a failure for good is reported in the channel (once).
pub async fn run<S: Store>(app: &App<S>, job: Job) -> Result<(), JobError> {
    let result = attempt(app, &job).await;
    if let Err(error) = &result {
        let last = matches!(error, JobError::Permanent(_)) || job.attempts >= MAX_ATTEMPTS;
        if last {
            app.metrics.job_failures.inc();
            if job.kind != REPORT {
                report(app, &job, error).await;
            }
        }
    }
    result
}

async fn attempt<S: Store>(app: &App<S>, job: &Job) -> Result<(), JobError> {
    let api = app
        .slack
        .as_ref()
        .ok_or_else(|| JobError::Permanent("SLACK_BOT_TOKEN is not set".to_string()))?;
    let payload: Payload = serde_json::from_str(&job.payload)
        .map_err(|e| JobError::Permanent(format!("unreadable job payload: {e}")))?;
    let id: IncidentId = payload
        .incident
        .parse()
        .map_err(|e| JobError::Permanent(format!("{e}")))?;
    let channel = id.channel.id.clone();
    if job.kind == REPORT {
        let text = payload.text.unwrap_or_default();
        return api
            .post_message(&channel, &text)
            .await
            .map(drop)
            .map_err(job_error);
    }
    let incident = incident(app, &id).await?;
    match job.kind.as_str() {
        HEADLINE => post(api, &channel, &headline(&incident)).await,
        SUMMARY => post(api, &channel, &summary(&incident)).await,
        DRAFT => upload_draft(app, api, &incident).await,
        other => Err(JobError::Permanent(format!(
            "unknown Slack job kind `{other}`"
        ))),
    }
}

async fn incident<S: Store>(app: &App<S>, id: &IncidentId) -> Result<Incident, JobError> {
    let history = app
        .history(id)
        .await
        .map_err(|e| JobError::Transient(e.to_string()))?;
    history
        .incidents
        .into_iter()
        .find(|i| i.opened_by == id.opened_by)
        .ok_or_else(|| JobError::Permanent(format!("incident {id} is not in its channel's log")))
}

fn job_error(error: ApiError) -> JobError {
    if error.is_permanent() {
        JobError::Permanent(error.to_string())
    } else {
        JobError::Transient(error.to_string())
    }
}

async fn post(api: &SlackApi, channel: &str, text: &str) -> Result<(), JobError> {
    api.post_message(channel, text)
        .await
        .map(drop)
        .map_err(job_error)
}

fn headline(incident: &Incident) -> String {
    let severity = incident
        .severity
        .map_or_else(|| "not set".to_string(), |s| s.to_string());
    format!(
        ":rotating_light: *Incident opened: {title}*\nSeverity: {severity} · Lead: {lead}\n\
         Add timeline entries with `/timeline <text>` (or `/timeline HH:MM <text>` for earlier \
         moments) or a :pushpin: reaction on any message. Close with `/incident close`.",
        title = escape(&incident.title),
        lead = escape(incident.author()),
    )
}

fn summary(incident: &Incident) -> String {
    let duration = incident
        .time_to_resolve()
        .map_or_else(|| "unknown (never resolved)".to_string(), human_duration);
    let names: Vec<&str> = incident
        .participants
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    format!(
        ":white_check_mark: *Incident closed: {title}*\nDuration: {duration} · {entries} timeline \
         entries · {count} participants: {names}\nThe postmortem draft follows as a file.",
        title = escape(&incident.title),
        entries = incident.timeline.len(),
        count = names.len(),
        names = escape(&names.join(", ")),
    )
}

async fn upload_draft<S: Store>(
    app: &App<S>,
    api: &SlackApi,
    incident: &Incident,
) -> Result<(), JobError> {
    let place = Place {
        channel: incident.channel.id.clone(),
        platform: "slack",
        team_zone: app.config.team.timezone,
    };
    let draft = app
        .drafter
        .render(&app.config.drafting.template, incident, &place)
        .map_err(|e| JobError::Permanent(e.to_string()))?;
    let filename = format!("postmortem-{}", slug::file_name(incident));
    let title = format!("Postmortem draft: {}", incident.title);
    api.upload_file(
        &incident.channel.id,
        &filename,
        &title,
        draft.as_bytes(),
        "Postmortem draft: every field the chat knows is filled in; the rest is marked \"To fill in\".",
    )
    .await
    .map(drop)
    .map_err(job_error)
}

/// Tells the channel what could not be done and where the draft still is.
async fn report<S: Store>(app: &App<S>, failed: &Job, error: &JobError) {
    let (JobError::Transient(reason) | JobError::Permanent(reason)) = error;
    let Ok(payload) = serde_json::from_str::<Payload>(&failed.payload) else {
        return;
    };
    let Ok(id) = payload.incident.parse::<IncidentId>() else {
        return;
    };
    let what = match failed.kind.as_str() {
        HEADLINE => "post the incident headline",
        SUMMARY => "post the closing summary",
        _ => "upload the postmortem draft",
    };
    let text = format!(
        ":warning: Scribe could not {what}: {reason}. Nothing is lost: the draft stays \
         available with `/incident draft` and from the API at /api/incidents/{id}/postmortem.md.",
        reason = escape(reason),
    );
    let report = job(&id, REPORT, &format!(".{}", failed.id), Some(text));
    if let Err(error) = app.recorder.store().enqueue(&[report]).await {
        tracing::error!(%error, "cannot enqueue a failure report");
    }
    app.wake.notify_one();
}
