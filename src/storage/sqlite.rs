//! The embedded store: one SQLite file in WAL mode, every write synced before it returns.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, SqlSafeStr};

use super::rows;
use super::writer::{
    Append, Backend, GuardedBackend, Inserted, JOBS_PER_INSERT, Pending, Writer, outcomes,
};
use super::{
    Appended, Basis, Chain, DROP_KEYS, Forgotten, Job, JobEnd, JobState, JobStatus, Logged, NewJob,
    Store, StoreError, WebIdentity, WebSession, forget_in,
};
use crate::domain::{ChannelRef, ChatEvent, MessageId, Platform};
use crate::search::{Document, Hit, Match, Query};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Every append goes through this one task (SQLite has one writer at a time anyway); it
    /// vouches for folds (see [`Store::watch`]).
    writer: Writer,
}

fn migrator() -> Migrator {
    let migration = |version, description, sql: &'static str| {
        Migration::new(
            version,
            Cow::Borrowed(description),
            MigrationType::Simple,
            sql.into_sql_str(),
            false,
        )
    };
    Migrator::with_migrations(vec![
        migration(
            1,
            "events",
            include_str!("../../migrations/sqlite/0001_events.sql"),
        ),
        migration(
            2,
            "jobs",
            include_str!("../../migrations/sqlite/0002_jobs.sql"),
        ),
        migration(
            3,
            "web",
            include_str!("../../migrations/sqlite/0003_web.sql"),
        ),
        migration(
            4,
            "search",
            include_str!("../../migrations/sqlite/0004_search.sql"),
        ),
        migration(
            5,
            "retention",
            include_str!("../../migrations/sqlite/0005_retention.sql"),
        ),
    ])
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`) and migrates it.
    /// Connects to the database at `url` without touching its schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?;
        if let Some(dir) = options
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            create_dir(dir)?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Statement journals and sorts in memory, not in temporary files.
            .pragma("temp_store", "memory")
            // Pages read straight from the mapped file instead of copied by a read call each.
            .pragma("mmap_size", "268435456")
            .busy_timeout(std::time::Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // A file does not go away like a server: no round trip to the connection's thread
            // to ping it before each use.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        let writer = Writer::spawn_guarded(SqliteBackend { pool: pool.clone() });
        Ok(SqliteStore { pool, writer })
    }

    /// Connects and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the embedded migrations not applied yet; safe to run from several processes.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrator().run(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Queues an append now (see [`Store::append_entry`]).
    pub(crate) fn submit(
        &self,
        event: &ChatEvent,
        jobs: &[NewJob],
        basis: Option<Basis<'_>>,
    ) -> Pending {
        self.writer.submit(event, jobs, basis)
    }
}

struct SqliteBackend {
    pool: SqlitePool,
}

impl Backend for SqliteBackend {
    async fn write_batch(&self, rows: &[&Append]) -> Result<Vec<Appended>, StoreError> {
        let written = self.write(rows, None).await?;
        Ok(written.expect("an unguarded write is not refused"))
    }
}

impl GuardedBackend for SqliteBackend {
    async fn newest(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(NEWEST).fetch_one(&self.pool).await?)
    }

    async fn write_batch_after(
        &self,
        rows: &[&Append],
        newest: i64,
    ) -> Result<Option<Vec<Appended>>, StoreError> {
        self.write(rows, Some(newest)).await
    }
}

impl SqliteBackend {
    /// Writes the batch, with the guard of [`GuardedBackend::write_batch_after`] when `newest`
    /// is given.
    async fn write(
        &self,
        rows: &[&Append],
        newest: Option<i64>,
    ) -> Result<Option<Vec<Appended>>, StoreError> {
        let jobs: Vec<&NewJob> = rows.iter().flat_map(|row| &row.jobs).collect();
        if jobs.is_empty() {
            // One statement outside a transaction is a transaction of its own, committed
            // (and synced) before it returns: one round trip to the connection's thread.
            let mut conn = self.pool.acquire().await?;
            let inserted = insert_events(&mut conn, rows, newest).await?;
            return checked(&mut conn, rows, inserted, newest).await;
        }
        let mut tx = self.pool.begin().await?;
        let inserted = insert_events(&mut tx, rows, newest).await?;
        // Refused by the guard: the transaction is rolled back when dropped.
        let Some(appended) = checked(&mut tx, rows, inserted, newest).await? else {
            return Ok(None);
        };
        insert_jobs(&mut tx, &jobs).await?;
        tx.commit().await?;
        Ok(Some(appended))
    }
}

/// The outcomes of a guarded insert, or `None` when its guard refused it. Nothing inserted
/// means every key was stored before, or the guard failed; the newest number never goes
/// down, so it tells which.
async fn checked(
    conn: &mut sqlx::SqliteConnection,
    rows: &[&Append],
    inserted: Vec<Inserted>,
    newest: Option<i64>,
) -> Result<Option<Vec<Appended>>, StoreError> {
    if let Some(newest) = newest
        && inserted.is_empty()
    {
        let now: i64 = sqlx::query_scalar(NEWEST).fetch_one(&mut *conn).await?;
        if now != newest {
            return Ok(None);
        }
    }
    Ok(Some(outcomes(rows, inserted)))
}

/// A payload's size in bytes.
const PAYLOAD_BYTES: &str = "length(CAST(payload AS BLOB))";

/// The newest event's number (events are numbered in commit order: one writer at a time).
const NEWEST: &str = "SELECT coalesce(max(seq), 0) FROM events";

/// Inserts the rows; with `newest`, only while the newest event is that number: one
/// statement, so no other process can store an event between the check and the insert.
async fn insert_events(
    conn: &mut sqlx::SqliteConnection,
    rows: &[&Append],
    newest: Option<i64>,
) -> Result<Vec<Inserted>, StoreError> {
    let mut insert =
        QueryBuilder::new("INSERT INTO events (platform, channel, message, kind, at_us, payload) ");
    if newest.is_some() {
        insert.push("SELECT * FROM (");
    }
    insert.push_values(rows, |mut values, row| {
        values
            .push_bind(row.platform)
            .push_bind(&row.channel)
            .push_bind(&row.message)
            .push_bind(&row.kind)
            .push_bind(row.at_us)
            .push_bind(&row.payload);
    });
    if let Some(newest) = newest {
        insert.push(") WHERE (");
        insert.push(NEWEST);
        insert.push(") = ");
        insert.push_bind(newest);
    }
    // A key already stored, or earlier in this batch, inserts nothing and returns no row.
    insert.push(
        " ON CONFLICT (platform, channel, message, kind) DO NOTHING
         RETURNING seq, platform, channel, message, kind",
    );
    Ok(insert.build_query_as().fetch_all(conn).await?)
}

fn create_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
        path: dir.display().to_string(),
        source,
    })
}

async fn insert_jobs(tx: &mut sqlx::SqliteConnection, jobs: &[&NewJob]) -> Result<(), StoreError> {
    for chunk in jobs.chunks(JOBS_PER_INSERT) {
        let mut insert = QueryBuilder::new("INSERT INTO jobs (key, kind, payload, run_at_us) ");
        insert.push_values(chunk, |mut values, job| {
            values
                .push_bind(&job.key)
                .push_bind(&job.kind)
                .push_bind(&job.payload)
                .push_bind(job.run_at.timestamp_micros());
        });
        insert.push(" ON CONFLICT (key) DO NOTHING");
        insert.build().execute(&mut *tx).await?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn append_chained(
        &self,
        event: &ChatEvent,
        jobs: &[NewJob],
        basis: Option<Basis<'_>>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send + use<> {
        self.submit(event, jobs, basis)
    }

    fn watch(&self, channel: &ChannelRef, chain: &Arc<Chain>) -> Option<u64> {
        self.writer.watch(channel, chain)
    }

    fn epoch(&self) -> Option<u64> {
        self.writer.epoch()
    }

    async fn channel_events_after(
        &self,
        channel: &ChannelRef,
        seq: i64,
    ) -> Result<Vec<Logged>, StoreError> {
        let found: Vec<rows::EventRow> = sqlx::query_as(
            "SELECT seq, message, at_us, payload FROM events
             WHERE platform = $1 AND channel = $2 AND seq > $3 AND forgotten_us IS NULL ORDER BY seq",
        )
        .bind(channel.platform.as_str())
        .bind(&channel.id)
        .bind(seq)
        .fetch_all(&self.pool)
        .await?;
        found
            .into_iter()
            .map(|row| rows::logged(channel, row))
            .collect()
    }

    async fn channel_len(&self, channel: &ChannelRef) -> Result<usize, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events
                 WHERE platform = $1 AND channel = $2 AND forgotten_us IS NULL",
        )
        .bind(channel.platform.as_str())
        .bind(&channel.id)
        .fetch_one(&self.pool)
        .await?;
        Ok(count as usize)
    }

    async fn forget(
        &self,
        channel: &ChannelRef,
        messages: &[MessageId],
        at: DateTime<Utc>,
    ) -> Result<Forgotten, StoreError> {
        let mut tx = self.pool.begin().await?;
        let forgotten = forget_in(&mut tx, PAYLOAD_BYTES, channel, messages, Some(at)).await?;
        tx.commit().await?;
        Ok(forgotten)
    }

    async fn measure(
        &self,
        channel: &ChannelRef,
        messages: &[MessageId],
    ) -> Result<Forgotten, StoreError> {
        let mut tx = self.pool.begin().await?;
        forget_in(&mut tx, PAYLOAD_BYTES, channel, messages, None).await
    }

    async fn drop_keys(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        let dropped = sqlx::query(DROP_KEYS)
            .bind(before.timestamp_micros())
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await?;
        Ok(dropped.rows_affected())
    }

    async fn channels(&self) -> Result<Vec<ChannelRef>, StoreError> {
        let found: Vec<rows::ChannelRow> = sqlx::query_as(
            "SELECT platform, channel, MIN(seq) AS first FROM events
             GROUP BY platform, channel ORDER BY first",
        )
        .fetch_all(&self.pool)
        .await?;
        found.into_iter().map(rows::channel).collect()
    }

    async fn enqueue(&self, jobs: &[NewJob]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_jobs(&mut tx, &jobs.iter().collect::<Vec<_>>()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn claim_job(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<Job>, StoreError> {
        let now_us = now.timestamp_micros();
        // Look before taking the write lock: a read never waits for the appends (WAL), and an
        // idle poll then leaves the lock, and the busy waits it causes, to them.
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM jobs
             WHERE state = 'pending' AND run_at_us <= $1
               AND (leased_until_us IS NULL OR leased_until_us <= $1)
             LIMIT 1",
        )
        .bind(now_us)
        .fetch_optional(&self.pool)
        .await?;
        if due.is_none() {
            return Ok(None);
        }
        let claimed: Option<rows::JobRow> = sqlx::query_as(
            "UPDATE jobs SET leased_until_us = $1, attempts = attempts + 1
             WHERE id = (SELECT id FROM jobs
                         WHERE state = 'pending' AND run_at_us <= $2
                           AND (leased_until_us IS NULL OR leased_until_us <= $2)
                         ORDER BY run_at_us, id LIMIT 1)
             RETURNING id, key, kind, payload, attempts",
        )
        .bind((now + lease).timestamp_micros())
        .bind(now_us)
        .fetch_optional(&self.pool)
        .await?;
        claimed.map(rows::job).transpose()
    }

    async fn renew_job(&self, id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE jobs SET leased_until_us = $2 WHERE id = $1 AND state = 'pending'")
            .bind(id)
            .bind(until.timestamp_micros())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn finish_job(&self, id: i64, end: JobEnd) -> Result<(), StoreError> {
        let (state, run_at, error) = match end {
            JobEnd::Done => (JobState::Done, None, None),
            JobEnd::Retry { at, error } => (JobState::Pending, Some(at), Some(error)),
            JobEnd::Failed { error } => (JobState::Failed, None, Some(error)),
        };
        sqlx::query(
            "UPDATE jobs SET state = $2, leased_until_us = NULL,
                 run_at_us = COALESCE($3, run_at_us), last_error = COALESCE($4, last_error)
             WHERE id = $1",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(run_at.map(|t| t.timestamp_micros()))
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn jobs(&self, prefix: &str) -> Result<Vec<JobStatus>, StoreError> {
        let found: Vec<rows::JobStatusRow> = sqlx::query_as(
            "SELECT id, key, kind, state, attempts, last_error FROM jobs
             WHERE substr(key, 1, length($1)) = $1 ORDER BY id",
        )
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        found.into_iter().map(rows::job_status).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    // The web's writes go straight to the pool, like the job updates, not through the writer
    // task: each waits for SQLite's write lock (busy timeout) between the writer's commits and
    // holds nothing the writer waits for.
    async fn add_web_link(
        &self,
        token_hash: &str,
        who: &WebIdentity,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO web_links
                 (token_hash, platform, workspace, person_id, person_name, expires_at_us)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(who.platform.as_str())
        .bind(&who.workspace)
        .bind(&who.person_id)
        .bind(&who.person_name)
        .bind(expires_at.timestamp_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn use_web_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<WebIdentity>, StoreError> {
        // One statement: of two uses at once, the second finds the link used.
        let used: Option<rows::WebIdentityRow> = sqlx::query_as(
            "UPDATE web_links SET used_at_us = $2
             WHERE token_hash = $1 AND used_at_us IS NULL AND expires_at_us > $2
             RETURNING platform, workspace, person_id, person_name",
        )
        .bind(token_hash)
        .bind(now.timestamp_micros())
        .fetch_optional(&self.pool)
        .await?;
        used.map(|row| rows::web_identity("web_links", row))
            .transpose()
    }

    async fn add_web_session(
        &self,
        session_hash: &str,
        who: &WebIdentity,
        csrf: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO web_sessions (session_hash, platform, workspace, person_id, person_name,
                                       csrf, created_at_us, expires_at_us)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(session_hash)
        .bind(who.platform.as_str())
        .bind(&who.workspace)
        .bind(&who.person_id)
        .bind(&who.person_name)
        .bind(csrf)
        .bind(now.timestamp_micros())
        .bind(expires_at.timestamp_micros())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn web_session(
        &self,
        session_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<WebSession>, StoreError> {
        let found: Option<rows::WebSessionRow> = sqlx::query_as(
            "SELECT platform, workspace, person_id, person_name, csrf, expires_at_us
             FROM web_sessions WHERE session_hash = $1 AND expires_at_us > $2",
        )
        .bind(session_hash)
        .bind(now.timestamp_micros())
        .fetch_optional(&self.pool)
        .await?;
        found.map(rows::web_session).transpose()
    }

    async fn end_web_session(&self, session_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM web_sessions WHERE session_hash = $1")
            .bind(session_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn forget_expired_web(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let now_us = now.timestamp_micros();
        let mut tx = self.pool.begin().await?;
        let sessions = sqlx::query("DELETE FROM web_sessions WHERE expires_at_us <= $1")
            .bind(now_us)
            .execute(&mut *tx)
            .await?;
        let links = sqlx::query("DELETE FROM web_links WHERE expires_at_us <= $1")
            .bind(now_us)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(sessions.rows_affected() + links.rows_affected())
    }

    async fn set_channel_workspace(
        &self,
        channel: &ChannelRef,
        workspace: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO channel_workspaces (platform, channel, workspace) VALUES ($1, $2, $3)
             ON CONFLICT (platform, channel) DO UPDATE SET workspace = excluded.workspace",
        )
        .bind(channel.platform.as_str())
        .bind(&channel.id)
        .bind(workspace)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn channel_workspace(&self, channel: &ChannelRef) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT workspace FROM channel_workspaces WHERE platform = $1 AND channel = $2",
        )
        .bind(channel.platform.as_str())
        .bind(&channel.id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn workspace_channels(
        &self,
        platform: Platform,
        workspace: &str,
    ) -> Result<Vec<ChannelRef>, StoreError> {
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT channel FROM channel_workspaces WHERE platform = $1 AND workspace = $2
             ORDER BY channel",
        )
        .bind(platform.as_str())
        .bind(workspace)
        .fetch_all(&self.pool)
        .await?;
        Ok(found
            .into_iter()
            .map(|id| ChannelRef::new(platform, id))
            .collect())
    }

    async fn index(&self, documents: &[Document]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for document in documents {
            let rowid: i64 = sqlx::query_scalar(
                "INSERT INTO search_docs (incident, platform, channel, title, severity,
                     started_at_us, duration_minutes, closed, digest)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (incident) DO UPDATE SET title = excluded.title,
                     severity = excluded.severity, started_at_us = excluded.started_at_us,
                     duration_minutes = excluded.duration_minutes, closed = excluded.closed,
                     digest = excluded.digest
                 RETURNING rowid",
            )
            .bind(&document.id)
            .bind(document.platform.as_str())
            .bind(&document.channel)
            .bind(&document.title)
            .bind(document.severity)
            .bind(document.started_at.timestamp_micros())
            .bind(document.duration_minutes)
            .bind(document.closed)
            .bind(&document.digest)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM search_text WHERE rowid = $1")
                .bind(rowid)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO search_text (rowid, title, body, messages) VALUES ($1, $2, $3, $4)",
            )
            .bind(rowid)
            .bind(&document.title)
            .bind(&document.body)
            .bind(&document.messages)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn indexed(&self) -> Result<HashMap<String, String>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT incident, digest FROM search_docs")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().collect())
    }

    async fn search(&self, query: &Query) -> Result<Vec<Hit>, StoreError> {
        if query.words.is_empty() {
            return Ok(Vec::new());
        }
        // Every word quoted: FTS5 reads a string as words, never as an operator. Incidents
        // like one are alike in what people wrote about them, not in their chatter.
        let quoted: Vec<String> = query.words.iter().map(|w| format!("\"{w}\"")).collect();
        let matching = match query.matching {
            Match::All => quoted.join(" "),
            Match::Any => format!("{{title body}} : ({})", quoted.join(" OR ")),
        };
        // Ordered by FTS5's own `rank` (BM25 with these weights: title, story and timeline,
        // messages), which FTS5 sorts itself: the join, the filters and the snippets then
        // stop at `limit` rows instead of running for every match.
        let mut sql = QueryBuilder::new(
            "SELECT d.incident, d.title, d.severity, d.started_at_us, d.duration_minutes,
                 snippet(search_text, -1, char(2), char(3), '…', 16), -search_text.rank
             FROM search_text JOIN search_docs d ON d.rowid = search_text.rowid
             WHERE search_text MATCH ",
        );
        sql.push_bind(matching);
        sql.push(" AND search_text.rank MATCH 'bm25(10.0, 2.0, 1.0)'");
        super::search_filters(&mut sql, query);
        sql.push(" ORDER BY search_text.rank LIMIT ")
            .push_bind(query.limit as i64);
        let found: Vec<rows::HitRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        found.into_iter().map(rows::hit).collect()
    }
}

#[cfg(test)]
impl SqliteStore {
    /// Makes the database refuse every event whose message is `poison`, slowly (it counts for
    /// a while first), so that a test can queue appends behind the refused one.
    pub(crate) async fn poison(&self) {
        sqlx::query(
            "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.message = 'poison'
             AND (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)
                  SELECT count(*) FROM n) > 0
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
        )
        .execute(&self.pool)
        .await
        .unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::writer::checks;

    async fn open() -> (SqliteStore, SqliteBackend, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
        let store = SqliteStore::open(&url).await.unwrap();
        let backend = SqliteBackend {
            pool: store.pool.clone(),
        };
        (store, backend, dir)
    }

    #[tokio::test]
    async fn a_batch_deduplicates_within_itself() {
        let (store, backend, _dir) = open().await;
        checks::a_batch_deduplicates_within_itself(&checks::Guarded::new(backend), &store).await;
    }

    #[tokio::test]
    async fn a_failing_append_fails_alone() {
        let (store, backend, _dir) = open().await;
        store.poison().await;
        checks::a_failing_append_fails_alone(&checks::Guarded::new(backend), &store).await;
    }

    #[tokio::test]
    async fn a_failed_append_breaks_its_chain() {
        let (store, backend, _dir) = open().await;
        store.poison().await;
        checks::a_failed_append_breaks_its_chain(&checks::Guarded::new(backend), &store).await;
    }

    fn channel(id: &str) -> ChannelRef {
        ChannelRef::new(Platform::Slack, id)
    }

    /// The writer vouches for a watched chain only once it knows the log's newest event, and
    /// until an event of the chain's channel comes from anyone else in the process.
    #[tokio::test]
    async fn a_watch_lasts_until_someone_else_writes_in_the_channel() {
        let (store, _backend, _dir) = open().await;
        let chain = Arc::new(Chain::default());
        assert_eq!(
            store.watch(&channel("C1"), &chain),
            None,
            "log not read yet"
        );
        store
            .append_entry(&checks::posted("C1", "1.0"), &[])
            .await
            .unwrap();
        let epoch = store.watch(&channel("C1"), &chain);
        assert!(epoch.is_some() && chain.is_current());
        let on_chain = Basis {
            chain: &chain,
            unread: epoch,
        };
        let own = store.append_chained(&checks::posted("C1", "2.0"), &[], Some(on_chain));
        assert!(own.await.unwrap().new);
        let elsewhere = store.append_entry(&checks::posted("C2", "3.0"), &[]);
        elsewhere.await.unwrap();
        assert!(
            chain.is_current(),
            "its own events and other channels' keep it"
        );
        let again = store.append_entry(&checks::posted("C1", "1.0"), &[]);
        assert!(!again.await.unwrap().new);
        assert!(chain.is_current(), "a redelivery stores nothing");
        let chatter = store.append_entry(&checks::posted("C1", "4.0"), &[]);
        chatter.await.unwrap();
        assert!(
            !chain.is_current(),
            "someone else's event in its channel ends it"
        );
        assert_eq!(store.epoch(), epoch, "nobody outside the process wrote");
    }

    /// An append folded without a read, on the store's word, is refused once the writer finds
    /// that another process stored an event meanwhile, and so is the rest of its chain; an
    /// append folded after a read, in the same batch, is stored.
    #[tokio::test]
    async fn an_unread_append_is_refused_once_another_process_wrote() {
        let (store, _backend, dir) = open().await;
        let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
        let other_process = SqliteStore::open(&url).await.unwrap();
        store
            .append_entry(&checks::posted("C1", "1.0"), &[])
            .await
            .unwrap();
        let chain = Arc::new(Chain::default());
        let epoch = store.watch(&channel("C1"), &chain);
        let unread = || {
            Some(Basis {
                chain: &chain,
                unread: epoch,
            })
        };
        let vouched = store.append_chained(&checks::posted("C1", "2.0"), &[], unread());
        assert!(vouched.await.unwrap().new, "nobody wrote: stored");

        let foreign = other_process.append_entry(&checks::posted("C1", "3.0"), &[]);
        foreign.await.unwrap();
        assert!(chain.is_current(), "the writer cannot know yet");
        let refused = store.append_chained(&checks::posted("C1", "4.0"), &[], unread());
        let after_it = store.append_chained(&checks::posted("C1", "5.0"), &[], unread());
        let read_first = store.append_entry(&checks::posted("C2", "6.0"), &[]);
        assert!(matches!(refused.await, Err(StoreError::Stale)));
        assert!(matches!(after_it.await, Err(StoreError::Stale)));
        assert!(read_first.await.unwrap().new);
        assert_ne!(store.epoch(), epoch, "the writer's word is taken back");

        let messages = |events: Vec<ChatEvent>| -> Vec<String> {
            events
                .into_iter()
                .map(|e| e.message.as_str().to_owned())
                .collect()
        };
        let stored = store.channel_events(&channel("C1")).await.unwrap();
        assert_eq!(messages(stored), ["1.0", "2.0", "3.0"]);
        let fresh = Arc::new(Chain::default());
        assert_eq!(
            store.watch(&channel("C1"), &fresh),
            None,
            "no word given before the writer has read the log again"
        );
        let next = store.append_entry(&checks::posted("C2", "7.0"), &[]);
        next.await.unwrap();
        let epoch = store.watch(&channel("C1"), &fresh);
        assert!(epoch.is_some(), "the writer knows the log again");
        let refolded = Some(Basis {
            chain: &fresh,
            unread: epoch,
        });
        let stored = store.append_chained(&checks::posted("C1", "4.0"), &[], refolded);
        assert!(stored.await.unwrap().new, "folded again, it is stored");
    }
}
