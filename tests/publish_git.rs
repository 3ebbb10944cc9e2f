//! Publishing to git against real repositories: a bare repository in a tempdir is the remote,
//! and git itself checks what landed there.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use scribe::config::{BranchName, RelativePath};
use scribe::jobs::JobError;
use scribe::publish::git::{GitError, GitTarget};
use tempfile::TempDir;

const BRANCH: &str = "postmortem/2024-03-09-db";
const PATH: &str = "postmortems/2024/2024-03-09-db.md";

fn branch(name: &str) -> BranchName {
    BranchName::new(name).unwrap()
}

fn path(path: &str) -> RelativePath {
    RelativePath::new(path).unwrap()
}

/// git with no system or global config, so the developer's setup never matters.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Someone Else",
            "-c",
            "user.email=else@example.com",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgSign=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Remote {
    tmp: TempDir,
    bare: PathBuf,
    url: String,
}

impl Remote {
    /// An empty bare repository.
    fn empty() -> Remote {
        let tmp = tempfile::tempdir().unwrap();
        let bare = tmp.path().join("remote.git");
        git(tmp.path(), &["init", "-q", "--bare", "remote.git"]);
        let url = format!("file://{}", bare.display());
        Remote { tmp, bare, url }
    }

    /// A bare repository with one commit (a README) on `main`.
    fn seeded() -> Remote {
        let remote = Remote::empty();
        let seed = remote.clone_to("seed");
        std::fs::write(seed.join("README.md"), "# Postmortems\n").unwrap();
        git(&seed, &["add", "README.md"]);
        git(&seed, &["commit", "-q", "-m", "Initial commit"]);
        git(&seed, &["push", "-q", "origin", "HEAD:refs/heads/main"]);
        remote
    }

    fn clone_to(&self, name: &str) -> PathBuf {
        git(self.tmp.path(), &["clone", "-q", &self.url, name]);
        self.tmp.path().join(name)
    }

    /// git against the bare repository.
    fn git(&self, args: &[&str]) -> String {
        let mut all = vec!["--git-dir", self.bare.to_str().unwrap()];
        all.extend_from_slice(args);
        git(self.tmp.path(), &all)
    }

    fn show(&self, branch: &str, path: &str) -> String {
        self.git(&["show", &format!("{branch}:{path}")])
    }

    fn files(&self, branch: &str) -> Vec<String> {
        let list = self.git(&["ls-tree", "-r", "--name-only", branch]);
        list.lines().map(str::to_string).collect()
    }

    fn count(&self, branch: &str) -> usize {
        self.git(&["rev-list", "--count", branch]).parse().unwrap()
    }

    fn target(&self) -> GitTarget {
        GitTarget {
            remote: self.url.clone(),
            base_branch: branch("main"),
            author_name: "Scribe Bot".into(),
            author_email: "scribe@example.com".into(),
            workdir: self.tmp.path().join("work").join("clone"),
            token: None,
        }
    }
}

/// A hook in Scribe's clone that, once, pushes `other`'s branch to the remote right after
/// Scribe commits: the remote moves between Scribe's fetch and its push.
fn push_from_other_after_next_commit(target: &GitTarget, other: &Path) {
    let hook = target.workdir.join(".git/hooks/post-commit");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    let script = format!(
        "#!/bin/sh\nunset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE GIT_PREFIX\nrm -f \"$0\"\n\
         exec git -C '{}' push -q origin HEAD:refs/heads/{BRANCH} >/dev/null 2>&1\n",
        other.display()
    );
    std::fs::write(&hook, script).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn the_first_publish_creates_the_branch_with_the_file_and_the_author() {
    let remote = Remote::seeded();
    let main = remote.git(&["rev-parse", "main"]);
    let published = remote
        .target()
        .publish(
            &branch(BRANCH),
            &path(PATH),
            b"# DB outage\n",
            "Postmortem: DB outage",
        )
        .await
        .unwrap();
    assert!(published.changed);
    assert_eq!(published.commit, remote.git(&["rev-parse", BRANCH]));
    assert_eq!(remote.show(BRANCH, PATH), "# DB outage");
    assert_eq!(remote.files(BRANCH), ["README.md", PATH]);
    let who = remote.git(&["log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", BRANCH]);
    assert_eq!(
        who,
        "Scribe Bot <scribe@example.com>|Scribe Bot <scribe@example.com>|Postmortem: DB outage"
    );
    assert_eq!(remote.git(&["rev-parse", &format!("{BRANCH}^")]), main);
    assert_eq!(
        remote.git(&["rev-parse", "main"]),
        main,
        "main is untouched"
    );
}

#[tokio::test]
async fn the_same_content_makes_no_commit_and_new_content_exactly_one() {
    let remote = Remote::seeded();
    let target = remote.target();
    let first = target
        .publish(&branch(BRANCH), &path(PATH), b"v1\n", "v1")
        .await
        .unwrap();
    let again = target
        .publish(&branch(BRANCH), &path(PATH), b"v1\n", "v1")
        .await
        .unwrap();
    assert!(!again.changed);
    assert_eq!(again.commit, first.commit);
    assert_eq!(remote.count(BRANCH), 2);

    let second = target
        .publish(&branch(BRANCH), &path(PATH), b"v2\n", "v2")
        .await
        .unwrap();
    assert!(second.changed);
    assert_ne!(second.commit, first.commit);
    assert_eq!(remote.count(BRANCH), 3);
    assert_eq!(
        remote.git(&["rev-parse", &format!("{BRANCH}^")]),
        first.commit
    );
    assert_eq!(remote.show(BRANCH, PATH), "v2");

    // A fresh workdir (say, a new host) finds the branch and still makes no commit.
    let mut elsewhere = remote.target();
    elsewhere.workdir = remote.tmp.path().join("other-host");
    let third = elsewhere
        .publish(&branch(BRANCH), &path(PATH), b"v2\n", "v2")
        .await
        .unwrap();
    assert_eq!((third.commit, third.changed), (second.commit, false));
}

#[tokio::test]
async fn a_push_that_lost_a_race_is_rebased_and_pushed_again() {
    let remote = Remote::seeded();
    let target = remote.target();
    target
        .publish(&branch(BRANCH), &path(PATH), b"v1\n", "v1")
        .await
        .unwrap();

    let other = remote.clone_to("other");
    git(&other, &["checkout", "-q", BRANCH]);
    std::fs::write(other.join("notes.md"), "someone else's notes\n").unwrap();
    git(&other, &["add", "notes.md"]);
    git(&other, &["commit", "-q", "-m", "Add notes"]);
    let theirs = git(&other, &["rev-parse", "HEAD"]);
    push_from_other_after_next_commit(&target, &other);

    let published = target
        .publish(&branch(BRANCH), &path(PATH), b"v2\n", "v2")
        .await
        .unwrap();
    assert!(published.changed);
    assert_eq!(published.commit, remote.git(&["rev-parse", BRANCH]));
    assert_eq!(remote.git(&["rev-parse", &format!("{BRANCH}^")]), theirs);
    assert_eq!(remote.files(BRANCH), ["README.md", "notes.md", PATH]);
    assert_eq!(remote.show(BRANCH, PATH), "v2");
    assert_eq!(remote.show(BRANCH, "notes.md"), "someone else's notes");
}

#[tokio::test]
async fn a_conflict_in_our_file_is_settled_with_our_content() {
    let remote = Remote::seeded();
    let target = remote.target();
    target
        .publish(&branch(BRANCH), &path(PATH), b"v1\n", "v1")
        .await
        .unwrap();

    let other = remote.clone_to("other");
    git(&other, &["checkout", "-q", BRANCH]);
    std::fs::write(other.join(PATH), "their edit\n").unwrap();
    git(&other, &["commit", "-q", "-am", "Edit the draft"]);
    let theirs = git(&other, &["rev-parse", "HEAD"]);
    push_from_other_after_next_commit(&target, &other);

    let published = target
        .publish(&branch(BRANCH), &path(PATH), b"v2\n", "v2")
        .await
        .unwrap();
    assert!(published.changed);
    assert_eq!(remote.git(&["rev-parse", &format!("{BRANCH}^")]), theirs);
    assert_eq!(remote.show(BRANCH, PATH), "v2");
    assert_eq!(remote.count(BRANCH), 4);
}

#[tokio::test]
async fn a_crashed_runs_leftovers_never_leak_into_the_next_publish() {
    let remote = Remote::seeded();
    let target = remote.target();
    target
        .publish(&branch(BRANCH), &path(PATH), b"v1\n", "v1")
        .await
        .unwrap();

    let work = &target.workdir;
    git(work, &["checkout", "-q", "--detach", "HEAD^"]);
    std::fs::write(work.join("junk.txt"), "half-written\n").unwrap();
    std::fs::create_dir_all(work.join("postmortems/tmp")).unwrap();
    std::fs::write(work.join("postmortems/tmp/x.md"), "junk\n").unwrap();
    std::fs::write(work.join("README.md"), "tampered\n").unwrap();
    std::fs::write(work.join(".git/index.lock"), "").unwrap();

    let published = target
        .publish(&branch(BRANCH), &path(PATH), b"v2\n", "v2")
        .await
        .unwrap();
    assert!(published.changed);
    assert_eq!(remote.files(BRANCH), ["README.md", PATH]);
    assert_eq!(remote.show(BRANCH, "README.md"), "# Postmortems");
    assert_eq!(remote.count(BRANCH), 3);

    // Another branch starts from main, without the first branch's file.
    std::fs::write(work.join("junk.txt"), "again\n").unwrap();
    let other = target
        .publish(
            &branch("postmortem/other"),
            &path("postmortems/other.md"),
            b"o\n",
            "o",
        )
        .await
        .unwrap();
    assert!(other.changed);
    assert_eq!(
        remote.files("postmortem/other"),
        ["README.md", "postmortems/other.md"]
    );
}

#[tokio::test]
async fn an_empty_remote_gets_an_initial_commit_on_the_branch() {
    let remote = Remote::empty();
    let target = remote.target();
    let published = target
        .publish(&branch(BRANCH), &path(PATH), b"first\n", "first")
        .await
        .unwrap();
    assert!(published.changed);
    assert_eq!(remote.files(BRANCH), [PATH]);
    assert_eq!(remote.count(BRANCH), 1);
    let again = target
        .publish(&branch(BRANCH), &path(PATH), b"first\n", "first")
        .await
        .unwrap();
    assert_eq!((again.commit, again.changed), (published.commit, false));
}

#[test]
fn paths_that_could_leave_the_work_tree_cannot_be_published_to() {
    for bad in [
        "../escape.md",
        "a/../../escape.md",
        "/etc/passwd",
        ".git/config",
    ] {
        assert!(RelativePath::new(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn a_remote_that_does_not_exist_is_a_permanent_error() {
    let remote = Remote::seeded();
    let mut target = remote.target();
    target.remote = format!("file://{}/missing.git", remote.tmp.path().display());
    let error = target
        .publish(&branch(BRANCH), &path(PATH), b"x", "x")
        .await
        .unwrap_err();
    assert!(matches!(error, GitError::Command { .. }), "{error:?}");
    assert!(
        matches!(JobError::from(error), JobError::Permanent(_)),
        "retrying cannot make the remote exist"
    );
}

#[tokio::test]
async fn an_unreachable_https_remote_is_transient_and_never_shows_the_token() {
    let remote = Remote::seeded();
    let mut target = remote.target();
    target.remote = "https://127.0.0.1:1/team/postmortems.git".into();
    target.token = Some("tok-SECRET-42".into());
    let error = target
        .publish(&branch(BRANCH), &path(PATH), b"x", "x")
        .await
        .unwrap_err();
    assert!(!format!("{error} {error:?}").contains("tok-SECRET-42"));
    assert!(
        matches!(JobError::from(error), JobError::Transient(job) if !job.contains("tok-SECRET-42")),
        "worth another try, still without the token"
    );
    let mode = std::fs::metadata(target.workdir.join(".git/scribe-askpass.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let config = std::fs::read_to_string(target.workdir.join(".git/config")).unwrap();
    assert!(!config.contains("tok-SECRET-42"));
}

/// The token reaches the server as Basic credentials, through the askpass script.
#[tokio::test]
async fn the_token_is_sent_as_basic_credentials() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let (mut stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut auth = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.strip_prefix("Authorization: ") {
                    auth = Some(value.trim().to_string());
                }
            }
            let response = if auth.is_none() {
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            };
            stream.write_all(response.as_bytes()).unwrap();
            let _ = stream.read(&mut [0; 1]);
            seen.push(auth);
            if seen.last().unwrap().is_some() {
                break;
            }
        }
        seen
    });

    let remote = Remote::seeded();
    let mut target = remote.target();
    target.remote = format!("http://127.0.0.1:{port}/team/postmortems.git");
    target.token = Some("tok-SECRET-42".into());
    let error = target
        .publish(&branch(BRANCH), &path(PATH), b"x", "x")
        .await
        .unwrap_err();
    assert!(!format!("{error} {error:?}").contains("tok-SECRET-42"));
    let seen = server.join().unwrap();
    let expected = format!("Basic {}", base64("x-access-token:tok-SECRET-42"));
    assert_eq!(seen.last().unwrap().as_deref(), Some(expected.as_str()));
}

fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
