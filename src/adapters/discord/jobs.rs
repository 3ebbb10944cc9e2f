//! Discord's follow-up work, done by the job worker: on `/incident close`, the summary with
//! the postmortem draft attached (a file: Discord caps a message at 2,000 characters); and a
//! report in the channel when a post or a publish fails for good.

use serenity::all::{ChannelId, CreateAttachment, CreateMessage};

use super::DiscordApi;
use crate::app::App;
use crate::config::Target;
use crate::domain::Incident;
use crate::drafting::{slug, view::human_duration};
use crate::jobs::{DiscordJob, JobError, read_incident_job};
use crate::storage::Job;

/// Discord refuses longer message contents.
const MESSAGE_LIMIT: usize = 2000;

/// Runs one Discord job; `api` is there when a bot token is set.
pub async fn run(
    app: &App,
    api: Option<&DiscordApi>,
    job: &Job,
    kind: DiscordJob,
) -> Result<(), JobError> {
    let api = api.ok_or_else(|| JobError::Permanent("DISCORD_TOKEN is not set".to_string()))?;
    let (id, text) = read_incident_job(job)?;
    let channel = id
        .channel
        .id
        .parse::<u64>()
        .map(ChannelId::new)
        .map_err(|_| JobError::Permanent(format!("{} is no Discord channel", id.channel)))?;
    // The same for every attempt of this job, different for every job.
    let once = format!("scribe-{}", job.id);
    match kind {
        DiscordJob::Report => {
            let text = text.unwrap_or_default();
            api.send(channel, CreateMessage::new().content(clip(&text)), &once)
                .await
        }
        DiscordJob::Summary => {
            let incident = app.incident_for_job(&id).await?;
            let mut message = CreateMessage::new().content(clip(&summary(&incident)));
            if app.config.publish.targets.contains(&Target::Chat) {
                let draft = app.render_draft(&incident, &api.channel_name(channel).await)?;
                let name = format!("postmortem-{}", slug::file_name(&incident));
                message = message.add_file(CreateAttachment::bytes(draft.into_bytes(), name));
            }
            api.send(channel, message, &once).await
        }
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
        entries = incident.visible_timeline().count(),
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
