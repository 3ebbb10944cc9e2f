//! Slack workspace exports: `users.json`, `channels.json` (and `groups.json` for private
//! channels) and a folder of `YYYY-MM-DD.json` day files per channel, in a directory or a zip.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use zip::ZipArchive;

use super::{Budget, ExportError, explain, io_error, parse_fast};
use crate::adapters::slack::markup;
use crate::adapters::slack::ts::Ts;
use crate::domain::event::{
    Author, AuthorKind, ChannelRef, ChatEvent, EventKind, MessageId, Platform, UserId,
};

pub(super) fn read_dir(
    path: &Path,
    channel: Option<&str>,
    budget: Budget,
    emit: Emit<'_>,
) -> Result<Found, ExportError> {
    // Links are followed only within the export, so the real root is what they must stay in.
    let root = std::fs::canonicalize(path)
        .map_err(|error| io_error(&path.display().to_string(), error))?;
    let source = Source::Dir {
        path: path.to_path_buf(),
        root,
    };
    read(source, channel, budget, emit)
}

/// An archive to read from: a file, or bytes in memory.
pub(super) trait Archive: Read + Seek {}

impl<R: Read + Seek> Archive for R {}

/// The export zipped, in `archive`; `path` names it in errors.
pub(super) fn read_zip(
    archive: Box<dyn Archive>,
    path: &Path,
    channel: Option<&str>,
    budget: Budget,
    emit: Emit<'_>,
) -> Result<Found, ExportError> {
    let file = path.display().to_string();
    let archive = ZipArchive::new(archive).map_err(|error| ExportError::Zip {
        file: file.clone(),
        error,
    })?;
    // Zipping the export's folder puts every entry under one top folder.
    let prefix = archive
        .file_names()
        .filter_map(Result::ok)
        .find_map(|name| {
            let prefix = name.strip_suffix("channels.json")?;
            let valid = match prefix.strip_suffix('/') {
                Some(top) => !top.is_empty() && !top.contains('/') && top != "__MACOSX",
                None => prefix.is_empty(),
            };
            valid.then(|| prefix.to_string())
        })
        .ok_or(ExportError::UnknownFormat { file })?;
    read(
        Source::Zip {
            path: path.to_path_buf(),
            archive,
            prefix,
        },
        channel,
        budget,
        emit,
    )
}

/// Where the export's files are.
enum Source {
    /// `root` is `path` with every link resolved.
    Dir { path: PathBuf, root: PathBuf },
    /// Entries are read one at a time; `prefix` is the archive's top folder (`""` or `"name/"`).
    Zip {
        path: PathBuf,
        archive: ZipArchive<Box<dyn Archive>>,
        prefix: String,
    },
}

impl Source {
    /// How errors name the export itself.
    fn root(&self) -> String {
        match self {
            Source::Dir { path, .. } | Source::Zip { path, .. } => path.display().to_string(),
        }
    }

    /// How errors name the file `rel` (a path relative to the export's root).
    fn name(&self, rel: &str) -> String {
        match self {
            Source::Dir { path, .. } => path.join(rel).display().to_string(),
            Source::Zip { path, prefix, .. } => {
                format!("{}, entry {prefix}{rel}", path.display())
            }
        }
    }

    /// The file `rel`, opened for reading; `None` when the export has no such file.
    fn open(&mut self, rel: &str) -> Result<Option<Box<dyn Read + '_>>, ExportError> {
        let name = self.name(rel);
        match self {
            Source::Dir { path, root } => {
                let Some(real) = inside(path, root, rel, &name)? else {
                    return Ok(None);
                };
                // A device or FIFO would never end, or never begin.
                let metadata = std::fs::metadata(&real).map_err(|error| io_error(&name, error))?;
                if !metadata.is_file() {
                    return Err(ExportError::NotAFile { file: name });
                }
                let file = std::fs::File::open(&real).map_err(|error| io_error(&name, error))?;
                Ok(Some(Box::new(file)))
            }
            Source::Zip {
                archive, prefix, ..
            } => {
                let Some(index) = archive.index_for_name(&format!("{prefix}{rel}")) else {
                    return Ok(None);
                };
                let entry = archive
                    .by_index(index)
                    .map_err(|error| io_error(&name, error.into()))?;
                Ok(Some(Box::new(entry)))
            }
        }
    }

    /// The day files (`YYYY-MM-DD.json`) in the folder `folder`, sorted; none when the folder
    /// is missing.
    fn day_files(&self, folder: &str) -> Result<Vec<String>, ExportError> {
        // Channel names never contain these; refuse to look outside the export for one that does.
        if folder.is_empty() || folder.starts_with('.') || folder.contains(['/', '\\']) {
            return Ok(Vec::new());
        }
        let mut names: Vec<String> = match self {
            Source::Dir { path, root } => {
                let Some(real) = inside(path, root, folder, &self.name(folder))? else {
                    return Ok(Vec::new());
                };
                match std::fs::read_dir(real) {
                    Ok(entries) => entries
                        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                        .collect(),
                    Err(error) => return Err(io_error(&self.name(folder), error)),
                }
            }
            Source::Zip {
                archive, prefix, ..
            } => archive
                .file_names()
                .filter_map(Result::ok)
                .filter_map(|name| {
                    let name = name.strip_prefix(prefix.as_str())?.strip_prefix(folder)?;
                    Some(name.strip_prefix('/')?.to_string())
                })
                .collect(),
        };
        names.retain(|name| is_day_file(name));
        names.sort();
        Ok(names)
    }

    /// Parses the JSON file `rel`, charged to `budget`; `None` when the export has no such
    /// file.
    fn parse<T: DeserializeOwned>(
        &mut self,
        rel: &str,
        budget: &mut Budget,
    ) -> Result<Option<T>, ExportError> {
        let name = self.name(rel);
        let Some(reader) = self.open(rel)? else {
            return Ok(None);
        };
        if let Some(value) = parse_fast(reader, &name, budget)? {
            return Ok(Some(value));
        }
        let reader = self.open(rel)?.ok_or_else(|| {
            io_error(
                &name,
                std::io::Error::other("the file went away while it was read"),
            )
        })?;
        Err(explain::<T>(reader, &name, budget))
    }
}

/// `rel` in the export directory `path`, with its links resolved, when it is there; refused
/// when a link leads out of `root`, the real export. `name` is how errors name it.
fn inside(path: &Path, root: &Path, rel: &str, name: &str) -> Result<Option<PathBuf>, ExportError> {
    let real = match std::fs::canonicalize(path.join(rel)) {
        Ok(real) => real,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(name, error)),
    };
    if !real.starts_with(root) {
        return Err(ExportError::OutsideExport {
            file: name.to_string(),
            target: real.display().to_string(),
        });
    }
    Ok(Some(real))
}

fn is_day_file(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() == 15
        && name.ends_with(".json")
        && bytes[..10].iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

#[derive(Deserialize)]
struct User {
    id: String,
    name: Option<String>,
    real_name: Option<String>,
    profile: Option<Profile>,
    is_bot: Option<bool>,
    /// An IANA zone name (`America/Los_Angeles`).
    tz: Option<String>,
}

#[derive(Deserialize)]
struct Profile {
    display_name: Option<String>,
    real_name: Option<String>,
}

#[derive(Deserialize)]
struct Channel {
    id: String,
    name: String,
    #[serde(default)]
    pins: Vec<Pin>,
}

#[derive(Deserialize)]
struct Pin {
    id: String,
}

/// Every field but `ts` varies by export year. `edited` is not read: `text` is already the
/// edited text, and the export keeps no earlier one.
#[derive(Deserialize)]
struct Message {
    ts: Ts,
    subtype: Option<String>,
    text: Option<String>,
    user: Option<String>,
    bot_id: Option<String>,
    username: Option<String>,
    user_profile: Option<Profile>,
    thread_ts: Option<String>,
    #[serde(default)]
    reactions: Vec<Reaction>,
    #[serde(default)]
    pinned_to: Vec<String>,
}

#[derive(Deserialize)]
struct Reaction {
    name: String,
    #[serde(default)]
    users: Vec<String>,
}

impl Message {
    fn author_id(&self) -> &str {
        self.user
            .as_deref()
            .or(self.bot_id.as_deref())
            .unwrap_or("unknown")
    }

    fn text(&self) -> &str {
        self.text.as_deref().unwrap_or_default()
    }

    /// What identifies a message when the export repeats it.
    fn key(&self) -> (&Ts, &str, &str) {
        (&self.ts, self.author_id(), self.text())
    }
}

/// The first of `names` that is not blank.
fn first_name<'a>(names: impl IntoIterator<Item = Option<&'a str>>) -> Option<&'a str> {
    names
        .into_iter()
        .flatten()
        .find(|name| !name.trim().is_empty())
}

struct Person {
    name: String,
    is_bot: bool,
    zone: Option<chrono_tz::Tz>,
}

impl Person {
    fn new(user: &User) -> Person {
        let profile = user.profile.as_ref();
        let name = first_name([
            profile.and_then(|p| p.display_name.as_deref()),
            profile.and_then(|p| p.real_name.as_deref()),
            user.real_name.as_deref(),
            user.name.as_deref(),
        ]);
        Person {
            name: name.unwrap_or(&user.id).to_string(),
            is_bot: user.is_bot.unwrap_or(false),
            zone: user.tz.as_deref().and_then(|tz| tz.parse().ok()),
        }
    }
}

/// Where the events go: all collected, or passed on day file by day file.
pub(super) enum Emit<'a> {
    /// Every day's messages read first, then sorted together: any export, any order.
    All(&'a mut Vec<ChatEvent>),
    /// Each day file's messages sorted and passed on before the next file is read, so memory
    /// follows a day, not the export. Stops, saying so, at a day that holds messages before
    /// the previous day's last: such an export is read with [`Emit::All`].
    ByDay(&'a mut dyn FnMut(ChatEvent)),
}

/// The channel read: its reference and name; `None` when [`Emit::ByDay`] found the days out
/// of order.
pub(super) type Found = Option<(ChannelRef, String)>;

fn read(
    mut source: Source,
    wanted: Option<&str>,
    mut budget: Budget,
    emit: Emit<'_>,
) -> Result<Found, ExportError> {
    let budget = &mut budget;
    let mut channels: Vec<Channel> = source.parse("channels.json", budget)?.unwrap_or_default();
    channels.extend(
        source
            .parse::<Vec<Channel>>("groups.json", budget)?
            .unwrap_or_default(),
    );
    let channel = pick(channels, wanted, source.root())?;
    let people: HashMap<String, Person> = source
        .parse::<Vec<User>>("users.json", budget)?
        .unwrap_or_default()
        .iter()
        .map(|user| (user.id.clone(), Person::new(user)))
        .collect();
    let mut events = Events {
        channel: &channel,
        channel_ref: ChannelRef::new(Platform::Slack, &channel.id),
        pins: channel.pins.iter().map(|pin| pin.id.as_str()).collect(),
        people: &people,
        previous: None,
        same_ts: 0,
    };
    let days = source.day_files(&channel.name)?;
    let mut parse_day = |source: &mut Source, day: &str| -> Result<Vec<Message>, ExportError> {
        let rel = format!("{}/{day}", channel.name);
        Ok(source
            .parse::<Vec<Message>>(&rel, budget)?
            .unwrap_or_default())
    };
    match emit {
        Emit::All(all) => {
            let mut messages: Vec<Message> = Vec::new();
            for day in &days {
                messages.extend(parse_day(&mut source, day)?);
            }
            // Exports repeat messages and files come in any order: sort, drop exact repeats,
            // and number distinct messages that share a ts so every message gets the same id
            // on every read.
            sort(&mut messages);
            all.reserve(messages.len());
            for message in &messages {
                events.of(message, &mut |event| all.push(event));
            }
        }
        Emit::ByDay(sink) => {
            let mut last: Option<Message> = None;
            for day in &days {
                let mut messages = parse_day(&mut source, day)?;
                sort(&mut messages);
                let Some(first) = messages.first() else {
                    continue;
                };
                if let Some(last) = &last {
                    match last.key().cmp(&first.key()) {
                        std::cmp::Ordering::Less => {}
                        std::cmp::Ordering::Equal => {
                            messages.remove(0);
                        }
                        std::cmp::Ordering::Greater => return Ok(None),
                    }
                }
                for message in &messages {
                    events.of(message, sink);
                }
                last = messages.pop().or(last);
            }
        }
    }
    let Events { channel_ref, .. } = events;
    Ok(Some((channel_ref, channel.name.clone())))
}

/// Sorted, exact repeats dropped: the order events are made in.
fn sort(messages: &mut Vec<Message>) {
    messages.sort_by(|a, b| a.key().cmp(&b.key()));
    messages.dedup_by(|a, b| a.key() == b.key());
}

/// Makes a channel's events from its messages, taken in sorted order.
struct Events<'a> {
    channel: &'a Channel,
    channel_ref: ChannelRef,
    pins: HashSet<&'a str>,
    people: &'a HashMap<String, Person>,
    /// The previous message's ts, and how many before it had the same.
    previous: Option<String>,
    same_ts: usize,
}

impl Events<'_> {
    fn of(&mut self, message: &Message, sink: &mut dyn FnMut(ChatEvent)) {
        let ts = &message.ts;
        self.same_ts = if self.previous.as_deref() == Some(ts.raw.as_str()) {
            self.same_ts + 1
        } else {
            self.previous = Some(ts.raw.clone());
            1
        };
        let id = match self.same_ts {
            1 => MessageId::new(&ts.raw),
            n => MessageId::new(format!("{}#{n}", ts.raw)),
        };
        let event = |kind| ChatEvent {
            channel: self.channel_ref.clone(),
            message: id.clone(),
            at: ts.at,
            kind,
        };
        let people = self.people;
        let lookup = |id: &str| people.get(id).map(|person| person.name.clone());
        sink(event(EventKind::Posted {
            author: author(message, people),
            text: markup::decode(message.text(), lookup),
            thread: message
                .thread_ts
                .as_ref()
                .filter(|thread| **thread != ts.raw)
                .map(MessageId::new),
        }));
        for reaction in &message.reactions {
            for user in &reaction.users {
                sink(event(EventKind::ReactionAdded {
                    emoji: reaction.name.clone(),
                    user: UserId::new(user),
                }));
            }
        }
        let channel = &self.channel.id;
        if message.pinned_to.contains(channel)
            || (self.same_ts == 1 && self.pins.contains(&*ts.raw))
        {
            sink(event(EventKind::PinAdded));
        }
    }
}

/// The channel named `wanted`, or the only one.
fn pick(
    mut channels: Vec<Channel>,
    wanted: Option<&str>,
    file: String,
) -> Result<Channel, ExportError> {
    fn names(channels: &[Channel]) -> Vec<String> {
        channels.iter().map(|c| c.name.clone()).collect()
    }
    match wanted {
        Some(wanted) => match channels.iter().position(|c| c.name == wanted) {
            Some(i) => Ok(channels.swap_remove(i)),
            None => Err(ExportError::UnknownChannel {
                file,
                wanted: wanted.to_string(),
                names: names(&channels),
            }),
        },
        None if channels.len() > 1 => Err(ExportError::SeveralChannels {
            file,
            names: names(&channels),
        }),
        None => channels.pop().ok_or(ExportError::NoChannels { file }),
    }
}

fn author(message: &Message, people: &HashMap<String, Person>) -> Author {
    let id = message.author_id();
    let person = message.user.as_deref().and_then(|user| people.get(user));
    let subtype = message.subtype.as_deref();
    let kind = match subtype {
        None | Some("thread_broadcast" | "file_share" | "me_message" | "bot_message") => {
            if subtype == Some("bot_message")
                || message.bot_id.is_some()
                || person.is_some_and(|p| p.is_bot)
            {
                AuthorKind::Bot
            } else {
                AuthorKind::Human
            }
        }
        // Joins, topic changes, "pinned a message" and the like.
        Some(_) => AuthorKind::System,
    };
    let profile = message.user_profile.as_ref();
    let name = person.map(|p| p.name.as_str()).or_else(|| {
        first_name([
            message.username.as_deref(),
            profile.and_then(|p| p.display_name.as_deref()),
            profile.and_then(|p| p.real_name.as_deref()),
        ])
    });
    Author {
        id: UserId::new(id),
        name: name.unwrap_or(id).to_string(),
        kind,
        zone: person.and_then(|p| p.zone),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::Export;

    use chrono::{TimeZone, Utc};

    use super::super::tests::{fixture, humans, read_export};
    use super::*;
    use crate::adapters::slack::ts::parse_ts;

    const USERS: &str = r#"[
        {"id": "U1", "name": "robin", "real_name": "Robin Ayers",
         "profile": {"display_name": "", "real_name": "Robin A."}},
        {"id": "U2", "name": "zoe", "profile": {"display_name": "Zoë"}, "is_bot": false},
        {"id": "U3", "name": "grafana", "is_bot": true}
    ]"#;

    /// A one-channel export in a temporary directory, with `days` as (file name, JSON) pairs.
    fn export(days: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let channels = r#"[{"id": "C1", "name": "inc-1", "pins": [{"id": "1.000002"}]}]"#;
        std::fs::write(dir.path().join("channels.json"), channels).unwrap();
        std::fs::write(dir.path().join("users.json"), USERS).unwrap();
        std::fs::create_dir(dir.path().join("inc-1")).unwrap();
        for (name, json) in days {
            std::fs::write(dir.path().join("inc-1").join(name), json).unwrap();
        }
        dir
    }

    fn posts(export: &Export) -> Vec<(&str, &Author, &str, Option<&str>)> {
        export
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Posted {
                    author,
                    text,
                    thread,
                } => Some((
                    e.message.as_str(),
                    author,
                    text.as_str(),
                    thread.as_ref().map(MessageId::as_str),
                )),
                _ => None,
            })
            .collect()
    }

    fn others(export: &Export) -> Vec<(&str, &EventKind)> {
        export
            .events
            .iter()
            .filter(|e| !matches!(e.kind, EventKind::Posted { .. }))
            .map(|e| (e.message.as_str(), &e.kind))
            .collect()
    }

    #[test]
    fn messages_become_events() {
        let dir = export(&[
            (
                "2024-03-09.json",
                r#"[
                {"ts": "1.000001", "user": "U1", "text": "<@U2> 5xx &lt; 1% <!here>",
                 "reactions": [{"name": "pushpin", "users": ["U2", "U3"], "count": 2}],
                 "blocks": [{"type": "rich_text"}], "client_msg_id": "x"},
                {"ts": "1.000002", "user": "U2", "text": "pinned by channels.json"},
                {"ts": "1.000003", "user": "U2", "text": "pinned_to", "pinned_to": ["C1"]},
                {"ts": "1.000004", "subtype": "bot_message", "bot_id": "B1", "username": "deploybot",
                 "text": "deployed"},
                {"ts": "1.000005", "bot_id": "B2", "user": "U9", "user_profile": {"real_name": "App"}},
                {"ts": "1.000006", "user": "U3", "text": "alert"},
                {"ts": "1.000007", "subtype": "channel_join", "user": "U2",
                 "text": "<@U2> has joined the channel"},
                {"ts": "1.000008", "subtype": "file_share", "user": "U1", "text": ""},
                {"ts": "1.000009", "user": "U1", "text": "root", "thread_ts": "1.000009"}
            ]"#,
            ),
            (
                "2024-03-10.json",
                r#"[{"ts": "1.000010", "user": "U2", "text": "reply", "thread_ts": "1.000009"}]"#,
            ),
            ("notes.json", "not json"),
            ("2024-3-11.json", "not json"),
        ]);
        let export = read_export(dir.path(), None).unwrap();
        assert_eq!(export.channel, ChannelRef::new(Platform::Slack, "C1"));
        assert_eq!(export.channel_name, "inc-1");
        let seen: Vec<_> = posts(&export)
            .into_iter()
            .map(|(id, a, text, thread)| (id, a.id.as_str(), a.name.as_str(), a.kind, text, thread))
            .collect();
        use AuthorKind::*;
        assert_eq!(
            seen,
            [
                (
                    "1.000001",
                    "U1",
                    "Robin A.",
                    Human,
                    "@Zoë 5xx < 1% @here",
                    None
                ),
                (
                    "1.000002",
                    "U2",
                    "Zoë",
                    Human,
                    "pinned by channels.json",
                    None
                ),
                ("1.000003", "U2", "Zoë", Human, "pinned_to", None),
                ("1.000004", "B1", "deploybot", Bot, "deployed", None),
                ("1.000005", "U9", "App", Bot, "", None),
                ("1.000006", "U3", "grafana", Bot, "alert", None),
                (
                    "1.000007",
                    "U2",
                    "Zoë",
                    System,
                    "@Zoë has joined the channel",
                    None
                ),
                ("1.000008", "U1", "Robin A.", Human, "", None),
                ("1.000009", "U1", "Robin A.", Human, "root", None),
                ("1.000010", "U2", "Zoë", Human, "reply", Some("1.000009")),
            ]
        );
        let reaction = |user: &str| EventKind::ReactionAdded {
            emoji: "pushpin".into(),
            user: UserId::new(user),
        };
        assert_eq!(
            others(&export),
            [
                ("1.000001", &reaction("U2")),
                ("1.000001", &reaction("U3")),
                ("1.000002", &EventKind::PinAdded),
                ("1.000003", &EventKind::PinAdded),
            ]
        );
        // Reactions and pins carry the message's time: exports keep no other.
        assert!(
            export
                .events
                .iter()
                .all(|e| e.at == parse_ts(e.message.as_str()).unwrap())
        );
    }

    #[test]
    fn repeated_messages_count_once_and_shared_ts_are_numbered_in_any_order() {
        let a = r#"{"ts": "5.000001", "user": "U2", "text": "b"}"#;
        let b = r#"{"ts": "5.000001", "user": "U1", "text": "a"}"#;
        let c = r#"{"ts": "5.000001", "user": "U1", "text": "c"}"#;
        let ids = |day: String| {
            let dir = export(&[("2024-03-09.json", &day)]);
            let export = read_export(dir.path(), Some("#inc-1")).unwrap();
            posts(&export)
                .into_iter()
                .map(|(id, _, text, _)| (id.to_string(), text.to_string()))
                .collect::<Vec<_>>()
        };
        let expected = [("5.000001", "a"), ("5.000001#2", "c"), ("5.000001#3", "b")]
            .map(|(id, text)| (id.to_string(), text.to_string()));
        assert_eq!(ids(format!("[{a}, {b}, {c}, {a}]")), expected);
        assert_eq!(ids(format!("[{c}, {a}, {b}, {b}]")), expected);
    }

    /// Streamed day file by day file, an export gives the events a whole read gives, in the
    /// same order, a repeat across two days included; days out of order are said to be.
    #[test]
    fn streaming_gives_what_reading_whole_gives() {
        let streamed = |dir: &tempfile::TempDir| {
            let mut events = Vec::new();
            let found = super::super::stream(dir.path(), None, 1 << 20, &mut |e| events.push(e));
            (found.unwrap().is_some(), events)
        };
        let first = r#"{"ts": "1445439680.000001", "user": "U1", "text": "one",
                         "reactions": [{"name": "pushpin", "users": ["U2"]}]}"#;
        let last = r#"{"ts": "1445439690.000001", "user": "U2", "text": "two"}"#;
        let next = r#"{"ts": "1445526080.000001", "user": "U1", "text": "three"}"#;
        let shared = r#"{"ts": "1445526090.000001", "user": "U2", "text": "four"}"#;
        let also = r#"{"ts": "1445526090.000001", "user": "U1", "text": "five"}"#;
        let dir = export(&[
            ("2015-10-21.json", &format!("[{last}, {first}]")),
            (
                "2015-10-22.json",
                &format!("[{last}, {shared}, {next}, {also}]"),
            ),
        ]);
        let whole = read_export(dir.path(), None).unwrap();
        assert_eq!(posts(&whole).len(), 5);
        assert_eq!(streamed(&dir), (true, whole.events));

        let misfiled = export(&[
            ("2015-10-21.json", &format!("[{first}, {next}]")),
            ("2015-10-22.json", &format!("[{last}]")),
        ]);
        assert!(
            !streamed(&misfiled).0,
            "a day before the previous day's last"
        );
        assert_eq!(posts(&read_export(misfiled.path(), None).unwrap()).len(), 3);
    }

    #[test]
    fn a_bad_ts_names_the_file_line_column_and_path() {
        let day = "[\n  {\"ts\": \"1.000001\", \"text\": \"ok\"},\n  {\"ts\": \"abc\"}\n]";
        let dir = export(&[("2024-03-09.json", day)]);
        let error = read_export(dir.path(), None).unwrap_err().to_string();
        let file = dir.path().join("inc-1/2024-03-09.json");
        assert_eq!(
            error,
            format!(
                "{}: line 3, column 15, at [1].ts: invalid timestamp \"abc\"",
                file.display()
            )
        );
    }

    #[test]
    fn broken_json_names_the_file() {
        let dir = export(&[]);
        std::fs::write(dir.path().join("users.json"), "[\n  {\"id\": \"U1\",}\n]").unwrap();
        let error = read_export(dir.path(), None).unwrap_err().to_string();
        let file = dir.path().join("users.json");
        assert!(
            error.starts_with(&format!("{}: line 2, column 15", file.display())),
            "{error}"
        );
    }

    #[test]
    fn channels_are_picked_by_name() {
        let dir = export(&[]);
        std::fs::write(
            dir.path().join("groups.json"),
            r#"[{"id": "G1", "name": "secret-inc"}]"#,
        )
        .unwrap();
        let error = read_export(dir.path(), None).unwrap_err().to_string();
        assert!(
            error.starts_with(&dir.path().display().to_string()),
            "{error}"
        );
        assert!(
            error.ends_with("several channels, pick one with --channel: inc-1, secret-inc"),
            "{error}"
        );
        let error = read_export(dir.path(), Some("nope"))
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with("no channel `nope` in the export; it has: inc-1, secret-inc"),
            "{error}"
        );
        // A channel without a folder of day files has no messages yet.
        let export = read_export(dir.path(), Some("#secret-inc")).unwrap();
        assert_eq!(export.channel, ChannelRef::new(Platform::Slack, "G1"));
        assert!(export.events.is_empty());

        std::fs::write(dir.path().join("channels.json"), "[]").unwrap();
        std::fs::write(dir.path().join("groups.json"), "[]").unwrap();
        let error = read_export(dir.path(), None).unwrap_err().to_string();
        assert!(error.ends_with("the export lists no channels"), "{error}");
    }

    /// Zips the files of `dir` into `zip`, each under `top`.
    fn zip(dir: &Path, zip: &Path, top: &str) {
        let mut writer = zip::ZipWriter::new(std::fs::File::create(zip).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        for rel in ["channels.json", "users.json", "inc-1/2024-03-09.json"] {
            writer.start_file(format!("{top}{rel}"), options).unwrap();
            writer
                .write_all(&std::fs::read(dir.join(rel)).unwrap())
                .unwrap();
        }
        writer.finish().unwrap();
    }

    #[test]
    fn zipped_exports_read_like_directories() {
        let day = r#"[{"ts": "1.000001", "user": "U2", "text": "hi"}]"#;
        let dir = export(&[("2024-03-09.json", day)]);
        let expected = read_export(dir.path(), None).unwrap();
        for top in ["", "Acme Slack export Mar 9 2024/"] {
            let file = dir.path().join("export.ZIP");
            zip(dir.path(), &file, top);
            assert_eq!(read_export(&file, None).unwrap(), expected, "{top:?}");
        }

        std::fs::write(dir.path().join("inc-1/2024-03-09.json"), "[{\"ts\": 1}]").unwrap();
        let file = dir.path().join("export.zip");
        zip(dir.path(), &file, "top/");
        let error = read_export(&file, None).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{}, entry top/inc-1/2024-03-09.json: line 1, column 10, at [0].ts: \
                 invalid type: integer `1`, expected a string",
                file.display()
            )
        );

        std::fs::write(&file, "PK but not a zip").unwrap();
        let error = read_export(&file, None).unwrap_err().to_string();
        assert!(error.starts_with(&format!("{}: not a readable zip", file.display())));
    }

    #[test]
    fn a_zip_without_channels_json_is_an_unknown_format() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.zip");
        let mut writer = zip::ZipWriter::new(std::fs::File::create(&file).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        writer.start_file("a/b/channels.json", options).unwrap();
        writer
            .start_file("__MACOSX/channels.json", options)
            .unwrap();
        writer.start_file("notchannels.json", options).unwrap();
        writer.finish().unwrap();
        let error = read_export(&file, None).unwrap_err();
        assert!(
            matches!(error, ExportError::UnknownFormat { .. }),
            "{error}"
        );
    }

    /// A zipped one-channel export whose day file is `spaces` spaces in a JSON array,
    /// deflated to next to nothing.
    fn bomb(dir: &Path, spaces: usize) -> PathBuf {
        let file = dir.join("bomb.zip");
        let mut writer = zip::ZipWriter::new(std::fs::File::create(&file).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        let channels = r#"[{"id": "C1", "name": "inc-1"}]"#;
        writer.start_file("channels.json", options).unwrap();
        writer.write_all(channels.as_bytes()).unwrap();
        writer.start_file("inc-1/2024-03-09.json", options).unwrap();
        writer.write_all(b"[").unwrap();
        let block = vec![b' '; 1 << 16];
        for _ in 0..spaces / block.len() {
            writer.write_all(&block).unwrap();
        }
        writer.write_all(&block[..spaces % block.len()]).unwrap();
        writer.write_all(b"]").unwrap();
        writer.finish().unwrap();
        file
    }

    #[test]
    fn what_an_export_decompresses_to_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        let file = bomb(dir.path(), 8 << 20);
        assert!(std::fs::metadata(&file).unwrap().len() < 100_000);
        let error = super::super::read(&file, None, 4 << 20)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            format!(
                "{}, entry inc-1/2024-03-09.json: the export takes more than 4194304 bytes once \
                 decompressed; if it is genuine, raise the limit with --max-export-bytes",
                file.display()
            )
        );
        // The cap is on the files together: each fits, not both.
        let channels = r#"[{"id": "C1", "name": "inc-1"}]"#.len() as u64;
        let whole = channels + (8 << 20) + 2;
        assert!(super::super::read(&file, None, whole).is_ok());
        let error = super::super::read(&file, None, whole - 1).unwrap_err();
        assert!(matches!(error, ExportError::TooBig { .. }), "{error}");
        let error = super::super::read(&file, None, channels - 1).unwrap_err();
        assert!(error.to_string().contains("entry channels.json"), "{error}");
    }

    #[test]
    fn links_out_of_the_export_and_special_files_are_refused() {
        let day = r#"[{"ts": "1.000001", "user": "U2", "text": "hi"}]"#;
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("2024-03-09.json"), day).unwrap();
        let day_file = |dir: &tempfile::TempDir| dir.path().join("inc-1/2024-03-09.json");

        // A link within the export is followed.
        let dir = export(&[]);
        std::fs::write(dir.path().join("day.json"), day).unwrap();
        std::os::unix::fs::symlink(dir.path().join("day.json"), day_file(&dir)).unwrap();
        assert_eq!(posts(&read_export(dir.path(), None).unwrap()).len(), 1);

        for target in [
            Path::new("/dev/zero"),
            &outside.path().join("2024-03-09.json"),
        ] {
            let dir = export(&[]);
            std::os::unix::fs::symlink(target, day_file(&dir)).unwrap();
            let error = read_export(dir.path(), None).unwrap_err().to_string();
            assert_eq!(
                error,
                format!(
                    "{}: a link to {}, outside the export; copy what it points to into the export",
                    day_file(&dir).display(),
                    target.canonicalize().unwrap().display()
                )
            );
        }

        let dir = export(&[]);
        std::fs::remove_dir(dir.path().join("inc-1")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("inc-1")).unwrap();
        let error = read_export(dir.path(), None).unwrap_err().to_string();
        let folder = dir.path().join("inc-1");
        assert!(
            error.starts_with(&format!("{}: a link to ", folder.display())),
            "{error}"
        );

        let dir = export(&[]);
        let fifo = std::ffi::CString::new(day_file(&dir).into_os_string().into_encoded_bytes());
        assert_eq!(unsafe { libc::mkfifo(fifo.unwrap().as_ptr(), 0o600) }, 0);
        let error = read_export(dir.path(), None).unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{}: not a regular file (a device, FIFO or socket); an export holds only files \
                 and folders",
                day_file(&dir).display()
            )
        );
    }

    #[test]
    fn a_byte_order_mark_is_no_error() {
        let day = "\u{feff}[{\"ts\": \"1.000001\", \"user\": \"U2\", \"text\": \"hi\"}]";
        let dir = export(&[("2024-03-09.json", day)]);
        let channels = std::fs::read_to_string(dir.path().join("channels.json")).unwrap();
        std::fs::write(
            dir.path().join("channels.json"),
            format!("\u{feff}{channels}"),
        )
        .unwrap();
        let export = read_export(dir.path(), None).unwrap();
        assert_eq!(posts(&export).len(), 1);
        let file = dir.path().join("export.zip");
        zip(dir.path(), &file, "");
        assert_eq!(read_export(&file, None).unwrap(), export);
    }

    fn pinned(export: &Export) -> Vec<&str> {
        export
            .events
            .iter()
            .filter(|e| e.kind == EventKind::PinAdded)
            .map(|e| e.message.as_str())
            .collect()
    }

    fn text_of<'a>(export: &'a Export, id: &str) -> &'a str {
        posts(export)
            .into_iter()
            .find(|post| post.0 == id)
            .map(|post| post.2)
            .unwrap()
    }

    #[test]
    fn shakespeare_fixture() {
        let path = fixture("google-sre-shakespeare-2015", "slack");
        let export = read_export(&path, None).unwrap();
        assert_eq!(export.channel_name, "inc-465-shakespeare");
        assert_eq!(humans(&export), 63);
        assert_eq!(pinned(&export), ["1445440724.479261"]);
        let start = export
            .events
            .iter()
            .find(|e| e.message.as_str() == "1445439680.028328")
            .unwrap();
        assert_eq!(start.at, Utc.timestamp_opt(1445439680, 28_328_000).unwrap());
        assert!(text_of(&export, "1445440351.690937").contains("Contacted @Clara Nygård & @Arjun"));
        let replies = posts(&export)
            .into_iter()
            .filter(|post| post.3 == Some("1445441200.164945"))
            .count();
        assert_eq!(replies, 2);
    }

    #[test]
    fn adversarial_fixture() {
        let path = fixture("adversarial", "slack");
        let export = read_export(&path, Some("inc-checkout-5xx")).unwrap();
        assert_eq!(humans(&export), 41);
        let shared: Vec<_> = posts(&export)
            .into_iter()
            .map(|post| post.0)
            .filter(|id| id.starts_with("1709978970."))
            .collect();
        assert_eq!(shared, ["1709978970.670851", "1709978970.670851#2"]);
        let baseline = posts(&export)
            .into_iter()
            .filter(|post| post.2 == "/timeline Checkout success rate back to baseline")
            .count();
        assert_eq!(baseline, 1);
        assert!(text_of(&export, "1709978730.738792").starts_with("@Layla حداد thanks"));
        assert!(
            text_of(&export, "1709979030.407916")
                .ends_with("https://bank.example/login (https://evil.example/login)")
        );
        let round_pushpin = others(&export)
            .into_iter()
            .filter(|(_, kind)| matches!(kind, EventKind::ReactionAdded { emoji, .. } if emoji == "round_pushpin"))
            .count();
        assert_eq!(round_pushpin, 1);
        // Pinned both ways (`pinned_to` and channels.json), pinned once.
        assert_eq!(pinned(&export), ["1709979105.123050"]);
    }
}
