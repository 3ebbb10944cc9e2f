//! Reading the layers and collecting every problem. serde stops at the first bad value, so each
//! refused value is reported and the default put in its place (an unknown key is dropped), and
//! the next attempt goes past it; the checks across keys then run on a whole configuration.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use figment::error::Kind;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};

use super::{Config, DEFAULTS, Secrets, Target, TrackerKind};

/// One thing wrong with the configuration: where the value came from, its key, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, `environment variable NAME`, or `the built-in defaults`.
    pub source: String,
    /// `section.key`; empty when the source could not be read at all.
    pub key: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.source, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.source, self.key, self.reason)
        }
    }
}

/// The configuration cannot be used: every reason, one per line.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, problem) in self.problems.iter().enumerate() {
            if n > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

pub(super) fn load(
    file: Option<&Path>,
    vars: Vec<(String, String)>,
) -> Result<Config, ConfigError> {
    match parse(file, vars) {
        (Some(config), problems) if problems.is_empty() => Ok(config),
        (_, problems) => Err(ConfigError { problems }),
    }
}

/// `scribe check`: every problem of the configuration, then those of the templates it names
/// (with the defaults standing in for refused values), one line each.
pub fn check(file: Option<&Path>, vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
    let (config, problems) = parse(file, vars.into_iter().collect());
    let mut lines: Vec<String> = problems.iter().map(Problem::to_string).collect();
    if let Some(config) = config {
        lines.extend(crate::drafting::check_templates(
            config.template_dir(),
            &config.drafting.template,
        ));
    }
    lines
}

/// The configuration and every problem it has; no configuration when a layer could not be
/// read at all (a file that is missing or is not TOML).
fn parse(file: Option<&Path>, vars: Vec<(String, String)>) -> (Option<Config>, Vec<Problem>) {
    let figment = layers(file, &vars);
    let mut value: Value = match figment.extract() {
        Ok(value) => value,
        Err(error) => {
            let problems = error
                .into_iter()
                .map(|e| Problem {
                    source: source(e.metadata.as_ref()),
                    key: String::new(),
                    reason: e.kind.to_string().trim_end().to_string(),
                })
                .collect();
            return (None, problems);
        }
    };
    let defaults: Value = Figment::from(Defaults)
        .extract()
        .expect("the built-in defaults are TOML");
    let problem = |key: &str, reason: String| Problem {
        source: source(figment.find_metadata(key)),
        key: key.to_owned(),
        reason,
    };
    let mut problems = Vec::new();
    let mut passed = HashSet::new();
    let config = loop {
        let error = match value.deserialize::<Config>() {
            Ok(config) => break config,
            Err(error) => error,
        };
        let (key, fix) = locate(&error);
        problems.push(problem(&key, error.kind.to_string()));
        if !passed.insert(key.clone()) || !fix.apply(&mut value, &defaults, &key) {
            return (None, problems);
        }
    };
    let secrets = Secrets::from_vars(vars);
    for reason in target_needs(&config, &secrets) {
        problems.push(problem("publish.targets", reason));
    }
    for (key, reason) in tracker_needs(&config, &secrets) {
        problems.push(problem(key, reason));
    }
    if let Some(base) = &config.assist.base_url
        && let Err(reason) = crate::outbound::check_base(base.clone(), "assist")
    {
        problems.push(problem("assist.base_url", reason));
    }
    (Some(config), problems)
}

/// The defaults, then the file, then the variables, each named after itself so that a problem
/// says where its value came from.
fn layers(file: Option<&Path>, vars: &[(String, String)]) -> Figment {
    let mut figment = Figment::from(Defaults);
    if let Some(file) = file {
        figment = figment.merge(Toml::file_exact(file));
    }
    let mut vars: Vec<&(String, String)> = vars.iter().collect();
    // The conventional variable first, so that Scribe's own wins.
    vars.sort_by_key(|(name, _)| name != "DATABASE_URL");
    for (name, value) in vars {
        let key = if name == "DATABASE_URL" {
            "database.url".to_string()
        } else if let Some(rest) = name.strip_prefix("SCRIBE__") {
            rest.split("__")
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
                .join(".")
        } else {
            continue;
        };
        if key.split('.').any(str::is_empty) {
            continue;
        }
        let Ok(value) = value.parse::<Value>();
        figment = figment.merge(Variable {
            name: name.clone(),
            key,
            value,
        });
    }
    figment
}

struct Defaults;

impl Provider for Defaults {
    fn metadata(&self) -> Metadata {
        Metadata::named("the built-in defaults")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Toml::string(DEFAULTS).data()
    }
}

/// One `SCRIBE__…` (or `DATABASE_URL`) variable.
struct Variable {
    name: String,
    key: String,
    value: Value,
}

impl Provider for Variable {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Serialized::default(&self.key, &self.value).data()
    }
}

/// The file as the user named it, or the layer's name.
fn source(metadata: Option<&Metadata>) -> String {
    match metadata {
        Some(metadata) => match &metadata.source {
            Some(Source::File(path)) => path.display().to_string(),
            _ => metadata.name.to_string(),
        },
        None => "the configuration".to_string(),
    }
}

/// How to get past a refused value.
enum Fix {
    /// An unknown key: drop it.
    Drop,
    /// A bad or missing value: take the default.
    Default,
}

/// The key an error is about (an array's, for one of its elements), and how to get past it.
fn locate(error: &figment::Error) -> (String, Fix) {
    let mut path: Vec<&str> = error.path.iter().map(String::as_str).collect();
    let fix = match &error.kind {
        Kind::UnknownField(..) => Fix::Drop,
        Kind::MissingField(field) => {
            path.push(field);
            Fix::Default
        }
        _ => {
            if let Some(index) = path
                .iter()
                .position(|part| part.bytes().all(|b| b.is_ascii_digit()))
            {
                path.truncate(index);
            }
            Fix::Default
        }
    };
    (path.join("."), fix)
}

impl Fix {
    /// Whether `value` changed.
    fn apply(&self, value: &mut Value, defaults: &Value, key: &str) -> bool {
        let (parent, last) = key.rsplit_once('.').unwrap_or(("", key));
        let mut node = value;
        for part in parent.split('.').filter(|p| !p.is_empty()) {
            match node {
                Value::Dict(_, dict) => match dict.get_mut(part) {
                    Some(child) => node = child,
                    None => return false,
                },
                _ => return false,
            }
        }
        let Value::Dict(_, dict) = node else {
            return false;
        };
        match self {
            Fix::Drop => dict.remove(last).is_some(),
            Fix::Default => match defaults.find_ref(key) {
                Some(default) => {
                    dict.insert(last.to_owned(), default.clone());
                    true
                }
                None => false,
            },
        }
    }
}

/// What no one key can say: what each publishing target needs of the others and of the
/// secrets. The chat target needs nothing: it posts wherever a platform token is set.
fn target_needs(config: &Config, secrets: &Secrets) -> Vec<String> {
    let publish = &config.publish;
    let has = |target| publish.targets.contains(&target);
    let mut needs = Vec::new();
    if has(Target::Github) && !has(Target::Git) {
        needs.push(
            "\"github\" needs \"git\" too: the pull request is for the branch git pushes"
                .to_string(),
        );
    }
    if (has(Target::Git) || has(Target::Github)) && publish.git.remote.is_none() {
        needs.push(
            "\"git\" and \"github\" need publish.git.remote (the repository to push to), which \
             is not set"
                .to_string(),
        );
    }
    if has(Target::Github) && publish.github.repository.is_none() {
        needs.push(
            "\"github\" needs publish.github.repository (owner/name), which is not set".to_string(),
        );
    }
    if has(Target::Github) && secrets.github_token.is_none() {
        needs.push(
            "\"github\" needs the environment variable GITHUB_TOKEN, which is not set".to_string(),
        );
    }
    needs
}

/// What the chosen issue tracker needs of the other keys and of the secrets, and a base URL
/// that would not keep its token safe, as `(key, reason)`.
fn tracker_needs(config: &Config, secrets: &Secrets) -> Vec<(&'static str, String)> {
    let followups = &config.followups;
    let mut needs = Vec::new();
    let mut need = |what: &str, set: bool| {
        if !set {
            needs.push((
                "followups.tracker",
                format!(
                    "{:?} needs {what}, which is not set",
                    tracker_name(followups.tracker)
                ),
            ));
        }
    };
    match followups.tracker {
        TrackerKind::None => {}
        TrackerKind::Github => {
            need(
                "followups.github.repository (owner/name)",
                followups.github.repository.is_some(),
            );
            need(
                "the environment variable GITHUB_TOKEN",
                secrets.github_token.is_some(),
            );
        }
        TrackerKind::Jira => {
            need(
                "followups.jira.base_url (https://yourteam.atlassian.net)",
                followups.jira.base_url.is_some(),
            );
            need(
                "followups.jira.project (a project key)",
                followups.jira.project.is_some(),
            );
            need(
                "the environment variable JIRA_EMAIL",
                secrets.jira_email.is_some(),
            );
            need(
                "the environment variable JIRA_API_TOKEN",
                secrets.jira_api_token.is_some(),
            );
        }
    }
    let base = match followups.tracker {
        TrackerKind::None => None,
        TrackerKind::Github => Some((
            "followups.github.api_base_url",
            "GitHub",
            Some(&followups.github.api_base_url),
        )),
        TrackerKind::Jira => Some((
            "followups.jira.base_url",
            "Jira",
            followups.jira.base_url.as_ref(),
        )),
    };
    if let Some((key, service, Some(url))) = base
        && let Err(reason) = crate::outbound::check_base(url.clone(), service)
    {
        needs.push((key, reason));
    }
    needs
}

fn tracker_name(kind: TrackerKind) -> &'static str {
    match kind {
        TrackerKind::None => "none",
        TrackerKind::Github => "github",
        TrackerKind::Jira => "jira",
    }
}
