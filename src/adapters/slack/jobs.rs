//! Slack's follow-up work, done by the job worker after the acknowledgement: the headline on
//! `/incident start`, the summary and the draft (as a file) on `/incident close`, and a report
//! in the channel when one of those fails for good.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::inbound::SlashCommand;
use super::markup::escape;
use super::web::{ApiError, Mark, SlackApi};
use crate::config::{PublishConfig, Target};
use crate::domain::{ChatEvent, EventKind, Incident, IncidentId, Outcome, Platform, Reply};
use crate::drafting::{Place, slug, view::human_duration};
use crate::jobs::{JobError, incident_job, read_incident_job};
use crate::server::App;
use crate::storage::{Job, NewJob, Store};

pub const HEADLINE: &str = "slack.headline";
pub const SUMMARY: &str = "slack.summary";
pub const DRAFT: &str = "slack.draft";
pub const REPORT: &str = "slack.report";
pub const CREATE_CHANNEL: &str = "slack.create_channel";

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
        kind: CREATE_CHANNEL.to_string(),
        payload: serde_json::to_string(&spec).expect("payloads serialise"),
        run_at: Utc::now(),
    }
}

/// Creates `inc-<yyyymmdd>-<slug>` (with a number after it when the name is taken), invites
/// the starter, links it from the origin channel and opens the incident there.
async fn open_in_new_channel<S: Store>(
    app: &App<S>,
    api: &SlackApi,
    job: &Job,
) -> Result<(), JobError> {
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
    super::intake::record(app, start)
        .await
        .map_err(|e| JobError::Transient(e.to_string()))?;
    post(
        api,
        &spec.origin,
        &format!("Incident opened in <#{channel}>: {}", escape(&title)),
    )
    .await
}

/// The jobs a Slack command calls for, keyed by incident so a redelivery queues nothing new:
/// Slack's own posts, and the publishing the configuration asks for.
pub fn follow_ups(
    config: &PublishConfig,
    event: &ChatEvent,
    reply: &Reply,
    incident: Option<IncidentId>,
) -> Vec<NewJob> {
    let Some(incident) = incident.filter(|_| event.channel.platform == Platform::Slack) else {
        return Vec::new();
    };
    let upload = config.targets.contains(&Target::Chat);
    let kinds: &[&str] = match reply.outcome {
        Outcome::Opened => &[HEADLINE],
        Outcome::Closed if upload => &[SUMMARY, DRAFT],
        Outcome::Closed => &[SUMMARY],
        _ => &[],
    };
    let mut jobs: Vec<NewJob> = kinds
        .iter()
        .map(|kind| incident_job(&incident, kind, "", None))
        .collect();
    jobs.extend(crate::publish::follow_ups(
        config,
        reply,
        Some(incident),
        event.message.as_str(),
    ));
    jobs
}

/// Posts `text` in the incident's channel when it is a Slack channel, once per `key`.
pub async fn announce<S: Store>(app: &App<S>, id: &IncidentId, key: &str, text: &str) {
    if id.channel.platform != Platform::Slack || app.slack.is_none() {
        return;
    }
    app.enqueue(incident_job(
        id,
        REPORT,
        &format!(".{key}"),
        Some(escape(text)),
    ))
    .await;
}

/// Runs one Slack job; a failure for good is reported in the channel (once).
pub async fn run<S: Store>(app: &App<S>, job: Job) -> Result<(), JobError> {
    let result = attempt(app, &job).await;
    if let Err(error) = &result
        && error.is_final(job.attempts)
    {
        app.metrics.job_failures.inc();
        if job.kind != REPORT {
            report(app, &job, error).await;
        }
    }
    result
}

async fn attempt<S: Store>(app: &App<S>, job: &Job) -> Result<(), JobError> {
    let api = app
        .slack
        .as_ref()
        .ok_or_else(|| JobError::Permanent("SLACK_BOT_TOKEN is not set".to_string()))?;
    if job.kind == CREATE_CHANNEL {
        return open_in_new_channel(app, api, job).await;
    }
    let (id, text) = read_incident_job(job)?;
    let channel = id.channel.id.clone();
    if job.kind == REPORT {
        let text = text.unwrap_or_default();
        return post_once(api, &channel, &text, job).await;
    }
    let incident = app.incident_for_job(&id).await?;
    match job.kind.as_str() {
        HEADLINE => post_once(api, &channel, &headline(&incident), job).await,
        SUMMARY => post_once(api, &channel, &summary(&incident), job).await,
        DRAFT => upload_draft(app, api, &incident, job).await,
        other => Err(JobError::Permanent(format!(
            "unknown Slack job kind `{other}`"
        ))),
    }
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
async fn post_once(api: &SlackApi, channel: &str, text: &str, job: &Job) -> Result<(), JobError> {
    if done_before(api, channel, job, Mark::Job(&job.key)).await? {
        return Ok(());
    }
    api.post_message_once(channel, text, &job.key)
        .await
        .map_err(JobError::from)
}

async fn post(api: &SlackApi, channel: &str, text: &str) -> Result<(), JobError> {
    api.post_message(channel, text).await?;
    Ok(())
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
    job: &Job,
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

/// Tells the channel what could not be done and where the draft still is.
async fn report<S: Store>(app: &App<S>, failed: &Job, error: &JobError) {
    let (JobError::Transient(reason) | JobError::Permanent(reason)) = error;
    let reason = escape(reason);
    let (id, text) = if failed.kind == CREATE_CHANNEL {
        let Ok(spec) = serde_json::from_str::<NewChannel>(&failed.payload) else {
            return;
        };
        let id = IncidentId {
            channel: crate::domain::ChannelRef::new(Platform::Slack, spec.origin),
            opened_by: crate::domain::MessageId::new(format!("cmd:{}", spec.trigger_id)),
        };
        let text = format!(
            ":warning: Scribe could not create the incident channel: {reason}. Start the \
             incident in an existing channel instead."
        );
        (id, text)
    } else {
        let Ok((id, _)) = read_incident_job(failed) else {
            return;
        };
        let what = match failed.kind.as_str() {
            HEADLINE => "post the incident headline",
            SUMMARY => "post the closing summary",
            _ => "upload the postmortem draft",
        };
        let text = format!(
            ":warning: Scribe could not {what}: {reason}. Nothing is lost: the draft stays \
             available with `/incident draft` and from the API at /api/incidents/{id}/postmortem.md."
        );
        (id, text)
    };
    app.enqueue(incident_job(
        &id,
        REPORT,
        &format!(".{}", failed.id),
        Some(text),
    ))
    .await;
}
