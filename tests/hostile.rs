//! Scribe under attack: one live server and a table of hostile requests against its Slack
//! routes. Each row says what it sends, the status it must get and how many events it may
//! store; a refused row carries a marker that must end up nowhere in the database. Valid rows
//! carry injection attempts (SQL, template syntax, control characters, mass mentions, path
//! traversal in titles) that must be stored verbatim and come out of every draft and post as
//! inert text.
//!
//! The rows are in `hostile/cases.rs`; this file sends them and checks what Scribe made of
//! them.

#[path = "hostile/cases.rs"]
mod cases;
mod common;

use std::path::{Path, PathBuf};

use cases::{
    Auth, CHANNEL, EVIL_COMMANDER, EVIL_DISPLAY_NAME, EVIL_USER, EVIL_USER_NAME, FORM, Row, TITLE,
    TRAVERSAL_TITLES, bad_numbers, command_body, decoded, evil_command, injections,
    story_injections, table,
};
use common::Sandbox;
use common::fake_slack::FakeSlack;
use common::server::{API_TOKEN, APP_TOKEN, BOT_TOKEN, Clock, SIGNING_SECRET, Server, now};
use serde_json::Value;
use sqlx::{Connection, Row as _, SqliteConnection};

/// Sends `row` and returns its status and body.
async fn send(http: &reqwest::Client, base: &str, row: &Row) -> (u16, String) {
    let sign = |timestamp: i64, body: &[u8]| {
        scribe::adapters::slack::signature::sign(SIGNING_SECRET.as_bytes(), timestamp, body)
    };
    let (timestamp, signature) = match &row.auth {
        Auth::Signed => (Some(now().to_string()), Some(sign(now(), &row.body))),
        Auth::SignedAt(offset) => {
            let at = now() + offset;
            (Some(at.to_string()), Some(sign(at, &row.body)))
        }
        Auth::Secret(secret) => (
            Some(now().to_string()),
            Some(scribe::adapters::slack::signature::sign(
                secret.as_bytes(),
                now(),
                &row.body,
            )),
        ),
        Auth::OtherBody(other) => (Some(now().to_string()), Some(sign(now(), other))),
        Auth::Raw {
            timestamp,
            signature,
        } => (timestamp.clone(), signature.clone()),
    };
    let mut request = http
        .post(format!("{base}{}", row.route))
        .body(row.body.clone());
    if let Some(content_type) = row.content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(timestamp) = timestamp {
        request = request.header("x-slack-request-timestamp", timestamp);
    }
    if let Some(signature) = signature {
        request = request.header("x-slack-signature", signature);
    }
    for (name, value) in &row.extra {
        request = request.header(*name, value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}: no answer: {e}", row.name));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The jobs of every incident, once none is pending.
async fn all_jobs_done(server: &Server) -> Vec<Value> {
    let mut jobs = Vec::new();
    server.settled().await;
    for incident in server.incidents().await {
        let id = incident["id"].as_str().unwrap().to_string();
        let detail: Value = server
            .api(&format!("/api/incidents/{id}"))
            .await
            .json()
            .await
            .unwrap();
        jobs.extend(detail["jobs"].as_array().cloned().unwrap_or_default());
    }
    jobs
}

/// Everything a Slack user could see from Scribe: posts, uploads, and the command answers.
fn assert_no_pings(what: &str, text: &str) {
    for ping in ["<!channel>", "<!everyone>", "<!here>", "<!subteam", "<@U"] {
        assert!(!text.contains(ping), "{what} would notify ({ping}): {text}");
    }
}

/// The markdown a user text must never turn into: a template evaluated, a mention live.
fn assert_inert(what: &str, draft: &str) {
    for evaluated in [
        "T-tpl 49",
        "M-tpl 49",
        "F-tpl 49",
        "A-tpl 49",
        "R-tpl:** 49",
        "T-tplfor xxx",
        "M-tplfor xxx",
        "F-tplfor xxx",
        "A-tplfor xxx",
        "R-tplfor:** xxx",
        "max_body_bytes",
        "signing_secret",
    ] {
        assert!(
            !draft.contains(evaluated),
            "{what} evaluated user text ({evaluated}):\n{draft}"
        );
    }
    for live in [
        "@channel",
        "@everyone",
        "@here",
        "<!",
        "\u{202e}",
        "\u{0}",
        "\u{1b}",
    ] {
        assert!(!draft.contains(live), "{what} contains {live:?}:\n{draft}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_requests_are_refused_or_kept_as_inert_data() {
    let fake = FakeSlack::start().await;
    fake.add_user(EVIL_USER, EVIL_DISPLAY_NAME, EVIL_DISPLAY_NAME);
    let sandbox = Sandbox::new();
    let api_base = fake.api_base();
    let server = Server::start_with(
        &sandbox,
        &[
            ("SCRIBE__SLACK__API_BASE_URL", &api_base),
            ("SCRIBE__PUBLISH__TARGETS", r#"["chat","files"]"#),
            ("SCRIBE__PUBLISH__FILES__DIR", "drafts"),
            // Present so that the log check covers it too.
            ("SLACK_APP_TOKEN", APP_TOKEN),
        ],
    );
    let http = reqwest::Client::new();
    let mut clock = Clock::default();
    let mut expected_events: u64 = 0;
    let mut failures = Vec::new();
    let mut answers = Vec::new();
    let run = async |rows: Vec<Row>,
                     failures: &mut Vec<String>,
                     answers: &mut Vec<String>,
                     expected: &mut u64| {
        let mut markers = Vec::new();
        for row in rows {
            let (status, body) = send(&http, &server.base, &row).await;
            if status != row.status {
                failures.push(format!(
                    "{}: expected {}, got {status} ({body})",
                    row.name, row.status
                ));
            }
            if row.route == "/slack/commands" && status == 200 {
                answers.push(body);
            }
            *expected += row.stores;
            if let Some(marker) = row.marker.filter(|m| m.starts_with("hx-")) {
                markers.push(marker);
            }
        }
        markers
    };

    // The incident, opened by a command whose every field is hostile.
    let start = vec![
        Row::new(
            "/incident start with a hostile title",
            "/slack/commands",
            FORM,
            evil_command("/incident", &format!("start {TITLE}"), "start.1"),
        )
        .stores(1),
    ];
    run(start, &mut failures, &mut answers, &mut expected_events).await;
    let rows = table(&mut clock);
    let count = rows.len();
    let mut markers = run(rows, &mut failures, &mut answers, &mut expected_events).await;
    let (rows, entries) = injections(&mut clock);
    let count = count + rows.len();
    markers.extend(run(rows, &mut failures, &mut answers, &mut expected_events).await);
    let (rows, story) = story_injections();
    let count = count + rows.len();
    run(rows, &mut failures, &mut answers, &mut expected_events).await;
    let rows = bad_numbers();
    let count = count + rows.len();
    let mut refusals = Vec::new();
    run(rows, &mut failures, &mut refusals, &mut expected_events).await;
    for refusal in &refusals {
        let text = serde_json::from_str::<Value>(refusal).unwrap()["text"].to_string();
        assert!(
            [
                "Nothing was changed",
                "is not a number",
                "has not happened yet"
            ]
            .iter()
            .any(|why| text.contains(why)),
            "a bad number is answered with what is wrong: {text}"
        );
    }
    let end = vec![
        Row::new(
            "/incident draft",
            "/slack/commands",
            FORM,
            evil_command("/incident", "draft", "draft.1"),
        )
        .stores(1),
        Row::new(
            "/incident close",
            "/slack/commands",
            FORM,
            evil_command("/incident", "close", "close.1"),
        )
        .stores(1),
    ];
    run(end, &mut failures, &mut answers, &mut expected_events).await;

    // Titles that try to leave the drafts folder, each an incident of its own.
    for (i, title) in TRAVERSAL_TITLES.iter().enumerate() {
        let channel = format!("C0PATH{i:04}");
        let rows = vec![
            Row::new(
                &format!("start {title:?}"),
                "/slack/commands",
                FORM,
                command_body(
                    &channel,
                    "paths",
                    EVIL_COMMANDER,
                    "eve",
                    "/incident",
                    &format!("start {title}"),
                    &format!("path.{i}.start"),
                ),
            )
            .stores(1),
            Row::new(
                &format!("close {title:?}"),
                "/slack/commands",
                FORM,
                command_body(
                    &channel,
                    "paths",
                    EVIL_COMMANDER,
                    "eve",
                    "/incident",
                    "close",
                    &format!("path.{i}.close"),
                ),
            )
            .stores(1),
        ];
        run(rows, &mut failures, &mut answers, &mut expected_events).await;
    }
    println!(
        "{} rows sent; {expected_events} events expected",
        count + 4 + 2 * TRAVERSAL_TITLES.len()
    );
    assert!(
        failures.is_empty(),
        "rows answered wrongly:\n{}\n\nserver log:\n{}",
        failures.join("\n"),
        server.log()
    );

    // Still up, and every job (posts, uploads, files) ran.
    for path in ["/healthz", "/readyz"] {
        let response = reqwest::get(format!("{}{path}", server.base))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let jobs = all_jobs_done(&server).await;
    let not_done: Vec<&Value> = jobs.iter().filter(|j| j["state"] != "done").collect();
    assert!(
        not_done.is_empty(),
        "jobs that did not run: {not_done:#?}\n{}",
        server.log()
    );

    // Exactly the valid rows' events were stored, and no refused row left a trace.
    let metrics = server.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l == format!("scribe_events_stored_total {expected_events}")),
        "expected {expected_events} events stored:\n{metrics}"
    );
    let db = sandbox.path().join("data/scribe.db");
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display()))
        .await
        .unwrap();
    let payloads: Vec<String> = sqlx::query("SELECT payload FROM events")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect();
    assert_eq!(
        payloads.len() as u64,
        expected_events,
        "events in the database"
    );
    for marker in &markers {
        let found: Vec<&String> = payloads
            .iter()
            .filter(|p| p.contains(marker.as_str()))
            .collect();
        assert!(
            found.is_empty(),
            "a refused request was stored ({marker}): {found:?}"
        );
    }
    let tables: Vec<String> = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect();
    assert!(
        tables.contains(&"events".to_string()) && tables.contains(&"jobs".to_string()),
        "{tables:?}"
    );
    conn.close().await.unwrap();

    // The hostile incident: data kept verbatim.
    let incidents = server.incidents().await;
    let incident = incidents
        .iter()
        .find(|i| i["channel"] == CHANNEL)
        .unwrap_or_else(|| panic!("no incident in {CHANNEL}: {incidents:#?}"));
    assert_eq!(incident["status"], "closed");
    assert_eq!(
        incident["title"],
        decoded(TITLE),
        "the title is stored verbatim"
    );
    let texts: Vec<String> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] != "event")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect();
    for (stored, _) in &entries {
        assert_eq!(
            texts.iter().filter(|t| *t == stored).count(),
            1,
            "timeline entry {stored:?} verbatim, once; timeline: {texts:#?}"
        );
    }
    let authors: Vec<&str> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["author"].as_str())
        .collect();
    assert!(authors.contains(&EVIL_DISPLAY_NAME), "{authors:?}");
    // The bad numbers changed nothing; the story holds each payload verbatim.
    for entry in incident["timeline"].as_array().unwrap() {
        assert_eq!(entry["hidden"], false, "{entry}");
        assert!(entry["original_at"].is_null(), "{entry}");
        assert_ne!(entry["edited_by"], EVIL_USER_NAME, "{entry}");
    }
    let listed = |list: &str, field: &str| -> Vec<String> {
        incident[list]
            .as_array()
            .unwrap_or_else(|| panic!("{list} in {incident:#}"))
            .iter()
            .map(|item| item[field].as_str().unwrap().to_string())
            .collect()
    };
    for (tag, stored, _) in &story {
        assert!(listed("factors", "text").contains(&format!("F-{tag} {stored}")));
        assert!(listed("actions", "text").contains(&format!("A-{tag} {stored}")));
        assert!(listed("references", "text").contains(stored));
        assert!(listed("references", "label").contains(&format!("R-{tag}")));
    }
    assert!(incident["worked"].as_array().unwrap().is_empty());
    for item in ["factors", "actions"] {
        for entry in incident[item].as_array().unwrap() {
            assert_eq!(entry["hidden"], false, "{entry}");
            assert_ne!(entry["done"], true, "{entry}");
        }
    }
    assert!(authors.contains(&EVIL_USER_NAME), "{authors:?}");
    let names: Vec<&str> = incident["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        names.contains(&EVIL_DISPLAY_NAME) && names.contains(&EVIL_USER_NAME),
        "{names:?}"
    );

    // …and shown as inert text in every copy of the draft.
    let id = incident["id"].as_str().unwrap();
    let from_api = server
        .api(&format!("/api/incidents/{id}/postmortem.md"))
        .await
        .text()
        .await
        .unwrap();
    let drafts_dir = sandbox.path().join("drafts");
    let drafted = files_under(&drafts_dir);
    let file = drafted
        .iter()
        .find(|p| {
            p.to_string_lossy()
                .contains("checkout-7-7-drop-table-events")
        })
        .unwrap_or_else(|| panic!("no draft file for the hostile incident: {drafted:?}"));
    let from_file = std::fs::read_to_string(drafts_dir.join(file)).unwrap();
    let uploads = fake.uploads();
    let upload = uploads
        .iter()
        .map(|(_, content)| String::from_utf8(content.clone()).unwrap())
        .find(|content| content.contains("T-sql "))
        .expect("the hostile draft was uploaded");
    // The file's front matter is data for tools: user text there is kept as written, as JSON
    // strings (which YAML reads as they are), minus control and bidirectional-override
    // characters; the document below it is what people read.
    let plain = |text: &str| -> String {
        text.chars()
            .filter(|c| {
                !c.is_control() && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            })
            .collect()
    };
    let (front, body) = from_file
        .strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .unwrap_or_else(|| panic!("no front matter:\n{from_file}"));
    let title_line = format!(
        "title: {}",
        serde_json::to_string(&plain(&decoded(TITLE))).unwrap()
    );
    assert!(
        front.lines().any(|l| l == title_line),
        "{title_line} in\n{front}"
    );
    for name in [EVIL_DISPLAY_NAME, EVIL_USER_NAME] {
        let line = format!("  - {}", serde_json::to_string(&plain(name)).unwrap());
        assert!(front.lines().any(|l| l == line), "{line} in\n{front}");
    }
    let from_file = body.to_string();
    for (what, draft) in [
        ("the API's draft", &from_api),
        ("the draft file", &from_file),
        ("the uploaded draft", &upload),
    ] {
        for (_, shown) in &entries {
            assert!(
                draft.contains(&format!(" - {shown} — ")),
                "{what} lacks {shown:?}:\n{draft}"
            );
        }
        for (i, (tag, _, shown)) in story.iter().enumerate() {
            for line in [
                format!(". F-{tag} {shown}\n"),
                format!("] A-{tag} {shown} - @owner-{i} - "),
                format!("- **R-{tag}:** {shown}\n"),
            ] {
                assert!(draft.contains(&line), "{what} lacks {line:?}:\n{draft}");
            }
        }
        assert!(
            draft.contains("Checkout {{ 7*7 }} '); DROP TABLE events;-- @\u{200b}channel down"),
            "{what}: the title as text:\n{draft}"
        );
        assert_inert(what, draft);
    }
    let draft_answer = answers
        .iter()
        .find(|a| a.contains("T-sql "))
        .expect("/incident draft answered with the draft");
    let draft_answer: Value = serde_json::from_str(draft_answer).unwrap();
    assert_inert(
        "/incident draft's answer",
        draft_answer["text"].as_str().unwrap(),
    );

    // Nothing Scribe posted can notify anyone.
    let posts = fake.calls_to("chat.postMessage");
    assert!(posts.len() >= 2, "headline and summary: {posts:#?}");
    for call in fake.calls() {
        for key in ["text", "blocks", "initial_comment", "title"] {
            if let Some(value) = call.params.get(key) {
                assert_no_pings(&call.method, &value.to_string());
            }
        }
        assert!(
            call.params
                .get("link_names")
                .is_none_or(|v| v == "false" || v == false),
            "{call:?}"
        );
        assert!(
            call.params.get("parse").is_none_or(|v| v != "full"),
            "{call:?}"
        );
    }
    for (_, content) in &uploads {
        assert_no_pings("an uploaded draft", &String::from_utf8_lossy(content));
    }
    for answer in &answers {
        assert_no_pings("a command answer", answer);
    }

    // Every draft landed inside the configured folder, one per closed incident.
    let closed = incidents.iter().filter(|i| i["status"] == "closed").count();
    assert_eq!(closed, 1 + TRAVERSAL_TITLES.len());
    assert_eq!(
        drafted.len(),
        closed,
        "one draft per closed incident: {drafted:?}"
    );
    for path in &drafted {
        let parts: Vec<_> = path.components().collect();
        assert!(
            parts.len() == 2
                && parts
                    .iter()
                    .all(|c| matches!(c, std::path::Component::Normal(_)))
                && path.extension().is_some_and(|e| e == "md"),
            "a draft outside {{yyyy}}/{{date}}-{{slug}}-{{id}}.md: {path:?}"
        );
        let content = std::fs::read_to_string(drafts_dir.join(path)).unwrap();
        let front: Vec<&str> = content
            .lines()
            .skip(1)
            .take_while(|l| *l != "---")
            .collect();
        for line in &front {
            let known = [
                "incident:",
                "title:",
                "severity:",
                "status:",
                "started_at:",
                "resolved_at:",
                "closed_at:",
                "channel:",
                "participants:",
                "  - ",
            ];
            assert!(
                known.iter().any(|k| line.starts_with(k)),
                "front matter broken by a title: {line:?} in\n{content}"
            );
        }
    }
    let everything = sandbox.files();
    let stray: Vec<&PathBuf> = everything
        .iter()
        .filter(|p| !p.starts_with("drafts") && !p.starts_with("data"))
        .collect();
    assert!(
        stray.is_empty(),
        "files outside the drafts folder: {stray:?}"
    );
    for title in TRAVERSAL_TITLES {
        let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        let incident = incidents
            .iter()
            .find(|i| i["title"].as_str().map(words) == Some(words(title)))
            .unwrap_or_else(|| panic!("no incident titled {title:?}: {incidents:#?}"));
        assert_eq!(incident["status"], "closed", "{title:?}");
    }
    assert!(!Path::new("/etc/scribe-hostile-absolute").exists());
    assert!(!Path::new("/etc/scribe-hostile-absolute.md").exists());

    // Nothing secret in the log, and no line forged by user text.
    let log = server.log();
    for (name, secret) in [
        ("signing secret", SIGNING_SECRET),
        ("bot token", BOT_TOKEN),
        ("API token", API_TOKEN),
        ("app token", APP_TOKEN),
    ] {
        assert!(!log.contains(secret), "the {name} is in the log");
    }
    assert!(
        !log.lines().any(|l| l.starts_with("INJECTED")),
        "user text forged a log line:\n{log}"
    );
}

/// Connections that never finish their headers, bodies that stall mid-way and chunked bodies
/// that never end are closed once the configured timeouts pass; health checks are answered
/// meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn stalled_connections_are_closed_and_health_checks_still_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let sandbox = Sandbox::new();
    let fake = FakeSlack::start().await;
    let server = Server::start_with(
        &sandbox,
        &[
            ("SCRIBE__SLACK__API_BASE_URL", &fake.api_base()),
            ("SCRIBE__SERVER__HEADER_READ_TIMEOUT_SECS", "1"),
            ("SCRIBE__SERVER__BODY_READ_TIMEOUT_SECS", "1"),
        ],
    );
    let address = server.base.trim_start_matches("http://").to_string();
    let partial_headers = "POST /slack/events HTTP/1.1\r\nHost: scribe\r\nX-Slow: ";
    let stalled_body = "POST /slack/events HTTP/1.1\r\nHost: scribe\r\n\
        Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"type\":";
    let unended_chunks = "POST /slack/commands HTTP/1.1\r\nHost: scribe\r\n\
        Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
    let starts = [partial_headers; 60]
        .into_iter()
        .chain([stalled_body; 20])
        .chain([unended_chunks; 20]);
    let mut clients = Vec::new();
    for start in starts {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream.write_all(start.as_bytes()).await.unwrap();
        clients.push((start, stream));
    }
    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    for (start, mut stream) in clients {
        let mut answer = Vec::new();
        // A bound for the failure only: the server closes these after about a second.
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            stream.read_to_end(&mut answer),
        )
        .await;
        assert!(read.is_ok(), "still open after a minute: {start:?}");
        if start != partial_headers {
            let answer = String::from_utf8_lossy(&answer);
            assert!(answer.starts_with("HTTP/1.1 408"), "{start:?}: {answer}");
        }
    }
}

/// A stop gives requests in flight the grace period, then closes what is left: three clients
/// stalled mid-body do not keep Scribe from exiting.
#[tokio::test(flavor = "multi_thread")]
async fn a_stop_closes_requests_still_stalled_when_the_grace_period_ends() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let sandbox = Sandbox::new();
    let fake = FakeSlack::start().await;
    let mut server = Server::start_with(
        &sandbox,
        &[
            ("SCRIBE__SLACK__API_BASE_URL", &fake.api_base()),
            ("SCRIBE__SERVER__BODY_READ_TIMEOUT_SECS", "3600"),
            ("SCRIBE__SERVER__SHUTDOWN_GRACE_SECS", "1"),
        ],
    );
    let address = server.base.trim_start_matches("http://").to_string();
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        // A first request answered: the connection is being served.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: scribe\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        while !answer.ends_with(b"ok") {
            let mut buffer = [0; 1024];
            let read = stream.read(&mut buffer).await.unwrap();
            assert_ne!(read, 0, "closed early");
            answer.extend_from_slice(&buffer[..read]);
        }
        stream
            .write_all(
                b"POST /slack/events HTTP/1.1\r\nHost: scribe\r\n\
                  Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
            )
            .await
            .unwrap();
        clients.push(stream);
    }
    let stopped = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert_eq!(stopped, Ok(()));
    for mut stream in clients {
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
    }
}
