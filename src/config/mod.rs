//! Configuration: the embedded defaults (`config/scribe.toml`), an optional file over them, and
//! `SCRIBE__SECTION__KEY` environment variables over both (`DATABASE_URL` is read too, below
//! `SCRIBE__DATABASE__URL`). Values are parsed at load into the types their users need, and
//! the keys that depend on each other (or on a secret) are checked together: a configuration
//! that loads is one Scribe can run with, and one that does not names every problem.

mod value;

use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;

use crate::domain::Settings;

pub use value::{
    BranchName, BranchPattern, DatabaseUrl, Invalid, LogFilter, PathPattern, RelativePath,
    Repository,
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
    pub log: LogConfig,
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

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

impl Config {
    /// The defaults, then `file` if given (it must exist), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// The defaults, then `file` if given, then `vars` as if they were the environment:
    /// `SCRIBE__SECTION__KEY` (values read as TOML-like values: `true`, `8080`, `["a"]`), and
    /// the conventional `DATABASE_URL` below `SCRIBE__DATABASE__URL`.
    pub fn load_from(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        let mut vars: Vec<(String, String)> = vars.into_iter().collect();
        // The conventional variable first, so that Scribe's own wins.
        vars.sort_by_key(|(key, _)| key != "DATABASE_URL");
        for (key, value) in vars {
            let path = if key == "DATABASE_URL" {
                "database.url".to_string()
            } else if let Some(rest) = key.strip_prefix("SCRIBE__") {
                rest.split("__")
                    .map(str::to_ascii_lowercase)
                    .collect::<Vec<_>>()
                    .join(".")
            } else {
                continue;
            };
            if path.split('.').any(str::is_empty) {
                continue;
            }
            let value: figment::value::Value = value.parse().expect("infallible");
            figment = figment.merge(figment::providers::Serialized::default(&path, value));
        }
        figment.extract().map_err(|e| ConfigError(Box::new(e)))
    }

    /// The configured database, else `scribe.db` in the data directory.
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

    /// What the fold needs to know about the team.
    pub fn settings(&self) -> Settings {
        Settings {
            pin_emojis: self.timeline.pin_emojis.clone(),
            team_zone: self.team.timezone,
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

    #[test]
    fn the_environment_overrides_the_defaults_and_its_own_database_url_wins() {
        let config = Config::load_from(
            None,
            vars(&[
                ("SCRIBE__DATABASE__URL", "postgres://scribe@db/scribe"),
                ("DATABASE_URL", "postgres://other@db/other"),
                ("SCRIBE__PUBLISH__TARGETS", r#"["files", "git"]"#),
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
        let unknown = Config::load_from(None, vars(&[("SCRIBE__SERVER__NOPE", "1")]));
        assert!(unknown.unwrap_err().to_string().contains("nope"));
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
        assert_eq!(config.database_url().expose(), "sqlite://data/scribe.db");
        assert_eq!(config.template_dir(), None);
        assert_eq!(config.publish.git.remote, None);
        assert_eq!(config.publish.github.repository, None);
        let set = Config::load_from(None, vars(&[("SCRIBE__DRAFTING__TEMPLATE_DIR", "mine")]));
        assert_eq!(set.unwrap().template_dir(), Some(Path::new("mine")));
    }

    #[test]
    fn values_are_parsed_at_load() {
        for (name, value) in [
            ("SCRIBE__SERVER__MAX_BODY_BYTES", "0"),
            ("DATABASE_URL", "mysql://scribe@db/scribe"),
            ("SCRIBE__PUBLISH__FILES__PATH", "../../etc/{slug}.md"),
            ("SCRIBE__PUBLISH__GIT__BRANCH", "postmortem/{slug}.lock"),
            ("SCRIBE__PUBLISH__GITHUB__REPOSITORY", "octo-org"),
            ("SCRIBE__LOG__LEVEL", "nonsense[[["),
        ] {
            assert!(
                Config::load_from(None, vars(&[(name, value)])).is_err(),
                "{name}={value}"
            );
        }
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
        let bad = Config::load_from(None, vars(&[("SCRIBE__DISCORD__GUILD_IDS", "123,abc")]));
        assert!(bad.is_err());
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
