//! The fold: a channel's event log in, its incidents out.
//!
//! The result is a function of the *set* of events alone. Events are applied in time order
//! (arrival order does not matter) and every step is idempotent, so live chat, the replay of an
//! export and a restart that reads the log back all give the same incidents, and an event
//! delivered twice changes nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use super::assist::{Pending, Section};
use super::command::{
    self, ActionCommand, AssistCommand, Command, CommandError, EntryCommand, IncidentCommand,
    ItemChange, NewTime, Number, PostmortemCommand, RefChange, TimelineNote,
};
use super::event::{
    Author, AuthorKind, ChannelRef, ChatEvent, EventKind, MessageId, UserId, WEB_PIN,
};
use super::incident::{
    Action, Horizon, Incident, IncidentId, Issue, Postmortem, Reference, Stage, Status, StoryItem,
    StoryList,
};
use super::participant::Tally;
use super::severity::Severity;
use super::team_impact::{Load, TeamImpact};
use super::timeline::{self, EntrySource, TimelineEntry};

/// What the fold needs to know about the team.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Reactions that mark a message as a timeline entry (Slack names and Unicode emoji).
    pub pin_emojis: Vec<String>,
    /// The zone `/timeline HH:MM` times are read in.
    pub team_zone: Tz,
    /// How long after the close a postmortem is due, unless a date was given.
    pub postmortem_due_after: chrono::Duration,
    /// Whether a language model is configured (`[assist] base_url`): `/incident assist` asks it.
    pub assist: bool,
    /// How long a message posted while no incident is open waits for the next start: one
    /// posted longer before the start joins no incident, so deleting it (retention) changes
    /// nothing. `None`: every message since the last close joins the next start.
    pub waits_for_start: Option<chrono::Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            pin_emojis: vec!["pushpin".to_string(), "📌".to_string()],
            team_zone: Tz::UTC,
            postmortem_due_after: chrono::Duration::days(5),
            assist: false,
            waits_for_start: None,
        }
    }
}

/// What a command did, for the adapter's reply to whoever issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Opened,
    AlreadyOpen,
    NoOpenIncident,
    /// A `/timeline` entry; before `/incident start` it counts toward the next incident.
    Recorded {
        at: DateTime<Utc>,
        before_start: bool,
    },
    SeveritySet(Severity),
    LeadSet(String),
    ImpactSet,
    SummarySet,
    /// A change to the timeline, the story or the actions.
    Curated(Change),
    Resolved,
    AlreadyResolved,
    Closed,
    /// `/incident status`: the adapter shows the incident as of this day (the team's).
    ShowStatus(NaiveDate),
    /// `/timeline list`: the entries with their numbers.
    ShowTimeline,
    /// `/incident draft`: the adapter renders the draft.
    ShowDraft,
    /// `/incident draft --publish`: the draft is published again.
    Publish,
    /// `/incident title`.
    TitleSet,
    /// `/incident web`: the adapter answers with a sign-in link for whoever asked.
    WebLink,
    /// `/incident search <words>`: the adapter answers with what the index finds.
    Search(String),
    /// `/incident similar`: the adapter answers with the closed incidents like this one.
    Similar,
    /// `/incident assist [section]`: the model is asked, off the command path.
    AssistAsked(Option<Section>),
    /// `/incident assist list`: the adapter shows the pending suggestions.
    ShowSuggestions,
    /// `/incident assist` where no model is configured.
    AssistOff,
    /// `/incident assist` (or an answer arriving) for a private incident: nothing is sent.
    AssistPrivate,
    /// Scribe recorded an answer's checked suggestions.
    Suggested {
        kept: usize,
        dropped: u32,
    },
    Refused(CommandError),
}

impl Outcome {
    /// Whether the answer to the command speaks of its incident (title, state, draft).
    pub fn mentions_incident(&self) -> bool {
        matches!(
            self,
            Outcome::Opened
                | Outcome::AlreadyOpen
                | Outcome::Resolved
                | Outcome::Closed
                | Outcome::ShowStatus(_)
                | Outcome::ShowTimeline
                | Outcome::ShowDraft
                | Outcome::Publish
                | Outcome::Similar
                | Outcome::AssistAsked(_)
                | Outcome::ShowSuggestions
        )
    }
}

/// What a curation command changed, by number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    EntryEdited(Number),
    EntryMoved(Number, DateTime<Utc>),
    EntryHidden(Number),
    EntryRestored(Number),
    ItemAdded(StoryList, Number),
    ItemEdited(StoryList, Number),
    ItemHidden(StoryList, Number),
    ItemRestored(StoryList, Number),
    ReferenceAdded(String),
    ReferenceChanged(Number),
    ActionAdded(Number),
    ActionEdited(Number),
    ActionDone(Number),
    ActionHidden(Number),
    ActionRestored(Number),
    ActionReopened(Number),
    ActionTracked(Number, String),
    PostmortemOwner(String),
    PostmortemDue(NaiveDate),
    PostmortemStage(Stage),
    /// Suggestion N became an item of `section` (its number in a list; `None` for the summary
    /// and the impact, which it replaced).
    SuggestionAccepted {
        n: Number,
        section: Section,
        item: Option<Number>,
    },
    /// `/incident private`.
    MadePrivate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effect {
    pub outcome: Outcome,
    /// Index into [`History::incidents`] of the incident the command acted on.
    pub incident: Option<usize>,
}

/// Everything a channel's log says.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// In order of start.
    pub incidents: Vec<Incident>,
    effects: HashMap<MessageId, Effect>,
    /// [`Settings::waits_for_start`].
    waits_for_start: Option<chrono::Duration>,
}

impl History {
    /// What the command in `message` did; `None` when the message is no command.
    pub fn effect_of(&self, message: &MessageId) -> Option<&Effect> {
        self.effects.get(message)
    }

    /// When the incident before `incident` in the channel closed: its messages start after.
    pub fn previous_close(&self, incident: &Incident) -> Option<DateTime<Utc>> {
        self.incidents
            .iter()
            .take_while(|i| i.opened_by != incident.opened_by)
            .filter_map(|i| i.closed_at)
            .max()
    }

    /// The incident a message posted at `at` belongs to: the one it was posted during, or the
    /// first one started after it (the messages since the last close join the next start, when
    /// posted within [`Settings::waits_for_start`] of it).
    pub fn incident_at(&self, at: DateTime<Utc>) -> Option<&Incident> {
        let incident = self.incidents.iter().find(|i| {
            self.previous_close(i).is_none_or(|closed| at > closed)
                && i.closed_at.is_none_or(|closed| at <= closed)
        })?;
        let waited = incident.started_at - at;
        self.waits_for_start
            .is_none_or(|wait| waited <= wait)
            .then_some(incident)
    }

    /// The channel's incident that is not closed yet, if any.
    pub fn open_incident(&self) -> Option<&Incident> {
        self.incidents
            .last()
            .filter(|i| i.status() != Status::Closed)
    }

    pub fn incident(&self, reply: &Effect) -> Option<&Incident> {
        reply.incident.and_then(|i| self.incidents.get(i))
    }
}

/// A message as the log says it is now.
struct Message {
    id: MessageId,
    /// Its place in the fold's messages: the order posts arrived in, which orders entries at
    /// the same instant.
    index: usize,
    at: DateTime<Utc>,
    /// Shared by every message of the same author ([`Fold::authors`]).
    author: Arc<Author>,
    original: String,
    /// The text after the latest edit.
    edited: Option<String>,
    deleted: bool,
    pinned: bool,
    /// Who put which pin emoji on it: a few at most, so a list.
    pin_reactions: Vec<(String, UserId)>,
    /// The incident (index into the walk's incidents) the message belongs to; `None` while it
    /// waits for the next start.
    incident: Option<usize>,
    /// When the message became a timeline entry (a note posted, a first pin or 📌), in the
    /// walk's count of entries made: what numbers entries.
    made: Option<u64>,
}

impl Message {
    fn current(&self) -> &str {
        self.edited.as_deref().unwrap_or(&self.original)
    }

    fn command(&self) -> Option<Result<Command, CommandError>> {
        self.author
            .issues_commands()
            .then(|| command::parse(&self.original))
            .flatten()
    }
}

/// Folds one channel's events into its incidents.
pub fn fold(events: impl IntoIterator<Item = ChatEvent>, settings: &Settings) -> History {
    let mut events: Vec<ChatEvent> = events.into_iter().collect();
    events.sort_by_cached_key(position);
    // Sorted once, applied once: no log kept for a replay that cannot be needed.
    let mut fold = Fold::new(settings.clone());
    for event in events {
        fold.step(event);
    }
    fold.history()
}

/// Where an event goes in time order: by time, a post before what happens to it, then by id.
type Position = (DateTime<Utc>, u8, MessageId);

fn position(event: &ChatEvent) -> Position {
    (event.at, event.rank(), event.message.clone())
}

/// A fold fed events already in time order, one at a time, keeping no log for a replay: what
/// a chat export's replay uses, so that its memory follows the channel's state and not every
/// event it read.
pub struct Stream {
    fold: Fold,
}

/// An event came before one already folded: the stream cannot take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfOrder;

impl Stream {
    pub fn new(settings: Settings) -> Self {
        Stream {
            fold: Fold::new(settings),
        }
    }

    /// Folds `event`, unless it comes before the last one folded (in [`fold`]'s order).
    ///
    /// An export gives a message's reactions and pins right after it, so once the next
    /// message comes a message that is no command and no entry changes no more: only what an
    /// incident counts of it is kept (its author, time and deletion), not its text.
    pub fn push(&mut self, event: ChatEvent) -> Result<(), OutOfOrder> {
        let at = position(&event);
        if self.fold.last.as_ref().is_some_and(|last| at < *last) {
            return Err(OutOfOrder);
        }
        self.fold.last = Some(at);
        let new_message = matches!(event.kind, EventKind::Posted { .. })
            && !self.fold.index.contains_key(&event.message);
        if new_message && let Some(last) = self.fold.messages.len().checked_sub(1) {
            self.fold.settle(last);
        }
        self.fold.step(event);
        Ok(())
    }

    /// Everything the events said: what [`fold`] over them gives.
    pub fn history(mut self) -> History {
        self.fold.history()
    }
}

/// The fold kept up to date one event at a time, for a live channel: an event that comes in
/// time order costs O(1); one that comes out of order makes the next read replay the channel.
/// Either way the result equals [`fold`] over the same events.
pub struct Fold {
    settings: Settings,
    /// Every event applied, for a replay.
    events: Vec<ChatEvent>,
    /// Position of the last event applied in order.
    last: Option<Position>,
    /// An event came out of order: replay before the next read.
    stale: bool,
    messages: Vec<Message>,
    index: HashMap<MessageId, usize>,
    walk: Walk,
    /// The history as last derived, until the next event: pages and the search index ask for
    /// it far more often than a channel changes, and deriving every incident is the cost.
    derived: Option<History>,
    /// About what the fold takes in memory ([`Fold::weight`]).
    weight: usize,
    /// Each author once, however many messages they wrote.
    authors: HashSet<Arc<Author>>,
}

/// Phase two so far: commands in time order, and each message assigned to an incident.
/// Messages before an `/incident start` (since the previous close) belong to the incident it
/// opens.
#[derive(Default)]
struct Walk {
    finished: Vec<Builder>,
    current: Option<Builder>,
    pending: Vec<usize>,
    effects: HashMap<MessageId, Effect>,
    /// Timeline entries made so far, in the whole channel.
    made: u64,
}

impl Fold {
    pub fn new(settings: Settings) -> Self {
        Fold {
            settings,
            events: Vec::new(),
            last: None,
            stale: false,
            messages: Vec::new(),
            index: HashMap::new(),
            walk: Walk::default(),
            derived: None,
            weight: 0,
            authors: HashSet::new(),
        }
    }

    /// About what the fold takes in memory: every event twice (in the log kept for a replay,
    /// and in the state of its message), so that a cache of folds can keep to a budget.
    pub fn weight(&self) -> usize {
        self.weight
    }

    pub fn apply(&mut self, event: ChatEvent) {
        self.derived = None;
        self.weight += 2 * event.weight();
        let at = position(&event);
        if self.stale || self.last.as_ref().is_some_and(|last| at < *last) {
            self.stale = true;
        } else {
            self.last = Some(at);
            self.step(event.clone());
        }
        self.events.push(event);
    }

    /// Replays every event in time order.
    fn refresh(&mut self) {
        if !self.stale {
            return;
        }
        let mut events = std::mem::take(&mut self.events);
        events.sort_by_cached_key(position);
        let weight = self.weight;
        *self = Fold::new(self.settings.clone());
        self.weight = weight;
        for event in &events {
            self.step(event.clone());
        }
        self.last = events.last().map(position);
        self.events = events;
    }

    /// Phase one for one event (the message's state), and phase two for a new message.
    fn step(&mut self, event: ChatEvent) {
        let existing = self.index.get(&event.message).copied();
        match (event.kind, existing) {
            (EventKind::Posted { author, text, .. }, None) => {
                let author = match self.authors.get(&author) {
                    Some(known) => Arc::clone(known),
                    None => {
                        let author = Arc::new(author);
                        self.authors.insert(Arc::clone(&author));
                        author
                    }
                };
                let idx = self.messages.len();
                self.index.insert(event.message.clone(), idx);
                self.messages.push(Message {
                    id: event.message,
                    index: idx,
                    at: event.at,
                    author,
                    original: text,
                    edited: None,
                    deleted: false,
                    pinned: false,
                    pin_reactions: Vec::new(),
                    incident: None,
                    made: None,
                });
                self.walk
                    .step(&event.channel, &mut self.messages, idx, &self.settings);
            }
            // The first post of a message id wins; events about unknown messages wait for
            // nothing (the adapter fetches a message before reporting reactions to it).
            (EventKind::Posted { .. }, Some(_)) | (_, None) => {}
            (EventKind::Edited { text }, Some(i)) => self.messages[i].edited = Some(text),
            (EventKind::Deleted, Some(i)) => self.messages[i].deleted = true,
            (EventKind::PinAdded, Some(i)) => {
                self.messages[i].pinned = true;
                self.walk.marked(&mut self.messages, i);
            }
            (EventKind::PinRemoved, Some(i)) => self.messages[i].pinned = false,
            (EventKind::ReactionAdded { emoji, user }, Some(i)) => {
                if self.settings.pin_emojis.contains(&emoji) || emoji == WEB_PIN {
                    let reactions = &mut self.messages[i].pin_reactions;
                    let reaction = (emoji, user);
                    if !reactions.contains(&reaction) {
                        reactions.push(reaction);
                    }
                    self.walk.marked(&mut self.messages, i);
                }
            }
            (EventKind::ReactionRemoved { emoji, user }, Some(i)) => {
                let reaction = (emoji, user);
                self.messages[i].pin_reactions.retain(|r| *r != reaction);
            }
        }
    }

    /// Drops what no answer needs of a message that will change no more (see [`Stream::push`]).
    fn settle(&mut self, idx: usize) {
        let message = &mut self.messages[idx];
        if message.made.is_some() || message.command().is_some() {
            return;
        }
        self.index.remove(&message.id);
        message.id = MessageId::new(String::new());
        message.original = String::new();
        message.edited = None;
        message.pin_reactions = Vec::new();
    }

    /// The text `message` was first posted with: the one its command, if any, was read from
    /// (a later post under the same id changes nothing).
    pub fn posted_text(&mut self, message: &MessageId) -> Option<&str> {
        self.refresh();
        let index = *self.index.get(message)?;
        Some(self.messages[index].original.as_str())
    }

    /// What the command in `message` did; `None` when the message is no command.
    pub fn effect_of(&mut self, message: &MessageId) -> Option<Effect> {
        self.refresh();
        self.walk.effects.get(message).cloned()
    }

    /// The id of the incident a reply is about, without folding its timeline.
    pub fn incident_id(&self, reply: &Effect) -> Option<IncidentId> {
        let index = reply.incident?;
        let builder = match self.walk.finished.get(index) {
            Some(builder) => builder,
            None => self.walk.current.as_ref()?,
        };
        Some(builder.incident.id())
    }

    /// The incident a reply is about, complete with its timeline and participants.
    pub fn incident(&mut self, reply: &Effect) -> Option<Incident> {
        self.refresh();
        let index = reply.incident?;
        let builder = match self.walk.finished.get(index) {
            Some(builder) => builder,
            None if index == self.walk.finished.len() => self.walk.current.as_ref()?,
            None => return None,
        };
        Some(builder.finish(&self.messages, &self.settings))
    }

    /// The messages no incident holds or will hold: posted while none was open, and longer
    /// than [`Settings::waits_for_start`] before `now`, so no start can take them any more
    /// (not the commands about a closed incident, which write its postmortem). Deleting
    /// their events changes no incident.
    pub fn forgettable(&mut self, now: DateTime<Utc>) -> Vec<MessageId> {
        let Some(wait) = self.settings.waits_for_start else {
            return Vec::new();
        };
        self.refresh();
        let effects = &self.walk.effects;
        self.messages
            .iter()
            .filter(|m| m.incident.is_none() && now - m.at > wait)
            .filter(|m| effects.get(&m.id).is_none_or(|e| e.incident.is_none()))
            .map(|m| m.id.clone())
            .collect()
    }

    /// Everything the channel's log says.
    pub fn history(&mut self) -> History {
        if let Some(derived) = &self.derived {
            return derived.clone();
        }
        self.refresh();
        let history = History {
            incidents: self
                .walk
                .finished
                .iter()
                .chain(&self.walk.current)
                .map(|builder| builder.finish(&self.messages, &self.settings))
                .collect(),
            effects: self.walk.effects.clone(),
            waits_for_start: self.settings.waits_for_start,
        };
        self.derived = Some(history.clone());
        history
    }
}

impl Walk {
    fn step(
        &mut self,
        channel: &ChannelRef,
        messages: &mut [Message],
        idx: usize,
        settings: &Settings,
    ) {
        let Some(command) = messages[idx].command() else {
            self.join(messages, idx);
            return;
        };
        let mut about_closed = None;
        let mut note = false;
        let message = &messages[idx];
        let named = command::target(&message.original);
        // Which closed incident the command is for: the one it names, else, while none is
        // open, the one closed last (a postmortem is written after the close).
        let closed = match named {
            Some(id) if self.current.as_ref().is_some_and(|b| b.opened_by(id)) => Ok(None),
            Some(id) => self
                .finished
                .iter()
                .position(|b| b.opened_by(id))
                .map(Some)
                .ok_or_else(|| CommandError::UnknownIncident(id.to_string())),
            None if self.current.is_none() => Ok(self.finished.len().checked_sub(1)),
            None => Ok(None),
        };
        let outcome = match (closed, command) {
            (_, Err(error)) | (Err(error), _) => Outcome::Refused(error),
            (Ok(Some(i)), Ok(command)) if for_closed(&command) => {
                about_closed = Some(i);
                self.finished[i].after_close(command, messages, idx, settings)
            }
            (Ok(Some(_)), Ok(_)) if named.is_some() => Outcome::Refused(CommandError::NotForClosed),
            (_, Ok(command)) => match (command, self.current.as_mut()) {
                (Command::Incident(IncidentCommand::Start { title, severity }), None) => {
                    self.open(channel, messages, idx, title, severity, settings);
                    Outcome::Opened
                }
                (Command::Timeline(entry), current) => {
                    note = true;
                    Outcome::Recorded {
                        at: entry_time(&entry, message, settings),
                        before_start: current.is_none(),
                    }
                }
                (Command::Incident(IncidentCommand::Web), _) => Outcome::WebLink,
                (Command::Incident(IncidentCommand::Search(words)), _) => Outcome::Search(words),
                (Command::Entry(curation), Some(builder)) => {
                    builder.curate(curation, messages, idx, settings)
                }
                (Command::Incident(command), Some(builder)) => {
                    builder.apply(command, message, settings)
                }
                (Command::Entry(_) | Command::Incident(_), None) => Outcome::NoOpenIncident,
            },
        };
        // A command about a closed incident belongs to no incident's messages.
        let incident = match about_closed {
            Some(closed) => Some(closed),
            None => {
                self.join(messages, idx);
                self.current.as_ref().map(|_| self.finished.len())
            }
        };
        if note {
            self.made(messages, idx);
        }
        let closed = outcome == Outcome::Closed;
        self.effects
            .insert(messages[idx].id.clone(), Effect { outcome, incident });
        if closed {
            self.finished.extend(self.current.take());
        }
    }

    /// `/incident start`: the messages since the last close (within [`Settings::waits_for_start`])
    /// join the new incident, and the
    /// entries among them are numbered first, in the order they were made.
    fn open(
        &mut self,
        channel: &ChannelRef,
        messages: &mut [Message],
        idx: usize,
        title: String,
        severity: Option<Severity>,
        settings: &Settings,
    ) {
        let index = self.finished.len();
        let start = messages[idx].at;
        let mut members = std::mem::take(&mut self.pending);
        if let Some(wait) = settings.waits_for_start {
            members.retain(|&i| start - messages[i].at <= wait);
        }
        let mut made: Vec<(u64, usize)> = members
            .iter()
            .filter_map(|&i| messages[i].made.map(|made| (made, i)))
            .collect();
        made.sort_unstable();
        for &i in &members {
            messages[i].incident = Some(index);
        }
        let mut builder = Builder {
            incident: Incident::opened(channel, &messages[idx], title, severity),
            members,
            entries: made.into_iter().map(|(_, i)| Made::Message(i)).collect(),
            curation: Vec::new(),
        };
        let text = match severity {
            Some(severity) => format!(
                "Incident started: {}, severity {severity}",
                builder.incident.title
            ),
            None => format!("Incident started: {}", builder.incident.title),
        };
        builder.event(&messages[idx], text);
        self.current = Some(builder);
    }

    /// The message joins the open incident, or waits for the next start.
    fn join(&mut self, messages: &mut [Message], idx: usize) {
        match self.current.as_mut() {
            Some(builder) => {
                builder.members.push(idx);
                messages[idx].incident = Some(self.finished.len());
            }
            None => self.pending.push(idx),
        }
    }

    /// A pin or 📌 on a message: the first one makes it an entry, unless it is a command or
    /// the platform's own notice.
    fn marked(&mut self, messages: &mut [Message], idx: usize) {
        let message = &messages[idx];
        if message.made.is_none()
            && message.author.kind != AuthorKind::System
            && message.command().is_none()
        {
            self.made(messages, idx);
        }
    }

    /// The message became a timeline entry now: it takes its incident's next number (or, while
    /// it waits for a start, its place among the entries made before it).
    fn made(&mut self, messages: &mut [Message], idx: usize) {
        self.made += 1;
        messages[idx].made = Some(self.made);
        let Some(index) = messages[idx].incident else {
            return;
        };
        let builder = match self.finished.get_mut(index) {
            Some(builder) => Some(builder),
            None => self.current.as_mut(),
        };
        if let Some(builder) = builder {
            builder.entries.push(Made::Message(idx));
        }
    }
}

/// Whether a command can be for a closed incident: the timeline's curation, the story, and the
/// questions about it.
fn for_closed(command: &Command) -> bool {
    match command {
        Command::Entry(_) => true,
        Command::Incident(command) => {
            command.writes_story()
                || matches!(
                    command,
                    IncidentCommand::Status
                        | IncidentCommand::Draft { .. }
                        | IncidentCommand::Similar
                )
        }
        Command::Timeline(_) => false,
    }
}

/// An incident being folded: its state so far and the messages that belong to it.
struct Builder {
    incident: Incident,
    members: Vec<usize>,
    /// The incident's timeline entries in the order they were made: entry `n` is at `n - 1`.
    entries: Vec<Made>,
    /// `/timeline edit|move|remove|restore`, in order, applied when the timeline is derived.
    curation: Vec<Curation>,
}

/// A timeline entry as it was made: a state change, or a message (a note, a pin, a 📌).
#[derive(Debug, Clone, Copy)]
enum Made {
    /// Index into the builder's own state-change entries, and the command's message.
    Event(usize, usize),
    /// Index into the fold's messages.
    Message(usize),
}

struct Curation {
    /// The entry's index in [`Builder::entries`].
    entry: usize,
    change: EntryChange,
    by: String,
}

enum EntryChange {
    Edit(String),
    Move(DateTime<Utc>),
    Hide,
    Restore,
}

/// The day `at` falls on in the team's zone.
pub fn day_of(at: DateTime<Utc>, settings: &Settings) -> NaiveDate {
    at.with_timezone(&settings.team_zone).date_naive()
}

fn entry_time(note: &TimelineNote, message: &Message, settings: &Settings) -> DateTime<Utc> {
    note.at.map_or(message.at, |time| {
        timeline::backfill_instant(time, message.at, settings.team_zone)
    })
}

impl Incident {
    /// The incident an `/incident start` message opens, before anything else happened to it.
    fn opened(
        channel: &ChannelRef,
        message: &Message,
        title: String,
        severity: Option<Severity>,
    ) -> Incident {
        Incident {
            channel: channel.clone(),
            opened_by: message.id.clone(),
            title,
            severity,
            started_at: message.at,
            started_by: message.author.name.clone(),
            lead: None,
            impact: None,
            summary: None,
            resolved_at: None,
            resolution_note: None,
            closed_at: None,
            timeline: Vec::new(),
            participants: Vec::new(),
            factors: Vec::new(),
            worked: Vec::new(),
            improve: Vec::new(),
            references: Vec::new(),
            actions: Vec::new(),
            postmortem: Postmortem::default(),
            team_impact: TeamImpact::default(),
            set_by: std::collections::BTreeMap::new(),
            assisted: std::collections::BTreeSet::new(),
            private: false,
            suggestions: Vec::new(),
            suggestions_dropped: 0,
            next_suggestion: 1,
        }
    }
}

impl Builder {
    fn opened_by(&self, id: &str) -> bool {
        self.incident.opened_by.as_str() == id
    }

    /// A command for this incident once it is closed (see [`for_closed`]).
    fn after_close(
        &mut self,
        command: Command,
        messages: &[Message],
        idx: usize,
        settings: &Settings,
    ) -> Outcome {
        match command {
            Command::Entry(curation) => self.curate(curation, messages, idx, settings),
            Command::Incident(IncidentCommand::Status) => {
                Outcome::ShowStatus(day_of(messages[idx].at, settings))
            }
            Command::Incident(IncidentCommand::Draft { publish: true }) => Outcome::Publish,
            Command::Incident(IncidentCommand::Draft { publish: false }) => Outcome::ShowDraft,
            Command::Incident(command) => self.apply(command, &messages[idx], settings),
            Command::Timeline(_) => Outcome::NoOpenIncident,
        }
    }

    /// A state change: an entry made by the command's message, at its time.
    fn event(&mut self, message: &Message, text: String) {
        self.entries
            .push(Made::Event(self.incident.timeline.len(), message.index));
        self.incident.timeline.push(TimelineEntry {
            n: self.entries.len() as u32,
            at: message.at,
            author: message.author.name.clone(),
            text,
            source: EntrySource::Event,
            original_text: None,
            original_at: None,
            edited_by: None,
            hidden: false,
            message: message.id.clone(),
        });
    }

    /// `/timeline list|edit|move|remove|restore`: an entry that exists now, by its number.
    fn curate(
        &mut self,
        command: EntryCommand,
        messages: &[Message],
        idx: usize,
        settings: &Settings,
    ) -> Outcome {
        let message = &messages[idx];
        let (n, change) = match command {
            EntryCommand::List => return Outcome::ShowTimeline,
            EntryCommand::Edit { n, text } => (n, EntryChange::Edit(text)),
            EntryCommand::Move { n, to } => {
                let zone = settings.team_zone;
                let at = match to {
                    NewTime::TimeOfDay(time) => timeline::backfill_instant(time, message.at, zone),
                    NewTime::Local(local) => match zone.from_local_datetime(&local).latest() {
                        Some(at) => at.with_timezone(&Utc),
                        None => {
                            return Outcome::Refused(CommandError::BadTime(format!(
                                "{} (not a time in {zone})",
                                local.format("%Y-%m-%d %H:%M:%S")
                            )));
                        }
                    },
                };
                if at > message.at {
                    return Outcome::Refused(CommandError::Future(
                        at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    ));
                }
                (n, EntryChange::Move(at))
            }
            EntryCommand::Remove(n) => (n, EntryChange::Hide),
            EntryCommand::Restore(n) => (n, EntryChange::Restore),
        };
        let exists = match self.entries.get(n.index()) {
            Some(Made::Event(..)) => true,
            Some(&Made::Message(i)) => {
                !messages[i].deleted && entry(&messages[i], settings).is_some()
            }
            None => false,
        };
        if !exists {
            return Outcome::Refused(CommandError::NoSuch {
                what: "timeline entry",
                n,
                hint: "/timeline list shows the numbers",
            });
        }
        let done = match &change {
            EntryChange::Edit(_) => Change::EntryEdited(n),
            EntryChange::Move(at) => Change::EntryMoved(n, *at),
            EntryChange::Hide => Change::EntryHidden(n),
            EntryChange::Restore => Change::EntryRestored(n),
        };
        self.curation.push(Curation {
            entry: n.index(),
            change,
            by: message.author.name.clone(),
        });
        Outcome::Curated(done)
    }

    fn apply(
        &mut self,
        command: IncidentCommand,
        message: &Message,
        settings: &Settings,
    ) -> Outcome {
        let fact = match &command {
            IncidentCommand::Severity(_) => Some("severity"),
            IncidentCommand::Lead(_) => Some("lead"),
            IncidentCommand::Title(_) => Some("title"),
            IncidentCommand::Impact(_) => Some("impact"),
            IncidentCommand::Summary(_) => Some("summary"),
            _ => None,
        };
        if let Some(fact) = fact {
            self.incident
                .set_by
                .insert(fact, message.author.name.clone());
            self.incident.assisted.remove(fact);
        }
        match command {
            IncidentCommand::Start { .. } => Outcome::AlreadyOpen,
            IncidentCommand::Severity(severity) => {
                self.incident.severity = Some(severity);
                self.event(message, format!("Severity set to {severity}"));
                Outcome::SeveritySet(severity)
            }
            IncidentCommand::Lead(lead) => {
                self.event(message, format!("Lead: {lead}"));
                self.incident.lead = Some(lead.clone());
                Outcome::LeadSet(lead)
            }
            IncidentCommand::Impact(impact) => {
                self.incident.impact = Some(impact);
                Outcome::ImpactSet
            }
            IncidentCommand::Summary(summary) => {
                self.incident.summary = Some(summary);
                Outcome::SummarySet
            }
            IncidentCommand::Story { list, change } => self.story(list, change, message),
            IncidentCommand::Ref { label, text } => {
                let references = &mut self.incident.references;
                references.push(Reference {
                    n: next_number(references.len()).get(),
                    label: label.clone(),
                    text,
                    hidden: false,
                });
                Outcome::Curated(Change::ReferenceAdded(label))
            }
            IncidentCommand::RefChange { n, change } => {
                let Some(reference) = self.incident.references.get_mut(n.index()) else {
                    return Outcome::Refused(no_such("reference", n));
                };
                match change {
                    RefChange::Text(text) => reference.text = text,
                    RefChange::Hide => reference.hidden = true,
                    RefChange::Restore => reference.hidden = false,
                }
                Outcome::Curated(Change::ReferenceChanged(n))
            }
            IncidentCommand::Action(command) => self.action(command, message),
            IncidentCommand::Postmortem(command) => {
                let postmortem = &mut self.incident.postmortem;
                Outcome::Curated(match command {
                    PostmortemCommand::Owner(owner) => {
                        postmortem.owner = Some(owner.clone());
                        Change::PostmortemOwner(owner)
                    }
                    PostmortemCommand::Due(due) => {
                        postmortem.due = Some(due);
                        Change::PostmortemDue(due)
                    }
                    PostmortemCommand::Review { pull } => {
                        postmortem.stage = Stage::InReview;
                        postmortem.pull = pull.or(postmortem.pull.take());
                        Change::PostmortemStage(Stage::InReview)
                    }
                    PostmortemCommand::Published => {
                        postmortem.stage = Stage::Published;
                        Change::PostmortemStage(Stage::Published)
                    }
                })
            }
            IncidentCommand::Resolve { .. } if self.incident.resolved_at.is_some() => {
                Outcome::AlreadyResolved
            }
            IncidentCommand::Resolve { note } => {
                let text = match &note {
                    Some(note) => format!("Resolved: {note}"),
                    None => "Resolved".to_string(),
                };
                self.incident.resolved_at = Some(message.at);
                self.incident.resolution_note = note;
                self.event(message, text);
                Outcome::Resolved
            }
            IncidentCommand::Close => {
                self.incident.closed_at = Some(message.at);
                self.event(message, "Incident closed".to_string());
                Outcome::Closed
            }
            IncidentCommand::Title(title) => {
                self.incident.title = title;
                Outcome::TitleSet
            }
            IncidentCommand::Status => Outcome::ShowStatus(day_of(message.at, settings)),
            IncidentCommand::Draft { publish: false } => Outcome::ShowDraft,
            IncidentCommand::Draft { publish: true } => Outcome::Publish,
            IncidentCommand::Web => Outcome::WebLink,
            IncidentCommand::Search(words) => Outcome::Search(words),
            IncidentCommand::Similar => Outcome::Similar,
            IncidentCommand::Assist(command) => self.assist(command, message, settings),
            IncidentCommand::Private => {
                self.incident.private = true;
                self.incident.suggestions.clear();
                Outcome::Curated(Change::MadePrivate)
            }
        }
    }

    /// `/incident assist`: asking is allowed unless the incident is private; Scribe records
    /// what passed the checks; a person accepts one suggestion at a time.
    fn assist(
        &mut self,
        command: AssistCommand,
        message: &Message,
        settings: &Settings,
    ) -> Outcome {
        let incident = &mut self.incident;
        match command {
            AssistCommand::Ask(_) if incident.private => Outcome::AssistPrivate,
            AssistCommand::Ask(_) if !settings.assist => Outcome::AssistOff,
            AssistCommand::Ask(section) => Outcome::AssistAsked(section),
            AssistCommand::List => Outcome::ShowSuggestions,
            AssistCommand::Offered(_) if message.author.kind != AuthorKind::Integration => {
                Outcome::Refused(CommandError::Usage(command::INCIDENT_USAGE))
            }
            AssistCommand::Offered(_) if incident.private => Outcome::AssistPrivate,
            AssistCommand::Offered(offer) => {
                let kept = offer.suggestions.len();
                incident.suggestions.retain(|p| {
                    offer
                        .section
                        .is_some_and(|section| p.suggestion.section != section)
                });
                for suggestion in offer.suggestions {
                    let n = incident.next_suggestion;
                    incident.next_suggestion += 1;
                    incident.suggestions.push(Pending { n, suggestion });
                }
                incident.suggestions_dropped = offer.dropped;
                Outcome::Suggested {
                    kept,
                    dropped: offer.dropped,
                }
            }
            AssistCommand::Accept(n) => {
                let Some(at) = incident.suggestions.iter().position(|p| p.n == n.get()) else {
                    return Outcome::Refused(CommandError::NoSuch {
                        what: "suggestion",
                        n,
                        hint: "/incident assist asks for new ones",
                    });
                };
                let suggestion = incident.suggestions.remove(at).suggestion;
                let by = message.author.name.clone();
                let section = suggestion.section;
                let item = match section.list() {
                    Some(list) => {
                        let items = incident.story_mut(list);
                        let item = next_number(items.len());
                        items.push(StoryItem {
                            n: item.get(),
                            text: suggestion.text,
                            author: by,
                            hidden: false,
                            assisted: true,
                        });
                        Some(item)
                    }
                    None => {
                        let fact = section.as_str();
                        match section {
                            Section::Summary => incident.summary = Some(suggestion.text),
                            _ => incident.impact = Some(suggestion.text),
                        }
                        incident.set_by.insert(fact, by);
                        incident.assisted.insert(fact);
                        None
                    }
                };
                Outcome::Curated(Change::SuggestionAccepted { n, section, item })
            }
        }
    }

    fn story(&mut self, list: StoryList, change: ItemChange, message: &Message) -> Outcome {
        let items = self.incident.story_mut(list);
        let (n, hidden) = match change {
            ItemChange::Add(text) => {
                let n = next_number(items.len());
                items.push(StoryItem {
                    n: n.get(),
                    text,
                    author: message.author.name.clone(),
                    hidden: false,
                    assisted: false,
                });
                return Outcome::Curated(Change::ItemAdded(list, n));
            }
            ItemChange::Edit(n, text) => {
                let Some(item) = items.get_mut(n.index()) else {
                    return Outcome::Refused(no_such(list.item(), n));
                };
                item.text = text;
                return Outcome::Curated(Change::ItemEdited(list, n));
            }
            ItemChange::Remove(n) => (n, true),
            ItemChange::Restore(n) => (n, false),
        };
        let Some(item) = items.get_mut(n.index()) else {
            return Outcome::Refused(no_such(list.item(), n));
        };
        item.hidden = hidden;
        Outcome::Curated(if hidden {
            Change::ItemHidden(list, n)
        } else {
            Change::ItemRestored(list, n)
        })
    }

    fn action(&mut self, command: ActionCommand, message: &Message) -> Outcome {
        let actions = &mut self.incident.actions;
        let n = match command {
            ActionCommand::Add {
                horizon,
                text,
                owner,
                due,
            } => {
                let n = next_number(actions.len());
                actions.push(Action {
                    n: n.get(),
                    text,
                    owner,
                    horizon,
                    due,
                    done: horizon == Horizon::Now,
                    hidden: false,
                    added_by: message.author.name.clone(),
                    at: message.at,
                    issue: None,
                });
                return Outcome::Curated(Change::ActionAdded(n));
            }
            ActionCommand::Edit { n, .. }
            | ActionCommand::Done(n)
            | ActionCommand::Reopen(n)
            | ActionCommand::Remove(n)
            | ActionCommand::Restore(n)
            | ActionCommand::Track { n, .. } => n,
        };
        let Some(action) = actions.get_mut(n.index()) else {
            return Outcome::Refused(no_such("action", n));
        };
        Outcome::Curated(match command {
            ActionCommand::Edit {
                text, owner, due, ..
            } => {
                action.text = text;
                if owner.is_some() {
                    action.owner = owner;
                }
                if due.is_some() {
                    action.due = due;
                }
                Change::ActionEdited(n)
            }
            ActionCommand::Done(_) => {
                action.done = true;
                Change::ActionDone(n)
            }
            ActionCommand::Reopen(_) => {
                action.done = false;
                Change::ActionReopened(n)
            }
            ActionCommand::Track { issue, url, .. } => {
                action.issue = Some(Issue {
                    key: issue.clone(),
                    url,
                });
                Change::ActionTracked(n, issue)
            }
            ActionCommand::Remove(_) => {
                action.hidden = true;
                Change::ActionHidden(n)
            }
            _ => {
                action.hidden = false;
                Change::ActionRestored(n)
            }
        })
    }

    /// Entries, participants and the team's load come from the messages' final state; the
    /// curation commands then apply to the entries, in order.
    fn finish(&self, messages: &[Message], settings: &Settings) -> Incident {
        let mut incident = self.incident.clone();
        incident.postmortem.due =
            incident.postmortem_due(settings.postmortem_due_after, settings.team_zone);
        let mut tally = Tally::default();
        let mut load = Load::default();
        let during = |at: DateTime<Utc>| {
            at >= incident.started_at && incident.closed_at.is_none_or(|end| at <= end)
        };
        for &idx in &self.members {
            let message = &messages[idx];
            if message.author.kind == AuthorKind::Human {
                let author = &message.author;
                tally.count(&author.id, &author.name);
                if during(message.at) {
                    load.count(&author.id, &author.name, author.zone, message.at);
                }
            }
        }
        let events = std::mem::take(&mut incident.timeline);
        // Each entry with the place of its message, for entries at the same instant.
        let mut entries: Vec<Option<(TimelineEntry, usize)>> = self
            .entries
            .iter()
            .map(|made| match *made {
                Made::Event(i, index) => Some((events[i].clone(), index)),
                Made::Message(idx) => {
                    let message = &messages[idx];
                    (!message.deleted && message.author.kind != AuthorKind::System)
                        .then(|| entry(message, settings))
                        .flatten()
                        .map(|entry| (entry, idx))
                }
            })
            .collect();
        for (i, slot) in entries.iter_mut().enumerate() {
            if let Some((entry, _)) = slot {
                entry.n = i as u32 + 1;
            }
        }
        for curation in &self.curation {
            let Some(Some((entry, _))) = entries.get_mut(curation.entry) else {
                continue;
            };
            match &curation.change {
                EntryChange::Edit(text) => {
                    entry
                        .original_text
                        .get_or_insert_with(|| entry.text.clone());
                    entry.text = text.clone();
                }
                EntryChange::Move(at) => {
                    entry.original_at.get_or_insert(entry.at);
                    entry.at = *at;
                }
                EntryChange::Hide => entry.hidden = true,
                EntryChange::Restore => entry.hidden = false,
            }
            entry.edited_by = Some(curation.by.clone());
        }
        let mut entries: Vec<(TimelineEntry, usize)> = entries.into_iter().flatten().collect();
        entries.sort_by_key(|(entry, index)| (entry.at, *index));
        incident.timeline = entries.into_iter().map(|(entry, _)| entry).collect();
        incident.participants = tally.into_sorted();
        incident.team_impact = load.finish();
        incident
    }
}

/// The answer to a number a list does not have.
fn no_such(what: &'static str, n: Number) -> CommandError {
    CommandError::NoSuch {
        what,
        n,
        hint: "the draft (/incident draft) shows the numbers",
    }
}

/// The number the next item of a list of `len` takes.
fn next_number(len: usize) -> Number {
    Number::new(u32::try_from(len).unwrap_or(u32::MAX - 1) + 1).expect("one or more")
}

/// The timeline entry a message stands for, if any: a `/timeline` command, else a pinned or
/// pin-reacted message. Other commands are no entries of their own.
fn entry(message: &Message, settings: &Settings) -> Option<TimelineEntry> {
    let (text, at, source, original_text) = match message.command() {
        Some(Ok(Command::Timeline(note))) => {
            // An edit updates the entry's text; the entry keeps its time and kind.
            let text = match command::parse(message.current()) {
                Some(Ok(Command::Timeline(edited))) => edited.text,
                _ => message.current().trim().to_string(),
            };
            let original = (text != note.text).then(|| note.text.clone());
            let source = match note.at {
                Some(_) => EntrySource::Backfill,
                None => EntrySource::Command,
            };
            (text, entry_time(&note, message, settings), source, original)
        }
        Some(_) => return None,
        None => {
            let source = if message.pinned {
                EntrySource::Pin
            } else if !message.pin_reactions.is_empty() {
                EntrySource::Reaction
            } else {
                return None;
            };
            let text = message.current().trim().to_string();
            let original =
                (message.current() != message.original).then(|| message.original.clone());
            (text, message.at, source, original)
        }
    };
    (!text.is_empty()).then(|| TimelineEntry {
        n: 0,
        at,
        author: message.author.name.clone(),
        edited_by: original_text.as_ref().map(|_| message.author.name.clone()),
        text,
        source,
        original_text,
        original_at: None,
        hidden: false,
        message: message.id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::Platform;
    use chrono::{Duration, TimeZone};

    /// A channel's events, built the way an adapter would report them.
    struct Log {
        events: Vec<ChatEvent>,
        t0: DateTime<Utc>,
    }

    impl Log {
        fn new() -> Self {
            Log {
                events: Vec::new(),
                t0: Utc.with_ymd_and_hms(2024, 3, 9, 10, 0, 0).unwrap(),
            }
        }

        fn at(&self, minute: i64) -> DateTime<Utc> {
            self.t0 + Duration::minutes(minute)
        }

        fn push(&mut self, id: &str, minute: i64, kind: EventKind) -> &mut Self {
            let at = self.at(minute);
            self.events.push(ChatEvent {
                channel: ChannelRef::new(Platform::Slack, "C1"),
                message: MessageId::new(id),
                at,
                kind,
            });
            self
        }

        fn say(&mut self, id: &str, minute: i64, who: &str, text: &str) -> &mut Self {
            self.push(
                id,
                minute,
                EventKind::Posted {
                    author: Author::human(format!("U-{who}"), who),
                    text: text.into(),
                    thread: None,
                },
            )
        }

        fn bot(&mut self, id: &str, minute: i64, text: &str) -> &mut Self {
            self.push(
                id,
                minute,
                EventKind::Posted {
                    author: Author {
                        id: UserId::new("B1"),
                        name: "alertbot".into(),
                        kind: AuthorKind::Bot,
                        zone: None,
                    },
                    text: text.into(),
                    thread: None,
                },
            )
        }

        fn react(&mut self, id: &str, minute: i64, who: &str, emoji: &str) -> &mut Self {
            self.push(
                id,
                minute,
                EventKind::ReactionAdded {
                    emoji: emoji.into(),
                    user: UserId::new(who),
                },
            )
        }

        fn fold(&self) -> History {
            fold(self.events.clone(), &Settings::default())
        }

        fn incident(&self) -> Incident {
            let history = self.fold();
            assert_eq!(history.incidents.len(), 1, "one incident");
            history.incidents.into_iter().next().unwrap()
        }
    }

    fn texts(incident: &Incident, source: EntrySource) -> Vec<String> {
        incident
            .timeline
            .iter()
            .filter(|e| e.source == source)
            .map(|e| e.text.clone())
            .collect()
    }

    #[test]
    fn a_whole_incident_folds_into_state() {
        let mut log = Log::new();
        log.say("1", 0, "Robin", "/incident start Checkout 5xx --sev sev2")
            .say("2", 1, "Zoë", "/timeline rolled back")
            .say("3", 2, "Robin", "/incident severity sev1")
            .say("4", 3, "Robin", "/incident lead @Zoë")
            .say("5", 4, "Zoë", "/incident impact all checkouts failed")
            .say("6", 5, "Zoë", "/incident summary a flag broke checkout")
            .say("7", 6, "Zoë", "/incident action add a flag guard @Robin")
            .say("8", 30, "Zoë", "/incident resolve error rate normal")
            .say("9", 45, "Zoë", "/incident close");
        let incident = log.incident();
        assert_eq!(incident.title, "Checkout 5xx");
        assert_eq!(incident.severity, Some(Severity::Sev1));
        assert_eq!(incident.status(), Status::Closed);
        assert_eq!(incident.started_at, log.at(0));
        assert_eq!(incident.resolved_at, Some(log.at(30)));
        assert_eq!(incident.closed_at, Some(log.at(45)));
        assert_eq!(incident.time_to_resolve(), Some(Duration::minutes(30)));
        assert_eq!(incident.time_open(), Some(Duration::minutes(45)));
        assert_eq!(incident.author(), "Zoë");
        assert_eq!(incident.impact.as_deref(), Some("all checkouts failed"));
        assert_eq!(incident.summary.as_deref(), Some("a flag broke checkout"));
        assert_eq!(incident.actions.len(), 1);
        assert_eq!(incident.actions[0].owner.as_deref(), Some("Robin"));
        assert_eq!(texts(&incident, EntrySource::Command), ["rolled back"]);
        assert_eq!(
            texts(&incident, EntrySource::Event),
            [
                "Incident started: Checkout 5xx, severity High (sev2)",
                "Severity set to Critical (sev1)",
                "Lead: Zoë",
                "Resolved: error rate normal",
                "Incident closed"
            ]
        );
        let people: Vec<_> = incident
            .participants
            .iter()
            .map(|p| (p.name.as_str(), p.messages))
            .collect();
        assert_eq!(people, [("Robin", 3), ("Zoë", 6)]);
    }

    #[test]
    fn the_same_events_in_any_order_or_twice_fold_the_same() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 1, "B", "something broke")
            .react("2", 2, "UA", "pushpin")
            .say("3", 3, "A", "/timeline fixed it")
            .push(
                "3",
                4,
                EventKind::Edited {
                    text: "/timeline fixed it for real".into(),
                },
            )
            .say("4", 5, "A", "/incident close");
        let expected = log.incident();
        let mut shuffled = log.events.clone();
        shuffled.reverse();
        shuffled.extend(log.events.iter().cloned());
        let history = fold(shuffled, &Settings::default());
        assert_eq!(history.incidents, vec![expected]);
    }

    #[test]
    fn a_pinned_alert_before_start_counts_and_is_at_its_post_time() {
        let mut log = Log::new();
        log.bot("0", -5, "FIRING: error rate")
            .push("0", 3, EventKind::PinAdded)
            .say("1", 0, "A", "/incident start X");
        let incident = log.incident();
        let pinned: Vec<_> = incident
            .timeline
            .iter()
            .filter(|e| e.source == EntrySource::Pin)
            .collect();
        assert_eq!(pinned.len(), 1);
        assert_eq!(pinned[0].at, log.at(-5));
        assert_eq!(pinned[0].text, "FIRING: error rate");
        assert_eq!(
            incident.timeline[0].source,
            EntrySource::Pin,
            "sorted by time"
        );
        // Bots are no participants.
        assert_eq!(incident.participants.len(), 1);
    }

    #[test]
    fn removing_the_last_pin_reaction_removes_the_entry() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 1, "B", "key finding")
            .react("2", 2, "UA", "pushpin")
            .react("2", 3, "UB", "📌");
        assert_eq!(
            texts(&log.incident(), EntrySource::Reaction),
            ["key finding"]
        );
        log.push(
            "2",
            4,
            EventKind::ReactionRemoved {
                emoji: "pushpin".into(),
                user: UserId::new("UA"),
            },
        );
        assert_eq!(
            texts(&log.incident(), EntrySource::Reaction),
            ["key finding"]
        );
        log.push(
            "2",
            5,
            EventKind::ReactionRemoved {
                emoji: "📌".into(),
                user: UserId::new("UB"),
            },
        );
        assert!(texts(&log.incident(), EntrySource::Reaction).is_empty());
    }

    #[test]
    fn other_emoji_do_not_pin() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 1, "B", "Customer comms drafted")
            .react("2", 2, "UA", "round_pushpin");
        assert!(texts(&log.incident(), EntrySource::Reaction).is_empty());
    }

    #[test]
    fn an_unpin_removes_a_pin_entry() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 1, "B", "finding")
            .push("2", 2, EventKind::PinAdded)
            .push("2", 3, EventKind::PinRemoved);
        assert!(texts(&log.incident(), EntrySource::Pin).is_empty());
    }

    #[test]
    fn an_edit_updates_the_entry_and_keeps_the_original() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 1, "B", "/timeline db failover")
            .push(
                "2",
                5,
                EventKind::Edited {
                    text: "/timeline db failover done".into(),
                },
            );
        let incident = log.incident();
        let entry = incident
            .timeline
            .iter()
            .find(|e| e.source == EntrySource::Command)
            .unwrap();
        assert_eq!(entry.text, "db failover done");
        assert_eq!(entry.original_text.as_deref(), Some("db failover"));
        assert_eq!(entry.at, log.at(1), "the entry keeps the message's time");
    }

    #[test]
    fn a_deleted_entry_leaves_the_timeline() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 1, "B", "/timeline oops wrong channel")
            .push("2", 2, EventKind::Deleted);
        assert!(texts(&log.incident(), EntrySource::Command).is_empty());
    }

    #[test]
    fn a_timeline_command_with_a_pin_is_one_entry() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 1, "B", "/timeline bad feature flag")
            .react("2", 2, "UA", "pushpin")
            .push("2", 3, EventKind::PinAdded);
        let incident = log.incident();
        let non_events: Vec<_> = incident
            .timeline
            .iter()
            .filter(|e| e.source != EntrySource::Event)
            .collect();
        assert_eq!(non_events.len(), 1);
        assert_eq!(non_events[0].source, EntrySource::Command);
    }

    #[test]
    fn bots_cannot_issue_commands() {
        let mut log = Log::new();
        log.bot("1", 0, "/incident start fake");
        assert!(log.fold().incidents.is_empty());
    }

    #[test]
    fn close_without_resolve_leaves_resolution_unknown() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 9, "A", "wait, nobody ran /incident resolve?")
            .say("3", 10, "A", "/incident close");
        let incident = log.incident();
        assert_eq!(incident.resolved_at, None);
        assert_eq!(incident.time_to_resolve(), None);
        assert_eq!(incident.closed_at, Some(log.at(10)));
    }

    #[test]
    fn backfill_entries_take_the_time_they_name() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X").say(
            "2",
            20,
            "A",
            "/timeline 09:58 first alert fired",
        );
        let incident = log.incident();
        let entry = incident
            .timeline
            .iter()
            .find(|e| e.source == EntrySource::Backfill)
            .unwrap();
        assert_eq!(entry.at, log.at(-2));
        assert_eq!(incident.timeline[0].text, "first alert fired");
    }

    #[test]
    fn replies_say_what_each_command_did() {
        let mut log = Log::new();
        log.say("0", -1, "A", "/timeline early note")
            .say("1", 0, "A", "/incident start X")
            .say("2", 1, "A", "/incident start Y")
            .say("3", 2, "A", "/timeline")
            .say("4", 3, "A", "/incident resolve")
            .say("5", 4, "A", "/incident resolve")
            .say("6", 5, "A", "/incident close")
            .say("7", 6, "A", "/incident severity sev2");
        let history = log.fold();
        let outcome = |id: &str| {
            history
                .effect_of(&MessageId::new(id))
                .map(|r| r.outcome.clone())
        };
        assert_eq!(
            outcome("0"),
            Some(Outcome::Recorded {
                at: log.at(-1),
                before_start: true
            })
        );
        assert_eq!(outcome("1"), Some(Outcome::Opened));
        assert_eq!(outcome("2"), Some(Outcome::AlreadyOpen));
        assert!(matches!(outcome("3"), Some(Outcome::Refused(_))));
        assert_eq!(outcome("4"), Some(Outcome::Resolved));
        assert_eq!(outcome("5"), Some(Outcome::AlreadyResolved));
        assert_eq!(outcome("6"), Some(Outcome::Closed));
        assert_eq!(outcome("7"), Some(Outcome::NoOpenIncident));
        assert_eq!(history.effect_of(&MessageId::new("99")), None);
        assert!(history.open_incident().is_none());
        // The early note counts toward the incident it preceded.
        assert_eq!(
            texts(&history.incidents[0], EntrySource::Command),
            ["early note"]
        );
    }

    #[test]
    fn a_channel_can_hold_one_incident_after_another() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start First")
            .say("2", 1, "B", "/timeline in first")
            .say("3", 2, "A", "/incident close")
            .say("4", 3, "C", "chatter between")
            .say("5", 4, "A", "/incident start Second")
            .say("6", 5, "B", "/timeline in second");
        let history = log.fold();
        assert_eq!(history.incidents.len(), 2);
        assert_eq!(
            texts(&history.incidents[0], EntrySource::Command),
            ["in first"]
        );
        assert_eq!(
            texts(&history.incidents[1], EntrySource::Command),
            ["in second"]
        );
        assert_eq!(history.incidents[1].participants.len(), 3);
        assert_eq!(history.open_incident().unwrap().title, "Second");
    }

    #[test]
    fn the_live_fold_equals_the_whole_fold_in_any_arrival_order() {
        let mut log = Log::new();
        log.bot("0", -5, "FIRING: error rate")
            .push("0", 3, EventKind::PinAdded)
            .say("1", 0, "A", "/incident start X --sev sev2")
            .say("2", 1, "B", "something broke")
            .react("2", 2, "UA", "pushpin")
            .say("3", 3, "A", "/timeline 09:58 first alert")
            .push(
                "3",
                4,
                EventKind::Edited {
                    text: "/timeline 09:58 first alert fired".into(),
                },
            )
            .say("4", 5, "A", "/incident resolve")
            .say("5", 6, "A", "/incident close")
            .say("6", 7, "C", "/incident start Y");
        let whole = log.fold();
        for arrival in [
            log.events.clone(),
            log.events.iter().rev().cloned().collect(),
        ] {
            let mut live = Fold::new(Settings::default());
            for event in arrival {
                live.apply(event);
            }
            let start = live.effect_of(&MessageId::new("1")).unwrap();
            assert_eq!(start.outcome, Outcome::Opened);
            assert_eq!(live.incident(&start), whole.incidents.first().cloned());
            let second = live.effect_of(&MessageId::new("6")).unwrap();
            assert_eq!(live.incident(&second), whole.incidents.get(1).cloned());
            let history = live.history();
            assert_eq!(history.incidents, whole.incidents);
            assert_eq!(history.effects, whole.effects);
        }
    }

    /// A stream of events in time order folds what the whole fold does; one before the last
    /// folded is refused and changes nothing.
    #[test]
    fn a_stream_in_time_order_equals_the_whole_fold() {
        let mut log = Log::new();
        log.bot("0", -5, "FIRING: error rate")
            .push("0", -4, EventKind::PinAdded)
            .say("1", 0, "A", "/incident start X --sev sev2")
            .say("2", 1, "B", "something broke")
            .react("2", 1, "UA", "pushpin")
            .say("3", 3, "A", "/timeline 09:58 first alert")
            .say("4", 4, "C", "looking at the dashboards")
            .say("5", 6, "A", "/incident close")
            .say("7", 8, "A", "/incident summary a flag");
        let whole = log.fold();
        let mut sorted = log.events.clone();
        sorted.sort_by_cached_key(position);
        let mut stream = Stream::new(Settings::default());
        for event in sorted {
            stream.push(event).unwrap();
        }
        let late = log.events[2].clone();
        assert_eq!(stream.push(late), Err(OutOfOrder));
        let history = stream.history();
        assert_eq!(history.incidents, whole.incidents);
        assert_eq!(history.effects, whole.effects);
        assert_eq!(history.incidents[0].summary.as_deref(), Some("a flag"));
        assert_eq!(
            history.incidents[0].participants.len(),
            3,
            "C's settled chatter counts"
        );
    }

    /// Entry numbers by text.
    fn numbers(incident: &Incident) -> Vec<(u32, String)> {
        let mut numbers: Vec<_> = incident
            .timeline
            .iter()
            .map(|e| (e.n, e.text.clone()))
            .collect();
        numbers.sort();
        numbers
    }

    fn outcome(history: &History, id: &str) -> Outcome {
        history
            .effect_of(&MessageId::new(id))
            .expect("a command")
            .outcome
            .clone()
    }

    /// Scribe's record of a checked answer, as the assist job makes it.
    fn offered(log: &mut Log, id: &str, minute: i64, json: &str) {
        log.push(
            id,
            minute,
            EventKind::Posted {
                author: Author::integration("scribe:assist", "Scribe"),
                text: format!("/incident assist suggested {json}"),
                thread: None,
            },
        );
    }

    const OFFER: &str = r##"{"suggestions":[
        {"section":"summary","text":"Checkout failed after a deploy.","cites":["#2"]},
        {"section":"factors","text":"The deploy had no canary.","cites":["#2"]},
        {"section":"worked","text":"The rollback was quick.","cites":["#2"]}],"dropped":2}"##;

    #[test]
    fn suggestions_wait_until_a_person_accepts_one() {
        let assisted = Settings {
            assist: true,
            ..Settings::default()
        };
        let mut log = Log::new();
        log.say("m1", 0, "Dana", "/incident start Checkout down")
            .say("m2", 1, "Dana", "/timeline deploy v42 went out")
            .say("m3", 2, "Sam", "/incident assist");
        offered(&mut log, "a1", 3, OFFER);
        log.say("m4", 4, "Sam", "/incident assist accept 2")
            .say("m5", 5, "Lee", "/incident assist accept 1")
            .say("m6", 6, "Lee", "/incident assist accept 2")
            .say(
                "m7",
                7,
                "Dana",
                "/incident assist suggested {\"suggestions\":[],\"dropped\":0}",
            );
        let history = fold(log.events.clone(), &assisted);
        assert_eq!(outcome(&history, "m3"), Outcome::AssistAsked(None));
        assert_eq!(
            outcome(&history, "a1"),
            Outcome::Suggested {
                kept: 3,
                dropped: 2
            }
        );
        let n = |n| Number::new(n).unwrap();
        assert_eq!(
            outcome(&history, "m4"),
            Outcome::Curated(Change::SuggestionAccepted {
                n: n(2),
                section: Section::Factors,
                item: Some(n(1)),
            })
        );
        assert!(matches!(
            outcome(&history, "m6"),
            Outcome::Refused(CommandError::NoSuch {
                what: "suggestion",
                ..
            })
        ));
        // Only Scribe records suggestions: a person typing the record is refused.
        assert!(matches!(outcome(&history, "m7"), Outcome::Refused(_)));
        let incident = &history.incidents[0];
        assert_eq!(incident.factors.len(), 1);
        assert_eq!(incident.factors[0].author, "Sam");
        assert!(incident.factors[0].assisted);
        assert_eq!(
            incident.summary.as_deref(),
            Some("Checkout failed after a deploy.")
        );
        assert_eq!(
            incident.set_by.get("summary").map(String::as_str),
            Some("Lee")
        );
        assert!(incident.assisted.contains("summary"));
        let pending: Vec<u32> = incident.suggestions.iter().map(|p| p.n).collect();
        assert_eq!(pending, [3]);
        assert_eq!(incident.suggestions_dropped, 2);
        assert!(
            incident.worked.is_empty(),
            "unaccepted text stays out of the story"
        );

        // Without a model, asking says so; a summary written by hand is no longer assisted.
        log.say("m8", 8, "Dana", "/incident summary In our own words.");
        assert_eq!(
            outcome(&fold(log.events.clone(), &Settings::default()), "m3"),
            Outcome::AssistOff
        );
        let incident = &fold(log.events.clone(), &assisted).incidents[0];
        assert!(!incident.assisted.contains("summary"));
    }

    #[test]
    fn an_answer_for_one_section_replaces_only_that_sections_pending_suggestions() {
        let assisted = Settings {
            assist: true,
            ..Settings::default()
        };
        let mut log = Log::new();
        log.say("m1", 0, "Dana", "/incident start Checkout down")
            .say("m2", 1, "Dana", "/timeline deploy v42 went out")
            .say("m3", 2, "Dana", "/incident assist worked");
        offered(&mut log, "a1", 3, OFFER);
        offered(
            &mut log,
            "a2",
            4,
            r##"{"suggestions":[{"section":"worked","text":"Paging was fast.","cites":["#2"]}],"dropped":0,"section":"worked"}"##,
        );
        let history = fold(log.events, &assisted);
        assert_eq!(
            outcome(&history, "m3"),
            Outcome::AssistAsked(Some(Section::Worked))
        );
        let pending: Vec<(u32, &str)> = history.incidents[0]
            .suggestions
            .iter()
            .map(|p| (p.n, p.suggestion.text.as_str()))
            .collect();
        assert_eq!(
            pending,
            [
                (1, "Checkout failed after a deploy."),
                (2, "The deploy had no canary."),
                (4, "Paging was fast.")
            ]
        );
    }

    #[test]
    fn a_private_incident_is_never_offered_suggestions() {
        let assisted = Settings {
            assist: true,
            ..Settings::default()
        };
        let mut log = Log::new();
        log.say("m1", 0, "Dana", "/incident start Payroll leak")
            .say("m2", 1, "Dana", "/timeline deploy v42 went out");
        offered(&mut log, "a1", 2, OFFER);
        log.say("m3", 3, "Dana", "/incident private")
            .say("m4", 4, "Dana", "/incident assist");
        offered(&mut log, "a2", 5, OFFER);
        let history = fold(log.events, &assisted);
        assert_eq!(
            outcome(&history, "m3"),
            Outcome::Curated(Change::MadePrivate)
        );
        assert_eq!(outcome(&history, "m4"), Outcome::AssistPrivate);
        assert_eq!(outcome(&history, "a2"), Outcome::AssistPrivate);
        let incident = &history.incidents[0];
        assert!(incident.private);
        assert!(incident.suggestions.is_empty());
    }

    #[test]
    fn entries_are_numbered_by_when_they_were_made_not_by_their_time() {
        let mut log = Log::new();
        log.bot("a", -5, "FIRING: queue depth")
            .push("a", -3, EventKind::PinAdded)
            .say("1", 0, "A", "/incident start X")
            .say("2", 1, "B", "/timeline workers scaled")
            .say("3", 2, "B", "looks like retries")
            .say("4", 3, "A", "/timeline 09:50 deploy went out")
            .say("5", 4, "A", "/incident severity sev1")
            .react("3", 5, "UA", "pushpin")
            // A second pin on the same message makes no second entry, and no new number.
            .push("3", 6, EventKind::PinAdded)
            .say("6", 7, "A", "/timeline list");
        let incident = log.incident();
        assert_eq!(
            numbers(&incident),
            [
                (1, "FIRING: queue depth".to_string()),
                (2, "Incident started: X".to_string()),
                (3, "workers scaled".to_string()),
                (4, "deploy went out".to_string()),
                (5, "Severity set to Critical (sev1)".to_string()),
                (6, "looks like retries".to_string()),
            ]
        );
        // In time order, the backfilled entry comes first though it was made fourth.
        assert_eq!(incident.timeline[0].n, 4);
        assert_eq!(outcome(&log.fold(), "6"), Outcome::ShowTimeline);
    }

    #[test]
    fn a_number_is_never_reused_when_its_entry_goes() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 1, "B", "/timeline oops")
            .push("2", 2, EventKind::Deleted)
            .say("3", 3, "B", "pinned finding")
            .react("3", 4, "UB", "📌")
            .push(
                "3",
                5,
                EventKind::ReactionRemoved {
                    emoji: "📌".into(),
                    user: UserId::new("UB"),
                },
            )
            .say("4", 6, "B", "/timeline still here")
            .say("5", 7, "A", "/timeline edit 2 resurrected?");
        let incident = log.incident();
        assert_eq!(
            numbers(&incident),
            [
                (1, "Incident started: X".to_string()),
                (4, "still here".to_string())
            ]
        );
        assert!(matches!(
            outcome(&log.fold(), "5"),
            Outcome::Refused(CommandError::NoSuch { .. })
        ));
    }

    #[test]
    fn curation_edits_moves_hides_and_restores_and_keeps_the_original() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 1, "B", "/timeline queue at 40k")
            .say("3", 2, "B", "/timeline noise")
            .say("4", 3, "C", "/timeline edit 2 queue at 45k")
            .say("5", 4, "C", "/timeline move #2 09:58")
            .say("6", 5, "C", "/timeline move 2 2024-03-09 09:57:30")
            .say("7", 6, "C", "/timeline remove 3")
            .say("8", 7, "A", "/timeline remove 1")
            .say("9", 8, "D", "/timeline restore 1");
        let history = log.fold();
        let incident = &history.incidents[0];
        let by_n = |n: u32| incident.timeline.iter().find(|e| e.n == n).unwrap();
        let edited = by_n(2);
        assert_eq!(edited.text, "queue at 45k");
        assert_eq!(edited.original_text.as_deref(), Some("queue at 40k"));
        assert_eq!(edited.at, log.at(-3) + Duration::seconds(30));
        assert_eq!(
            edited.original_at,
            Some(log.at(1)),
            "the time before any move"
        );
        assert_eq!(edited.edited_by.as_deref(), Some("C"));
        assert!(!edited.hidden);
        assert!(by_n(3).hidden, "hidden entries stay in the timeline");
        assert_eq!(by_n(3).text, "noise");
        assert!(!by_n(1).hidden);
        assert_eq!(by_n(1).edited_by.as_deref(), Some("D"));
        assert_eq!(incident.visible_timeline().count(), 2);
        assert_eq!(incident.timeline[0].n, 2, "moved before the start");
        assert_eq!(
            outcome(&history, "5"),
            Outcome::Curated(Change::EntryMoved(Number::new(2).unwrap(), log.at(-2)))
        );
        // Curation adds no entry and no participant beyond its author.
        assert_eq!(incident.timeline.len(), 3);
    }

    #[test]
    fn a_number_that_does_not_exist_yet_changes_nothing() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 1, "A", "/timeline edit 2 too early")
            .say("3", 2, "A", "/timeline remove 99")
            .say("4", 3, "A", "/timeline move 1 2024-03-09 10:30")
            .say("5", 4, "B", "/timeline made later");
        let history = log.fold();
        for id in ["2", "3"] {
            assert!(
                matches!(
                    outcome(&history, id),
                    Outcome::Refused(CommandError::NoSuch { .. })
                ),
                "{id}"
            );
        }
        assert!(matches!(
            outcome(&history, "4"),
            Outcome::Refused(CommandError::Future(_))
        ));
        let incident = &history.incidents[0];
        assert!(
            incident
                .timeline
                .iter()
                .all(|e| e.edited_by.is_none() && e.original_at.is_none())
        );
        assert_eq!(
            numbers(incident),
            [
                (1, "Incident started: X".to_string()),
                (2, "made later".to_string())
            ]
        );
    }

    #[test]
    fn the_story_and_actions_are_numbered_lists() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 1, "A", "/incident factor no alert on queue age")
            .say("3", 2, "B", "/incident factor retries amplified load")
            .say("4", 3, "A", "/incident factor remove 1")
            .say("5", 4, "A", "/incident worked rollback script")
            .say("6", 5, "A", "/incident improve remove 1")
            .say("7", 6, "A", "/incident ref alert https://a.example/1")
            .say("8", 7, "A", "/incident action now scaled workers @B")
            .say(
                "9",
                8,
                "A",
                "/incident action queue-age alert @C due 2024-03-20",
            )
            .say("10", 9, "A", "/incident action long redesign retries")
            .say("11", 10, "A", "/incident action done 2")
            .say("12", 11, "A", "/incident action remove 3")
            .say("13", 12, "A", "/incident action done 4")
            .say("14", 13, "A", "/incident summary first")
            .say("15", 14, "A", "/incident summary second");
        let history = log.fold();
        let incident = &history.incidents[0];
        let factors: Vec<_> = incident
            .factors
            .iter()
            .map(|f| (f.n, f.text.as_str(), f.author.as_str(), f.hidden))
            .collect();
        assert_eq!(
            factors,
            [
                (1, "no alert on queue age", "A", true),
                (2, "retries amplified load", "B", false)
            ]
        );
        assert_eq!(incident.worked.len(), 1);
        assert!(matches!(
            outcome(&history, "6"),
            Outcome::Refused(CommandError::NoSuch { .. })
        ));
        assert_eq!(
            incident.references,
            [Reference {
                n: 1,
                label: "alert".into(),
                text: "https://a.example/1".into(),
                hidden: false,
            }]
        );
        let actions: Vec<_> = incident
            .actions
            .iter()
            .map(|a| (a.n, a.horizon, a.done, a.hidden, a.owner.as_deref()))
            .collect();
        assert_eq!(
            actions,
            [
                (1, Horizon::Now, true, false, Some("B")),
                (2, Horizon::Short, true, false, Some("C")),
                (3, Horizon::Long, false, true, None),
            ]
        );
        assert_eq!(
            incident.actions[1].due,
            chrono::NaiveDate::from_ymd_opt(2024, 3, 20)
        );
        assert!(matches!(
            outcome(&history, "13"),
            Outcome::Refused(CommandError::NoSuch { .. })
        ));
        assert_eq!(incident.summary.as_deref(), Some("second"));
        // None of it is a timeline entry.
        assert_eq!(incident.timeline.len(), 1);
    }

    #[test]
    fn story_items_and_actions_take_new_text() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 1, "A", "/incident factor retries")
            .say(
                "3",
                2,
                "B",
                "/incident factor edit 1 retries doubled the load",
            )
            .say("4", 3, "A", "/incident action alert on lag @A")
            .say(
                "5",
                4,
                "B",
                "/incident action edit 1 alert on queue age due 2024-04-01",
            )
            .say("6", 5, "B", "/incident worked edit 1 nothing there");
        let history = log.fold();
        let incident = &history.incidents[0];
        assert_eq!(incident.factors[0].text, "retries doubled the load");
        assert_eq!(incident.factors[0].author, "A", "who wrote it first stays");
        let action = &incident.actions[0];
        assert_eq!(action.text, "alert on queue age");
        assert_eq!(
            action.owner.as_deref(),
            Some("A"),
            "an edit without an owner keeps it"
        );
        assert_eq!(action.due, chrono::NaiveDate::from_ymd_opt(2024, 4, 1));
        assert!(matches!(
            outcome(&history, "6"),
            Outcome::Refused(CommandError::NoSuch { .. })
        ));
    }

    #[test]
    fn after_the_close_the_story_goes_on_for_the_closed_incident() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 1, "B", "/timeline typo here")
            .say("3", 2, "A", "/incident close")
            .say("4", 60, "Late", "/incident worked paging worked")
            .say("5", 61, "Late", "/timeline edit 2 no typo")
            .say("6", 62, "Late", "/timeline list")
            .say("7", 63, "C", "/incident start Y")
            .say("8", 64, "C", "/incident factor belongs to Y");
        let history = log.fold();
        let (first, second) = (&history.incidents[0], &history.incidents[1]);
        assert_eq!(first.worked[0].text, "paging worked");
        assert_eq!(
            first.timeline.iter().find(|e| e.n == 2).unwrap().text,
            "no typo"
        );
        assert_eq!(
            history.effect_of(&MessageId::new("6")).unwrap().incident,
            Some(0)
        );
        assert_eq!(second.factors[0].text, "belongs to Y");
        // The late writer was in neither incident's channel time.
        for incident in [first, second] {
            assert!(incident.participants.iter().all(|p| p.name != "Late"));
        }
        let mut none = Log::new();
        none.say("1", 0, "A", "/incident factor nothing open");
        assert_eq!(outcome(&none.fold(), "1"), Outcome::NoOpenIncident);
    }

    #[test]
    fn a_command_that_names_a_closed_incident_is_for_that_one() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start First")
            .say("2", 1, "A", "/timeline in first")
            .say("3", 2, "A", "/incident close")
            .say("4", 3, "A", "/incident start Second")
            .say(
                "5",
                4,
                "B",
                "/incident --incident=1 factor belongs to the first",
            )
            .say(
                "6",
                5,
                "B",
                "/timeline --incident=1 edit 2 in the first, edited",
            )
            .say("7", 6, "B", "/incident factor belongs to the second")
            .say(
                "8",
                7,
                "B",
                "/incident --incident=4 worked named the open one",
            )
            .say("9", 8, "B", "/incident --incident=99 factor nowhere")
            .say("10", 9, "B", "/incident --incident=1 severity sev1")
            .say("11", 10, "B", "/timeline --incident=1 a late note");
        let history = log.fold();
        let (first, second) = (&history.incidents[0], &history.incidents[1]);
        assert_eq!(first.factors[0].text, "belongs to the first");
        assert_eq!(
            first.timeline.iter().find(|e| e.n == 2).unwrap().text,
            "in the first, edited"
        );
        assert_eq!(second.factors[0].text, "belongs to the second");
        assert_eq!(second.worked[0].text, "named the open one");
        assert_eq!(
            history.effect_of(&MessageId::new("5")).unwrap().incident,
            Some(0)
        );
        assert!(matches!(
            outcome(&history, "9"),
            Outcome::Refused(CommandError::UnknownIncident(id)) if id == "99"
        ));
        for id in ["10", "11"] {
            assert_eq!(
                outcome(&history, id),
                Outcome::Refused(CommandError::NotForClosed)
            );
        }
        assert_eq!(first.severity, None);
        assert_eq!(
            first.timeline.len(),
            3,
            "nothing added to the closed incident"
        );
    }

    #[test]
    fn team_impact_counts_people_between_start_and_close_in_their_zones() {
        let mut log = Log::new();
        let mut zoned = |id: &str, minute: i64, who: &str, zone: Tz| {
            let mut author = Author::human(format!("U-{who}"), who);
            author.zone = Some(zone);
            log.push(
                id,
                minute,
                EventKind::Posted {
                    author,
                    text: "…".into(),
                    thread: None,
                },
            );
        };
        // 10:00 UTC is 02:00 in Los Angeles (PST in March 9, 2024) and 11:00 in Berlin.
        zoned("0", -20, "Night", chrono_tz::America::Los_Angeles);
        zoned("2", 10, "Night", chrono_tz::America::Los_Angeles);
        zoned("3", 50, "Night", chrono_tz::America::Los_Angeles);
        zoned("4", 20, "Day", chrono_tz::Europe::Berlin);
        log.say("1", 0, "Day", "/incident start X")
            .bot("5", 30, "bots count for nothing")
            .say("8", 30, "Nozone", "hi")
            .say("6", 60, "Day", "/incident close")
            .say("7", 70, "Day", "after the close");
        let impact = log.incident().team_impact;
        let loads: Vec<_> = impact
            .per_person
            .iter()
            .map(|p| (p.name.as_str(), p.messages, p.first, p.last))
            .collect();
        assert_eq!(
            loads,
            [
                ("Day", 3, log.at(0), log.at(60)),
                ("Night", 2, log.at(10), log.at(50)),
                ("Nozone", 1, log.at(30), log.at(30)),
            ]
        );
        // Day: 0 and 20 are one span (20 + 5), 60 comes 40 minutes later (5); Night: two
        // lone messages, 40 minutes apart (5 + 5); Nozone: one (5).
        assert_eq!(impact.person_seconds, (25 + 5 + 10 + 5) * 60);
        assert_eq!(impact.person_hours(), 0.8);
        assert_eq!(impact.outside_hours, ["Night"]);
        assert!(!impact.zones_known, "Nozone's zone is not known");
    }

    #[test]
    fn curation_in_any_order_or_twice_folds_the_same_numbers_included() {
        let mut log = Log::new();
        log.bot("a", -5, "FIRING")
            .react("a", -4, "UA", "pushpin")
            .say("1", 0, "A", "/incident start X")
            .say("2", 1, "B", "finding")
            .react("2", 2, "UB", "📌")
            .say("3", 3, "A", "/timeline 09:59 earlier")
            .say("4", 4, "A", "/timeline edit 3 finding, edited")
            .say("5", 5, "A", "/timeline remove 1")
            .say("6", 6, "A", "/incident factor f")
            .say("7", 7, "A", "/incident action now a @B")
            .say("8", 8, "A", "/incident close")
            .say("9", 9, "A", "/timeline move 4 09:40");
        let expected = log.fold();
        let events = log.events.clone();
        let count = events.len();
        // Reversed, rotated, interleaved, and shuffled by a fixed generator, each also twice.
        let mut orders: Vec<Vec<ChatEvent>> = vec![events.iter().rev().cloned().collect()];
        for k in 1..count {
            let mut rotated = events.clone();
            rotated.rotate_left(k);
            orders.push(rotated);
        }
        let mut seed = 0x2545_f491_u64;
        for _ in 0..20 {
            let mut shuffled = events.clone();
            for i in (1..count).rev() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                shuffled.swap(i, (seed >> 33) as usize % (i + 1));
            }
            orders.push(shuffled);
        }
        for order in orders {
            let mut twice = order.clone();
            twice.extend(order.iter().rev().cloned());
            for arrival in [order, twice] {
                let history = fold(arrival.clone(), &Settings::default());
                assert_eq!(history.incidents, expected.incidents);
                assert_eq!(history.effects, expected.effects);
                let mut live = Fold::new(Settings::default());
                for event in arrival {
                    live.apply(event);
                }
                assert_eq!(live.history().incidents, expected.incidents);
            }
        }
        let incident = &expected.incidents[0];
        assert_eq!(
            numbers(incident),
            [
                (1, "FIRING".to_string()),
                (2, "Incident started: X".to_string()),
                (3, "finding, edited".to_string()),
                (4, "earlier".to_string()),
                (5, "Incident closed".to_string()),
            ]
        );
        assert!(incident.timeline.iter().find(|e| e.n == 1).unwrap().hidden);
        assert_eq!(
            incident.timeline.iter().find(|e| e.n == 4).unwrap().at,
            log.at(-20)
        );
    }

    #[test]
    fn status_and_draft_after_a_close_are_about_the_closed_incident() {
        let mut log = Log::new();
        log.say("1", 0, "A", "/incident start X")
            .say("2", 5, "A", "/incident close")
            .say("3", 6, "A", "/incident draft --publish")
            .say("4", 7, "A", "/incident status")
            .say("5", 8, "A", "/incident severity sev1");
        let history = log.fold();
        let reply = |id: &str| history.effect_of(&MessageId::new(id)).unwrap().clone();
        assert_eq!(reply("3").outcome, Outcome::Publish);
        assert_eq!(reply("3").incident, Some(0));
        assert!(matches!(reply("4").outcome, Outcome::ShowStatus(_)));
        assert_eq!(reply("5").outcome, Outcome::NoOpenIncident);
        assert_eq!(reply("5").incident, None);
    }

    #[test]
    fn a_message_belongs_to_the_incident_it_was_posted_during_or_the_next_one_started() {
        let mut log = Log::new();
        log.say("0", 0, "ana", "/incident start First")
            .say("1", 2, "ana", "/incident close")
            .say("2", 5, "ana", "/incident start Second")
            .say("3", 6, "ana", "/incident close");
        let history = log.fold();
        let title = |minute| {
            history
                .incident_at(log.at(minute))
                .map(|i| i.title.as_str())
        };
        assert_eq!(title(-10), Some("First"), "joins the first start");
        assert_eq!(title(1), Some("First"));
        assert_eq!(title(2), Some("First"), "the close is the incident's");
        assert_eq!(title(3), Some("Second"), "after a close, the next start's");
        assert_eq!(title(6), Some("Second"));
        assert_eq!(title(7), None, "after the last close, none");
        assert!(Log::new().fold().incident_at(log.at(0)).is_none());
    }

    /// Messages posted while no incident is open wait for the next start only so long: older
    /// ones join nothing and are the ones retention may delete, never the commands that write a
    /// closed incident's postmortem.
    #[test]
    fn messages_wait_for_a_start_only_so_long() {
        let settings = Settings {
            waits_for_start: Some(Duration::hours(24)),
            ..Settings::default()
        };
        let day = 24 * 60;
        let mut log = Log::new();
        log.say("old", 0, "Robin", "deploy went out")
            .react("old", 1, "U-Robin", "pushpin")
            .say("o2", 2, "Robin", "/incident lead @Robin")
            .say("fresh", 2 * day, "Zoë", "alert: checkout 5xx")
            .react("fresh", 2 * day + 1, "U-Zoë", "pushpin")
            .say("s", 2 * day + 30, "Zoë", "/incident start Checkout")
            .say("c", 2 * day + 60, "Zoë", "/incident close")
            .say("sum", 2 * day + 61, "Zoë", "/incident summary a flag")
            .say("after", 2 * day + 62, "Zoë", "thanks all");
        let history = fold(log.events.clone(), &settings);
        let incident = &history.incidents[0];
        assert_eq!(
            texts(incident, EntrySource::Reaction),
            ["alert: checkout 5xx"]
        );
        assert_eq!(
            incident.participants.len(),
            1,
            "Robin's old message is not in it"
        );
        assert_eq!(incident.summary.as_deref(), Some("a flag"));
        assert!(history.incident_at(log.at(0)).is_none());
        assert!(history.incident_at(log.at(2 * day)).is_some());
        // Without the setting, every message since the last close joins.
        assert_eq!(
            texts(&log.incident(), EntrySource::Reaction),
            ["deploy went out", "alert: checkout 5xx"]
        );

        let ids = |now| -> Vec<String> {
            let mut fold = Fold::new(settings.clone());
            for event in log.events.clone() {
                fold.apply(event);
            }
            fold.forgettable(now)
                .into_iter()
                .map(|m| m.as_str().to_owned())
                .collect()
        };
        assert_eq!(ids(log.at(3 * day)), ["old", "o2"]);
        assert_eq!(
            ids(log.at(4 * day)),
            ["old", "o2", "after"],
            "the summary stays"
        );
        assert!(
            Fold::new(Settings::default())
                .forgettable(log.at(9 * day))
                .is_empty()
        );
    }
}
