//! Search benchmark (`cargo bench --bench search`; `-- 1000 100` for other sizes): N incidents
//! with M messages each indexed in SQLite (default 10,000 × 100 = 1,000,000 messages), then
//! searches of one to three words (common and rare) and "incidents like this one" questions,
//! each timed; the index's size per message;. Numbers, not
//! assertions: see docs/benchmarks.md.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scribe::domain::{ChannelRef, Platform};
use scribe::search::{Document, Match, Query, Scope, Words};
use scribe::storage::{SqliteStore, Store};

/// Distinct words the generated chat is made of.
const VOCABULARY: usize = 20_000;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let incidents = args.first().copied().unwrap_or(10_000);
    let messages = args.get(1).copied().unwrap_or(100);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(run(incidents, messages));
}

/// A word of the vocabulary, the first ones far more often (Zipf-like, as people write).
fn word(rng: &mut StdRng) -> String {
    let rank = (VOCABULARY as f64).powf(rng.random::<f64>()) as usize;
    format!("w{rank}")
}

fn words(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| word(rng)).collect::<Vec<_>>().join(" ")
}

fn document(rng: &mut StdRng, n: usize, messages: usize) -> Document {
    let said: Vec<String> = (0..messages).map(|_| words(rng, 10)).collect();
    let mut document = Document {
        id: format!("slack:C{n:06}:1.0"),
        platform: Platform::Slack,
        channel: format!("C{n:06}"),
        title: words(rng, 5),
        severity: Some(["sev1", "sev2", "sev3", "sev4"][n % 4]),
        started_at: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
            + chrono::Duration::hours(n as i64),
        duration_minutes: Some((n % 300) as i64),
        closed: !n.is_multiple_of(10),
        body: words(rng, 40),
        messages: said.join(" · "),
        digest: String::new(),
    };
    document.digest = format!("{n}");
    document
}

fn percentiles(mut times: Vec<Duration>) -> String {
    times.sort();
    let at = |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
    format!(
        "min {:.2} ms · median {:.2} ms · p99 {:.2} ms · max {:.2} ms",
        times[0].as_secs_f64() * 1e3,
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    )
}

async fn run(incidents: usize, messages: usize) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("scribe.db");
    let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
        .await
        .expect("the store");
    let workspace = ChannelRef::new(Platform::Slack, "C000000");
    store
        .set_channel_workspace(&workspace, "T1")
        .await
        .expect("a workspace");
    sqlx_checkpoint(&path).await;
    let size = || std::fs::metadata(&path).map_or(0, |m| m.len());
    let empty = size();

    let mut rng = StdRng::seed_from_u64(7);
    let started = Instant::now();
    let mut batch = Vec::new();
    for n in 0..incidents {
        batch.push(document(&mut rng, n, messages));
        if batch.len() == 200 || n + 1 == incidents {
            store.index(&batch).await.expect("indexed");
            batch.clear();
        }
    }
    let took = started.elapsed();
    sqlx_checkpoint(&path).await;
    let total = (incidents * messages) as u64;
    println!(
        "indexed {incidents} incidents, {total} messages in {:.1} s ({:.0} messages/s)",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );
    println!(
        "index: {:.1} MiB, {:.0} bytes per message",
        (size() - empty) as f64 / (1 << 20) as f64,
        (size() - empty) as f64 / total as f64
    );

    queries(&store, &mut rng, incidents).await;
    // FTS5 keeps an index as segments it merges a few at a time; merged into one (its
    // `optimize` command), the same questions again.
    merge(&path).await;
    println!("after merging the index's segments:");
    queries(&store, &mut rng, incidents).await;
    store.close().await;
}

async fn queries(store: &SqliteStore, rng: &mut StdRng, incidents: usize) {
    let asked = |words: Words, matching: Match, closed_only: bool| Query {
        words,
        matching,
        scope: Scope::Everywhere,
        closed_only,
        except: None,
        limit: 10,
    };
    for (name, how_many, common) in [
        ("one common word", 1, true),
        ("two words", 2, false),
        ("three words", 3, false),
        ("one rare word", 1, false),
    ] {
        let mut times = Vec::new();
        let mut found = 0;
        for i in 0..220 {
            let text = if common {
                format!("w{}", 1 + i % 5)
            } else {
                // Words as often asked as written; a rare one from the vocabulary's long tail.
                (0..how_many)
                    .map(|_| match how_many {
                        1 => format!("w{}", rng.random_range(1_000..VOCABULARY)),
                        _ => word(rng),
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let query = asked(Words::parse(&text), Match::All, false);
            let start = Instant::now();
            let hits = store.search(&query).await.expect("a search");
            if i >= 20 {
                times.push(start.elapsed());
                found += hits.len();
            }
        }
        println!(
            "search, {name}: {} ({found} hits in 200)",
            percentiles(times)
        );
    }
    let mut times = Vec::new();
    for i in 0..220 {
        // An incident's title and a few of its words: what "like this one" asks.
        let mut like = document(rng, incidents + i, 5);
        like.title.push(' ');
        like.title.push_str(&words(rng, 10));
        let query = asked(Words::parse(&like.title), Match::Any, true);
        let start = Instant::now();
        store.search(&query).await.expect("similar");
        if i >= 20 {
            times.push(start.elapsed());
        }
    }
    println!("similar (15 words, any): {}", percentiles(times));
}

/// Merges the full-text index's segments into one.
async fn merge(path: &std::path::Path) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("a connection");
    sqlx::query("INSERT INTO search_text(search_text) VALUES ('optimize')")
        .execute(&pool)
        .await
        .expect("merged");
    pool.close().await;
}

/// Folds the write-ahead log into the database file, so that the file's size is the data's.
async fn sqlx_checkpoint(path: &std::path::Path) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("a connection");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await
        .expect("a checkpoint");
    pool.close().await;
}
