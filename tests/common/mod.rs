//! Helpers for end-to-end tests: the real `scribe` binary, run in a scratch directory.

#![allow(dead_code)] // Each test binary uses its own subset.

pub mod fake_discord;
pub mod fake_github;
pub mod fake_jira;
pub mod fake_llm;
pub mod fake_slack;
pub mod postgres;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// Every file under `dir`, however deep (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A `status` answer whose connection drops in the middle of its body, as when a proxy or the
/// network loses an answer after the server acted: the client cannot tell whether it did.
pub fn dropped_answer(status: u16) -> axum::response::Response {
    let body = futures_util::stream::iter([
        Ok(axum::body::Bytes::from_static(b"{\"id\":")),
        Err(std::io::Error::other("connection lost")),
    ]);
    axum::response::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(axum::body::Body::from_stream(body))
        .expect("a valid response")
}

/// The short id Scribe puts in the names of an incident's files and branches.
pub fn short_id(incident_id: &str) -> String {
    scribe::drafting::slug::short_id(&incident_id.parse().expect("an incident id"))
}

/// A scratch directory to run `scribe` in, so data and drafts land nowhere else.
pub struct Sandbox {
    pub dir: TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `scribe` with a clean environment: no `SCRIBE__*` or `RUST_LOG` from the caller.
    pub fn scribe(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scribe"));
        command.current_dir(self.path());
        for (key, _) in std::env::vars() {
            if key.starts_with("SCRIBE")
                || key.starts_with("SLACK_")
                || key.starts_with("GIT")
                || key == "RUST_LOG"
                || key == "DATABASE_URL"
            {
                command.env_remove(key);
            }
        }
        command
    }

    /// Runs `scribe args…` to completion with no input.
    pub fn run(&self, args: &[&str]) -> Output {
        self.scribe()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("scribe runs")
    }

    /// Runs `scribe args…` with `input` (text, or any bytes) on standard input.
    pub fn run_with_input(&self, args: &[&str], input: impl AsRef<[u8]>) -> Output {
        feed(self.scribe().args(args), input)
    }

    /// Every file under the sandbox, relative to it.
    pub fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    out.push(path.strip_prefix(root).unwrap().to_path_buf());
                }
            }
        }
        let mut out = Vec::new();
        walk(self.path(), self.path(), &mut out);
        out.sort();
        out
    }
}

/// Runs `command` to completion with `input` (text, or any bytes) on standard input.
pub fn feed(command: &mut Command, input: impl AsRef<[u8]>) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scribe starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_ref())
        .unwrap();
    child.wait_with_output().expect("scribe finishes")
}

/// A template directory in `sandbox` whose `postmortem.md.j2`, which replaces the built-in
/// one, fails to render: `no_such_field` on line 3.
pub fn broken_templates(sandbox: &Sandbox) -> PathBuf {
    let dir = sandbox.path().join("templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("postmortem.md.j2"),
        "# {{ title }}\n\n{{ no_such_field }}\n",
    )
    .unwrap();
    dir
}

/// A copy of the shared chat-export fixtures, kept in the repository.
pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 output")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails with scribe's own words when it did not succeed.
pub fn success(output: &Output) -> String {
    assert!(
        output.status.success(),
        "scribe failed ({}):\n{}",
        output.status,
        stderr(output)
    );
    stdout(output)
}
