//! What Slack sends, whichever way it arrives (HTTP or Socket Mode): events, slash commands and
//! shortcuts are durably stored, with the jobs they call for, before Slack gets its
//! acknowledgement.

use serde::Serialize;
use tracing::Instrument;

use super::Slack;
use super::inbound::{Shortcut, SlashCommand};
use super::markup::escape;
use super::web::SlackApi;
use crate::domain::{
    Author, AuthorKind, ChatEvent, EventKind, MessageId, Outcome, Platform, UserId, reply,
};
use crate::recorder::Recorded;
use crate::storage::{Store, StoreError, WebIdentity};

/// The slash commands Scribe answers, as the app manifest declares them.
pub const SLASH_COMMANDS: [&str; 2] = ["/incident", "/timeline"];

/// Slack gives up on a slash command after 3 s: a name lookup may take only part of that.
const NAME_LOOKUP: std::time::Duration = std::time::Duration::from_millis(800);

/// The answer to a slash command, as Slack reads it.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub response_type: &'static str,
    pub text: String,
}

impl Answer {
    fn ephemeral(text: String) -> Self {
        Answer {
            response_type: "ephemeral",
            text: escape(&text),
        }
    }

    fn in_channel(text: String) -> Self {
        Answer {
            response_type: "in_channel",
            text: escape(&text),
        }
    }
}

/// Stores the events of one Events API callback.
pub async fn events(
    slack: &Slack,
    event_id: &str,
    retry: bool,
    events: Vec<ChatEvent>,
) -> Result<(), StoreError> {
    let span = tracing::info_span!("slack_event", %event_id, retry);
    async {
        for event in events {
            record(slack, event).await?;
        }
        Ok(())
    }
    .instrument(span)
    .await
}

/// Stores a slash command and says what it did. Slack never sends a command again, so one the
/// store refused is answered with a request to send it again; the cause goes to the log.
pub async fn command(slack: &Slack, command: &SlashCommand) -> Answer {
    match stored_command(slack, command).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::error!(%error, "cannot store a Slack command; asking for it again");
            Answer::ephemeral(reply::NOT_RECORDED.to_string())
        }
    }
}

async fn stored_command(slack: &Slack, command: &SlashCommand) -> Result<Answer, StoreError> {
    if !SLASH_COMMANDS.contains(&command.command.as_str()) {
        return Ok(Answer::ephemeral(format!(
            "Scribe does not know {}.",
            command.command
        )));
    }
    let event = command.event(slack.app.clock.now());
    if slack.app.config.slack.create_channel
        && let Some(title) = starts_incident(&event)
    {
        slack
            .app
            .enqueue(&[super::jobs::create_channel(command, &event)])
            .await?;
        return Ok(Answer::ephemeral(format!(
            "Creating a channel for the incident \"{title}\"; it opens there and is linked here."
        )));
    }
    slack
        .app
        .remember_workspace(&event.channel, &command.team_id)
        .await?;
    let author = match &event.kind {
        EventKind::Posted { author, .. } => author.name.clone(),
        _ => command.user_id.clone(),
    };
    let channel = event.channel.clone();
    let recorded = record(slack, event).await?;
    if !recorded.new {
        let stored = recorded.stored_text.as_deref().unwrap_or_default();
        return Ok(Answer::ephemeral(reply::already_recorded(stored)));
    }
    let Some(answer) = recorded.effect else {
        return Ok(Answer::ephemeral(
            "That is no command Scribe knows.".to_string(),
        ));
    };
    let incident = recorded.incident.as_ref();
    let mut text = reply::text(&answer.outcome, incident);
    if let (Outcome::ShowStatus(_), Some(incident)) = (&answer.outcome, incident) {
        let jobs = slack
            .app
            .store()
            .jobs(&crate::jobs::job_prefix(&incident.id()))
            .await?;
        if let Some(line) = crate::jobs::describe(&jobs) {
            text = format!("{text}\n{line}");
        }
    }
    Ok(match (&answer.outcome, incident) {
        (Outcome::WebLink, _) => {
            let name = match &slack.api {
                Some(api) => api
                    .person(&command.user_id)
                    .await
                    .map_or(author, |person| person.name),
                None => author,
            };
            let who = WebIdentity {
                platform: Platform::Slack,
                workspace: command.team_id.clone(),
                person_id: command.user_id.clone(),
                person_name: name,
            };
            Answer::ephemeral(slack.app.web_link_answer(&who).await)
        }
        (Outcome::Search(words), _) => {
            Answer::ephemeral(slack.app.search_answer(&channel, words).await)
        }
        (Outcome::Similar, Some(incident)) => Answer::ephemeral(
            slack
                .app
                .similar_answer(incident)
                .await
                .unwrap_or_else(|| reply::NO_SIMILAR.to_string()),
        ),
        (Outcome::ShowDraft, Some(incident)) => {
            match slack.app.render_draft(incident, &command.channel_name) {
                Ok(draft) => Answer::ephemeral(format!("```\n{draft}\n```")),
                Err(error) => {
                    tracing::error!(%error, "cannot render the postmortem draft");
                    Answer::ephemeral(reply::no_draft())
                }
            }
        }
        (
            Outcome::Recorded {
                before_start: false,
                ..
            },
            _,
        )
        | (Outcome::SeveritySet(_) | Outcome::LeadSet(_) | Outcome::Resolved, _) => {
            let said: String = command.text.chars().take(300).collect();
            Answer::in_channel(format!("{text} ({})", said.trim()))
        }
        _ => Answer::ephemeral(text),
    })
}

/// Stores "Add to timeline" on a message: the message (in case Scribe never saw it) and the
/// person's mark on it, before Slack gets its acknowledgement; the person is answered through
/// the shortcut's `response_url`. A message that belongs to no incident of its channel is
/// refused, and nothing is stored.
///
/// # Errors
/// When the store refuses an event; the person is then asked to try again.
pub async fn add_to_timeline(slack: &Slack, shortcut: &Shortcut) -> Result<(), StoreError> {
    let channel = &shortcut.message.channel;
    let span = tracing::info_span!(
        "slack_shortcut",
        channel = %channel.id,
        trigger_id = %shortcut.trigger_id,
    );
    async {
        let stored = stored_shortcut(slack, shortcut).await;
        let answer = match &stored {
            Ok(true) => reply::SHORTCUT_ADDED,
            Ok(false) => reply::SHORTCUT_OUTSIDE,
            Err(error) => {
                tracing::error!(%error, "cannot store a Slack shortcut; asking for it again");
                reply::SHORTCUT_NOT_RECORDED
            }
        };
        answer_shortcut(slack, shortcut, answer);
        stored.map(|_| ())
    }
    .instrument(span)
    .await
}

/// Whether the message belongs to an incident, and then its mark is stored.
async fn stored_shortcut(slack: &Slack, shortcut: &Shortcut) -> Result<bool, StoreError> {
    let message = &shortcut.message;
    let history = slack.app.history(&message.channel).await?;
    if history.incident_at(message.at).is_none() {
        tracing::info!("shortcut on a message outside any incident; nothing stored");
        return Ok(false);
    }
    slack
        .app
        .remember_workspace(&message.channel, &shortcut.team_id)
        .await?;
    record(slack, message.clone()).await?;
    record(slack, shortcut.pin()).await?;
    Ok(true)
}

/// Answers in the background: the acknowledgement Slack waits for does not wait for it.
/// Without a bot token Scribe posts nothing, answers included.
fn answer_shortcut(slack: &Slack, shortcut: &Shortcut, text: &'static str) {
    let Some(api) = slack.api.clone() else {
        return;
    };
    let url = shortcut.response_url.clone();
    let span = tracing::Span::current();
    tokio::spawn(
        async move {
            if let Err(error) = api.respond(&url, text).await {
                tracing::warn!(%error, "cannot answer a Slack shortcut");
            }
        }
        .instrument(span),
    );
}

/// The title, when `event` is a valid `/incident start`.
fn starts_incident(event: &ChatEvent) -> Option<String> {
    match &event.kind {
        EventKind::Posted { text, .. } => match crate::domain::command::parse(text) {
            Some(Ok(crate::domain::Command::Incident(crate::domain::IncidentCommand::Start {
                title,
                ..
            }))) => Some(title),
            _ => None,
        },
        _ => None,
    }
}

/// Stores one event (with display names, and the message it is about when Scribe never saw
/// it) and says what it did.
pub(super) async fn record(slack: &Slack, mut event: ChatEvent) -> Result<Recorded, StoreError> {
    if let Some(api) = &slack.api {
        name_people(api, &mut event).await;
        if let Some(original) = missing_message(slack, api, &event).await? {
            slack.app.record(&original).await?;
        }
    }
    slack.app.record(&event).await
}

/// Display names for the author and for `@U…` mentions, and the author's time zone, from
/// `users.info` (cached); on any failure the id stays, which is still correct, only less
/// readable, and the zone stays unknown.
pub(super) async fn name_people(api: &SlackApi, event: &mut ChatEvent) {
    let lookup = |id: String| async move {
        tokio::time::timeout(NAME_LOOKUP, api.person(&id))
            .await
            .ok()
            .and_then(Result::ok)
    };
    let text = match &mut event.kind {
        EventKind::Posted { author, text, .. } => {
            if author.kind == AuthorKind::Human
                && let Some(person) = lookup(author.id.as_str().to_string()).await
            {
                author.name = person.name;
                author.zone = person.zone;
            }
            text
        }
        EventKind::Edited { text } => text,
        _ => return,
    };
    for id in mentioned_users(text) {
        if let Some(person) = lookup(id.clone()).await {
            *text = text.replace(&format!("@{id}"), &format!("@{}", person.name));
        }
    }
}

/// `@U…`/`@W…` ids left by decoding `<@U…>` mentions.
fn mentioned_users(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = text
        .split('@')
        .skip(1)
        .filter_map(|rest| {
            let id: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                .collect();
            (id.len() >= 7 && (id.starts_with('U') || id.starts_with('W'))).then_some(id)
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// A reaction or pin on a message posted before Scribe joined: fetch that message once.
async fn missing_message(
    slack: &Slack,
    api: &SlackApi,
    event: &ChatEvent,
) -> Result<Option<ChatEvent>, StoreError> {
    if !matches!(
        event.kind,
        EventKind::ReactionAdded { .. } | EventKind::PinAdded
    ) {
        return Ok(None);
    }
    let known = slack
        .app
        .store()
        .channel_events(&event.channel)
        .await?
        .iter()
        .any(|e| e.message == event.message && matches!(e.kind, EventKind::Posted { .. }));
    if known {
        return Ok(None);
    }
    let fetched = match api.message(&event.channel.id, event.message.as_str()).await {
        Ok(Some(fetched)) => fetched,
        Ok(None) => return Ok(None),
        Err(error) => {
            tracing::warn!(%error, "cannot fetch the message a reaction or pin is on");
            return Ok(None);
        }
    };
    let Some(at) = super::ts::parse_ts(&fetched.ts) else {
        return Ok(None);
    };
    let (id, kind) = match (&fetched.user, &fetched.bot_id) {
        (_, Some(bot)) => (bot.clone(), AuthorKind::Bot),
        (Some(user), None) => (user.clone(), AuthorKind::Human),
        (None, None) => return Ok(None),
    };
    let mut original = ChatEvent {
        channel: event.channel.clone(),
        message: event.message.clone(),
        at,
        kind: EventKind::Posted {
            author: Author {
                id: UserId::new(id.clone()),
                name: id,
                kind,
                zone: None,
            },
            text: super::markup::decode(&fetched.text, |_| None),
            thread: fetched
                .thread_ts
                .filter(|t| *t != fetched.ts)
                .map(MessageId::new),
        },
    };
    name_people(api, &mut original).await;
    Ok(Some(original))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found_once_each() {
        assert_eq!(
            mentioned_users("ping @U05Y3LU0N and @U02WBYYP1, again @U05Y3LU0N; not @here or @Uabc"),
            ["U02WBYYP1", "U05Y3LU0N"]
        );
    }
}
