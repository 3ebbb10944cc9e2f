//! What Slack sends (Events API callbacks, slash commands and shortcuts), turned into chat
//! events.
//!
//! Pure functions, without I/O or a clock: the HTTP handler checks the signature, then hands
//! the raw body here. Authors are named by their user id; putting display names on them is
//! the caller's job, since that needs the Web API.
//!
//! An events body is read twice: its `type` and the event's `type` first, then the whole body
//! as the one shape that event has, so every error names the JSON path of what is wrong.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::ts::Ts;
use super::{blocks, markup};
use crate::domain::Severity;
use crate::domain::event::{
    Author, AuthorKind, ChannelRef, ChatEvent, EventKind, MessageId, Platform, UserId, WEB_PIN,
};

/// What an Events API request asks of Scribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A `url_verification` handshake: answer with this challenge.
    Challenge(String),
    /// An `event_callback`. Slack retries a callback it saw no answer to, with the same
    /// `event_id`; the events themselves are idempotent too.
    Events {
        event_id: String,
        events: Vec<ChatEvent>,
    },
    /// Nothing to record, and why.
    Ignored(&'static str),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InboundError {
    #[error("invalid Slack JSON body{}: {message}", at(.path.as_deref()))]
    Json {
        /// Where in the body, e.g. `event.item.ts`; `None` at the top level.
        path: Option<String>,
        message: String,
    },
    #[error("invalid Slack slash command: no `{0}`")]
    MissingParameter(&'static str),
    #[error("invalid Slack slash command: `{0}` is not a Slack id")]
    InvalidParameter(&'static str),
    #[error("invalid Slack interaction: no `payload` field")]
    NoPayload,
}

/// A channel, user or bot id as Slack makes them: a non-empty run of ASCII uppercase letters
/// and digits. Anything else is refused at the edge, so that every id Scribe stores can be
/// named again, in an incident id, in an API path.
#[derive(Deserialize)]
#[serde(try_from = "String")]
struct Id(String);

impl TryFrom<String> for Id {
    type Error = String;

    fn try_from(id: String) -> Result<Self, String> {
        if is_id(&id) {
            Ok(Id(id))
        } else {
            Err(format!("invalid Slack id {id:?}"))
        }
    }
}

fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A `trigger_id` names its command's event: ASCII letters, digits, `.`, `_` and `-` only
/// (Slack's are digits, dots and hex), so that it stays one segment of an incident id.
fn is_trigger(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn at(path: Option<&str>) -> String {
    path.map(|p| format!(" at {p}")).unwrap_or_default()
}

/// Reads an Events API request body.
///
/// # Errors
/// When the body is not JSON, or an event Scribe records lacks a field it needs or has one of
/// the wrong type; the error names the field's path.
pub fn parse_events_body(body: &[u8]) -> Result<Inbound, InboundError> {
    let envelope: Envelope = parse(body)?;
    match envelope.kind.as_str() {
        "url_verification" => Ok(Inbound::Challenge(parse::<Verification>(body)?.challenge)),
        "event_callback" => match envelope.event {
            Some(head) => callback(body, &head),
            None => Err(missing(None, "event")),
        },
        _ => Ok(Inbound::Ignored(
            "not an event callback or a URL verification",
        )),
    }
}

/// The event types Scribe records, as the app manifest subscribes to them (`message` as
/// `message.channels` and `message.groups`); every other type is ignored.
pub const EVENT_TYPES: [&str; 6] = [
    "message",
    "reaction_added",
    "reaction_removed",
    "pin_added",
    "pin_removed",
    "member_joined_channel",
];

/// Why an event of a type Scribe has no use for is ignored.
const NOT_RECORDED: &str = "an event type Scribe does not record";

fn callback(body: &[u8], head: &Head) -> Result<Inbound, InboundError> {
    if !EVENT_TYPES.contains(&head.kind.as_str()) {
        return Ok(Inbound::Ignored(NOT_RECORDED));
    }
    match (head.kind.as_str(), head.subtype.as_deref()) {
        ("message", Some("message_changed")) => changed(parse(body)?),
        ("message", Some("message_deleted")) => deleted(parse(body)?),
        // Thread bookkeeping such as `message_replied`, which the Events API sends without its
        // subtype: nobody posted anything.
        ("message", _) if head.hidden => Ok(Inbound::Ignored("a hidden message is not a post")),
        ("message", _) => message(parse(body)?),
        ("reaction_added", _) => reaction(parse(body)?, |emoji, user| EventKind::ReactionAdded {
            emoji,
            user,
        }),
        ("reaction_removed", _) => reaction(parse(body)?, |emoji, user| {
            EventKind::ReactionRemoved { emoji, user }
        }),
        ("pin_added", _) => pin(parse(body)?, EventKind::PinAdded),
        ("pin_removed", _) => pin(parse(body)?, EventKind::PinRemoved),
        ("member_joined_channel", _) => joined(parse(body)?),
        _ => Ok(Inbound::Ignored(NOT_RECORDED)),
    }
}

/// The body's kind, read before the rest.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    event: Option<Head>,
}

/// An event's kind, read before the rest.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    subtype: Option<String>,
    #[serde(default)]
    hidden: bool,
}

#[derive(Deserialize)]
struct Verification {
    challenge: String,
}

#[derive(Deserialize)]
struct Callback<E> {
    event_id: String,
    /// Unix seconds; stands in for an event without `event_ts`.
    event_time: Option<i64>,
    event: E,
}

/// A posted message: the event itself, or the pinned message inside `pin_added`.
#[derive(Deserialize)]
struct Message {
    ts: Ts,
    /// Absent inside `pin_added`, which names the channel itself.
    channel: Option<Id>,
    subtype: Option<String>,
    user: Option<Id>,
    bot_id: Option<Id>,
    username: Option<String>,
    bot_profile: Option<BotProfile>,
    text: Option<String>,
    thread_ts: Option<Ts>,
}

#[derive(Deserialize)]
struct BotProfile {
    name: Option<String>,
}

/// `message_changed`: `ts` is the edit's, `message` the new version.
#[derive(Deserialize)]
struct Changed {
    channel: Id,
    ts: Ts,
    event_ts: Option<Ts>,
    message: NewVersion,
}

#[derive(Deserialize)]
struct NewVersion {
    ts: Ts,
    text: Option<String>,
}

#[derive(Deserialize)]
struct Deleted {
    channel: Id,
    ts: Ts,
    event_ts: Option<Ts>,
    deleted_ts: Ts,
}

#[derive(Deserialize)]
struct Reaction {
    user: Id,
    reaction: String,
    item: ReactionItem,
    event_ts: Ts,
}

/// A message's `channel` and `ts`; a file's have neither.
#[derive(Deserialize)]
struct ReactionItem {
    #[serde(rename = "type")]
    kind: String,
    channel: Option<Id>,
    ts: Option<Ts>,
}

#[derive(Deserialize)]
struct Pin {
    channel_id: Id,
    item: PinItem,
    event_ts: Ts,
}

#[derive(Deserialize)]
struct PinItem {
    #[serde(rename = "type")]
    kind: String,
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Joined {
    user: Id,
    channel: Id,
    event_ts: Option<Ts>,
}

fn recorded(event_id: String, events: Vec<ChatEvent>) -> Result<Inbound, InboundError> {
    Ok(Inbound::Events { event_id, events })
}

fn message(callback: Callback<Message>) -> Result<Inbound, InboundError> {
    let (event_id, event) = (callback.event_id, callback.event);
    let channel = event
        .channel
        .as_ref()
        .ok_or_else(|| missing(Some("event"), "channel"))?;
    recorded(event_id, vec![posted(&channel.0, &event, "event")?])
}

fn changed(callback: Callback<Changed>) -> Result<Inbound, InboundError> {
    let (event_id, event) = (callback.event_id, callback.event);
    recorded(
        event_id,
        vec![ChatEvent {
            channel: slack(&event.channel.0),
            message: MessageId::new(event.message.ts.raw),
            at: event.event_ts.unwrap_or(event.ts).at,
            kind: EventKind::Edited {
                text: plain(event.message.text.as_deref()),
            },
        }],
    )
}

fn deleted(callback: Callback<Deleted>) -> Result<Inbound, InboundError> {
    let (event_id, event) = (callback.event_id, callback.event);
    recorded(
        event_id,
        vec![ChatEvent {
            channel: slack(&event.channel.0),
            message: MessageId::new(event.deleted_ts.raw),
            at: event.event_ts.unwrap_or(event.ts).at,
            kind: EventKind::Deleted,
        }],
    )
}

fn reaction(
    callback: Callback<Reaction>,
    kind: impl FnOnce(String, UserId) -> EventKind,
) -> Result<Inbound, InboundError> {
    let (event_id, event) = (callback.event_id, callback.event);
    let Reaction {
        user,
        reaction,
        item,
        event_ts,
    } = event;
    if item.kind != "message" {
        return Ok(Inbound::Ignored(
            "a reaction to something other than a message",
        ));
    }
    let channel = item
        .channel
        .ok_or_else(|| missing(Some("event.item"), "channel"))?;
    let ts = item.ts.ok_or_else(|| missing(Some("event.item"), "ts"))?;
    recorded(
        event_id,
        vec![ChatEvent {
            channel: slack(&channel.0),
            message: MessageId::new(ts.raw),
            at: event_ts.at,
            kind: kind(reaction, UserId::new(user.0)),
        }],
    )
}

fn pin(callback: Callback<Pin>, kind: EventKind) -> Result<Inbound, InboundError> {
    let (event_id, event) = (callback.event_id, callback.event);
    let Pin {
        channel_id,
        item,
        event_ts,
    } = event;
    if item.kind != "message" {
        return Ok(Inbound::Ignored("a pin of something other than a message"));
    }
    let message = item
        .message
        .ok_or_else(|| missing(Some("event.item"), "message"))?;
    let mut events = Vec::with_capacity(2);
    // A message posted before Scribe joined is known only from its pin: keep its text.
    let carried = message.text.is_some() && (message.user.is_some() || message.bot_id.is_some());
    if kind == EventKind::PinAdded && carried {
        events.push(posted(&channel_id.0, &message, "event.item.message")?);
    }
    events.push(ChatEvent {
        channel: slack(&channel_id.0),
        message: MessageId::new(message.ts.raw),
        at: event_ts.at,
        kind,
    });
    recorded(event_id, events)
}

fn joined(callback: Callback<Joined>) -> Result<Inbound, InboundError> {
    let (event_id, event) = (callback.event_id, callback.event);
    let Joined {
        user: Id(user),
        channel: Id(channel),
        event_ts,
    } = event;
    // Slack's own example of this event has no `event_ts`; `event_time` is the same instant
    // to the second.
    let (at, stamp) = match (event_ts, callback.event_time) {
        (Some(ts), _) => (ts.at, ts.raw),
        (None, Some(secs)) => {
            let at = DateTime::from_timestamp(secs, 0).ok_or_else(|| InboundError::Json {
                path: Some("event_time".into()),
                message: format!("invalid timestamp {secs}"),
            })?;
            (at, secs.to_string())
        }
        (None, None) => return Err(missing(Some("event"), "event_ts")),
    };
    recorded(
        event_id,
        vec![ChatEvent {
            channel: slack(&channel),
            message: MessageId::new(format!("join:{user}:{stamp}")),
            at,
            kind: EventKind::Posted {
                author: Author {
                    id: UserId::new(&user),
                    name: user.clone(),
                    kind: AuthorKind::System,
                    zone: None,
                },
                // `<@user> joined`, decoded as every other text is.
                text: format!("@{user} joined"),
                thread: None,
            },
        }],
    )
}

/// The `Posted` event of `message` in `channel`; `path` is where the message is in the body.
fn posted(channel: &str, message: &Message, path: &str) -> Result<ChatEvent, InboundError> {
    let ts = &message.ts;
    Ok(ChatEvent {
        channel: slack(channel),
        message: MessageId::new(&ts.raw),
        at: ts.at,
        kind: EventKind::Posted {
            author: author(message, path)?,
            text: plain(message.text.as_deref()),
            thread: message
                .thread_ts
                .as_ref()
                .filter(|thread| thread.raw != ts.raw)
                .map(|thread| MessageId::new(&thread.raw)),
        },
    })
}

fn author(message: &Message, path: &str) -> Result<Author, InboundError> {
    let Message {
        subtype,
        user,
        bot_id,
        ..
    } = message;
    let subtype = subtype.as_deref();
    let user = user.as_ref().map(|Id(id)| id.as_str());
    let bot_id = bot_id.as_ref().map(|Id(id)| id.as_str());
    let by_bot = bot_id.is_some() || subtype == Some("bot_message");
    match subtype {
        None | Some("thread_broadcast" | "file_share" | "me_message" | "bot_message") if by_bot => {
            let id = bot_id
                .or(user)
                .ok_or_else(|| missing(Some(path), "bot_id"))?;
            let profile = message.bot_profile.as_ref();
            let name = [
                message.username.as_deref(),
                profile.and_then(|p| p.name.as_deref()),
            ]
            .into_iter()
            .flatten()
            .find(|name| !name.trim().is_empty());
            Ok(Author {
                id: UserId::new(id),
                name: name.unwrap_or(id).to_string(),
                kind: AuthorKind::Bot,
                zone: None,
            })
        }
        None | Some("thread_broadcast" | "file_share" | "me_message") => {
            let id = user.ok_or_else(|| missing(Some(path), "user"))?;
            Ok(Author::human(id, id))
        }
        // Joins, topic changes and the like: kept for context, never entries or participants.
        Some(_) => {
            let id = user.or(bot_id).unwrap_or("unknown");
            Ok(Author {
                id: UserId::new(id),
                name: id.to_string(),
                kind: AuthorKind::System,
                zone: None,
            })
        }
    }
}

/// A message as `conversations.history`, `conversations.replies` and `pins.list` show it:
/// the post, and what happened to it since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub posted: ChatEvent,
    /// Its last edit (the text now, at the edit's time), when it was edited.
    pub edit: Option<ChatEvent>,
    /// Who reacted with which emoji.
    pub reactions: Vec<(String, UserId)>,
    /// Slack named everyone who reacted (it names only so many per emoji).
    pub reactions_complete: bool,
    /// A thread's parent with replies, to be read with `conversations.replies`.
    pub has_replies: bool,
}

#[derive(Deserialize)]
struct ListedMessage {
    #[serde(flatten)]
    message: Message,
    edited: Option<EditMark>,
    #[serde(default)]
    reactions: Vec<ListedReaction>,
    #[serde(default)]
    reply_count: u64,
}

#[derive(Deserialize)]
struct EditMark {
    ts: Ts,
}

#[derive(Deserialize)]
struct ListedReaction {
    name: String,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    count: usize,
}

/// Reads one message of a page of history in `channel`.
///
/// # Errors
/// When it lacks a field a post needs, or has one of the wrong type.
pub fn listed(channel: &str, message: &serde_json::Value) -> Result<Listed, InboundError> {
    let listed: ListedMessage = parse(message.to_string().as_bytes())?;
    let posted = posted(channel, &listed.message, "message")?;
    let edit = listed.edited.map(|edited| ChatEvent {
        channel: slack(channel),
        message: posted.message.clone(),
        at: edited.ts.at,
        kind: EventKind::Edited {
            text: plain(listed.message.text.as_deref()),
        },
    });
    let reactions_complete = listed.reactions.iter().all(|r| r.users.len() >= r.count);
    let reactions = listed
        .reactions
        .into_iter()
        .flat_map(|r| {
            let name = r.name;
            r.users
                .into_iter()
                .map(move |user| (name.clone(), UserId::new(user)))
        })
        .collect();
    Ok(Listed {
        posted,
        edit,
        reactions,
        reactions_complete,
        has_replies: listed.reply_count > 0,
    })
}

/// A slash command as Slack posts it (form-encoded). The deprecated verification `token` is
/// left out: the request signature replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlashCommand {
    pub command: String,
    pub text: String,
    pub user_id: String,
    pub user_name: String,
    pub channel_id: String,
    pub channel_name: String,
    /// Unique per invocation, so it also names the command's event.
    pub trigger_id: String,
    pub response_url: String,
    pub team_id: String,
}

/// Reads a slash command request body.
///
/// # Errors
/// When `command`, `user_id`, `channel_id` or `trigger_id` is missing or empty, or an id is
/// not one Slack makes.
pub fn parse_command(body: &[u8]) -> Result<SlashCommand, InboundError> {
    let fields: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    SlashCommand::from_fields(|name| fields.get(name).cloned())
}

impl SlashCommand {
    /// A command from its named fields, however they arrived (an HTTP form, a Socket Mode
    /// envelope).
    ///
    /// # Errors
    /// When `command`, `user_id`, `channel_id` or `trigger_id` is missing or empty, or an id is
    /// not one Slack makes.
    pub fn from_fields(field: impl Fn(&str) -> Option<String>) -> Result<Self, InboundError> {
        let optional = |name: &str| field(name).unwrap_or_default();
        let required = |name: &'static str| {
            field(name)
                .filter(|value| !value.is_empty())
                .ok_or(InboundError::MissingParameter(name))
        };
        let checked = |name: &'static str, valid: fn(&str) -> bool| {
            required(name).and_then(|value| {
                valid(&value)
                    .then_some(value)
                    .ok_or(InboundError::InvalidParameter(name))
            })
        };
        Ok(SlashCommand {
            command: required("command")?,
            text: optional("text"),
            user_id: checked("user_id", is_id)?,
            user_name: optional("user_name"),
            channel_id: checked("channel_id", is_id)?,
            channel_name: optional("channel_name"),
            trigger_id: checked("trigger_id", is_trigger)?,
            response_url: optional("response_url"),
            team_id: optional("team_id"),
        })
    }

    /// The command as a message in its channel, the form the fold reads commands in.
    pub fn event(&self, at: DateTime<Utc>) -> ChatEvent {
        // `user_name` is deprecated and may one day be empty.
        let name = match self.user_name.trim() {
            "" => &self.user_id,
            _ => &self.user_name,
        };
        let text = format!("{} {}", self.command, plain(Some(&self.text)).trim());
        ChatEvent {
            channel: slack(&self.channel_id),
            message: MessageId::new(format!("cmd:{}", self.trigger_id)),
            at,
            kind: EventKind::Posted {
                author: Author::human(&self.user_id, name),
                text: text.trim().to_string(),
                thread: None,
            },
        }
    }
}

/// The callback id of the message shortcut "Add to timeline", as the app manifest declares it.
pub const ADD_TO_TIMELINE: &str = "add_to_timeline";

/// What an interactivity payload asks of Scribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// "Add to timeline" on a message.
    AddToTimeline(Box<Shortcut>),
    /// The start form, submitted (`view_submission`).
    StartForm(Box<StartForm>),
    /// The severity select or a button under a start headline (`block_actions`).
    HeadlineAction(Box<HeadlineAction>),
    /// Nothing to record, and why.
    Ignored(&'static str),
}

/// Who used an interaction, and where: what a slash command would carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoker {
    /// Unique per use, so it names the command's event, as a slash command's does.
    pub trigger_id: String,
    pub team_id: String,
    pub user_id: String,
    pub user_name: String,
    pub channel_id: String,
    pub response_url: String,
}

impl Invoker {
    /// The interaction as the `/incident` command it stands for.
    pub fn command(&self, text: String) -> SlashCommand {
        SlashCommand {
            command: "/incident".to_string(),
            text,
            user_id: self.user_id.clone(),
            user_name: self.user_name.clone(),
            channel_id: self.channel_id.clone(),
            channel_name: String::new(),
            trigger_id: self.trigger_id.clone(),
            response_url: self.response_url.clone(),
            team_id: self.team_id.clone(),
        }
    }
}

/// The start form as submitted: the `/incident start` it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartForm {
    pub by: Invoker,
    /// Whitespace runs made one space; empty when the form had none.
    pub title: String,
    pub severity: Option<Severity>,
    pub create_channel: bool,
}

impl StartForm {
    /// `/incident start <title> [--sev <level>]`: the severity as an option, so a title that
    /// ends in `sev2` stays the title.
    pub fn command(&self) -> SlashCommand {
        let text = match self.severity {
            Some(severity) => format!("start {} --sev {}", self.title, severity.code()),
            None => format!("start {}", self.title),
        };
        self.by.command(text)
    }
}

/// What a headline's select or button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Severity(Severity),
    LeadMe,
    Resolve,
}

/// A click under a start headline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadlineAction {
    pub by: Invoker,
    pub act: Act,
    /// The message that opened the headline's incident (from the actions' block id).
    pub opened_by: MessageId,
}

impl HeadlineAction {
    /// The command typed for the same change; "I'm the lead" names the person as `name`.
    pub fn command(&self, name: &str) -> SlashCommand {
        self.by.command(match self.act {
            Act::Severity(severity) => format!("severity {}", severity.code()),
            Act::LeadMe => format!("lead {name}"),
            Act::Resolve => "resolve".to_string(),
        })
    }
}

/// A message shortcut (`message_action`): who used it, on which message, and where to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortcut {
    pub trigger_id: String,
    pub team_id: String,
    pub user_id: String,
    /// Slack's one-use URL for answering the person who used the shortcut.
    pub response_url: String,
    /// The message, as its post: recording it again changes nothing when it is known.
    pub message: ChatEvent,
    /// When the shortcut was used (`action_ts`), which Slack sends again unchanged in a
    /// replayed payload.
    pub at: DateTime<Utc>,
}

impl Shortcut {
    /// The shortcut as the reaction that marks the message: the web's own 📌 ([`WEB_PIN`]) by
    /// the person, at the shortcut's time. Not Slack's `pushpin`: a catch-up compares the
    /// 📌 reactions Slack shows on a message with the log's and records the missing ones as
    /// taken back, and Slack shows no reaction for a shortcut; no catch-up reads `WEB_PIN`.
    /// Its key holds the person and `action_ts`, so a replayed payload is stored once.
    pub fn pin(&self) -> ChatEvent {
        ChatEvent {
            channel: self.message.channel.clone(),
            message: self.message.message.clone(),
            at: self.at,
            kind: EventKind::ReactionAdded {
                emoji: WEB_PIN.to_string(),
                user: UserId::new(&self.user_id),
            },
        }
    }
}

#[derive(Deserialize)]
struct InteractionHead {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    callback_id: String,
    view: Option<ViewHead>,
}

#[derive(Deserialize)]
struct ViewHead {
    #[serde(default)]
    callback_id: String,
}

/// `message_action`, with the fields Scribe reads.
#[derive(Deserialize)]
struct MessageAction {
    trigger_id: String,
    action_ts: Ts,
    team: Named,
    channel: Named,
    user: Named,
    message: Message,
    response_url: String,
}

#[derive(Deserialize)]
struct Named {
    id: Id,
}

/// The person in an interaction: `name` is the username, which display names replace later.
#[derive(Deserialize)]
struct Person {
    id: Id,
    #[serde(default)]
    name: String,
}

/// `block_actions`, with the fields Scribe reads.
#[derive(Deserialize)]
struct BlockActions {
    trigger_id: String,
    team: Named,
    user: Person,
    /// Absent for actions outside a channel (a modal, the app's home).
    channel: Option<Named>,
    response_url: String,
    actions: Vec<Action>,
}

#[derive(Deserialize)]
struct ActionsHead {
    #[serde(default)]
    actions: Vec<Action>,
}

#[derive(Deserialize)]
struct Action {
    action_id: String,
    #[serde(default)]
    block_id: String,
    selected_option: Option<Picked>,
}

#[derive(Deserialize)]
struct Picked {
    value: String,
}

/// `view_submission`, with the fields Scribe reads.
#[derive(Deserialize)]
struct ViewSubmission {
    trigger_id: String,
    team: Named,
    user: Person,
    view: SubmittedView,
}

#[derive(Deserialize)]
struct SubmittedView {
    private_metadata: String,
    state: ViewState,
}

#[derive(Deserialize)]
struct ViewState {
    /// Block id, then action id, then what the input holds.
    values: HashMap<String, HashMap<String, Input>>,
}

#[derive(Deserialize)]
struct Input {
    value: Option<String>,
    selected_option: Option<Picked>,
    #[serde(default)]
    selected_options: Vec<Picked>,
}

/// Reads an interactivity request body: the form Slack posts, whose `payload` field is JSON.
///
/// # Errors
/// When there is no `payload` field, or [`parse_interaction`] refuses it.
pub fn parse_interaction_form(body: &[u8]) -> Result<Interaction, InboundError> {
    let payload = url::form_urlencoded::parse(body)
        .find(|(name, _)| name == "payload")
        .map(|(_, value)| value.into_owned())
        .ok_or(InboundError::NoPayload)?;
    parse_interaction(payload.as_bytes())
}

/// Reads an interactivity payload (the JSON Slack sends over HTTP in the `payload` field, and
/// over Socket Mode as an `interactive` envelope's payload).
///
/// # Errors
/// When it is not JSON, or a `message_action` for "Add to timeline" lacks a field Scribe needs
/// or has one of the wrong type; the error names the field's path.
pub fn parse_interaction(payload: &[u8]) -> Result<Interaction, InboundError> {
    let head: InteractionHead = parse(payload)?;
    match head.kind.as_str() {
        "message_action" => {}
        "block_actions" => return headline_action(payload),
        "view_submission" => {
            return match head.view {
                Some(view) if view.callback_id == blocks::START_FORM => start_form(payload),
                _ => Ok(Interaction::Ignored("a form Scribe did not open")),
            };
        }
        _ => return Ok(Interaction::Ignored("not an interaction Scribe offers")),
    }
    if head.callback_id != ADD_TO_TIMELINE {
        return Ok(Interaction::Ignored("a shortcut Scribe does not declare"));
    }
    let action: MessageAction = parse(payload)?;
    if !is_trigger(&action.trigger_id) {
        return Err(InboundError::Json {
            path: Some("trigger_id".to_string()),
            message: format!("invalid trigger id {:?}", action.trigger_id),
        });
    }
    let Id(channel) = &action.channel.id;
    Ok(Interaction::AddToTimeline(Box::new(Shortcut {
        message: posted(channel, &action.message, "message")?,
        trigger_id: action.trigger_id,
        team_id: action.team.id.0,
        user_id: action.user.id.0,
        response_url: action.response_url,
        at: action.action_ts.at,
    })))
}

/// A click under a headline Scribe posted: the action's block id names the incident.
fn headline_action(payload: &[u8]) -> Result<Interaction, InboundError> {
    // Only the actions first: another app's elements need none of the fields Scribe reads.
    let head: ActionsHead = parse(payload)?;
    let ours = head.actions.first().is_some_and(|action| {
        action.block_id.starts_with(blocks::INCIDENT_BLOCK)
            && [blocks::SET_SEVERITY, blocks::LEAD_ME, blocks::RESOLVE]
                .contains(&action.action_id.as_str())
    });
    if !ours {
        return Ok(Interaction::Ignored("an action Scribe did not post"));
    }
    let clicked: BlockActions = parse(payload)?;
    let action = &clicked.actions[0];
    let Some(opened_by) = action
        .block_id
        .strip_prefix(blocks::INCIDENT_BLOCK)
        .filter(|id| !id.is_empty() && id.len() <= 200)
    else {
        return Err(invalid("actions[0].block_id", Some(&action.block_id)));
    };
    let act = match action.action_id.as_str() {
        blocks::SET_SEVERITY => {
            let picked = action.selected_option.as_ref().map(|o| o.value.as_str());
            match picked.and_then(Severity::from_code) {
                Some(severity) => Act::Severity(severity),
                None => return Err(invalid("actions[0].selected_option.value", picked)),
            }
        }
        blocks::LEAD_ME => Act::LeadMe,
        blocks::RESOLVE => Act::Resolve,
        _ => return Ok(Interaction::Ignored("an action Scribe did not post")),
    };
    let Some(channel) = clicked.channel else {
        return Ok(Interaction::Ignored("an action outside a channel"));
    };
    let by = invoker(clicked.trigger_id, clicked.team, clicked.user, channel.id.0)?;
    Ok(Interaction::HeadlineAction(Box::new(HeadlineAction {
        by: Invoker {
            response_url: clicked.response_url,
            ..by
        },
        act,
        opened_by: MessageId::new(opened_by),
    })))
}

/// The start form: its channel is the private metadata Scribe opened it with.
fn start_form(payload: &[u8]) -> Result<Interaction, InboundError> {
    let submitted: ViewSubmission = parse(payload)?;
    let view = submitted.view;
    if !is_id(&view.private_metadata) {
        return Err(invalid(
            "view.private_metadata",
            Some(&view.private_metadata),
        ));
    }
    let input = |block: &str| view.state.values.get(block).and_then(|b| b.get(block));
    let title: String = input(blocks::FORM_TITLE)
        .and_then(|i| i.value.as_deref())
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(blocks::TITLE_LIMIT)
        .collect();
    let severity = match input(blocks::FORM_SEVERITY).and_then(|i| i.selected_option.as_ref()) {
        None => None,
        Some(picked) => Some(Severity::from_code(&picked.value).ok_or_else(|| {
            invalid(
                "view.state.values.severity.severity.selected_option.value",
                Some(&picked.value),
            )
        })?),
    };
    let create_channel = input(blocks::FORM_CHANNEL).is_some_and(|i| {
        i.selected_options
            .iter()
            .any(|o| o.value == blocks::CREATE_CHANNEL)
    });
    let by = invoker(
        submitted.trigger_id,
        submitted.team,
        submitted.user,
        view.private_metadata,
    )?;
    Ok(Interaction::StartForm(Box::new(StartForm {
        by,
        title,
        severity,
        create_channel,
    })))
}

fn invoker(
    trigger_id: String,
    team: Named,
    user: Person,
    channel_id: String,
) -> Result<Invoker, InboundError> {
    if !is_trigger(&trigger_id) {
        return Err(invalid("trigger_id", Some(&trigger_id)));
    }
    Ok(Invoker {
        trigger_id,
        team_id: team.id.0,
        user_id: user.id.0,
        user_name: user.name,
        channel_id,
        response_url: String::new(),
    })
}

/// The error for a value Scribe cannot use, at `path`.
fn invalid(path: &str, value: Option<&str>) -> InboundError {
    InboundError::Json {
        path: Some(path.to_string()),
        message: format!("invalid value {:?}", value.unwrap_or_default()),
    }
}

fn slack(channel: &str) -> ChannelRef {
    ChannelRef::new(Platform::Slack, channel)
}

/// Slack markup to plain text; user mentions stay ids (`@U123`) until the caller names them.
fn plain(text: Option<&str>) -> String {
    markup::decode(text.unwrap_or_default(), |_| None)
}

/// The error for an object at `path` (`None`: the top level) without `field`, worded as serde
/// words its own.
fn missing(path: Option<&str>, field: &str) -> InboundError {
    InboundError::Json {
        path: path.map(str::to_string),
        message: format!("missing field `{field}`"),
    }
}

/// Parses the whole body as `T`; errors name the JSON path.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, InboundError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path();
        let path = (path.iter().len() > 0).then(|| path.to_string());
        InboundError::Json {
            path,
            message: error.into_inner().to_string(),
        }
    })?;
    deserializer.end().map_err(|error| InboundError::Json {
        path: None,
        message: error.to_string(),
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ts: &str) -> DateTime<Utc> {
        crate::adapters::slack::ts::parse_ts(ts).unwrap()
    }

    /// Wraps `event` in the `event_callback` envelope of Slack's examples.
    fn callback(event: &str) -> Vec<u8> {
        format!(
            r#"{{
                "token": "XXYYZZ",
                "team_id": "T123ABC456",
                "api_app_id": "A123ABC456",
                "event": {event},
                "type": "event_callback",
                "authorizations": [{{"team_id": "T123ABC456", "user_id": "U123ABC456",
                    "is_bot": false, "is_enterprise_install": false}}],
                "event_id": "Ev123ABC456",
                "event_time": 1360782805
            }}"#
        )
        .into_bytes()
    }

    fn events(event: &str) -> Vec<ChatEvent> {
        match parse_events_body(&callback(event)) {
            Ok(Inbound::Events { event_id, events }) => {
                assert_eq!(event_id, "Ev123ABC456");
                events
            }
            other => panic!("{other:?}"),
        }
    }

    fn one(event: &str) -> ChatEvent {
        let mut events = events(event);
        assert_eq!(events.len(), 1, "{events:?}");
        events.remove(0)
    }

    fn ignored(event: &str) -> &'static str {
        match parse_events_body(&callback(event)) {
            Ok(Inbound::Ignored(why)) => why,
            other => panic!("{other:?}"),
        }
    }

    fn error(body: &[u8]) -> String {
        parse_events_body(body).unwrap_err().to_string()
    }

    fn post(
        channel: &str,
        id: &str,
        author: Author,
        text: &str,
        thread: Option<&str>,
    ) -> ChatEvent {
        ChatEvent {
            channel: slack(channel),
            message: MessageId::new(id),
            at: at(id),
            kind: EventKind::Posted {
                author,
                text: text.into(),
                thread: thread.map(MessageId::new),
            },
        }
    }

    fn bot(id: &str, name: &str) -> Author {
        Author {
            id: UserId::new(id),
            name: name.into(),
            kind: AuthorKind::Bot,
            zone: None,
        }
    }

    #[test]
    fn url_verification_answers_the_challenge() {
        let body = br#"{
            "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification"
        }"#;
        assert_eq!(
            parse_events_body(body),
            Ok(Inbound::Challenge(
                "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into()
            ))
        );
    }

    #[test]
    fn a_message_is_a_post_with_its_markup_decoded() {
        let event = one(r#"{
            "type": "message",
            "channel": "C123ABC456",
            "user": "U123ABC456",
            "text": "Hello world",
            "ts": "1355517523.000005",
            "channel_type": "channel"
        }"#);
        let author = Author::human("U123ABC456", "U123ABC456");
        assert_eq!(
            event,
            post(
                "C123ABC456",
                "1355517523.000005",
                author.clone(),
                "Hello world",
                None
            )
        );

        let event = one(
            r#"{"type": "message", "channel": "C1", "user": "U123ABC456",
            "text": "<@U1> 5xx &lt; 1% <https://x.example|dash> <!here>",
            "ts": "1355517524.000001", "event_ts": "1355517524.000001"}"#,
        );
        let text = "@U1 5xx < 1% dash @here";
        assert_eq!(event, post("C1", "1355517524.000001", author, text, None));
    }

    #[test]
    fn replies_name_their_thread_and_broadcasts_are_posts() {
        let reply = one(
            r#"{"type": "message", "channel": "C1", "user": "U1", "text": "reply",
            "ts": "1673464745.620769", "thread_ts": "1673464730.703009",
            "parent_user_id": "U2"}"#,
        );
        let thread = Some("1673464730.703009");
        let author = Author::human("U1", "U1");
        let expected = post("C1", "1673464745.620769", author.clone(), "reply", thread);
        assert_eq!(reply, expected);

        // A thread's root carries its own ts as thread_ts.
        let root = one(
            r#"{"type": "message", "channel": "C1", "user": "U1", "text": "root",
            "ts": "1673464730.703009", "thread_ts": "1673464730.703009"}"#,
        );
        assert_eq!(root, post("C1", "1673464730.703009", author, "root", None));

        let broadcast = one(r#"{
            "type": "message",
            "subtype": "thread_broadcast",
            "text": "broadcasting this reply",
            "user": "U123ABC456",
            "ts": "1673464745.620769",
            "thread_ts": "1673464730.703009",
            "root": {"type": "message", "text": "This is the original message",
                "user": "U123ABC456", "ts": "1673464730.703009"},
            "client_msg_id": "123abc456-...",
            "channel": "C123ABC456",
            "event_ts": "1673464745.620769",
            "channel_type": "channel"
        }"#);
        let author = Author::human("U123ABC456", "U123ABC456");
        let text = "broadcasting this reply";
        let expected = post("C123ABC456", "1673464745.620769", author, text, thread);
        assert_eq!(broadcast, expected);
    }

    #[test]
    fn bot_messages_and_anything_with_a_bot_id_are_by_bots() {
        let event = one(r#"{
            "type": "message",
            "subtype": "bot_message",
            "channel": "C1",
            "ts": "1358877455.000010",
            "text": "Pushing is the answer",
            "bot_id": "BB12033",
            "username": "github",
            "icons": {}
        }"#);
        let text = "Pushing is the answer";
        let expected = post(
            "C1",
            "1358877455.000010",
            bot("BB12033", "github"),
            text,
            None,
        );
        assert_eq!(event, expected);

        let event = one(
            r#"{"type": "message", "channel": "C1", "user": "U0BOT", "bot_id": "B2",
            "bot_profile": {"id": "B2", "name": "PagerDuty"}, "username": " ",
            "text": "alert", "ts": "1.000001"}"#,
        );
        assert_eq!(
            event,
            post("C1", "1.000001", bot("B2", "PagerDuty"), "alert", None)
        );

        let event = one(
            r#"{"type": "message", "subtype": "bot_message", "channel": "C1",
            "bot_id": "B3", "ts": "1.000002"}"#,
        );
        assert_eq!(event, post("C1", "1.000002", bot("B3", "B3"), "", None));
    }

    #[test]
    fn joins_and_other_subtypes_are_system_posts() {
        let event = one(r#"{
            "type": "message",
            "subtype": "channel_join",
            "channel": "C1",
            "ts": "1358877458.000011",
            "user": "U2147483828",
            "text": "<@U2147483828|cal> has joined the channel",
            "inviter": "U123456789"
        }"#);
        let author = Author {
            id: UserId::new("U2147483828"),
            name: "U2147483828".into(),
            kind: AuthorKind::System,
            zone: None,
        };
        let text = "@cal has joined the channel";
        assert_eq!(event, post("C1", "1358877458.000011", author, text, None));

        let event = one(
            r#"{"type": "message", "subtype": "channel_topic", "channel": "C1",
            "ts": "1.000001", "topic": "sev1", "text": "set the channel topic: sev1"}"#,
        );
        let EventKind::Posted { author, .. } = event.kind else {
            panic!("{event:?}")
        };
        assert_eq!(
            (author.id.as_str(), author.kind),
            ("unknown", AuthorKind::System)
        );
    }

    #[test]
    fn an_edit_is_at_its_own_time() {
        let event = one(r#"{
            "type": "message",
            "subtype": "message_changed",
            "hidden": true,
            "channel": "C123ABC456",
            "ts": "1358878755.000001",
            "message": {
                "type": "message",
                "user": "U123ABC456",
                "text": "Hello, world! &amp; <@U1>",
                "ts": "1355517523.000005",
                "edited": {"user": "U123ABC456", "ts": "1358878755.000001"}
            }
        }"#);
        let expected = ChatEvent {
            channel: slack("C123ABC456"),
            message: MessageId::new("1355517523.000005"),
            at: at("1358878755.000001"),
            kind: EventKind::Edited {
                text: "Hello, world! & @U1".into(),
            },
        };
        assert_eq!(event, expected);

        // `event_ts`, when there, is the edit's time; a bot's edit counts the same.
        let event = one(
            r#"{"type": "message", "subtype": "message_changed", "hidden": true,
            "channel": "C1", "ts": "2.000000", "event_ts": "2.000001",
            "message": {"bot_id": "B1", "ts": "1.000000"}}"#,
        );
        assert_eq!(event.at, at("2.000001"));
        assert_eq!(event.kind, EventKind::Edited { text: "".into() });
    }

    #[test]
    fn a_deletion_names_the_deleted_message() {
        let event = one(r#"{
            "type": "message",
            "subtype": "message_deleted",
            "hidden": true,
            "channel": "C123ABC456",
            "ts": "1358878755.000001",
            "deleted_ts": "1358878749.000002"
        }"#);
        let expected = ChatEvent {
            channel: slack("C123ABC456"),
            message: MessageId::new("1358878749.000002"),
            at: at("1358878755.000001"),
            kind: EventKind::Deleted,
        };
        assert_eq!(event, expected);
    }

    #[test]
    fn hidden_thread_bookkeeping_is_ignored_with_or_without_its_subtype() {
        let replied = r#"{
            "type": "message",
            "message": {"type": "message", "user": "U123ABC456", "text": "Was there",
                "thread_ts": "1482960137.003543", "reply_count": 1,
                "replies": [{"user": "U2222222", "ts": "1483037603.017503"}],
                "ts": "1482960137.003543"},
            "subtype": "message_replied",
            "hidden": true,
            "channel": "C123ABC456",
            "event_ts": "1483037604.017506",
            "ts": "1483037604.017506"
        }"#;
        ignored(replied);
        ignored(&replied.replace(r#""subtype": "message_replied","#, ""));
    }

    #[test]
    fn reactions_to_messages_are_recorded_at_their_time() {
        let reaction = r#"{
            "type": "reaction_added",
            "user": "U123ABC456",
            "reaction": "thumbsup",
            "item_user": "U222222222",
            "item": {"type": "message", "channel": "C123ABC456", "ts": "1360782400.498405",
                "channel_type": "channel"},
            "event_ts": "1360782804.083113"
        }"#;
        let event = |kind| ChatEvent {
            channel: slack("C123ABC456"),
            message: MessageId::new("1360782400.498405"),
            at: at("1360782804.083113"),
            kind,
        };
        let (emoji, user) = ("thumbsup".to_string(), UserId::new("U123ABC456"));
        assert_eq!(
            one(reaction),
            event(EventKind::ReactionAdded {
                emoji: emoji.clone(),
                user: user.clone()
            })
        );
        let removed = reaction.replace("reaction_added", "reaction_removed");
        assert_eq!(
            one(&removed),
            event(EventKind::ReactionRemoved { emoji, user })
        );

        ignored(
            r#"{"type": "reaction_added", "user": "U1", "reaction": "eyes",
            "item": {"type": "file", "file": "F123ABC456"}, "event_ts": "1.000001"}"#,
        );
    }

    #[test]
    fn a_pin_brings_the_pinned_message_along() {
        let pin = r#"{
            "type": "pin_added",
            "user": "U061F7AUR",
            "item": {
                "type": "message",
                "channel": "C0LAN2Q65",
                "created_by": "U061F7AUR",
                "created": 1515449522,
                "message": {
                    "type": "message",
                    "user": "U061F7AUR",
                    "text": "<@U0LAN0Z89> is it everything a river should be?",
                    "ts": "1539904112.000100",
                    "pinned_to": ["C0LAN2Q65"],
                    "permalink": "https://example.slack.com/archives/C0LAN2Q65/p1539904112000100"
                }
            },
            "item_user": "U061F7AUR",
            "pin_count": "1",
            "pinned_info": {"channel": "C0LAN2Q65", "pinned_by": "U061F7AUR",
                "pinned_ts": 1515449522},
            "channel_id": "C0LAN2Q65",
            "event_ts": "1515449522.000016"
        }"#;
        let pinned = |kind| ChatEvent {
            channel: slack("C0LAN2Q65"),
            message: MessageId::new("1539904112.000100"),
            at: at("1515449522.000016"),
            kind,
        };
        let author = Author::human("U061F7AUR", "U061F7AUR");
        let text = "@U0LAN0Z89 is it everything a river should be?";
        assert_eq!(
            events(pin),
            [
                post("C0LAN2Q65", "1539904112.000100", author, text, None),
                pinned(EventKind::PinAdded)
            ]
        );
        let unpin = pin.replace("pin_added", "pin_removed");
        assert_eq!(events(&unpin), [pinned(EventKind::PinRemoved)]);

        // Without its text or author, the pinned message is known by its ts only.
        let bare = r#"{"type": "pin_added", "channel_id": "C1", "event_ts": "2.000000",
            "item": {"type": "message", "message": {"ts": "1.000000", "user": "U1"}}}"#;
        let kinds: Vec<_> = events(bare).into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventKind::PinAdded]);

        ignored(
            r#"{"type": "pin_added", "channel_id": "C1", "event_ts": "2.000000",
            "item": {"type": "file", "file": {"id": "F1"}}}"#,
        );
    }

    #[test]
    fn a_member_joining_is_a_system_post() {
        let system = |user: &str| Author {
            id: UserId::new(user),
            name: user.into(),
            kind: AuthorKind::System,
            zone: None,
        };
        let join = |id: &str, at| ChatEvent {
            channel: slack("C123ABC456"),
            message: MessageId::new(id),
            at,
            kind: EventKind::Posted {
                author: system("W123ABC456"),
                text: "@W123ABC456 joined".into(),
                thread: None,
            },
        };
        // Slack's example has no `event_ts`: the envelope's `event_time` stands in.
        let event = one(r#"{
            "type": "member_joined_channel",
            "user": "W123ABC456",
            "channel": "C123ABC456",
            "channel_type": "C",
            "team": "T123ABC456",
            "inviter": "U123456789",
            "enterprise": "E123456789"
        }"#);
        let at_event_time = DateTime::from_timestamp(1360782805, 0).unwrap();
        assert_eq!(event, join("join:W123ABC456:1360782805", at_event_time));

        let event = one(r#"{"type": "member_joined_channel", "user": "W123ABC456",
            "channel": "C123ABC456", "channel_type": "C", "event_ts": "1360782804.083113"}"#);
        let id = "join:W123ABC456:1360782804.083113";
        assert_eq!(event, join(id, at("1360782804.083113")));
    }

    #[test]
    fn other_envelopes_and_event_types_are_ignored() {
        let rate_limited = br#"{"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "app_rate_limited",
            "team_id": "T123456", "minute_rate_limited": 1518467820, "api_app_id": "A123456"}"#;
        assert!(matches!(
            parse_events_body(rate_limited),
            Ok(Inbound::Ignored(_))
        ));
        ignored(r#"{"type": "channel_created", "channel": {"id": "C1", "name": "inc-2"}}"#);
        ignored(
            r#"{"type": "app_mention", "user": "U1", "text": "<@U0> hi", "ts": "1.0",
            "channel": "C1", "event_ts": "1.0"}"#,
        );
    }

    #[test]
    fn every_event_type_listed_for_the_manifest_is_read() {
        for kind in EVENT_TYPES {
            let read = parse_events_body(&callback(&format!(r#"{{"type": "{kind}"}}"#)));
            assert_ne!(read, Ok(Inbound::Ignored(NOT_RECORDED)), "{kind}");
        }
    }

    #[test]
    fn malformed_bodies_say_what_is_wrong_and_where() {
        let cases: [(&[u8], &str); 5] = [
            (
                b"",
                "invalid Slack JSON body: EOF while parsing a value at line 1 column 0",
            ),
            (
                b"not json",
                "invalid Slack JSON body: expected ident at line 1 column 2",
            ),
            (
                b"{}",
                "invalid Slack JSON body: missing field `type` at line 1 column 2",
            ),
            (
                br#"{"type": "url_verification"} x"#,
                "invalid Slack JSON body: trailing characters at line 1 column 30",
            ),
            (
                br#"{"type": "url_verification", "challenge": 5}"#,
                "invalid Slack JSON body at challenge: invalid type: integer `5`, \
                 expected a string at line 1 column 43",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(error(body), expected);
        }
        assert_eq!(
            error(br#"{"type": "event_callback"}"#),
            "invalid Slack JSON body: missing field `event`"
        );
        let no_id = br#"{"type": "event_callback", "event": {"type": "message", "channel": "C1",
            "user": "U1", "ts": "1.0"}}"#;
        assert_eq!(
            error(no_id),
            "invalid Slack JSON body: missing field `event_id` at line 2 column 39"
        );

        let message =
            |fields: &str| error(&callback(&format!(r#"{{"type": "message", {fields}}}"#)));
        let bad_ts = message(r#""channel": "C1", "user": "U1", "ts": "abc""#);
        assert!(
            bad_ts.starts_with("invalid Slack JSON body at event.ts: invalid timestamp \"abc\""),
            "{bad_ts}"
        );
        let numeric_ts = message(r#""channel": "C1", "user": "U1", "ts": 1.5"#);
        assert!(numeric_ts.starts_with("invalid Slack JSON body at event.ts: invalid type"));
        let no_ts = message(r#""channel": "C1", "user": "U1""#);
        assert!(no_ts.starts_with("invalid Slack JSON body at event: missing field `ts`"));
        assert_eq!(
            message(r#""user": "U1", "ts": "1.0""#),
            "invalid Slack JSON body at event: missing field `channel`"
        );
        assert_eq!(
            message(r#""channel": "C1", "ts": "1.0""#),
            "invalid Slack JSON body at event: missing field `user`"
        );
        let no_deleted_ts =
            message(r#""subtype": "message_deleted", "channel": "C1", "ts": "1.0""#);
        assert!(no_deleted_ts.contains("at event: missing field `deleted_ts`"));

        let reaction = error(&callback(
            r#"{"type": "reaction_added", "user": "U1", "reaction": "eyes",
                "item": {"type": "message", "channel": "C1"}, "event_ts": "1.0"}"#,
        ));
        assert_eq!(
            reaction,
            "invalid Slack JSON body at event.item: missing field `ts`"
        );
        let pin = error(&callback(
            r#"{"type": "pin_added", "channel_id": "C1", "event_ts": "2.0",
                "item": {"type": "message", "message": {"ts": "x", "text": "t", "user": "U1"}}}"#,
        ));
        assert!(
            pin.contains(" at event.item.message.ts: invalid timestamp \"x\""),
            "{pin}"
        );
        let join = br#"{"type": "event_callback", "event_id": "Ev1",
            "event": {"type": "member_joined_channel", "user": "U1", "channel": "C1"}}"#;
        assert_eq!(
            error(join),
            "invalid Slack JSON body at event: missing field `event_ts`"
        );
        let join =
            br#"{"type": "event_callback", "event_id": "Ev1", "event_time": 9223372036854775807,
            "event": {"type": "member_joined_channel", "user": "U1", "channel": "C1"}}"#;
        assert_eq!(
            error(join),
            "invalid Slack JSON body at event_time: invalid timestamp 9223372036854775807"
        );
    }

    #[test]
    fn no_input_panics() {
        let body = callback(
            r#"{"type": "pin_added", "channel_id": "C1", "event_ts": "2.000000",
                "item": {"type": "message", "message": {"ts": "1.000000", "user": "U1",
                "text": "<@U1|é> &amp;"}}}"#,
        );
        for end in 0..=body.len() {
            let _ = parse_events_body(&body[..end]);
            let _ = parse_command(&body[..end]);
        }
        for garbage in [
            &b"\xff\xfe{"[..],
            b"[]",
            b"null",
            b"{\"type\": null}",
            b"%zz&=&&=x",
        ] {
            let _ = parse_events_body(garbage);
            let _ = parse_command(garbage);
        }
    }

    // The body of the example in Slack's "Verifying requests from Slack".
    const COMMAND: &[u8] =
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&\
        channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&\
        command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F\
        T1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&\
        trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";

    #[test]
    fn a_listed_message_brings_its_edit_reactions_and_thread() {
        let message = serde_json::json!({
            "type": "message", "user": "U061F7AUR", "text": "failover to <@U0G9QF9C6> done",
            "ts": "1512085950.000216", "thread_ts": "1512085950.000216", "reply_count": 2,
            "edited": {"user": "U061F7AUR", "ts": "1512086000.000100"},
            "reactions": [
                {"name": "pushpin", "users": ["U0G9QF9C6", "U061F7AUR"], "count": 2},
                {"name": "thumbsup", "users": ["U0G9QF9C6"], "count": 3}
            ]
        });
        let parent = listed("C1", &message).unwrap();
        assert_eq!(
            parent.posted,
            post(
                "C1",
                "1512085950.000216",
                Author::human("U061F7AUR", "U061F7AUR"),
                "failover to @U0G9QF9C6 done",
                None
            )
        );
        let edit = parent.edit.unwrap();
        assert_eq!(edit.at, at("1512086000.000100"));
        assert_eq!(
            edit.kind,
            EventKind::Edited {
                text: "failover to @U0G9QF9C6 done".into()
            }
        );
        assert_eq!(parent.reactions.len(), 3);
        assert!(
            parent
                .reactions
                .contains(&("pushpin".into(), UserId::new("U061F7AUR")))
        );
        assert!(!parent.reactions_complete, "thumbsup names 1 of 3");
        assert!(parent.has_replies);
        let reply = serde_json::json!({"type": "message", "user": "U061F7AUR", "text": "ok",
            "ts": "1512085960.000300", "thread_ts": "1512085950.000216"});
        let reply = listed("C1", &reply).unwrap();
        assert_eq!(reply.edit, None);
        assert!(reply.reactions_complete && !reply.has_replies);
        assert!(matches!(
            reply.posted.kind,
            EventKind::Posted {
                thread: Some(_),
                ..
            }
        ));
        assert!(listed("C1", &serde_json::json!({"text": "no ts"})).is_err());
    }

    #[test]
    fn a_slash_command_is_read_from_its_form() {
        let command = parse_command(COMMAND).unwrap();
        let trigger_id = "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            command,
            SlashCommand {
                command: "/webhook-collect".into(),
                text: "".into(),
                user_id: "U2CERLKJA".into(),
                user_name: "roadrunner".into(),
                channel_id: "G8PSS9T3V".into(),
                channel_name: "foobar".into(),
                trigger_id: trigger_id.into(),
                response_url: "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/\
                               96rGlfmibIGlgcZRskXaIFfN"
                    .into(),
                team_id: "T1DC2JH3J".into(),
            }
        );
        let now = at("1531420618");
        assert_eq!(
            command.event(now),
            ChatEvent {
                channel: slack("G8PSS9T3V"),
                message: MessageId::new(format!("cmd:{trigger_id}")),
                at: now,
                kind: EventKind::Posted {
                    author: Author::human("U2CERLKJA", "roadrunner"),
                    text: "/webhook-collect".into(),
                    thread: None,
                },
            }
        );
    }

    #[test]
    fn a_slash_commands_text_is_decoded_after_the_command() {
        let body = b"command=%2Ftimeline&text=+rolled+back+%3C%40U1%7Czoe%3E+%26amp%3B+db+&\
            user_id=U2&user_name=&channel_id=C1&trigger_id=1.2.3";
        let command = parse_command(body).unwrap();
        assert_eq!(command.text, " rolled back <@U1|zoe> &amp; db ");
        let EventKind::Posted { author, text, .. } = command.event(at("1.0")).kind else {
            panic!()
        };
        assert_eq!(text, "/timeline rolled back @zoe & db");
        assert_eq!(author, Author::human("U2", "U2"));
    }

    #[test]
    fn a_slash_command_needs_its_command_user_channel_and_trigger() {
        for field in ["command", "user_id", "channel_id", "trigger_id"] {
            let body: Vec<u8> = url::form_urlencoded::parse(COMMAND)
                .filter(|(name, _)| name != field)
                .flat_map(|(name, value)| format!("{name}={value}&").into_bytes())
                .collect();
            assert_eq!(
                parse_command(&body),
                Err(InboundError::MissingParameter(field))
            );
            let emptied = [COMMAND, format!("&{field}=").as_bytes()].concat();
            assert_eq!(
                parse_command(&emptied),
                Err(InboundError::MissingParameter(field)),
            );
        }
        assert_eq!(
            parse_command(b"").unwrap_err().to_string(),
            "invalid Slack slash command: no `command`"
        );
    }

    #[test]
    fn ids_slack_never_makes_are_refused_where_they_are() {
        for (field, value) in [
            ("channel_id", "C:1"),
            ("channel_id", "c1"),
            ("user_id", "U 1"),
            ("trigger_id", "1/2"),
            ("trigger_id", "1:2"),
        ] {
            let body = [COMMAND, format!("&{field}={value}").as_bytes()].concat();
            assert_eq!(
                parse_command(&body),
                Err(InboundError::InvalidParameter(field)),
                "{field}={value}"
            );
        }
        for (event, path) in [
            (
                r#"{"type": "message", "channel": "", "user": "U1", "ts": "1.2"}"#,
                "event.channel",
            ),
            (
                r#"{"type": "message", "channel": "C1", "user": "U1", "ts": "1.2",
                   "thread_ts": "x"}"#,
                "event.thread_ts",
            ),
            (
                r#"{"type": "reaction_added", "user": "U1", "reaction": "pushpin",
                   "item": {"type": "message", "channel": "C1", "ts": "NaN"},
                   "event_ts": "1.2"}"#,
                "event.item.ts",
            ),
            (
                r#"{"type": "pin_added", "channel_id": "C:1", "event_ts": "1.2",
                   "item": {"type": "message", "message": {"ts": "1.2"}}}"#,
                "event.channel_id",
            ),
            (
                r#"{"type": "message", "subtype": "message_deleted", "channel": "C1",
                   "ts": "1.3", "deleted_ts": "-1"}"#,
                "event.deleted_ts",
            ),
        ] {
            let message = error(&callback(event));
            assert!(
                message.starts_with(&format!("invalid Slack JSON body at {path}: ")),
                "{message}"
            );
        }
    }

    fn shortcut(payload: &str) -> Result<Interaction, InboundError> {
        parse_interaction(payload.as_bytes())
    }

    /// A `message_action` as Slack documents it, with `{message}` spliced in.
    const MESSAGE_ACTION: &str = r#"{"type": "message_action", "token": "x",
        "action_ts": "1581106241.371594", "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": "U0ROBIN01", "name": "robin"}, "channel": {"id": "C1", "name": "inc"},
        "callback_id": "add_to_timeline", "trigger_id": "13345224609.738474920.8088930838d88f",
        "response_url": "https://hooks.slack.com/app/T0001/1/abc",
        "message_ts": "1581106210.000700", "message": {message}}"#;

    fn action(message: &str) -> String {
        MESSAGE_ACTION.replace("{message}", message)
    }

    #[test]
    fn add_to_timeline_is_the_message_and_a_web_pin_at_the_shortcut_time() {
        let payload = action(
            r#"{"type": "message", "user": "U0ZOE0002", "text": "failed over &amp; <@U0ROBIN01>",
                "ts": "1581106210.000700", "thread_ts": "1581106200.000100"}"#,
        );
        let Ok(Interaction::AddToTimeline(shortcut)) = shortcut(&payload) else {
            panic!("{payload}");
        };
        assert_eq!(
            shortcut.message,
            ChatEvent {
                channel: slack("C1"),
                message: MessageId::new("1581106210.000700"),
                at: at("1581106210.000700"),
                kind: EventKind::Posted {
                    author: Author::human("U0ZOE0002", "U0ZOE0002"),
                    text: "failed over & @U0ROBIN01".into(),
                    thread: Some(MessageId::new("1581106200.000100")),
                },
            }
        );
        assert_eq!(
            shortcut.pin(),
            ChatEvent {
                channel: slack("C1"),
                message: MessageId::new("1581106210.000700"),
                at: at("1581106241.371594"),
                kind: EventKind::ReactionAdded {
                    emoji: WEB_PIN.into(),
                    user: UserId::new("U0ROBIN01"),
                },
            }
        );
        assert_eq!(shortcut.team_id, "T0001");
        assert_eq!(
            shortcut.response_url,
            "https://hooks.slack.com/app/T0001/1/abc"
        );
        let form = format!(
            "payload={}",
            url::form_urlencoded::byte_serialize(payload.as_bytes()).collect::<String>()
        );
        assert_eq!(
            parse_interaction_form(form.as_bytes()),
            Ok(Interaction::AddToTimeline(shortcut))
        );
        // A bot's message is a bot's post.
        let by_bot = action(
            r#"{"type": "message", "subtype": "bot_message", "bot_id": "B1", "username": "Grafana",
                "text": "FIRING", "ts": "1581106210.000700"}"#,
        );
        let Ok(Interaction::AddToTimeline(shortcut)) = parse_interaction(by_bot.as_bytes()) else {
            panic!("{by_bot}");
        };
        let expected = post(
            "C1",
            "1581106210.000700",
            bot("B1", "Grafana"),
            "FIRING",
            None,
        );
        assert_eq!(shortcut.message, expected);
    }

    #[test]
    fn other_interactions_are_ignored_and_broken_ones_named() {
        let message = r#"{"type": "message", "user": "U1", "text": "x", "ts": "1.2"}"#;
        let other = action(message).replace("add_to_timeline", "something_else");
        assert!(matches!(shortcut(&other), Ok(Interaction::Ignored(_))));
        let global = r#"{"type": "shortcut", "callback_id": "add_to_timeline"}"#;
        assert!(matches!(shortcut(global), Ok(Interaction::Ignored(_))));
        let blocks = r#"{"type": "block_actions", "actions": []}"#;
        assert!(matches!(shortcut(blocks), Ok(Interaction::Ignored(_))));

        for (broken, path) in [
            (
                action(message).replace("1581106241.371594", "soon"),
                "action_ts",
            ),
            (
                action(message).replace(r#""id": "C1""#, r#""id": "c/1""#),
                "channel.id",
            ),
            (
                action(r#"{"type": "message", "text": "x", "ts": "1.2"}"#),
                "message",
            ),
            (
                action(message).replace("13345224609.738474920", "../../x"),
                "trigger_id",
            ),
        ] {
            let error = shortcut(&broken).unwrap_err().to_string();
            assert!(error.contains(&format!(" at {path}: ")), "{path}: {error}");
        }
        assert_eq!(
            parse_interaction_form(b"token=x"),
            Err(InboundError::NoPayload)
        );
    }

    /// A `block_actions` under a headline, as Slack documents it, with `{action}` spliced in.
    fn clicked(action: &str) -> String {
        format!(
            r#"{{"type": "block_actions", "team": {{"id": "T1", "domain": "acme"}},
                "user": {{"id": "U1", "username": "robin", "name": "robin", "team_id": "T1"}},
                "api_app_id": "A1", "token": "x", "trigger_id": "1.2.abc",
                "container": {{"type": "message", "message_ts": "1.2", "channel_id": "C1"}},
                "channel": {{"id": "C1", "name": "inc"}},
                "response_url": "https://hooks.slack.com/actions/T1/1/x",
                "actions": [{action}]}}"#
        )
    }

    #[test]
    fn headline_clicks_are_the_commands_they_stand_for() {
        let severity = clicked(
            r#"{"type": "static_select", "action_id": "set_severity",
                "block_id": "incident:cmd:t.1", "action_ts": "1.3",
                "selected_option": {"text": {"type": "plain_text", "text": "SEV2"},
                                    "value": "sev2"}}"#,
        );
        let Ok(Interaction::HeadlineAction(action)) = parse_interaction(severity.as_bytes()) else {
            panic!("{severity}");
        };
        assert_eq!(action.act, Act::Severity(Severity::Sev2));
        assert_eq!(action.opened_by, MessageId::new("cmd:t.1"));
        assert_eq!(action.by.channel_id, "C1");
        assert_eq!(action.by.trigger_id, "1.2.abc");
        let command = action.command("Zoë");
        assert_eq!(
            (command.command.as_str(), command.text.as_str()),
            ("/incident", "severity sev2")
        );
        assert_eq!(
            command.event(Utc::now()).message,
            MessageId::new("cmd:1.2.abc")
        );

        let button = |id: &str| {
            clicked(&format!(
                r#"{{"type": "button", "action_id": "{id}", "block_id": "incident:cmd:t.1",
                    "action_ts": "1.3", "text": {{"type": "plain_text", "text": "x"}}}}"#
            ))
        };
        let Ok(Interaction::HeadlineAction(lead)) =
            parse_interaction(button(blocks::LEAD_ME).as_bytes())
        else {
            panic!("lead");
        };
        assert_eq!(lead.command("Zoë Kapoor").text, "lead Zoë Kapoor");
        let Ok(Interaction::HeadlineAction(resolve)) =
            parse_interaction(button(blocks::RESOLVE).as_bytes())
        else {
            panic!("resolve");
        };
        assert_eq!(resolve.command("x").text, "resolve");

        // Elements Scribe did not post are someone else's; a severity it never offered is not.
        assert!(matches!(
            parse_interaction(button("approve").as_bytes()),
            Ok(Interaction::Ignored(_))
        ));
        let elsewhere = clicked(
            r#"{"type": "button", "action_id": "resolve", "block_id": "other", "action_ts": "1.3"}"#,
        );
        assert!(matches!(
            parse_interaction(elsewhere.as_bytes()),
            Ok(Interaction::Ignored(_))
        ));
        let bad = severity.replace(r#""value": "sev2""#, r#""value": "sev9""#);
        assert!(matches!(
            parse_interaction(bad.as_bytes()),
            Err(InboundError::Json { path: Some(p), .. }) if p == "actions[0].selected_option.value"
        ));
    }

    #[test]
    fn the_start_form_is_a_start_command_with_its_severity_as_an_option() {
        let form = |title: &str, severity: &str, metadata: &str| {
            format!(
                r#"{{"type": "view_submission", "team": {{"id": "T1", "domain": "acme"}},
                    "user": {{"id": "U1", "username": "robin", "name": "robin"}},
                    "trigger_id": "9.8.7",
                    "view": {{"id": "V1", "type": "modal", "callback_id": "start_incident",
                              "private_metadata": "{metadata}",
                              "state": {{"values": {{
                                  "title": {{"title": {{"type": "plain_text_input",
                                                        "value": "{title}"}}}},
                                  "severity": {{"severity": {{"type": "static_select",
                                      "selected_option": {severity}}}}},
                                  "channel": {{"channel": {{"type": "checkboxes",
                                      "selected_options": [{{"value": "create"}}]}}}}}}}}}}}}"#
            )
        };
        let submitted = form(" Checkout\\t 5xx  sev3 ", r#"{"value": "sev1"}"#, "C1");
        let Ok(Interaction::StartForm(start)) = parse_interaction(submitted.as_bytes()) else {
            panic!("{submitted}");
        };
        assert_eq!(start.title, "Checkout 5xx sev3");
        assert!(start.create_channel);
        assert_eq!(start.by.channel_id, "C1");
        let command = start.command();
        assert_eq!(command.text, "start Checkout 5xx sev3 --sev sev1");
        assert_eq!(
            crate::domain::command::parse(&format!("/incident {}", command.text)),
            Some(Ok(crate::domain::Command::Incident(
                crate::domain::IncidentCommand::Start {
                    title: "Checkout 5xx sev3".to_string(),
                    severity: Some(Severity::Sev1),
                }
            )))
        );
        let Ok(Interaction::StartForm(unrated)) =
            parse_interaction(form("Search down", "null", "C1").as_bytes())
        else {
            panic!("no severity");
        };
        assert_eq!(unrated.command().text, "start Search down");
        assert!(matches!(
            parse_interaction(form("x", "null", "c1; DROP").as_bytes()),
            Err(InboundError::Json { path: Some(p), .. }) if p == "view.private_metadata"
        ));
        let other = submitted.replace("start_incident", "feedback");
        assert!(matches!(
            parse_interaction(other.as_bytes()),
            Ok(Interaction::Ignored(_))
        ));
    }
}
