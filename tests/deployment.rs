//! What the operators get: a container built by the same `cargo build` CI runs, `scribe check`,
//! `scribe migrate`, JSON logs without secrets, and a clean stop on SIGTERM.

mod common;

use std::time::Duration;

use common::Sandbox;
use common::fake_slack::FakeSlack;
use common::server::{BOT_TOKEN, Process as Server, SIGNING_SECRET};
use common::{stderr, stdout, success};

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn the_image_is_built_with_the_cargo_build_ci_runs() {
    let dockerfile = repo_file("Dockerfile");
    let ci = repo_file(".ci/run");
    let builds: Vec<&str> = dockerfile
        .lines()
        .flat_map(|line| line.split("&&"))
        .map(|part| part.trim().trim_end_matches('\\').trim())
        .filter(|part| part.starts_with("cargo build"))
        .collect();
    assert!(!builds.is_empty(), "the Dockerfile builds with cargo");
    for build in builds {
        assert!(
            ci.lines().any(|l| l.trim() == build),
            "CI runs `{build}` too"
        );
    }
    for must in [
        "USER scribe",
        "HEALTHCHECK",
        "/healthz",
        "EXPOSE 8080",
        "VOLUME",
        "ca-certificates",
        "AS build",
    ] {
        assert!(dockerfile.contains(must), "Dockerfile has {must}");
    }
}

#[test]
fn check_accepts_the_defaults_and_names_every_broken_template() {
    let sandbox = Sandbox::new();
    let out = success(&sandbox.run(&["check"]));
    assert!(out.contains("valid"), "{out}");

    let dir = sandbox.path().join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("postmortem.md.j2"),
        "# {{ title }}\n\n{{ sumary }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("short.md.j2"),
        "{% for e in timeline %}{{ e.text }}\n",
    )
    .unwrap();
    let output = sandbox
        .scribe()
        .env("SCRIBE__DRAFTING__TEMPLATE_DIR", &dir)
        .arg("check")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("postmortem.md.j2:3") && err.contains("sumary"),
        "{err}"
    );
    assert!(err.contains("short.md.j2"), "{err}");
    assert!(err.contains("2 problem(s)"), "{err}");
}

#[test]
fn check_refuses_a_broken_configuration_naming_file_and_key() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path().join("bad.toml"),
        "[server]\nlisten = \"not an address\"\n",
    )
    .unwrap();
    let output = sandbox.run(&["--config", "bad.toml", "check"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("bad.toml") && err.contains("listen"), "{err}");

    std::fs::write(sandbox.path().join("syntax.toml"), "[server\nlisten = 1\n").unwrap();
    let output = sandbox.run(&["--config", "syntax.toml", "check"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("syntax.toml") && err.contains("line 1"),
        "{err}"
    );
}

#[test]
fn migrate_creates_the_schema_and_says_so() {
    let sandbox = Sandbox::new();
    let out = success(&sandbox.run(&["migrate"]));
    assert!(out.contains("up to date"), "{out}");
    assert!(sandbox.path().join("data/scribe.db").exists());
    let output = sandbox
        .scribe()
        .env("SCRIBE__DATABASE__URL", "mysql://scribe:hunter2@db/scribe")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("mysql") && !err.contains("hunter2"), "{err}");
    assert!(stdout(&output).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_no_secret_and_sigterm_finishes_the_job_in_progress() {
    let fake = FakeSlack::start().await;
    let sandbox = Sandbox::new();
    let mut server = Server::start_with(
        &sandbox,
        &[
            ("SCRIBE__SLACK__API_BASE_URL", &fake.api_base()),
            ("SCRIBE__LOG__FORMAT", "json"),
        ],
    );
    // The headline's first try is rate limited for 2 s: SIGTERM arrives while it waits.
    fake.rate_limit_next("chat.postMessage", 2);
    server
        .command(
            "C0OPS",
            "U0ROBIN01",
            "/incident",
            "start Disk full on db-3",
            "t.1",
        )
        .await;
    server
        .eventually(
            Duration::from_secs(10),
            "the rate-limited first try",
            || async { !fake.calls_to("chat.postMessage").is_empty() },
        )
        .await;
    let status = server.terminate();
    assert!(status.success(), "exit 0 on SIGTERM: {status}");
    assert_eq!(
        fake.wait_for("chat.postMessage", 1, Duration::from_secs(1))
            .await
            .len(),
        1,
        "the job finished before exit"
    );

    let log = server.log();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let record: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(record["level"].is_string(), "{line}");
    }
    assert!(log.contains("stopped"), "{log}");
    for secret in [SIGNING_SECRET, BOT_TOKEN, common::server::API_TOKEN] {
        assert!(!log.contains(secret), "a secret in the log");
    }
}

/// Standard error closed (a log collector gone, `| head`): every log line fails to be written,
/// and Scribe goes on answering, running jobs and counting the lines it dropped.
#[tokio::test(flavor = "multi_thread")]
async fn a_closed_standard_error_drops_log_lines_and_stops_nothing() {
    let fake = FakeSlack::start().await;
    let sandbox = Sandbox::new();
    let server = Server::start_then_close_stderr(
        &sandbox,
        &[("SCRIBE__SLACK__API_BASE_URL", &fake.api_base())],
    );
    let http = reqwest::Client::new();
    // Refused, and the refusal logged: the answer still arrives.
    let unsigned = http
        .post(format!("{}/slack/commands", server.base))
        .body("command=%2Fincident&text=start+x")
        .send()
        .await
        .expect("an answer, not a lost connection");
    assert_eq!(unsigned.status(), 401);

    for (channel, title, trigger) in [
        ("C0OPS", "Disk full on db-3", "t.1"),
        ("C0WEB", "Checkout 5xx", "t.2"),
    ] {
        server
            .command(
                channel,
                "U0ROBIN01",
                "/incident",
                &format!("start {title}"),
                trigger,
            )
            .await;
    }
    let headlines = fake
        .wait_for("chat.postMessage", 2, Duration::from_secs(20))
        .await;
    assert_eq!(headlines.len(), 2, "both headline jobs ran");

    let ready = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = server.metrics().await;
    let dropped = metrics
        .lines()
        .find_map(|l| l.strip_prefix("scribe_log_lines_dropped_total "))
        .unwrap_or_else(|| panic!("no dropped-lines counter: {metrics}"));
    assert_ne!(dropped, "0", "{metrics}");
}
