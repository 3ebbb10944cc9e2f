//! Retention: deletes the messages no incident holds or ever will (posted while none was open,
//! longer ago than `[retention] before_incident`). The fold already leaves them out of every
//! incident ([`crate::domain::Settings::waits_for_start`]), so deleting them changes no draft,
//! whether a fold read them before or after. A deleted event keeps its key for
//! `[retention] keys_for`, so that a platform delivering it again stores nothing.

use std::fmt;

use chrono::{DateTime, Duration, Utc};

use crate::domain::{ChannelRef, Fold, MessageId, Settings};
use crate::storage::{Forgotten, Store, StoreError};

/// Messages deleted per transaction: small, so appends queued behind one wait little.
const BATCH: usize = 200;

/// Keys dropped per statement.
const KEYS_BATCH: u32 = 1_000;

/// What a pass deleted (or, dry, would delete).
#[derive(Debug, Default)]
pub struct Report {
    pub dry_run: bool,
    /// The channels with something to delete, in the store's order.
    pub channels: Vec<Deleted>,
    /// Keys of events deleted longer than `keys_for` ago, dropped (none in a dry run).
    pub keys_dropped: u64,
}

#[derive(Debug)]
pub struct Deleted {
    pub channel: ChannelRef,
    pub messages: usize,
    pub freed: Forgotten,
}

impl Report {
    pub fn total(&self) -> Forgotten {
        let mut total = Forgotten::default();
        for deleted in &self.channels {
            total += deleted.freed;
        }
        total
    }
}

/// One line per channel, then the total.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run {
            "would delete"
        } else {
            "deleted"
        };
        for deleted in &self.channels {
            writeln!(
                f,
                "{}: {verb} {} messages ({} events, {} bytes)",
                deleted.channel, deleted.messages, deleted.freed.events, deleted.freed.bytes
            )?;
        }
        let total = self.total();
        let messages: usize = self.channels.iter().map(|d| d.messages).sum();
        writeln!(
            f,
            "{verb} {messages} messages in {} channels ({} events, {} bytes) that no incident holds",
            self.channels.len(),
            total.events,
            total.bytes
        )?;
        if !self.dry_run {
            writeln!(
                f,
                "dropped {} keys older than the redelivery window",
                self.keys_dropped
            )?;
        }
        Ok(())
    }
}

/// One pass over every channel. Each channel is folded on its own (and dropped after), so the
/// pass takes one channel's memory; `forgot` is told of every channel whose log changed, for
/// a cache of folds to drop it.
pub async fn pass<S: Store>(
    store: &S,
    settings: &Settings,
    keys_for: Duration,
    now: DateTime<Utc>,
    dry_run: bool,
    mut forgot: impl FnMut(&ChannelRef),
) -> Result<Report, StoreError> {
    let mut report = Report {
        dry_run,
        ..Report::default()
    };
    for channel in store.channels().await? {
        let span = tracing::info_span!("retention", channel = %channel);
        let _entered = span.enter();
        let mut fold = Fold::new(settings.clone());
        for event in store.channel_events(&channel).await? {
            fold.apply(event);
        }
        let messages: Vec<MessageId> = fold.forgettable(now);
        drop(fold);
        if messages.is_empty() {
            continue;
        }
        let mut freed = Forgotten::default();
        for batch in messages.chunks(BATCH) {
            freed += if dry_run {
                store.measure(&channel, batch).await?
            } else {
                store.forget(&channel, batch, now).await?
            };
            tokio::task::yield_now().await;
        }
        if freed.events == 0 {
            continue;
        }
        if !dry_run {
            forgot(&channel);
            tracing::info!(
                messages = messages.len(),
                events = freed.events,
                "deleted the messages no incident holds"
            );
        }
        report.channels.push(Deleted {
            channel,
            messages: messages.len(),
            freed,
        });
    }
    if !dry_run {
        loop {
            let dropped = store.drop_keys(now - keys_for, KEYS_BATCH).await?;
            report.keys_dropped += dropped;
            if dropped < u64::from(KEYS_BATCH) {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    Ok(report)
}
