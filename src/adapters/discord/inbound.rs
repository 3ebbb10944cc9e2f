//! What the gateway (or a REST page of history) says, turned into the core's chat events.
//! Discord's types stop here: the rest of Scribe sees only [`ChatEvent`]s.

use chrono::{DateTime, Utc};
use serenity::all::{Message, MessageType, MessageUpdateEvent, ReactionType, User};

use crate::domain::{
    Author, AuthorKind, ChannelRef, ChatEvent, EventKind, MessageId, UserId, event::WEB_PIN,
};

/// Where a message belongs: the incident channel, and the thread within it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub channel: ChannelRef,
    /// The thread's id (for a thread started from a message, that message's id).
    pub thread: Option<MessageId>,
}

/// The name people see: the server nickname, else the global display name, else the username.
pub fn display_name(nick: Option<&str>, user: &User) -> String {
    nick.filter(|n| !n.is_empty())
        .map_or_else(|| user.display_name().to_string(), str::to_string)
}

/// A posted message. `nick` is the author's server nickname when known (the gateway sends it
/// with the message; a page of history does not).
pub fn posted(message: &Message, place: &Location, nick: Option<&str>) -> ChatEvent {
    let kind = if message.author.bot || message.webhook_id.is_some() {
        AuthorKind::Bot
    } else if message.author.system || !is_conversation(message.kind) {
        AuthorKind::System
    } else {
        AuthorKind::Human
    };
    ChatEvent {
        channel: place.channel.clone(),
        message: MessageId::new(message.id.to_string()),
        at: *message.timestamp,
        kind: EventKind::Posted {
            author: Author {
                id: UserId::new(message.author.id.to_string()),
                name: display_name(nick, &message.author),
                kind,
                zone: None,
            },
            text: text(&message.content, &message.mentions, &message.attachments),
            thread: place.thread.clone(),
        },
    }
}

/// An edit, when it changed the text (Discord also sends updates for embeds unfurling).
pub fn edited(
    update: &MessageUpdateEvent,
    place: &Location,
    now: DateTime<Utc>,
) -> Option<ChatEvent> {
    let content = update.content.as_ref()?;
    let mentions = update.mentions.as_deref().unwrap_or_default();
    let attachments = update.attachments.as_deref().unwrap_or_default();
    Some(ChatEvent {
        channel: place.channel.clone(),
        message: MessageId::new(update.id.to_string()),
        at: update.edited_timestamp.map_or(now, |t| *t),
        kind: EventKind::Edited {
            text: text(content, mentions, attachments),
        },
    })
}

/// A message read from history, as its last edit: its text now, at the time it was edited
/// (the same event the gateway's update made). `None` for a message never edited.
pub fn last_edit(message: &Message, place: &Location) -> Option<ChatEvent> {
    Some(ChatEvent {
        channel: place.channel.clone(),
        message: MessageId::new(message.id.to_string()),
        at: *message.edited_timestamp?,
        kind: EventKind::Edited {
            text: text(&message.content, &message.mentions, &message.attachments),
        },
    })
}

pub fn deleted(
    message: serenity::all::MessageId,
    place: &Location,
    now: DateTime<Utc>,
) -> ChatEvent {
    ChatEvent {
        channel: place.channel.clone(),
        message: MessageId::new(message.to_string()),
        at: now,
        kind: EventKind::Deleted,
    }
}

/// A reaction added or removed: a custom emoji counts by its name.
pub fn reaction(
    message: serenity::all::MessageId,
    emoji: &ReactionType,
    user: serenity::all::UserId,
    added: bool,
    place: &Location,
    now: DateTime<Utc>,
) -> ChatEvent {
    let user = UserId::new(user.to_string());
    reaction_by(message, emoji_name(emoji), user, added, place, now)
}

/// The name a reaction's emoji counts by: the emoji itself, or a custom emoji's name.
pub fn emoji_name(emoji: &ReactionType) -> String {
    match emoji {
        ReactionType::Unicode(emoji) => emoji.clone(),
        ReactionType::Custom { name, id, .. } => name.clone().unwrap_or_else(|| id.to_string()),
        _ => String::new(),
    }
}

/// A reaction added or removed, by emoji name and user id (as the log keeps them).
pub fn reaction_by(
    message: serenity::all::MessageId,
    emoji: String,
    user: UserId,
    added: bool,
    place: &Location,
    now: DateTime<Utc>,
) -> ChatEvent {
    ChatEvent {
        channel: place.channel.clone(),
        message: MessageId::new(message.to_string()),
        at: now,
        kind: if added {
            EventKind::ReactionAdded { emoji, user }
        } else {
            EventKind::ReactionRemoved { emoji, user }
        },
    }
}

/// "Add to timeline" on a message, as the reaction that marks it: the web's own 📌
/// ([`WEB_PIN`]) by the person, at the interaction's time. Not a 📌 reaction: the catch-up
/// compares the 📌 reactions Discord shows with the log's and would take back one Discord does
/// not show; no catch-up reads `WEB_PIN`. Its key holds the person and the interaction's time
/// (from its id), so a replayed interaction is stored once.
pub fn web_pin(
    message: serenity::all::MessageId,
    user: serenity::all::UserId,
    place: &Location,
    at: DateTime<Utc>,
) -> ChatEvent {
    let user = UserId::new(user.to_string());
    reaction_by(message, WEB_PIN.to_string(), user, true, place, at)
}

/// A pin or unpin seen in the channel's pinned messages.
pub fn pin(
    message: serenity::all::MessageId,
    pinned: bool,
    place: &Location,
    now: DateTime<Utc>,
) -> ChatEvent {
    ChatEvent {
        channel: place.channel.clone(),
        message: MessageId::new(message.to_string()),
        at: now,
        kind: if pinned {
            EventKind::PinAdded
        } else {
            EventKind::PinRemoved
        },
    }
}

/// Messages people write (plain, replies, slash command echoes); the rest (joins, "pinned a
/// message", thread notices) Discord writes itself.
fn is_conversation(kind: MessageType) -> bool {
    matches!(
        kind,
        MessageType::Regular | MessageType::InlineReply | MessageType::ThreadStarterMessage
    )
}

/// The text as people read it: `<@id>` becomes `@name`; attachments are named after it.
fn text(content: &str, mentions: &[User], attachments: &[serenity::all::Attachment]) -> String {
    let mut text = content.to_string();
    for user in mentions {
        let name = format!("@{}", user.display_name());
        text = text
            .replace(&format!("<@{}>", user.id), &name)
            .replace(&format!("<@!{}>", user.id), &name);
    }
    for attachment in attachments {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&format!("[file: {}]", attachment.filename));
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::Platform;

    fn place() -> Location {
        Location {
            channel: ChannelRef::new(Platform::Discord, "1100000000000000001"),
            thread: None,
        }
    }

    /// A MESSAGE_CREATE payload as Discord's documentation shows it.
    fn message(content: &str, member_nick: Option<&str>) -> Message {
        serde_json::from_value(json!({
            "id": "1200000000000000010",
            "channel_id": "1100000000000000001",
            "guild_id": "1000000000000000001",
            "author": {"id": "1300000000000000001", "username": "ana.k", "discriminator": "0",
                       "global_name": "Ana K", "avatar": null},
            "member": {"nick": member_nick, "roles": [], "joined_at": "2024-01-01T00:00:00+00:00",
                       "deaf": false, "mute": false, "flags": 0},
            "content": content,
            "timestamp": "2024-03-09T03:12:45.123000+00:00",
            "edited_timestamp": null,
            "tts": false,
            "mention_everyone": false,
            "mentions": [{"id": "1300000000000000002", "username": "bo", "discriminator": "0",
                          "global_name": null, "avatar": null}],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": false,
            "type": 0
        }))
        .expect("a documented message")
    }

    #[test]
    fn a_message_becomes_a_post_named_by_nickname_then_global_name() {
        let event = posted(
            &message("paging <@1300000000000000002>", Some("ana-oncall")),
            &place(),
            Some("ana-oncall"),
        );
        assert_eq!(event.at.to_rfc3339(), "2024-03-09T03:12:45.123+00:00");
        let EventKind::Posted { author, text, .. } = event.kind else {
            panic!("a post")
        };
        assert_eq!(author.name, "ana-oncall");
        assert_eq!(author.kind, AuthorKind::Human);
        assert_eq!(text, "paging @bo");
        let unnamed = posted(&message("hi", None), &place(), None);
        let EventKind::Posted { author, .. } = unnamed.kind else {
            panic!("a post")
        };
        assert_eq!(author.name, "Ana K");
    }

    #[test]
    fn an_update_without_content_is_no_edit() {
        let update: MessageUpdateEvent = serde_json::from_value(json!({
            "id": "1200000000000000010",
            "channel_id": "1100000000000000001",
            "embeds": []
        }))
        .unwrap();
        assert_eq!(edited(&update, &place(), Utc::now()), None);
        let update: MessageUpdateEvent = serde_json::from_value(json!({
            "id": "1200000000000000010",
            "channel_id": "1100000000000000001",
            "content": "db failover finished",
            "edited_timestamp": "2024-03-09T03:20:00+00:00"
        }))
        .unwrap();
        let event = edited(&update, &place(), Utc::now()).unwrap();
        assert_eq!(event.at.to_rfc3339(), "2024-03-09T03:20:00+00:00");
        assert_eq!(
            event.kind,
            EventKind::Edited {
                text: "db failover finished".into()
            }
        );
    }
}
