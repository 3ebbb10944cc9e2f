//! Web benchmark (`cargo bench --bench web`; `-- 20000 200` for other sizes): the incident page
//! of an incident with 10,000 messages, served over loopback by the real server, and 100 open
//! pages (server-sent event streams) hearing of a new entry. Numbers, not assertions: see
//! docs/benchmarks.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use scribe::adapters::console;
use scribe::config::{Config, Secrets};
use scribe::domain::{Author, ChatEvent, EventKind, MessageId};
use scribe::startup::Application;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let messages = args.first().copied().unwrap_or(10_000);
    let pages = args.get(1).copied().unwrap_or(100);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(run(messages, pages));
}

async fn run(messages: usize, pages: usize) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let vars = [
        ("SCRIBE__DATA_DIR", dir.path().to_str().unwrap()),
        ("SCRIBE__SERVER__LISTEN", "127.0.0.1:0"),
        ("SCRIBE__SERVER__MAX_CONNECTIONS", "4096"),
        ("SCRIBE__LOG__LEVEL", "warn"),
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

    // The incident: a start, then `messages` messages from 20 people, every 50th pinned and
    // every 10th a thread reply.
    let channel = console::channel("bench");
    app.remember_workspace(&channel, console::WORKSPACE)
        .await
        .unwrap();
    let t0 = chrono::Utc::now() - chrono::Duration::seconds(messages as i64 + 60);
    let post = |id: String, second: i64, text: String, thread: Option<String>| ChatEvent {
        channel: channel.clone(),
        message: MessageId::new(id),
        at: t0 + chrono::Duration::seconds(second),
        kind: EventKind::Posted {
            author: Author::human(
                format!("U{}", second % 20),
                format!("person {}", second % 20),
            ),
            text,
            thread: thread.map(MessageId::new),
        },
    };
    let started = Instant::now();
    app.record(&post(
        "start".into(),
        0,
        "/incident start Bench incident".into(),
        None,
    ))
    .await
    .unwrap();
    for chunk in (1..=messages).collect::<Vec<_>>().chunks(500) {
        let events: Vec<ChatEvent> = chunk
            .iter()
            .map(|&i| {
                let thread = (i % 10 == 0).then(|| format!("m{}", i - 1));
                post(
                    format!("m{i}"),
                    i as i64,
                    format!("message {i}: the queue is at {}k", i % 97),
                    thread,
                )
            })
            .collect();
        futures_util::future::join_all(events.iter().map(|e| app.record(e))).await;
        let pins: Vec<ChatEvent> = chunk
            .iter()
            .filter(|i| *i % 50 == 0)
            .map(|&i| ChatEvent {
                kind: EventKind::PinAdded,
                ..post(format!("m{i}"), i as i64 + 1, String::new(), None)
            })
            .collect();
        futures_util::future::join_all(pins.iter().map(|e| app.record(e))).await;
    }
    println!(
        "stored {messages} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let link = app
        .web_link(&console::identity("bench"))
        .await
        .unwrap()
        .unwrap();
    let path = &link[link.find("/login/").unwrap()..];
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let signed_in = http.get(format!("{base}{path}")).send().await.unwrap();
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let id = app.history(&channel).await.unwrap().incidents[0]
        .id()
        .to_string();
    let page = format!(
        "{base}/incidents/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    );

    // The page, 20 times after 3 warm-ups.
    let mut times = Vec::new();
    let mut size = 0;
    for round in 0..23 {
        let start = Instant::now();
        let response = http
            .get(&page)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        size = response.bytes().await.unwrap().len();
        if round >= 3 {
            times.push(start.elapsed());
        }
    }
    times.sort();
    println!(
        "| incident page, {messages} messages | {} KB | min {:.1} ms | median {:.1} ms | p90 {:.1} ms |",
        size / 1024,
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10])
    );

    // `pages` open pages, then one new entry.
    let mut streams = Vec::new();
    for _ in 0..pages {
        let response = http
            .get(format!("{page}/live"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        streams.push(response);
    }
    let sent = Instant::now();
    let heard = streams.into_iter().map(|mut stream| {
        tokio::spawn(async move {
            let mut seen = String::new();
            while let Ok(Some(chunk)) = stream.chunk().await {
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if seen.contains("event: change") {
                    return Some(Instant::now());
                }
            }
            None
        })
    });
    let heard: Vec<_> = heard.collect();
    app.record(&post(
        "new".into(),
        messages as i64 + 30,
        "/timeline a new entry".into(),
        None,
    ))
    .await
    .unwrap();
    let mut delays = Vec::new();
    for task in heard {
        let at = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("every page hears within 10 s")
            .unwrap()
            .expect("a change event");
        delays.push(at - sent);
    }
    delays.sort();
    println!(
        "| {pages} open pages hear a new entry | median {:.1} ms | slowest {:.1} ms |",
        ms(delays[delays.len() / 2]),
        ms(delays[delays.len() - 1])
    );
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), server).await;
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
