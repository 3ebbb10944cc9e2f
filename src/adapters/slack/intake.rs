//! What Slack sends, whichever way it arrives (HTTP or Socket Mode): events, slash commands and
//! shortcuts are durably stored, with the jobs they call for, before Slack gets its
//! acknowledgement.

use serde::Serialize;
use tracing::Instrument;

use super::inbound::{HeadlineAction, Shortcut, SlashCommand, StartForm};
use super::markup::escape;
use super::web::SlackApi;
use super::{Slack, blocks};
use crate::domain::reply::Marked;
use crate::domain::{
    Author, AuthorKind, ChatEvent, EventKind, MessageId, Outcome, Platform, UserId, reply,
};
use crate::recorder::Recorded;
use crate::storage::{Store, StoreError, WebIdentity};

/// The slash commands Scribe answers, as the app manifest declares them.
pub const SLASH_COMMANDS: [&str; 2] = ["/incident", "/timeline"];

/// Slack gives up on a slash command after 3 s: a name lookup may take only part of that.
const NAME_LOOKUP: std::time::Duration = std::time::Duration::from_millis(800);

/// A trigger expires 3 s after the person acted: the form must be open before that.
const FORM_OPEN: std::time::Duration = std::time::Duration::from_secs(2);

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

/// Stores a slash command and says what it did; `None` when there is nothing to say because
/// the command opened the start form. Slack never sends a command again, so one the store
/// refused is answered with a request to send it again; the cause goes to the log.
pub async fn command(slack: &Slack, command: &SlashCommand) -> Option<Answer> {
    if opened_start_form(slack, command).await {
        return None;
    }
    let create_channel = slack.app.config.slack.create_channel;
    match stored_command(slack, command, create_channel).await {
        Ok((answer, _)) => Some(answer),
        Err(error) => {
            tracing::error!(%error, "cannot store a Slack command; asking for it again");
            Some(Answer::ephemeral(reply::NOT_RECORDED.to_string()))
        }
    }
}

/// `/incident start` without a title opens the start form, when there is a bot token to ask
/// Slack with. When the form cannot be opened in time, the command is answered as it always
/// was: with how to use it.
async fn opened_start_form(slack: &Slack, command: &SlashCommand) -> bool {
    let Some(api) = &slack.api else {
        return false;
    };
    let bare = command.text.trim().to_ascii_lowercase();
    if command.command != "/incident" || !matches!(bare.as_str(), "start" | "open") {
        return false;
    }
    let form = blocks::start_form(&command.channel_id, slack.app.config.slack.create_channel);
    match tokio::time::timeout(FORM_OPEN, api.open_view(&command.trigger_id, &form)).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::warn!(%error, "cannot open the start form; answering with the usage");
            false
        }
        Err(_) => {
            tracing::warn!("the start form took too long to open; answering with the usage");
            false
        }
    }
}

/// Stores the start form's `/incident start`. `None` closes the form (the headline follows in
/// the channel); `Some` is Slack's `response_action` showing why nothing started, in the form,
/// so the person can change it and submit again.
pub async fn start_form(slack: &Slack, form: &StartForm) -> Option<serde_json::Value> {
    let span = tracing::info_span!(
        "slack_start_form",
        channel = %form.by.channel_id,
        trigger_id = %form.by.trigger_id,
    );
    let title_error = |text: &str| {
        Some(serde_json::json!({
            "response_action": "errors",
            "errors": { blocks::FORM_TITLE: text },
        }))
    };
    if form.title.is_empty() {
        return title_error(reply::FORM_NEEDS_TITLE);
    }
    let stored = stored_command(slack, &form.command(), form.create_channel)
        .instrument(span)
        .await;
    match stored {
        Err(error) => {
            tracing::error!(%error, "cannot store the start form; asking for it again");
            title_error(reply::NOT_RECORDED)
        }
        // A channel of its own is being made, or this very form was stored before.
        Ok((_, None)) => None,
        Ok((_, Some(recorded))) if !recorded.new => None,
        Ok((_, Some(recorded))) => match &recorded.effect {
            Some(effect) if effect.outcome != Outcome::Opened => {
                title_error(&reply::text(&effect.outcome, recorded.incident.as_ref()))
            }
            _ => None,
        },
    }
}

/// A click under a start headline: the same command as typing it, for the headline's incident
/// only. A change replaces the headline with the incident as it now is, naming who made it;
/// anything else is answered to the person alone.
///
/// # Errors
/// When the store refuses the command; the person is then asked to try again.
pub async fn headline_action(slack: &Slack, action: &HeadlineAction) -> Result<(), StoreError> {
    let span = tracing::info_span!(
        "slack_headline_action",
        channel = %action.by.channel_id,
        trigger_id = %action.by.trigger_id,
    );
    async {
        let channel = crate::domain::ChannelRef::new(Platform::Slack, &action.by.channel_id);
        let history = slack.app.history(&channel).await?;
        let current = history
            .open_incident()
            .is_some_and(|incident| incident.id().opened_by == action.opened_by);
        if !current {
            respond(
                slack,
                &action.by.response_url,
                reply::HEADLINE_STALE.to_string(),
            );
            return Ok(());
        }
        let name = match &slack.api {
            Some(api) => tokio::time::timeout(NAME_LOOKUP, api.person(&action.by.user_id))
                .await
                .ok()
                .and_then(Result::ok)
                .map(|person| person.name),
            None => None,
        }
        .unwrap_or_else(|| match action.by.user_name.trim() {
            "" => action.by.user_id.clone(),
            name => name.to_string(),
        });
        let (answer, recorded) = match stored_command(slack, &action.command(&name), false).await {
            Ok(handled) => handled,
            Err(error) => {
                tracing::error!(%error, "cannot store a headline action; asking for it again");
                respond(
                    slack,
                    &action.by.response_url,
                    reply::NOT_RECORDED.to_string(),
                );
                return Err(error);
            }
        };
        let done = recorded
            .as_ref()
            .filter(|recorded| recorded.new)
            .and_then(|recorded| recorded.effect.as_ref())
            .filter(|effect| {
                matches!(
                    effect.outcome,
                    Outcome::SeveritySet(_) | Outcome::LeadSet(_) | Outcome::Resolved
                )
            });
        // The incident as the change left it.
        let changed = match done {
            Some(effect) => slack
                .app
                .history(&channel)
                .await?
                .open_incident()
                .filter(|incident| incident.id().opened_by == action.opened_by)
                .cloned()
                .map(|incident| (reply::text(&effect.outcome, Some(&incident)), incident)),
            None => None,
        };
        match (changed, &slack.api) {
            (Some((done, incident)), Some(api)) => {
                let text = super::jobs::headline(slack, &incident).await;
                let note = escape(&format!("{done} ({name})"));
                let blocks = blocks::headline(&text, &incident, Some(&note));
                let url = action.by.response_url.clone();
                let api = api.clone();
                tokio::spawn(
                    async move {
                        if let Err(error) = api.replace_original(&url, &text, &blocks).await {
                            tracing::warn!(%error, "cannot update the headline");
                        }
                    }
                    .instrument(tracing::Span::current()),
                );
            }
            _ => respond(slack, &action.by.response_url, answer.text),
        }
        Ok(())
    }
    .instrument(span)
    .await
}

/// The command's answer, and, when it was recorded, what the fold made of it.
async fn stored_command(
    slack: &Slack,
    command: &SlashCommand,
    create_channel: bool,
) -> Result<(Answer, Option<Recorded>), StoreError> {
    if !SLASH_COMMANDS.contains(&command.command.as_str()) {
        return Ok((
            Answer::ephemeral(format!("Scribe does not know {}.", command.command)),
            None,
        ));
    }
    let event = command.event(slack.app.clock.now());
    if create_channel && let Some(title) = starts_incident(&event) {
        slack
            .app
            .enqueue(&[super::jobs::create_channel(command, &event)])
            .await?;
        return Ok((
            Answer::ephemeral(format!(
                "Creating a channel for the incident \"{title}\"; it opens there and is linked here."
            )),
            None,
        ));
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
    let answer = answer(slack, command, author, &channel, &recorded).await?;
    Ok((answer, Some(recorded)))
}

/// What a recorded command is answered with.
async fn answer(
    slack: &Slack,
    command: &SlashCommand,
    author: String,
    channel: &crate::domain::ChannelRef,
    recorded: &Recorded,
) -> Result<Answer, StoreError> {
    if !recorded.new {
        let stored = recorded.stored_text.as_deref().unwrap_or_default();
        return Ok(Answer::ephemeral(reply::already_recorded(stored)));
    }
    let Some(answer) = &recorded.effect else {
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
            Answer::ephemeral(slack.app.search_answer(channel, words).await)
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
            Ok(marked) => marked.text(),
            Err(error) => {
                tracing::error!(%error, "cannot store a Slack shortcut; asking for it again");
                reply::SHORTCUT_NOT_RECORDED
            }
        };
        respond(slack, &shortcut.response_url, answer.to_string());
        stored.map(|_| ())
    }
    .instrument(span)
    .await
}

/// Whether the message can be an entry of an incident, and then its mark is stored.
async fn stored_shortcut(slack: &Slack, shortcut: &Shortcut) -> Result<Marked, StoreError> {
    let message = &shortcut.message;
    if !message.can_be_marked() {
        tracing::info!("shortcut on a command or a notice; nothing stored");
        return Ok(Marked::NotAnEntry);
    }
    let history = slack.app.history(&message.channel).await?;
    if history.incident_at(message.at).is_none() {
        tracing::info!("shortcut on a message outside any incident; nothing stored");
        return Ok(Marked::Outside);
    }
    slack
        .app
        .remember_workspace(&message.channel, &shortcut.team_id)
        .await?;
    record(slack, message.clone()).await?;
    record(slack, shortcut.pin()).await?;
    Ok(Marked::Added)
}

/// Answers the person who used an interaction, through its `response_url`, in the
/// background: the acknowledgement Slack waits for does not wait for it. Without a bot token
/// Scribe posts nothing, answers included.
fn respond(slack: &Slack, response_url: &str, text: String) {
    let Some(api) = slack.api.clone() else {
        return;
    };
    let url = response_url.to_string();
    let span = tracing::Span::current();
    tokio::spawn(
        async move {
            if let Err(error) = api.respond(&url, &text).await {
                tracing::warn!(%error, "cannot answer a Slack interaction");
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
