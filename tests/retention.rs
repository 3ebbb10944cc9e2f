//! Retention through the application, on both stores, and `scribe retention` on the command
//! line: what no incident holds is deleted, nothing an incident holds is, every draft reads
//! the same before and after (and after a restart), and a redelivery of a deleted event
//! stores nothing while its key is kept.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::Sandbox;
use common::postgres::Schema;
use scribe::app::App;
use scribe::clock::Clock;
use scribe::config::{Config, Secrets};
use scribe::domain::{Author, ChannelRef, ChatEvent, EventKind, MessageId, Platform, UserId};
use scribe::storage::{self, AnyStore, Store};

fn channel(id: &str) -> ChannelRef {
    ChannelRef::new(Platform::Slack, id)
}

fn say(channel_id: &str, id: &str, at: DateTime<Utc>, who: &str, text: &str) -> ChatEvent {
    ChatEvent {
        channel: channel(channel_id),
        message: MessageId::new(id),
        at,
        kind: EventKind::Posted {
            author: Author::human(format!("U-{who}"), who),
            text: text.into(),
            thread: None,
        },
    }
}

fn pin(channel_id: &str, id: &str, at: DateTime<Utc>, who: &str) -> ChatEvent {
    ChatEvent {
        channel: channel(channel_id),
        message: MessageId::new(id),
        at,
        kind: EventKind::ReactionAdded {
            emoji: "pushpin".into(),
            user: UserId::new(format!("U-{who}")),
        },
    }
}

/// Ten days of two channels, ending `now`: in C1 two incidents with chatter before, between
/// and after them; in C2 only chatter.
fn chat(now: DateTime<Utc>) -> Vec<ChatEvent> {
    let t0 = now - Duration::days(10);
    let day = Duration::days(1);
    let hour = Duration::hours(1);
    vec![
        say("C1", "old", t0, "Robin", "deploy of search went out"),
        pin("C1", "old", t0 + hour, "Robin"),
        say(
            "C1",
            "s1",
            t0 + day * 2,
            "Zoë",
            "/incident start Search down",
        ),
        say(
            "C1",
            "n1",
            t0 + day * 2 + hour / 2,
            "Zoë",
            "/timeline restarted search",
        ),
        say("C1", "c1", t0 + day * 2 + hour, "Zoë", "/incident close"),
        say(
            "C1",
            "sum",
            t0 + day * 2 + hour * 2,
            "Zoë",
            "/incident summary the index was full",
        ),
        say("C1", "between", t0 + day * 3, "Robin", "quiet week"),
        say(
            "C1",
            "alert",
            t0 + day * 5 - hour,
            "Alertbot",
            "ALERT checkout 5xx",
        ),
        pin("C1", "alert", t0 + day * 5 - hour / 2, "Zoë"),
        say(
            "C1",
            "s2",
            t0 + day * 5,
            "Zoë",
            "/incident start Checkout 5xx",
        ),
        say("C1", "c2", t0 + day * 5 + hour, "Zoë", "/incident close"),
        say("C1", "recent", now - hour, "Robin", "lunch?"),
        say("C2", "chatter", t0, "Robin", "hello ops"),
    ]
}

fn config() -> Config {
    Config::load_from(None, Vec::new()).unwrap()
}

/// Every incident's draft, in the store's order of channels.
async fn drafts(app: &App) -> Vec<String> {
    app.all_incidents()
        .await
        .unwrap()
        .iter()
        .map(|incident| app.render_draft(incident, "#incidents").unwrap())
        .collect()
}

async fn retention_keeps_what_incidents_hold(store: AnyStore) {
    let clock = Clock::shifted();
    let app =
        App::new(config(), Secrets::default(), Arc::new(store.clone())).with_clock(clock.clone());
    let events = chat(clock.now());
    for event in &events {
        assert!(app.record(event).await.unwrap().new);
    }
    let before = drafts(&app).await;
    assert_eq!(before.len(), 2);
    assert!(
        !before[0].contains("deploy of search"),
        "older than a day before the start"
    );
    assert!(before[0].contains("the index was full"));
    assert!(
        before[1].contains("ALERT checkout 5xx"),
        "pinned an hour before the start"
    );
    let len = |c: &'static str| {
        let store = store.clone();
        async move { store.channel_len(&channel(c)).await.unwrap() }
    };
    let (c1, c2) = (len("C1").await, len("C2").await);

    let dry = app.retention(true).await.unwrap();
    let said = dry.to_string();
    assert!(
        said.contains("slack:C1: would delete 2 messages (3 events,"),
        "{said}"
    );
    assert!(
        said.contains("would delete 3 messages in 2 channels (4 events"),
        "{said}"
    );
    assert_eq!(
        (len("C1").await, len("C2").await),
        (c1, c2),
        "a dry run deletes nothing"
    );

    let done = app.retention(false).await.unwrap();
    assert_eq!(done.total(), dry.total());
    assert_eq!((len("C1").await, len("C2").await), (c1 - 3, c2 - 1));
    assert_eq!(drafts(&app).await, before, "the same process");
    let restarted = App::new(config(), Secrets::default(), Arc::new(store.clone()));
    assert_eq!(drafts(&restarted).await, before, "after a restart");
    assert_eq!(
        app.retention(false).await.unwrap().total().events,
        0,
        "once"
    );

    // A redelivery of what was deleted stores nothing while its key is kept.
    for event in &events[..2] {
        assert!(!app.record(event).await.unwrap().new, "{:?}", event.message);
    }
    assert_eq!(len("C1").await, c1 - 3);

    // A week on, the keys go, and "lunch?" has waited too long for a start.
    clock.advance(Duration::days(8));
    let before = drafts(&app).await;
    let later = app.retention(false).await.unwrap();
    assert_eq!(later.keys_dropped, 4);
    assert_eq!(later.channels.len(), 1);
    assert_eq!(later.channels[0].messages, 1);
    assert_eq!(drafts(&app).await, before);
    assert!(app.record(&events[0]).await.unwrap().new, "the key is gone");
}

#[tokio::test]
async fn sqlite_retention_keeps_what_incidents_hold() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
    retention_keeps_what_incidents_hold(storage::open(&url).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_retention_keeps_what_incidents_hold() {
    let Some(schema) = Schema::create("postgres_retention_keeps_what_incidents_hold").await else {
        return;
    };
    retention_keeps_what_incidents_hold(storage::open(&schema.url).await.unwrap()).await;
}

#[tokio::test]
async fn scribe_retention_lists_then_deletes() {
    let sandbox = Sandbox::new();
    let url = format!(
        "sqlite://{}",
        sandbox.path().join("data/scribe.db").display()
    );
    let store = storage::open(&url).await.unwrap();
    let app = App::new(config(), Secrets::default(), Arc::new(store.clone()));
    for event in chat(Utc::now()) {
        app.record(&event).await.unwrap();
    }
    let before = drafts(&app).await;
    store.close().await;

    let dry = common::success(&sandbox.run(&["retention", "--dry-run"]));
    assert!(
        dry.contains("would delete 3 messages in 2 channels (4 events"),
        "{dry}"
    );
    let again = common::success(&sandbox.run(&["retention", "--dry-run"]));
    assert_eq!(again, dry, "a dry run changes nothing");
    let done = common::success(&sandbox.run(&["retention"]));
    assert!(
        done.contains("deleted 3 messages in 2 channels (4 events"),
        "{done}"
    );
    assert!(done.contains("dropped 0 keys"), "{done}");
    let after = common::success(&sandbox.run(&["retention", "--dry-run"]));
    assert!(
        after.contains("would delete 0 messages in 0 channels"),
        "{after}"
    );

    let store = storage::open(&url).await.unwrap();
    let app = App::new(config(), Secrets::default(), Arc::new(store));
    assert_eq!(drafts(&app).await, before);
}

#[test]
fn a_bad_retention_setting_is_named() {
    let sandbox = Sandbox::new();
    let output = sandbox
        .scribe()
        .arg("check")
        .env("SCRIBE__RETENTION__BEFORE_INCIDENT", "soon")
        .env("SCRIBE__RETENTION__KEYS_FOR", "0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = common::stdout(&output) + &common::stderr(&output);
    assert!(said.contains("retention.before_incident"), "{said}");
    assert!(said.contains("\"soon\" is not an interval"), "{said}");
    assert!(said.contains("retention.keys_for"), "{said}");
}

/// `scribe retention` SIGKILLed between batches: what it committed stays deleted, the rest is
/// untouched, no draft changes, and the next run finishes the work.
async fn a_killed_retention_loses_nothing(sandbox: &Sandbox, url: &str, env: &[(&str, &str)]) {
    const OLD: usize = 4_000;
    let store = storage::open(url).await.unwrap();
    let app = App::new(config(), Secrets::default(), Arc::new(store.clone()));
    let now = Utc::now();
    let mut events = chat(now);
    let chatter: Vec<ChatEvent> = (0..OLD)
        .map(|n| {
            let at = now - Duration::days(9) + Duration::seconds(n as i64);
            say("C3", &format!("old-{n}"), at, "Robin", "nothing to see")
        })
        .collect();
    events.extend(chatter.iter().cloned());
    for event in &events {
        app.record(event).await.unwrap();
    }
    let before = drafts(&app).await;
    let c3 = channel("C3");
    assert_eq!(store.channel_len(&c3).await.unwrap(), OLD);

    let mut child = sandbox
        .scribe()
        .arg("retention")
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed as soon as its first batch is seen committed.
    loop {
        let left = store.channel_len(&c3).await.unwrap();
        if left < OLD {
            child.kill().unwrap();
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "retention ended unseen"
        );
        tokio::task::yield_now().await;
    }
    child.wait().unwrap();
    let left = store.channel_len(&c3).await.unwrap();
    assert!(left > 0, "killed before the last batch ({left} left)");
    assert_eq!(left % 200, 0, "whole batches only: {left}");
    assert_eq!(drafts(&app).await, before, "killed midway");

    // Acknowledged while nothing runs: a new message, and a redelivery of a deleted one.
    let late = say("C3", "late", Utc::now(), "Robin", "still here");
    assert!(app.record(&late).await.unwrap().new);
    assert!(
        !app.record(&chatter[0]).await.unwrap().new,
        "the first batch's key is kept"
    );

    let done = common::success(
        &sandbox
            .scribe()
            .arg("retention")
            .envs(env.iter().copied())
            .output()
            .unwrap(),
    );
    assert!(
        done.contains(&format!("slack:C3: deleted {left} messages")),
        "{done}"
    );
    let restarted = App::new(config(), Secrets::default(), Arc::new(store.clone()));
    assert_eq!(drafts(&restarted).await, before);
    let kept: Vec<MessageId> = store
        .channel_events(&c3)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.message)
        .collect();
    assert_eq!(
        kept,
        [late.message],
        "only the message no retention may delete yet"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_killed_retention_loses_nothing() {
    let sandbox = Sandbox::new();
    let url = format!(
        "sqlite://{}",
        sandbox.path().join("data/scribe.db").display()
    );
    a_killed_retention_loses_nothing(&sandbox, &url, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_killed_retention_loses_nothing() {
    let Some(schema) = Schema::create("postgres_a_killed_retention_loses_nothing").await else {
        return;
    };
    let sandbox = Sandbox::new();
    a_killed_retention_loses_nothing(
        &sandbox,
        &schema.url,
        &[("SCRIBE__DATABASE__URL", &schema.url)],
    )
    .await;
}
