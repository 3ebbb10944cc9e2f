//! Values parsed where the configuration is loaded, so that a value that can only fail later
//! (a branch git refuses, a path outside its directory, a database Scribe cannot open) fails at
//! start instead, naming its key.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::domain::Incident;
use crate::drafting::slug;

/// Why a value was refused. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(String);

/// Makes a type of this module readable from a string, in `FromStr` and in serde.
macro_rules! parsed_from_str {
    ($type:ident) => {
        impl FromStr for $type {
            type Err = Invalid;

            fn from_str(text: &str) -> Result<Self, Invalid> {
                $type::new(text)
            }
        }

        impl TryFrom<String> for $type {
            type Error = Invalid;

            fn try_from(text: String) -> Result<Self, Invalid> {
                $type::new(&text)
            }
        }
    };
}

/// Hours of the day when nothing that can wait is posted, in the team's zone:
/// `"22:00-07:00"` (across midnight) or `"12:00-13:00"`; empty: none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct QuietHours(Option<(chrono::NaiveTime, chrono::NaiveTime)>);

impl QuietHours {
    pub fn new(text: &str) -> Result<Self, Invalid> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(QuietHours(None));
        }
        let time = |t: &str| chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M").ok();
        match text.split_once('-').map(|(a, b)| (time(a), time(b))) {
            Some((Some(from), Some(to))) if from != to => Ok(QuietHours(Some((from, to)))),
            _ => Err(Invalid(format!(
                "{text:?} is not a span of hours: write \"HH:MM-HH:MM\" (\"22:00-07:00\"), two \
                 different times, or \"\" for none"
            ))),
        }
    }

    /// From and to, when set.
    pub fn get(self) -> Option<(chrono::NaiveTime, chrono::NaiveTime)> {
        self.0
    }
}

parsed_from_str!(QuietHours);

/// How long a web session lasts, in hours: one hour to a year (8,784 hours), so that its end
/// is always a time the clock and the cookie can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct SessionHours(u64);

impl SessionHours {
    pub const MAX: u64 = 8_784;

    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for SessionHours {
    type Error = Invalid;

    fn try_from(hours: u64) -> Result<Self, Invalid> {
        if (1..=Self::MAX).contains(&hours) {
            Ok(SessionHours(hours))
        } else {
            Err(Invalid(format!(
                "{hours} hours: a web session lasts from 1 hour to {} (a year)",
                Self::MAX
            )))
        }
    }
}

/// What the folds of channels kept in memory may take, in MiB: 1 to 65,536 (64 GiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct FoldCacheMb(u64);

impl FoldCacheMb {
    pub const MAX: u64 = 65_536;

    pub fn bytes(self) -> usize {
        usize::try_from(self.0 << 20).unwrap_or(usize::MAX)
    }
}

impl TryFrom<u64> for FoldCacheMb {
    type Error = Invalid;

    fn try_from(mb: u64) -> Result<Self, Invalid> {
        if (1..=Self::MAX).contains(&mb) {
            Ok(FoldCacheMb(mb))
        } else {
            Err(Invalid(format!(
                "{mb} MiB: the folds kept in memory take from 1 MiB to {} (64 GiB)",
                Self::MAX
            )))
        }
    }
}

/// How often something recurring happens: a whole number and a unit, `90s`, `10m`, `2h`, `5d`;
/// at least a second and at most a year, so that adding it to a time never overflows. Shared
/// by every setting that schedules (polling, reminders); where "never" is allowed, the setting
/// is an `Option<Interval>` read by [`interval_or_off`], with `"0"` for off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval(std::time::Duration);

impl Interval {
    const MAX_SECS: u64 = 366 * 24 * 60 * 60;

    pub fn new(text: &str) -> Result<Self, Invalid> {
        match Interval::or_off(text)? {
            Some(interval) => Ok(interval),
            None => Err(Invalid(format!(
                "{text:?}: an interval must be longer than 0"
            ))),
        }
    }

    /// `"0"` (or any zero, `0m`) is `None`: off.
    pub fn or_off(text: &str) -> Result<Option<Self>, Invalid> {
        let text = text.trim();
        let refuse = || {
            Invalid(format!(
                "{text:?} is not an interval: write a whole number and s, m, h or d                  (90s, 10m, 2h, 5d), or \"0\" for off"
            ))
        };
        if text == "0" {
            return Ok(None);
        }
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(refuse)?;
        let (number, unit) = text.split_at(split);
        let number: u64 = number.parse().map_err(|_| refuse())?;
        let unit_secs = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 60 * 60,
            "d" => 24 * 60 * 60,
            _ => return Err(refuse()),
        };
        match number.checked_mul(unit_secs) {
            Some(0) => Ok(None),
            Some(secs) if secs <= Self::MAX_SECS => {
                Ok(Some(Interval(std::time::Duration::from_secs(secs))))
            }
            _ => Err(Invalid(format!("{text:?} is longer than a year"))),
        }
    }

    pub fn get(self) -> std::time::Duration {
        self.0
    }

    /// The same, to add to a time.
    pub fn span(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).expect("at most a year")
    }
}

parsed_from_str!(Interval);

/// In the largest unit that says it exactly: `90s`, `10m`, `5d`.
impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let (amount, unit) = [(86_400, "d"), (3_600, "h"), (60, "m")]
            .into_iter()
            .find(|(unit, _)| secs.is_multiple_of(*unit))
            .map_or((secs, "s"), |(unit, name)| (secs / unit, name));
        write!(f, "{amount}{unit}")
    }
}

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match interval_or_off(deserializer)? {
            Some(interval) => Ok(interval),
            None => Err(de::Error::custom("an interval must be longer than 0")),
        }
    }
}

/// An [`Interval`] or off: `"10m"`, or `"0"` (also a bare `0`, which is how an environment
/// variable `…=0` arrives).
pub fn interval_or_off<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Interval>, D::Error> {
    struct Off;

    impl<'de> Visitor<'de> for Off {
        type Value = Option<Interval>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an interval such as \"10m\", or \"0\" for off")
        }

        fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
            if n == 0 {
                Ok(None)
            } else {
                Err(E::custom(format!(
                    "{n} has no unit: write {n}s, {n}m, {n}h or {n}d"
                )))
            }
        }

        fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
            match u64::try_from(n) {
                Ok(n) => self.visit_u64(n),
                Err(_) => Err(E::custom(format!("{n} is not an interval"))),
            }
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Interval::or_off(text).map_err(E::custom)
        }
    }

    deserializer.deserialize_any(Off)
}

/// A Jira project key, `OPS`: uppercase ASCII letters and digits, starting with a letter, as
/// Jira requires; it goes into JQL, so nothing else may.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ProjectKey(String);

impl ProjectKey {
    pub fn new(key: &str) -> Result<Self, Invalid> {
        let ok = key.len() <= 255
            && key.starts_with(|c: char| c.is_ascii_uppercase())
            && key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if ok {
            Ok(ProjectKey(key.to_owned()))
        } else {
            Err(Invalid(format!(
                "{key:?} is not a Jira project key: uppercase letters and digits, starting \
                 with a letter (OPS, INFRA2)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

parsed_from_str!(ProjectKey);

impl fmt::Display for ProjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A branch name git accepts (`git check-ref-format --branch`): the one check of every branch
/// Scribe hands to git or GitHub, so neither ever gets a name it would refuse or misread.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct BranchName(String);

impl BranchName {
    pub fn new(name: &str) -> Result<Self, Invalid> {
        match branch_fault(name) {
            None => Ok(BranchName(name.to_owned())),
            Some(why) => Err(Invalid(format!("branch name {name:?} {why}"))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

parsed_from_str!(BranchName);

impl fmt::Display for BranchName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// git's rules for a ref name (check-ref-format), and the two `--branch` adds (no leading `-`,
/// not `HEAD`).
fn branch_fault(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name.starts_with('-') {
        return Some("starts with `-`".into());
    }
    if name == "HEAD" || name == "@" {
        return Some("is reserved".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_ascii_control() || " ~^:?*[\\".contains(*c))
    {
        return Some(format!("contains {c:?}"));
    }
    for bad in ["..", "@{", "//"] {
        if name.contains(bad) {
            return Some(format!("contains `{bad}`"));
        }
    }
    if name.starts_with('/') || name.ends_with('/') {
        return Some("starts or ends with `/`".into());
    }
    if name.ends_with('.') {
        return Some("ends with `.`".into());
    }
    if name.split('/').any(|part| part.starts_with('.')) {
        return Some("has a part that starts with `.`".into());
    }
    if name.split('/').any(|part| part.ends_with(".lock")) {
        return Some("has a part that ends with `.lock`".into());
    }
    None
}

/// A GitHub repository, exactly `owner/name`: an owner of letters, digits, `-` and `_`
/// (enterprise-managed users carry an underscore), a name of those and `.`, neither `.` nor
/// `..`. Nothing else, since both parts go into the API's URLs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Repository {
    owner: String,
    name: String,
}

impl Repository {
    pub fn new(text: &str) -> Result<Self, Invalid> {
        let refuse = || {
            Invalid(format!(
                "the GitHub repository must be owner/name, got {text:?}"
            ))
        };
        let (owner, name) = text.split_once('/').ok_or_else(refuse)?;
        let owner_ok = (1..=39).contains(&owner.len())
            && owner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let name_ok = (1..=100).contains(&name.len())
            && name != "."
            && name != ".."
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if owner_ok && name_ok {
            Ok(Repository {
                owner: owner.to_owned(),
                name: name.to_owned(),
            })
        } else {
            Err(refuse())
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

parsed_from_str!(Repository);

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A relative path of plain parts: no root, no empty, `.`, `..` or `.git` part, no NUL. Joined
/// to a directory it stays inside it, and out of any repository's `.git`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelativePath(String);

impl RelativePath {
    pub fn new(path: &str) -> Result<Self, Invalid> {
        let plain = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && !part.eq_ignore_ascii_case(".git")
                && !part.contains('\0')
        };
        if path.split('/').all(plain) {
            Ok(RelativePath(path.to_owned()))
        } else {
            Err(Invalid(format!(
                "path {path:?} could leave its directory: it must be relative, of plain parts \
                 (no empty, `.`, `..` or `.git` part)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RelativePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The date and slug a pattern is tried with at load. Slugs are `[a-z0-9-]`, never empty and
/// never start with `-`, and dates are digits and `-`: if this expansion is valid, every
/// expansion is.
const SAMPLE_SLUG: &str = "sample-incident";
/// Short ids are eight lowercase hex digits ([`slug::short_id`]).
const SAMPLE_ID: &str = "0a1b2c3d";
const SAMPLE_START: i64 = 1_709_942_400; // 2024-03-09T00:00:00Z

/// `{yyyy}`, `{date}` (YYYY-MM-DD), `{slug}` and `{id}` (the incident's short id) filled in.
fn fill(pattern: &str, started_at: DateTime<Utc>, slug: &str, id: &str) -> String {
    pattern
        .replace("{yyyy}", &started_at.format("%Y").to_string())
        .replace("{date}", &started_at.format("%Y-%m-%d").to_string())
        .replace("{slug}", slug)
        .replace("{id}", id)
}

/// The sample expansion of `pattern`, refusing a placeholder Scribe does not know (which would
/// otherwise stay in every name as it is).
fn fill_sample(pattern: &str) -> Result<String, Invalid> {
    let started = DateTime::from_timestamp(SAMPLE_START, 0).expect("a valid time");
    let filled = fill(pattern, started, SAMPLE_SLUG, SAMPLE_ID);
    if filled.contains(['{', '}']) {
        return Err(Invalid(format!(
            "pattern {pattern:?} has an unknown placeholder: use {{yyyy}}, {{date}}, {{slug}} \
             or {{id}}"
        )));
    }
    Ok(filled)
}

fn fill_incident(pattern: &str, incident: &Incident) -> String {
    fill(
        pattern,
        incident.started_at,
        &slug::slug(&incident.title),
        &slug::short_id(&incident.id()),
    )
}

/// A file path with placeholders, `postmortems/{yyyy}/{date}-{slug}-{id}.md`, whose expansions stay
/// inside their directory: tried with sample values at load, and checked again on every use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PathPattern(String);

impl PathPattern {
    pub fn new(pattern: &str) -> Result<Self, Invalid> {
        RelativePath::new(&fill_sample(pattern)?)
            .map_err(|e| Invalid(format!("pattern {pattern:?}: {e}")))?;
        Ok(PathPattern(pattern.to_owned()))
    }

    /// The path for `incident`: made of its start date, the slug of its title and its short id
    /// only.
    pub fn expand(&self, incident: &Incident) -> Result<RelativePath, Invalid> {
        RelativePath::new(&fill_incident(&self.0, incident))
    }
}

parsed_from_str!(PathPattern);

/// A branch name with placeholders, `postmortem/{date}-{slug}-{id}`, whose expansions are branch
/// names git accepts: tried with sample values at load, and checked again on every use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct BranchPattern(String);

impl BranchPattern {
    pub fn new(pattern: &str) -> Result<Self, Invalid> {
        BranchName::new(&fill_sample(pattern)?)
            .map_err(|e| Invalid(format!("pattern {pattern:?}: {e}")))?;
        Ok(BranchPattern(pattern.to_owned()))
    }

    /// The branch for `incident`.
    pub fn expand(&self, incident: &Incident) -> Result<BranchName, Invalid> {
        BranchName::new(&fill_incident(&self.0, incident))
    }
}

parsed_from_str!(BranchPattern);

/// A database Scribe can open: `sqlite://…`, `postgres://…` or `postgresql://…`. It may carry
/// a password, so `Debug` and `Display` hide it; [`DatabaseUrl::expose`] is for connecting.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: &str) -> Result<Self, Invalid> {
        let supported = ["sqlite://", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| url.len() > scheme.len() && url.starts_with(scheme));
        if supported {
            return Ok(DatabaseUrl(url.to_owned()));
        }
        // Only the scheme is named: the rest may be a password.
        let scheme = url.split_once(':').map(|(scheme, _)| scheme).filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        let what = scheme.map_or_else(
            || "this URL".to_owned(),
            |scheme| format!("a `{scheme}:` URL"),
        );
        Err(Invalid(format!(
            "{what} is not a database Scribe can use: use sqlite://PATH, postgres://… or \
             postgresql://…"
        )))
    }

    /// The SQLite database at `path`.
    pub fn sqlite(path: &std::path::Path) -> Self {
        DatabaseUrl(format!("sqlite://{}", path.display()))
    }

    /// The whole URL, password included: for connecting, never for showing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

parsed_from_str!(DatabaseUrl);

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_password(&self.0))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// The URL with every secret it may hold masked: the password (`user:***@host`), the value of
/// every query parameter (`?password=***`) and the fragment. A URL that does not parse shows
/// its scheme only: where its password ends cannot be told.
fn redact_password(url: &str) -> String {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    if scheme == "sqlite" {
        return url.to_string();
    }
    let Ok(mut parsed) = url::Url::parse(url) else {
        return format!("{scheme}://*** (not a valid URL)");
    };
    if parsed.password().is_some() {
        // A URL with a password has a host, so this cannot fail.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query().is_some() {
        let keys: Vec<String> = parsed
            .query_pairs()
            .map(|(key, _)| key.into_owned())
            .collect();
        parsed
            .query_pairs_mut()
            .clear()
            .extend_pairs(keys.iter().map(|key| (key, "***")));
    }
    parsed.set_fragment(None);
    parsed.to_string()
}

/// A tracing filter (`info`, `scribe=debug,sqlx=warn`) that `tracing_subscriber` accepts, so a
/// typo is an error at start rather than a silent fall back to `info`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct LogFilter(String);

impl LogFilter {
    pub fn new(filter: &str) -> Result<Self, Invalid> {
        tracing_subscriber::EnvFilter::try_new(filter)
            .map_err(|e| Invalid(format!("{filter:?} is not a log filter: {e}")))?;
        Ok(LogFilter(filter.to_owned()))
    }

    pub fn filter(&self) -> tracing_subscriber::EnvFilter {
        tracing_subscriber::EnvFilter::new(&self.0)
    }
}

parsed_from_str!(LogFilter);

/// An optional value where TOML, which has no null, says "unset" with an empty string (or by
/// leaving the key out).
pub(super) fn unset_if_empty<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    match Option::<String>::deserialize(deserializer)? {
        Some(text) if !text.is_empty() => text.parse().map(Some).map_err(de::Error::custom),
        _ => Ok(None),
    }
}

/// A Discord application id: a snowflake, written in decimal digits, above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplicationId(std::num::NonZeroU64);

impl ApplicationId {
    pub fn new(id: &str) -> Result<Self, Invalid> {
        id.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| id.parse().ok())
            .flatten()
            .map(ApplicationId)
            .ok_or_else(|| {
                Invalid(format!(
                    "{id:?} is not a Discord application id: the number the developer portal \
                     shows as the Application ID"
                ))
            })
    }

    pub fn get(self) -> u64 {
        self.0.get()
    }
}

parsed_from_str!(ApplicationId);

impl fmt::Display for ApplicationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `[discord] application_id`: a number, or its digits as text (as the environment gives
/// them); an empty text is unset.
pub(super) fn application_id<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ApplicationId>, D::Error> {
    struct Id;

    impl<'de> Visitor<'de> for Id {
        type Value = Option<ApplicationId>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a Discord application id, or \"\" for none")
        }

        fn visit_u64<E: de::Error>(self, id: u64) -> Result<Self::Value, E> {
            self.visit_str(&id.to_string())
        }

        fn visit_i64<E: de::Error>(self, id: i64) -> Result<Self::Value, E> {
            self.visit_str(&id.to_string())
        }

        fn visit_str<E: de::Error>(self, id: &str) -> Result<Self::Value, E> {
            match id.trim() {
                "" => Ok(None),
                id => ApplicationId::new(id).map(Some).map_err(E::custom),
            }
        }
    }

    deserializer.deserialize_any(Id)
}

/// Discord server ids: an array in a file; in a variable also one id (`123`) or ids separated
/// by commas (`123,456`), since that is how most people write them there.
pub(super) fn guild_ids<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
    struct Ids;

    impl<'de> Visitor<'de> for Ids {
        type Value = Vec<u64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a server id, ids separated by commas, or an array of ids")
        }

        fn visit_u64<E: de::Error>(self, id: u64) -> Result<Vec<u64>, E> {
            Ok(vec![id])
        }

        fn visit_i64<E: de::Error>(self, id: i64) -> Result<Vec<u64>, E> {
            u64::try_from(id)
                .map(|id| vec![id])
                .map_err(|_| E::invalid_value(de::Unexpected::Signed(id), &self))
        }

        fn visit_str<E: de::Error>(self, ids: &str) -> Result<Vec<u64>, E> {
            ids.split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(|id| {
                    id.parse()
                        .map_err(|_| E::invalid_value(de::Unexpected::Str(id), &self))
                })
                .collect()
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u64>, A::Error> {
            let mut ids = Vec::new();
            while let Some(id) = seq.next_element()? {
                ids.push(id);
            }
            Ok(ids)
        }
    }

    deserializer.deserialize_any(Ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_follow_gits_rules() {
        for good in [
            "main",
            "postmortem/2024-03-09-db",
            "a.b",
            "inc#42&x=1+ü",
            "a.b_c-d/ü",
            "x.locked",
            "a@b",
        ] {
            assert!(BranchName::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-f",
            "HEAD",
            "@",
            "a..b",
            "a b",
            "a\tb",
            "a\nb",
            "a\u{7f}",
            "a~1",
            "a^",
            "a:b",
            "owner:branch",
            "a?",
            "a*",
            "a[",
            "a\\b",
            "a@{1}",
            "/a",
            "a/",
            "a//b",
            "a.",
            ".a",
            "a/.b",
            "x.lock",
            "a.lock/b",
        ] {
            assert!(BranchName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn repositories_are_exactly_owner_slash_name() {
        for good in [
            "octo-org/postmortems",
            "a/b",
            "user_corp/repo.name-2",
            "o/.github",
        ] {
            let repository = Repository::new(good).unwrap();
            assert_eq!(repository.to_string(), good);
        }
        let repository = Repository::new("octo-org/postmortems").unwrap();
        assert_eq!(
            (repository.owner(), repository.name()),
            ("octo-org", "postmortems")
        );
        for bad in [
            "",
            "octo-org",
            "/repo",
            "owner/",
            "owner/repo/extra",
            "owner/..",
            "owner/.",
            "own er/repo",
            "owner/re?po",
            "owner/re%2Fpo",
            "owner/repo#1",
            "ownér/repo",
            "../../user",
            &format!("{}/r", "o".repeat(40)),
            &format!("o/{}", "r".repeat(101)),
        ] {
            assert!(Repository::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_paths_stay_inside_their_directory() {
        for good in [
            "a.md",
            "postmortems/2024/2024-03-09-x.md",
            "a/.gitkeep",
            "a..b",
        ] {
            assert!(RelativePath::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x.md",
            "a/../../x.md",
            "./x",
            "a/./x",
            "a//b",
            "a/",
            ".git/config",
            "a/.GIT/x",
            "a\0b",
        ] {
            assert!(RelativePath::new(bad).is_err(), "{bad:?}");
        }
    }

    fn incident(title: &str) -> Incident {
        use crate::domain::{Author, ChannelRef, ChatEvent, EventKind, MessageId, Platform};
        let start = ChatEvent {
            channel: ChannelRef::new(Platform::Console, "room"),
            message: MessageId::new("1"),
            at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            kind: EventKind::Posted {
                author: Author::human("U1", "Sam"),
                text: format!("/incident start {title}"),
                thread: None,
            },
        };
        crate::domain::fold([start], &crate::domain::Settings::default())
            .incidents
            .pop()
            .unwrap()
    }

    #[test]
    fn patterns_are_tried_at_load_and_checked_on_every_expansion() {
        let path = PathPattern::new("postmortems/{yyyy}/{date}-{slug}.md").unwrap();
        let expanded = path.expand(&incident("../../etc/passwd")).unwrap();
        assert!(
            expanded.as_str().starts_with("postmortems/")
                && expanded.as_str().ends_with("-etc-passwd.md"),
            "{expanded}"
        );
        for bad in [
            "../../etc/{slug}.md",
            "/etc/{slug}.md",
            "{slug}/../../x.md",
            "",
            ".git/{slug}",
            "{year}/{slug}.md",
        ] {
            assert!(PathPattern::new(bad).is_err(), "{bad}");
        }

        let with_id = PathPattern::new("{date}-{slug}-{id}.md").unwrap();
        let db = incident("DB down");
        let short = slug::short_id(&db.id());
        assert!(
            with_id
                .expand(&db)
                .unwrap()
                .as_str()
                .ends_with(&format!("-db-down-{short}.md"))
        );

        let branch = BranchPattern::new("postmortem/{date}-{slug}").unwrap();
        assert!(
            branch
                .expand(&incident("DB: down?"))
                .unwrap()
                .as_str()
                .ends_with("-db-down")
        );
        for bad in [
            "{slug}.lock",
            "-{slug}",
            "pm/{slug}..x",
            "pm {slug}",
            "{title}",
        ] {
            assert!(BranchPattern::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn database_urls_are_sqlite_or_postgres_and_never_show_a_password() {
        for good in [
            "sqlite://data/scribe.db",
            "postgres://scribe@db/scribe",
            "postgresql://db/scribe",
        ] {
            assert!(DatabaseUrl::new(good).is_ok(), "{good}");
        }
        for bad in [
            "mysql://u:hunter2@db/x",
            "sqlite:x.db",
            "sqlite://",
            "data/scribe.db",
        ] {
            let error = DatabaseUrl::new(bad).unwrap_err().to_string();
            assert!(!error.contains("hunter2"), "{error}");
        }
        assert!(
            DatabaseUrl::new("mysql://u:hunter2@db/x")
                .unwrap_err()
                .to_string()
                .contains("`mysql:`")
        );
        let url = DatabaseUrl::new("postgres://scribe:hunter2@db:5432/scribe").unwrap();
        for shown in [format!("{url}"), format!("{url:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(
                shown.contains("postgres://scribe:***@db:5432/scribe"),
                "{shown}"
            );
        }
        assert_eq!(url.expose(), "postgres://scribe:hunter2@db:5432/scribe");
        assert_eq!(
            DatabaseUrl::new("postgres://u@h/db").unwrap().to_string(),
            "postgres://u@h/db"
        );
    }

    #[test]
    fn every_form_of_database_password_is_masked() {
        for (url, shown) in [
            ("postgres://admin:hunter2@db/x", "postgres://admin:***@db/x"),
            (
                "postgres://admin@db/x?password=hunter2",
                "postgres://admin@db/x?password=***",
            ),
            (
                "postgresql://db/x?sslmode=require&password=hunter2",
                "postgresql://db/x?sslmode=***&password=***",
            ),
            (
                "postgres://admin:ab/cdhunter2@db/x",
                "postgres://*** (not a valid URL)",
            ),
            (
                "postgres://admin:ab%2Fcdhunter2@db/x",
                "postgres://admin:***@db/x",
            ),
            (
                "postgres://admin:p@ss:hunter2@db:5432/x",
                "postgres://admin:***@db:5432/x",
            ),
            ("postgres://:hunter2@db/x", "postgres://:***@db/x"),
            (
                "postgres://admin:hunter2@[::1]/x#hunter2",
                "postgres://admin:***@[::1]/x",
            ),
            (
                "postgres://admin:hunter2@/x?host=/run/pg",
                "postgres://*** (not a valid URL)",
            ),
            ("sqlite://data/scribe.db", "sqlite://data/scribe.db"),
        ] {
            let database = DatabaseUrl::new(url).unwrap();
            assert_eq!(database.to_string(), shown, "{url}");
            assert!(!format!("{database:?}").contains("hunter2"), "{url}");
        }
    }

    #[test]
    fn intervals_are_a_number_and_a_unit_or_zero_for_off() {
        for (text, secs) in [("90s", 90), ("10m", 600), ("2h", 7200), ("5d", 432_000)] {
            assert_eq!(Interval::new(text).unwrap().get().as_secs(), secs, "{text}");
        }
        for text in ["90s", "10m", "2h", "5d"] {
            assert_eq!(Interval::new(text).unwrap().to_string(), text);
        }
        assert_eq!(Interval::new("120m").unwrap().to_string(), "2h");
        assert_eq!(Interval::or_off("0"), Ok(None));
        assert_eq!(Interval::or_off("0m"), Ok(None));
        assert!(Interval::new("0").is_err());
        for bad in [
            "10x",
            "10",
            "m",
            "",
            "-5m",
            "1.5h",
            "10 m",
            "1y",
            "367d",
            "99999999999999999999d",
        ] {
            let error = Interval::or_off(bad).unwrap_err().to_string();
            assert!(error.contains(bad.trim()), "{bad:?}: {error}");
        }
    }

    #[test]
    fn jira_project_keys_are_uppercase_letters_and_digits() {
        for good in ["OPS", "INFRA2", "A"] {
            assert_eq!(ProjectKey::new(good).unwrap().as_str(), good);
        }
        for bad in ["", "ops", "2OPS", "OPS-1", "OPS\" OR 1=1", "O P"] {
            assert!(ProjectKey::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn log_filters_are_parsed() {
        for good in ["info", "scribe=debug,sqlx=warn", "warn,scribe::jobs=trace"] {
            assert!(LogFilter::new(good).is_ok(), "{good}");
        }
        assert!(LogFilter::new("nonsense[[[").is_err());
    }
}

/// A regular expression of `[assist] redact`: compiled at load, so a pattern that does not
/// compile stops Scribe at start, naming the key.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct RedactPattern(regex_automata::meta::Regex);

impl RedactPattern {
    /// Patterns longer than this are refused: they are meant to be short.
    const MAX_LEN: usize = 1000;

    pub fn new(pattern: &str) -> Result<Self, Invalid> {
        if pattern.is_empty() || pattern.len() > Self::MAX_LEN {
            return Err(Invalid(format!(
                "a redact pattern must have 1 to {} characters",
                Self::MAX_LEN
            )));
        }
        regex_automata::meta::Regex::new(pattern)
            .map(RedactPattern)
            .map_err(|e| Invalid(format!("{pattern:?} is not a regular expression: {e}")))
    }

    pub fn regex(&self) -> &regex_automata::meta::Regex {
        &self.0
    }
}

parsed_from_str!(RedactPattern);

impl fmt::Debug for RedactPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RedactPattern(..)")
    }
}
