//! Durable storage: the event log, the job queue, and the web workspace's sign-ins and the
//! workspace of each channel. Incidents are never stored: they are folded from the log.
//!
//! [`Store`] is implemented by SQLite (the embedded default, one process) and PostgreSQL (a
//! server several Scribe processes can share); [`open`] picks one from the database URL. Any
//! implementation must pass the conformance suite in `tests/storage.rs`.

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::domain::{ChannelRef, ChatEvent, MessageId, Platform};
use crate::search::{Document, Hit, Query, Scope};

pub mod postgres;
mod rows;
pub mod sqlite;
mod writer;

pub use writer::{Basis, Chain};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    /// `id` is the row's number, or 0 for a row that has none (the web tables').
    #[error("stored row #{id} cannot be read back: {reason}")]
    Corrupt { id: i64, reason: String },
    /// Names only the scheme: the rest of a database URL may carry a password.
    #[error("database URL scheme `{scheme}` is not supported: use `sqlite:` or `postgres:`")]
    UnsupportedUrl { scheme: String },
    /// An earlier append of the same [`Chain`] failed: this one was built on it.
    #[error("not stored: an earlier event it builds on could not be stored")]
    ChainBroken,
    /// Folded without a read of the store, on its word, which it took back before the append
    /// was written: another process stored events meanwhile. Fold again after a read.
    #[error("not stored: the channel changed while it was being stored; send it again")]
    Stale,
}

/// Work to do after an event is acknowledged (post a message, upload a draft, publish).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Enqueueing a job whose key exists changes nothing: a redelivered command queues no
    /// second post.
    pub key: String,
    pub kind: String,
    /// JSON the job's runner understands.
    pub payload: String,
    pub run_at: DateTime<Utc>,
}

/// A job claimed by a worker, leased to it until it finishes or the lease runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub payload: String,
    /// Including the current one.
    pub attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<JobState> {
        match s {
            "pending" => Some(JobState::Pending),
            "done" => Some(JobState::Done),
            "failed" => Some(JobState::Failed),
            _ => None,
        }
    }
}

/// How a run of a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    Done,
    /// Run it again at `at`.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// Give up: the error is permanent or the attempts ran out.
    Failed {
        error: String,
    },
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// `false` when an event with the same key was stored before (a redelivery).
    pub new: bool,
    /// The event's place in the log, when it was new: within a channel, a later event has a
    /// higher number, and an event is visible to readers only once every event of its
    /// channel with a lower number is.
    pub seq: Option<i64>,
}

/// What deleting some events frees (or would free).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgotten {
    pub events: u64,
    /// Their payloads' bytes: what the store keeps of them is their key.
    pub bytes: u64,
}

impl std::ops::AddAssign for Forgotten {
    fn add_assign(&mut self, other: Forgotten) {
        self.events += other.events;
        self.bytes += other.bytes;
    }
}

/// A stored event and its place in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub seq: i64,
    pub event: ChatEvent,
}

/// What `/incident status` and the API show of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    pub key: String,
    pub kind: String,
    pub state: JobState,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// Who a sign-in link or a web session is for: a person of one workspace of one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    pub platform: Platform,
    /// The Slack team id, the Discord guild id, or `console`.
    pub workspace: String,
    pub person_id: String,
    pub person_name: String,
}

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub who: WebIdentity,
    /// The token every state-changing request of the session must carry.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

pub trait Store: Send + Sync {
    /// Stores `event` and enqueues `jobs` in one durable transaction before the future
    /// resolves: `new` is `false` when an event with the same key was stored before (a
    /// redelivery), which changes nothing. Jobs whose key exists are skipped.
    ///
    /// The append takes its place in the store's order when this is called, before the future
    /// is first polled: appends made one after another are stored in that order. Appends
    /// waiting at the same time may share a transaction (and one sync of the disk); none is
    /// acknowledged before its transaction committed, and one that fails fails alone.
    fn append_entry(
        &self,
        event: &ChatEvent,
        jobs: &[NewJob],
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send + use<Self> {
        self.append_chained(event, jobs, None)
    }

    /// [`Store::append_entry`] as part of a recorder's chain: once an append of the chain
    /// failed, every later one fails too ([`StoreError::ChainBroken`]) without being written.
    /// An append folded without a read, on the store's word ([`Basis::unread`]), is refused
    /// ([`StoreError::Stale`]) when the store takes its word back before writing it.
    fn append_chained(
        &self,
        event: &ChatEvent,
        jobs: &[NewJob],
        basis: Option<Basis<'_>>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send + use<Self>;

    /// Watches `channel` for `chain` from now on: the chain is current
    /// ([`Chain::is_current`]) until an event of the channel not appended on it is stored.
    /// Returns the store's epoch to fold in, or `None` when the store cannot vouch for a fold
    /// (several processes write and commit out of order): every command then reads first.
    fn watch(&self, channel: &ChannelRef, chain: &Arc<Chain>) -> Option<u64> {
        let _ = (channel, chain);
        None
    }

    /// The store's epoch now (see [`Store::watch`]); it moves on when the store learns of
    /// events it did not store itself.
    fn epoch(&self) -> Option<u64> {
        None
    }

    /// [`Store::append_entry`], saying only whether the event was new.
    fn append(
        &self,
        event: &ChatEvent,
        jobs: &[NewJob],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let appended = self.append_entry(event, jobs);
        async move { Ok(appended.await?.new) }
    }

    /// A channel's events, in the order they were stored.
    fn channel_events(
        &self,
        channel: &ChannelRef,
    ) -> impl Future<Output = Result<Vec<ChatEvent>, StoreError>> + Send {
        async move {
            let logged = self.channel_events_after(channel, 0).await?;
            Ok(logged.into_iter().map(|logged| logged.event).collect())
        }
    }

    /// The channel's events stored after its event number `seq` (see [`Appended::seq`]), in
    /// the order they were stored: what a reader who saw the log up to `seq` has not seen.
    fn channel_events_after(
        &self,
        channel: &ChannelRef,
        seq: i64,
    ) -> impl Future<Output = Result<Vec<Logged>, StoreError>> + Send;

    /// How many events the channel holds: a cheap way to tell whether someone else wrote to it.
    fn channel_len(
        &self,
        channel: &ChannelRef,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Every channel with an event, in order of first event.
    fn channels(&self) -> impl Future<Output = Result<Vec<ChannelRef>, StoreError>> + Send;

    /// Enqueues jobs that no event brought (a manual re-publish, a follow-up).
    fn enqueue(&self, jobs: &[NewJob]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes the next pending job due at `now` that no live lease holds, leasing it for `lease`.
    fn claim_job(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = Result<Option<Job>, StoreError>> + Send;

    /// Extends the lease of a job that is still running, so that no other worker takes it.
    fn renew_job(
        &self,
        id: i64,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    fn finish_job(
        &self,
        id: i64,
        end: JobEnd,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Jobs whose key starts with `prefix`, oldest first.
    fn jobs(&self, prefix: &str)
    -> impl Future<Output = Result<Vec<JobStatus>, StoreError>> + Send;

    /// Succeeds when the database answers.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a one-time sign-in link for `who`, known by the hex SHA-256 of its token (the
    /// token itself is never stored), usable until `expires_at`. A hash stored before is an
    /// error.
    fn add_web_link(
        &self,
        token_hash: &str,
        who: &WebIdentity,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Uses the link: who it is for, when it exists, was never used and expires after `now`,
    /// and it is marked used in the same statement, so that of two uses at once (in this
    /// process or another) one gets it. Otherwise `None`, and nothing changes.
    fn use_web_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<WebIdentity>, StoreError>> + Send;

    /// Stores a session for `who`, known by the hex SHA-256 of its cookie, started at `now`.
    /// A hash stored before is an error.
    fn add_web_session(
        &self,
        session_hash: &str,
        who: &WebIdentity,
        csrf: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session, or `None` when it is unknown, ended, or expired at `now`.
    fn web_session(
        &self,
        session_hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<WebSession>, StoreError>> + Send;

    /// Ends the session (signs out); ending an unknown one does nothing.
    fn end_web_session(
        &self,
        session_hash: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the sessions and the links (used or not) expired at `now`; returns how many.
    fn forget_expired_web(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Records the workspace `channel` belongs to; the latest call wins.
    fn set_channel_workspace(
        &self,
        channel: &ChannelRef,
        workspace: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The workspace `channel` belongs to, when recorded.
    fn channel_workspace(
        &self,
        channel: &ChannelRef,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// The channels of `platform` recorded in `workspace`, by channel id (byte order).
    fn workspace_channels(
        &self,
        platform: Platform,
        workspace: &str,
    ) -> impl Future<Output = Result<Vec<ChannelRef>, StoreError>> + Send;

    /// Stores each incident's search document, replacing the one indexed before, in one
    /// transaction.
    fn index(&self, documents: &[Document]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The digest of every indexed document, by incident id: what need not be written again.
    fn indexed(
        &self,
    ) -> impl Future<Output = Result<std::collections::HashMap<String, String>, StoreError>> + Send;

    /// The incidents `query` finds, best first.
    fn search(&self, query: &Query) -> impl Future<Output = Result<Vec<Hit>, StoreError>> + Send;

    /// Deletes the events of `messages` in `channel`, in one transaction, keeping only their
    /// keys, marked as forgotten `at`: readers no longer see them, and a redelivery of one is
    /// still no new event.
    fn forget(
        &self,
        channel: &ChannelRef,
        messages: &[MessageId],
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Forgotten, StoreError>> + Send;

    /// What [`Store::forget`] would delete, changing nothing.
    fn measure(
        &self,
        channel: &ChannelRef,
        messages: &[MessageId],
    ) -> impl Future<Output = Result<Forgotten, StoreError>> + Send;

    /// Drops at most `limit` keys forgotten before `before`; returns how many.
    fn drop_keys(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// `WHERE` for the live events of `messages` in `channel`, the same SQL on both stores.
fn messages_of<DB>(sql: &mut sqlx::QueryBuilder<DB>, channel: &ChannelRef, messages: &[MessageId])
where
    DB: sqlx::Database,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    &'static str: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    sql.push(" WHERE forgotten_us IS NULL AND platform = ")
        .push_bind(channel.platform.as_str())
        .push(" AND channel = ")
        .push_bind(channel.id.clone())
        .push(" AND message IN (");
    let mut list = sql.separated(", ");
    for message in messages {
        list.push_bind(message.as_str().to_owned());
    }
    sql.push(")");
}

/// [`Store::forget`] on either store: `size` is the SQL of a payload's size in bytes.
pub(super) async fn forget_in<'c, DB>(
    tx: &mut sqlx::Transaction<'c, DB>,
    size: &str,
    channel: &ChannelRef,
    messages: &[MessageId],
    at: Option<DateTime<Utc>>,
) -> Result<Forgotten, StoreError>
where
    DB: sqlx::Database,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    &'static str: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    i64: for<'a> sqlx::Encode<'a, DB> + sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    (i64, i64): for<'r> sqlx::FromRow<'r, DB::Row>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    if messages.is_empty() {
        return Ok(Forgotten::default());
    }
    let mut count = sqlx::QueryBuilder::new(format!(
        "SELECT count(*), CAST(coalesce(sum({size}), 0) AS BIGINT) FROM events"
    ));
    messages_of(&mut count, channel, messages);
    let (events, bytes): (i64, i64) = count.build_query_as().fetch_one(&mut **tx).await?;
    if let Some(at) = at {
        let mut update = sqlx::QueryBuilder::new("UPDATE events SET payload = '', forgotten_us = ");
        update.push_bind(at.timestamp_micros());
        messages_of(&mut update, channel, messages);
        update.build().execute(&mut **tx).await?;
    }
    Ok(Forgotten {
        events: events as u64,
        bytes: bytes as u64,
    })
}

/// [`Store::drop_keys`], the same SQL on both stores.
pub(super) const DROP_KEYS: &str = "DELETE FROM events WHERE seq IN (SELECT seq FROM events
     WHERE forgotten_us IS NOT NULL AND forgotten_us < $1 LIMIT $2)";

/// The conditions of a search beyond its words, the same SQL on both stores (`d` is the
/// `search_docs` row of a match).
fn search_filters<DB>(sql: &mut sqlx::QueryBuilder<DB>, query: &Query)
where
    DB: sqlx::Database,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    &'static str: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    if query.closed_only {
        sql.push(" AND d.closed");
    }
    if let Some(except) = &query.except {
        sql.push(" AND d.incident <> ").push_bind(except.clone());
    }
    if let Scope::Workspace {
        platform,
        workspace,
    } = &query.scope
    {
        sql.push(
            " AND EXISTS (SELECT 1 FROM channel_workspaces w WHERE w.platform = d.platform
               AND w.channel = d.channel AND w.platform = ",
        )
        .push_bind(platform.as_str())
        .push(" AND w.workspace = ")
        .push_bind(workspace.clone())
        .push(")");
    }
}

/// A store of either kind. [`Store`] is not object-safe (its methods return `impl Future`), so
/// this enum is how the binary chooses a backend at run time.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// Opens the store `url` names and brings its schema up to date.
pub async fn open(url: &str) -> Result<AnyStore, StoreError> {
    let store = connect(url).await?;
    store.migrate().await?;
    Ok(store)
}

/// Connects to the store `url` names, `sqlite:` for a file, `postgres:` or `postgresql:` for a
/// server, without touching its schema.
pub async fn connect(url: &str) -> Result<AnyStore, StoreError> {
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme)
        // Not a scheme (e.g. `user:password@host`): name nothing rather than risk a secret.
        .filter(|s| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        })
        .unwrap_or_default();
    match scheme {
        "sqlite" => Ok(AnyStore::Sqlite(SqliteStore::connect(url).await?)),
        "postgres" | "postgresql" => Ok(AnyStore::Postgres(PostgresStore::connect(url).await?)),
        _ => Err(StoreError::UnsupportedUrl {
            scheme: scheme.to_owned(),
        }),
    }
}

/// Runs the same call on whichever store `self` holds.
macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call.await,
            AnyStore::Postgres($store) => $call.await,
        }
    };
}

impl AnyStore {
    pub async fn migrate(&self) -> Result<(), StoreError> {
        delegate!(self, store => store.migrate())
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        delegate!(self, store => store.close())
    }
}

impl Store for AnyStore {
    fn append_chained(
        &self,
        event: &ChatEvent,
        jobs: &[NewJob],
        basis: Option<Basis<'_>>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send + use<> {
        // Not `async`: the append must be queued now, not when the future is first polled.
        match self {
            AnyStore::Sqlite(store) => store.submit(event, jobs, basis),
            AnyStore::Postgres(store) => store.submit(event, jobs, basis),
        }
    }

    fn watch(&self, channel: &ChannelRef, chain: &Arc<Chain>) -> Option<u64> {
        match self {
            AnyStore::Sqlite(store) => store.watch(channel, chain),
            AnyStore::Postgres(store) => store.watch(channel, chain),
        }
    }

    fn epoch(&self) -> Option<u64> {
        match self {
            AnyStore::Sqlite(store) => store.epoch(),
            AnyStore::Postgres(store) => store.epoch(),
        }
    }

    async fn channel_events_after(
        &self,
        channel: &ChannelRef,
        seq: i64,
    ) -> Result<Vec<Logged>, StoreError> {
        delegate!(self, store => store.channel_events_after(channel, seq))
    }

    async fn channel_len(&self, channel: &ChannelRef) -> Result<usize, StoreError> {
        delegate!(self, store => store.channel_len(channel))
    }

    async fn forget(
        &self,
        channel: &ChannelRef,
        messages: &[MessageId],
        at: DateTime<Utc>,
    ) -> Result<Forgotten, StoreError> {
        delegate!(self, store => store.forget(channel, messages, at))
    }

    async fn measure(
        &self,
        channel: &ChannelRef,
        messages: &[MessageId],
    ) -> Result<Forgotten, StoreError> {
        delegate!(self, store => store.measure(channel, messages))
    }

    async fn drop_keys(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        delegate!(self, store => store.drop_keys(before, limit))
    }

    async fn channels(&self) -> Result<Vec<ChannelRef>, StoreError> {
        delegate!(self, store => store.channels())
    }

    async fn enqueue(&self, jobs: &[NewJob]) -> Result<(), StoreError> {
        delegate!(self, store => store.enqueue(jobs))
    }

    async fn claim_job(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<Job>, StoreError> {
        delegate!(self, store => store.claim_job(now, lease))
    }

    async fn renew_job(&self, id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
        delegate!(self, store => store.renew_job(id, until))
    }

    async fn finish_job(&self, id: i64, end: JobEnd) -> Result<(), StoreError> {
        delegate!(self, store => store.finish_job(id, end))
    }

    async fn jobs(&self, prefix: &str) -> Result<Vec<JobStatus>, StoreError> {
        delegate!(self, store => store.jobs(prefix))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        delegate!(self, store => store.ping())
    }

    async fn add_web_link(
        &self,
        token_hash: &str,
        who: &WebIdentity,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        delegate!(self, store => store.add_web_link(token_hash, who, expires_at))
    }

    async fn use_web_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<WebIdentity>, StoreError> {
        delegate!(self, store => store.use_web_link(token_hash, now))
    }

    async fn add_web_session(
        &self,
        session_hash: &str,
        who: &WebIdentity,
        csrf: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        delegate!(self, store => store.add_web_session(session_hash, who, csrf, now, expires_at))
    }

    async fn web_session(
        &self,
        session_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<WebSession>, StoreError> {
        delegate!(self, store => store.web_session(session_hash, now))
    }

    async fn end_web_session(&self, session_hash: &str) -> Result<(), StoreError> {
        delegate!(self, store => store.end_web_session(session_hash))
    }

    async fn forget_expired_web(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        delegate!(self, store => store.forget_expired_web(now))
    }

    async fn set_channel_workspace(
        &self,
        channel: &ChannelRef,
        workspace: &str,
    ) -> Result<(), StoreError> {
        delegate!(self, store => store.set_channel_workspace(channel, workspace))
    }

    async fn channel_workspace(&self, channel: &ChannelRef) -> Result<Option<String>, StoreError> {
        delegate!(self, store => store.channel_workspace(channel))
    }

    async fn workspace_channels(
        &self,
        platform: Platform,
        workspace: &str,
    ) -> Result<Vec<ChannelRef>, StoreError> {
        delegate!(self, store => store.workspace_channels(platform, workspace))
    }

    async fn index(&self, documents: &[Document]) -> Result<(), StoreError> {
        delegate!(self, store => store.index(documents))
    }

    async fn indexed(&self) -> Result<std::collections::HashMap<String, String>, StoreError> {
        delegate!(self, store => store.indexed())
    }

    async fn search(&self, query: &Query) -> Result<Vec<Hit>, StoreError> {
        delegate!(self, store => store.search(query))
    }
}
