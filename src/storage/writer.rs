//! Group commit: one task per store writes every append, committing the appends that arrived
//! while the previous commit was in flight together, in one transaction. One sync then
//! acknowledges many events, and no append is acknowledged before its transaction committed.
//!
//! The queue is first in, first out, and an append takes its place in it when
//! [`Writer::submit`] is called: appends submitted in some order are stored in that order.
//! When anything in a batch fails, the batch is rolled back and every append in it is written
//! again alone, in order, so one bad append fails alone and takes no other with it, except the
//! appends of its [`Chain`], which build on it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::{Appended, NewJob, StoreError};
use crate::domain::ChatEvent;

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
    broken: AtomicBool,
}

impl Chain {
    fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Acquire)
    }

    fn break_off(&self) {
        self.broken.store(true, Ordering::Release);
    }
}

pub(crate) struct Item {
    pub row: Append,
    chain: Option<Arc<Chain>>,
    reply: oneshot::Sender<Result<Appended, StoreError>>,
}

impl Item {
    /// An append to queue, and its answer.
    pub fn new(event: &ChatEvent, jobs: &[NewJob], chain: Option<&Arc<Chain>>) -> (Item, Pending) {
        let (reply, answer) = oneshot::channel();
        let item = Item {
            row: Append::new(event, jobs),
            chain: chain.cloned(),
            reply,
        };
        (item, Pending { answer })
    }

    fn is_refused(&self) -> bool {
        self.chain.as_ref().is_some_and(|chain| chain.is_broken())
    }

    /// Answers the item; a failure breaks its chain first, before anyone hears of it.
    fn answer(self, outcome: Result<Appended, StoreError>) {
        if outcome.is_err()
            && let Some(chain) = &self.chain
        {
            chain.break_off();
        }
        let _ = self.reply.send(outcome);
    }
}

/// The sending side of a store's writer task. The task ends when the store and all its clones
/// are dropped.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    queue: mpsc::UnboundedSender<Item>,
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

impl Writer {
    /// Starts the writer task of `backend` on the current Tokio runtime.
    pub fn spawn(backend: impl Backend) -> Writer {
        let (queue, items) = mpsc::unbounded_channel();
        tokio::spawn(run(backend, items));
        Writer { queue }
    }

    /// Queues the append now, after `chain`'s earlier appends when it has one; the future
    /// resolves once it is durable (or failed).
    pub fn submit(
        &self,
        event: &ChatEvent,
        jobs: &[NewJob],
        chain: Option<&Arc<Chain>>,
    ) -> Pending {
        let (item, pending) = Item::new(event, jobs, chain);
        // A closed queue drops the item, and with it its reply: the answer then says so.
        let _ = self.queue.send(item);
        pending
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

/// Writes `batch` and answers each item.
pub(crate) async fn write(backend: &impl Backend, batch: Vec<Item>) {
    let (refused, batch): (Vec<Item>, Vec<Item>) = batch.into_iter().partition(Item::is_refused);
    for item in refused {
        item.answer(Err(StoreError::ChainBroken));
    }
    if batch.is_empty() {
        return;
    }
    let rows: Vec<&Append> = batch.iter().map(|item| &item.row).collect();
    let outcome = backend.write_batch(&rows).await;
    drop(rows);
    match outcome {
        Ok(appended) => {
            debug_assert_eq!(appended.len(), batch.len());
            for (item, appended) in batch.into_iter().zip(appended) {
                item.answer(Ok(appended));
            }
        }
        Err(error) if batch.len() == 1 => batch.into_iter().next().unwrap().answer(Err(error)),
        Err(error) => {
            tracing::debug!(%error, size = batch.len(), "batch rolled back; writing it one by one");
            for item in batch {
                if item.is_refused() {
                    item.answer(Err(StoreError::ChainBroken));
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
        backend: &impl Backend,
        appends: &[(ChatEvent, Vec<NewJob>)],
    ) -> Vec<Result<Appended, StoreError>> {
        let appends: Vec<_> = appends
            .iter()
            .map(|(event, jobs)| (event.clone(), jobs.clone(), None))
            .collect();
        write_chained_batch(backend, &appends).await
    }

    /// An append to write: the event, its jobs, its chain.
    type Chained = (ChatEvent, Vec<NewJob>, Option<Arc<Chain>>);

    async fn write_chained_batch(
        backend: &impl Backend,
        appends: &[Chained],
    ) -> Vec<Result<Appended, StoreError>> {
        let (items, pending): (Vec<_>, Vec<_>) = appends
            .iter()
            .map(|(event, jobs, chain)| Item::new(event, jobs, chain.as_ref()))
            .unzip();
        write(backend, items).await;
        let mut answers = Vec::new();
        for pending in pending {
            answers.push(pending.await);
        }
        answers
    }

    /// The same event twice in one batch: stored once, new once.
    pub async fn a_batch_deduplicates_within_itself(backend: &impl Backend, store: &impl Store) {
        let event = posted("C1", "1.0");
        let other = posted("C1", "2.0");
        let answers = write_one_batch(
            backend,
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
    pub async fn a_failing_append_fails_alone(backend: &impl Backend, store: &impl Store) {
        let appends: Vec<(ChatEvent, Vec<NewJob>)> = ["1.0", "poison", "2.0", "1.0"]
            .iter()
            .enumerate()
            .map(|(i, message)| (posted("C1", message), vec![job(&format!("job-{i}"))]))
            .collect();
        let answers = write_one_batch(backend, &appends).await;
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
    pub async fn a_failed_append_breaks_its_chain(backend: &impl Backend, store: &impl Store) {
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
        let answers = write_chained_batch(backend, &appends).await;
        assert!(answers[0].as_ref().unwrap().new);
        assert!(answers[1].is_err(), "{answers:?}");
        assert!(answers[2].as_ref().unwrap().new);
        assert!(
            matches!(answers[3], Err(StoreError::ChainBroken)),
            "{answers:?}"
        );
        let later = write_chained_batch(backend, &[(posted("C1", "4.0"), vec![], chain)]).await;
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
