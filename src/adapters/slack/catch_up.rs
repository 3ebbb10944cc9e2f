//! The catch-up after downtime: Slack retries an event for a few minutes at most, so after a
//! longer outage what was said meanwhile is read back from the Web API. For every channel with
//! an incident that is not closed, the last stored messages and all posted after them are read
//! again (`conversations.history`, and `conversations.replies` for threads), with the pinned
//! messages (`pins.list`), and what the log does not say yet is recorded as the live events
//! would have been: new messages, edits, reactions, pins. What the log already says is
//! compared, not stored again, so a second catch-up of the same history stores nothing.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use tracing::Instrument;

use super::Slack;
use super::inbound::{self, Listed};
use super::intake;
use super::web::{Page, SlackApi};
use crate::domain::{ChannelRef, ChatEvent, EventKind, Known, MessageId, Platform, UserId, known};
use crate::storage::{Store, StoreError};

/// Pages of channel history read per catch-up (200 messages each).
const HISTORY_PAGES: usize = 20;
/// Threads read per channel, newest first, and pages read per thread.
const THREADS: usize = 50;
const THREAD_PAGES: usize = 5;
/// Stored messages read again before the newest one, for the edits and reactions they gained
/// while Scribe was away.
const LOOKBACK: usize = 100;

/// Catches every open incident channel up; one catch-up at a time. Failures are logged: the
/// next connect tries again.
pub async fn run(slack: &Slack) {
    let Some(api) = &slack.api else {
        return;
    };
    let _one_at_a_time = slack.catching_up.lock().await;
    if let Err(error) = catch_up(slack, api).await {
        tracing::error!(%error, "cannot store what Slack says was missed");
    }
}

async fn catch_up(slack: &Slack, api: &SlackApi) -> Result<(), StoreError> {
    for channel in slack.app.store().channels().await? {
        if channel.platform != Platform::Slack {
            continue;
        }
        let history = slack.app.recorder.history(&channel).await?;
        let Some(start) = history.open_incident().map(|i| i.started_at) else {
            continue;
        };
        let span = tracing::info_span!("catch_up", channel = %channel.id);
        Channel::read(slack, api, &channel, start)
            .instrument(span)
            .await?;
    }
    Ok(())
}

/// One channel being caught up: what its log said when the catch-up began.
struct Channel<'a> {
    slack: &'a Slack,
    api: &'a SlackApi,
    channel: &'a ChannelRef,
    known: HashMap<MessageId, Known>,
    pinned: HashSet<MessageId>,
}

impl Channel<'_> {
    async fn read(
        slack: &Slack,
        api: &SlackApi,
        channel: &ChannelRef,
        start: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let events = slack.app.store().channel_events(channel).await?;
        let oldest = ts(oldest(&events, start));
        let oldest = oldest.as_str();
        let mut threads: BTreeSet<String> = events
            .iter()
            .filter(|e| e.at >= start)
            .filter_map(|e| match &e.kind {
                EventKind::Posted {
                    thread: Some(thread),
                    ..
                } => Some(thread.to_string()),
                _ => None,
            })
            .collect();
        let this = Channel {
            slack,
            api,
            channel,
            known: known(&events),
            pinned: pinned(&events),
        };
        let id = channel.id.as_str();
        let top = this
            .pages(HISTORY_PAGES, |cursor| async move {
                api.history_since(id, oldest, cursor.as_deref()).await
            })
            .await;
        threads.extend(
            top.iter()
                .filter(|m| m.has_replies)
                .map(|m| m.posted.message.to_string()),
        );
        this.record(top).await?;
        for thread in threads.iter().rev().take(THREADS) {
            let replies = this
                .pages(THREAD_PAGES, |cursor| async move {
                    api.replies_since(id, thread, oldest, cursor.as_deref())
                        .await
                })
                .await;
            let replies = replies
                .into_iter()
                .filter(|m| m.posted.message.as_str() != thread)
                .collect();
            this.record(replies).await?;
        }
        this.pins().await
    }

    /// Up to `most` pages of messages, oldest first; what could not be read is logged and
    /// skipped.
    async fn pages<F, Fut>(&self, most: usize, page: F) -> Vec<Listed>
    where
        F: Fn(Option<String>) -> Fut,
        Fut: Future<Output = Result<Page, super::web::ApiError>>,
    {
        let mut listed = Vec::new();
        let mut cursor = None;
        for _ in 0..most {
            let read = match page(cursor.take()).await {
                Ok(read) => read,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the missed messages");
                    break;
                }
            };
            for message in &read.messages {
                match inbound::listed(&self.channel.id, message) {
                    Ok(message) => listed.push(message),
                    Err(error) => tracing::warn!(%error, "a missed message is unreadable"),
                }
            }
            match read.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        if cursor.is_some() {
            tracing::warn!(
                pages = most,
                "stopped catching up: too many missed messages"
            );
        }
        listed.sort_by_key(|m| m.posted.at);
        listed.dedup_by(|a, b| a.posted.message == b.posted.message);
        listed
    }

    async fn record(&self, messages: Vec<Listed>) -> Result<(), StoreError> {
        for message in messages {
            self.reconcile(message).await?;
        }
        Ok(())
    }

    /// Records what the log does not yet say about one message: the message, its last edit,
    /// the 📌 reactions added or taken back.
    async fn reconcile(&self, message: Listed) -> Result<(), StoreError> {
        let (id, posted_at) = (message.posted.message.clone(), message.posted.at);
        let stored = self.known.get(&id);
        match stored {
            None => {
                if intake::record(self.slack, message.posted).await?.new {
                    tracing::info!(message = %id, "caught up a missed message");
                }
            }
            Some(stored) => {
                if let Some(mut edit) = message.edit {
                    intake::name_people(self.api, &mut edit).await;
                    if matches!(&edit.kind, EventKind::Edited { text } if *text != stored.text) {
                        self.slack.app.record(&edit).await?;
                    }
                }
            }
        }
        let pin_emojis = &self.slack.app.config.timeline.pin_emojis;
        let is = |(emoji, _): &(String, UserId)| pin_emojis.contains(emoji);
        let was: HashSet<(String, UserId)> = stored
            .map(|s| s.reactions.iter().filter(|r| is(r)).cloned().collect())
            .unwrap_or_default();
        let now_standing: HashSet<(String, UserId)> =
            message.reactions.into_iter().filter(is).collect();
        let now = Utc::now().max(stored.map_or(posted_at, |s| s.latest));
        let reaction = |(emoji, user): &(String, UserId), added: bool| ChatEvent {
            channel: self.channel.clone(),
            message: id.clone(),
            at: now,
            kind: if added {
                EventKind::ReactionAdded {
                    emoji: emoji.clone(),
                    user: user.clone(),
                }
            } else {
                EventKind::ReactionRemoved {
                    emoji: emoji.clone(),
                    user: user.clone(),
                }
            },
        };
        for added in now_standing.difference(&was) {
            self.slack.app.record(&reaction(added, true)).await?;
        }
        // Who is missing from a shortened list may still be there.
        if message.reactions_complete {
            for removed in was.difference(&now_standing) {
                self.slack.app.record(&reaction(removed, false)).await?;
            }
        }
        Ok(())
    }

    /// Compares the pinned messages with the pins the log holds, and stores the difference.
    async fn pins(&self) -> Result<(), StoreError> {
        let pinned = match self.api.pinned(&self.channel.id).await {
            Ok(pinned) => pinned,
            Err(error) => {
                tracing::warn!(%error, "cannot read the channel's pins");
                return Ok(());
            }
        };
        let now = Utc::now();
        // After whatever the log holds about the message, whatever the clocks say.
        let pin = |message: &MessageId, posted: DateTime<Utc>, kind: EventKind| ChatEvent {
            channel: self.channel.clone(),
            message: message.clone(),
            at: self
                .known
                .get(message)
                .map_or(posted, |k| k.latest)
                .max(now),
            kind,
        };
        let mut is_pinned = HashSet::new();
        for message in &pinned {
            let listed = match inbound::listed(&self.channel.id, message) {
                Ok(listed) => listed,
                Err(error) => {
                    tracing::warn!(%error, "a pinned message is unreadable");
                    continue;
                }
            };
            let (id, posted) = (listed.posted.message.clone(), listed.posted.at);
            if !self.known.contains_key(&id) {
                intake::record(self.slack, listed.posted).await?;
            }
            if !self.pinned.contains(&id) {
                let event = pin(&id, posted, EventKind::PinAdded);
                self.slack.app.record(&event).await?;
            }
            is_pinned.insert(id);
        }
        for id in self.pinned.difference(&is_pinned) {
            let event = pin(id, now, EventKind::PinRemoved);
            self.slack.app.record(&event).await?;
        }
        Ok(())
    }
}

/// Where to start reading: the time of the last [`LOOKBACK`] messages stored since the
/// incident started, so those are read again with what happened to them.
fn oldest(events: &[ChatEvent], start: DateTime<Utc>) -> DateTime<Utc> {
    let mut times: Vec<DateTime<Utc>> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Posted { .. }) && e.at >= start)
        .map(|e| e.at)
        .collect();
    times.sort_unstable();
    match times.len().checked_sub(LOOKBACK) {
        Some(first) if first > 0 => times[first],
        _ => start,
    }
}

/// The messages the log holds pinned.
fn pinned(events: &[ChatEvent]) -> HashSet<MessageId> {
    let mut ordered: Vec<&ChatEvent> = events.iter().collect();
    ordered.sort_by_key(|e| (e.at, e.rank()));
    let mut pinned = HashSet::new();
    for event in ordered {
        match event.kind {
            EventKind::PinAdded => {
                pinned.insert(event.message.clone());
            }
            EventKind::PinRemoved => {
                pinned.remove(&event.message);
            }
            _ => {}
        }
    }
    pinned
}

/// A time as Slack writes a `ts`.
fn ts(at: DateTime<Utc>) -> String {
    format!("{}.{:06}", at.timestamp(), at.timestamp_subsec_micros())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::Author;

    fn posted(secs: i64) -> ChatEvent {
        ChatEvent {
            channel: ChannelRef::new(Platform::Slack, "C1"),
            message: MessageId::new(format!("{secs}.000100")),
            at: Utc.timestamp_opt(secs, 100_000).unwrap(),
            kind: EventKind::Posted {
                author: Author::human("U1", "ana"),
                text: "hi".into(),
                thread: None,
            },
        }
    }

    #[test]
    fn reading_starts_at_the_last_stored_messages_of_the_open_incident() {
        let start = Utc.timestamp_opt(1_000, 0).unwrap();
        let few = [posted(900), posted(1_001), posted(1_002)];
        assert_eq!(oldest(&few, start), start);
        let many: Vec<ChatEvent> = (0..LOOKBACK as i64 + 5)
            .map(|n| posted(1_001 + n))
            .collect();
        assert_eq!(ts(oldest(&many, start)), "1006.000100");
    }
}
