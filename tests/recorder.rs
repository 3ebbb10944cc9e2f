//! The recorder keeps each channel's fold in memory; two processes on one database must still
//! agree, because every command first checks the store for events it has not seen.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use scribe::domain::{
    Author, ChannelRef, ChatEvent, EventKind, MessageId, Outcome, Platform, Settings,
};
use scribe::recorder::Recorder;
use scribe::storage::SqliteStore;

fn said(id: &str, minute: i64, text: &str) -> ChatEvent {
    ChatEvent {
        channel: ChannelRef::new(Platform::Slack, "C1"),
        message: MessageId::new(id),
        at: Utc.with_ymd_and_hms(2024, 3, 9, 10, 0, 0).unwrap() + Duration::minutes(minute),
        kind: EventKind::Posted {
            author: Author::human("U1", "Robin"),
            text: text.into(),
            thread: None,
        },
    }
}

#[tokio::test]
async fn two_recorders_on_one_store_see_each_others_commands() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
    let store = Arc::new(SqliteStore::open(&url).await.unwrap());
    let a = Recorder::new(Arc::clone(&store), Settings::default());
    let b = Recorder::new(Arc::clone(&store), Settings::default());
    let outcome = |recorded: scribe::recorder::Recorded| recorded.effect.map(|r| r.outcome);

    let started = a
        .record(&said("1", 0, "/incident start Checkout 5xx"), |_, _, _| {
            Vec::new()
        })
        .await
        .unwrap();
    assert_eq!(outcome(started), Some(Outcome::Opened));
    // B has never seen the channel; then A's fold is current and B writes behind its back.
    let noted = b
        .record(&said("2", 1, "/timeline rolled back"), |_, _, _| Vec::new())
        .await
        .unwrap();
    assert!(matches!(
        outcome(noted),
        Some(Outcome::Recorded {
            before_start: false,
            ..
        })
    ));
    b.record(&said("3", 2, "plain chatter"), |_, _, _| Vec::new())
        .await
        .unwrap();
    let closed = a
        .record(&said("4", 3, "/incident close"), |_, _, _| Vec::new())
        .await
        .unwrap();
    let incident = closed
        .incident
        .clone()
        .expect("a close speaks of its incident");
    assert_eq!(outcome(closed), Some(Outcome::Closed));
    assert_eq!(
        incident.participants[0].messages, 4,
        "A's fold has B's events"
    );
    assert!(incident.timeline.iter().any(|e| e.text == "rolled back"));

    let history = b
        .history(&ChannelRef::new(Platform::Slack, "C1"))
        .await
        .unwrap();
    assert_eq!(history.incidents, vec![incident]);
    let again = b
        .record(&said("4", 3, "/incident close"), |_, _, _| Vec::new())
        .await
        .unwrap();
    assert!(!again.new, "a redelivered close is stored once");
}

#[tokio::test]
async fn the_fold_in_memory_equals_the_fold_read_back_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
    let store = Arc::new(SqliteStore::open(&url).await.unwrap());
    let live = Recorder::new(Arc::clone(&store), Settings::default());
    // Clocks give nanoseconds; stores keep microseconds.
    let mut start = said("1", 0, "/incident start Checkout 5xx");
    start.at += chrono::Duration::nanoseconds(123_456_789);
    let mut close = said("2", 5, "/incident close");
    close.at += chrono::Duration::nanoseconds(987_654_321);
    live.record(&start, |_, _, _| Vec::new()).await.unwrap();
    let closed = live.record(&close, |_, _, _| Vec::new()).await.unwrap();
    let restarted = Recorder::new(store, Settings::default());
    let channel = ChannelRef::new(Platform::Slack, "C1");
    assert_eq!(
        restarted.history(&channel).await.unwrap().incidents,
        vec![closed.incident.unwrap()]
    );
}

/// Two processes on one SQLite file. A's busy channel is folded without reading the store
/// first, on its writer's word that nobody else wrote there; once B closes the incident, A's
/// next command still answers from a fold that holds the close.
#[tokio::test]
async fn a_command_sees_what_another_process_stored_though_its_fold_was_vouched_for() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
    let a = Recorder::new(
        Arc::new(SqliteStore::open(&url).await.unwrap()),
        Settings::default(),
    );
    let b = Recorder::new(
        Arc::new(SqliteStore::open(&url).await.unwrap()),
        Settings::default(),
    );
    let outcome = |recorded: scribe::recorder::Recorded| recorded.effect.map(|r| r.outcome);
    a.record(&said("1", 0, "/incident start Checkout 5xx"), |_, _, _| {
        Vec::new()
    })
    .await
    .unwrap();
    for minute in 1..=3 {
        let text = format!("/timeline step {minute}");
        let noted = a
            .record(&said(&format!("t{minute}"), minute, &text), |_, _, _| {
                Vec::new()
            })
            .await
            .unwrap();
        assert!(matches!(outcome(noted), Some(Outcome::Recorded { .. })));
    }
    let closed = b
        .record(&said("5", 5, "/incident close"), |_, _, _| Vec::new())
        .await
        .unwrap();
    assert_eq!(outcome(closed), Some(Outcome::Closed));

    let late = a
        .record(&said("6", 6, "/incident severity SEV2"), |_, _, _| {
            Vec::new()
        })
        .await
        .unwrap();
    assert_eq!(outcome(late), Some(Outcome::NoOpenIncident));
    let history = a
        .history(&ChannelRef::new(Platform::Slack, "C1"))
        .await
        .unwrap();
    assert_eq!(history.incidents.len(), 1);
    assert!(history.incidents[0].closed_at.is_some());
}
