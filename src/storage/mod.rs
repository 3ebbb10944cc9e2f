//! Durable storage of the event log. Incidents are never stored: they are folded from the log.
//!
//! [`Store`] is implemented by SQLite (the embedded default); any implementation must pass the
//! conformance suite in `tests/storage.rs`.

use std::future::Future;

use crate::domain::{ChannelRef, ChatEvent};

pub mod sqlite;

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
    #[error("stored event #{seq} cannot be read back: {reason}")]
    Corrupt { seq: i64, reason: String },
}

pub trait Store: Send + Sync {
    /// Stores `event` durably before returning: `true` when it was new, `false` when an event
    /// with the same key was stored before (a redelivery), which changes nothing.
    fn append(&self, event: &ChatEvent) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A channel's events, in the order they were stored.
    fn channel_events(
        &self,
        channel: &ChannelRef,
    ) -> impl Future<Output = Result<Vec<ChatEvent>, StoreError>> + Send;
}
