//! Keeps the search index current with the log. Recording an event only marks its channel;
//! the indexer folds marked channels and writes the documents that changed, in the
//! background (at most once a second, so a busy channel is not re-indexed per message) and
//! before every search, so that a search sees every event stored before it. At start every
//! channel is marked: the index fills itself for a log written before it existed, and catches
//! up on what a process stopped before indexing.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use crate::domain::ChannelRef;
use crate::domain::known::conversation;
use crate::recorder::Recorder;
use crate::search::Document;
use crate::storage::{AnyStore, Store, StoreError};

/// How many documents go to the store in one transaction.
const BATCH: usize = 200;

/// The quiet time the background indexer leaves between two passes.
pub const PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Default)]
struct Marked {
    channels: HashSet<ChannelRef>,
    /// Every channel of the store, whatever `channels` says.
    everything: bool,
}

#[derive(Default)]
pub struct Indexer {
    marked: Mutex<Marked>,
    wake: tokio::sync::Notify,
    /// The digest of each indexed document, read from the store at the first pass; held for
    /// the whole pass, so that passes never overlap.
    digests: tokio::sync::Mutex<Option<HashMap<String, String>>>,
    /// `[search] messages`.
    messages: bool,
}

impl Indexer {
    pub fn new(messages: bool) -> Indexer {
        Indexer {
            messages,
            ..Indexer::default()
        }
    }

    /// Notes that `channel` changed.
    pub fn mark(&self, channel: &ChannelRef) {
        let mut marked = self.marked.lock().unwrap_or_else(PoisonError::into_inner);
        if !marked.everything && !marked.channels.contains(channel) {
            marked.channels.insert(channel.clone());
        }
        drop(marked);
        self.wake.notify_one();
    }

    /// Marks every channel of the store.
    pub fn mark_everything(&self) {
        self.marked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .everything = true;
        self.wake.notify_one();
    }

    /// Indexes the marked channels' incidents whose document changed; returns how many
    /// documents were written. A channel that fails stays marked.
    pub async fn pass(&self, recorder: &Recorder<AnyStore>) -> Result<usize, StoreError> {
        let mut digests = self.digests.lock().await;
        let store = recorder.store();
        if digests.is_none() {
            *digests = Some(store.indexed().await?);
        }
        let digests = digests.get_or_insert_with(HashMap::new);
        let marked =
            std::mem::take(&mut *self.marked.lock().unwrap_or_else(PoisonError::into_inner));
        let mut channels: Vec<ChannelRef> = if marked.everything {
            store
                .channels()
                .await
                .inspect_err(|_| self.mark_everything())?
        } else {
            marked.channels.into_iter().collect()
        };
        let mut written = 0;
        while !channels.is_empty() {
            let mut documents = Vec::new();
            let mut taken = Vec::new();
            while documents.len() < BATCH
                && let Some(channel) = channels.pop()
            {
                match self.documents(recorder, &channel).await {
                    Ok(made) => documents.extend(
                        made.into_iter()
                            .filter(|d| digests.get(&d.id) != Some(&d.digest)),
                    ),
                    Err(error) => {
                        self.remark(channels.iter().chain(&taken).chain([&channel]));
                        return Err(error);
                    }
                }
                taken.push(channel);
            }
            if let Err(error) = store.index(&documents).await {
                self.remark(channels.iter().chain(&taken));
                return Err(error);
            }
            written += documents.len();
            for document in documents {
                digests.insert(document.id, document.digest);
            }
        }
        Ok(written)
    }

    fn remark<'a>(&self, channels: impl Iterator<Item = &'a ChannelRef>) {
        for channel in channels {
            self.mark(channel);
        }
    }

    async fn documents(
        &self,
        recorder: &Recorder<AnyStore>,
        channel: &ChannelRef,
    ) -> Result<Vec<Document>, StoreError> {
        let history = recorder.history(channel).await?;
        let events = if self.messages {
            recorder.store().channel_events(channel).await?
        } else {
            Vec::new()
        };
        Ok(history
            .incidents
            .iter()
            .map(|incident| {
                let said = conversation(&events, incident, history.previous_close(incident));
                Document::new(incident, said.iter().map(|m| m.text.as_str()))
            })
            .collect())
    }

    /// Indexes marked channels as they are marked, a pass at most every [`PAUSE`], until
    /// `stopped`.
    pub async fn run(&self, recorder: &Recorder<AnyStore>, stopped: impl Future<Output = ()>) {
        let work = async {
            loop {
                self.wake.notified().await;
                match self.pass(recorder).await {
                    Ok(0) => {}
                    Ok(written) => tracing::debug!(written, "search index updated"),
                    Err(error) => {
                        tracing::warn!(%error, "cannot update the search index; trying again")
                    }
                }
                tokio::time::sleep(PAUSE).await;
            }
        };
        tokio::select! {
            () = work => {}
            () = stopped => {}
        }
    }
}
