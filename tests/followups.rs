//! The follow-up trackers' clients against fake GitHub and Jira APIs on local ports: an issue
//! made once however often a job runs, updates, states read back, and how deletions, revoked
//! tokens and rate limits come out.

mod common;

use common::fake_github::{self, FakeGithub};
use common::fake_jira::{self, FakeJira};
use scribe::config::{ProjectKey, Secret};
use scribe::followups::{
    GithubIssues, IssueSpec, IssueState, JiraIssues, TrackedIssue, Tracker, TrackerError,
};
use scribe::jobs::JobError;
use serde_json::json;

const GITHUB_TOKEN: &str = "ghp_issues0123456789abcdef";
const JIRA_TOKEN: &str = "ATATT3xFfGF0-jira-secret";
const MARKER: &str = "scribe-action:0a1b2c3d-1";

fn spec() -> IssueSpec {
    IssueSpec {
        title: "Alert on checkout queue depth".into(),
        body: "From the incident \"Checkout latency\".\nOwner: Sam".into(),
        marker: MARKER.into(),
        due: chrono::NaiveDate::from_ymd_opt(2024, 6, 1),
        assignee: Some("samdoe".into()),
        labels: vec!["sev2".into()],
    }
}

fn github_client(base: &str, token: &str) -> Tracker {
    let client = GithubIssues::new(
        base.parse().unwrap(),
        &fake_github::REPOSITORY.parse().unwrap(),
        Secret::new(token),
        vec!["postmortem-action".into()],
    )
    .expect("a valid client");
    Tracker::Github(client)
}

async fn github() -> (FakeGithub, Tracker) {
    let fake = FakeGithub::start().await;
    fake.require_token(GITHUB_TOKEN);
    let tracker = github_client(&fake.api_base(), GITHUB_TOKEN);
    (fake, tracker)
}

fn number(issue: &TrackedIssue) -> u64 {
    issue.api_id.parse().unwrap()
}

#[tokio::test]
async fn github_ensure_creates_one_issue_carrying_its_marker() {
    let (fake, tracker) = github().await;

    let issue = tracker.ensure(&spec()).await.unwrap();
    assert_eq!(issue.key, "#1");
    assert_eq!(
        issue.url,
        "https://github.com/octo-org/postmortems/issues/1"
    );
    let again = tracker.ensure(&spec()).await.unwrap();
    assert_eq!(again, issue);

    let issues = fake.issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    let body = issues[0]["body"].as_str().unwrap();
    assert!(body.starts_with("From the incident"), "{body}");
    assert!(body.contains("**Due:** 2024-06-01"), "{body}");
    assert!(body.ends_with(&format!("<!-- {MARKER} -->")), "{body}");
    let labels: Vec<&str> = issues[0]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["postmortem-action", "sev2"]);
    assert_eq!(issues[0]["assignees"][0]["login"], "samdoe");

    let creates = fake.calls_with("POST");
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].path, "/repos/octo-org/postmortems/issues");
    assert_eq!(
        creates[0].header("x-github-api-version"),
        Some("2022-11-28")
    );
    assert_eq!(
        creates[0].auth.as_deref(),
        Some(format!("Bearer {GITHUB_TOKEN}").as_str())
    );
    let lists: Vec<_> = fake
        .calls_with("GET")
        .into_iter()
        .filter(|c| c.path == "/repos/octo-org/postmortems/issues")
        .collect();
    assert_eq!(lists[0].query["state"], "all");
    assert_eq!(lists[0].query["labels"], "postmortem-action");
    assert_eq!(lists[0].query["sort"], "created");
    let search = fake
        .calls()
        .into_iter()
        .find(|c| c.path == "/search/issues")
        .expect("search asked before the first create");
    assert_eq!(
        search.query["q"],
        format!("\"{MARKER}\" repo:octo-org/postmortems in:body type:issue")
    );
}

#[tokio::test]
async fn github_a_create_whose_answer_was_lost_is_found_not_repeated() {
    let (fake, tracker) = github().await;
    fake.set_search_stale(true);
    fake.lose_next_create_answers(1);

    let issue = tracker.ensure(&spec()).await.unwrap();

    assert_eq!(fake.issues().len(), 1, "{:#?}", fake.calls());
    assert_eq!(issue.key, "#1");
    let creates = fake.calls_with("POST");
    assert_eq!(creates.len(), 1, "{creates:#?}");
    assert_eq!(creates[0].status, 502);
}

#[tokio::test]
async fn github_a_create_whose_connection_dropped_is_found_not_repeated() {
    let (fake, tracker) = github().await;
    fake.set_search_stale(true);
    fake.drop_next_create_answers(1);

    let issue = tracker.ensure(&spec()).await.unwrap();

    assert_eq!(issue.key, "#1");
    assert_eq!(fake.issues().len(), 1, "{:#?}", fake.calls());
    assert_eq!(fake.calls_with("POST").len(), 1);
}

#[tokio::test]
async fn github_an_older_issue_is_found_by_search_and_pull_requests_never_match() {
    let (fake, tracker) = github().await;
    let marker = format!("<!-- {MARKER} -->");
    fake.add_pull("fix/queue", "main", "Fix", &marker);

    let issue = tracker.ensure(&spec()).await.unwrap();
    assert_eq!(
        issue.key, "#2",
        "the pull request is #1 and is not the issue"
    );

    // An issue the listing misses (here: listed by a label it does not have) is found by
    // search.
    let relabelled = Tracker::Github(
        GithubIssues::new(
            fake.api_base().parse().unwrap(),
            &fake_github::REPOSITORY.parse().unwrap(),
            Secret::new(GITHUB_TOKEN),
            vec!["another-label".into()],
        )
        .unwrap(),
    );
    let before = fake.calls().len();
    assert_eq!(relabelled.ensure(&spec()).await.unwrap(), issue);
    let asked: Vec<String> = fake.calls()[before..]
        .iter()
        .map(|c| c.path.clone())
        .collect();
    assert_eq!(
        asked,
        ["/repos/octo-org/postmortems/issues", "/search/issues"]
    );
    assert_eq!(fake.issues().len(), 1);
}

#[tokio::test]
async fn github_update_changes_title_body_assignee_and_due_date() {
    let (fake, tracker) = github().await;
    let issue = tracker.ensure(&spec()).await.unwrap();

    let changed = IssueSpec {
        title: "Alert on queue depth and age".into(),
        body: "Reworded.".into(),
        due: chrono::NaiveDate::from_ymd_opt(2024, 7, 15),
        assignee: Some("alex".into()),
        ..spec()
    };
    tracker.update(&issue, &changed).await.unwrap();

    let stored = &fake.issues()[0];
    assert_eq!(stored["title"], "Alert on queue depth and age");
    assert_eq!(
        stored["body"],
        format!("Reworded.\n\n**Due:** 2024-07-15\n\n<!-- {MARKER} -->")
    );
    assert_eq!(stored["assignees"], json!([stored["assignee"].clone()]));
    assert_eq!(stored["assignee"]["login"], "alex");
    let patch = &fake.calls_with("PATCH")[0];
    assert_eq!(patch.path, "/repos/octo-org/postmortems/issues/1");

    let unassigned = IssueSpec {
        assignee: None,
        ..changed
    };
    tracker.update(&issue, &unassigned).await.unwrap();
    assert_eq!(fake.issues()[0]["assignees"], json!([]));
}

#[tokio::test]
async fn github_state_follows_close_and_reopen() {
    let (fake, tracker) = github().await;
    let issue = tracker.ensure(&spec()).await.unwrap();
    assert_eq!(tracker.state(&issue).await.unwrap(), IssueState::Open);

    fake.close_issue(number(&issue));
    assert_eq!(tracker.state(&issue).await.unwrap(), IssueState::Closed);
    fake.reopen_issue(number(&issue));
    let states = tracker.states(std::slice::from_ref(&issue)).await.unwrap();
    assert_eq!(states, [("#1".to_owned(), IssueState::Open)]);
}

#[tokio::test]
async fn github_a_deleted_issue_is_gone() {
    let (fake, tracker) = github().await;
    let issue = tracker.ensure(&spec()).await.unwrap();
    fake.delete_issue(number(&issue));

    let error = tracker.state(&issue).await.unwrap_err();
    assert!(matches!(error, TrackerError::Gone(_)), "{error:?}");
    assert!(error.to_string().contains("410"), "{error}");
    let error = tracker.update(&issue, &spec()).await.unwrap_err();
    assert!(matches!(error, TrackerError::Gone(_)), "{error:?}");
    assert!(matches!(JobError::from(error), JobError::Permanent(_)));

    let never = TrackedIssue {
        key: "#99".into(),
        url: String::new(),
        api_id: "99".into(),
    };
    let error = tracker.state(&never).await.unwrap_err();
    assert!(matches!(error, TrackerError::Gone(_)), "{error:?}");
}

#[tokio::test]
async fn github_a_revoked_token_is_refused_for_good_without_showing_it() {
    let (fake, tracker) = github().await;
    fake.revoke_token();

    let error = tracker.ensure(&spec()).await.unwrap_err();

    assert!(matches!(error, TrackerError::Permanent(_)), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("401") && text.contains("Bad credentials"),
        "{text}"
    );
    assert!(text.contains("octo-org/postmortems"), "{text}");
    assert!(!text.contains(GITHUB_TOKEN), "{text}");
    assert_eq!(fake.calls().len(), 1, "a refusal is not retried");
    let job = JobError::from(error);
    assert!(!format!("{job:?}").contains(GITHUB_TOKEN));
}

#[tokio::test]
async fn github_a_rate_limit_is_waited_out_or_handed_back_when_too_long() {
    let (fake, tracker) = github().await;
    fake.rate_limit_next(429, 0);
    fake.rate_limit_next(403, 0);
    let issue = tracker.ensure(&spec()).await.unwrap();
    assert_eq!(fake.issues().len(), 1);
    let limited: Vec<u16> = fake.calls().iter().map(|c| c.status).collect();
    assert_eq!(&limited[..2], [429, 403], "{limited:?}");

    fake.primary_rate_limit_next(3600);
    let error = tracker.state(&issue).await.unwrap_err();
    assert!(matches!(error, TrackerError::Transient(_)), "{error:?}");
    assert!(error.to_string().contains("rate limited"), "{error}");
    assert!(matches!(JobError::from(error), JobError::Transient(_)));
}

#[tokio::test]
async fn github_enterprise_server_is_reached_under_api_v3() {
    let fake = FakeGithub::start().await;
    let tracker = github_client(&fake.enterprise_base(), GITHUB_TOKEN);

    let issue = tracker.ensure(&spec()).await.unwrap();
    assert_eq!(tracker.state(&issue).await.unwrap(), IssueState::Open);

    let calls = fake.calls();
    assert!(
        calls.iter().all(|c| c.path.starts_with("/api/v3/")),
        "{calls:#?}"
    );
    assert!(calls.iter().any(|c| c.path == "/api/v3/search/issues"));
    assert_eq!(fake.issues().len(), 1);
}

async fn jira() -> (FakeJira, Tracker) {
    let fake = FakeJira::start(JIRA_TOKEN).await;
    let tracker = jira_client(&fake);
    (fake, tracker)
}

fn jira_client(fake: &FakeJira) -> Tracker {
    let client = JiraIssues::new(
        fake.base_url().parse().unwrap(),
        ProjectKey::new(fake_jira::PROJECT).unwrap(),
        "Task",
        Secret::new(fake_jira::EMAIL),
        Secret::new(JIRA_TOKEN),
    )
    .expect("a valid client");
    Tracker::Jira(client)
}

#[tokio::test]
async fn jira_ensure_creates_one_issue_carrying_its_marker() {
    let (fake, tracker) = jira().await;

    let issue = tracker.ensure(&spec()).await.unwrap();
    assert_eq!(issue.key, "OPS-1");
    assert_eq!(issue.url, format!("{}/browse/OPS-1", fake.base_url()));
    assert_eq!(tracker.ensure(&spec()).await.unwrap(), issue);

    let issues = fake.issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    let fields = &issues[0]["fields"];
    assert_eq!(fields["summary"], "Alert on checkout queue depth");
    assert_eq!(fields["issuetype"]["name"], "Task");
    assert_eq!(fields["duedate"], "2024-06-01");
    assert_eq!(fields["assignee"]["accountId"], "samdoe");
    let paragraphs = fields["description"]["content"].as_array().unwrap();
    assert_eq!(paragraphs.last().unwrap()["content"][0]["text"], MARKER);

    let calls = fake.calls();
    let search = calls
        .iter()
        .find(|c| c.path == "/rest/api/3/search/jql")
        .unwrap();
    assert_eq!(
        search.body.as_ref().unwrap()["jql"],
        format!("project = OPS AND text ~ \"\\\"{MARKER}\\\"\"")
    );
    assert!(
        calls[0].auth.as_deref().unwrap().starts_with("Basic "),
        "{calls:#?}"
    );
    let creates: Vec<_> = calls
        .iter()
        .filter(|c| c.method == "POST" && c.path == "/rest/api/3/issue")
        .collect();
    assert_eq!(creates.len(), 1);
}

#[tokio::test]
async fn jira_a_create_whose_answer_was_lost_is_found_not_repeated() {
    let (fake, tracker) = jira().await;
    fake.lose_next_create_answers(1);

    let issue = tracker.ensure(&spec()).await.unwrap();

    assert_eq!(issue.key, "OPS-1");
    assert_eq!(fake.issues().len(), 1, "{:#?}", fake.calls());
}

#[tokio::test]
async fn jira_a_create_whose_connection_dropped_is_found_not_repeated() {
    let (fake, tracker) = jira().await;
    fake.drop_next_create_answers(1);

    let issue = tracker.ensure(&spec()).await.unwrap();

    assert_eq!(issue.key, "OPS-1");
    assert_eq!(fake.issues().len(), 1, "{:#?}", fake.calls());
}

#[tokio::test]
async fn jira_update_changes_summary_description_assignee_and_due_date() {
    let (fake, tracker) = jira().await;
    let issue = tracker.ensure(&spec()).await.unwrap();

    let changed = IssueSpec {
        title: "Alert on queue depth and age".into(),
        body: "Reworded.".into(),
        due: None,
        assignee: Some("5b10ac8d82e05b22cc7d4ef5".into()),
        ..spec()
    };
    tracker.update(&issue, &changed).await.unwrap();

    let fields = &fake.issues()[0]["fields"];
    assert_eq!(fields["summary"], "Alert on queue depth and age");
    assert_eq!(fields["duedate"], json!(null));
    assert_eq!(fields["assignee"]["accountId"], "5b10ac8d82e05b22cc7d4ef5");
    assert_eq!(
        fields["description"]["content"][0]["content"][0]["text"],
        "Reworded."
    );
    let put = fake
        .calls()
        .into_iter()
        .find(|c| c.method == "PUT")
        .unwrap();
    assert_eq!(put.path, format!("/rest/api/3/issue/{}", issue.api_id));
    assert_eq!(put.status, 204);
}

#[tokio::test]
async fn jira_state_follows_the_status_category() {
    let (fake, tracker) = jira().await;
    let issue = tracker.ensure(&spec()).await.unwrap();
    assert_eq!(tracker.state(&issue).await.unwrap(), IssueState::Open);

    fake.transition("OPS-1", "done");
    assert_eq!(tracker.state(&issue).await.unwrap(), IssueState::Closed);
    fake.transition("OPS-1", "indeterminate");
    assert_eq!(tracker.state(&issue).await.unwrap(), IssueState::Open);
    let read = fake
        .calls()
        .into_iter()
        .rfind(|c| c.method == "GET")
        .unwrap();
    assert_eq!(read.query["fields"], "status");
}

#[tokio::test]
async fn jira_a_deleted_issue_is_gone() {
    let (fake, tracker) = jira().await;
    let issue = tracker.ensure(&spec()).await.unwrap();
    fake.delete("OPS-1");

    let error = tracker.state(&issue).await.unwrap_err();
    assert!(matches!(error, TrackerError::Gone(_)), "{error:?}");
    assert!(
        error.to_string().contains("Issue does not exist"),
        "{error}"
    );
    let error = tracker.update(&issue, &spec()).await.unwrap_err();
    assert!(matches!(error, TrackerError::Gone(_)), "{error:?}");
}

#[tokio::test]
async fn jira_a_revoked_token_is_refused_for_good_without_showing_it() {
    let (fake, tracker) = jira().await;
    fake.revoke_token();

    let error = tracker.ensure(&spec()).await.unwrap_err();

    assert!(matches!(error, TrackerError::Permanent(_)), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("401") && text.contains("Jira OPS"), "{text}");
    assert!(
        !text.contains(JIRA_TOKEN) && !text.contains(fake_jira::EMAIL),
        "{text}"
    );
    assert_eq!(fake.calls().len(), 1, "a refusal is not retried");
}

#[tokio::test]
async fn jira_a_rate_limit_is_waited_out_or_handed_back_when_too_long() {
    let (fake, tracker) = jira().await;
    fake.rate_limit_next(0);
    let issue = tracker.ensure(&spec()).await.unwrap();
    assert_eq!(fake.calls()[0].status, 429);
    assert_eq!(fake.issues().len(), 1);

    fake.rate_limit_next(120);
    let error = tracker.state(&issue).await.unwrap_err();
    assert!(matches!(error, TrackerError::Transient(_)), "{error:?}");
    assert!(error.to_string().contains("retry after 120s"), "{error}");
}

#[test]
fn tracker_from_config_follows_followups_tracker() {
    use scribe::config::{Config, Secrets};
    let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let none = Config::load_from(None, Vec::new()).unwrap();
    assert!(matches!(
        Tracker::from_config(&none, &Secrets::default()),
        Ok(None)
    ));
    let pairs = [
        ("SCRIBE__FOLLOWUPS__TRACKER", "jira"),
        (
            "SCRIBE__FOLLOWUPS__JIRA__BASE_URL",
            "https://example.atlassian.net",
        ),
        ("SCRIBE__FOLLOWUPS__JIRA__PROJECT", "OPS"),
        ("JIRA_EMAIL", "scribe@example.com"),
        ("JIRA_API_TOKEN", JIRA_TOKEN),
    ];
    let config = Config::load_from(None, vars(&pairs)).unwrap();
    let secrets = Secrets::from_vars(vars(&pairs));
    let tracker = Tracker::from_config(&config, &secrets).unwrap().unwrap();
    assert!(matches!(tracker, Tracker::Jira(_)));
    assert!(!format!("{tracker:?}").contains(JIRA_TOKEN));
}
