//! Follow-up actions as issues, end to end through the Slack path: closing an incident with
//! actions makes one issue each (once, through lost answers and rate limits), edits update them,
//! an issue closed in the tracker marks its action done (a signed webhook, or polling), and the
//! republished draft shows it. Fake GitHub and Jira servers speak their documented REST shapes.

mod common;

use chrono::Duration;
use common::fake_github::{FakeGithub, REPOSITORY};
use common::fake_jira::{EMAIL, FakeJira, PROJECT};
use common::fake_slack::FakeSlack;
use common::server::Server;
use common::{Sandbox, files_under};
use scribe::clock::Clock;
use scribe::followups::webhook::sign_github;
use scribe::storage::Store;
use serde_json::{Value, json};

const CHANNEL: &str = "C0TRACKED";
const USER: &str = "U0ANA";
const WEBHOOK_SECRET: &str = "whsec-test-8c1f";
const GITHUB_TOKEN: &str = "ghp-tracker-test-token";
const JIRA_TOKEN: &str = "jira-test-token-51aa";

/// An `issues` delivery as GitHub sends it, signed with `secret`.
async fn deliver(
    server: &Server,
    secret: &str,
    delivery: &str,
    number: u64,
    action: &str,
) -> reqwest::Response {
    let body = json!({
        "action": action,
        "issue": {"number": number, "state": if action == "closed" { "closed" } else { "open" }, "title": "x"},
        "repository": {"full_name": REPOSITORY},
        "sender": {"login": "octocat"},
    });
    send_hook(server, secret, delivery, "issues", body).await
}

async fn send_hook(
    server: &Server,
    secret: &str,
    delivery: &str,
    event: &str,
    body: Value,
) -> reqwest::Response {
    let body = body.to_string();
    reqwest::Client::new()
        .post(format!("{}/github/webhook", server.base))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header(
            "x-hub-signature-256",
            sign_github(secret.as_bytes(), body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_with_two_actions_makes_two_issues_and_a_closed_issue_marks_its_action_done() {
    let slack = FakeSlack::start().await;
    slack.add_user(USER, "ana", "Ana Lima");
    let github = FakeGithub::start().await;
    github.require_token(GITHUB_TOKEN);
    let sandbox = Sandbox::new();
    let (slack_api, github_api) = (slack.api_base(), github.api_base());
    let server = Server::start_with(
        &sandbox,
        &[
            ("SCRIBE__SLACK__API_BASE_URL", slack_api.as_str()),
            ("SCRIBE__PUBLISH__TARGETS", r#"["chat","files"]"#),
            ("SCRIBE__FOLLOWUPS__TRACKER", "github"),
            ("SCRIBE__FOLLOWUPS__POLL_EVERY", "0"),
            (
                "SCRIBE__FOLLOWUPS__GITHUB__API_BASE_URL",
                github_api.as_str(),
            ),
            ("SCRIBE__FOLLOWUPS__GITHUB__REPOSITORY", REPOSITORY),
            ("SCRIBE__PEOPLE__CY", "cy-gh"),
            ("GITHUB_TOKEN", GITHUB_TOKEN),
            ("GITHUB_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    );
    let script = [
        "start Checkout errors",
        "action now scaled workers",
        "action add a read replica @cy due 2030-01-31",
        "action long redesign retries",
    ];
    for (i, text) in script.iter().enumerate() {
        server
            .command(CHANNEL, USER, "/incident", text, &format!("t.{i}"))
            .await;
    }
    server.settled().await;
    assert!(github.issues().is_empty(), "created on close, not before");

    // The first create is stored but its answer lost; the second is rate limited.
    github.lose_next_create_answers(1);
    github.rate_limit_next(429, 1);
    server
        .command(CHANNEL, USER, "/incident", "close", "t.close")
        .await;
    server.settled().await;
    let issues = github.issues();
    assert_eq!(issues.len(), 2, "one issue per action, once: {issues:#?}");
    let replica = issues
        .iter()
        .find(|i| i["title"] == "add a read replica")
        .expect("the replica's issue");
    let body = replica["body"].as_str().unwrap();
    for part in [
        "Checkout errors",
        "Due: 2030-01-31",
        "channel C0TRACKED",
        "scribe-action-",
    ] {
        assert!(body.contains(part), "{part} in {body}");
    }
    assert_eq!(replica["assignees"][0]["login"], "cy-gh", "{replica:#}");
    let incident = server.the_incident().await;
    let keys: Vec<&Value> = incident["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["issue"]["key"])
        .collect();
    let replica_key = format!("#{}", replica["number"]);
    let retries = issues
        .iter()
        .find(|i| i["title"] == "redesign retries")
        .unwrap();
    let retries_key = format!("#{}", retries["number"]);
    assert_eq!(
        keys,
        [&Value::Null, &json!(replica_key), &json!(retries_key)],
        "the `now` action needs no issue"
    );

    // An edit in chat updates the issue; nothing new is created.
    server
        .command(
            CHANNEL,
            USER,
            "/incident",
            "action edit 2 add two read replicas @cy due 2030-02-15",
            "t.edit",
        )
        .await;
    server.settled().await;
    let issues = github.issues();
    assert_eq!(issues.len(), 2);
    let replica = issues
        .iter()
        .find(|i| format!("#{}", i["number"]) == replica_key)
        .unwrap();
    assert_eq!(replica["title"], "add two read replicas");
    assert!(
        replica["body"]
            .as_str()
            .unwrap()
            .contains("Due: 2030-02-15")
    );

    // Closed in GitHub: a forged delivery changes nothing, a signed one marks it done, and a
    // redelivery of it stores nothing more.
    let number = retries["number"].as_u64().unwrap();
    github.close_issue(number);
    let forged = deliver(&server, "not-the-secret", "d-1", number, "closed").await;
    assert_eq!(forged.status(), 401);
    assert_eq!(server.the_incident().await["actions"][2]["done"], false);
    for _ in 0..2 {
        let response = deliver(&server, WEBHOOK_SECRET, "d-2", number, "closed").await;
        assert_eq!(response.status(), 200);
    }
    let incident = server.the_incident().await;
    assert_eq!(incident["actions"][2]["done"], true, "{incident:#}");
    assert_eq!(incident["actions"][1]["done"], false);
    let events = server
        .app
        .store()
        .channel_events(&scribe::domain::ChannelRef::new(
            scribe::domain::Platform::Slack,
            CHANNEL,
        ))
        .await
        .unwrap();
    let said: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.kind {
            scribe::domain::EventKind::Posted { author, text, .. }
                if author.kind == scribe::domain::AuthorKind::Integration =>
            {
                Some(text.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        said.iter().filter(|t| t.ends_with("action done 3")).count(),
        1,
        "{said:#?}"
    );

    // The republished draft shows it done, with its issue.
    server
        .command(CHANNEL, USER, "/incident", "draft --publish", "t.publish")
        .await;
    server.settled().await;
    let files = files_under(&sandbox.path().join("postmortems"));
    assert_eq!(files.len(), 1, "{files:?}");
    let draft = std::fs::read_to_string(&files[0]).unwrap();
    let line = draft
        .lines()
        .find(|l| l.contains("redesign retries"))
        .unwrap();
    assert!(line.starts_with("- [x] redesign retries"), "{line}");
    // `#` is escaped in the draft's markdown, so a key never reads as a heading.
    assert!(line.contains(&format!("[\\{retries_key}](")), "{line}");
    assert!(line.ends_with("(done)"), "{line}");
    assert!(
        draft.contains("**Postmortem:** draft · owner @ana"),
        "{draft}"
    );

    // Reopened: not done again.
    github.reopen_issue(number);
    deliver(&server, WEBHOOK_SECRET, "d-3", number, "reopened").await;
    assert_eq!(server.the_incident().await["actions"][2]["done"], false);

    // Deleted in GitHub: the next update says so in the channel and makes no new issue.
    let replica_number = replica["number"].as_u64().unwrap();
    github.delete_issue(replica_number);
    server
        .command(
            CHANNEL,
            USER,
            "/incident",
            "action edit 2 one replica",
            "t.gone",
        )
        .await;
    server.settled().await;
    assert_eq!(slack.posts_with("is gone from GitHub"), 1);
    assert_eq!(github.issues().len(), 1);

    // The postmortem's pull request merged: published. One in another repository: nothing.
    let pull = format!("https://github.com/{REPOSITORY}/pull/7");
    server
        .command(
            CHANNEL,
            USER,
            "/incident",
            &format!("postmortem review {pull}"),
            "t.pr",
        )
        .await;
    let merged = |repository: &str| {
        json!({
            "action": "closed",
            "number": 7,
            "pull_request": {"number": 7, "merged": true, "head": {"ref": "postmortem/x"}},
            "repository": {"full_name": repository},
        })
    };
    let other = send_hook(
        &server,
        WEBHOOK_SECRET,
        "d-4",
        "pull_request",
        merged("octo-org/other"),
    )
    .await;
    assert_eq!(other.status(), 200);
    assert_eq!(
        server.the_incident().await["postmortem"]["state"],
        "in_review"
    );
    let ours = send_hook(
        &server,
        WEBHOOK_SECRET,
        "d-5",
        "pull_request",
        merged(REPOSITORY),
    )
    .await;
    assert_eq!(ours.status(), 200);
    assert_eq!(
        server.the_incident().await["postmortem"]["state"],
        "published"
    );
    assert!(
        !server.log().contains(GITHUB_TOKEN),
        "the token never appears in the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn jira_issues_are_made_at_once_and_read_back_by_polling_and_the_webhook() {
    let slack = FakeSlack::start().await;
    slack.add_user(USER, "ana", "Ana Lima");
    let jira = FakeJira::start(JIRA_TOKEN).await;
    let sandbox = Sandbox::new();
    let clock = Clock::shifted();
    let (slack_api, jira_url) = (slack.api_base(), jira.base_url());
    let server = Server::start_with_clock(
        &sandbox,
        &[
            ("SCRIBE__SLACK__API_BASE_URL", slack_api.as_str()),
            ("SCRIBE__FOLLOWUPS__TRACKER", "jira"),
            ("SCRIBE__FOLLOWUPS__CREATE", "immediately"),
            ("SCRIBE__FOLLOWUPS__POLL_EVERY", "10m"),
            ("SCRIBE__FOLLOWUPS__JIRA__BASE_URL", jira_url.as_str()),
            ("SCRIBE__FOLLOWUPS__JIRA__PROJECT", PROJECT),
            ("JIRA_EMAIL", EMAIL),
            ("JIRA_API_TOKEN", JIRA_TOKEN),
            ("JIRA_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("SCRIBE__REMINDERS__NO_UPDATE", "0"),
        ],
        clock.clone(),
    );
    for (i, text) in ["start Queue stuck", "action drain alarm due 2030-03-01"]
        .iter()
        .enumerate()
    {
        server
            .command(CHANNEL, USER, "/incident", text, &format!("j.{i}"))
            .await;
    }
    server.settled().await;
    let issues = jira.issues();
    assert_eq!(
        issues.len(),
        1,
        "made while the incident is open: {issues:#?}"
    );
    let key = issues[0]["key"].as_str().unwrap().to_string();
    assert_eq!(issues[0]["fields"]["duedate"], "2030-03-01");
    let incident = server.the_incident().await;
    assert_eq!(incident["actions"][0]["issue"]["key"], key.as_str());
    assert_eq!(
        incident["actions"][0]["issue"]["url"],
        format!("{jira_url}/browse/{key}")
    );

    // Done in Jira: the next read (on the next 10-minute slot) marks the action done.
    jira.transition(&key, "done");
    server.settled().await;
    assert_eq!(server.the_incident().await["actions"][0]["done"], false);
    clock.advance(Duration::minutes(10));
    server.settled().await;
    assert_eq!(server.the_incident().await["actions"][0]["done"], true);

    // Back to "to do", told by the webhook: a wrong secret changes nothing, the right one does.
    jira.transition(&key, "new");
    let body = json!({
        "webhookEvent": "jira:issue_updated",
        "issue": {"key": key, "fields": {"status": {"statusCategory": {"key": "new"}}}},
    })
    .to_string();
    let hook = |secret: &str| {
        reqwest::Client::new()
            .post(format!("{}/jira/webhook?secret={secret}", server.base))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    assert_eq!(hook("wrong").await.unwrap().status(), 401);
    assert_eq!(server.the_incident().await["actions"][0]["done"], true);
    assert_eq!(hook(WEBHOOK_SECRET).await.unwrap().status(), 200);
    assert_eq!(server.the_incident().await["actions"][0]["done"], false);

    // A revoked token: the failure is told in the channel; no second issue is ever made.
    jira.revoke_token();
    server
        .command(
            CHANNEL,
            USER,
            "/incident",
            "action edit 1 drain alarm at 1k",
            "j.e",
        )
        .await;
    server.settled().await;
    assert_eq!(
        slack.posts_with("Scribe could not keep an action's issue"),
        1
    );
    assert_eq!(jira.issues().len(), 1);
    assert!(!server.log().contains(JIRA_TOKEN));
}
