//! The path every live adapter and the console take: store the event durably, then learn what
//! it did from the channel's fold. Nothing is acknowledged before it is stored.
//!
//! Each channel's fold is kept in memory and updated event by event, so a command costs what it
//! adds, not what the channel holds. Before a command is folded, the number of events the store
//! holds for the channel is compared with the number the fold has seen: when another process
//! wrote to the channel, the fold is rebuilt from the store, which stays the truth.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::SubsecRound;

use crate::domain::{ChannelRef, ChatEvent, Fold, History, Incident, IncidentId, Reply, Settings};
use crate::storage::{NewJob, Store, StoreError};

/// Folds kept in memory at most; the least recently used is dropped first (and rebuilt from
/// the store if its channel speaks again).
const CACHED_CHANNELS: usize = 256;

pub struct Recorder<S> {
    store: Arc<S>,
    settings: Settings,
    channels: Mutex<Channels>,
}

#[derive(Default)]
struct Channels {
    slots: HashMap<ChannelRef, (Arc<tokio::sync::Mutex<Cached>>, u64)>,
    tick: u64,
}

/// A channel's fold, and how many stored events it has seen.
struct Cached {
    fold: Fold,
    stored: usize,
    loaded: bool,
}

/// An event after it was stored.
pub struct Recorded {
    /// `false` when the event had been stored before (a redelivery).
    pub new: bool,
    /// What the event did, when it is a command.
    pub reply: Option<Reply>,
    /// The incident the command acted on, complete, when the answer speaks of it
    /// ([`crate::domain::Outcome::mentions_incident`]).
    pub incident: Option<Incident>,
}

impl<S: Store> Recorder<S> {
    pub fn new(store: Arc<S>, settings: Settings) -> Self {
        Recorder {
            store,
            settings,
            channels: Mutex::new(Channels::default()),
        }
    }

    fn slot(&self, channel: &ChannelRef) -> Arc<tokio::sync::Mutex<Cached>> {
        let mut channels = self.channels.lock().expect("channel cache lock");
        channels.tick += 1;
        let tick = channels.tick;
        if !channels.slots.contains_key(channel) && channels.slots.len() >= CACHED_CHANNELS {
            let oldest = channels
                .slots
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(channel, _)| channel.clone());
            if let Some(oldest) = oldest {
                channels.slots.remove(&oldest);
            }
        }
        let settings = &self.settings;
        let (slot, used) = channels.slots.entry(channel.clone()).or_insert_with(|| {
            let cached = Cached {
                fold: Fold::new(settings.clone()),
                stored: 0,
                loaded: false,
            };
            (Arc::new(tokio::sync::Mutex::new(cached)), 0)
        });
        *used = tick;
        Arc::clone(slot)
    }

    /// Brings the fold up to date with the store.
    async fn sync(&self, channel: &ChannelRef, cached: &mut Cached) -> Result<(), StoreError> {
        if cached.loaded && self.store.channel_len(channel).await? == cached.stored {
            return Ok(());
        }
        let events = self.store.channel_events(channel).await?;
        let mut fold = Fold::new(self.settings.clone());
        cached.stored = events.len();
        for event in events {
            fold.apply(event);
        }
        cached.fold = fold;
        cached.loaded = true;
        Ok(())
    }

    /// Stores `event`; for a command, with the jobs `follow_ups` derives from what it did, in
    /// one transaction: a crash leaves both or neither.
    #[tracing::instrument(skip_all, fields(channel = %event.channel, message = %event.message))]
    pub async fn record(
        &self,
        event: &ChatEvent,
        follow_ups: impl FnOnce(&Reply, Option<IncidentId>) -> Vec<NewJob>,
    ) -> Result<Recorded, StoreError> {
        // Stores keep microseconds: fold the event as it will read back after a restart.
        let event = &ChatEvent {
            at: event.at.trunc_subsecs(6),
            ..event.clone()
        };
        let slot = self.slot(&event.channel);
        let mut cached = slot.lock().await;
        if !event.is_command() {
            // No reply and no job: store it, and fold it only where the channel is folded.
            let new = self.store.append(event, &[]).await?;
            if new && cached.loaded {
                cached.fold.apply(event.clone());
                cached.stored += 1;
            }
            return Ok(Recorded {
                new,
                reply: None,
                incident: None,
            });
        }
        self.sync(&event.channel, &mut cached).await?;
        cached.fold.apply(event.clone());
        let reply = cached.fold.reply_to(&event.message);
        let jobs = reply
            .as_ref()
            .map(|reply| follow_ups(reply, cached.fold.incident_id(reply)))
            .unwrap_or_default();
        let new = match self.store.append(event, &jobs).await {
            Ok(new) => new,
            Err(error) => {
                // The fold holds an event the store does not: rebuild it next time.
                cached.loaded = false;
                return Err(error);
            }
        };
        if new {
            cached.stored += 1;
        } else {
            tracing::debug!("redelivered event ignored");
        }
        let incident = reply
            .as_ref()
            .filter(|reply| reply.outcome.mentions_incident())
            .and_then(|reply| cached.fold.incident(reply));
        Ok(Recorded {
            new,
            reply,
            incident,
        })
    }

    /// The channel's incidents, folded from its stored log.
    pub async fn history(&self, channel: &ChannelRef) -> Result<History, StoreError> {
        let slot = self.slot(channel);
        let mut cached = slot.lock().await;
        self.sync(channel, &mut cached).await?;
        Ok(cached.fold.history())
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }
}
