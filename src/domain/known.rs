//! What a channel's log already says about each message: a catch-up compares it with what the
//! platform shows now and records only the difference, so reading the same history again
//! stores nothing new.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::event::{AuthorKind, ChatEvent, EventKind, MessageId, UserId};
use super::incident::Incident;

/// One message as its stored events leave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// The text after the last stored edit.
    pub text: String,
    /// The reactions standing, as (emoji, who).
    pub reactions: HashSet<(String, UserId)>,
    /// When the last stored event about it happened: what a catch-up records goes after it,
    /// whatever the clocks say, or the fold would apply it too early.
    pub latest: DateTime<Utc>,
}

/// Every posted message of the log, its events applied in time order.
pub fn known(events: &[ChatEvent]) -> HashMap<MessageId, Known> {
    let mut ordered: Vec<&ChatEvent> = events.iter().collect();
    ordered.sort_by_key(|e| (e.at, e.rank()));
    let mut known: HashMap<MessageId, Known> = HashMap::new();
    for event in ordered {
        if let Some(message) = known.get_mut(&event.message) {
            message.latest = message.latest.max(event.at);
        }
        match &event.kind {
            EventKind::Posted { text, .. } => {
                known.entry(event.message.clone()).or_insert_with(|| Known {
                    text: text.clone(),
                    reactions: HashSet::new(),
                    latest: event.at,
                });
            }
            EventKind::Edited { text } => {
                if let Some(message) = known.get_mut(&event.message) {
                    message.text.clone_from(text);
                }
            }
            EventKind::ReactionAdded { emoji, user } => {
                if let Some(message) = known.get_mut(&event.message) {
                    message.reactions.insert((emoji.clone(), user.clone()));
                }
            }
            EventKind::ReactionRemoved { emoji, user } => {
                if let Some(message) = known.get_mut(&event.message) {
                    message.reactions.remove(&(emoji.clone(), user.clone()));
                }
            }
            EventKind::Deleted | EventKind::PinAdded | EventKind::PinRemoved => {}
        }
    }
    known
}

/// A message of an incident as people read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub id: MessageId,
    pub at: DateTime<Utc>,
    pub author: String,
    /// After its last edit.
    pub text: String,
    /// The thread's first message, for a reply.
    pub thread: Option<MessageId>,
}

/// The channel's messages of `incident` (those after `after`, the previous incident's close,
/// up to its own close), in time order, as the log leaves them: edits applied, deletions gone.
/// Commands and Scribe's own web changes are not messages people read, so they are left out.
pub fn conversation(
    events: &[ChatEvent],
    incident: &Incident,
    after: Option<DateTime<Utc>>,
) -> Vec<Said> {
    let mut sorted: Vec<&ChatEvent> = events.iter().collect();
    sorted.sort_by_key(|e| (e.at, e.rank()));
    let mut said: Vec<Said> = Vec::new();
    let mut by_id: HashMap<&MessageId, usize> = HashMap::new();
    let mut deleted: HashSet<&MessageId> = HashSet::new();
    for event in sorted {
        match &event.kind {
            EventKind::Posted {
                author,
                text,
                thread,
            } => {
                let within = after.is_none_or(|after| event.at > after)
                    && incident.closed_at.is_none_or(|end| event.at <= end);
                let readable = author.kind != AuthorKind::System
                    && super::command::parse(text).is_none()
                    && !event.message.as_str().starts_with("web:");
                if within && readable && !by_id.contains_key(&event.message) {
                    by_id.insert(&event.message, said.len());
                    said.push(Said {
                        id: event.message.clone(),
                        at: event.at,
                        author: author.name.clone(),
                        text: text.clone(),
                        thread: thread.clone(),
                    });
                }
            }
            EventKind::Edited { text } => {
                if let Some(&i) = by_id.get(&event.message) {
                    said[i].text.clone_from(text);
                }
            }
            EventKind::Deleted => {
                deleted.insert(&event.message);
            }
            _ => {}
        }
    }
    said.retain(|message| !deleted.contains(&message.id));
    said
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::domain::{Author, ChannelRef, Platform};

    fn event(id: &str, secs: i64, kind: EventKind) -> ChatEvent {
        ChatEvent {
            channel: ChannelRef::new(Platform::Slack, "C1"),
            message: MessageId::new(id),
            at: Utc.timestamp_opt(secs, 0).unwrap(),
            kind,
        }
    }

    #[test]
    fn edits_and_reactions_apply_in_time_order_whatever_the_stored_order() {
        let react = |secs, added| {
            let (emoji, user) = ("pushpin".to_string(), UserId::new("U2"));
            event(
                "1",
                secs,
                if added {
                    EventKind::ReactionAdded { emoji, user }
                } else {
                    EventKind::ReactionRemoved { emoji, user }
                },
            )
        };
        let events = [
            react(30, true),
            event("1", 20, EventKind::Edited { text: "b".into() }),
            react(25, false),
            event(
                "1",
                10,
                EventKind::Posted {
                    author: Author::human("U1", "ana"),
                    text: "a".into(),
                    thread: None,
                },
            ),
            react(15, true),
        ];
        let known = known(&events);
        let message = &known[&MessageId::new("1")];
        assert_eq!(message.text, "b");
        assert_eq!(
            message.reactions,
            HashSet::from([("pushpin".to_string(), UserId::new("U2"))])
        );
        assert_eq!(message.latest, Utc.timestamp_opt(30, 0).unwrap());
    }
}
