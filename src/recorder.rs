//! The path every live adapter and the console take: store the event durably, then fold the
//! channel's log to learn what it did. Nothing is acknowledged before it is stored.

use crate::domain::{ChannelRef, ChatEvent, History, Settings, fold};
use crate::storage::{Store, StoreError};

pub struct Recorder<S> {
    store: S,
    settings: Settings,
}

/// An event after it was stored.
pub struct Recorded {
    /// `false` when the event had been stored before (a redelivery).
    pub new: bool,
    /// The channel's state with the event applied.
    pub history: History,
}

impl<S: Store> Recorder<S> {
    pub fn new(store: S, settings: Settings) -> Self {
        Recorder { store, settings }
    }

    #[tracing::instrument(skip_all, fields(channel = %event.channel, message = %event.message))]
    pub async fn record(&self, event: &ChatEvent) -> Result<Recorded, StoreError> {
        let new = self.store.append(event).await?;
        if !new {
            tracing::debug!("redelivered event ignored");
        }
        let history = self.history(&event.channel).await?;
        Ok(Recorded { new, history })
    }

    /// The channel's incidents, folded from its stored log.
    pub async fn history(&self, channel: &ChannelRef) -> Result<History, StoreError> {
        let events = self.store.channel_events(channel).await?;
        Ok(fold(events, &self.settings))
    }

    pub fn store(&self) -> &S {
        &self.store
    }
}
