//! The chat events Scribe records: the append-only log every incident is folded from.
//!
//! Adapters (live Slack and Discord, chat exports, the console) turn what their platform says
//! into these events; nothing else enters the core.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Slack,
    Discord,
    Console,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Discord => "discord",
            Platform::Console => "console",
        }
    }

    pub fn parse(name: &str) -> Option<Platform> {
        [Platform::Slack, Platform::Discord, Platform::Console]
            .into_iter()
            .find(|p| p.as_str() == name)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A channel on one platform: incidents live in channels, one open at a time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChannelRef {
    pub platform: Platform,
    pub id: String,
}

impl ChannelRef {
    pub fn new(platform: Platform, id: impl Into<String>) -> Self {
        ChannelRef {
            platform,
            id: id.into(),
        }
    }
}

impl fmt::Display for ChannelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.id)
    }
}

/// The platform's id of a message (Slack `ts`, Discord snowflake), unique within a channel.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    pub fn new(id: impl Into<String>) -> Self {
        MessageId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn new(id: impl Into<String>) -> Self {
        UserId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Only humans count as participants; humans and integrations issue commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthorKind {
    Human,
    Bot,
    /// Joins, "pinned a message" notices and other messages the platform writes itself.
    System,
    /// Scribe acting on what happened elsewhere: an issue closed in the tracker, a pull request
    /// opened or merged. Only Scribe's own code makes such authors, never a chat platform.
    Integration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub id: UserId,
    /// The display name the platform showed for this author at the time.
    pub name: String,
    pub kind: AuthorKind,
    /// The author's own time zone, where the platform says it (Slack does, Discord does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<chrono_tz::Tz>,
}

impl Author {
    /// An integration's author: `id` names the integration and who acted there
    /// (`github:octocat`), `name` is how people read it.
    pub fn integration(id: impl Into<String>, name: impl Into<String>) -> Self {
        Author {
            kind: AuthorKind::Integration,
            ..Author::human(id, name)
        }
    }

    pub fn issues_commands(&self) -> bool {
        matches!(self.kind, AuthorKind::Human | AuthorKind::Integration)
    }

    pub fn human(id: impl Into<String>, name: impl Into<String>) -> Self {
        Author {
            id: UserId::new(id),
            name: name.into(),
            kind: AuthorKind::Human,
            zone: None,
        }
    }
}

/// One thing that happened in a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatEvent {
    pub channel: ChannelRef,
    /// The message the event is about (for a slash command, the platform's id of that command).
    pub message: MessageId,
    /// When it happened: the post time, the edit time, the reaction time.
    pub at: DateTime<Utc>,
    pub kind: EventKind,
}

impl ChatEvent {
    /// About what the event takes in memory, its text included: what a cache of folds counts.
    pub fn weight(&self) -> usize {
        let text = match &self.kind {
            EventKind::Posted { author, text, .. } => {
                author.id.as_str().len() + author.name.len() + text.len()
            }
            EventKind::Edited { text } => text.len(),
            EventKind::ReactionAdded { emoji, user }
            | EventKind::ReactionRemoved { emoji, user } => emoji.len() + user.as_str().len(),
            EventKind::Deleted | EventKind::PinAdded | EventKind::PinRemoved => 0,
        };
        std::mem::size_of::<ChatEvent>()
            + self.channel.id.len()
            + self.message.as_str().len()
            + text
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A message, or a slash command (its text then starts with the command, e.g. `/timeline`).
    Posted {
        author: Author,
        text: String,
        /// The thread's root message for a reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<MessageId>,
    },
    Edited {
        text: String,
    },
    Deleted,
    ReactionAdded {
        emoji: String,
        user: UserId,
    },
    ReactionRemoved {
        emoji: String,
        user: UserId,
    },
    PinAdded,
    PinRemoved,
}

/// The reaction the web workspace's "add to timeline" leaves: a 📌 of its own, which no chat
/// platform shows, so that catching up with a platform never takes it back.
pub const WEB_PIN: &str = "scribe:web-pin";

/// Identifies an event so that applying or storing it twice changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey {
    pub channel: ChannelRef,
    pub message: MessageId,
    /// The kind with what distinguishes two events of that kind on one message.
    pub kind: String,
}

impl ChatEvent {
    pub fn key(&self) -> EventKey {
        let ms = self.at.timestamp_millis();
        let kind = match &self.kind {
            EventKind::Posted { .. } => "posted".to_string(),
            EventKind::Edited { .. } => format!("edited@{ms}"),
            EventKind::Deleted => "deleted".to_string(),
            EventKind::ReactionAdded { emoji, user } => format!("reaction+{emoji}:{user}@{ms}"),
            EventKind::ReactionRemoved { emoji, user } => format!("reaction-{emoji}:{user}@{ms}"),
            EventKind::PinAdded => format!("pin+@{ms}"),
            EventKind::PinRemoved => format!("pin-@{ms}"),
        };
        EventKey {
            channel: self.channel.clone(),
            message: self.message.clone(),
            kind,
        }
    }

    /// Whether a mark on this post (a pin, a 📌, "Add to timeline") can make it a timeline
    /// entry, as the fold decides: the platform's own notices and commands never are.
    pub fn can_be_marked(&self) -> bool {
        match &self.kind {
            EventKind::Posted { author, .. } => {
                author.kind != AuthorKind::System && !self.is_command()
            }
            _ => false,
        }
    }

    /// Whether the fold reads this event as a command (a person's message starting with one).
    pub fn is_command(&self) -> bool {
        match &self.kind {
            EventKind::Posted { author, text, .. } => {
                author.issues_commands() && super::command::parse(text).is_some()
            }
            _ => false,
        }
    }

    /// Events at the same instant apply in this order: a post before its edits, reactions
    /// and pins, and a deletion last.
    pub(crate) fn rank(&self) -> u8 {
        match self.kind {
            EventKind::Posted { .. } => 0,
            EventKind::Edited { .. } => 1,
            EventKind::ReactionAdded { .. }
            | EventKind::ReactionRemoved { .. }
            | EventKind::PinAdded
            | EventKind::PinRemoved => 2,
            EventKind::Deleted => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(kind: EventKind, secs: i64) -> ChatEvent {
        ChatEvent {
            channel: ChannelRef::new(Platform::Slack, "C1"),
            message: MessageId::new("1.0"),
            at: Utc.timestamp_opt(secs, 0).unwrap(),
            kind,
        }
    }

    #[test]
    fn a_post_has_one_key_whatever_its_time() {
        let a = event(
            EventKind::Posted {
                author: Author::human("U1", "A"),
                text: "x".into(),
                thread: None,
            },
            10,
        );
        let mut b = a.clone();
        b.at = Utc.timestamp_opt(11, 0).unwrap();
        assert_eq!(a.key(), b.key());
    }

    #[test]
    fn reactions_by_different_people_or_times_are_different_events() {
        let r = |user: &str, secs| {
            event(
                EventKind::ReactionAdded {
                    emoji: "pushpin".into(),
                    user: UserId::new(user),
                },
                secs,
            )
        };
        assert_ne!(r("U1", 10).key(), r("U2", 10).key());
        assert_ne!(r("U1", 10).key(), r("U1", 20).key());
        assert_eq!(r("U1", 10).key(), r("U1", 10).key());
    }

    #[test]
    fn events_round_trip_through_json() {
        let e = event(
            EventKind::Posted {
                author: Author::human("U1", "Zoë"),
                text: "/timeline ok".into(),
                thread: Some(MessageId::new("0.5")),
            },
            10,
        );
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<ChatEvent>(&json).unwrap(), e);
    }
}
