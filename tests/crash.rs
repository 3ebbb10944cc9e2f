//! Scribe killed again and again: thousands of signed Slack requests for several incidents
//! stream in from concurrent senders while the process is SIGKILLed at random moments and
//! restarted on the same data. Every request not acknowledged with a 2xx is sent again, as
//! Slack retries. At the end every event is stored exactly once, every incident's timeline is
//! the one the requests make, and every closed incident was published.
//!
//! The kill moments come from a seeded RNG; the seed is printed, and `SCRIBE_TEST_SEED=<seed>`
//! runs the same schedule again.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::Sandbox;
use common::fake_slack::FakeSlack;
use common::postgres::Schema;
use common::server::{Clock, Process as Server, SIGNING_SECRET, entry_texts, event_callback, now};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row as _, SqliteConnection};

/// Incidents, each in a channel of its own; senders share them out.
const INCIDENTS: usize = 8;
const SENDERS: usize = 4;
/// Messages per incident; every 7th gets a 📌, every 10th is followed by a `/timeline`.
const MESSAGES: usize = 300;
/// Kills while requests stream in (one more comes after the last request).
const KILLS: usize = 8;
const WAIT: Duration = Duration::from_secs(60);
const USERS: [(&str, &str); 3] = [
    ("U0CRASH001", "Robin Ayers"),
    ("U0CRASH002", "Zoë Kapoor"),
    ("U0CRASH003", "Trent Osei"),
];

fn channel(incident: usize) -> String {
    format!("C0CRASH{incident:03}")
}

fn title(incident: usize) -> String {
    format!("Crash drill {incident}")
}

/// One request as Slack would send it, and what it adds to the log.
struct Request {
    route: &'static str,
    /// Built at the first send (message timestamps are the time of posting) and kept for
    /// every retry.
    body: Option<String>,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Command {
        channel: String,
        command: &'static str,
        text: String,
        trigger: String,
    },
    Message {
        channel: String,
        event_id: String,
        user: &'static str,
        text: String,
    },
    /// A 📌 on the message `on` (an index into the incident's requests).
    Pin {
        channel: String,
        event_id: String,
        user: &'static str,
        on: usize,
    },
}

/// What the senders learn, for the checks at the end.
#[derive(Default)]
struct Ledger {
    /// The ts of each message, by (incident, request index).
    ts: BTreeMap<(usize, usize), String>,
    /// Stored rows expected: (channel, message) → kinds (prefix before any `@`).
    rows: BTreeMap<(String, String), Vec<String>>,
    /// Requests sent again after no 2xx, and how many answers were 5xx.
    resent: usize,
    server_errors: usize,
    /// Answers that must never come to a valid request (4xx).
    refused: Vec<String>,
}

/// The incident's requests, in the order one sender sends them.
fn script(incident: usize) -> Vec<Request> {
    let channel = channel(incident);
    let command = |command: &'static str, text: String, trigger: String| Request {
        route: "/slack/commands",
        body: None,
        kind: Kind::Command {
            channel: channel.clone(),
            command,
            text,
            trigger,
        },
    };
    let mut requests = vec![command(
        "/incident",
        format!("start {} --sev sev2", title(incident)),
        format!("crash.{incident}.start"),
    )];
    for j in 1..=MESSAGES {
        let user = USERS[j % USERS.len()].0;
        requests.push(Request {
            route: "/slack/events",
            body: None,
            kind: Kind::Message {
                channel: channel.clone(),
                event_id: format!("Ev{incident}x{j}"),
                user,
                text: format!("msg {incident}.{j}"),
            },
        });
        if j % 7 == 0 {
            let on = requests.len() - 1;
            requests.push(Request {
                route: "/slack/events",
                body: None,
                kind: Kind::Pin {
                    channel: channel.clone(),
                    event_id: format!("EvPin{incident}x{j}"),
                    user: USERS[(j + 1) % USERS.len()].0,
                    on,
                },
            });
        }
        if j % 10 == 0 {
            requests.push(command(
                "/timeline",
                format!("note {incident}.{j}"),
                format!("crash.{incident}.tl.{j}"),
            ));
        }
    }
    requests.push(command(
        "/incident",
        "close".to_string(),
        format!("crash.{incident}.close"),
    ));
    requests
}

/// The timeline entries (texts, in order) the script makes.
fn expected_timeline(incident: usize) -> Vec<String> {
    let requests = script(incident);
    let mut entries = Vec::new();
    for request in &requests {
        match &request.kind {
            Kind::Pin { on, .. } => match &requests[*on].kind {
                Kind::Message { text, .. } => entries.push(text.clone()),
                _ => unreachable!(),
            },
            Kind::Command {
                command: "/timeline",
                text,
                ..
            } => entries.push(text.clone()),
            _ => {}
        }
    }
    entries
}

/// The body of `requests[index]`, built at its first send; also notes the rows it stores.
fn body(
    incident: usize,
    requests: &mut [Request],
    index: usize,
    clock: &Mutex<Clock>,
    ledger: &Mutex<Ledger>,
) -> String {
    if let Some(body) = &requests[index].body {
        return body.clone();
    }
    let mut ledger = ledger.lock().unwrap();
    let (body, row) = match requests[index].kind.clone() {
        Kind::Command {
            channel,
            command,
            text,
            trigger,
        } => {
            let user = USERS[0].0;
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", "deprecated")
                .append_pair("team_id", "T0001")
                .append_pair("team_domain", "acme")
                .append_pair("channel_id", &channel)
                .append_pair("channel_name", "inc-crash")
                .append_pair("user_id", user)
                .append_pair("user_name", &user.to_lowercase())
                .append_pair("command", command)
                .append_pair("text", &text)
                .append_pair("api_app_id", "A0001")
                .append_pair(
                    "response_url",
                    "https://hooks.slack.com/commands/T0001/1/abc",
                )
                .append_pair("trigger_id", &trigger)
                .finish();
            (body, (channel, format!("cmd:{trigger}"), "posted"))
        }
        Kind::Message {
            channel,
            event_id,
            user,
            text,
        } => {
            let ts = clock.lock().unwrap().next();
            ledger.ts.insert((incident, index), ts.clone());
            let event = json!({"type": "message", "channel": channel, "user": user,
                "text": text, "ts": ts, "channel_type": "channel", "event_ts": ts});
            (
                event_callback(&event_id, event).to_string(),
                (channel, ts, "posted"),
            )
        }
        Kind::Pin {
            channel,
            event_id,
            user,
            on,
        } => {
            let ts = ledger.ts[&(incident, on)].clone();
            let event = json!({"type": "reaction_added", "user": user, "reaction": "pushpin",
                "item": {"type": "message", "channel": channel, "ts": ts},
                "event_ts": clock.lock().unwrap().next()});
            (
                event_callback(&event_id, event).to_string(),
                (channel, ts, "reaction+pushpin"),
            )
        }
    };
    let (channel, message, kind) = row;
    ledger
        .rows
        .entry((channel, message))
        .or_default()
        .push(kind.to_string());
    requests[index].body = Some(body.clone());
    body
}

/// Everything the senders and the killer share.
struct Shared {
    http: reqwest::Client,
    /// The running server's base URL; it changes with every restart.
    base: RwLock<String>,
    clock: Mutex<Clock>,
    ledger: Mutex<Ledger>,
    acked: AtomicUsize,
    /// `/incident close` commands acknowledged: their jobs run right after.
    closed: AtomicUsize,
}

/// Sends `body` until Slack would see a 2xx: each attempt signed anew, an event's retries
/// numbered in `X-Slack-Retry-Num`.
async fn deliver(shared: &Shared, route: &str, body: &str, is_event: bool, what: &str) {
    let mut attempt = 0;
    loop {
        let base = shared.base.read().unwrap().clone();
        let timestamp = now();
        let signature = scribe::adapters::slack::signature::sign(
            SIGNING_SECRET.as_bytes(),
            timestamp,
            body.as_bytes(),
        );
        let content_type = if is_event {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        let mut request = shared
            .http
            .post(format!("{base}{route}"))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header("x-slack-signature", signature)
            .body(body.to_string());
        if is_event && attempt > 0 {
            request = request
                .header("x-slack-retry-num", attempt.to_string())
                .header("x-slack-retry-reason", "http_error");
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                shared.acked.fetch_add(1, Ordering::SeqCst);
                return;
            }
            Ok(response) => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                let mut ledger = shared.ledger.lock().unwrap();
                if status.is_server_error() {
                    ledger.server_errors += 1;
                } else {
                    ledger.refused.push(format!("{what}: {status} {text}"));
                    return;
                }
            }
            // Killed mid-request, or down for a restart.
            Err(_) => {}
        }
        attempt += 1;
        shared.ledger.lock().unwrap().resent += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One sender: its incidents one after the other, each request acknowledged before the next,
/// as people type in a channel.
async fn sender(shared: Arc<Shared>, incidents: Vec<usize>) {
    for incident in incidents {
        let mut requests = script(incident);
        for index in 0..requests.len() {
            let body = body(
                incident,
                &mut requests,
                index,
                &shared.clock,
                &shared.ledger,
            );
            let route = requests[index].route;
            let what = format!("incident {incident} request {index}");
            deliver(&shared, route, &body, route == "/slack/events", &what).await;
            if index == requests.len() - 1 {
                shared.closed.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// Where the server keeps its data, for looking at it directly.
enum Db {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Db {
    /// Every stored event's (channel, message, kind).
    async fn events(&self) -> Vec<(String, String, String)> {
        let query = "SELECT channel, message, kind FROM events";
        match self {
            Db::Sqlite(path) => {
                let url = format!("sqlite://{}?mode=ro", path.display());
                let mut conn = SqliteConnection::connect(&url).await.unwrap();
                let rows = sqlx::query(query).fetch_all(&mut conn).await.unwrap();
                rows.iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2)))
                    .collect()
            }
            Db::Postgres(url) => {
                let mut conn = PgConnection::connect(url).await.unwrap();
                let rows = sqlx::query(query).fetch_all(&mut conn).await.unwrap();
                rows.iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2)))
                    .collect()
            }
        }
    }

    /// While the server is down: the jobs a killed process left leased (key, attempts). They
    /// run again once their lease (30 s, renewed only while a job runs) has ended.
    async fn leased_jobs(&self) -> Vec<(String, i64)> {
        let now_us = chrono::Utc::now().timestamp_micros();
        let select = format!(
            "SELECT key, attempts FROM jobs WHERE state = 'pending' AND leased_until_us > {now_us}"
        );
        match self {
            Db::Sqlite(path) => {
                let url = format!("sqlite://{}", path.display());
                let mut conn = SqliteConnection::connect(&url).await.unwrap();
                let rows = sqlx::query(AssertSqlSafe(select))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                let leased = rows
                    .iter()
                    .map(|r| (r.get(0), r.get::<i64, _>(1)))
                    .collect();
                conn.close().await.unwrap();
                leased
            }
            Db::Postgres(url) => {
                let mut conn = PgConnection::connect(url).await.unwrap();
                let rows = sqlx::query(AssertSqlSafe(select))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                let leased = rows
                    .iter()
                    .map(|r| (r.get(0), i64::from(r.get::<i32, _>(1))))
                    .collect();
                conn.close().await.unwrap();
                leased
            }
        }
    }
}

/// Says something on stderr even when the test passes: the harness hides `println!` then.
fn note(text: &str) {
    std::io::stderr()
        .write_all(format!("{text}\n").as_bytes())
        .unwrap();
}

fn start(sandbox: &Sandbox, env: &[(&str, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    tokio::task::block_in_place(|| Server::start_with(sandbox, &env))
}

/// The whole run against the database `database_url` (`None`: SQLite in the sandbox).
async fn run(backend: &str, database_url: Option<String>) {
    let seed: u64 = std::env::var("SCRIBE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    note(&format!(
        "crash test ({backend}): seed {seed} (SCRIBE_TEST_SEED={seed} repeats this run)"
    ));
    let mut rng = StdRng::seed_from_u64(seed);
    let began = Instant::now();

    let fake = FakeSlack::start().await;
    for (id, name) in USERS {
        fake.add_user(id, name, name);
    }
    let sandbox = Sandbox::new();
    let mut env = vec![
        ("SCRIBE__SLACK__API_BASE_URL", fake.api_base()),
        (
            "SCRIBE__PUBLISH__TARGETS",
            r#"["chat","files"]"#.to_string(),
        ),
        ("SCRIBE__PUBLISH__FILES__DIR", "drafts".to_string()),
        ("RUST_LOG", "info".to_string()),
    ];
    let db = match &database_url {
        Some(url) => {
            env.push(("SCRIBE__DATABASE__URL", url.clone()));
            Db::Postgres(url.clone())
        }
        None => Db::Sqlite(sandbox.path().join("data/scribe.db")),
    };
    let mut server = start(&sandbox, &env);

    let shared = Arc::new(Shared {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        base: RwLock::new(server.base.clone()),
        clock: Mutex::default(),
        ledger: Mutex::default(),
        acked: AtomicUsize::new(0),
        closed: AtomicUsize::new(0),
    });
    let total: usize = (0..INCIDENTS).map(|i| script(i).len()).sum();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let incidents = (s..INCIDENTS).step_by(SENDERS).collect();
            tokio::spawn(sender(shared.clone(), incidents))
        })
        .collect();

    let progress = {
        let shared = shared.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                note(&format!(
                    "  {} of {total} requests acknowledged",
                    shared.acked.load(Ordering::SeqCst)
                ));
            }
        })
    };
    // The killer: after a random share of the requests were acknowledged (for a third of the
    // kills, at the next acknowledged close, while its posts and publishing run), a random
    // moment later, SIGKILL; down for a random while; up again on the same data.
    let mut moments: Vec<(usize, bool)> = (0..KILLS)
        .map(|_| {
            (
                rng.random_range(total * 3 / 100..total * 85 / 100),
                rng.random_bool(1.0 / 3.0),
            )
        })
        .collect();
    moments.sort_unstable();
    let mut kills = Vec::new();
    for (moment, at_close) in moments {
        while shared.acked.load(Ordering::SeqCst) < moment {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let closed = shared.closed.load(Ordering::SeqCst);
        if at_close && closed < INCIDENTS {
            while shared.closed.load(Ordering::SeqCst) == closed {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let delay = if at_close { 0..25 } else { 0..40 };
        tokio::time::sleep(Duration::from_millis(rng.random_range(delay))).await;
        let acked = shared.acked.load(Ordering::SeqCst);
        tokio::task::block_in_place(|| server.kill());
        kills.push(acked);
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
        server = start(&sandbox, &env);
        *shared.base.write().unwrap() = server.base.clone();
    }
    for sender in senders {
        sender.await.expect("a sender panicked");
    }
    progress.abort();
    let streamed = began.elapsed();

    // A last kill after the last acknowledgement: the close posts and publishing may be cut off
    // too; the jobs a kill left leased run again when their lease ends.
    tokio::task::block_in_place(|| server.kill());
    let leased = db.leased_jobs().await;
    server = start(&sandbox, &env);
    let stored = db.events().await;
    // The senders are done: the ledger is the test's now.
    let ledger = std::mem::take(&mut *shared.ledger.lock().unwrap());
    note(&format!(
        "crash test ({backend}): {total} requests, {} sent again, {} answered 5xx; killed after \
         {kills:?} acknowledgements and once at the end; {streamed:.1?} to stream; jobs a kill \
         left leased: {leased:?}",
        ledger.resent, ledger.server_errors,
    ));
    assert!(kills.len() >= 5);
    assert!(
        ledger.refused.is_empty(),
        "valid requests refused: {:#?}",
        ledger.refused
    );
    assert_eq!(shared.acked.load(Ordering::SeqCst), total);

    // Every acknowledged event is stored, once.
    let mut by_message: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (channel, message, kind) in stored {
        let kind = kind.split([':', '@']).next().unwrap().to_string();
        by_message.entry((channel, message)).or_default().push(kind);
    }
    for kinds in by_message.values_mut() {
        kinds.sort();
    }
    let mut expected = ledger.rows.clone();
    for kinds in expected.values_mut() {
        kinds.sort();
    }
    let missing: Vec<_> = expected
        .iter()
        .filter(|(key, kinds)| by_message.get(key) != Some(kinds))
        .map(|(key, kinds)| (key, kinds, by_message.get(key)))
        .collect();
    assert!(
        missing.is_empty(),
        "events not stored exactly once (key, sent, stored): {missing:#?}"
    );
    let extra: Vec<_> = by_message
        .keys()
        .filter(|key| !expected.contains_key(*key))
        .collect();
    assert!(
        extra.is_empty(),
        "events stored that were never sent: {extra:#?}"
    );

    // Every incident's timeline is the one the requests make.
    let incidents = server.incidents().await;
    assert_eq!(incidents.len(), INCIDENTS, "{incidents:#?}");
    for i in 0..INCIDENTS {
        let incident = incidents
            .iter()
            .find(|x| x["channel"] == channel(i))
            .unwrap_or_else(|| panic!("no incident in {}", channel(i)));
        assert_eq!(incident["title"], title(i));
        assert_eq!(incident["status"], "closed", "{}", channel(i));
        assert_eq!(
            entry_texts(incident),
            expected_timeline(i),
            "the timeline of {}",
            channel(i)
        );
    }

    // Every job ran; every closed incident has its one draft file and its close posts.
    let mut jobs = Vec::new();
    let deadline = Instant::now() + WAIT;
    loop {
        jobs.clear();
        for incident in &incidents {
            let id = incident["id"].as_str().unwrap();
            let detail: Value = server
                .api(&format!("/api/incidents/{id}"))
                .await
                .json()
                .await
                .unwrap();
            jobs.extend(detail["jobs"].as_array().cloned().unwrap_or_default());
        }
        if jobs.iter().all(|j| j["state"] == "done") {
            break;
        }
        let pending: Vec<&Value> = jobs.iter().filter(|j| j["state"] != "done").collect();
        assert!(
            Instant::now() < deadline,
            "jobs not done after {WAIT:?}: {pending:#?}\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let again: Vec<String> = jobs
        .iter()
        .filter(|j| j["attempts"].as_u64() != Some(1))
        .map(|j| format!("{} ({} attempts)", j["key"], j["attempts"]))
        .collect();
    let drafts = sandbox.path().join("drafts");
    let files: Vec<_> = walk(&drafts);
    assert_eq!(
        files.len(),
        INCIDENTS,
        "one draft file per incident: {files:?}"
    );
    let posts = fake.calls_to("chat.postMessage");
    let completes = fake.calls_to("files.completeUploadExternal");
    for (i, incident) in incidents.iter().enumerate() {
        let i = incident["channel"]
            .as_str()
            .and_then(|c| c.strip_prefix("C0CRASH"))
            .map_or(i, |n| n.parse().unwrap());
        let slug = format!("crash-drill-{i}-");
        let file: Vec<_> = files
            .iter()
            .filter(|f| f.to_string_lossy().contains(&slug))
            .collect();
        assert_eq!(file.len(), 1, "the draft of incident {i}: {files:?}");
        let content = std::fs::read_to_string(drafts.join(file[0])).unwrap();
        for text in expected_timeline(i) {
            assert!(
                content.contains(&format!(" - {text} — ")),
                "draft of incident {i} lacks {text:?}"
            );
        }
        let in_channel = |calls: &[common::fake_slack::Call], key: &str, text: &str| {
            calls
                .iter()
                .filter(|c| c.params[key] == channel(i))
                .filter(|c| c.params["text"].as_str().unwrap_or_default().contains(text))
                .count()
        };
        let headlines = in_channel(&posts, "channel", "Incident opened");
        let summaries = in_channel(&posts, "channel", "Incident closed");
        let uploads = in_channel(&completes, "channel_id", "");
        // A job cut off after Slack acted runs again, finds its post and posts nothing.
        assert_eq!(
            (headlines, summaries, uploads),
            (1, 1, 1),
            "incident {i}: headlines, summaries, draft uploads"
        );
    }
    note(&format!(
        "crash test ({backend}): {} jobs done; run more than once: {again:?}; {:.1?} in all",
        jobs.len(),
        began.elapsed()
    ));
}

/// Every file under `dir`, relative to it.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn go(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                go(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out);
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_loses_nothing_when_killed() {
    run("SQLite", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_loses_nothing_when_killed() {
    let Some(schema) = Schema::create("the PostgreSQL crash test").await else {
        return;
    };
    run("PostgreSQL", Some(schema.url.clone())).await;
}
