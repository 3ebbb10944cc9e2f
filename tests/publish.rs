//! Publishing: drafts written to files and committed to a real git repository (a bare
//! repository the test creates), idempotently, with front matter.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Sandbox, stdout, success};

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A bare repository with one commit on `main`, as a team's postmortem repository.
fn remote(sandbox: &Sandbox) -> std::path::PathBuf {
    let bare = sandbox.path().join("remote.git");
    let seed = sandbox.path().join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    git(
        sandbox.path(),
        &["init", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    git(&seed, &["init", "-b", "main"]);
    std::fs::write(seed.join("README.md"), "# Postmortems\n").unwrap();
    git(&seed, &["add", "."]);
    git(
        &seed,
        &[
            "-c",
            "user.name=Seed",
            "-c",
            "user.email=seed@example.com",
            "commit",
            "-m",
            "Start",
        ],
    );
    git(&seed, &["push", bare.to_str().unwrap(), "main"]);
    bare
}

#[test]
fn scribe_publish_writes_the_file_and_pushes_one_commit_per_change() {
    let sandbox = Sandbox::new();
    let bare = remote(&sandbox);
    let out = success(&sandbox.run_with_input(
        &["console", "--as", "Robin"],
        "/incident start Checkout 5xx ../../etc --sev sev2\n/timeline rolled back\n/incident resolve\n/incident close\n",
    ));
    let id = out
        .split("`scribe publish ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no incident id in:\n{out}"))
        .to_string();
    let publish = || {
        sandbox
            .scribe()
            .env("SCRIBE__PUBLISH__TARGETS", "[\"files\", \"git\"]")
            .env("SCRIBE__PUBLISH__FILES__DIR", "published")
            .env(
                "SCRIBE__PUBLISH__GIT__REMOTE",
                format!("file://{}", bare.display()),
            )
            .args(["publish", &id])
            .output()
            .unwrap()
    };
    let first = publish();
    assert!(first.status.success(), "{}", common::stderr(&first));
    assert!(
        stdout(&first).contains("publish.git: done"),
        "{}",
        stdout(&first)
    );

    let date = chrono::Utc::now();
    let short = common::short_id(&id);
    let name = format!("{}-checkout-5xx-etc-{short}.md", date.format("%Y-%m-%d"));
    let file = sandbox
        .path()
        .join("published")
        .join(date.format("%Y").to_string())
        .join(&name);
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.starts_with("---\nincident: \"console:console:"),
        "{written}"
    );
    for field in [
        "title: \"Checkout 5xx ../../etc\"",
        "severity: \"sev2\"",
        "status: \"closed\"",
        "participants:\n  - \"Robin\"",
    ] {
        assert!(
            written.contains(field),
            "front matter lacks {field}:\n{written}"
        );
    }
    assert!(written.contains("# Incident: Checkout 5xx ../../etc"));

    let branch = format!(
        "postmortem/{}-checkout-5xx-etc-{short}",
        date.format("%Y-%m-%d")
    );
    let path = format!("postmortems/{}/{name}", date.format("%Y"));
    let bare_dir = bare.as_path();
    let pushed = git(bare_dir, &["show", &format!("{branch}:{path}")]);
    assert_eq!(pushed, written, "the same document in git");
    let log = |range: &str| git(bare_dir, &["log", "--format=%an <%ae>|%s", range]);
    let commits = log(&branch);
    assert_eq!(
        commits.lines().count(),
        2,
        "the seed commit and one postmortem commit:\n{commits}"
    );
    assert!(
        commits.starts_with("Scribe <scribe@localhost>|Postmortem: Checkout 5xx"),
        "{commits}"
    );

    // Publishing the same incident again changes nothing.
    let again = publish();
    assert!(again.status.success(), "{}", common::stderr(&again));
    assert_eq!(
        log(&branch),
        commits,
        "no commit when the content is the same"
    );
    assert_eq!(
        git(bare_dir, &["branch", "--list"]).lines().count(),
        2,
        "main and one postmortem branch"
    );

    // The console's status shows the publishing jobs.
    let status = success(&sandbox.run_with_input(&["console"], "/incident status\n"));
    assert!(
        status.contains("Jobs: publish.files done, publish.git done"),
        "{status}"
    );
}

#[test]
fn publishing_an_unknown_incident_or_without_targets_is_refused() {
    let sandbox = Sandbox::new();
    let unknown = sandbox.run(&["publish", "console:console:42"]);
    assert!(!unknown.status.success());
    assert!(
        common::stderr(&unknown).contains("no incident console:console:42"),
        "{}",
        common::stderr(&unknown)
    );
    let bad = sandbox.run(&["publish", "nonsense"]);
    assert!(!bad.status.success());
    assert!(
        common::stderr(&bad).contains("not an incident id"),
        "{}",
        common::stderr(&bad)
    );
}

/// The postmortem commits on `branch` of `bare`.
fn branch_commits(bare: &Path, branch: &str) -> Vec<String> {
    let output = Command::new("git")
        .args(["log", "--format=%s", branch])
        .current_dir(bare)
        .output()
        .unwrap();
    assert!(output.status.success(), "no branch {branch}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_slack_incident_is_pushed_and_gets_one_pull_request_through_an_outage_and_a_crash()
{
    use common::fake_github::{FakeGithub, REPOSITORY};
    use common::fake_slack::FakeSlack;
    use common::server::Server;
    use std::time::Duration;

    let slack = FakeSlack::start().await;
    let github = FakeGithub::start().await;
    let sandbox = Sandbox::new();
    let bare = remote(&sandbox);
    let remote_url = format!("file://{}", bare.display());
    let slack_api = slack.api_base();
    let github_api = github.api_base();
    let env = [
        ("SCRIBE__SLACK__API_BASE_URL", slack_api.as_str()),
        (
            "SCRIBE__PUBLISH__TARGETS",
            "[\"chat\", \"git\", \"github\"]",
        ),
        ("SCRIBE__PUBLISH__GIT__REMOTE", remote_url.as_str()),
        ("SCRIBE__PUBLISH__GITHUB__API_BASE_URL", github_api.as_str()),
        ("SCRIBE__PUBLISH__GITHUB__REPOSITORY", REPOSITORY),
        ("GITHUB_TOKEN", "ghp-test-token-4e1d"),
    ];
    let mut server = Server::start_with(&sandbox, &env);
    github.set_outage(true);
    server
        .command(
            "C0PAY",
            "U0ROBIN01",
            "/incident",
            "start Payments timeouts --sev sev2",
            "t.1",
        )
        .await;
    server
        .command(
            "C0PAY",
            "U0ROBIN01",
            "/timeline",
            "failed over to the standby PSP",
            "t.2",
        )
        .await;
    server
        .command("C0PAY", "U0ROBIN01", "/incident", "close", "t.3")
        .await;

    let incident = server.the_incident().await;
    let id = incident["id"].as_str().unwrap().to_string();
    let date = chrono::Utc::now().format("%Y-%m-%d");
    let branch = format!(
        "postmortem/{date}-payments-timeouts-{}",
        common::short_id(&id)
    );
    server.settled().await;
    let commits = branch_commits(&bare, &branch);
    assert_eq!(commits.len(), 2, "{commits:?}");

    // The pull request fails during the outage and waits for its retry; then the process dies.
    server
        .eventually(
            Duration::from_secs(20),
            "a failed pull request attempt",
            || async {
                let detail: serde_json::Value = server
                    .api(&format!("/api/incidents/{id}"))
                    .await
                    .json()
                    .await
                    .unwrap();
                detail["jobs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|j| j["kind"] == "publish.github" && !j["last_error"].is_null())
            },
        )
        .await;
    server.kill();
    github.set_outage(false);

    let server = Server::start_with(&sandbox, &env);
    server
        .eventually(
            Duration::from_secs(30),
            "the pull request after the restart",
            || async { github.pulls().len() == 1 },
        )
        .await;
    let pull = &github.pulls()[0];
    assert_eq!(pull["head"]["ref"], branch.as_str());
    assert_eq!(pull["base"]["ref"], "main");
    assert!(
        pull["body"].as_str().unwrap().contains("Payments timeouts"),
        "{pull}"
    );
    let url = pull["html_url"].as_str().unwrap().to_string();
    server
        .eventually(
            Duration::from_secs(20),
            "the pull request's link in the channel",
            || async {
                slack
                    .calls_to("chat.postMessage")
                    .iter()
                    .any(|c| c.params["text"].as_str().unwrap_or_default().contains(&url))
            },
        )
        .await;
    // The pull request puts the postmortem in review, in the incident and so in the file.
    server.settled().await;
    let incident = server.the_incident().await;
    assert_eq!(incident["postmortem"]["state"], "in_review", "{incident:#}");
    assert_eq!(incident["postmortem"]["pull_request"], url.as_str());
    server
        .command("C0PAY", "U0ROBIN01", "/incident", "draft --publish", "t.3b")
        .await;
    server.settled().await;
    let commits = branch_commits(&bare, &branch);
    assert_eq!(
        commits.len(),
        3,
        "the state's change is a change: {commits:?}"
    );

    // Publishing again updates the same branch and pull request.
    server
        .command("C0PAY", "U0ROBIN01", "/incident", "draft --publish", "t.4")
        .await;
    server.settled().await;
    let detail: serde_json::Value = server
        .api(&format!("/api/incidents/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let jobs = detail["jobs"].as_array().unwrap();
    let github_jobs = jobs.iter().filter(|j| j["kind"] == "publish.github");
    assert_eq!(github_jobs.count(), 3, "{jobs:#?}");
    assert!(jobs.iter().all(|j| j["state"] == "done"), "{jobs:#?}");
    assert_eq!(github.pulls().len(), 1, "one pull request, updated");
    assert_eq!(
        branch_commits(&bare, &branch),
        commits,
        "no new commit for the same content"
    );
    assert!(
        !server.log().contains("ghp-test-token-4e1d"),
        "the token never appears in logs"
    );
}

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn two_incidents_with_one_title_on_one_day_keep_their_own_file_and_branch() {
    use common::fake_slack::FakeSlack;
    use common::server::Server;

    let slack = FakeSlack::start().await;
    let sandbox = Sandbox::new();
    let bare = remote(&sandbox);
    let remote_url = format!("file://{}", bare.display());
    let slack_api = slack.api_base();
    let env = [
        ("SCRIBE__SLACK__API_BASE_URL", slack_api.as_str()),
        ("SCRIBE__PUBLISH__TARGETS", "[\"files\", \"git\"]"),
        ("SCRIBE__PUBLISH__GIT__REMOTE", remote_url.as_str()),
    ];
    let server = Server::start_with(&sandbox, &env);
    for channel in ["CA", "CB"] {
        let trigger = |n: u8| format!("{channel}.{n}");
        server
            .command(
                channel,
                "U0ROBIN01",
                "/incident",
                "start DB down",
                &trigger(1),
            )
            .await;
        let entry = format!("failed over in {channel}");
        server
            .command(channel, "U0ROBIN01", "/timeline", &entry, &trigger(2))
            .await;
        server
            .command(channel, "U0ROBIN01", "/incident", "close", &trigger(3))
            .await;
    }
    server.settled().await;

    let dir = sandbox.path().join("postmortems");
    let files = files_under(&dir);
    assert_eq!(files.len(), 2, "one file per incident: {files:?}");
    let read = |path: &Path| std::fs::read_to_string(dir.join(path)).unwrap();
    let mut branches = Vec::new();
    for channel in ["CA", "CB"] {
        let incident = server
            .incidents()
            .await
            .into_iter()
            .find(|i| i["channel"] == channel)
            .unwrap();
        let id = incident["id"].as_str().unwrap();
        let short = common::short_id(id);
        let own: Vec<_> = files
            .iter()
            .filter(|f| {
                f.to_string_lossy()
                    .ends_with(&format!("-db-down-{short}.md"))
            })
            .collect();
        assert_eq!(own.len(), 1, "the file of {id}: {files:?}");
        let content = read(own[0]);
        assert!(
            content.contains(&format!("incident: \"{id}\"")),
            "{content}"
        );
        assert!(
            content.contains(&format!("failed over in {channel}")),
            "{content}"
        );
        let other = if channel == "CA" { "CB" } else { "CA" };
        assert!(
            !content.contains(&format!("failed over in {other}")),
            "{content}"
        );

        let date = chrono::Utc::now();
        let branch = format!("postmortem/{}-db-down-{short}", date.format("%Y-%m-%d"));
        let path = format!(
            "postmortems/{}/{}",
            date.format("%Y"),
            own[0].file_name().unwrap().to_string_lossy()
        );
        let pushed = git(&bare, &["show", &format!("{branch}:{path}")]);
        assert_eq!(pushed, content, "the same document in git");
        branches.push(branch);
    }
    assert_ne!(branches[0], branches[1]);

    // Publishing one again rewrites its own file and leaves the other's alone.
    for file in &files {
        std::fs::write(dir.join(file), "stale\n").unwrap();
    }
    server
        .command("CA", "U0ROBIN01", "/incident", "draft --publish", "CA.4")
        .await;
    server.settled().await;
    let contents: Vec<String> = files.iter().map(|f| read(f)).collect();
    let rewritten: Vec<_> = contents
        .iter()
        .filter(|c| c.contains("failed over in CA"))
        .collect();
    assert_eq!(rewritten.len(), 1, "{contents:?}");
    assert_eq!(
        contents.iter().filter(|c| *c == "stale\n").count(),
        1,
        "{contents:?}"
    );
}
