//! DiscordChatExporter JSON: one channel per file, `channel` and `messages` at the top level.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::Read;

use chrono::{DateTime, Datelike, Utc};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

use super::{Budget, Export, ExportError, first_byte, parse};
use crate::domain::event::{
    Author, AuthorKind, ChannelRef, ChatEvent, EventKind, MessageId, Platform, UserId,
};

/// Both keys optional so that a JSON file of another kind reads as an unknown format.
#[derive(Deserialize)]
struct File {
    channel: Option<Channel>,
    messages: Option<Vec<Message>>,
}

#[derive(Deserialize)]
struct Channel {
    id: String,
    name: Option<String>,
}

/// `content` is already the edited text, and the export keeps no earlier one.
///
/// Ordered so that, of two copies of a message, the greater wins whatever the file's order:
/// the later edit first, then every field read.
#[derive(Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
struct Message {
    #[serde(default, deserialize_with = "rfc3339_or_null")]
    timestamp_edited: Option<DateTime<Utc>>,
    id: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(deserialize_with = "rfc3339")]
    timestamp: DateTime<Utc>,
    #[serde(default)]
    is_pinned: bool,
    content: Option<String>,
    author: User,
    #[serde(default)]
    reactions: Vec<Reaction>,
}

#[derive(Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
struct User {
    id: String,
    name: Option<String>,
    nickname: Option<String>,
    global_name: Option<String>,
    #[serde(default)]
    is_bot: bool,
}

#[derive(Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct Reaction {
    emoji: Emoji,
    #[serde(default)]
    count: u64,
    #[serde(default)]
    users: Vec<Reactor>,
}

#[derive(Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct Emoji {
    name: String,
}

#[derive(Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct Reactor {
    id: String,
}

/// The exporter writes times in its machine's offset (`+05:30`); events are in UTC. A year
/// the offset moves out of 0000–9999 is refused here: nothing downstream could write it.
fn rfc3339<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let raw = String::deserialize(deserializer)?;
    let at = DateTime::parse_from_rfc3339(&raw)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| D::Error::custom(format!("invalid timestamp {raw:?} (expected RFC 3339)")))?;
    if !(0..=9999).contains(&at.year()) {
        return Err(D::Error::custom(format!(
            "timestamp {raw:?} is in the year {} in UTC, outside 0000-9999",
            at.year()
        )));
    }
    Ok(at)
}

fn rfc3339_or_null<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    #[derive(Deserialize)]
    struct Time(#[serde(deserialize_with = "rfc3339")] DateTime<Utc>);
    Ok(Option::<Time>::deserialize(deserializer)?.map(|Time(at)| at))
}

/// The export file, read from `open` (opened again to explain an error); `file` names it in
/// errors.
pub(super) fn read<R: Read>(
    mut open: impl FnMut() -> Result<R, ExportError>,
    file: &str,
    wanted: Option<&str>,
    mut budget: Budget,
) -> Result<Export, ExportError> {
    let file = file.to_string();
    // Only an object can hold `channel` and `messages`; anything else is some other JSON file.
    if first_byte(open()?, &file, &budget)? != Some(b'{') {
        return Err(ExportError::UnknownFormat { file });
    }
    let (Some(channel), Some(messages)) = parse::<File, R>(open, &file, &mut budget)
        .map(|export| (export.channel, export.messages))?
    else {
        return Err(ExportError::UnknownFormat { file });
    };
    let channel_name = channel.name.unwrap_or_else(|| channel.id.clone());
    if let Some(wanted) = wanted.filter(|wanted| *wanted != channel_name) {
        return Err(ExportError::UnknownChannel {
            file,
            wanted: wanted.to_string(),
            names: vec![channel_name],
        });
    }
    let channel = ChannelRef::new(Platform::Discord, channel.id);
    let mut events = Vec::with_capacity(messages.len());
    for message in unique(messages) {
        let id = MessageId::new(message.id);
        let event = |kind| ChatEvent {
            channel: channel.clone(),
            message: id.clone(),
            at: message.timestamp,
            kind,
        };
        let author = &message.author;
        let name = [&author.nickname, &author.global_name, &author.name]
            .into_iter()
            .flatten()
            .find(|name| !name.trim().is_empty())
            .unwrap_or(&author.id);
        let kind = match message.kind.as_deref() {
            None | Some("Default" | "Reply") if author.is_bot => AuthorKind::Bot,
            None | Some("Default" | "Reply") => AuthorKind::Human,
            // Joins, "pinned a message", thread creations and the like.
            Some(_) => AuthorKind::System,
        };
        events.push(event(EventKind::Posted {
            author: Author {
                id: UserId::new(&author.id),
                name: name.clone(),
                kind,
                zone: None,
            },
            text: message.content.unwrap_or_default(),
            // A Discord reply is an ordinary channel message that quotes another, no thread.
            thread: None,
        }));
        for reaction in message.reactions {
            // The exporter may leave the users out: one made-up user keeps the reaction, which
            // is all the fold asks of it; the count is not trusted with memory.
            let unlisted =
                (reaction.users.is_empty() && reaction.count > 0).then(|| "unknown".to_string());
            let listed = reaction.users.into_iter().map(|user| user.id);
            for user in listed.chain(unlisted) {
                events.push(event(EventKind::ReactionAdded {
                    emoji: reaction.emoji.name.clone(),
                    user: UserId::new(user),
                }));
            }
        }
        if message.is_pinned {
            events.push(event(EventKind::PinAdded));
        }
    }
    Ok(Export {
        channel,
        channel_name,
        events,
    })
}

/// One copy of each message, in the order of first appearance; of several copies the greatest
/// ([`Message`]'s order), so the file's order does not matter.
fn unique(messages: Vec<Message>) -> Vec<Message> {
    let mut kept: Vec<Message> = Vec::with_capacity(messages.len());
    let mut index = HashMap::with_capacity(messages.len());
    for message in messages {
        match index.entry(message.id.clone()) {
            Entry::Vacant(entry) => {
                entry.insert(kept.len());
                kept.push(message);
            }
            Entry::Occupied(entry) => {
                let old = &mut kept[*entry.get()];
                if message > *old {
                    *old = message;
                }
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::tests::{fixture, humans, read_export};
    use super::*;

    fn write(json: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inc.json");
        std::fs::write(&path, json).unwrap();
        (dir, path)
    }

    fn export(messages: &str) -> Result<Export, ExportError> {
        let (_dir, path) = write(&format!(
            "{{\"guild\": {{\"id\": \"1\"}}, \"channel\": {{\"id\": \"42\", \"name\": \"inc-1\"}},\n\
             \"messages\": [\n{messages}]}}"
        ));
        read_export(&path, None)
    }

    fn error(messages: &str) -> String {
        let error = export(messages).unwrap_err().to_string();
        let (_, rest) = error.split_once("inc.json: ").unwrap();
        rest.to_string()
    }

    #[test]
    fn messages_become_events() {
        let export = export(
            r#"
            {"id": "1", "type": "Default", "timestamp": "2024-03-09T15:30:05.022+05:30",
             "timestampEdited": null, "isPinned": true, "content": "hi @everyone",
             "author": {"id": "u1", "name": "rayers", "nickname": "Robin Ayers", "isBot": false},
             "reactions": [
                {"emoji": {"id": "", "name": "📌", "code": "pushpin"}, "count": 1,
                 "users": [{"id": "u2", "name": "zoe"}]},
                {"emoji": {"name": "📍", "code": "round_pushpin"}, "count": 2, "users": []}
             ]},
            {"id": "1", "type": "Default", "timestamp": "2024-03-09T15:30:05.022+05:30",
             "content": "hi @everyone", "author": {"id": "u1", "name": "rayers"}},
            {"id": "2", "type": "Reply", "timestamp": "2024-03-09T10:01:00Z",
             "content": "on it", "reference": {"messageId": "1"},
             "author": {"id": "u2", "name": "zoe", "nickname": "", "globalName": "Zoë"}},
            {"id": "3", "timestamp": "2024-03-09T10:02:00+00:00",
             "author": {"id": "b1", "name": "deploybot", "isBot": true}},
            {"id": "4", "type": "ChannelPinnedMessage", "timestamp": "2024-03-09T10:03:00Z",
             "content": "Pinned a message.", "author": {"id": "u2", "name": "zoe"}},
            {"id": "5", "type": "GuildMemberJoin", "timestamp": "2024-03-09T10:04:00Z",
             "author": {"id": "u3"}}
            "#,
        )
        .unwrap();
        assert_eq!(export.channel, ChannelRef::new(Platform::Discord, "42"));
        assert_eq!(export.channel_name, "inc-1");
        let t0 = Utc.with_ymd_and_hms(2024, 3, 9, 10, 0, 5).unwrap()
            + chrono::Duration::milliseconds(22);
        assert_eq!(export.events[0].at, t0);
        let seen: Vec<_> = export
            .events
            .iter()
            .map(|e| match &e.kind {
                EventKind::Posted {
                    author,
                    text,
                    thread,
                } => {
                    assert_eq!(*thread, None);
                    format!(
                        "{} post {} {} {:?} {text}",
                        e.message, author.id, author.name, author.kind
                    )
                }
                EventKind::ReactionAdded { emoji, user } => format!("{} {emoji} {user}", e.message),
                other => format!("{} {other:?}", e.message),
            })
            .collect();
        assert_eq!(
            seen,
            [
                "1 post u1 Robin Ayers Human hi @everyone",
                "1 📌 u2",
                "1 📍 unknown",
                "1 PinAdded",
                "2 post u2 Zoë Human on it",
                "3 post b1 deploybot Bot ",
                "4 post u2 zoe System Pinned a message.",
                "5 post u3 u3 System ",
            ]
        );
        assert!(export.events[1..4].iter().all(|e| e.at == t0));
    }

    #[test]
    fn a_forged_reaction_count_costs_nothing() {
        let export = export(
            r#"{"id": "1", "timestamp": "2024-03-09T10:00:00Z", "author": {"id": "u1"},
                "reactions": [{"emoji": {"name": "📌"}, "count": 18446744073709551615}]}"#,
        )
        .unwrap();
        assert_eq!(export.events.len(), 2);
    }

    #[test]
    fn of_two_copies_of_a_message_the_same_wins_in_any_order() {
        let copies = [
            r#"{"id": "1", "timestamp": "2024-03-09T10:00:00Z", "content": "/incident start A",
                "author": {"id": "u1"}}"#,
            r#"{"id": "1", "timestamp": "2024-03-09T10:00:00Z", "content": "/incident start B",
                "timestampEdited": "2024-03-09T10:05:00Z", "author": {"id": "u1"}}"#,
            r#"{"id": "1", "timestamp": "2024-03-09T10:00:00Z", "content": "/incident start C",
                "timestampEdited": null, "author": {"id": "u1", "isBot": true}}"#,
        ];
        let read = |order: [usize; 3]| {
            let messages = order.map(|i| copies[i]).join(",\n");
            export(&messages).unwrap()
        };
        let first = read([0, 1, 2]);
        assert_eq!(first.events.len(), 1);
        let EventKind::Posted { text, .. } = &first.events[0].kind else {
            panic!("{first:?}");
        };
        // The latest edit.
        assert_eq!(text, "/incident start B");
        for order in [[0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
            assert_eq!(read(order), first, "{order:?}");
        }
        let unedited = export(&format!("{},\n{}", copies[2], copies[0])).unwrap();
        assert_eq!(
            unedited,
            export(&format!("{},\n{}", copies[0], copies[2])).unwrap()
        );
    }

    #[test]
    fn years_out_of_0000_to_9999_in_utc_are_refused() {
        for (timestamp, year) in [
            ("9999-12-31T23:30:00-05:00", "10000"),
            ("0000-01-01T00:30:00+05:30", "-1"),
        ] {
            let message =
                format!(r#"{{"id": "1", "timestamp": "{timestamp}", "author": {{"id": "u1"}}}}"#);
            assert_eq!(
                error(&message),
                format!(
                    "line 3, column 53, at messages[0].timestamp: timestamp \"{timestamp}\" is \
                     in the year {year} in UTC, outside 0000-9999"
                )
            );
        }
        let edge = r#"{"id": "1", "timestamp": "9999-12-31T23:30:00Z", "author": {"id": "u1"}}"#;
        assert!(export(edge).is_ok());
    }

    #[test]
    fn a_byte_order_mark_is_no_error() {
        let (_dir, path) =
            write("\u{feff}{\"channel\": {\"id\": \"42\", \"name\": \"inc-1\"}, \"messages\": []}");
        assert_eq!(read_export(&path, None).unwrap().channel_name, "inc-1");
    }

    #[test]
    fn errors_name_the_file_position_and_path() {
        let ok = r#"{"id": "1", "timestamp": "2024-03-09T10:00:00Z", "author": {"id": "u1"}}"#;
        assert_eq!(
            error(&format!(
                "{ok},\n{{\"id\": \"2\", \"timestamp\": \"09/03/2024\", \"author\": {{}}}}"
            )),
            "line 4, column 38, at messages[1].timestamp: \
             invalid timestamp \"09/03/2024\" (expected RFC 3339)"
        );
        assert_eq!(
            error(r#"{"id": "2", "timestamp": "2024-03-09T10:00:00Z", "author": {"name": "x"}}"#),
            "line 3, column 72, at messages[0].author: missing field `id`"
        );
        assert_eq!(
            error(r#"{"timestamp": "2024-03-09T10:00:00Z", "author": {"id": "u1"}}"#),
            "line 3, column 61, at messages[0]: missing field `id`"
        );
    }

    #[test]
    fn other_json_is_an_unknown_format() {
        for json in [
            "[]",
            "  {\"messages\": []}",
            "{\"channel\": {\"id\": \"1\"}}",
            "\"x\"",
        ] {
            let (_dir, path) = write(json);
            let error = read_export(&path, None).unwrap_err();
            assert!(
                matches!(error, ExportError::UnknownFormat { .. }),
                "{json}: {error}"
            );
        }
        let (_dir, path) = write("{\"channel\": ");
        let error = read_export(&path, None).unwrap_err().to_string();
        assert!(
            error.ends_with("inc.json: line 1, column 12, at channel: EOF while parsing a value"),
            "{error}"
        );
    }

    #[test]
    fn the_channel_must_match() {
        let (_dir, path) = write(r#"{"channel": {"id": "42", "name": "inc-1"}, "messages": []}"#);
        assert!(
            read_export(&path, Some("#inc-1"))
                .unwrap()
                .events
                .is_empty()
        );
        let error = read_export(&path, Some("inc-2")).unwrap_err().to_string();
        assert!(
            error.ends_with("no channel `inc-2` in the export; it has: inc-1"),
            "{error}"
        );
    }

    fn reactions<'a>(export: &'a Export, emoji: &str) -> Vec<&'a str> {
        export
            .events
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::ReactionAdded { emoji: e, .. } if e == emoji))
            .map(|e| e.message.as_str())
            .collect()
    }

    fn pinned(export: &Export) -> Vec<&str> {
        export
            .events
            .iter()
            .filter(|e| e.kind == EventKind::PinAdded)
            .map(|e| e.message.as_str())
            .collect()
    }

    #[test]
    fn shakespeare_fixture() {
        let path = fixture("google-sre-shakespeare-2015", "discord.json");
        let export = read_export(&path, Some("inc-465-shakespeare")).unwrap();
        assert_eq!(humans(&export), 63);
        assert_eq!(pinned(&export), ["106410853443698715"]);
        assert_eq!(reactions(&export, "📌").len(), 3);
    }

    #[test]
    fn adversarial_fixture() {
        let path = fixture("adversarial", "discord.json");
        let export = read_export(&path, None).unwrap();
        assert_eq!(humans(&export), 41);
        let start = export
            .events
            .iter()
            .find(|e| e.message.as_str() == "1215962305095925761")
            .unwrap();
        let at = Utc.with_ymd_and_hms(2024, 3, 9, 10, 0, 5).unwrap()
            + chrono::Duration::milliseconds(22);
        assert_eq!(start.at, at);
        assert_eq!(reactions(&export, "📍"), ["1215965053002579997"]);
        assert_eq!(pinned(&export), ["1215965241532350495"]);
        let duplicate = export
            .events
            .iter()
            .filter(|e| e.message.as_str() == "1215964804158717979")
            .count();
        assert_eq!(duplicate, 1);
    }
}
