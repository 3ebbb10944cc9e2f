//! Retention benchmark (`cargo bench --bench retention`; `-- 200000` for another size): N
//! messages of chatter over 30 days in 10 channels, each channel with one incident on its last
//! day, stored in SQLite (and in PostgreSQL when `SCRIBE_BENCH_POSTGRES_URL` names a database);
//! then one retention pass. Prints the store's size per message before and after (after a
//! `VACUUM`, which gives the space back), the pass's time, and what it kept. Numbers, not
//! assertions: see docs/benchmarks.md.

use std::time::Instant;

use chrono::{Duration, Utc};
use scribe::domain::{Author, ChannelRef, ChatEvent, EventKind, MessageId, Platform, Settings};
use scribe::storage::{self, Store};

const CHANNELS: usize = 10;
const DAYS: i64 = 30;

fn main() {
    let n = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            println!("| store | messages | before | after | per message before | after | pass | deleted |");
            println!("|---|---:|---:|---:|---:|---:|---:|---:|");
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
            run("SQLite", &url, n).await;
            if let Ok(url) = std::env::var("SCRIBE_BENCH_POSTGRES_URL") {
                run("PostgreSQL", &url, n).await;
            }
        });
}

/// The events of `n` messages: chatter spread over [`DAYS`] days, and in each channel an
/// incident on the last day with a hundred messages of its own.
fn events(n: usize) -> Vec<ChatEvent> {
    let now = Utc::now();
    let start = now - Duration::days(DAYS);
    let step = Duration::days(DAYS - 1).num_seconds() / (n / CHANNELS) as i64;
    let mut events = Vec::with_capacity(n + CHANNELS * 102);
    for c in 0..CHANNELS {
        let channel = ChannelRef::new(Platform::Slack, format!("C{c:04}"));
        let say = |id: String, at, text: String| ChatEvent {
            channel: channel.clone(),
            message: MessageId::new(id),
            at,
            kind: EventKind::Posted {
                author: Author::human(format!("U{:04}", text.len() % 40), "Some Person"),
                text,
                thread: None,
            },
        };
        for i in 0..n / CHANNELS {
            let at = start + Duration::seconds(step * i as i64);
            let text = format!("message {i} about the deploy, the dashboards and lunch plans");
            events.push(say(format!("m{i}"), at, text));
        }
        let opened = now - Duration::hours(6);
        events.push(say(
            "s".into(),
            opened,
            "/incident start Checkout 5xx".into(),
        ));
        for i in 0..100 {
            let at = opened + Duration::seconds(60 * i);
            events.push(say(format!("i{i}"), at, format!("incident message {i}")));
        }
        let closed = opened + Duration::hours(2);
        events.push(say("c".into(), closed, "/incident close".into()));
    }
    events
}

/// The events table's size (SQLite: the whole file's pages) after a `VACUUM`, read on a
/// connection of its own.
async fn vacuumed_size(url: &str) -> u64 {
    use sqlx::Connection;
    let bytes: i64 = if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
        sqlx::query("VACUUM")
            .execute(&mut conn)
            .await
            .expect("vacuum");
        sqlx::query_scalar(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        )
        .fetch_one(&mut conn)
        .await
        .expect("size")
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query("VACUUM FULL events")
            .execute(&mut conn)
            .await
            .expect("vacuum");
        sqlx::query_scalar("SELECT pg_total_relation_size('events')")
            .fetch_one(&mut conn)
            .await
            .expect("size")
    };
    bytes as u64
}

async fn run(name: &str, url: &str, n: usize) {
    let store = storage::open(url).await.expect("a store");
    let events = events(n);
    let total = events.len();
    for chunk in events.chunks(1_000) {
        let appends: Vec<_> = chunk.iter().map(|e| store.append(e, &[])).collect();
        for append in appends {
            append.await.expect("stored");
        }
    }
    let before = vacuumed_size(url).await;
    let settings = Settings {
        waits_for_start: Some(Duration::hours(24)),
        ..Settings::default()
    };
    let began = Instant::now();
    let report = scribe::retention::pass(
        &store,
        &settings,
        Duration::days(7),
        Utc::now(),
        false,
        |_| {},
    )
    .await
    .expect("retention");
    let pass = began.elapsed();
    let after = vacuumed_size(url).await;
    let deleted = report.total().events;
    println!(
        "| {name} | {total} | {:.1} MB | {:.1} MB | {} B | {} B (keys of {deleted} deleted events kept) | {:.2} s | {deleted} events, {:.1} MB of payload |",
        before as f64 / 1e6,
        after as f64 / 1e6,
        before / total as u64,
        after / total as u64,
        pass.as_secs_f64(),
        report.total().bytes as f64 / 1e6,
    );
    store.close().await;
}
