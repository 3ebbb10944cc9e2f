//! The embedded store: one SQLite file in WAL mode, every write synced before it returns.

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::DateTime;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqlSafeStr};

use super::{Store, StoreError};
use crate::domain::{ChannelRef, ChatEvent, EventKind, MessageId};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        Cow::Borrowed("events"),
        MigrationType::Simple,
        include_str!("../../migrations/sqlite/0001_events.sql").into_sql_str(),
        false,
    )])
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`) and migrates it.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
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
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        migrator().run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn create_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
        path: dir.display().to_string(),
        source,
    })
}

impl Store for SqliteStore {
    async fn append(&self, event: &ChatEvent) -> Result<bool, StoreError> {
        let key = event.key();
        let payload = serde_json::to_string(&event.kind).expect("events serialise");
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
        .execute(&self.pool)
        .await?;
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
                let seq: i64 = row.try_get("seq")?;
                let corrupt = |reason: String| StoreError::Corrupt { seq, reason };
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
}
