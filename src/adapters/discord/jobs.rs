//! Discord's follow-up work, done by the job worker: on `/incident close`, the summary with
//! the postmortem draft attached (a file: Discord caps a message at 2,000 characters); and a
//! report in the channel when a post or a publish fails for good.

use serenity::all::{ChannelId, CreateAttachment, CreateMessage};

use crate::config::{PublishConfig, Target};
use crate::domain::{ChatEvent, Incident, IncidentId, Outcome, Platform, Reply};
use crate::drafting::{Place, slug, view::human_duration};
use crate::jobs::{JobError, incident_job, read_incident_job};
use crate::server::App;
use crate::storage::{Job, NewJob, Store};

pub const SUMMARY: &str = "discord.summary";
pub const REPORT: &str = "discord.report";

/// Discord refuses longer message contents.
const MESSAGE_LIMIT: usize = 2000;

/// The jobs a Discord command calls for, keyed by incident so a redelivery queues nothing new.
pub fn follow_ups(
    config: &PublishConfig,
    event: &ChatEvent,
    reply: &Reply,
    incident: Option<IncidentId>,
) -> Vec<NewJob> {
    let Some(incident) = incident.filter(|_| event.channel.platform == Platform::Discord) else {
        return Vec::new();
    };
    let mut jobs = Vec::new();
    if reply.outcome == Outcome::Closed {
        jobs.push(incident_job(&incident, SUMMARY, "", None));
    }
    jobs.extend(crate::publish::follow_ups(
        config,
        reply,
        Some(incident),
        event.message.as_str(),
    ));
    jobs
}

/// Posts `text` in the incident's channel when it is a Discord channel, once per `key`.
pub async fn announce<S: Store>(app: &App<S>, id: &IncidentId, key: &str, text: &str) {
    if id.channel.platform != Platform::Discord || app.discord.is_none() {
        return;
    }
    app.enqueue(incident_job(
        id,
        REPORT,
        &format!(".{key}"),
        Some(text.to_string()),
    ))
    .await;
}

/// Runs one Discord job; a failure for good is reported in the channel (once).
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
        .discord
        .as_ref()
        .ok_or_else(|| JobError::Permanent("DISCORD_TOKEN is not set".to_string()))?;
    let (id, text) = read_incident_job(job)?;
    let channel = id
        .channel
        .id
        .parse::<u64>()
        .map(ChannelId::new)
        .map_err(|_| JobError::Permanent(format!("{} is no Discord channel", id.channel)))?;
    // The same for every attempt of this job, different for every job.
    let once = format!("scribe-{}", job.id);
    match job.kind.as_str() {
        REPORT => {
            let text = text.unwrap_or_default();
            api.send(channel, CreateMessage::new().content(clip(&text)), &once)
                .await
        }
        SUMMARY => {
            let incident = app.incident_for_job(&id).await?;
            let mut message = CreateMessage::new().content(clip(&summary(&incident)));
            if app.config.publish.targets.contains(&Target::Chat) {
                let place = Place {
                    channel: api.channel_name(channel).await,
                    platform: "discord",
                    team_zone: app.config.team.timezone,
                };
                let draft = app
                    .drafter
                    .render(&app.config.drafting.template, &incident, &place)
                    .map_err(|e| JobError::Permanent(e.to_string()))?;
                let name = format!("postmortem-{}", slug::file_name(&incident));
                message = message.add_file(CreateAttachment::bytes(draft.into_bytes(), name));
            }
            api.send(channel, message, &once).await
        }
        other => Err(JobError::Permanent(format!(
            "unknown Discord job kind `{other}`"
        ))),
    }
}

/// The headline `/incident start` answers with, for everyone in the channel.
pub fn headline(incident: &Incident) -> String {
    let severity = incident
        .severity
        .map_or_else(|| "not set".to_string(), |s| s.to_string());
    clip(&format!(
        "🚨 **Incident opened: {title}**\nSeverity: {severity} · Lead: {lead}\nAdd timeline \
         entries with `/timeline` or a 📌 reaction on any message. Close with `/incident close`.",
        title = incident.title,
        lead = incident.author(),
    ))
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
        "✅ **Incident closed: {title}**\nDuration: {duration} · {entries} timeline entries · \
         {count} participants: {names}",
        title = incident.title,
        entries = incident.timeline.len(),
        count = names.len(),
        names = names.join(", "),
    )
}

/// At most [`MESSAGE_LIMIT`] characters, cut with an ellipsis.
pub fn clip(text: &str) -> String {
    if text.chars().count() <= MESSAGE_LIMIT {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(MESSAGE_LIMIT - 1).collect();
    clipped.push('…');
    clipped
}

/// Tells the channel what could not be done and where the draft still is.
async fn report<S: Store>(app: &App<S>, failed: &Job, error: &JobError) {
    let (JobError::Transient(reason) | JobError::Permanent(reason)) = error;
    let Ok((id, _)) = read_incident_job(failed) else {
        return;
    };
    let text = format!(
        "⚠️ Scribe could not post the closing summary and draft: {reason}. Nothing is lost: the \
         draft stays available with `/incident draft` and from the API at \
         /api/incidents/{id}/postmortem.md."
    );
    app.enqueue(incident_job(
        &id,
        REPORT,
        &format!(".{}", failed.id),
        Some(text),
    ))
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_clipped_to_discords_limit() {
        let long = "x".repeat(5000);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), MESSAGE_LIMIT);
        assert!(clipped.ends_with('…'));
        assert_eq!(clip("short"), "short");
    }
}
