//! What Scribe keeps from a Discord server: every message, edit, deletion, 📌 reaction and pin
//! in a channel with an incident that is not closed, and in that channel's threads; and every
//! Scribe command anywhere. Also the catch-up after downtime: the messages a channel gained
//! while Scribe was away, fetched page by page after the last one it stored.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serenity::all::{
    Channel, ChannelId, Context, GetMessages, GuildId, Message, MessageUpdateEvent, ReactionType,
};

use super::inbound::{self, Location};
use crate::app::App;
use crate::domain::reply::Marked;
use crate::domain::{
    ChannelRef, ChatEvent, EventKind, Known, MessageId, Outcome, Platform, UserId, known,
};
use crate::recorder::Recorded;
use crate::storage::{Store, StoreError};

/// A page of history, as large as Discord serves.
const PAGE: u8 = 100;
/// Pages read per channel or thread in one catch-up: a hostile or endless history cannot keep
/// it going forever (5,000 messages).
const MAX_PAGES: usize = 50;
/// Active threads read per channel beyond those its log knows.
const MAX_NEW_THREADS: usize = 50;
/// Stored messages read again before the newest one, for the edits and reactions they gained
/// while Scribe was away.
const LOOKBACK: usize = 100;
/// Who reacted, read per 📌 reaction: one page.
const REACTORS: u8 = 100;

/// What the gateway delivered, in the order it arrived.
pub enum GatewayEvent {
    Message(Box<Message>),
    Update(Box<MessageUpdateEvent>),
    Delete {
        channel: ChannelId,
        message: serenity::all::MessageId,
    },
    Reaction {
        channel: ChannelId,
        message: serenity::all::MessageId,
        user: Option<serenity::all::UserId>,
        emoji: ReactionType,
        added: bool,
    },
    Pins(ChannelId),
    /// Connected (READY) or resumed: fetch what was missed.
    Connected,
}

#[derive(Clone, Copy)]
struct ChannelInfo {
    guild: Option<GuildId>,
    /// Set for a thread.
    parent: Option<ChannelId>,
}

pub struct Intake {
    app: Arc<App>,
    /// Channels whose latest incident is not closed.
    open: Mutex<HashSet<ChannelId>>,
    channels: Mutex<HashMap<ChannelId, ChannelInfo>>,
}

impl Intake {
    pub fn new(app: Arc<App>) -> Self {
        Intake {
            app,
            open: Mutex::new(HashSet::new()),
            channels: Mutex::new(HashMap::new()),
        }
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// Reads which Discord channels have an incident that is not closed.
    pub async fn load(&self) -> Result<(), StoreError> {
        let mut open = HashSet::new();
        for channel in self.app.recorder.store().channels().await? {
            if channel.platform != Platform::Discord {
                continue;
            }
            let history = self.app.recorder.history(&channel).await?;
            if history.open_incident().is_some()
                && let Ok(id) = channel.id.parse::<u64>()
            {
                open.insert(ChannelId::new(id));
            }
        }
        *self.open.lock().expect("open channels lock") = open;
        Ok(())
    }

    fn is_open(&self, channel: ChannelId) -> bool {
        self.open
            .lock()
            .expect("open channels lock")
            .contains(&channel)
    }

    async fn info(&self, ctx: &Context, channel: ChannelId) -> Option<ChannelInfo> {
        if let Some(info) = self.channels.lock().expect("channels lock").get(&channel) {
            return Some(*info);
        }
        let info = match channel.to_channel(ctx).await {
            Ok(Channel::Guild(guild_channel)) => ChannelInfo {
                guild: Some(guild_channel.guild_id),
                parent: guild_channel
                    .thread_metadata
                    .is_some()
                    .then_some(guild_channel.parent_id)
                    .flatten(),
            },
            Ok(_) => ChannelInfo {
                guild: None,
                parent: None,
            },
            Err(error) => {
                tracing::warn!(%error, %channel, "cannot look the channel up");
                return None;
            }
        };
        self.channels
            .lock()
            .expect("channels lock")
            .insert(channel, info);
        Some(info)
    }

    /// Where a message in `channel` belongs, when Scribe keeps it: an open incident's channel,
    /// or a thread of one.
    pub async fn place(&self, ctx: &Context, channel: ChannelId) -> Option<Location> {
        if self.is_open(channel) {
            return Some(place(channel, None));
        }
        let parent = self.info(ctx, channel).await?.parent?;
        self.is_open(parent).then(|| place(parent, Some(channel)))
    }

    /// Where a command typed in `channel` acts: the incident of the channel a thread is in,
    /// else the channel itself.
    pub async fn command_place(&self, ctx: &Context, channel: ChannelId) -> Location {
        match self.place(ctx, channel).await {
            Some(place) => place,
            None => place(channel, None),
        }
    }

    /// Where a message of `channel` is stored, whether an incident is open there or not: a
    /// thread's under the channel it is in.
    async fn message_place(&self, ctx: &Context, channel: ChannelId) -> Location {
        match self.info(ctx, channel).await.and_then(|i| i.parent) {
            Some(parent) => place(parent, Some(channel)),
            None => place(channel, None),
        }
    }

    /// "Add to timeline" on `message`, in `channel`, by `by` at `at`: the message's post (in
    /// case Scribe never saw it) and the person's mark on it, both stored before the answer.
    /// A command, a notice or a message that belongs to no incident of its channel is refused,
    /// and nothing is stored.
    pub async fn add_to_timeline(
        &self,
        ctx: &Context,
        message: &Message,
        channel: ChannelId,
        by: serenity::all::UserId,
        at: DateTime<Utc>,
    ) -> Result<Marked, StoreError> {
        let place = self.message_place(ctx, channel).await;
        let post = self.posted_with_name(ctx, message, &place).await;
        if !post.can_be_marked() {
            tracing::info!("\"Add to timeline\" on a command or a notice; nothing stored");
            return Ok(Marked::NotAnEntry);
        }
        let history = self.app.history(&place.channel).await?;
        if history.incident_at(*message.timestamp).is_none() {
            tracing::info!("\"Add to timeline\" on a message outside any incident; nothing stored");
            return Ok(Marked::Outside);
        }
        self.record(post).await?;
        self.record(inbound::web_pin(message.id, by, &place, at))
            .await?;
        Ok(Marked::Added)
    }

    /// Stores one event with the jobs it calls for, and follows the incident's state.
    pub async fn record(&self, event: ChatEvent) -> Result<Recorded, StoreError> {
        let recorded = self.app.record(&event).await?;
        if let (Some(reply), Ok(id)) = (&recorded.effect, event.channel.id.parse::<u64>()) {
            let mut open = self.open.lock().expect("open channels lock");
            match reply.outcome {
                Outcome::Opened => {
                    open.insert(ChannelId::new(id));
                }
                Outcome::Closed => {
                    open.remove(&ChannelId::new(id));
                }
                _ => {}
            }
        }
        Ok(recorded)
    }

    /// Handles one gateway event; failures are logged (the catch-up after the next connect
    /// fetches messages a failure lost).
    pub async fn handle(&self, ctx: &Context, inbound: GatewayEvent) {
        let result = match inbound {
            GatewayEvent::Message(message) => self.message(ctx, &message).await,
            GatewayEvent::Update(update) => match self.place(ctx, update.channel_id).await {
                Some(place) => match inbound::edited(&update, &place, Utc::now()) {
                    Some(event) => self.record(event).await.map(drop),
                    None => Ok(()),
                },
                None => Ok(()),
            },
            GatewayEvent::Delete { channel, message } => match self.place(ctx, channel).await {
                Some(place) => self
                    .record(inbound::deleted(message, &place, Utc::now()))
                    .await
                    .map(drop),
                None => Ok(()),
            },
            GatewayEvent::Reaction {
                channel,
                message,
                user,
                emoji,
                added,
            } => match (self.place(ctx, channel).await, user) {
                (Some(place), Some(user)) => {
                    let event = inbound::reaction(message, &emoji, user, added, &place, Utc::now());
                    let ready = if added {
                        self.ensure_message(ctx, &place, channel, message).await
                    } else {
                        Ok(())
                    };
                    match ready {
                        Ok(()) => self.record(event).await.map(drop),
                        Err(error) => Err(error),
                    }
                }
                _ => Ok(()),
            },
            GatewayEvent::Pins(channel) => self.pins(ctx, channel).await,
            GatewayEvent::Connected => self.catch_up(ctx).await,
        };
        if let Err(error) = result {
            tracing::error!(%error, "cannot store a Discord event");
        }
    }

    async fn message(&self, ctx: &Context, message: &Message) -> Result<(), StoreError> {
        let Some(place) = self.place(ctx, message.channel_id).await else {
            return Ok(());
        };
        let nick = message.member.as_ref().and_then(|m| m.nick.as_deref());
        self.record(inbound::posted(message, &place, nick))
            .await
            .map(drop)
    }

    /// A message posted by someone Scribe has no member record for: their nickname is looked
    /// up (a page of history carries none).
    async fn posted_with_name(
        &self,
        ctx: &Context,
        message: &Message,
        place: &Location,
    ) -> ChatEvent {
        let guild = match message.guild_id {
            Some(guild) => Some(guild),
            None => self
                .info(ctx, message.channel_id)
                .await
                .and_then(|i| i.guild),
        };
        let nick = match guild {
            Some(guild) if !message.author.bot => guild
                .member(ctx, message.author.id)
                .await
                .ok()
                .and_then(|m| m.nick),
            _ => None,
        };
        inbound::posted(message, place, nick.as_deref())
    }

    /// A reaction or pin on a message Scribe never stored (older than the incident, or missed):
    /// the message is fetched and stored first, so the timeline entry has its text.
    async fn ensure_message(
        &self,
        ctx: &Context,
        place: &Location,
        channel: ChannelId,
        message: serenity::all::MessageId,
    ) -> Result<(), StoreError> {
        if self.stored(&place.channel, &message.to_string()).await? {
            return Ok(());
        }
        match channel.message(ctx, message).await {
            Ok(fetched) => {
                let event = self.posted_with_name(ctx, &fetched, place).await;
                self.record(event).await.map(drop)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot fetch the message a reaction or pin is on");
                Ok(())
            }
        }
    }

    async fn stored(&self, channel: &ChannelRef, message: &str) -> Result<bool, StoreError> {
        Ok(self
            .app
            .recorder
            .store()
            .channel_events(channel)
            .await?
            .iter()
            .any(|e| e.message.as_str() == message && matches!(e.kind, EventKind::Posted { .. })))
    }

    /// The channel's pins changed: compare Discord's pinned messages with the pins the log
    /// holds, and store the difference.
    async fn pins(&self, ctx: &Context, channel: ChannelId) -> Result<(), StoreError> {
        let Some(place) = self.place(ctx, channel).await else {
            return Ok(());
        };
        let pinned = match channel.pins(&ctx.http).await {
            Ok(pinned) => pinned,
            Err(error) => {
                tracing::warn!(%error, %channel, "cannot read the channel's pins");
                return Ok(());
            }
        };
        let events = self
            .app
            .recorder
            .store()
            .channel_events(&place.channel)
            .await?;
        let mut known: HashSet<String> = HashSet::new();
        let mut was_pinned: HashSet<String> = HashSet::new();
        for event in &events {
            match event.kind {
                EventKind::Posted { ref thread, .. } if *thread == place.thread => {
                    known.insert(event.message.to_string());
                }
                EventKind::PinAdded => {
                    was_pinned.insert(event.message.to_string());
                }
                EventKind::PinRemoved => {
                    was_pinned.remove(event.message.as_str());
                }
                _ => {}
            }
        }
        let now = Utc::now();
        let mut is_pinned = HashSet::new();
        for message in &pinned {
            let id = message.id.to_string();
            if !known.contains(&id) {
                let event = self.posted_with_name(ctx, message, &place).await;
                self.record(event).await?;
            }
            if !was_pinned.contains(&id) {
                self.record(inbound::pin(message.id, true, &place, now))
                    .await?;
            }
            is_pinned.insert(id);
        }
        // The log holds the pins of the channel and all its threads: only this one's are listed.
        for id in was_pinned
            .difference(&is_pinned)
            .filter(|id| known.contains(*id))
        {
            if let Ok(id) = id.parse::<u64>() {
                self.record(inbound::pin(id.into(), false, &place, now))
                    .await?;
            }
        }
        Ok(())
    }

    /// Reads again, for every open incident's channel and each of its threads, the last stored
    /// messages and every one posted after them, oldest first, then the pinned messages, and
    /// records what changed meanwhile: new messages, edits, 📌 reactions, pins.
    async fn catch_up(&self, ctx: &Context) -> Result<(), StoreError> {
        self.load().await?;
        let open: Vec<ChannelId> = self
            .open
            .lock()
            .expect("open channels lock")
            .iter()
            .copied()
            .collect();
        for channel in open {
            let incident_channel = ChannelRef::new(Platform::Discord, channel.to_string());
            let history = self.app.recorder.history(&incident_channel).await?;
            if history.open_incident().is_none() {
                continue;
            }
            let events = self
                .app
                .recorder
                .store()
                .channel_events(&incident_channel)
                .await?;
            let known = known(&events);
            let Some(start) = history
                .open_incident()
                .and_then(|i| snowflake(i.opened_by.as_str()))
            else {
                continue;
            };
            let mut places = cursors(channel, &events, start);
            for thread in self.threads_of(ctx, channel).await {
                let thread = place(channel, Some(thread));
                if !places.iter().any(|(known, _)| *known == thread) {
                    places.push((thread, start.saturating_sub(1)));
                }
            }
            for (place, after) in places {
                let source = match &place.thread {
                    Some(thread) => thread.as_str().parse::<u64>().map(ChannelId::new),
                    None => Ok(channel),
                };
                if let Ok(source) = source {
                    self.fetch_after(ctx, source, &place, after, &known).await?;
                    self.pins(ctx, source).await?;
                }
            }
        }
        Ok(())
    }

    /// The active threads of `channel`: one started while Scribe was away is in no log yet.
    async fn threads_of(&self, ctx: &Context, channel: ChannelId) -> Vec<ChannelId> {
        let Some(guild) = self.info(ctx, channel).await.and_then(|i| i.guild) else {
            return Vec::new();
        };
        match guild.get_active_threads(ctx).await {
            Ok(active) => active
                .threads
                .iter()
                .filter(|thread| thread.parent_id == Some(channel))
                .map(|thread| thread.id)
                .take(MAX_NEW_THREADS)
                .collect(),
            Err(error) => {
                tracing::warn!(%error, %channel, "cannot list the channel's threads");
                Vec::new()
            }
        }
    }

    async fn fetch_after(
        &self,
        ctx: &Context,
        source: ChannelId,
        place: &Location,
        mut after: u64,
        known: &HashMap<MessageId, Known>,
    ) -> Result<(), StoreError> {
        let span = tracing::info_span!("catch_up", channel = %source, after);
        let _enter = span.enter();
        for _ in 0..MAX_PAGES {
            let page = match source
                .messages(ctx, GetMessages::new().after(after).limit(PAGE))
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "cannot fetch missed messages");
                    return Ok(());
                }
            };
            let mut page: Vec<Message> = page.into_iter().filter(|m| m.id.get() > after).collect();
            page.sort_by_key(|m| m.id);
            let full = page.len() >= usize::from(PAGE);
            for message in &page {
                self.reconcile(ctx, message, place, known).await?;
                after = message.id.get();
            }
            if !full {
                return Ok(());
            }
        }
        tracing::warn!(
            pages = MAX_PAGES,
            "stopped catching up: too many missed messages"
        );
        Ok(())
    }

    /// Records what the log does not yet say about one message read from history: the message,
    /// its last edit, the 📌 reactions added or taken back.
    async fn reconcile(
        &self,
        ctx: &Context,
        message: &Message,
        place: &Location,
        known: &HashMap<MessageId, Known>,
    ) -> Result<(), StoreError> {
        let stored = known.get(&MessageId::new(message.id.to_string()));
        match stored {
            None => {
                let event = self.posted_with_name(ctx, message, place).await;
                if self.record(event).await?.new {
                    tracing::info!(message = %message.id, "caught up a missed message");
                }
            }
            Some(stored) => {
                if let Some(edit) = inbound::last_edit(message, place)
                    && matches!(&edit.kind, EventKind::Edited { text } if *text != stored.text)
                {
                    self.record(edit).await?;
                }
            }
        }
        let pin_emojis = &self.app.config.timeline.pin_emojis;
        let mut was: HashSet<(String, UserId)> =
            stored.map(|s| s.reactions.clone()).unwrap_or_default();
        was.retain(|(emoji, _)| pin_emojis.contains(emoji));
        let mut now_standing = HashSet::new();
        let mut complete = true;
        for reaction in &message.reactions {
            let emoji = inbound::emoji_name(&reaction.reaction_type);
            if !pin_emojis.contains(&emoji) {
                continue;
            }
            let users = message
                .channel_id
                .reaction_users(
                    ctx,
                    message.id,
                    reaction.reaction_type.clone(),
                    Some(REACTORS),
                    None,
                )
                .await;
            match users {
                Ok(users) => {
                    complete &= reaction.count <= users.len() as u64;
                    now_standing.extend(
                        users
                            .iter()
                            .map(|u| (emoji.clone(), UserId::new(u.id.to_string()))),
                    );
                }
                Err(error) => {
                    tracing::warn!(%error, message = %message.id, "cannot read who reacted");
                    complete = false;
                }
            }
        }
        let now = Utc::now().max(stored.map_or(*message.timestamp, |s| s.latest));
        for (emoji, user) in now_standing.difference(&was) {
            let event =
                inbound::reaction_by(message.id, emoji.clone(), user.clone(), true, place, now);
            self.record(event).await?;
        }
        // Who is missing from a partial list may only be on a later page.
        if complete {
            for (emoji, user) in was.difference(&now_standing) {
                let event = inbound::reaction_by(
                    message.id,
                    emoji.clone(),
                    user.clone(),
                    false,
                    place,
                    now,
                );
                self.record(event).await?;
            }
        }
        Ok(())
    }
}

fn place(channel: ChannelId, thread: Option<ChannelId>) -> Location {
    Location {
        channel: ChannelRef::new(Platform::Discord, channel.to_string()),
        thread: thread.map(|t| crate::domain::MessageId::new(t.to_string())),
    }
}

/// The snowflake of a stored message, or of a command's interaction (`cmd:<id>`).
fn snowflake(message: &str) -> Option<u64> {
    message.strip_prefix("cmd:").unwrap_or(message).parse().ok()
}

/// Where to resume reading: for the channel and each thread its log knows, just before the
/// last [`LOOKBACK`] messages stored, so those are read again with what happened to them
/// (commands are stored under their interaction's id, `cmd:<id>`, which is as time-ordered as
/// a message id and serves when no message was stored yet; a thread's id is that of its first
/// message). Nothing before `start`, the open incident's first command, is read again: what
/// was posted after an earlier incident closed was not kept, and is not fetched now either.
fn cursors(channel: ChannelId, events: &[ChatEvent], start: u64) -> Vec<(Location, u64)> {
    let mut ids: HashMap<Option<String>, Vec<u64>> = HashMap::new();
    ids.insert(None, vec![start]);
    for event in events {
        let EventKind::Posted { thread, .. } = &event.kind else {
            continue;
        };
        let Some(id) = snowflake(event.message.as_str()) else {
            continue;
        };
        let key = thread.as_ref().map(|t| t.to_string());
        let thread_start = key.as_deref().and_then(|t| t.parse::<u64>().ok());
        let ids = ids
            .entry(key)
            .or_insert_with(|| vec![thread_start.unwrap_or(start).max(start)]);
        if id >= start {
            ids.push(id);
        }
    }
    ids.into_iter()
        .map(|(thread, mut ids)| {
            ids.sort_unstable();
            let after = match ids.len().checked_sub(LOOKBACK + 1) {
                Some(before_lookback) => ids[before_lookback],
                None => ids[0].saturating_sub(1),
            };
            let thread = thread
                .and_then(|t| t.parse::<u64>().ok())
                .map(ChannelId::new);
            (place(channel, thread), after)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::{Author, MessageId};

    fn posted(id: &str, thread: Option<&str>) -> ChatEvent {
        ChatEvent {
            channel: ChannelRef::new(Platform::Discord, "500"),
            message: MessageId::new(id),
            at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            kind: EventKind::Posted {
                author: Author::human("1", "ana"),
                text: "hi".into(),
                thread: thread.map(MessageId::new),
            },
        }
    }

    #[test]
    fn the_cursor_is_before_the_last_stored_messages_per_channel_and_thread() {
        let events = [
            posted("cmd:900", None),
            posted("950", None),
            posted("940", None),
            posted("960", Some("955")),
        ];
        let mut found: Vec<(Option<String>, u64)> = cursors(ChannelId::new(500), &events, 900)
            .into_iter()
            .map(|(place, after)| (place.thread.map(|t| t.to_string()), after))
            .collect();
        found.sort();
        assert_eq!(found, [(None, 899), (Some("955".into()), 954)]);
        let many: Vec<ChatEvent> = (1000..1000 + LOOKBACK as u64 + 5)
            .map(|id| posted(&id.to_string(), None))
            .collect();
        assert_eq!(cursors(ChannelId::new(500), &many, 1000)[0].1, 1004);
        // Messages of an earlier incident are not read again.
        let channel_cursor = cursors(ChannelId::new(500), &events, 945)
            .into_iter()
            .find(|(place, _)| place.thread.is_none());
        assert_eq!(channel_cursor.map(|(_, after)| after), Some(944));
    }
}
