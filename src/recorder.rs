//! The path every live adapter and the console take: store the event durably, then fold the
//! channel's log to learn what it did. Nothing is acknowledged before it is stored.

use std::sync::Arc;

use crate::domain::{ChannelRef, ChatEvent, History, Settings, fold};
use crate::storage::{NewJob, Store, StoreError};

pub struct Recorder<S> {
    store: Arc<S>,
    settings: Settings,
}

/// An event after it was stored.
pub struct Recorded {
    /// `false` when the event had been stored before (a redelivery).
    pub new: bool,
    /// For a command, the channel's state with it applied (its reply included). Other events
    /// change no reply and call for no job, so their channel is not folded.
    pub history: Option<History>,
}

impl<S: Store> Recorder<S> {
    pub fn new(store: Arc<S>, settings: Settings) -> Self {
        Recorder { store, settings }
    }

    /// Stores `event`; for a command, with the jobs `follow_ups` derives from the channel's
    /// state once it is applied, in one transaction: a crash leaves both or neither.
    #[tracing::instrument(skip_all, fields(channel = %event.channel, message = %event.message))]
    pub async fn record(
        &self,
        event: &ChatEvent,
        follow_ups: impl FnOnce(&History) -> Vec<NewJob>,
    ) -> Result<Recorded, StoreError> {
        let (history, jobs) = if event.is_command() {
            let mut events = self.store.channel_events(&event.channel).await?;
            events.push(event.clone());
            let history = fold(events, &self.settings);
            let jobs = follow_ups(&history);
            (Some(history), jobs)
        } else {
            (None, Vec::new())
        };
        let new = self.store.append(event, &jobs).await?;
        if !new {
            tracing::debug!("redelivered event ignored");
        }
        Ok(Recorded { new, history })
    }

    /// The channel's incidents, folded from its stored log.
    pub async fn history(&self, channel: &ChannelRef) -> Result<History, StoreError> {
        let events = self.store.channel_events(channel).await?;
        Ok(fold(events, &self.settings))
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}
