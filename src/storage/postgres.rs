//! The shared store: a PostgreSQL database several Scribe processes can use at once.
//!
//! SQLite serialises writers with its file lock; here the database gives the same guarantees:
//! unique keys with `ON CONFLICT DO NOTHING` make a raced append or enqueue store once, and
//! `FOR UPDATE SKIP LOCKED` hands each due job to one claimer while the others move on.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;

use chrono::{DateTime, Duration, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::PgPool;
use sqlx::{QueryBuilder, SqlSafeStr};

use super::rows;
use super::writer::{Append, Backend, Inserted, JOBS_PER_INSERT, Pending, Writer, outcomes};
use super::{
    Appended, Basis, DROP_KEYS, Forgotten, Job, JobEnd, JobState, JobStatus, Logged, NewJob, Store,
    StoreError, WebIdentity, WebSession, forget_in,
};
use crate::domain::{ChannelRef, ChatEvent, MessageId, Platform};
use crate::search::{Document, Hit, Match, Query};

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// This process's appends, group-committed by one task.
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
            include_str!("../../migrations/postgres/0001_events.sql"),
        ),
        migration(
            2,
            "jobs",
            include_str!("../../migrations/postgres/0002_jobs.sql"),
        ),
        migration(
            3,
            "web",
            include_str!("../../migrations/postgres/0003_web.sql"),
        ),
        migration(
            4,
            "search",
            include_str!("../../migrations/postgres/0004_search.sql"),
        ),
        migration(
            5,
            "retention",
            include_str!("../../migrations/postgres/0005_retention.sql"),
        ),
    ])
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`) and migrates the database. Processes opening it at
    /// once are safe: the migrator holds an advisory lock while it works.
    /// Connects to the database at `url` without touching its schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPool::connect(url).await?;
        let writer = Writer::spawn(PostgresBackend { pool: pool.clone() });
        Ok(PostgresStore { pool, writer })
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

struct PostgresBackend {
    pool: PgPool,
}

/// The advisory lock of a channel: a 64-bit FNV-1a hash of its name, the same in every process.
fn channel_lock(platform: &str, channel: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in platform.bytes().chain([b':']).chain(channel.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

impl Backend for PostgresBackend {
    async fn write_batch(&self, rows: &[&Append]) -> Result<Vec<Appended>, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Sequence numbers are taken at insert but become visible at commit, which another
        // process may do in a different order. Holding each channel's lock from before the
        // first insert until the commit makes a channel's events visible in the order of
        // their numbers (see `Appended::seq`). Taken in one order everywhere: no deadlock.
        let mut locks: Vec<i64> = rows
            .iter()
            .map(|row| channel_lock(row.platform, &row.channel))
            .collect();
        locks.sort_unstable();
        locks.dedup();
        for lock in locks {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(lock)
                .execute(&mut *tx)
                .await?;
        }
        let mut insert = QueryBuilder::new(
            "INSERT INTO events (platform, channel, message, kind, at_us, payload) ",
        );
        insert.push_values(rows, |mut values, row| {
            values
                .push_bind(row.platform)
                .push_bind(&row.channel)
                .push_bind(&row.message)
                .push_bind(&row.kind)
                .push_bind(row.at_us)
                .push_bind(&row.payload);
        });
        // A key already stored, or earlier in this batch, inserts nothing and returns no row.
        insert.push(
            " ON CONFLICT (platform, channel, message, kind) DO NOTHING
             RETURNING seq, platform, channel, message, kind",
        );
        let inserted: Vec<Inserted> = insert.build_query_as().fetch_all(&mut *tx).await?;
        let jobs: Vec<&NewJob> = rows.iter().flat_map(|row| &row.jobs).collect();
        insert_jobs(&mut tx, &jobs).await?;
        tx.commit().await?;
        Ok(outcomes(rows, inserted))
    }
}

/// A payload's size in bytes.
const PAYLOAD_BYTES: &str = "octet_length(payload)";

async fn insert_jobs(tx: &mut sqlx::PgConnection, jobs: &[&NewJob]) -> Result<(), StoreError> {
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

impl Store for PostgresStore {
    fn append_chained(
        &self,
        event: &ChatEvent,
        jobs: &[NewJob],
        basis: Option<Basis<'_>>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send + use<> {
        self.submit(event, jobs, basis)
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
            "SELECT platform, channel, MIN(seq) AS first_seq FROM events
             GROUP BY platform, channel ORDER BY first_seq",
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
        // The row lock taken by the subquery is held until the UPDATE commits, so a concurrent
        // claimer (in this process or another) skips the row instead of leasing it twice.
        let claimed: Option<rows::JobRow> = sqlx::query_as(
            "UPDATE jobs SET leased_until_us = $1, attempts = attempts + 1
             WHERE id = (SELECT id FROM jobs
                         WHERE state = 'pending' AND run_at_us <= $2
                           AND (leased_until_us IS NULL OR leased_until_us <= $2)
                         ORDER BY run_at_us, id LIMIT 1
                         FOR UPDATE SKIP LOCKED)
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
        // `starts_with`, not LIKE: `_` and `%` in a channel id are plain characters.
        let found: Vec<rows::JobStatusRow> = sqlx::query_as(
            "SELECT id, key, kind, state, attempts, last_error FROM jobs
             WHERE starts_with(key, $1) ORDER BY id",
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
        // Byte order, as in SQLite and Rust, whatever the database's collation.
        let found: Vec<String> = sqlx::query_scalar(
            "SELECT channel FROM channel_workspaces WHERE platform = $1 AND workspace = $2
             ORDER BY channel COLLATE \"C\"",
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
            sqlx::query(
                "INSERT INTO search_docs (incident, platform, channel, title, severity,
                     started_at_us, duration_minutes, closed, body, messages, digest)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (incident) DO UPDATE SET title = excluded.title,
                     severity = excluded.severity, started_at_us = excluded.started_at_us,
                     duration_minutes = excluded.duration_minutes, closed = excluded.closed,
                     body = excluded.body, messages = excluded.messages,
                     digest = excluded.digest",
            )
            .bind(&document.id)
            .bind(document.platform.as_str())
            .bind(&document.channel)
            .bind(&document.title)
            .bind(document.severity)
            .bind(document.started_at.timestamp_micros())
            .bind(document.duration_minutes)
            .bind(document.closed)
            .bind(&document.body)
            .bind(&document.messages)
            .bind(&document.digest)
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
        // `websearch_to_tsquery` never fails on its input; the words hold no operator but
        // `or` (a stop word anyway), left out.
        let words: Vec<&str> = query.words.iter().filter(|w| *w != "or").collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        // Incidents like one are alike in their title, story and timeline (weights A and B),
        // not in their chatter; the words are letters and digits, so `to_tsquery` reads each
        // as a word.
        let mut sql = QueryBuilder::new("WITH q AS (SELECT ");
        match query.matching {
            Match::All => sql
                .push("websearch_to_tsquery('english', ")
                .push_bind(words.join(" ")),
            Match::Any => {
                let any: Vec<String> = words.iter().map(|w| format!("{w}:AB")).collect();
                sql.push("to_tsquery('english', ")
                    .push_bind(any.join(" | "))
            }
        };
        sql.push(
            ") AS query),
             top AS (SELECT d.incident, ts_rank(d.document, q.query, 1)::float8 AS score
                 FROM search_docs d, q WHERE d.document @@ q.query",
        );
        super::search_filters(&mut sql, query);
        // The snippet only for the rows shown: `ts_headline` reads the whole text.
        sql.push(" ORDER BY score DESC, d.started_at_us DESC LIMIT ")
            .push_bind(query.limit as i64)
            .push(
                ")
             SELECT d.incident, d.title, d.severity, d.started_at_us, d.duration_minutes,
                 ts_headline('english', d.title || ' … ' || d.body || ' … ' || d.messages,
                     q.query, ",
            )
            .push_bind(HEADLINE)
            .push(
                "), top.score
             FROM top JOIN search_docs d ON d.incident = top.incident, q
             ORDER BY top.score DESC, d.started_at_us DESC",
            );
        let found: Vec<rows::HitRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        found.into_iter().map(rows::hit).collect()
    }
}

/// How `ts_headline` cuts a snippet: one fragment of about 16 words, matches marked as
/// [`crate::search::HIT_START`] … [`crate::search::HIT_END`].
const HEADLINE: &str = "StartSel=\u{2}, StopSel=\u{3}, MaxWords=20, MinWords=8, MaxFragments=1, FragmentDelimiter=\" … \"";

#[cfg(test)]
mod tests {
    use sqlx::{AssertSqlSafe, Connection, PgConnection};

    use super::*;
    use crate::storage::writer::checks;

    /// A store in a schema of its own in the database `SCRIBE_TEST_POSTGRES_URL` names, or
    /// `None` (after saying so) without one. The schema is dropped by [`drop_schema`].
    async fn open() -> Option<(PostgresStore, PostgresBackend, String, String)> {
        let Some(base) = std::env::var("SCRIBE_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())
        else {
            use std::io::Write;
            std::io::stderr()
                .write_all(b"SKIPPED: SCRIBE_TEST_POSTGRES_URL is not set; PostgreSQL batch tests not run\n")
                .unwrap();
            return None;
        };
        let schema = format!("scribe_test_{:016x}", rand::random::<u64>());
        let mut conn = PgConnection::connect(&base).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let mut url = url::Url::parse(&base).unwrap();
        url.query_pairs_mut()
            .append_pair("options", &format!("-c search_path={schema}"));
        let store = PostgresStore::open(url.as_str()).await.unwrap();
        let backend = PostgresBackend {
            pool: store.pool.clone(),
        };
        Some((store, backend, base, schema))
    }

    /// Makes the database refuse every event whose message is `poison`.
    async fn poison(store: &PostgresStore) {
        sqlx::raw_sql(
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'poisoned'; END $$;
             CREATE TRIGGER poison BEFORE INSERT ON events
             FOR EACH ROW WHEN (NEW.message = 'poison') EXECUTE FUNCTION poison();",
        )
        .execute(&store.pool)
        .await
        .unwrap();
    }

    async fn drop_schema(store: PostgresStore, base: &str, schema: &str) {
        store.close().await;
        let mut conn = PgConnection::connect(base).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&mut conn)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_batch_deduplicates_within_itself() {
        let Some((store, backend, base, schema)) = open().await else {
            return;
        };
        checks::a_batch_deduplicates_within_itself(&checks::Plain(backend), &store).await;
        drop_schema(store, &base, &schema).await;
    }

    #[tokio::test]
    async fn a_failing_append_fails_alone() {
        let Some((store, backend, base, schema)) = open().await else {
            return;
        };
        poison(&store).await;
        checks::a_failing_append_fails_alone(&checks::Plain(backend), &store).await;
        drop_schema(store, &base, &schema).await;
    }

    #[tokio::test]
    async fn a_failed_append_breaks_its_chain() {
        let Some((store, backend, base, schema)) = open().await else {
            return;
        };
        poison(&store).await;
        checks::a_failed_append_breaks_its_chain(&checks::Plain(backend), &store).await;
        drop_schema(store, &base, &schema).await;
    }

    #[test]
    fn channel_locks_are_stable_and_apart() {
        assert_eq!(channel_lock("slack", "C1"), channel_lock("slack", "C1"));
        assert_ne!(channel_lock("slack", "C1"), channel_lock("slack", "C2"));
        assert_ne!(channel_lock("slack", "C1"), channel_lock("discord", "C1"));
    }
}
