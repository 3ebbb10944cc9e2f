//! The storage conformance suite: every `Store` implementation must pass every check here.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use scribe::domain::{
    Author, AuthorKind, ChannelRef, ChatEvent, EventKind, MessageId, Platform, UserId,
};
use scribe::storage::{SqliteStore, Store};

fn at(secs: i64, micros: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, micros * 1000).unwrap()
}

fn channel(id: &str) -> ChannelRef {
    ChannelRef::new(Platform::Slack, id)
}

fn posted(channel_id: &str, message: &str, text: &str) -> ChatEvent {
    ChatEvent {
        channel: channel(channel_id),
        message: MessageId::new(message),
        at: at(1_709_978_405, 22_255),
        kind: EventKind::Posted {
            author: Author::human("U1", "Zoë Kapoor"),
            text: text.into(),
            thread: None,
        },
    }
}

/// One event of every kind, with text that tries to break a naive store.
fn every_kind() -> Vec<ChatEvent> {
    let on = |message: &str, secs: i64, kind: EventKind| ChatEvent {
        channel: channel("C1"),
        message: MessageId::new(message),
        at: at(secs, 123_456),
        kind,
    };
    vec![
        on(
            "1.1",
            100,
            EventKind::Posted {
                author: Author {
                    id: UserId::new("B1"),
                    name: "deploy'bot\"; DROP TABLE events;--".into(),
                    kind: AuthorKind::Bot,
                },
                text: "NUL \0 RTL \u{202e} {{ 7*7 }} 'quoted' 📌".into(),
                thread: Some(MessageId::new("1.0")),
            },
        ),
        on(
            "1.1",
            101,
            EventKind::Edited {
                text: "edited".into(),
            },
        ),
        on(
            "1.1",
            102,
            EventKind::ReactionAdded {
                emoji: "📌".into(),
                user: UserId::new("U2"),
            },
        ),
        on(
            "1.1",
            103,
            EventKind::ReactionRemoved {
                emoji: "📌".into(),
                user: UserId::new("U2"),
            },
        ),
        on("1.1", 104, EventKind::PinAdded),
        on("1.1", 105, EventKind::PinRemoved),
        on("1.1", 106, EventKind::Deleted),
    ]
}

mod checks {
    use super::*;

    pub async fn a_new_event_is_stored_once<S: Store>(store: &S) {
        let event = posted("C1", "1.0", "/timeline rolled back");
        assert!(store.append(&event).await.unwrap(), "new event");
        assert!(!store.append(&event).await.unwrap(), "redelivery");
        let mut again = event.clone();
        again.at = at(1_709_978_999, 0);
        assert!(!store.append(&again).await.unwrap(), "same key, other time");
        assert_eq!(
            store.channel_events(&channel("C1")).await.unwrap(),
            vec![event]
        );
    }

    pub async fn every_kind_round_trips_exactly<S: Store>(store: &S) {
        let events = every_kind();
        for event in &events {
            assert!(store.append(event).await.unwrap());
        }
        assert_eq!(store.channel_events(&channel("C1")).await.unwrap(), events);
    }

    pub async fn channels_and_platforms_are_apart<S: Store>(store: &S) {
        let slack = posted("C1", "1.0", "slack");
        let other_channel = posted("C2", "1.0", "other channel");
        let mut discord = posted("C1", "1.0", "discord");
        discord.channel.platform = Platform::Discord;
        for event in [&slack, &other_channel, &discord] {
            assert!(store.append(event).await.unwrap());
        }
        assert_eq!(
            store.channel_events(&channel("C1")).await.unwrap(),
            vec![slack]
        );
        assert_eq!(
            store.channel_events(&discord.channel).await.unwrap(),
            vec![discord]
        );
        assert!(
            store
                .channel_events(&channel("C9"))
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn events_come_back_in_arrival_order<S: Store>(store: &S) {
        let mut late = posted("C1", "2.0", "posted later, arrived first");
        late.at = at(2_000_000_000, 0);
        let early = posted("C1", "1.0", "posted earlier, arrived second");
        store.append(&late).await.unwrap();
        store.append(&early).await.unwrap();
        assert_eq!(
            store.channel_events(&channel("C1")).await.unwrap(),
            vec![late, early]
        );
    }

    pub async fn concurrent_redeliveries_store_one<S: Store + 'static>(store: Arc<S>) {
        let event = posted("C1", "1.0", "raced");
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let store = Arc::clone(&store);
                let event = event.clone();
                tokio::spawn(async move { store.append(&event).await.unwrap() })
            })
            .collect();
        let mut new = 0;
        for task in tasks {
            new += usize::from(task.await.unwrap());
        }
        assert_eq!(new, 1);
        assert_eq!(store.channel_events(&channel("C1")).await.unwrap().len(), 1);
    }
}

macro_rules! conformance {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn a_new_event_is_stored_once() {
                let (store, _guard) = $open.await;
                checks::a_new_event_is_stored_once(&store).await;
            }

            #[tokio::test]
            async fn every_kind_round_trips_exactly() {
                let (store, _guard) = $open.await;
                checks::every_kind_round_trips_exactly(&store).await;
            }

            #[tokio::test]
            async fn channels_and_platforms_are_apart() {
                let (store, _guard) = $open.await;
                checks::channels_and_platforms_are_apart(&store).await;
            }

            #[tokio::test]
            async fn events_come_back_in_arrival_order() {
                let (store, _guard) = $open.await;
                checks::events_come_back_in_arrival_order(&store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_redeliveries_store_one() {
                let (store, _guard) = $open.await;
                checks::concurrent_redeliveries_store_one(Arc::new(store)).await;
            }
        }
    };
}

async fn open_sqlite() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("data/scribe.db").display());
    (SqliteStore::open(&url).await.unwrap(), dir)
}

conformance!(sqlite, open_sqlite());

#[tokio::test]
async fn sqlite_keeps_events_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
    let events = every_kind();
    {
        let store = SqliteStore::open(&url).await.unwrap();
        for event in &events {
            store.append(event).await.unwrap();
        }
        store.close().await;
    }
    let reopened = SqliteStore::open(&url).await.unwrap();
    assert_eq!(
        reopened.channel_events(&channel("C1")).await.unwrap(),
        events
    );
    assert!(
        !reopened.append(&events[0]).await.unwrap(),
        "still deduplicated"
    );
}
