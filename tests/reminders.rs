//! Reminders through the Slack path on a shifted clock: each fires once at its time and not
//! before, survives a restart, is dropped once its reason is gone, and waits out quiet hours.
//! The postmortem's owner, due date and state show in `/incident status`, the JSON, the draft
//! and `/metrics`.

mod common;

use chrono::{Duration, Utc};
use common::Sandbox;
use common::fake_slack::FakeSlack;
use common::server::Server;
use scribe::clock::Clock;

const CHANNEL: &str = "C0REMIND";
const USER: &str = "U0ANA";

fn start(sandbox: &Sandbox, fake: &FakeSlack, clock: &Clock, env: &[(&str, &str)]) -> Server {
    let api = fake.api_base();
    let mut vars = vec![("SCRIBE__SLACK__API_BASE_URL", api.as_str())];
    vars.extend_from_slice(env);
    Server::start_with_clock(sandbox, &vars, clock.clone())
}

/// Moves the clock and lets every job now due run.
async fn advance(server: &Server, clock: &Clock, by: Duration) {
    clock.advance(by);
    server.settled().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reminders_fire_once_at_their_time_survive_a_restart_and_stop_at_the_fix() {
    let fake = FakeSlack::start().await;
    fake.add_user(USER, "ana", "Ana Lima");
    let sandbox = Sandbox::new();
    let clock = Clock::shifted();
    let quiet = [("SCRIBE__REMINDERS__QUIET_HOURS", "")];
    let mut server = start(&sandbox, &fake, &clock, &quiet);
    let mut trigger = 0;
    let mut say = |text: &str| {
        trigger += 1;
        (text.to_string(), format!("trig.{trigger}"))
    };
    let (text, t) = say("start Database down");
    server.command(CHANNEL, USER, "/incident", &text, &t).await;
    server.settled().await;

    advance(&server, &clock, Duration::minutes(9)).await;
    assert_eq!(fake.posts_with("has no lead yet"), 0, "not before its time");
    advance(&server, &clock, Duration::minutes(2)).await;
    assert_eq!(fake.posts_with("has no lead yet"), 1);
    assert_eq!(fake.posts_with("has no severity yet"), 1);
    let no_lead = fake
        .calls_to("chat.postMessage")
        .into_iter()
        .find(|c| c.params["text"].as_str().unwrap().contains("no lead"))
        .unwrap();
    assert_eq!(no_lead.params["channel"], CHANNEL);
    assert!(
        no_lead.params["text"].as_str().unwrap().starts_with("@ana"),
        "names whoever started it: {}",
        no_lead.params["text"]
    );
    advance(&server, &clock, Duration::minutes(40)).await;
    assert_eq!(fake.posts_with("has no lead yet"), 1, "once");
    assert_eq!(
        fake.posts_with("no timeline entry for"),
        0,
        "no severity yet: not urgent"
    );

    // Severity 2 from now: a silence of 30 minutes is reminded, and again every 30 minutes.
    let (text, t) = say("severity sev2");
    server.command(CHANNEL, USER, "/incident", &text, &t).await;
    advance(&server, &clock, Duration::minutes(29)).await;
    assert_eq!(fake.posts_with("no timeline entry for"), 0);
    advance(&server, &clock, Duration::minutes(6)).await;
    assert_eq!(fake.posts_with("no timeline entry for"), 1);

    // A crash; the next one is due while Scribe is down, and fires after the restart. The
    // clock moves only once the killed worker is gone, or it could lease the due job itself.
    tokio::task::block_in_place(|| server.kill_and_wait());
    clock.advance(Duration::minutes(40));
    let server = start(&sandbox, &fake, &clock, &quiet);
    server.settled().await;
    assert_eq!(fake.posts_with("no timeline entry for"), 2);

    // Resolved: the silence no longer matters; "not closed" comes a day later, once.
    let (text, t) = say("resolve failover done");
    server.command(CHANNEL, USER, "/incident", &text, &t).await;
    advance(&server, &clock, Duration::hours(23)).await;
    assert_eq!(fake.posts_with("no timeline entry for"), 2);
    assert_eq!(fake.posts_with("still not closed"), 0);
    advance(&server, &clock, Duration::hours(2)).await;
    assert_eq!(fake.posts_with("still not closed"), 1);
    advance(&server, &clock, Duration::hours(24)).await;
    assert_eq!(fake.posts_with("still not closed"), 1, "once");

    // Closed, with an owner and a due date three days on.
    let due = (clock.now() + Duration::days(3)).date_naive();
    for text in [
        "close".to_string(),
        "postmortem owner @Bo".to_string(),
        format!("postmortem due {due}"),
        format!("action add a replica @Cy due {due}"),
    ] {
        let (text, t) = say(&text);
        server.command(CHANNEL, USER, "/incident", &text, &t).await;
    }
    server.settled().await;
    let (text, t) = say("status");
    let status = server.command(CHANNEL, USER, "/incident", &text, &t).await;
    let status = status["text"].as_str().unwrap().to_string();
    assert!(
        status.contains(&format!("postmortem draft · owner Bo · due {due}")),
        "{status}"
    );
    let incident = server.the_incident().await;
    assert_eq!(incident["postmortem"]["owner"], "Bo");
    assert_eq!(incident["postmortem"]["due"], due.to_string());
    assert_eq!(incident["postmortem"]["state"], "draft");

    // The day before the due date: to the owner.
    let day = due.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let to_day_before = day - Duration::days(1) - clock.now();
    advance(&server, &clock, to_day_before - Duration::minutes(1)).await;
    assert_eq!(fake.posts_with("@Bo: the postmortem of"), 0);
    advance(&server, &clock, Duration::minutes(2)).await;
    assert_eq!(
        fake.posts_with("@Bo: the postmortem of Database down is due"),
        1
    );
    // On the due date, 09:00: the owner, and the action's owner.
    advance(&server, &clock, Duration::days(1) + Duration::hours(9)).await;
    assert_eq!(
        fake.posts_with("and is not published yet"),
        1,
        "the overdue reminder, first round"
    );
    assert_eq!(fake.posts_with("@Cy: action #1 of Database down is due"), 1);
    // The day after the due date: overdue, in the JSON and the metrics.
    advance(&server, &clock, Duration::days(1)).await;
    let incident = server.the_incident().await;
    assert_eq!(incident["postmortem"]["state"], "overdue");
    assert!(
        server
            .metrics()
            .await
            .contains("scribe_postmortems{state=\"overdue\"} 1"),
        "{}",
        server.metrics().await
    );
    // The second round comes two days after the first; publishing stops the rest.
    advance(&server, &clock, Duration::days(1)).await;
    assert_eq!(fake.posts_with("and is not published yet"), 2);
    let (text, t) = say("postmortem published");
    server.command(CHANNEL, USER, "/incident", &text, &t).await;
    advance(&server, &clock, Duration::days(20)).await;
    assert_eq!(fake.posts_with("and is not published yet"), 2);
    let incident = server.the_incident().await;
    assert_eq!(incident["postmortem"]["state"], "published");
    assert!(
        server
            .metrics()
            .await
            .contains("scribe_postmortems{state=\"published\"} 1")
    );
    let draft = server
        .api(&format!(
            "/api/incidents/{}/postmortem.md",
            incident["id"].as_str().unwrap()
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        draft.contains(&format!(
            "**Postmortem:** published · owner @Bo · due {due}"
        )),
        "{draft}"
    );

    // The same in the insights: one sev2 incident, its postmortem published, its action open
    // and overdue (its due date passed weeks ago on this clock).
    let insights: serde_json::Value = server
        .api("/api/insights?severity=sev2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(insights["incidents"], 1, "{insights:#}");
    assert_eq!(insights["postmortems"]["published"], 1);
    assert_eq!(insights["actions"]["overdue"], 1);
    let none: serde_json::Value = server
        .api("/api/insights?severity=sev1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["incidents"], 0);
    // Prometheus: started without a severity, resolved as a sev2 (after the restart).
    let metrics = server.metrics().await;
    for line in [
        "scribe_time_to_resolve_seconds_count{severity=\"sev2\"} 1",
        "scribe_time_to_resolve_seconds_bucket{le=\"7200.0\",severity=\"sev2\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    let bad = server.api("/api/insights?from=2026-13-01").await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("from"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reminder_after_the_response_waits_for_quiet_hours_to_end() {
    let fake = FakeSlack::start().await;
    fake.add_user(USER, "ana", "Ana Lima");
    let sandbox = Sandbox::new();
    let clock = Clock::shifted();
    // Quiet from two to five hours from now (UTC, the team's zone).
    let at = |hours| {
        (Utc::now() + Duration::hours(hours))
            .format("%H:%M")
            .to_string()
    };
    let quiet = format!("{}-{}", at(2), at(5));
    let server = start(
        &sandbox,
        &fake,
        &clock,
        &[
            ("SCRIBE__REMINDERS__QUIET_HOURS", quiet.as_str()),
            ("SCRIBE__REMINDERS__NOT_CLOSED", "3h"),
        ],
    );
    for (i, text) in ["start Queue stuck", "resolve drained"].iter().enumerate() {
        server
            .command(CHANNEL, USER, "/incident", text, &format!("q.{i}"))
            .await;
    }
    // Three hours on, inside the quiet hours: held back until they end.
    advance(&server, &clock, Duration::hours(3) + Duration::minutes(1)).await;
    assert_eq!(fake.posts_with("still not closed"), 0);
    advance(&server, &clock, Duration::hours(1)).await;
    assert_eq!(fake.posts_with("still not closed"), 0);
    advance(&server, &clock, Duration::hours(1)).await;
    assert_eq!(fake.posts_with("still not closed"), 1);
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("scribe_incidents_started_total{severity=\"none\"} 1"),
        "{metrics}"
    );
}
