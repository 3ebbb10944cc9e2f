//! The shared store: a PostgreSQL database several Scribe processes can use at once.
//!
//! Every guarantee the SQLite store gets from its single writer comes here from the database:
//! unique keys with `ON CONFLICT DO NOTHING` make a raced append or enqueue store once, and
//! `FOR UPDATE SKIP LOCKED` hands each due job to one claimer while the others move on.

use std::borrow::Cow;

use chrono::{DateTime, Duration, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Row, SqlSafeStr};

use super::{Job, JobEnd, JobState, JobStatus, NewJob, Store, StoreError};
use crate::domain::{ChannelRef, ChatEvent, EventKind, MessageId, Platform};

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
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
    ])
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`) and migrates the database. Processes opening it at
    /// once are safe: the migrator holds an advisory lock while it works.
    /// Connects to the database at `url` without touching its schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPool::connect(url).await?;
        Ok(PostgresStore { pool })
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
}

async fn insert_jobs(tx: &mut sqlx::PgConnection, jobs: &[NewJob]) -> Result<(), StoreError> {
    for job in jobs {
        sqlx::query(
            "INSERT INTO jobs (key, kind, payload, run_at_us) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(&job.key)
        .bind(&job.kind)
        .bind(&job.payload)
        .bind(job.run_at.timestamp_micros())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

fn platform(row: &PgRow, id: i64) -> Result<Platform, StoreError> {
    let name: &str = row.try_get("platform")?;
    Platform::parse(name).ok_or_else(|| StoreError::Corrupt {
        id,
        reason: format!("unknown platform `{name}`"),
    })
}

impl Store for PostgresStore {
    async fn append(&self, event: &ChatEvent, jobs: &[NewJob]) -> Result<bool, StoreError> {
        let key = event.key();
        let payload = serde_json::to_string(&event.kind).expect("events serialise");
        let mut tx = self.pool.begin().await?;
        // A concurrent append of the same key waits here for the first to commit, then skips.
        let done = sqlx::query(
            "INSERT INTO events (platform, channel, message, kind, at_us, payload)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (platform, channel, message, kind) DO NOTHING",
        )
        .bind(key.channel.platform.as_str())
        .bind(&key.channel.id)
        .bind(key.message.as_str())
        .bind(&key.kind)
        .bind(event.at.timestamp_micros())
        .bind(payload)
        .execute(&mut *tx)
        .await?;
        insert_jobs(&mut tx, jobs).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn channel_events(&self, channel: &ChannelRef) -> Result<Vec<ChatEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, message, at_us, payload FROM events
             WHERE platform = $1 AND channel = $2 ORDER BY seq",
        )
        .bind(channel.platform.as_str())
        .bind(&channel.id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("seq")?;
                let corrupt = |reason: String| StoreError::Corrupt { id, reason };
                let at_us: i64 = row.try_get("at_us")?;
                let payload: &str = row.try_get("payload")?;
                let kind: EventKind =
                    serde_json::from_str(payload).map_err(|e| corrupt(e.to_string()))?;
                Ok(ChatEvent {
                    channel: channel.clone(),
                    message: MessageId::new(row.try_get::<String, _>("message")?),
                    at: DateTime::from_timestamp_micros(at_us)
                        .ok_or_else(|| corrupt(format!("time {at_us} out of range")))?,
                    kind,
                })
            })
            .collect()
    }

    async fn channel_len(&self, channel: &ChannelRef) -> Result<usize, StoreError> {
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM events WHERE platform = $1 AND channel = $2")
                .bind(channel.platform.as_str())
                .bind(&channel.id)
                .fetch_one(&self.pool)
                .await?;
        Ok(count as usize)
    }

    async fn channels(&self) -> Result<Vec<ChannelRef>, StoreError> {
        let rows = sqlx::query(
            "SELECT platform, channel, MIN(seq) AS first_seq FROM events
             GROUP BY platform, channel ORDER BY first_seq",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("first_seq")?;
                Ok(ChannelRef::new(
                    platform(row, id)?,
                    row.try_get::<String, _>("channel")?,
                ))
            })
            .collect()
    }

    async fn enqueue(&self, jobs: &[NewJob]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_jobs(&mut tx, jobs).await?;
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
        let row = sqlx::query(
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
        row.map(|row| {
            Ok(Job {
                id: row.try_get("id")?,
                key: row.try_get("key")?,
                kind: row.try_get("kind")?,
                payload: row.try_get("payload")?,
                attempts: row.try_get::<i32, _>("attempts")? as u32,
            })
        })
        .transpose()
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
        let rows = sqlx::query(
            "SELECT id, key, kind, state, attempts, last_error FROM jobs
             WHERE starts_with(key, $1) ORDER BY id",
        )
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                let state: &str = row.try_get("state")?;
                Ok(JobStatus {
                    key: row.try_get("key")?,
                    kind: row.try_get("kind")?,
                    state: JobState::parse(state).ok_or_else(|| StoreError::Corrupt {
                        id,
                        reason: format!("unknown job state `{state}`"),
                    })?,
                    attempts: row.try_get::<i32, _>("attempts")? as u32,
                    last_error: row.try_get("last_error")?,
                })
            })
            .collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
