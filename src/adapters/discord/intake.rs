//! What Scribe keeps from a Discord server: every message, edit, deletion, 📌 reaction and pin
//! in a channel with an incident that is not closed, and in that channel's threads; and every
//! Scribe command anywhere. Also the catch-up after downtime: the messages a channel gained
//! while Scribe was away, fetched page by page after the last one it stored.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use serenity::all::{
    Channel, ChannelId, Context, GetMessages, GuildId, Message, MessageUpdateEvent, ReactionType,
};

use super::inbound::{self, Location};
use crate::app::App;
use crate::domain::{ChannelRef, ChatEvent, EventKind, Outcome, Platform};
use crate::recorder::Recorded;
use crate::storage::{Store, StoreError};

/// A page of history, as large as Discord serves.
const PAGE: u8 = 100;

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
        for id in was_pinned.difference(&is_pinned) {
            if let Ok(id) = id.parse::<u64>() {
                self.record(inbound::pin(id.into(), false, &place, now))
                    .await?;
            }
        }
        Ok(())
    }

    /// Fetches, for every open incident's channel and each of its threads, the messages posted
    /// after the last one stored, oldest first.
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
            for (place, after) in cursors(channel, &events) {
                let source = match &place.thread {
                    Some(thread) => thread.as_str().parse::<u64>().map(ChannelId::new),
                    None => Ok(channel),
                };
                if let Ok(source) = source {
                    self.fetch_after(ctx, source, &place, after).await?;
                }
            }
        }
        Ok(())
    }

    async fn fetch_after(
        &self,
        ctx: &Context,
        source: ChannelId,
        place: &Location,
        mut after: u64,
    ) -> Result<(), StoreError> {
        let span = tracing::info_span!("catch_up", channel = %source, after);
        let _enter = span.enter();
        loop {
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
                let event = self.posted_with_name(ctx, message, place).await;
                let recorded = self.record(event).await?;
                if recorded.new {
                    tracing::info!(message = %message.id, "caught up a missed message");
                }
                after = message.id.get();
            }
            if !full {
                return Ok(());
            }
        }
    }
}

fn place(channel: ChannelId, thread: Option<ChannelId>) -> Location {
    Location {
        channel: ChannelRef::new(Platform::Discord, channel.to_string()),
        thread: thread.map(|t| crate::domain::MessageId::new(t.to_string())),
    }
}

/// Where to resume reading: for the channel and each thread its log knows, the newest message
/// stored (commands are stored under their interaction's id, `cmd:<id>`, which is as
/// time-ordered as a message id and serves when no message was stored yet).
fn cursors(channel: ChannelId, events: &[ChatEvent]) -> Vec<(Location, u64)> {
    let mut newest: HashMap<Option<String>, u64> = HashMap::new();
    newest.insert(None, 0);
    for event in events {
        let EventKind::Posted { thread, .. } = &event.kind else {
            continue;
        };
        let id = event.message.as_str();
        let Ok(id) = id.strip_prefix("cmd:").unwrap_or(id).parse::<u64>() else {
            continue;
        };
        let key = thread.as_ref().map(|t| t.to_string());
        let thread_start = key.as_deref().and_then(|t| t.parse::<u64>().ok());
        let cursor = newest.entry(key).or_insert(thread_start.unwrap_or(0));
        *cursor = (*cursor).max(id);
    }
    newest
        .into_iter()
        .map(|(thread, after)| {
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
    fn the_cursor_is_the_newest_stored_message_per_channel_and_thread() {
        let events = [
            posted("cmd:900", None),
            posted("950", None),
            posted("940", None),
            posted("960", Some("955")),
        ];
        let mut found: Vec<(Option<String>, u64)> = cursors(ChannelId::new(500), &events)
            .into_iter()
            .map(|(place, after)| (place.thread.map(|t| t.to_string()), after))
            .collect();
        found.sort();
        assert_eq!(found, [(None, 950), (Some("955".into()), 960)]);
        let only_the_command = cursors(ChannelId::new(500), &[posted("cmd:900", None)]);
        assert_eq!(only_the_command[0].1, 900);
    }
}
