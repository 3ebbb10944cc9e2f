//! Group commit: one task per store writes every append, committing the appends that arrived
//! while the previous commit was in flight together, in one transaction. One sync then
//! acknowledges many events, and no append is acknowledged before its transaction committed.
//!
//! The queue is first in, first out, and an append takes its place in it when
//! [`Writer::submit`] is called: appends submitted in some order are stored in that order.
//! When anything in a batch fails, the batch is rolled back and every append in it is written
//! again alone, in order, so one bad append fails alone and takes no other with it, except the
//! appends of its [`Chain`], which build on it.
//!
//! A store with one writer at a time (SQLite) can also vouch for a recorder's fold: that no one
//! else stored an event in its channel since the fold last read it, so a command can be folded
//! without reading the store first. Within the process, the writer tells: it stores every
//! event, and marks a watched channel's [`Chain`] no longer current when it stores an event of
//! that channel from anyone else. Other processes are caught by the statement that stores a
//! batch: it inserts only while the log's newest event is still the one the writer stored last
//! ([`GuardedBackend`]). When it is not, the store's epoch moves on and every append folded
//! without a read since is refused ([`StoreError::Stale`]), to be folded again after one.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{mpsc, oneshot};

use super::{Appended, NewJob, StoreError};
use crate::domain::{ChannelRef, ChatEvent};

/// At most this many appends share a transaction (and a statement: 6 parameters each).
const MAX_BATCH: usize = 256;

/// Jobs inserted by one statement at most (4 parameters each).
pub(crate) const JOBS_PER_INSERT: usize = 1_000;

/// What an insert of events returns for each row it stored: the number and the key.
pub(crate) type Inserted = (i64, String, String, String, String);

/// Each append's outcome, from the rows the batch's insert returned: the first append of a
/// key the insert stored is new; any other is not (its key was stored before, or earlier in
/// the batch).
pub(crate) fn outcomes(rows: &[&Append], inserted: Vec<Inserted>) -> Vec<Appended> {
    let mut seqs: HashMap<(String, String, String, String), i64> = inserted
        .into_iter()
        .map(|(seq, platform, channel, message, kind)| ((platform, channel, message, kind), seq))
        .collect();
    rows.iter()
        .map(|row| {
            let key = (
                row.platform.to_owned(),
                row.channel.clone(),
                row.message.clone(),
                row.kind.clone(),
            );
            let seq = seqs.remove(&key);
            Appended {
                new: seq.is_some(),
                seq,
            }
        })
        .collect()
}

/// An append as the writer stores it, its columns computed by the caller's task.
pub(crate) struct Append {
    pub platform: &'static str,
    pub channel: String,
    pub message: String,
    pub kind: String,
    pub at_us: i64,
    pub payload: String,
    pub jobs: Vec<NewJob>,
}

impl Append {
    fn new(event: &ChatEvent, jobs: &[NewJob]) -> Self {
        let key = event.key();
        Append {
            platform: key.channel.platform.as_str(),
            channel: key.channel.id,
            message: key.message.as_str().to_owned(),
            kind: key.kind,
            at_us: event.at.timestamp_micros(),
            payload: serde_json::to_string(&event.kind).expect("events serialise"),
            jobs: jobs.to_vec(),
        }
    }
}

/// Appends that each build on the ones before them: a channel's commands, each folded on top of
/// the previous one while that one's commit may still be in flight. Once one of them fails, the
/// writer refuses every later one, so nothing is stored, or acknowledged, that was computed
/// from a state the store does not hold.
#[derive(Debug, Default)]
pub struct Chain {
    broken: AtomicU8,
    /// Watched, and no one else stored an event in the channel since (see [`Writer::watch`]).
    current: AtomicBool,
}

const INTACT: u8 = 0;
const FAILED: u8 = 1;
const STALE: u8 = 2;

impl Chain {
    /// Why a later append of the chain is refused, once it is.
    fn refusal(&self) -> Option<StoreError> {
        match self.broken.load(Ordering::Acquire) {
            INTACT => None,
            STALE => Some(StoreError::Stale),
            _ => Some(StoreError::ChainBroken),
        }
    }

    fn break_off(&self, error: &StoreError) {
        let why = match error {
            StoreError::Stale => STALE,
            _ => FAILED,
        };
        let _ = self
            .broken
            .compare_exchange(INTACT, why, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The store vouches that the chain's fold holds every event of its channel: no one else
    /// stored one since the fold last read the channel.
    pub fn is_current(&self) -> bool {
        self.current.load(Ordering::Acquire)
    }
}

/// What an append of a recorder's fold builds on.
#[derive(Debug, Clone, Copy)]
pub struct Basis<'a> {
    pub chain: &'a Arc<Chain>,
    /// The store's epoch the fold was folded in, when the command was folded without a read of
    /// the store first (on the store's word, [`Writer::watch`]): refused once the epoch moved.
    pub unread: Option<u64>,
}

pub(crate) struct Item {
    pub row: Append,
    chain: Option<Arc<Chain>>,
    unread: Option<u64>,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

impl Item {
    /// An append to queue, and its answer.
    pub fn new(event: &ChatEvent, jobs: &[NewJob], basis: Option<Basis<'_>>) -> (Item, Pending) {
        let (reply, answer) = oneshot::channel();
        let item = Item {
            row: Append::new(event, jobs),
            chain: basis.map(|basis| Arc::clone(basis.chain)),
            unread: basis.and_then(|basis| basis.unread),
            reply,
        };
        (item, Pending { answer })
    }

    fn refusal(&self) -> Option<StoreError> {
        self.chain.as_ref().and_then(|chain| chain.refusal())
    }

    /// Answers the item; a failure breaks its chain first, before anyone hears of it.
    fn answer(self, outcome: Result<Appended, StoreError>) {
        if let (Err(error), Some(chain)) = (&outcome, &self.chain) {
            chain.break_off(error);
        }
        let _ = self.reply.send(outcome);
    }
}

/// The sending side of a store's writer task. The task ends when the store and all its clones
/// are dropped.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Item>,
    /// For a store that can vouch for folds ([`Writer::spawn_guarded`]).
    watch: Option<Arc<Watch>>,
}

/// What a vouching writer shares with the store's callers.
#[derive(Debug, Default)]
struct Watch {
    /// Moves on whenever the writer finds events in the log that it did not store.
    epoch: AtomicU64,
    /// The writer knows the log's newest event: it can vouch for folds that read after now.
    known: AtomicBool,
    /// Each watched channel's chain, by (platform, channel).
    chains: Mutex<HashMap<(&'static str, String), Weak<Chain>>>,
}

/// Watched channels kept before the ones whose fold is gone are swept out.
const WATCHED: usize = 1_024;

impl Watch {
    /// The writer found events it did not store: no fold is vouched for any more, and none
    /// will be until the writer has read the log's newest event again.
    fn forget(&self) {
        self.known.store(false, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// After a batch is stored: every watched chain of a channel that gained an event from
    /// anyone else is no longer current.
    fn stored(&self, batch: &[Item], appended: &[Appended]) {
        let chains = self.chains.lock().expect("watch lock");
        if chains.is_empty() {
            return;
        }
        for (item, appended) in batch.iter().zip(appended) {
            if !appended.new {
                continue;
            }
            let key = (item.row.platform, item.row.channel.clone());
            let Some(watched) = chains.get(&key).and_then(Weak::upgrade) else {
                continue;
            };
            if !item
                .chain
                .as_ref()
                .is_some_and(|chain| Arc::ptr_eq(chain, &watched))
            {
                watched.current.store(false, Ordering::Release);
            }
        }
    }
}

/// How a backend writes a batch in one transaction, and one append alone.
pub(crate) trait Backend: Send + Sync + 'static {
    /// Writes every row in one transaction and commits it: the outcomes in the rows' order,
    /// or an error after which nothing of the batch is stored.
    fn write_batch(
        &self,
        rows: &[&Append],
    ) -> impl Future<Output = Result<Vec<Appended>, StoreError>> + Send;
}

/// A backend where events are numbered in the order they are committed, one writer at a time.
pub(crate) trait GuardedBackend: Backend {
    /// The number of the newest event in the log (0 when it is empty).
    fn newest(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// [`Backend::write_batch`], in the same statement as a check that the newest event is
    /// still number `newest`: `None`, and nothing written, when someone stored an event since.
    fn write_batch_after(
        &self,
        rows: &[&Append],
        newest: i64,
    ) -> impl Future<Output = Result<Option<Vec<Appended>>, StoreError>> + Send;
}

impl Writer {
    /// Starts the writer task of `backend` on the current Tokio runtime.
    pub fn spawn(backend: impl Backend) -> Writer {
        let (queue, items) = mpsc::unbounded_channel();
        tokio::spawn(run(backend, items));
        Writer { queue, watch: None }
    }

    /// [`Writer::spawn`] for a backend that can vouch for folds.
    pub fn spawn_guarded(backend: impl GuardedBackend) -> Writer {
        let (queue, items) = mpsc::unbounded_channel();
        let watch = Arc::new(Watch::default());
        tokio::spawn(run_guarded(backend, Arc::clone(&watch), items));
        Writer {
            queue,
            watch: Some(watch),
        }
    }

    /// Queues the append now, after its chain's earlier appends when it has one; the future
    /// resolves once it is durable (or failed).
    pub fn submit(&self, event: &ChatEvent, jobs: &[NewJob], basis: Option<Basis<'_>>) -> Pending {
        let (item, pending) = Item::new(event, jobs, basis);
        // A closed queue drops the item, and with it its reply: the answer then says so.
        let _ = self.queue.send(item);
        pending
    }

    /// Watches `channel` for `chain`, which is current from now until an event of the channel
    /// not appended on it is stored. The epoch now, to fold in; `None` when the writer cannot
    /// vouch for folds.
    pub fn watch(&self, channel: &ChannelRef, chain: &Arc<Chain>) -> Option<u64> {
        let watch = self.watch.as_ref()?;
        // The epoch before the writer's knowledge: if it forgets the log's newest event in
        // between, the epoch handed out is already an old one.
        let epoch = watch.epoch.load(Ordering::Acquire);
        if !watch.known.load(Ordering::Acquire) {
            return None;
        }
        chain.current.store(true, Ordering::Release);
        let mut chains = watch.chains.lock().expect("watch lock");
        if chains.len() >= WATCHED {
            chains.retain(|_, chain| chain.strong_count() > 0);
        }
        let key = (channel.platform.as_str(), channel.id.clone());
        if let Some(previous) = chains
            .insert(key, Arc::downgrade(chain))
            .and_then(|c| c.upgrade())
            && !Arc::ptr_eq(&previous, chain)
        {
            // Another fold of the channel (another recorder) no longer hears of this one's
            // events: it must read.
            previous.current.store(false, Ordering::Release);
        }
        Some(epoch)
    }

    /// The epoch now ([`Writer::watch`]).
    pub fn epoch(&self) -> Option<u64> {
        Some(self.watch.as_ref()?.epoch.load(Ordering::Acquire))
    }
}

/// An append in the writer's queue.
pub struct Pending {
    answer: oneshot::Receiver<Result<Appended, StoreError>>,
}

impl Future for Pending {
    type Output = Result<Appended, StoreError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.answer).poll(cx).map(|answer| {
            // The writer stopped (its runtime shut down) before answering.
            answer.unwrap_or(Err(StoreError::Database(sqlx::Error::PoolClosed)))
        })
    }
}

async fn run(backend: impl Backend, mut items: mpsc::UnboundedReceiver<Item>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while items.recv_many(&mut batch, MAX_BATCH).await > 0 {
        write(&backend, std::mem::take(&mut batch)).await;
    }
}

async fn run_guarded(
    backend: impl GuardedBackend,
    watch: Arc<Watch>,
    mut items: mpsc::UnboundedReceiver<Item>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut newest = None;
    while items.recv_many(&mut batch, MAX_BATCH).await > 0 {
        write_guarded(&backend, &watch, &mut newest, std::mem::take(&mut batch)).await;
    }
}

/// Answers the items refused unwritten (see [`Chain`]); the others are left to write.
fn refuse(batch: Vec<Item>, epoch: Option<u64>) -> Vec<Item> {
    let mut left = Vec::with_capacity(batch.len());
    for item in batch {
        match item.refusal() {
            Some(refusal) => item.answer(Err(refusal)),
            None if item.unread.is_some() && item.unread != epoch => {
                item.answer(Err(StoreError::Stale));
            }
            None => left.push(item),
        }
    }
    left
}

/// Writes `batch` on a vouching backend, and answers each item. `newest` is the newest event
/// number in the log as this writer knows it: `None` before it has read it, and again once
/// the log holds events the writer did not store. Until it knows again, it vouches for no
/// fold, so it writes without the guard.
async fn write_guarded(
    backend: &impl GuardedBackend,
    watch: &Watch,
    newest: &mut Option<i64>,
    batch: Vec<Item>,
) {
    let batch = refuse(batch, Some(watch.epoch.load(Ordering::Acquire)));
    if batch.is_empty() {
        return;
    }
    let after = match *newest {
        Some(number) => number,
        None => match backend.newest().await {
            Ok(number) => {
                *newest = Some(number);
                watch.known.store(true, Ordering::Release);
                number
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read the log's newest event; writing unguarded");
                return write(backend, refuse(batch, None)).await;
            }
        },
    };
    let rows: Vec<&Append> = batch.iter().map(|item| &item.row).collect();
    let outcome = backend.write_batch_after(&rows, after).await;
    drop(rows);
    match outcome {
        Ok(Some(appended)) => {
            let stored = appended.iter().filter_map(|a| a.seq).max();
            *newest = Some(stored.map_or(after, |seq| seq.max(after)));
            watch.stored(&batch, &appended);
            answer_all(batch, appended);
        }
        Ok(None) => {
            tracing::debug!("events stored by another process; refolding what was not read");
            *newest = None;
            watch.forget();
            write(backend, refuse(batch, None)).await;
        }
        Err(error) if batch.len() == 1 => batch.into_iter().next().unwrap().answer(Err(error)),
        Err(error) => {
            tracing::debug!(%error, size = batch.len(), "batch rolled back; writing it one by one");
            for item in batch {
                Box::pin(write_guarded(backend, watch, newest, vec![item])).await;
            }
        }
    }
}

fn answer_all(batch: Vec<Item>, appended: Vec<Appended>) {
    debug_assert_eq!(appended.len(), batch.len());
    for (item, appended) in batch.into_iter().zip(appended) {
        item.answer(Ok(appended));
    }
}

/// Writes `batch` and answers each item.
pub(crate) async fn write(backend: &impl Backend, batch: Vec<Item>) {
    let batch = refuse(batch, None);
    if batch.is_empty() {
        return;
    }
    let rows: Vec<&Append> = batch.iter().map(|item| &item.row).collect();
    let outcome = backend.write_batch(&rows).await;
    drop(rows);
    match outcome {
        Ok(appended) => answer_all(batch, appended),
        Err(error) if batch.len() == 1 => batch.into_iter().next().unwrap().answer(Err(error)),
        Err(error) => {
            tracing::debug!(%error, size = batch.len(), "batch rolled back; writing it one by one");
            for item in batch {
                if let Some(refusal) = item.refusal() {
                    item.answer(Err(refusal));
                    continue;
                }
                let outcome = backend.write_batch(&[&item.row]).await;
                item.answer(outcome.map(|mut appended| appended.remove(0)));
            }
        }
    }
}

/// Checks of what one batch does, for each backend's tests: they hand [`write`] a batch
/// directly, where appends through a store would only share a batch when they happen to wait
/// at the same time.
#[cfg(test)]
pub(crate) mod checks {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::domain::{Author, ChannelRef, EventKind, MessageId, Platform};
    use crate::storage::Store;

    /// How the writer task writes a batch: plainly, or guarded ([`GuardedBackend`]).
    pub trait Batches {
        fn write(&self, batch: Vec<Item>) -> impl Future<Output = ()>;
    }

    pub struct Plain<B>(pub B);

    impl<B: Backend> Batches for Plain<B> {
        async fn write(&self, batch: Vec<Item>) {
            super::write(&self.0, batch).await
        }
    }

    pub struct Guarded<B> {
        backend: B,
        watch: Watch,
        newest: tokio::sync::Mutex<Option<i64>>,
    }

    impl<B: GuardedBackend> Guarded<B> {
        pub fn new(backend: B) -> Self {
            Guarded {
                backend,
                watch: Watch::default(),
                newest: tokio::sync::Mutex::new(None),
            }
        }
    }

    impl<B: GuardedBackend> Batches for Guarded<B> {
        async fn write(&self, batch: Vec<Item>) {
            let mut newest = self.newest.lock().await;
            write_guarded(&self.backend, &self.watch, &mut newest, batch).await
        }
    }

    pub fn posted(channel: &str, message: &str) -> ChatEvent {
        ChatEvent {
            channel: ChannelRef::new(Platform::Slack, channel),
            message: MessageId::new(message),
            at: Utc.timestamp_opt(1_709_978_405, 0).unwrap(),
            kind: EventKind::Posted {
                author: Author::human("U1", "Zoë Kapoor"),
                text: format!("message {message}"),
                thread: None,
            },
        }
    }

    pub fn job(key: &str) -> NewJob {
        NewJob {
            key: key.into(),
            kind: "post".into(),
            payload: "{}".into(),
            run_at: Utc.timestamp_opt(1_709_978_405, 0).unwrap(),
        }
    }

    async fn write_one_batch(
        writer: &impl Batches,
        appends: &[(ChatEvent, Vec<NewJob>)],
    ) -> Vec<Result<Appended, StoreError>> {
        let appends: Vec<_> = appends
            .iter()
            .map(|(event, jobs)| (event.clone(), jobs.clone(), None))
            .collect();
        write_chained_batch(writer, &appends).await
    }

    /// An append to write: the event, its jobs, its chain.
    type Chained = (ChatEvent, Vec<NewJob>, Option<Arc<Chain>>);

    async fn write_chained_batch(
        writer: &impl Batches,
        appends: &[Chained],
    ) -> Vec<Result<Appended, StoreError>> {
        let (items, pending): (Vec<_>, Vec<_>) = appends
            .iter()
            .map(|(event, jobs, chain)| {
                let basis = chain.as_ref().map(|chain| Basis {
                    chain,
                    unread: None,
                });
                Item::new(event, jobs, basis)
            })
            .unzip();
        writer.write(items).await;
        let mut answers = Vec::new();
        for pending in pending {
            answers.push(pending.await);
        }
        answers
    }

    /// The same event twice in one batch: stored once, new once.
    pub async fn a_batch_deduplicates_within_itself(writer: &impl Batches, store: &impl Store) {
        let event = posted("C1", "1.0");
        let other = posted("C1", "2.0");
        let answers = write_one_batch(
            writer,
            &[
                (event.clone(), vec![job("a")]),
                (other.clone(), vec![]),
                (event.clone(), vec![job("a"), job("b")]),
            ],
        )
        .await;
        let answers: Vec<Appended> = answers.into_iter().map(Result::unwrap).collect();
        assert!(answers[0].new && answers[1].new, "{answers:?}");
        assert_eq!(
            answers[2],
            Appended {
                new: false,
                seq: None
            }
        );
        assert!(
            answers[0].seq < answers[1].seq,
            "stored in the batch's order"
        );
        let channel = ChannelRef::new(Platform::Slack, "C1");
        assert_eq!(
            store.channel_events(&channel).await.unwrap(),
            [event, other]
        );
        let jobs: Vec<String> = store
            .jobs("")
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.key)
            .collect();
        assert_eq!(jobs, ["a", "b"], "a redelivery's new jobs are still queued");
    }

    /// An append the database refuses (message `poison`, see the backend's test) fails alone:
    /// the others in its batch, before and after it, are stored and acknowledged, with their
    /// jobs, and nothing of the refused one is.
    pub async fn a_failing_append_fails_alone(writer: &impl Batches, store: &impl Store) {
        let appends: Vec<(ChatEvent, Vec<NewJob>)> = ["1.0", "poison", "2.0", "1.0"]
            .iter()
            .enumerate()
            .map(|(i, message)| (posted("C1", message), vec![job(&format!("job-{i}"))]))
            .collect();
        let answers = write_one_batch(writer, &appends).await;
        assert!(answers[0].as_ref().unwrap().new);
        let error = answers[1].as_ref().unwrap_err().to_string();
        assert!(error.contains("poisoned"), "{error}");
        assert!(answers[2].as_ref().unwrap().new);
        assert!(!answers[3].as_ref().unwrap().new, "still deduplicated");
        let channel = ChannelRef::new(Platform::Slack, "C1");
        let stored = store.channel_events(&channel).await.unwrap();
        assert_eq!(stored, [appends[0].0.clone(), appends[2].0.clone()]);
        let jobs: Vec<String> = store
            .jobs("")
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.key)
            .collect();
        assert_eq!(jobs, ["job-0", "job-2", "job-3"]);
    }

    /// An append of a chain the database refuses (message `poison`) breaks the chain: the
    /// chain's later appends, in its batch and in any later one, are refused unwritten, while
    /// appends outside the chain are stored.
    pub async fn a_failed_append_breaks_its_chain(writer: &impl Batches, store: &impl Store) {
        let chain = Some(Arc::new(Chain::default()));
        let appends: Vec<_> = [
            ("1.0", &chain),
            ("poison", &chain),
            ("2.0", &None),
            ("3.0", &chain),
        ]
        .into_iter()
        .map(|(message, chain)| (posted("C1", message), vec![], chain.clone()))
        .collect();
        let answers = write_chained_batch(writer, &appends).await;
        assert!(answers[0].as_ref().unwrap().new);
        assert!(answers[1].is_err(), "{answers:?}");
        assert!(answers[2].as_ref().unwrap().new);
        assert!(
            matches!(answers[3], Err(StoreError::ChainBroken)),
            "{answers:?}"
        );
        let later = write_chained_batch(writer, &[(posted("C1", "4.0"), vec![], chain)]).await;
        assert!(
            matches!(later[0], Err(StoreError::ChainBroken)),
            "{later:?}"
        );
        let channel = ChannelRef::new(Platform::Slack, "C1");
        assert_eq!(
            store.channel_events(&channel).await.unwrap(),
            [appends[0].0.clone(), appends[2].0.clone()]
        );
    }
}
