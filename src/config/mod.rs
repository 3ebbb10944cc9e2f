//! Configuration: the embedded defaults (`config/scribe.toml`), an optional file over them, and
//! `SCRIBE__SECTION__KEY` environment variables over both (`DATABASE_URL` is read too, below
//! `SCRIBE__DATABASE__URL`). Values are parsed at load into the types their users need, and
//! the keys that depend on each other (or on a secret) are checked together: a configuration
//! that loads is one Scribe can run with, and one that does not names every problem.

mod load;
mod value;

use std::fmt;
use std::num::{NonZeroU64, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;

use crate::domain::Settings;

pub use load::{ConfigError, Problem, check};
pub use value::{
    ApplicationId, BranchName, BranchPattern, DatabaseUrl, Interval, Invalid, LogFilter,
    PathPattern, ProjectKey, QuietHours, RedactPattern, RelativePath, Repository, interval_or_off,
};

/// The defaults, documented in the file itself.
pub const DEFAULTS: &str = include_str!("../../config/scribe.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub team: TeamConfig,
    pub timeline: TimelineConfig,
    pub drafting: DraftingConfig,
    pub server: ServerConfig,
    pub slack: SlackConfig,
    pub discord: DiscordConfig,
    pub publish: PublishConfig,
    pub web: WebConfig,
    pub search: SearchConfig,
    pub retention: RetentionConfig,
    pub performance: PerformanceConfig,
    pub postmortem: PostmortemConfig,
    pub reminders: RemindersConfig,
    pub followups: FollowupsConfig,
    pub assist: AssistConfig,
    /// Chat display name → tracker login (a GitHub login or a Jira accountId), for assignees.
    #[serde(default)]
    pub people: std::collections::BTreeMap<String, String>,
    pub log: LogConfig,
}

/// The issue tracker that follow-up actions become issues in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackerKind {
    None,
    Github,
    Jira,
}

/// When an action becomes an issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreateWhen {
    /// When its incident closes: actions still change while it is open.
    OnClose,
    Immediately,
}

/// The language model of `/incident assist`; off unless `base_url` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistConfig {
    /// The OpenAI-compatible API root (`…/v1/`); checked at load like the trackers' roots.
    #[serde(default, deserialize_with = "value::unset_if_empty")]
    pub base_url: Option<url::Url>,
    pub model: String,
    pub timeout: Interval,
    pub max_input_tokens: NonZeroUsize,
    pub include_messages: bool,
    pub redact: Vec<value::RedactPattern>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowupsConfig {
    pub tracker: TrackerKind,
    pub create: CreateWhen,
    /// How often the issues' states are read; `None`: only webhooks tell.
    #[serde(deserialize_with = "value::interval_or_off")]
    pub poll_every: Option<Interval>,
    pub github: TrackerGithubConfig,
    pub jira: TrackerJiraConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerGithubConfig {
    pub api_base_url: url::Url,
    /// Set whenever the tracker is GitHub (checked at load).
    #[serde(default, deserialize_with = "value::unset_if_empty")]
    pub repository: Option<Repository>,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerJiraConfig {
    /// `https://yourteam.atlassian.net`; set whenever the tracker is Jira (checked at load).
    #[serde(default, deserialize_with = "value::unset_if_empty")]
    pub base_url: Option<url::Url>,
    /// Set whenever the tracker is Jira (checked at load).
    #[serde(default, deserialize_with = "value::unset_if_empty")]
    pub project: Option<ProjectKey>,
    pub issue_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostmortemConfig {
    /// After the close, unless a date was given (`"0"`: at the close).
    #[serde(deserialize_with = "value::interval_or_off")]
    pub due_after: Option<Interval>,
}

/// When each reminder is due; `None` (`"0"`) turns one off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemindersConfig {
    #[serde(deserialize_with = "value::interval_or_off")]
    pub no_lead: Option<Interval>,
    #[serde(deserialize_with = "value::interval_or_off")]
    pub no_severity: Option<Interval>,
    #[serde(deserialize_with = "value::interval_or_off")]
    pub no_update: Option<Interval>,
    #[serde(deserialize_with = "value::interval_or_off")]
    pub not_closed: Option<Interval>,
    #[serde(deserialize_with = "value::interval_or_off")]
    pub postmortem_due: Option<Interval>,
    #[serde(deserialize_with = "value::interval_or_off")]
    pub postmortem_overdue: Option<Interval>,
    #[serde(deserialize_with = "value::interval_or_off")]
    pub overdue_every: Option<Interval>,
    #[serde(deserialize_with = "value::interval_or_off")]
    pub action_due: Option<Interval>,
    pub quiet_hours: value::QuietHours,
}

/// The web workspace that `scribe serve` serves on its own port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    pub enabled: bool,
    /// The address people open; unset: `http://<server.listen>`.
    #[serde(default, deserialize_with = "value::unset_if_empty")]
    pub public_url: Option<url::Url>,
    /// How long a web session lasts.
    pub session_hours: value::SessionHours,
}

/// What full-text search indexes, and whether a start lists incidents like it.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// Index every message of an incident, not only its timeline and story.
    pub messages: bool,
    pub similar_on_start: bool,
}

/// What is deleted, and when: the messages no incident holds.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// How long a message posted while no incident is open waits for a start; `None`: forever.
    #[serde(deserialize_with = "value::interval_or_off")]
    pub before_incident: Option<Interval>,
    /// How often `serve` deletes what waited too long.
    pub every: Interval,
    /// How long a deleted event's key is kept, so that a redelivery of it changes nothing.
    pub keys_for: Interval,
}

/// What `serve` may keep in memory.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerformanceConfig {
    /// The folds of the channels spoken in most recently, together, at most (estimated).
    pub fold_cache_mb: value::FoldCacheMb,
}

/// Where drafts are published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Chat,
    Files,
    Git,
    Github,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishConfig {
    pub targets: Vec<Target>,
    pub files: FilesConfig,
    pub git: GitConfig,
    pub github: GithubConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    pub dir: PathBuf,
    pub path: PathPattern,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitConfig {
    /// Set whenever the git or GitHub target is (checked at load).
    #[serde(default, deserialize_with = "value::unset_if_empty")]
    pub remote: Option<String>,
    pub base_branch: BranchName,
    pub branch: BranchPattern,
    pub path: PathPattern,
    pub author_name: String,
    pub author_email: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    pub api_base_url: url::Url,
    /// Set whenever the GitHub target is (checked at load).
    #[serde(default, deserialize_with = "value::unset_if_empty")]
    pub repository: Option<Repository>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: std::net::SocketAddr,
    pub max_body_bytes: NonZeroUsize,
    /// A connection that has not sent a request's headers within this time is closed.
    pub header_read_timeout_secs: NonZeroU64,
    /// A request whose body has not fully arrived within this time is refused.
    pub body_read_timeout_secs: NonZeroU64,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: NonZeroUsize,
    /// Request bodies read into memory at once (each up to `max_body_bytes`); more wait.
    pub max_buffered_bodies: NonZeroUsize,
    /// How long a stopping server gives requests and the job in progress before it closes
    /// what is left.
    pub shutdown_grace_secs: NonZeroU64,
}

impl ServerConfig {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs.get())
    }

    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_secs.get())
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs.get())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    pub api_base_url: url::Url,
    pub create_channel: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    pub api_base_url: url::Url,
    /// Servers whose slash commands are registered directly (available at once); empty: the
    /// commands are registered globally.
    #[serde(deserialize_with = "value::guild_ids")]
    pub guild_ids: Vec<u64>,
    /// For `scribe discord-invite`; unset: the one the bot token begins with.
    #[serde(default, deserialize_with = "value::application_id")]
    pub application_id: Option<ApplicationId>,
}

/// A value that must never be shown: `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Secrets come from the environment only, never from a configuration file.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    pub slack_signing_secret: Option<Secret>,
    pub slack_bot_token: Option<Secret>,
    pub slack_app_token: Option<Secret>,
    pub api_token: Option<Secret>,
    pub git_token: Option<Secret>,
    pub github_token: Option<Secret>,
    pub discord_token: Option<Secret>,
    /// The Atlassian account the Jira API token belongs to.
    pub jira_email: Option<Secret>,
    pub jira_api_token: Option<Secret>,
    /// Signs GitHub's webhook deliveries (`X-Hub-Signature-256`).
    pub github_webhook_secret: Option<Secret>,
    /// The shared secret in the URL Jira's webhook calls.
    pub jira_webhook_secret: Option<Secret>,
    /// The language model server's key (`[assist]`); a local server needs none.
    pub assist_api_key: Option<Secret>,
}

impl Secrets {
    pub fn from_env() -> Self {
        Self::from_vars(std::env::vars())
    }

    /// The secrets among `vars` (the environment, or a test's stand-in for it); an empty
    /// value counts as unset.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars: std::collections::HashMap<String, String> = vars.into_iter().collect();
        let var = |name: &str| {
            vars.get(name)
                .filter(|v| !v.is_empty())
                .map(|v| Secret(v.clone()))
        };
        Secrets {
            slack_signing_secret: var("SLACK_SIGNING_SECRET"),
            slack_bot_token: var("SLACK_BOT_TOKEN"),
            slack_app_token: var("SLACK_APP_TOKEN"),
            api_token: var("SCRIBE_API_TOKEN"),
            git_token: var("GIT_TOKEN"),
            github_token: var("GITHUB_TOKEN"),
            discord_token: var("DISCORD_TOKEN"),
            jira_email: var("JIRA_EMAIL"),
            jira_api_token: var("JIRA_API_TOKEN"),
            github_webhook_secret: var("GITHUB_WEBHOOK_SECRET"),
            jira_webhook_secret: var("JIRA_WEBHOOK_SECRET"),
            assist_api_key: var("SCRIBE_ASSIST_API_KEY"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    #[serde(default, deserialize_with = "value::unset_if_empty")]
    pub url: Option<DatabaseUrl>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    pub timezone: Tz,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineConfig {
    pub pin_emojis: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftingConfig {
    pub template: String,
    #[serde(default, deserialize_with = "value::unset_if_empty")]
    pub template_dir: Option<PathBuf>,
    pub output_dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub level: LogFilter,
}

impl Config {
    /// The defaults, then `file` if given (it must exist), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// The defaults, then `file` if given, then `vars` as if they were the environment:
    /// `SCRIBE__SECTION__KEY` (values read as TOML-like values: `true`, `8080`, `["a"]`), and
    /// the conventional `DATABASE_URL` below `SCRIBE__DATABASE__URL`. The secrets the targets
    /// need are looked for in `vars` too, as [`Secrets::from_vars`] reads them.
    pub fn load_from(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        load::load(file, vars.into_iter().collect())
    }

    /// The configured database, else `scribe.db` in the data directory.
    /// Where the web workspace is reached, without a trailing `/`.
    pub fn public_url(&self) -> String {
        match &self.web.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_string(),
            None => format!("http://{}", self.server.listen),
        }
    }

    pub fn database_url(&self) -> DatabaseUrl {
        self.database
            .url
            .clone()
            .unwrap_or_else(|| DatabaseUrl::sqlite(&self.data_dir.join("scribe.db")))
    }

    /// The user's template directory, when one is configured.
    pub fn template_dir(&self) -> Option<&Path> {
        self.drafting.template_dir.as_deref()
    }

    /// How long after the close a postmortem is due (`"0"`: at the close).
    pub fn postmortem_due_after(&self) -> chrono::Duration {
        self.postmortem
            .due_after
            .map(Interval::span)
            .unwrap_or_default()
    }

    /// When each reminder is due, in the team's zone.
    pub fn reminder_rules(&self) -> crate::domain::reminders::Rules {
        let r = &self.reminders;
        crate::domain::reminders::Rules {
            no_lead: r.no_lead.map(Interval::span),
            no_severity: r.no_severity.map(Interval::span),
            no_update: r.no_update.map(Interval::span),
            not_closed: r.not_closed.map(Interval::span),
            postmortem_due: r.postmortem_due.map(Interval::span),
            postmortem_overdue: r.postmortem_overdue.map(Interval::span),
            overdue_every: r.overdue_every.map(Interval::span),
            action_due: r.action_due.map(Interval::span),
            quiet_hours: r.quiet_hours.get(),
            zone: self.team.timezone,
        }
    }

    /// What the fold needs to know about the team.
    pub fn settings(&self) -> Settings {
        Settings {
            pin_emojis: self.timeline.pin_emojis.clone(),
            team_zone: self.team.timezone,
            postmortem_due_after: self.postmortem_due_after(),
            assist: self.assist.base_url.is_some(),
            waits_for_start: self.retention.before_incident.map(Interval::span),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn problems(file: Option<&str>, pairs: &[(&str, &str)]) -> Vec<Problem> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scribe.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let file = file.map(|_| path.as_path());
        match Config::load_from(file, vars(pairs)) {
            Ok(_) => Vec::new(),
            Err(error) => error.problems,
        }
    }

    /// The one problem there is, which must be about `key`.
    fn the_problem(file: Option<&str>, pairs: &[(&str, &str)], key: &str) -> Problem {
        let mut found = problems(file, pairs);
        assert_eq!(found.len(), 1, "{found:#?}");
        let problem = found.pop().unwrap();
        assert_eq!(problem.key, key, "{problem}");
        assert!(problem.to_string().contains(key), "{problem}");
        problem
    }

    const GITHUB: &[(&str, &str)] = &[
        ("SCRIBE__PUBLISH__TARGETS", r#"["git", "github"]"#),
        (
            "SCRIBE__PUBLISH__GIT__REMOTE",
            "git@github.com:octo-org/postmortems.git",
        ),
        (
            "SCRIBE__PUBLISH__GITHUB__REPOSITORY",
            "octo-org/postmortems",
        ),
        ("GITHUB_TOKEN", "ghp_test"),
    ];

    /// `GITHUB` with `name` left out.
    fn github_without(name: &str) -> Vec<(&'static str, &'static str)> {
        GITHUB.iter().copied().filter(|(n, _)| *n != name).collect()
    }

    #[test]
    fn the_defaults_load() {
        let config = Config::load_from(None, Vec::new()).unwrap();
        assert_eq!(config.database_url().expose(), "sqlite://data/scribe.db");
        assert_eq!(config.template_dir(), None);
        assert_eq!(config.publish.git.remote, None);
        assert_eq!(config.publish.github.repository, None);
        assert!(config.discord.guild_ids.is_empty());
    }

    #[test]
    fn the_environment_overrides_the_defaults_and_its_own_database_url_wins() {
        let config = Config::load_from(
            None,
            vars(&[
                ("SCRIBE__DATABASE__URL", "postgres://scribe@db/scribe"),
                ("DATABASE_URL", "postgres://other@db/other"),
                ("SCRIBE__PUBLISH__TARGETS", r#"["files", "git"]"#),
                (
                    "SCRIBE__PUBLISH__GIT__REMOTE",
                    "file:///srv/postmortems.git",
                ),
                ("SCRIBE__SERVER__MAX_BODY_BYTES", "2048"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.database_url().expose(),
            "postgres://scribe@db/scribe"
        );
        assert_eq!(config.publish.targets, [Target::Files, Target::Git]);
        assert_eq!(config.server.max_body_bytes.get(), 2048);
        let conventional =
            Config::load_from(None, vars(&[("DATABASE_URL", "postgres://u@h/d")])).unwrap();
        assert_eq!(conventional.database_url().expose(), "postgres://u@h/d");
        let unknown = the_problem(None, &[("SCRIBE__SERVER__NOPE", "1")], "server.nope");
        assert_eq!(unknown.source, "environment variable SCRIBE__SERVER__NOPE");
    }

    #[test]
    fn empty_values_are_unset() {
        let config = Config::load_from(
            None,
            vars(&[
                ("SCRIBE__DATABASE__URL", ""),
                ("SCRIBE__DRAFTING__TEMPLATE_DIR", ""),
                ("SCRIBE__PUBLISH__GIT__REMOTE", ""),
                ("SCRIBE__PUBLISH__GITHUB__REPOSITORY", ""),
            ]),
        )
        .unwrap();
        assert_eq!(config.database.url, None);
        assert_eq!(config.template_dir(), None);
        assert_eq!(config.publish.git.remote, None);
        let set = Config::load_from(None, vars(&[("SCRIBE__DRAFTING__TEMPLATE_DIR", "mine")]));
        assert_eq!(set.unwrap().template_dir(), Some(Path::new("mine")));
    }

    #[test]
    fn a_web_session_lasts_an_hour_to_a_year() {
        for hours in ["0", "8785", "99999999999999"] {
            let problem = the_problem(
                None,
                &[("SCRIBE__WEB__SESSION_HOURS", hours)],
                "web.session_hours",
            );
            assert!(problem.reason.contains("hours"), "{problem}");
        }
        assert!(problems(None, &[("SCRIBE__WEB__SESSION_HOURS", "8784")]).is_empty());
    }

    #[test]
    fn a_zero_body_limit_is_refused() {
        let problem = the_problem(
            Some("[server]\nmax_body_bytes = 0\n"),
            &[],
            "server.max_body_bytes",
        );
        assert!(problem.source.ends_with("scribe.toml"), "{problem}");
    }

    #[test]
    fn a_database_scribe_cannot_open_is_refused_without_showing_its_password() {
        let problem = the_problem(
            None,
            &[("DATABASE_URL", "mysql://scribe:hunter2@db/scribe")],
            "database.url",
        );
        assert_eq!(problem.source, "environment variable DATABASE_URL");
        assert!(problem.reason.contains("mysql"), "{problem}");
        assert!(!problem.to_string().contains("hunter2"), "{problem}");
    }

    #[test]
    fn a_path_pattern_that_leaves_its_directory_is_refused() {
        the_problem(
            Some("[publish.files]\npath = \"../../etc/{slug}.md\"\n"),
            &[],
            "publish.files.path",
        );
        the_problem(
            None,
            &[("SCRIBE__PUBLISH__GIT__PATH", "/etc/{slug}.md")],
            "publish.git.path",
        );
    }

    #[test]
    fn branch_patterns_and_the_base_branch_follow_gits_rules() {
        the_problem(
            None,
            &[("SCRIBE__PUBLISH__GIT__BRANCH", "postmortem/{slug}.lock")],
            "publish.git.branch",
        );
        the_problem(
            None,
            &[("SCRIBE__PUBLISH__GIT__BASE_BRANCH", "main branch")],
            "publish.git.base_branch",
        );
    }

    #[test]
    fn a_bad_repository_is_refused() {
        the_problem(
            None,
            &[(
                "SCRIBE__PUBLISH__GITHUB__REPOSITORY",
                "octo-org/postmortems/x",
            )],
            "publish.github.repository",
        );
    }

    #[test]
    fn a_log_filter_tracing_cannot_read_is_refused() {
        the_problem(None, &[("SCRIBE__LOG__LEVEL", "nonsense[[[")], "log.level");
    }

    #[test]
    fn the_application_id_is_a_number_its_digits_or_unset() {
        let id = |vars_: &[(&str, &str)]| {
            Config::load_from(None, vars(vars_))
                .unwrap()
                .discord
                .application_id
                .map(ApplicationId::get)
        };
        assert_eq!(id(&[]), None);
        assert_eq!(id(&[("SCRIBE__DISCORD__APPLICATION_ID", "")]), None);
        assert_eq!(
            id(&[("SCRIBE__DISCORD__APPLICATION_ID", "1155550123456789012")]),
            Some(1_155_550_123_456_789_012)
        );
        for bad in ["0", "-5", "12x", "x"] {
            the_problem(
                None,
                &[("SCRIBE__DISCORD__APPLICATION_ID", bad)],
                "discord.application_id",
            );
        }
        the_problem(
            Some("[discord]\napplication_id = 1.5\n"),
            &[],
            "discord.application_id",
        );
    }

    #[test]
    fn guild_ids_are_one_id_a_list_or_an_array() {
        for (text, ids) in [
            ("300", vec![300]),
            ("123,456", vec![123, 456]),
            (" 123 , 456 ", vec![123, 456]),
            ("[123,456]", vec![123, 456]),
            ("1071005879500931073", vec![1_071_005_879_500_931_073]),
            ("", vec![]),
        ] {
            let config =
                Config::load_from(None, vars(&[("SCRIBE__DISCORD__GUILD_IDS", text)])).unwrap();
            assert_eq!(config.discord.guild_ids, ids, "{text:?}");
        }
        let file = Config::load_from(None, Vec::new());
        assert!(file.unwrap().discord.guild_ids.is_empty());
        the_problem(
            None,
            &[("SCRIBE__DISCORD__GUILD_IDS", "123,abc")],
            "discord.guild_ids",
        );
        the_problem(
            Some("[discord]\nguild_ids = [1, \"x\"]\n"),
            &[],
            "discord.guild_ids",
        );
    }

    #[test]
    fn the_github_target_loads_with_everything_it_needs() {
        let config = Config::load_from(None, vars(GITHUB)).unwrap();
        let repository = config.publish.github.repository.unwrap();
        assert_eq!(repository.owner(), "octo-org");
    }

    #[test]
    fn the_github_target_needs_the_git_target() {
        let mut pairs = github_without("SCRIBE__PUBLISH__TARGETS");
        pairs.push(("SCRIBE__PUBLISH__TARGETS", r#"["github"]"#));
        let problem = the_problem(None, &pairs, "publish.targets");
        assert!(problem.reason.contains("\"git\""), "{problem}");
        assert_eq!(
            problem.source,
            "environment variable SCRIBE__PUBLISH__TARGETS"
        );
    }

    #[test]
    fn the_git_and_github_targets_need_a_remote() {
        let problem = the_problem(
            None,
            &github_without("SCRIBE__PUBLISH__GIT__REMOTE"),
            "publish.targets",
        );
        assert!(problem.reason.contains("publish.git.remote"), "{problem}");
        let problem = the_problem(
            Some("[publish]\ntargets = [\"git\"]\n"),
            &[],
            "publish.targets",
        );
        assert!(problem.reason.contains("publish.git.remote"), "{problem}");
        assert!(problem.source.ends_with("scribe.toml"), "{problem}");
    }

    #[test]
    fn the_github_target_needs_a_repository() {
        let problem = the_problem(
            None,
            &github_without("SCRIBE__PUBLISH__GITHUB__REPOSITORY"),
            "publish.targets",
        );
        assert!(
            problem.reason.contains("publish.github.repository"),
            "{problem}"
        );
    }

    #[test]
    fn the_github_target_needs_its_token_and_the_chat_target_none() {
        let problem = the_problem(None, &github_without("GITHUB_TOKEN"), "publish.targets");
        assert!(problem.reason.contains("GITHUB_TOKEN"), "{problem}");
        let mut empty = github_without("GITHUB_TOKEN");
        empty.push(("GITHUB_TOKEN", ""));
        the_problem(None, &empty, "publish.targets");
        let chat = vars(&[("SCRIBE__PUBLISH__TARGETS", r#"["chat"]"#)]);
        assert!(Config::load_from(None, chat).is_ok());
    }

    const JIRA: &[(&str, &str)] = &[
        ("SCRIBE__FOLLOWUPS__TRACKER", "jira"),
        (
            "SCRIBE__FOLLOWUPS__JIRA__BASE_URL",
            "https://example.atlassian.net",
        ),
        ("SCRIBE__FOLLOWUPS__JIRA__PROJECT", "OPS"),
        ("JIRA_EMAIL", "scribe@example.com"),
        ("JIRA_API_TOKEN", "jira-token"),
    ];

    #[test]
    fn assist_is_off_by_default_and_its_bad_values_are_each_named() {
        let config = Config::load_from(None, vars(&[])).unwrap();
        assert!(config.assist.base_url.is_none());
        assert!(!config.settings().assist);
        assert_eq!(config.assist.timeout, Interval::new("60s").unwrap());
        let on = Config::load_from(
            None,
            vars(&[
                ("SCRIBE__ASSIST__BASE_URL", "http://127.0.0.1:11434/v1/"),
                ("SCRIBE__ASSIST__REDACT", "[\"cust-[0-9]+\"]"),
            ]),
        )
        .unwrap();
        assert!(on.settings().assist);
        assert_eq!(on.assist.redact.len(), 1);
        let found = problems(
            Some(
                "[assist]\nbase_url = \"http://llm.example.com/v1/\"\nredact = [\"(open\"]\ntimeout = \"soon\"\nmax_input_tokens = 0\n",
            ),
            &[],
        );
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "assist.timeout",
            "assist.max_input_tokens",
            "assist.base_url",
        ] {
            assert!(keys.contains(&key), "{key}: {found:#?}");
        }
        assert!(
            keys.iter().any(|k| k.starts_with("assist.redact")),
            "{found:#?}"
        );
        let secrets = Secrets::from_vars(vars(&[("SCRIBE_ASSIST_API_KEY", "sk-local")]));
        assert_eq!(format!("{:?}", secrets.assist_api_key), "Some(Secret(***))");
    }

    #[test]
    fn followups_default_to_no_tracker_polling_every_ten_minutes() {
        let config = Config::load_from(None, Vec::new()).unwrap();
        let followups = &config.followups;
        assert_eq!(followups.tracker, TrackerKind::None);
        assert_eq!(followups.create, CreateWhen::OnClose);
        assert_eq!(followups.poll_every, Some(Interval::new("10m").unwrap()));
        assert_eq!(followups.github.labels, ["postmortem-action"]);
        assert_eq!(followups.jira.issue_type, "Task");
        assert!(config.people.is_empty());
        for off in ["0", "\"0\""] {
            let file = format!("[followups]\npoll_every = {off}\n");
            assert!(problems(Some(&file), &[]).is_empty(), "{off}");
        }
        let env = vars(&[("SCRIBE__FOLLOWUPS__POLL_EVERY", "0")]);
        assert_eq!(
            Config::load_from(None, env).unwrap().followups.poll_every,
            None
        );
    }

    #[test]
    fn a_tracker_scribe_does_not_know_is_refused() {
        let problem = the_problem(
            None,
            &[("SCRIBE__FOLLOWUPS__TRACKER", "linear")],
            "followups.tracker",
        );
        assert!(problem.reason.contains("linear"), "{problem}");
        the_problem(
            Some("[followups]\ncreate = \"later\"\n"),
            &[],
            "followups.create",
        );
    }

    #[test]
    fn a_bad_polling_interval_is_refused() {
        for bad in ["10x", "10", "1y"] {
            let problem = the_problem(
                None,
                &[("SCRIBE__FOLLOWUPS__POLL_EVERY", bad)],
                "followups.poll_every",
            );
            assert!(problem.reason.contains(bad), "{problem}");
        }
    }

    #[test]
    fn the_github_tracker_needs_a_repository_and_its_token() {
        let config = Config::load_from(
            None,
            vars(&[
                ("SCRIBE__FOLLOWUPS__TRACKER", "github"),
                ("SCRIBE__FOLLOWUPS__GITHUB__REPOSITORY", "octo-org/ops"),
                ("GITHUB_TOKEN", "ghp_test"),
            ]),
        )
        .unwrap();
        assert_eq!(config.followups.tracker, TrackerKind::Github);
        let found = problems(None, &[("SCRIBE__FOLLOWUPS__TRACKER", "github")]);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found.iter().all(|p| p.key == "followups.tracker"));
        assert!(found[0].reason.contains("followups.github.repository"));
        assert!(found[1].reason.contains("GITHUB_TOKEN"));
        let plain = the_problem(
            None,
            &[
                ("SCRIBE__FOLLOWUPS__TRACKER", "github"),
                ("SCRIBE__FOLLOWUPS__GITHUB__REPOSITORY", "octo-org/ops"),
                (
                    "SCRIBE__FOLLOWUPS__GITHUB__API_BASE_URL",
                    "http://ghe.example.com/",
                ),
                ("GITHUB_TOKEN", "ghp_test"),
            ],
            "followups.github.api_base_url",
        );
        assert!(plain.reason.contains("https"), "{plain}");
    }

    #[test]
    fn the_jira_tracker_needs_a_site_a_project_and_its_credentials() {
        let config = Config::load_from(None, vars(JIRA)).unwrap();
        assert_eq!(config.followups.jira.project.unwrap().as_str(), "OPS");
        for (missing, named) in [
            (
                "SCRIBE__FOLLOWUPS__JIRA__BASE_URL",
                "followups.jira.base_url",
            ),
            ("SCRIBE__FOLLOWUPS__JIRA__PROJECT", "followups.jira.project"),
            ("JIRA_EMAIL", "JIRA_EMAIL"),
            ("JIRA_API_TOKEN", "JIRA_API_TOKEN"),
        ] {
            let pairs: Vec<_> = JIRA
                .iter()
                .copied()
                .filter(|(n, _)| *n != missing)
                .collect();
            let problem = the_problem(None, &pairs, "followups.tracker");
            assert!(problem.reason.contains(named), "{problem}");
        }
        let mut lower = JIRA.to_vec();
        lower.push(("SCRIBE__FOLLOWUPS__JIRA__PROJECT", "ops"));
        let found = problems(None, &lower);
        assert_eq!(found[0].key, "followups.jira.project", "{found:#?}");
        assert!(found[0].reason.contains("uppercase"), "{found:#?}");
    }

    #[test]
    fn people_are_a_table_of_logins() {
        let file = "[people]\n\"Sam Doe\" = \"samdoe\"\n";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scribe.toml");
        std::fs::write(&path, file).unwrap();
        let config = Config::load_from(Some(&path), Vec::new()).unwrap();
        assert_eq!(config.people["Sam Doe"], "samdoe");
        the_problem(Some("[people]\nSam = 3\n"), &[], "people.Sam");
    }

    #[test]
    fn every_problem_is_listed_with_its_source_and_key() {
        let file = "[server]\nmax_body_bytes = 0\nlisten = \"nowhere\"\n\
                    [team]\ntimezon = \"UTC\"\n\
                    [publish]\ntargets = [\"github\"]\n\
                    [publish.files]\npath = \"../../etc/{slug}.md\"\n\
                    [log]\nlevel = \"nonsense[[[\"\n";
        let found = problems(
            Some(file),
            &[
                ("SCRIBE__DATABASE__URL", "mysql://db/scribe"),
                // The section's other key, from another layer, must not hide the file's.
                ("SCRIBE__TEAM__TIMEZONE", "Europe/Berlin"),
            ],
        );
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        for key in [
            "server.max_body_bytes",
            "server.listen",
            "team.timezon",
            "publish.files.path",
            "log.level",
            "database.url",
            "publish.targets",
        ] {
            assert!(keys.contains(&key), "{key} in {found:#?}");
        }
        for problem in &found {
            let from_env = problem.key == "database.url";
            assert_eq!(
                problem.source.ends_with("scribe.toml"),
                !from_env,
                "{problem}"
            );
        }
        let targets: Vec<&Problem> = found
            .iter()
            .filter(|p| p.key == "publish.targets")
            .collect();
        assert_eq!(
            targets.len(),
            4,
            "git, remote, repository, token: {targets:#?}"
        );
    }

    #[test]
    fn a_file_that_is_not_toml_is_named() {
        let found = problems(Some("[server\nlisten = 1\n"), &[]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].source.ends_with("scribe.toml"), "{}", found[0]);
        assert!(found[0].reason.contains("line 1"), "{}", found[0]);
        let missing = Config::load_from(Some(Path::new("/nonexistent/scribe.toml")), Vec::new());
        let error = missing.unwrap_err().to_string();
        assert!(error.contains("/nonexistent/scribe.toml"), "{error}");
    }

    #[test]
    fn check_names_the_templates_problems_too_even_beside_the_configurations() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("postmortem.md.j2"), "{{ titel }}\n").unwrap();
        let lines = check(
            None,
            vars(&[
                (
                    "SCRIBE__DRAFTING__TEMPLATE_DIR",
                    dir.path().to_str().unwrap(),
                ),
                ("SCRIBE__SERVER__MAX_BODY_BYTES", "0"),
            ]),
        );
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(lines[0].contains("server.max_body_bytes"), "{lines:#?}");
        assert!(lines[1].contains("titel"), "{lines:#?}");
        assert!(check(None, Vec::new()).is_empty());
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let secrets = Secrets {
            slack_signing_secret: Some(Secret("8f742231b10e8888abcd99yyyzzz85a5".into())),
            slack_bot_token: Some(Secret("xoxb-123".into())),
            ..Secrets::default()
        };
        let shown = format!("{secrets:?}");
        assert!(
            !shown.contains("8f742231") && !shown.contains("xoxb"),
            "{shown}"
        );
    }

    #[test]
    fn passwords_never_show_in_debug_output() {
        let config = Config::load_from(
            None,
            vars(&[("DATABASE_URL", "postgres://scribe:hunter2@db:5432/scribe")]),
        )
        .unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://scribe:***@db:5432/scribe"),
            "{shown}"
        );
    }
}
