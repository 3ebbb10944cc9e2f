//! Reminder benchmark (`cargo bench --bench reminders`; `-- 5000` for another count): N
//! incidents start at once in N Slack channels, each scheduling a `no_lead` and a
//! `no_severity` reminder due 3 s later and a `no_update` reminder 30 minutes later, so 2N
//! reminders fall due in the same second beside N that wait. How late each fired: from its
//! due time to the moment its job was seen done (looked at every 20 ms). Numbers, not
//! assertions: see docs/benchmarks.md.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use scribe::config::{Config, Secrets};
use scribe::domain::{Author, ChannelRef, ChatEvent, EventKind, MessageId, Platform};
use scribe::startup::Application;
use scribe::storage::{JobState, Store};

fn main() {
    let incidents = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(run(incidents));
}

async fn run(incidents: usize) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let vars = [
        ("SCRIBE__DATA_DIR", dir.path().to_str().unwrap()),
        ("SCRIBE__SERVER__LISTEN", "127.0.0.1:0"),
        ("SCRIBE__LOG__LEVEL", "error"),
        ("SCRIBE__REMINDERS__NO_LEAD", "3s"),
        ("SCRIBE__REMINDERS__NO_SEVERITY", "3s"),
        ("SCRIBE__REMINDERS__NO_UPDATE", "30m"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let config = Config::load_from(None, vars).expect("a configuration");
    let application = Application::build(config, Secrets::default(), true)
        .await
        .expect("the application");
    let app = Arc::clone(application.app());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));

    let channels: Vec<ChannelRef> = (0..incidents)
        .map(|i| ChannelRef::new(Platform::Slack, format!("C{i:08}")))
        .collect();
    let started = Instant::now();
    let at = chrono::Utc::now();
    let starts = channels.iter().map(|channel| {
        let app = Arc::clone(&app);
        let event = ChatEvent {
            channel: channel.clone(),
            message: MessageId::new("start"),
            at,
            kind: EventKind::Posted {
                author: Author::human("U1", "ana"),
                text: "/incident start Bench incident".into(),
                thread: None,
            },
        };
        async move { app.record(&event).await.expect("stored") }
    });
    futures_util::future::join_all(starts).await;
    let stored = started.elapsed();
    println!(
        "{incidents} incidents started in {:.2} s ({} reminders queued)",
        stored.as_secs_f64(),
        incidents * 3
    );

    // Each reminder due now or soon: when was it first seen done?
    let due_at = at + chrono::Duration::seconds(3);
    let mut done: HashMap<String, chrono::DateTime<chrono::Utc>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while done.len() < incidents * 2 && Instant::now() < deadline {
        let now = chrono::Utc::now();
        for job in app.store().jobs("slack:").await.expect("jobs") {
            let fired = job.kind != "remind.no_update" && job.kind.starts_with("remind.");
            if fired && job.state == JobState::Done {
                done.entry(job.key).or_insert(now);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut late: Vec<f64> = done
        .values()
        .map(|seen| (*seen - due_at).num_milliseconds() as f64 / 1000.0)
        .collect();
    late.sort_by(f64::total_cmp);
    let pick = |q: f64| late[((late.len() as f64 - 1.0) * q) as usize];
    println!(
        "| {} reminders due in one second, {} waiting | fired {} | late: min {:.2} s | median {:.2} s | p99 {:.2} s | max {:.2} s |",
        incidents * 2,
        incidents,
        late.len(),
        pick(0.0),
        pick(0.5),
        pick(0.99),
        pick(1.0)
    );
    let _ = stop.send(());
    let _ = server.await;
}
