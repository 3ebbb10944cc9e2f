//! Slack's follow-up work, done by the job worker after the acknowledgement: the headline on
//! `/incident start`, the summary and the draft (as a file) on `/incident close`, and a report
//! in the channel when one of those fails for good.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::inbound::SlashCommand;
use super::markup::escape;
use super::web::{ApiError, Mark, SlackApi};
use super::{Slack, blocks};
use crate::domain::{ChatEvent, EventKind, Incident, IncidentId, Platform};
use crate::drafting::{slug, view::human_duration};
use crate::jobs::{JobError, JobKind, SlackJob, read_incident_job};
use crate::storage::{Job, NewJob};

/// What it takes to open an incident in a channel of its own.
#[derive(Serialize, Deserialize)]
struct NewChannel {
    /// Where `/incident start` was typed.
    origin: String,
    user_id: String,
    user_name: String,
    /// The command as typed, replayed in the new channel.
    text: String,
    at: chrono::DateTime<Utc>,
    trigger_id: String,
}

/// The job for `/incident start` when `[slack] create_channel` is on: the command is kept
/// durably as this job and replayed in the new channel once it exists.
pub fn create_channel(command: &SlashCommand, event: &ChatEvent) -> NewJob {
    let text = match &event.kind {
        EventKind::Posted { text, .. } => text.clone(),
        _ => String::new(),
    };
    let spec = NewChannel {
        origin: command.channel_id.clone(),
        user_id: command.user_id.clone(),
        user_name: command.user_name.clone(),
        text,
        at: event.at,
        trigger_id: command.trigger_id.clone(),
    };
    NewJob {
        key: format!("slack:create_channel:{}", command.trigger_id),
        kind: JobKind::Slack(SlackJob::CreateChannel).to_string(),
        payload: serde_json::to_string(&spec).expect("payloads serialise"),
        run_at: Utc::now(),
    }
}

/// Creates `inc-<yyyymmdd>-<slug>` (with a number after it when the name is taken), invites
/// the starter, links it from the origin channel and opens the incident there.
async fn open_in_new_channel(slack: &Slack, api: &SlackApi, job: &Job) -> Result<(), JobError> {
    let spec: NewChannel = serde_json::from_str(&job.payload)
        .map_err(|e| JobError::Permanent(format!("unreadable job payload: {e}")))?;
    let title = match crate::domain::command::parse(&spec.text) {
        Some(Ok(crate::domain::Command::Incident(crate::domain::IncidentCommand::Start {
            title,
            ..
        }))) => title,
        _ => {
            return Err(JobError::Permanent(
                "the job holds no /incident start".into(),
            ));
        }
    };
    let base: String = format!("inc-{}-{}", spec.at.format("%Y%m%d"), slug::slug(&title))
        .chars()
        .take(76)
        .collect();
    let mut channel = None;
    for n in 1..=9 {
        let name = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        match api.create_channel(&name).await {
            Ok(id) => {
                channel = Some(id);
                break;
            }
            Err(ApiError::Permanent { error, .. }) if error == "name_taken" => continue,
            Err(error) => return Err(error.into()),
        }
    }
    let channel =
        channel.ok_or_else(|| JobError::Permanent(format!("every name like {base} is taken")))?;
    api.invite(&channel, &spec.user_id).await?;
    let start = ChatEvent {
        channel: crate::domain::ChannelRef::new(Platform::Slack, channel.clone()),
        message: crate::domain::MessageId::new(format!("cmd:{}", spec.trigger_id)),
        at: spec.at,
        kind: EventKind::Posted {
            author: crate::domain::Author::human(spec.user_id, spec.user_name),
            text: spec.text,
            thread: None,
        },
    };
    super::intake::record(slack, start).await?;
    post(
        api,
        &spec.origin,
        &format!("Incident opened in <#{channel}>: {}", escape(&title)),
    )
    .await
}

/// Runs one Slack job.
pub async fn run(slack: &Slack, job: &Job, kind: SlackJob) -> Result<(), JobError> {
    let api = slack
        .api
        .as_ref()
        .ok_or_else(|| JobError::Permanent("SLACK_BOT_TOKEN is not set".to_string()))?;
    match kind {
        SlackJob::CreateChannel => open_in_new_channel(slack, api, job).await,
        SlackJob::Report => {
            // Reports are queued as plain words, by any part of Scribe: escaped here, for Slack.
            let (id, text) = read_incident_job(job)?;
            let text = escape(&text.unwrap_or_default());
            let blocks = Value::Array(blocks::sections(&text));
            post_once(api, &id.channel.id, &text, &blocks, job).await
        }
        SlackJob::Headline => {
            let incident = incident(slack, job).await?;
            let text = headline(slack, &incident).await;
            let blocks = blocks::headline(&text, &incident, None);
            post_once(api, &incident.channel.id, &text, &blocks, job).await
        }
        SlackJob::Summary => {
            let incident = incident(slack, job).await?;
            let text = summary(&incident);
            let blocks = Value::Array(blocks::sections(&text));
            post_once(api, &incident.channel.id, &text, &blocks, job).await
        }
        SlackJob::Draft => upload_draft(slack, api, &incident(slack, job).await?, job).await,
    }
}

async fn incident(slack: &Slack, job: &Job) -> Result<Incident, JobError> {
    let (id, _) = read_incident_job(job)?;
    slack.app.incident_for_job(&id).await
}

/// The channel a `create_channel` job would have opened the incident from: where its failure
/// is reported.
pub fn origin(job: &Job) -> Option<IncidentId> {
    let spec: NewChannel = serde_json::from_str(&job.payload).ok()?;
    Some(IncidentId {
        channel: crate::domain::ChannelRef::new(Platform::Slack, spec.origin),
        opened_by: crate::domain::MessageId::new(format!("cmd:{}", spec.trigger_id)),
    })
}

/// Whether an earlier attempt of `job` may have done its work: one cut off after Slack had
/// acted (a crash, a lost answer) left no record of it but in the channel.
async fn done_before(
    api: &SlackApi,
    channel: &str,
    job: &Job,
    mark: Mark<'_>,
) -> Result<bool, JobError> {
    if job.attempts <= 1 {
        return Ok(false);
    }
    let done = api.posted_before(channel, mark).await?;
    if done {
        tracing::info!("an earlier attempt already posted this; not posting it again");
    }
    Ok(done)
}

/// Posts the message of `job`, unless an earlier attempt did.
async fn post_once(
    api: &SlackApi,
    channel: &str,
    text: &str,
    blocks: &Value,
    job: &Job,
) -> Result<(), JobError> {
    if done_before(api, channel, job, Mark::Job(&job.key)).await? {
        return Ok(());
    }
    api.post_message_once(channel, text, blocks, &job.key)
        .await
        .map_err(JobError::from)
}

async fn post(api: &SlackApi, channel: &str, text: &str) -> Result<(), JobError> {
    api.post_message(channel, text).await?;
    Ok(())
}

/// The headline's text, with the closed incidents like this one when `[search]
/// similar_on_start` is on: posted on start, and again when its buttons change the incident.
pub(super) async fn headline(slack: &Slack, incident: &Incident) -> String {
    let text = headline_text(incident);
    match slack.app.similar_on_start(incident).await {
        Some(similar) => format!("{text}\n{similar}"),
        None => text,
    }
}

fn headline_text(incident: &Incident) -> String {
    let severity = incident
        .severity
        .map_or_else(|| "not set".to_string(), |s| s.to_string());
    let resolved = incident
        .resolved_at
        .map(|at| format!(" · Resolved at {}", at.format("%H:%M UTC")))
        .unwrap_or_default();
    format!(
        ":rotating_light: *Incident opened: {title}*\nSeverity: {severity} · Lead: {lead}{resolved}\n\
         Add timeline entries with `/timeline <text>` (or `/timeline HH:MM <text>` for earlier \
         moments), a :pushpin: reaction or \"Add to timeline\" in any message's menu. Close with \
         `/incident close`.",
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
        entries = incident.visible_timeline().count(),
        count = names.len(),
        names = escape(&names.join(", ")),
    )
}

async fn upload_draft(
    slack: &Slack,
    api: &SlackApi,
    incident: &Incident,
    job: &Job,
) -> Result<(), JobError> {
    let draft = slack.app.render_draft(incident, &incident.channel.id)?;
    let filename = format!("postmortem-{}", slug::file_name(incident));
    if done_before(api, &incident.channel.id, job, Mark::File(&filename)).await? {
        return Ok(());
    }
    let title = format!("Postmortem draft: {}", incident.title);
    api.upload_file(
        &incident.channel.id,
        &filename,
        &title,
        draft.as_bytes(),
        "Postmortem draft: every field the chat knows is filled in; the rest is marked \"To fill in\".",
    )
    .await?;
    Ok(())
}
