//! Scribe's GitHub client against a fake GitHub on a local port: the requests it sends, how a
//! re-publish updates rather than duplicates, and how outages, refusals and races come out.

mod common;

use std::time::{Duration, Instant};

use common::fake_github::{FakeGithub, OWNER, RACER_LOGIN, REPOSITORY};
use scribe::config::{BranchName, Secret};
use scribe::jobs::JobError;
use scribe::publish::github::{GithubApi, GithubError, PullRequest};
use serde_json::json;

const TOKEN: &str = "ghp_test0123456789abcdef";
const BRANCH: &str = "postmortem/2024-05-01-checkout-latency";
const BASE: &str = "main";
const TITLE: &str = "Postmortem: checkout latency";
const BODY: &str = "Postmortem draft for **checkout latency**.\n\n- Severity: SEV2";
const PULLS: &str = "/repos/octo-org/postmortems/pulls";

fn client(base: &str, token: &str) -> GithubApi {
    GithubApi::new(
        base.parse().expect("fake base URL"),
        &REPOSITORY.parse().unwrap(),
        Secret::new(token),
    )
    .expect("a valid client")
}

fn branch(name: &str) -> BranchName {
    BranchName::new(name).unwrap()
}

async fn setup() -> (FakeGithub, GithubApi) {
    let fake = FakeGithub::start().await;
    let api = client(&fake.api_base(), TOKEN);
    (fake, api)
}

async fn publish(api: &GithubApi, body: &str) -> Result<(PullRequest, bool), GithubError> {
    api.ensure_pull_request(&branch(BRANCH), &branch(BASE), TITLE, body)
        .await
}

#[tokio::test]
async fn creates_a_pull_request_with_githubs_headers_and_body() {
    let (fake, api) = setup().await;

    let (pull, created) = publish(&api, BODY).await.unwrap();

    assert!(created);
    assert_eq!(pull.number, 1);
    assert_eq!(
        pull.html_url,
        "https://github.com/octo-org/postmortems/pull/1"
    );
    let pulls = fake.wait_for_pulls(1, Duration::from_secs(5)).await;
    assert_eq!(pulls[0]["title"], TITLE);
    assert_eq!(pulls[0]["body"], BODY);
    assert_eq!(pulls[0]["head"]["ref"], BRANCH);
    assert_eq!(pulls[0]["head"]["label"], format!("{OWNER}:{BRANCH}"));
    assert_eq!(pulls[0]["base"]["ref"], BASE);
    assert_eq!(pulls[0]["state"], "open");

    let calls = fake.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    let (list, create) = (&calls[0], &calls[1]);
    assert_eq!((list.method.as_str(), list.path.as_str()), ("GET", PULLS));
    assert_eq!(list.query["head"], format!("{OWNER}:{BRANCH}"));
    assert_eq!(list.query["base"], BASE);
    assert_eq!(list.query["state"], "open");
    assert_eq!(
        (create.method.as_str(), create.path.as_str()),
        ("POST", PULLS)
    );
    assert_eq!(create.status, 201);
    assert_eq!(
        create.body,
        Some(json!({ "title": TITLE, "head": BRANCH, "base": BASE, "body": BODY }))
    );
    for call in &calls {
        assert_eq!(call.auth.as_deref(), Some(&*format!("Bearer {TOKEN}")));
        assert_eq!(call.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(call.header("x-github-api-version"), Some("2022-11-28"));
        assert!(
            call.header("user-agent")
                .is_some_and(|ua| ua.starts_with("scribe/")),
            "{call:?}"
        );
    }
    assert_eq!(
        create.header("content-type"),
        Some("application/json"),
        "{create:?}"
    );
}

#[tokio::test]
async fn publishing_again_updates_the_pull_request_instead_of_opening_another() {
    let (fake, api) = setup().await;
    let (first, created) = publish(&api, BODY).await.unwrap();
    assert!(created);

    let revised = format!("{BODY}\n- Duration: 42 minutes");
    let (second, created) = publish(&api, &revised).await.unwrap();

    assert!(!created);
    assert_eq!(second, first);
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:#?}");
    assert_eq!(pulls[0]["body"], revised);
    assert_eq!(fake.calls_with("POST").len(), 1);
    let patches = fake.calls_with("PATCH");
    assert_eq!(patches.len(), 1, "{patches:#?}");
    assert_eq!(patches[0].path, format!("{PULLS}/1"));
    assert_eq!(
        patches[0].body,
        Some(json!({ "title": TITLE, "body": revised }))
    );
    assert_eq!(patches[0].status, 200);
}

#[tokio::test]
async fn an_unchanged_title_and_body_send_no_update() {
    let (fake, api) = setup().await;
    let number = fake.add_pull(BRANCH, BASE, TITLE, BODY);

    let (pull, created) = publish(&api, BODY).await.unwrap();

    assert!(!created);
    assert_eq!(pull.number, number);
    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "only the lookup: {calls:#?}");
    assert_eq!(calls[0].method, "GET");
}

#[tokio::test]
async fn a_new_title_alone_is_updated_too() {
    let (fake, api) = setup().await;
    fake.add_pull(BRANCH, BASE, "Postmortem: draft", BODY);

    publish(&api, BODY).await.unwrap();

    let patches = fake.calls_with("PATCH");
    assert_eq!(patches.len(), 1);
    assert_eq!(fake.pulls()[0]["title"], TITLE);
}

#[tokio::test]
async fn pull_requests_of_other_branches_and_closed_ones_are_left_alone() {
    let (fake, api) = setup().await;
    let other_branch = fake.add_pull("postmortem/older-incident", BASE, "Older", "old");
    let other_base = fake.add_pull(BRANCH, "release", TITLE, "into release");
    let closed = fake.add_pull(BRANCH, BASE, TITLE, "closed one");
    fake.close_pull(closed);

    let (pull, created) = publish(&api, BODY).await.unwrap();

    assert!(created);
    assert!(![other_branch, other_base, closed].contains(&pull.number));
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 4);
    for (number, body) in [
        (other_branch, "old"),
        (other_base, "into release"),
        (closed, "closed one"),
    ] {
        let pull = pulls.iter().find(|p| p["number"] == json!(number)).unwrap();
        assert_eq!(pull["body"], body);
    }
    assert!(fake.calls_with("PATCH").is_empty());
}

#[tokio::test]
async fn an_outage_that_clears_within_the_retries_is_ridden_out() {
    let (fake, api) = setup().await;
    fake.fail_next(503);
    fake.fail_next(502);

    let (pull, created) = publish(&api, BODY).await.unwrap();

    assert!(created);
    assert_eq!(pull.number, 1);
    let statuses: Vec<(String, u16)> = fake
        .calls()
        .into_iter()
        .map(|c| (c.method, c.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("GET".to_owned(), 503),
            ("GET".to_owned(), 502),
            ("GET".to_owned(), 200),
            ("POST".to_owned(), 201),
        ]
    );
}

#[tokio::test]
async fn an_outage_lifted_while_retrying_is_ridden_out() {
    let (fake, api) = setup().await;
    fake.set_outage(true);
    let fake = std::sync::Arc::new(fake);
    let lifter = {
        let fake = fake.clone();
        tokio::spawn(async move {
            while fake.calls().is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            fake.set_outage(false);
        })
    };

    let (_, created) = publish(&api, BODY).await.unwrap();
    lifter.await.unwrap();

    assert!(created);
    assert_eq!(fake.calls()[0].status, 503);
    assert_eq!(fake.pulls().len(), 1);
}

#[tokio::test]
async fn an_outage_that_outlasts_the_retries_is_transient() {
    let (fake, api) = setup().await;
    fake.set_outage(true);

    let error = publish(&api, BODY).await.unwrap_err();

    assert!(error.to_string().contains("503"), "{error}");
    assert!(
        matches!(JobError::from(error), JobError::Transient(_)),
        "the job is tried again later"
    );
    let calls = fake.calls();
    assert_eq!(calls.len(), 3, "three attempts at the lookup: {calls:#?}");
    assert!(calls.iter().all(|c| c.method == "GET" && c.status == 503));
    assert!(fake.pulls().is_empty());
}

#[tokio::test]
async fn bad_credentials_are_permanent_and_never_show_the_token() {
    let fake = FakeGithub::start().await;
    fake.require_token("ghp_the_right_one");
    let secret = "ghp_wrong_but_still_secret_42";
    let api = client(&fake.api_base(), secret);

    let error = publish(&api, BODY).await.unwrap_err();

    assert!(matches!(error, GithubError::Permanent(_)), "{error:?}");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(secret), "{shown}");
    assert!(
        shown.contains("401") && shown.contains("Bad credentials"),
        "{shown}"
    );
    assert_eq!(fake.calls().len(), 1, "a refusal is not retried");
}

#[tokio::test]
async fn a_create_that_loses_a_race_returns_the_pull_request_that_won() {
    let (fake, api) = setup().await;
    fake.race_next_create("Postmortem: someone else's draft", "their body");

    let (pull, created) = publish(&api, BODY).await.unwrap();

    assert!(!created);
    let pulls = fake.pulls();
    assert_eq!(pulls.len(), 1, "{pulls:#?}");
    assert_eq!(pulls[0]["user"]["login"], RACER_LOGIN);
    assert_eq!(pull.number, pulls[0]["number"].as_u64().unwrap());
    // The winner's pull request now carries this draft.
    assert_eq!(pulls[0]["title"], TITLE);
    assert_eq!(pulls[0]["body"], BODY);
    let sequence: Vec<(String, u16)> = fake
        .calls()
        .into_iter()
        .map(|c| (c.method, c.status))
        .collect();
    assert_eq!(
        sequence,
        [
            ("GET".to_owned(), 200),
            ("POST".to_owned(), 422),
            ("GET".to_owned(), 200),
            ("PATCH".to_owned(), 200),
        ]
    );
}

#[tokio::test]
async fn two_publishers_at_once_end_with_one_pull_request() {
    let (fake, api) = setup().await;
    let other = api.clone();

    let (a, b) = tokio::join!(publish(&api, BODY), publish(&other, BODY));

    let (a, a_created) = a.unwrap();
    let (b, b_created) = b.unwrap();
    assert_eq!(a, b);
    assert_eq!(fake.pulls().len(), 1);
    assert!(a_created || b_created);
}

#[tokio::test]
async fn a_secondary_rate_limit_is_waited_out_as_github_asks() {
    let (fake, api) = setup().await;
    fake.rate_limit_next(403, 1);

    let started = Instant::now();
    let (_, created) = publish(&api, BODY).await.unwrap();

    assert!(created);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let calls = fake.calls();
    assert_eq!(calls[0].status, 403);
    assert_eq!(calls[1].status, 200);
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_client_waits_is_transient_at_once() {
    let (fake, api) = setup().await;
    fake.rate_limit_next(429, 120);

    let started = Instant::now();
    let error = publish(&api, BODY).await.unwrap_err();

    assert!(matches!(error, GithubError::Transient(_)), "{error:?}");
    assert!(error.to_string().contains("retry after 120s"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(fake.calls().len(), 1, "no early retry while rate limited");
}

#[tokio::test]
async fn refusals_are_permanent_and_not_retried() {
    for status in [403, 404, 422] {
        let (fake, api) = setup().await;
        fake.fail_next(status);

        let error = publish(&api, BODY).await.unwrap_err();

        assert!(
            matches!(error, GithubError::Permanent(_)),
            "{status}: {error:?}"
        );
        assert!(error.to_string().contains(&status.to_string()), "{error}");
        assert_eq!(fake.calls().len(), 1, "{status}");
    }
}

#[tokio::test]
async fn an_unknown_repository_is_a_permanent_not_found() {
    let fake = FakeGithub::start().await;
    let api = GithubApi::new(
        fake.api_base().parse().unwrap(),
        &"octo-org/no-such-repo".parse().unwrap(),
        Secret::new(TOKEN),
    )
    .unwrap();

    let error = publish(&api, BODY).await.unwrap_err();

    assert!(matches!(error, GithubError::Permanent(_)), "{error:?}");
    assert!(
        error.to_string().contains("octo-org/no-such-repo"),
        "{error}"
    );
    assert!(error.to_string().contains("HTTP 404: Not Found"), "{error}");
}

#[tokio::test]
async fn github_enterprise_roots_work_with_or_without_the_trailing_slash() {
    let fake = FakeGithub::start().await;
    let with_slash = fake.enterprise_base();
    let without = with_slash.trim_end_matches('/').to_owned();

    for (n, base) in [with_slash, without].iter().enumerate() {
        let api = client(base, TOKEN);
        let head = branch(&format!("postmortem/ghe-{n}"));
        let (pull, created) = api
            .ensure_pull_request(&head, &branch(BASE), TITLE, BODY)
            .await
            .unwrap();
        assert!(created);
        assert_eq!(pull.number, n as u64 + 1);
    }
    assert!(
        fake.calls().iter().all(|c| c
            .path
            .starts_with("/api/v3/repos/octo-org/postmortems/pulls")),
        "{:#?}",
        fake.calls()
    );
}

#[tokio::test]
async fn branch_names_with_special_characters_are_escaped_on_the_way() {
    let (fake, api) = setup().await;
    let name = "postmortem/inc#42&x=1+ü";
    let head = branch(name);

    let (_, created) = api
        .ensure_pull_request(&head, &branch(BASE), TITLE, BODY)
        .await
        .unwrap();
    let (_, again) = api
        .ensure_pull_request(&head, &branch(BASE), TITLE, BODY)
        .await
        .unwrap();

    assert!(created && !again);
    assert_eq!(fake.pulls().len(), 1);
    assert_eq!(fake.pulls()[0]["head"]["ref"], name);
    assert_eq!(fake.calls()[0].query["head"], format!("{OWNER}:{name}"));
}

#[tokio::test]
async fn bad_arguments_are_refused_before_anything_is_sent() {
    let (fake, api) = setup().await;

    // A branch the client could be handed cannot be empty or turn `owner:branch` into another
    // owner's.
    for bad in ["", "evil:branch"] {
        assert!(BranchName::new(bad).is_err(), "{bad:?}");
    }
    let error = api
        .ensure_pull_request(&branch(BRANCH), &branch(BASE), "  ", BODY)
        .await
        .unwrap_err();
    assert!(matches!(error, GithubError::Permanent(_)), "{error}");
    assert!(fake.calls().is_empty());
}
