//! Commit a draft to a branch of a remote repository with the `git` CLI.
//!
//! Scribe keeps its own clone in [`GitTarget::workdir`] and treats it as disposable state: every
//! publish fetches, resets the branch to exactly what the remote has (or to the base branch),
//! writes the one file and commits only when it changed. So publishing is idempotent, a crashed
//! run leaves nothing behind that the next one could pick up, and a push that lost a race with
//! someone else is rebased and retried.
//!
//! The `git` CLI rather than a library: it speaks every transport and credential scheme the
//! operators already use. Each command runs with a config that ignores the machine's system and
//! global files, never prompts, has a deadline, and never sees the token in its argv or URL (the
//! token reaches git through `GIT_ASKPASS` and an environment variable, and is redacted from
//! everything Scribe logs or returns).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::config::{BranchName, RelativePath};
use crate::jobs::JobError;

/// How long one git command may run: long enough for a slow fetch, short enough that a hung
/// connection fails the job (which is retried) instead of blocking the worker.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// How many times a push that lost a race is rebased and tried again before giving up.
const PUSH_RETRIES: usize = 3;

/// The env var the askpass script reads the token from (set on the command, never in argv).
const TOKEN_ENV: &str = "SCRIBE_GIT_TOKEN";

/// Where the askpass script lives: inside `.git`, so `git clean` never removes it and it is
/// never committed.
const ASKPASS: &str = "scribe-askpass.sh";

/// Git asks for a username, then a password; GitHub-style token auth takes any username.
const ASKPASS_SCRIPT: &str = "#!/bin/sh\n\
case \"$1\" in\n\
  Username*|username*) printf '%s\\n' x-access-token ;;\n\
  *) printf '%s\\n' \"$SCRIBE_GIT_TOKEN\" ;;\n\
esac\n";

/// Inherited `GIT_*` variables that may stay: how to reach an ssh remote is the operator's
/// business. Every other `GIT_*` variable (`GIT_DIR`, `GIT_CONFIG_PARAMETERS`, `GIT_INDEX_FILE`,
/// tracing, ...) could point git at another repository or config, so it is removed.
const KEPT_GIT_ENV: &[&str] = &["GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT"];

/// A repository and branch to publish drafts to.
#[derive(Clone)]
pub struct GitTarget {
    /// The remote's URL (`https://`, `ssh://`, `git@host:path`, `file://` or a path).
    pub remote: String,
    /// Where a new branch starts from.
    pub base_branch: BranchName,
    pub author_name: String,
    pub author_email: String,
    /// Scribe's own clone lives here; nothing else should write to it.
    pub workdir: PathBuf,
    /// For https remotes: sent as the password (username `x-access-token`), never in a URL.
    pub token: Option<String>,
}

/// The token stays out of debug output.
impl std::fmt::Debug for GitTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitTarget")
            .field("remote", &redact_url(&self.remote))
            .field("base_branch", &self.base_branch)
            .field("author_name", &self.author_name)
            .field("author_email", &self.author_email)
            .field("workdir", &self.workdir)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// What a publish left on the remote branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The branch's head after the publish.
    pub commit: String,
    /// Whether a commit was made (false when the branch already had this content).
    pub changed: bool,
}

/// Why a publish failed. Messages never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// A git command exited unsuccessfully; `stderr` is redacted.
    #[error("git {args} failed ({status}): {stderr}")]
    Command {
        args: String,
        status: String,
        stderr: String,
    },
    /// A git command ran past its deadline and was killed.
    #[error("git {0} timed out after {COMMAND_TIMEOUT:?}")]
    Timeout(String),
    /// The push kept losing races with other pushes to the branch.
    #[error("push rejected: {0}")]
    Rejected(String),
    /// A path through a symlink, or onto a directory.
    #[error("refusing {0}")]
    BadPath(String),
    #[error("git I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Timeouts, lost push races and network trouble are worth another try later; a bad path, a
/// repository that does not exist, refused credentials or a push declined by the server
/// (protected branch, hook) are not: retrying cannot fix them. An unrecognised command failure
/// counts as transient, because publishing is idempotent (a retry is harmless) and the job
/// worker caps the attempts.
impl From<GitError> for JobError {
    fn from(error: GitError) -> Self {
        if error.is_transient() {
            JobError::Transient(error.to_string())
        } else {
            JobError::Permanent(error.to_string())
        }
    }
}

impl GitError {
    fn is_transient(&self) -> bool {
        match self {
            GitError::Timeout(_) | GitError::Rejected(_) => true,
            GitError::BadPath(_) => false,
            // No git binary, or a workdir Scribe may not write: configuration, not luck.
            GitError::Io(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::InvalidInput
            ),
            GitError::Command { stderr, .. } => {
                let stderr = stderr.to_ascii_lowercase();
                let has = |needles: &[&str]| needles.iter().any(|n| stderr.contains(n));
                // The repository is not there: checked first, since git adds a generic
                // "could not read from remote repository" to it.
                if has(&[
                    "does not appear to be a git repository",
                    "repository not found",
                    "not found",
                    "error: 404",
                    "returned error: 404",
                ]) && !has(&["could not resolve host"])
                {
                    return false;
                }
                if has(&[
                    "could not resolve host",
                    "could not resolve hostname",
                    "temporary failure in name resolution",
                    "connection refused",
                    "connection reset",
                    "connection timed out",
                    "operation timed out",
                    "timed out",
                    "network is unreachable",
                    "no route to host",
                    "couldn't connect",
                    "failed to connect",
                    "the remote end hung up unexpectedly",
                    "early eof",
                    "rpc failed",
                    "error: 500",
                    "error: 502",
                    "error: 503",
                    "error: 504",
                    "returned error: 5",
                    "ssl_read",
                    "gnutls",
                    "unable to create",
                    "index.lock",
                    "cannot lock ref",
                ]) {
                    return true;
                }
                !has(&[
                    "authentication failed",
                    "could not read username",
                    "could not read password",
                    "invalid username or password",
                    "permission denied",
                    "returned error: 401",
                    "returned error: 403",
                    "error: 403",
                    "protected branch",
                    "hook declined",
                    "not a valid",
                    "invalid refspec",
                    "is not a valid branch name",
                ])
            }
        }
    }
}

/// Serialises publishes that share a workdir within this process: two at once would trample
/// each other's checkout.
fn workdir_lock(workdir: &Path) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    locks.entry(workdir.to_path_buf()).or_default().clone()
}

/// Where a branch starts.
enum Start {
    /// The remote already has the branch: continue it.
    Remote(String),
    /// A new branch off the base branch.
    Base(String),
    /// The remote has neither (an empty repository): an orphan branch.
    Empty,
}

impl GitTarget {
    /// Write `content` to `path` on `branch` and push it, committing only if it changed.
    pub async fn publish(
        &self,
        branch: &BranchName,
        path: &RelativePath,
        content: &[u8],
        message: &str,
    ) -> Result<Published, GitError> {
        let (branch, path) = (branch.as_str(), path.as_str());
        let lock = workdir_lock(&self.workdir);
        let _guard = lock.lock().await;

        // A HOME of our own, so a developer's ~/.gitconfig, credential store or XDG config
        // never matters.
        let home = tempfile::Builder::new()
            .prefix("scribe-git-home")
            .tempdir()?;
        let git = Git::new(self, home.path());
        tracing::info!(remote = %redact_url(&self.remote), branch, path, "publishing to git");

        self.prepare(&git).await?;
        git.fetch().await?;
        let start = self.start_point(&git, branch).await?;
        git.reset_to(branch, &start).await?;
        let mut changed = git.write_and_commit(path, content, message).await?;

        for attempt in 0..=PUSH_RETRIES {
            let head = git.head().await?;
            if git.remote_branch(branch).await?.as_deref() == Some(head.as_str()) {
                tracing::info!(commit = %head, changed, "remote branch already up to date");
                return Ok(Published {
                    commit: head,
                    changed,
                });
            }
            let why = match git.push(branch).await? {
                None => {
                    tracing::info!(commit = %head, changed, branch, "pushed");
                    return Ok(Published {
                        commit: head,
                        changed,
                    });
                }
                Some(why) => why,
            };
            if attempt == PUSH_RETRIES {
                return Err(GitError::Rejected(format!(
                    "{branch}: still rejected after {PUSH_RETRIES} retries: {why}"
                )));
            }
            tracing::info!(attempt, branch, "push lost a race; fetching and rebasing");
            git.fetch().await?;
            let Some(theirs) = git.remote_branch(branch).await? else {
                // The branch vanished meanwhile: pushing ours recreates it.
                continue;
            };
            if changed {
                if !git.rebase(&theirs).await? {
                    tracing::info!(path, "rebase conflicted; re-applying our content");
                    git.reset_to(branch, &Start::Remote(theirs.clone())).await?;
                    git.write_and_commit(path, content, message).await?;
                }
            } else {
                // Nothing of ours but the branch itself: re-apply on top of theirs.
                git.reset_to(branch, &Start::Remote(theirs.clone())).await?;
                git.write_and_commit(path, content, message).await?;
            }
            // Our commit may have become empty on top of theirs (same content pushed twice).
            changed = git.head().await? != theirs;
        }
        unreachable!("the last attempt returns")
    }

    /// Make `workdir` a repository whose `origin` is our remote, clear what a crashed run may
    /// have left (a lock file, a rebase in progress), and install the askpass script.
    async fn prepare(&self, git: &Git) -> Result<(), GitError> {
        let dot_git = self.workdir.join(".git");
        if !tokio::fs::try_exists(&dot_git).await? {
            // `init` + `fetch` rather than `clone`: works in a non-empty directory (a clone
            // that crashed half-way) and needs no separate code path for an empty remote.
            tracing::info!(workdir = %self.workdir.display(), "creating Scribe's clone");
            tokio::fs::create_dir_all(&self.workdir).await?;
            git.run(&["init", "-q"]).await?;
        } else {
            // We hold the workdir lock, so a lock file is a crashed git's leftover.
            remove_if_exists(&dot_git.join("index.lock")).await?;
            for state in ["rebase-merge", "rebase-apply"] {
                if tokio::fs::try_exists(dot_git.join(state)).await? {
                    tracing::debug!(state, "aborting a rebase left by a crashed run");
                    if git.output(&["rebase", "--abort"]).await?.status.success() {
                        continue;
                    }
                    let dir = dot_git.join(state);
                    if tokio::fs::try_exists(&dir).await? {
                        tokio::fs::remove_dir_all(&dir).await?;
                    }
                }
            }
        }
        git.run(&["config", "remote.origin.url", &self.remote])
            .await?;
        git.run(&[
            "config",
            "--replace-all",
            "remote.origin.fetch",
            "+refs/heads/*:refs/remotes/origin/*",
        ])
        .await?;
        if self.token.is_some() {
            write_askpass(&dot_git.join(ASKPASS)).await?;
        }
        Ok(())
    }

    async fn start_point(&self, git: &Git, branch: &str) -> Result<Start, GitError> {
        if let Some(sha) = git.remote_branch(branch).await? {
            tracing::debug!(branch, %sha, "continuing the remote branch");
            return Ok(Start::Remote(sha));
        }
        if let Some(sha) = git.remote_branch(self.base_branch.as_str()).await? {
            tracing::debug!(branch, base = %self.base_branch, %sha, "new branch off the base");
            return Ok(Start::Base(sha));
        }
        tracing::debug!(
            branch,
            "the remote has no base branch: starting an orphan branch"
        );
        Ok(Start::Empty)
    }
}

/// Runs git in the workdir with a clean, non-interactive environment.
struct Git {
    dir: PathBuf,
    home: PathBuf,
    /// `-c` settings for every command: identity, no signing, no credential helpers.
    config: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// Strings that must never appear in logs or errors.
    secrets: Vec<String>,
}

/// A finished command; `stdout` and `stderr` already redacted.
struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Git {
    fn new(target: &GitTarget, home: &Path) -> Self {
        let config = vec![
            format!("user.name={}", target.author_name),
            format!("user.email={}", target.author_email),
            "commit.gpgSign=false".to_string(),
            "core.autocrlf=false".to_string(),
            "core.safecrlf=false".to_string(),
            "init.defaultBranch=main".to_string(),
            "advice.detachedHead=false".to_string(),
            "gc.autoDetach=false".to_string(),
            // Reset the helper list: only the askpass script supplies credentials.
            "credential.helper=".to_string(),
        ];
        let mut env = vec![
            ("GIT_TERMINAL_PROMPT", "0".to_string()),
            ("GIT_CONFIG_NOSYSTEM", "1".to_string()),
            ("GIT_CONFIG_GLOBAL", "/dev/null".to_string()),
            ("HOME", home.display().to_string()),
            ("XDG_CONFIG_HOME", home.display().to_string()),
            ("GIT_AUTHOR_NAME", target.author_name.clone()),
            ("GIT_AUTHOR_EMAIL", target.author_email.clone()),
            ("GIT_COMMITTER_NAME", target.author_name.clone()),
            ("GIT_COMMITTER_EMAIL", target.author_email.clone()),
            ("GIT_EDITOR", "true".to_string()),
            ("GIT_SEQUENCE_EDITOR", "true".to_string()),
            ("GIT_MERGE_AUTOEDIT", "no".to_string()),
            // Stable, English messages: rejections are recognised by their text.
            ("LC_ALL", "C".to_string()),
            ("LANG", "C".to_string()),
        ];
        let mut secrets = Vec::new();
        if let Some(token) = target.token.as_deref().filter(|t| !t.is_empty()) {
            secrets.push(token.to_string());
            if is_http(&target.remote) {
                let askpass = target.workdir.join(".git").join(ASKPASS);
                env.push(("GIT_ASKPASS", askpass.display().to_string()));
                env.push((TOKEN_ENV, token.to_string()));
            }
        }
        if let Ok(url) = url::Url::parse(&target.remote)
            && let Some(password) = url.password()
        {
            secrets.push(password.to_string());
        }
        Git {
            dir: target.workdir.clone(),
            home: home.to_path_buf(),
            config,
            env,
            secrets,
        }
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.secrets {
            text = text.replace(secret.as_str(), "<redacted>");
        }
        text
    }

    fn describe(&self, args: &[&str]) -> String {
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains("://") {
                    redact_url(a)
                } else {
                    (*a).to_string()
                }
            })
            .collect();
        self.redact(&shown.join(" "))
    }

    /// Run and wait; a non-zero exit is returned, not an error.
    async fn output(&self, args: &[&str]) -> Result<Output, GitError> {
        let described = self.describe(args);
        tracing::debug!(args = %described, "git");
        let mut command = std::process::Command::new("git");
        for setting in &self.config {
            command.arg("-c").arg(setting);
        }
        command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars_os() {
            if let Some(name) = name.to_str()
                && name.starts_with("GIT_")
                && !KEPT_GIT_ENV.contains(&name)
            {
                command.env_remove(name);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        debug_assert!(self.home.is_dir());
        let (status, stdout, stderr) =
            run_with_deadline(command, COMMAND_TIMEOUT)
                .await
                .map_err(|e| match e {
                    RunError::Timeout => GitError::Timeout(described.clone()),
                    RunError::Io(e) => GitError::Io(e),
                })?;
        Ok(Output {
            status,
            stdout: self.redact(&String::from_utf8_lossy(&stdout)),
            stderr: self.redact(&String::from_utf8_lossy(&stderr)),
        })
    }

    /// Run and require success; returns trimmed stdout.
    async fn run(&self, args: &[&str]) -> Result<String, GitError> {
        let out = self.output(args).await?;
        if out.status.success() {
            Ok(out.stdout.trim().to_string())
        } else {
            Err(GitError::Command {
                args: self.describe(args),
                status: out.status.to_string(),
                stderr: out.stderr.trim().to_string(),
            })
        }
    }

    async fn fetch(&self) -> Result<(), GitError> {
        tracing::debug!("fetching origin");
        self.run(&["fetch", "--prune", "--no-tags", "origin"])
            .await
            .map(drop)
    }

    async fn head(&self) -> Result<String, GitError> {
        self.run(&["rev-parse", "--verify", "HEAD^{commit}"]).await
    }

    /// The remote's head of `branch` as of the last fetch, if it has one.
    async fn remote_branch(&self, branch: &str) -> Result<Option<String>, GitError> {
        let spec = format!("refs/remotes/origin/{branch}^{{commit}}");
        let out = self
            .output(&["rev-parse", "--verify", "--quiet", &spec])
            .await?;
        let sha = out.stdout.trim();
        Ok((out.status.success() && !sha.is_empty()).then(|| sha.to_string()))
    }

    /// Check out `branch` at exactly `start`, whatever state the work tree was in.
    async fn reset_to(&self, branch: &str, start: &Start) -> Result<(), GitError> {
        let local = format!("refs/heads/{branch}");
        match start {
            Start::Remote(sha) | Start::Base(sha) => {
                self.run(&["checkout", "-q", "-f", "-B", branch, sha])
                    .await?;
                self.run(&["reset", "-q", "--hard", sha]).await?;
            }
            Start::Empty => {
                // An unborn branch with an empty index: `checkout --orphan` would refuse if a
                // crashed run left the branch behind.
                self.run(&["symbolic-ref", "HEAD", &local]).await?;
                self.run(&["update-ref", "-d", &local]).await?;
                self.run(&["read-tree", "--empty"]).await?;
            }
        }
        // -ff: also nested repositories; -x: ignored files too.
        self.run(&["clean", "-q", "-ffdx"]).await.map(drop)
    }

    /// Write the file, stage it, and commit if that changed anything. Returns whether it did.
    async fn write_and_commit(
        &self,
        path: &str,
        content: &[u8],
        message: &str,
    ) -> Result<bool, GitError> {
        write_inside(&self.dir, path, content).await?;
        // -f: a .gitignore in the repository must not silently drop the draft.
        self.run(&["add", "-f", "--", path]).await?;
        let status = self
            .run(&["status", "--porcelain", "--untracked-files=all"])
            .await?;
        if status.is_empty() {
            tracing::debug!(path, "content unchanged; no commit");
            return Ok(false);
        }
        let message = if message.trim().is_empty() {
            format!("Update {path}")
        } else {
            message.to_string()
        };
        self.run(&["commit", "-q", "--no-verify", "-m", &message])
            .await?;
        tracing::debug!(path, "committed");
        Ok(true)
    }

    /// Push the branch. `Ok(Some(reason))` when the push lost a race (non-fast-forward, or the
    /// remote ref moved while we pushed); other failures are errors.
    async fn push(&self, branch: &str) -> Result<Option<String>, GitError> {
        let refspec = format!("refs/heads/{branch}:refs/heads/{branch}");
        let args = ["push", "--porcelain", "origin", refspec.as_str()];
        let out = self.output(&args).await?;
        if out.status.success() {
            return Ok(None);
        }
        let both = format!("{}\n{}", out.stdout, out.stderr);
        let raced = [
            "[rejected]",
            "non-fast-forward",
            "fetch first",
            "stale info",
            "cannot lock ref",
            "failed to update ref",
            "incorrect old value",
        ]
        .iter()
        .any(|needle| both.contains(needle));
        if raced {
            Ok(Some(
                both.lines()
                    .map(str::trim)
                    .find(|l| l.starts_with('!') || l.contains("rejected"))
                    .unwrap_or("non-fast-forward")
                    .to_string(),
            ))
        } else {
            Err(GitError::Command {
                args: self.describe(&args),
                status: out.status.to_string(),
                stderr: both.trim().to_string(),
            })
        }
    }

    /// Rebase our commit onto `onto`; false (and the rebase aborted) on a conflict.
    async fn rebase(&self, onto: &str) -> Result<bool, GitError> {
        let out = self.output(&["rebase", "-q", onto]).await?;
        if out.status.success() {
            return Ok(true);
        }
        tracing::debug!(stderr = %out.stderr.trim(), "rebase failed");
        let _ = self.output(&["rebase", "--abort"]).await?;
        Ok(false)
    }
}

enum RunError {
    Timeout,
    Io(std::io::Error),
}

/// Run a command to completion or until `deadline`, collecting its output. The child is killed
/// when the deadline passes or the publish is dropped (cancelled) mid-command.
async fn run_with_deadline(
    command: std::process::Command,
    deadline: Duration,
) -> Result<(ExitStatus, Vec<u8>, Vec<u8>), RunError> {
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let child = command.spawn().map_err(RunError::Io)?;
    match tokio::time::timeout(deadline, child.wait_with_output()).await {
        Ok(Ok(output)) => Ok((output.status, output.stdout, output.stderr)),
        Ok(Err(error)) => Err(RunError::Io(error)),
        Err(_) => Err(RunError::Timeout),
    }
}

fn is_http(remote: &str) -> bool {
    let lower = remote.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// The remote as it may be logged: without a password in its user info.
fn redact_url(remote: &str) -> String {
    match url::Url::parse(remote) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("redacted"));
            url.to_string()
        }
        _ => remote.to_string(),
    }
}

/// Write `path` under `root`, refusing to follow a symlink the repository may contain (it
/// could point anywhere on the machine).
async fn write_inside(root: &Path, path: &str, content: &[u8]) -> Result<(), GitError> {
    let target = root.join(path);
    let mut prefix = root.to_path_buf();
    let parts: Vec<_> = Path::new(path).components().collect();
    for (i, part) in parts.iter().enumerate() {
        prefix.push(part);
        let Ok(meta) = tokio::fs::symlink_metadata(&prefix).await else {
            break;
        };
        let last = i + 1 == parts.len();
        if meta.file_type().is_symlink() {
            if last {
                tokio::fs::remove_file(&prefix).await?;
            } else {
                return Err(GitError::BadPath(format!(
                    "path `{path}` (goes through a symlink)"
                )));
            }
        } else if last && meta.is_dir() {
            return Err(GitError::BadPath(format!("path `{path}` (is a directory)")));
        } else if !last && !meta.is_dir() {
            // A file where a directory should be: the draft replaces it.
            tokio::fs::remove_file(&prefix).await?;
            break;
        }
    }
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    tokio::fs::write(&target, content).await?;
    Ok(())
}

async fn remove_if_exists(path: &Path) -> Result<(), GitError> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// Mode 0700: only Scribe's user may run (or change) what git executes to get the token.
async fn write_askpass(path: &Path) -> Result<(), GitError> {
    use std::os::unix::fs::PermissionsExt;
    if tokio::fs::read(path).await.ok().as_deref() != Some(ASKPASS_SCRIPT.as_bytes()) {
        tokio::fs::write(path, ASKPASS_SCRIPT).await?;
    }
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_shows() {
        let target = GitTarget {
            remote: "https://user:hunter2@example.com/r.git".into(),
            base_branch: BranchName::new("main").unwrap(),
            author_name: "Scribe".into(),
            author_email: "scribe@example.com".into(),
            workdir: "/tmp/nowhere".into(),
            token: Some("tok-123".into()),
        };
        let shown = format!("{target:?}");
        assert!(
            !shown.contains("tok-123") && !shown.contains("hunter2"),
            "{shown}"
        );
        let git = Git::new(&target, Path::new("/tmp"));
        assert_eq!(
            git.redact("x tok-123 y hunter2"),
            "x <redacted> y <redacted>"
        );
        assert!(
            !git.describe(&["config", "remote.origin.url", &target.remote])
                .contains("hunter2")
        );
    }

    #[test]
    fn errors_are_sorted_into_transient_and_permanent() {
        let command = |stderr: &str| GitError::Command {
            args: "fetch".into(),
            status: "exit status: 128".into(),
            stderr: stderr.into(),
        };
        assert!(!command("fatal: '/x' does not appear to be a git repository\nfatal: Could not read from remote repository.").is_transient());
        assert!(
            !command("remote: Repository not found.\nfatal: repository 'https://h/x/' not found")
                .is_transient()
        );
        assert!(!command("fatal: Authentication failed for 'https://h/x/'").is_transient());
        assert!(
            command("fatal: unable to access 'https://h/x/': Could not resolve host: h")
                .is_transient()
        );
        assert!(command("ssh: connect to host h port 22: Connection refused\nfatal: Could not read from remote repository.").is_transient());
        assert!(command("error: RPC failed; HTTP 502").is_transient());
        assert!(GitError::Timeout("fetch".into()).is_transient());
        assert!(GitError::Rejected("x".into()).is_transient());
        assert!(!GitError::BadPath("x".into()).is_transient());
    }
}
