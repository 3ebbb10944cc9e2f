//! The path every live adapter and the console take (through `App::record`): a command is
//! folded first, to learn what it does and which jobs it calls for, then stored with those
//! jobs; any other event is stored and folded at the channel's next read. Nothing is
//! acknowledged before it is stored, and no answer is given from a fold the store refused.
//!
//! Each channel's fold is kept in memory and updated event by event, so a command costs what it
//! adds, not what the channel holds. The fold remembers the last event number
//! ([`crate::storage::Appended::seq`]) it has read; before a command is folded, it reads the
//! channel's events stored after that one, whoever stored them (this recorder's other events,
//! another recorder, another process). The store stays the truth. One read serves every
//! command of the channel that arrived before it began: anything acknowledged before such a
//! command arrived was committed before the read took its snapshot, so a second read would
//! find nothing the command must see.
//!
//! A store with one writer at a time (SQLite) can vouch for a fold instead ([`Store::watch`]):
//! while no one else has stored an event in the channel since its last read, a command is
//! folded without one. When the store learns, as it writes the command, that another process
//! stored events meanwhile, it refuses the command ([`StoreError::Stale`]), and the command is
//! folded again after a read.
//!
//! A command holds its channel while it is folded and queued for the store, not while its
//! commit is in flight: the next command of the channel is folded on top of it meanwhile, so
//! a busy channel's commands share commits. Each answer still waits for its own commit, and a
//! channel's commands are a [`Chain`]: when one fails to be stored, the ones folded on top of
//! it are refused too, and the fold is rebuilt from the store. Any other event only takes its
//! place in the store's queue under the channel's lock, so that a channel's events are stored
//! in the order they came.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::SubsecRound;

use crate::domain::{
    ChannelRef, ChatEvent, Effect, EventKey, Fold, History, Incident, IncidentId, Settings,
};
use crate::storage::{Basis, Chain, Logged, NewJob, Store, StoreError};

/// What the folds kept in memory may take together unless told ([`Recorder::with_budget`]);
/// the least recently used is dropped first (and rebuilt from the store if its channel
/// speaks again).
const BUDGET: usize = 256 << 20;

/// Times a command is folded again after the store refused it as stale; the first refold reads
/// the store, so only a channel that other processes keep writing to needs more than two.
const ATTEMPTS: usize = 4;

pub struct Recorder<S> {
    store: Arc<S>,
    settings: Settings,
    /// [`BUDGET`], or as told.
    budget: usize,
    channels: Mutex<Channels>,
    /// Orders arrivals and reads: a read serves a command that took its ticket before the read
    /// took one.
    tickets: AtomicU64,
}

#[derive(Default)]
struct Channels {
    slots: HashMap<ChannelRef, Slot>,
    tick: u64,
}

struct Slot {
    cached: Arc<tokio::sync::Mutex<Cached>>,
    /// When it was last asked for, in [`Channels::tick`]s.
    used: u64,
    /// [`Fold::weight`] as of the fold's last change, readable without its lock.
    weight: Arc<AtomicUsize>,
}

/// A channel's fold, and which stored events it has seen.
struct Cached {
    fold: Fold,
    /// Every stored event of the channel up to this number is in the fold.
    seen: i64,
    /// The ticket taken when the fold last read the store.
    read_at: u64,
    /// The store's epoch at that read, when the store vouches for the fold ([`Store::watch`]).
    epoch: Option<u64>,
    /// This recorder's own commands, in the fold already but not yet read back from the store
    /// (their commits may still be in flight), in the order they were queued.
    ahead: VecDeque<EventKey>,
    loaded: bool,
    /// What the fold's own commands are appended on; a new one each time the fold is rebuilt.
    chain: Arc<Chain>,
    /// The slot's [`Slot::weight`].
    weight: Arc<AtomicUsize>,
}

impl Cached {
    /// Tells the cache what the fold takes now.
    fn weighed(&self) {
        self.weight.store(self.fold.weight(), Ordering::Relaxed);
    }

    /// One own event with `key` no longer ahead of the store: read back, or stored before.
    fn caught_up(&mut self, key: &EventKey) -> bool {
        // Read back in the order they were queued: usually the first.
        let position = self.ahead.iter().position(|ahead| ahead == key);
        position.and_then(|at| self.ahead.remove(at)).is_some()
    }

    /// The store still vouches for the fold: nobody else stored an event in the channel since
    /// the fold last read it, and the store's epoch, now `epoch`, has not moved.
    fn vouched(&self, epoch: Option<u64>) -> bool {
        self.chain.is_current() && self.epoch.is_some() && self.epoch == epoch
    }

    /// A command folded without a read is stored as number `seq`. While the store still
    /// vouches for the fold, every event of the channel up to that number is in it, and the
    /// commands queued before this one are stored below it: none of them will be read back.
    fn stored_unread(&mut self, key: &EventKey, seq: i64, chain: &Arc<Chain>, epoch: Option<u64>) {
        if seq <= self.seen || !Arc::ptr_eq(&self.chain, chain) || !self.vouched(epoch) {
            return;
        }
        if let Some(at) = self.ahead.iter().position(|ahead| ahead == key) {
            self.ahead.drain(..=at);
        }
        self.seen = seq;
    }
}

/// An event after it was stored.
pub struct Recorded {
    /// `false` when the event had been stored before (a redelivery).
    pub new: bool,
    /// Jobs were stored with the event: the job worker has something to do.
    pub queued: bool,
    /// What the event did, when it is a command.
    pub effect: Option<Effect>,
    /// A command's text as stored: on a redelivery the first delivery's, which is the one
    /// that counted, whatever the redelivery says.
    pub stored_text: Option<String>,
    /// The incident the command acted on, complete, when the answer speaks of it
    /// ([`crate::domain::Outcome::mentions_incident`]).
    pub incident: Option<Incident>,
}

impl<S: Store> Recorder<S> {
    pub fn new(store: Arc<S>, settings: Settings) -> Self {
        Recorder {
            store,
            settings,
            budget: BUDGET,
            channels: Mutex::new(Channels::default()),
            tickets: AtomicU64::new(0),
        }
    }

    /// The same, keeping the folds in memory to `bytes` together (`[performance]
    /// fold_cache_mb`).
    pub fn with_budget(mut self, bytes: usize) -> Self {
        self.budget = bytes;
        self
    }

    /// The channel's slot, made when missing.
    fn slot(&self, channel: &ChannelRef) -> Arc<tokio::sync::Mutex<Cached>> {
        let mut channels = self.channels.lock().expect("channel cache lock");
        channels.tick += 1;
        let tick = channels.tick;
        let settings = &self.settings;
        let slot = channels.slots.entry(channel.clone()).or_insert_with(|| {
            let weight = Arc::new(AtomicUsize::new(0));
            let cached = Cached {
                fold: Fold::new(settings.clone()),
                seen: 0,
                read_at: 0,
                epoch: None,
                ahead: VecDeque::new(),
                loaded: false,
                chain: Arc::default(),
                weight: Arc::clone(&weight),
            };
            Slot {
                cached: Arc::new(tokio::sync::Mutex::new(cached)),
                used: 0,
                weight,
            }
        });
        slot.used = tick;
        Arc::clone(&slot.cached)
    }

    /// Drops the folds spoken in least recently while all of them take more than the budget;
    /// never `channel`'s, which has just been used.
    fn keep_to_budget(&self, channel: &ChannelRef) {
        let mut channels = self.channels.lock().expect("channel cache lock");
        let weigh = |slot: &Slot| slot.weight.load(Ordering::Relaxed);
        let mut total: usize = channels.slots.values().map(weigh).sum();
        if total <= self.budget {
            return;
        }
        let mut by_use: Vec<(u64, ChannelRef, usize)> = channels
            .slots
            .iter()
            .filter(|(other, _)| *other != channel)
            .map(|(other, slot)| (slot.used, other.clone(), weigh(slot)))
            .collect();
        by_use.sort_unstable_by_key(|(used, _, _)| *used);
        for (_, other, weight) in by_use {
            if total <= self.budget {
                break;
            }
            channels.slots.remove(&other);
            total -= weight;
        }
    }

    /// The channel's slot when it has one (a command was recorded there).
    fn existing_slot(&self, channel: &ChannelRef) -> Option<Arc<tokio::sync::Mutex<Cached>>> {
        let channels = self.channels.lock().expect("channel cache lock");
        channels
            .slots
            .get(channel)
            .map(|slot| Arc::clone(&slot.cached))
    }

    /// Brings the fold up to date with the store: folds the events stored since it last
    /// looked, or every event when it was not loaded.
    async fn sync(&self, channel: &ChannelRef, cached: &mut Cached) -> Result<(), StoreError> {
        if !cached.loaded {
            cached.fold = Fold::new(self.settings.clone());
            cached.seen = 0;
            cached.ahead.clear();
            cached.chain = Arc::default();
        }
        // Both taken before the read begins: an event stored after that ends the watch, and a
        // command that arrives after that reads again (or is vouched for).
        let epoch = self.store.watch(channel, &cached.chain);
        let ticket = self.ticket();
        let events = self
            .store
            .channel_events_after(channel, cached.seen)
            .await?;
        for Logged { seq, event } in events {
            if !cached.caught_up(&event.key()) {
                cached.fold.apply(event);
            }
            cached.seen = seq;
        }
        cached.loaded = true;
        cached.read_at = ticket;
        cached.epoch = epoch;
        cached.weighed();
        Ok(())
    }

    fn ticket(&self) -> u64 {
        self.tickets.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Stores `event`; for a command, with the jobs `follow_ups` derives from what it did, in
    /// one transaction: a crash leaves both or neither.
    #[tracing::instrument(skip_all, fields(channel = %event.channel, message = %event.message))]
    pub async fn record(
        &self,
        event: &ChatEvent,
        follow_ups: impl Fn(
            &Effect,
            Option<IncidentId>,
            &mut dyn FnMut() -> Option<Incident>,
        ) -> Vec<NewJob>,
    ) -> Result<Recorded, StoreError> {
        // Stores keep microseconds: fold the event as it will read back after a restart.
        let event = &ChatEvent {
            at: event.at.trunc_subsecs(6),
            ..event.clone()
        };
        if !event.is_command() {
            // No reply and no job: queue it behind the channel's command in progress, if any,
            // and wait for the commit without holding the channel. The fold reads it from
            // the store before the next command.
            let appended = match self.existing_slot(&event.channel) {
                Some(slot) => {
                    let _order = slot.lock().await;
                    self.store.append_entry(event, &[])
                }
                None => self.store.append_entry(event, &[]),
            };
            return Ok(Recorded {
                new: appended.await?.new,
                queued: false,
                effect: None,
                stored_text: None,
                incident: None,
            });
        }
        let arrived = self.ticket();
        let mut attempt = 1;
        loop {
            match self.record_command(event, &follow_ups, arrived).await {
                Err(StoreError::Stale) if attempt < ATTEMPTS => attempt += 1,
                recorded => return recorded,
            }
        }
    }

    /// A command, on the channel's fold: see [`Recorder::record`].
    async fn record_command(
        &self,
        event: &ChatEvent,
        follow_ups: &impl Fn(
            &Effect,
            Option<IncidentId>,
            &mut dyn FnMut() -> Option<Incident>,
        ) -> Vec<NewJob>,
        arrived: u64,
    ) -> Result<Recorded, StoreError> {
        let slot = self.slot(&event.channel);
        let (appended, chain, reply, incident, queued, unread, stored_text) = {
            let mut cached = slot.lock().await;
            // Folded without a read when one began after the command arrived, or on the
            // store's word that nothing was stored in the channel since the last one.
            let unread = if cached.loaded && cached.read_at > arrived {
                None
            } else if cached.loaded && cached.vouched(self.store.epoch()) {
                cached.epoch
            } else {
                self.sync(&event.channel, &mut cached).await?;
                None
            };
            cached.fold.apply(event.clone());
            cached.weighed();
            self.keep_to_budget(&event.channel);
            let reply = cached.fold.effect_of(&event.message);
            let stored_text = cached.fold.posted_text(&event.message).map(str::to_owned);
            let jobs = reply
                .as_ref()
                .map(|reply| {
                    let id = cached.fold.incident_id(reply);
                    follow_ups(reply, id, &mut || cached.fold.incident(reply))
                })
                .unwrap_or_default();
            cached.ahead.push_back(event.key());
            let basis = Basis {
                chain: &cached.chain,
                unread,
            };
            let appended = self.store.append_chained(event, &jobs, Some(basis));
            let incident = reply
                .as_ref()
                .filter(|reply| reply.outcome.mentions_incident())
                .and_then(|reply| cached.fold.incident(reply));
            let queued = !jobs.is_empty();
            let chain = Arc::clone(&cached.chain);
            (
                appended,
                chain,
                reply,
                incident,
                queued,
                unread,
                stored_text,
            )
        };
        match appended.await {
            Ok(appended) if appended.new => {
                if let (Some(_), Some(seq)) = (unread, appended.seq) {
                    let epoch = self.store.epoch();
                    let mut cached = slot.lock().await;
                    cached.stored_unread(&event.key(), seq, &chain, epoch);
                }
                Ok(Recorded {
                    new: true,
                    queued,
                    effect: reply,
                    stored_text,
                    incident,
                })
            }
            Ok(_) => {
                tracing::debug!("redelivered event ignored");
                slot.lock().await.caught_up(&event.key());
                Ok(Recorded {
                    new: false,
                    queued,
                    effect: reply,
                    stored_text,
                    incident,
                })
            }
            Err(error) => {
                // The fold holds an event the store does not: rebuild it, unless a later
                // failure of the same chain already had it rebuilt.
                let mut cached = slot.lock().await;
                if Arc::ptr_eq(&cached.chain, &chain) {
                    cached.loaded = false;
                }
                Err(error)
            }
        }
    }

    /// The channel's incidents, folded from its stored log.
    pub async fn history(&self, channel: &ChannelRef) -> Result<History, StoreError> {
        let slot = self.slot(channel);
        let mut cached = slot.lock().await;
        self.sync(channel, &mut cached).await?;
        self.keep_to_budget(channel);
        Ok(cached.fold.history())
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// Drops the channel's fold, as the cache does when it is full: events were deleted from
    /// its log (retention), and what the fold held of them is memory no answer needs.
    pub fn unload(&self, channel: &ChannelRef) {
        let mut channels = self.channels.lock().expect("channel cache lock");
        channels.slots.remove(channel);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;
    use crate::domain::{Author, EventKind, MessageId, Outcome, Platform};
    use crate::storage::SqliteStore;

    fn said(id: usize, text: &str) -> ChatEvent {
        ChatEvent {
            channel: ChannelRef::new(Platform::Slack, "C1"),
            message: MessageId::new(format!("{id}")),
            at: Utc.with_ymd_and_hms(2024, 3, 9, 10, 0, 0).unwrap() + Duration::seconds(id as i64),
            kind: EventKind::Posted {
                author: Author::human("U1", "Robin"),
                text: text.into(),
                thread: None,
            },
        }
    }

    /// Chatter and commands recorded at the same time on one channel: the commands' folds
    /// read the chatter stored meanwhile, and end where a fold of the stored log ends.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn chatter_between_commands_reaches_the_fold() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
        let store = Arc::new(SqliteStore::open(&url).await.unwrap());
        let live = Arc::new(Recorder::new(Arc::clone(&store), Settings::default()));
        live.record(&said(0, "/incident start Checkout 5xx"), |_, _, _| {
            Vec::new()
        })
        .await
        .unwrap();
        let tasks: Vec<_> = (1..=200)
            .map(|i| {
                let live = Arc::clone(&live);
                let text = match i % 5 {
                    0 => format!("/timeline step {i}"),
                    _ => format!("chatter {i}"),
                };
                tokio::spawn(async move {
                    let recorded = live.record(&said(i, &text), |_, _, _| Vec::new()).await;
                    assert!(recorded.unwrap().new);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let closed = live
            .record(&said(201, "/incident close"), |_, _, _| Vec::new())
            .await
            .unwrap()
            .incident
            .expect("a close speaks of its incident");
        assert_eq!(closed.participants[0].messages, 202);
        let steps = closed
            .timeline
            .iter()
            .filter(|e| e.text.starts_with("step"));
        assert_eq!(steps.count(), 40);
        let restarted = Recorder::new(store, Settings::default());
        let channel = ChannelRef::new(Platform::Slack, "C1");
        assert_eq!(
            restarted.history(&channel).await.unwrap().incidents,
            vec![closed]
        );
    }

    /// A command folded on top of one whose commit then fails is refused, not answered from a
    /// state the store does not hold; the fold is rebuilt from the store for the next one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_command_built_on_a_failed_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
        let store = Arc::new(SqliteStore::open(&url).await.unwrap());
        store.poison().await;
        let live = Recorder::new(Arc::clone(&store), Settings::default());
        let start = ChatEvent {
            message: MessageId::new("poison"),
            ..said(1, "/incident start Checkout 5xx")
        };
        let severity = said(2, "/incident severity SEV1");
        let (start, severity) = tokio::join!(
            live.record(&start, |_, _, _| Vec::new()),
            live.record(&severity, |_, _, _| Vec::new()),
        );
        assert!(start.is_err(), "the start is refused by the database");
        let severity = severity.err().expect("built on the refused start");
        assert!(matches!(severity, StoreError::ChainBroken), "{severity}");

        let again = live
            .record(&said(3, "/incident severity SEV2"), |_, _, _| Vec::new())
            .await
            .unwrap();
        assert_eq!(again.effect.unwrap().outcome, Outcome::NoOpenIncident);
        let channel = ChannelRef::new(Platform::Slack, "C1");
        assert_eq!(store.channel_events(&channel).await.unwrap().len(), 1);
    }

    /// A channel busy with commands alone is folded on the store's word, never read back: the
    /// fold does not keep its own commands twice (in the fold, and as not yet read back).
    #[tokio::test]
    async fn commands_folded_unread_are_not_kept_twice() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
        let store = Arc::new(SqliteStore::open(&url).await.unwrap());
        let live = Recorder::new(Arc::clone(&store), Settings::default());
        live.record(&said(0, "/incident start Checkout 5xx"), |_, _, _| {
            Vec::new()
        })
        .await
        .unwrap();
        for i in 1..=50 {
            let text = format!("/timeline step {i}");
            live.record(&said(i, &text), |_, _, _| Vec::new())
                .await
                .unwrap();
        }
        let channel = ChannelRef::new(Platform::Slack, "C1");
        let slot = live.slot(&channel);
        let cached = slot.lock().await;
        assert!(cached.ahead.is_empty(), "{} kept", cached.ahead.len());
        let stored = store.channel_events(&channel).await.unwrap();
        assert_eq!(stored.len(), 51);
        assert_eq!(cached.seen, 51, "the fold has seen every stored event");
    }

    /// The folds kept in memory keep to the budget: the channels spoken in least recently are
    /// dropped first, never the one speaking, and a dropped channel's next command is answered
    /// from the store as if it had never left.
    #[tokio::test]
    async fn folds_keep_to_the_budget_least_recently_used_first() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
        let store = Arc::new(SqliteStore::open(&url).await.unwrap());
        let in_channel = |channel: &str, id: usize, text: &str| ChatEvent {
            channel: ChannelRef::new(Platform::Slack, channel),
            ..said(id, text)
        };
        let weight = |live: &Recorder<SqliteStore>| -> Vec<(String, usize)> {
            let channels = live.channels.lock().unwrap();
            let mut all: Vec<(String, usize)> = channels
                .slots
                .iter()
                .map(|(c, slot)| (c.id.clone(), slot.weight.load(Ordering::Relaxed)))
                .collect();
            all.sort();
            all
        };
        async fn record(live: &Recorder<SqliteStore>, event: ChatEvent) -> Recorded {
            live.record(&event, |_, _, _| Vec::new()).await.unwrap()
        }
        let unbounded = Recorder::new(Arc::clone(&store), Settings::default());
        for channel in ["A", "B", "C"] {
            record(
                &unbounded,
                in_channel(channel, 0, "/incident start Disk full"),
            )
            .await;
            for i in 1..=20 {
                record(
                    &unbounded,
                    in_channel(channel, i, &format!("/timeline step {i}")),
                )
                .await;
            }
        }
        let weights = weight(&unbounded);
        assert_eq!(weights.len(), 3);
        let one = weights[0].1;
        assert!(one > 20 * std::mem::size_of::<ChatEvent>(), "{weights:?}");

        // Room for two folds: a third channel's command drops the least recently used.
        let live =
            Recorder::new(Arc::clone(&store), Settings::default()).with_budget(one * 2 + one / 2);
        for channel in ["A", "B", "C"] {
            record(&live, in_channel(channel, 21, "/timeline more")).await;
        }
        let kept: Vec<String> = weight(&live).into_iter().map(|(c, _)| c).collect();
        assert_eq!(kept, ["B", "C"]);
        let status = record(&live, in_channel("A", 22, "/incident status")).await;
        let incident = status.incident.expect("a status speaks of its incident");
        assert_eq!(
            incident.timeline.len(),
            22,
            "read back whole from the store"
        );
        let kept: Vec<String> = weight(&live).into_iter().map(|(c, _)| c).collect();
        assert_eq!(kept, ["A", "C"], "B was the least recently used");
    }
}
