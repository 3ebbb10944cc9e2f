//! Insights benchmark (`cargo bench --bench insights`; `-- 10000 100` for other sizes): N
//! incidents (default 10,000) recorded as chat in C console channels (default 100), then the
//! `/insights` page fetched over loopback by a signed-in person 23 times (3 warm-ups), and the
//! figures alone computed from the incidents. Numbers, not assertions: see docs/benchmarks.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use scribe::adapters::console;
use scribe::config::{Config, Secrets};
use scribe::domain::{Author, ChatEvent, EventKind, MessageId};
use scribe::insights::{Filter, Insights};
use scribe::startup::Application;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let incidents = args.first().copied().unwrap_or(10_000);
    let channels = args.get(1).copied().unwrap_or(100).max(1);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(run(incidents, channels));
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "min {:.1} ms · median {:.1} ms · p90 {:.1} ms · max {:.1} ms",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[(times.len() * 9).div_ceil(10) - 1]),
        ms(times[times.len() - 1])
    )
}

async fn run(incidents: usize, channels: usize) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let vars = [
        ("SCRIBE__DATA_DIR", dir.path().to_str().unwrap()),
        ("SCRIBE__SERVER__LISTEN", "127.0.0.1:0"),
        ("SCRIBE__LOG__LEVEL", "warn"),
        ("SCRIBE__SEARCH__SIMILAR_ON_START", "false"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let config = Config::load_from(None, vars).expect("a configuration");
    let application = Application::build(config, Secrets::default(), true)
        .await
        .expect("the application");
    let base = format!("http://127.0.0.1:{}", application.port());
    let app = Arc::clone(application.app());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async {
        let _ = stopped.await;
    }));

    // Each channel's incidents one after another, a day apart; channels side by side.
    let started = Instant::now();
    let t0 = chrono::Utc::now() - chrono::Duration::days(incidents.div_ceil(channels) as i64 + 1);
    let writers = (0..channels).map(|c| {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let channel = console::channel(&format!("room{c}"));
            app.remember_workspace(&channel, "console")
                .await
                .expect("a workspace");
            let people = ["Ana", "Bo", "Chen", "Dee", "Eli"];
            for (day, n) in (c..incidents).step_by(channels).enumerate() {
                let at = t0 + chrono::Duration::days(day as i64);
                let sev = 1 + n % 4;
                let texts = [
                    format!(
                        "/incident start Incident {n} on service{} --sev sev{sev}",
                        n % 40
                    ),
                    format!("/incident factor cache stampede on service{}", n % 40),
                    format!("/incident action add fix alerting {n} @{}", people[n % 5]),
                    "/incident resolve".to_string(),
                    "/incident close".to_string(),
                ];
                for (i, text) in texts.iter().enumerate() {
                    let person = people[(n + i) % 5];
                    let event = ChatEvent {
                        channel: channel.clone(),
                        message: MessageId::new(format!("{n}-{i}")),
                        at: at + chrono::Duration::minutes((i * (n % 90 + 5)) as i64),
                        kind: EventKind::Posted {
                            author: Author::human(person, person),
                            text: text.clone(),
                            thread: None,
                        },
                    };
                    app.record(&event).await.expect("recorded");
                }
            }
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.expect("a writer");
    }
    println!(
        "recorded {incidents} incidents in {channels} channels in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The search index catches up first: the page is timed alone, not beside the indexer.
    app.index.pass(&app.recorder).await.expect("indexed");

    let who = scribe::storage::WebIdentity {
        platform: scribe::domain::Platform::Console,
        workspace: "console".into(),
        person_id: "Ana".into(),
        person_name: "Ana".into(),
    };
    let link = app.web_link(&who).await.expect("a link").expect("the web");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let login = link.split_once("/login/").expect("a sign-in link").1;
    let signed = http
        .get(format!("{base}/login/{login}"))
        .send()
        .await
        .expect("signed in");
    let cookie = signed.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .expect("a cookie")
        .split(';')
        .next()
        .expect("a cookie")
        .to_string();
    let mut times = Vec::new();
    let mut bytes = 0;
    for i in 0..23 {
        let start = Instant::now();
        let page = http
            .get(format!("{base}/insights"))
            .header(reqwest::header::COOKIE, &cookie)
            .send()
            .await
            .expect("the page");
        assert_eq!(page.status(), 200, "the insights page");
        bytes = page.bytes().await.expect("the page").len();
        if i >= 3 {
            times.push(start.elapsed());
        }
    }
    println!(
        "/insights, {incidents} incidents ({:.0} KB): {}",
        bytes as f64 / 1e3,
        summary(times)
    );

    let all = app.all_incidents().await.expect("the incidents");
    let today = app.today();
    let mut times = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let insights = Insights::new(&all, &Filter::default(), today);
        std::hint::black_box(insights);
        times.push(start.elapsed());
    }
    println!("the figures alone: {}", summary(times));
    let _ = stop.send(());
    let _ = server.await;
}
