//! The domain core: incidents, their timeline, the command grammar and the fold over chat
//! events. Pure: no I/O, no clock, nothing about a chat platform, SQL, templates or git.
//! Everything else in the crate depends on this module, never the reverse.

pub mod assist;
pub mod command;
pub mod engine;
pub mod event;
pub mod incident;
pub mod known;
pub mod participant;
pub mod reminders;
pub mod reply;
pub mod severity;
pub mod team_impact;
pub mod timeline;

pub use command::{
    ActionCommand, AssistCommand, Command, CommandError, EntryCommand, IncidentCommand, ItemChange,
    NewTime, Number, PostmortemCommand, RefChange, TimelineNote,
};
pub use engine::{Change, Effect, Fold, History, OutOfOrder, Outcome, Settings, Stream, fold};
pub use event::{
    Author, AuthorKind, ChannelRef, ChatEvent, EventKey, EventKind, MessageId, Platform, UserId,
};
pub use incident::{
    Action, Horizon, Incident, IncidentId, Issue, Postmortem, PostmortemState, Reference, Stage,
    Status, StoryItem, StoryList,
};
pub use known::{Known, known};
pub use participant::Participant;
pub use severity::Severity;
pub use team_impact::{PersonLoad, TeamImpact};
pub use timeline::{EntrySource, TimelineEntry};
