//! The command grammar, the same on every platform: text in, a [`Command`] or a usage error out.

use std::fmt;
use std::num::NonZeroU32;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::assist::{Offer, Section};
use super::incident::{Horizon, StoryList};
use super::severity::{InvalidSeverity, Severity};

pub const INCIDENT_USAGE: &str = "usage: /incident start <title> [--sev <level>] | severity <level> \
| lead <name> | title <text> | impact <text> | summary <text> \
| factor|worked|improve <text> (edit N <text>, remove|restore N) \
| ref <label> <text or URL> (edit N <text>, remove|restore N) | action [now|short|long] <text> [@owner] [due YYYY-MM-DD] \
(edit N <text>, done|reopen|remove|restore N, track N <issue> [URL]) \
| postmortem owner <name>|due YYYY-MM-DD|review [PR URL]|published \
| resolve [note] | close | status | draft [--publish] | web | search <words> | similar \
| assist [section | list | accept N] | private";
pub const TIMELINE_USAGE: &str = "usage: /timeline <text> or /timeline HH:MM[:SS] <text> \
| list | edit N <text> | move N [YYYY-MM-DD] HH:MM[:SS] | remove N | restore N";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Incident(IncidentCommand),
    /// `/timeline [HH:MM] <text>`: a new entry.
    Timeline(TimelineNote),
    /// `/timeline list|edit|move|remove|restore`: about the entries there are, by number.
    Entry(EntryCommand),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentCommand {
    Start {
        title: String,
        severity: Option<Severity>,
    },
    Severity(Severity),
    Lead(String),
    /// A new title: what the incident turned out to be.
    Title(String),
    Impact(String),
    Summary(String),
    /// `factor`, `worked`, `improve`: the story's lists.
    Story {
        list: StoryList,
        change: ItemChange,
    },
    /// `ref <label> <text>`: an alert, a dashboard, a fix, or a line of its own.
    Ref {
        label: String,
        text: String,
    },
    /// `ref edit N <text>`, `ref remove N`, `ref restore N`.
    RefChange {
        n: Number,
        change: RefChange,
    },
    Action(ActionCommand),
    /// Who writes the postmortem, by when, and how far it is.
    Postmortem(PostmortemCommand),
    Resolve {
        note: Option<String>,
    },
    Close,
    Status,
    /// Preview the draft; with `--publish`, publish it again too.
    Draft {
        publish: bool,
    },
    /// A sign-in link to the web workspace, for whoever asks.
    Web,
    /// Past incidents holding these words, for whoever asks.
    Search(String),
    /// The closed incidents most like this one.
    Similar,
    /// Writing help from a language model.
    Assist(AssistCommand),
    /// Never send this incident to a language model.
    Private,
}

/// `/incident assist …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssistCommand {
    /// Ask for suggestions, for one section or all (the model is called off the command path).
    Ask(Option<Section>),
    /// The pending suggestions, for whoever asks.
    List,
    /// Suggestion N becomes a story item (or the summary, the impact) of whoever accepts it.
    Accept(Number),
    /// The checked suggestions of an answer, as Scribe records them (`assist suggested
    /// <JSON>`); only Scribe's own integration author may say it.
    Offered(Offer),
}

impl IncidentCommand {
    /// Whether the command writes the postmortem (the story, its facts, its actions): such
    /// commands may be for an incident that is closed.
    pub fn writes_story(&self) -> bool {
        matches!(
            self,
            IncidentCommand::Story { .. }
                | IncidentCommand::Ref { .. }
                | IncidentCommand::RefChange { .. }
                | IncidentCommand::Action(_)
                | IncidentCommand::Postmortem(_)
                | IncidentCommand::Title(_)
                | IncidentCommand::Impact(_)
                | IncidentCommand::Summary(_)
                | IncidentCommand::Assist(_)
                | IncidentCommand::Private
        )
    }
}

/// A change to one of the story's numbered lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemChange {
    Add(String),
    /// New text for item N (the command that wrote the old one stays in the log).
    Edit(Number, String),
    Remove(Number),
    Restore(Number),
}

/// A change to reference N.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefChange {
    Text(String),
    Hide,
    Restore,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionCommand {
    Add {
        horizon: Horizon,
        text: String,
        owner: Option<String>,
        due: Option<NaiveDate>,
    },
    /// New text for action N, and a new owner or due date when given.
    Edit {
        n: Number,
        text: String,
        owner: Option<String>,
        due: Option<NaiveDate>,
    },
    Done(Number),
    /// Not done after all (an issue reopened in the tracker).
    Reopen(Number),
    Remove(Number),
    Restore(Number),
    /// Action N is tracked as `issue` (`#123`, `OPS-45`) in the team's tracker.
    Track {
        n: Number,
        issue: String,
        url: Option<String>,
    },
}

/// `/incident postmortem …`: the postmortem's owner, due date and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostmortemCommand {
    Owner(String),
    Due(NaiveDate),
    /// In review, with the pull request that carries it when there is one.
    Review {
        pull: Option<String>,
    },
    Published,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryCommand {
    List,
    Edit { n: Number, text: String },
    Move { n: Number, to: NewTime },
    Remove(Number),
    Restore(Number),
}

/// `/timeline [HH:MM[:SS]] <text>`: the text is never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineNote {
    /// A time of day in the team's zone, for an entry written after the fact.
    pub at: Option<NaiveTime>,
    pub text: String,
}

/// Where `/timeline move` puts an entry, in the team's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewTime {
    /// Resolved like a backfill: the latest such moment not after the command.
    TimeOfDay(NaiveTime),
    Local(NaiveDateTime),
}

/// The number of an entry, a story item or an action, as `/timeline list` shows it: 1 or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Number(NonZeroU32);

impl Number {
    pub fn new(n: u32) -> Option<Number> {
        NonZeroU32::new(n).map(Number)
    }

    pub fn get(self) -> u32 {
        self.0.get()
    }

    /// The 0-based position of the item this number names.
    pub fn index(self) -> usize {
        self.0.get() as usize - 1
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Usage(&'static str),
    #[error("unknown /incident subcommand `{0}`; {INCIDENT_USAGE}")]
    UnknownSubcommand(String),
    #[error(transparent)]
    Severity(#[from] InvalidSeverity),
    #[error("`{word}` is not a number from the list (1, 2, 3 …); {usage}")]
    BadNumber { word: String, usage: &'static str },
    #[error("`{0}` is not a date (YYYY-MM-DD); {INCIDENT_USAGE}")]
    BadDate(String),
    #[error(
        "`{0}` is not a time (HH:MM[:SS] or YYYY-MM-DD HH:MM[:SS] in the team's time zone); {TIMELINE_USAGE}"
    )]
    BadTime(String),
    #[error(
        "{0} has not happened yet: an entry can only be moved into the past. Nothing was changed."
    )]
    Future(String),
    /// `--incident=<id>` names no incident of the channel, or one a command cannot be for.
    #[error("This channel has no closed incident started by message {0}: nothing was changed.")]
    UnknownIncident(String),
    #[error(
        "Only the timeline, the story, status and draft can be for a closed incident: nothing was changed."
    )]
    NotForClosed,
    /// A number the incident does not have (the fold's check: only it knows the lists).
    #[error("There is no {what} {n}: {hint}. Nothing was changed.")]
    NoSuch {
        what: &'static str,
        n: Number,
        hint: &'static str,
    },
}

/// Reads a message's text. `None`: the text is not a command (commands count only at the very
/// start of a message); `Some(Err)`: it is one, but malformed.
pub fn parse(text: &str) -> Option<Result<Command, CommandError>> {
    if let Some(rest) = strip_command(text, "/incident") {
        Some(parse_incident(without_target(rest)).map(Command::Incident))
    } else {
        strip_command(text, "/timeline").map(|rest| {
            let rest = without_target(rest);
            // A note may not start with a second target: it would read as one when typed again.
            if first_word(rest).0.starts_with(TARGET) {
                return Err(CommandError::Usage(TIMELINE_USAGE));
            }
            parse_timeline(rest)
        })
    }
}

/// The word that names which incident of the channel a command is for:
/// `--incident=<id of its start message>` right after the command word. The web page names
/// its incident so; without it a command is for the open incident, else the one closed last.
const TARGET: &str = "--incident=";

/// The start message id a command names with `--incident=<id>`, if it names one.
pub fn target(text: &str) -> Option<&str> {
    let rest = strip_command(text, "/incident").or_else(|| strip_command(text, "/timeline"))?;
    first_word(rest).0.strip_prefix(TARGET)
}

/// `command` (`/incident factor x`) aimed at the incident started by message `opened_by`:
/// `/incident --incident=<id> factor x`, so that a later incident in the channel cannot take it.
pub fn aimed(command: &str, opened_by: &str) -> String {
    let (word, rest) = command.split_once(' ').unwrap_or((command, ""));
    format!("{word} {TARGET}{opened_by} {rest}")
}

fn without_target(rest: &str) -> &str {
    match first_word(rest) {
        (word, after) if word.starts_with(TARGET) => after,
        _ => rest,
    }
}

/// The text after `name` when the message starts with it as a whole word.
fn strip_command<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let head = text.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    let rest = &text[name.len()..];
    match rest.chars().next() {
        None => Some(rest),
        Some(c) if c.is_whitespace() => Some(rest),
        Some(_) => None,
    }
}

/// The first word and the trimmed rest.
fn first_word(text: &str) -> (&str, &str) {
    let text = text.trim();
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim()),
        None => (text, ""),
    }
}

/// Whether a word is written like a number (`3`, `#3`, `-3`): then it is read as one, strictly.
fn looks_like_number(word: &str) -> bool {
    let digits = word.strip_prefix('#').unwrap_or(word);
    let digits = digits.strip_prefix('-').unwrap_or(digits);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn parse_number(word: &str, usage: &'static str) -> Result<Number, CommandError> {
    word.strip_prefix('#')
        .unwrap_or(word)
        .parse::<u32>()
        .ok()
        .and_then(Number::new)
        .ok_or_else(|| CommandError::BadNumber {
            word: word.chars().take(40).collect(),
            usage,
        })
}

/// `remove N` / `restore N` (and `done N`): `Some` when `args` is `<verb> <one number-like word>`.
fn numbered<'a>(args: &'a str, verbs: &[&'a str]) -> Option<(&'a str, &'a str)> {
    let (verb, rest) = first_word(args);
    let verb = verbs.iter().find(|v| v.eq_ignore_ascii_case(verb))?;
    (looks_like_number(rest)).then_some((*verb, rest))
}

fn parse_incident(rest: &str) -> Result<IncidentCommand, CommandError> {
    let (sub, args) = first_word(rest);
    let required = |args: &str| {
        if args.is_empty() {
            Err(CommandError::Usage(INCIDENT_USAGE))
        } else {
            Ok(args.to_string())
        }
    };
    let story = |list: StoryList| -> Result<IncidentCommand, CommandError> {
        if let Some((n, text)) = edit(args)? {
            return Ok(IncidentCommand::Story {
                list,
                change: ItemChange::Edit(n, text),
            });
        }
        let change = match numbered(args, &["remove", "restore"]) {
            Some(("remove", n)) => ItemChange::Remove(parse_number(n, INCIDENT_USAGE)?),
            Some((_, n)) => ItemChange::Restore(parse_number(n, INCIDENT_USAGE)?),
            None => ItemChange::Add(required(args)?),
        };
        Ok(IncidentCommand::Story { list, change })
    };
    match sub.to_ascii_lowercase().as_str() {
        "" => Err(CommandError::Usage(INCIDENT_USAGE)),
        "start" | "open" => parse_start(args),
        "severity" | "sev" => Ok(IncidentCommand::Severity(required(args)?.parse()?)),
        // A name, however many mention signs and spaces come before it.
        "lead" => Ok(IncidentCommand::Lead(required(
            args.trim_start_matches(|c: char| c == '@' || c.is_whitespace()),
        )?)),
        "impact" => Ok(IncidentCommand::Impact(required(args)?)),
        "summary" => Ok(IncidentCommand::Summary(required(args)?)),
        "factor" | "factors" => story(StoryList::Factors),
        "worked" => story(StoryList::Worked),
        "improve" => story(StoryList::Improve),
        "ref" | "reference" => parse_ref(args),
        "action" => parse_action(args).map(IncidentCommand::Action),
        "postmortem" | "pm" => parse_postmortem(args).map(IncidentCommand::Postmortem),
        "resolve" | "resolved" => Ok(IncidentCommand::Resolve {
            note: (!args.is_empty()).then(|| args.to_string()),
        }),
        "close" => Ok(IncidentCommand::Close),
        "status" => Ok(IncidentCommand::Status),
        "title" => Ok(IncidentCommand::Title(required(args)?)),
        "web" if args.is_empty() => Ok(IncidentCommand::Web),
        "search" | "find" => Ok(IncidentCommand::Search(required(args)?)),
        "similar" if args.is_empty() => Ok(IncidentCommand::Similar),
        "private" if args.is_empty() => Ok(IncidentCommand::Private),
        "assist" => parse_assist(args).map(IncidentCommand::Assist),
        "draft" => match args {
            "" => Ok(IncidentCommand::Draft { publish: false }),
            "--publish" => Ok(IncidentCommand::Draft { publish: true }),
            _ => Err(CommandError::Usage(INCIDENT_USAGE)),
        },
        other => Err(CommandError::UnknownSubcommand(
            other.chars().take(40).collect(),
        )),
    }
}

/// `assist`, `assist accept N`, or Scribe's own `assist suggested <JSON>`.
fn parse_assist(args: &str) -> Result<AssistCommand, CommandError> {
    let (verb, rest) = first_word(args);
    match verb.to_ascii_lowercase().as_str() {
        "" => Ok(AssistCommand::Ask(None)),
        word if rest.is_empty() && Section::read(word).is_some() => {
            Ok(AssistCommand::Ask(Section::read(word)))
        }
        "accept" => Ok(AssistCommand::Accept(parse_number(rest, INCIDENT_USAGE)?)),
        "list" if rest.is_empty() => Ok(AssistCommand::List),
        "suggested" => serde_json::from_str(rest)
            .map(AssistCommand::Offered)
            .map_err(|_| CommandError::Usage(INCIDENT_USAGE)),
        _ => Err(CommandError::Usage(INCIDENT_USAGE)),
    }
}

/// `<title> [--sev <level>]`, or a title whose last word is `sevN`.
fn parse_start(args: &str) -> Result<IncidentCommand, CommandError> {
    let mut words: Vec<&str> = args.split_whitespace().collect();
    let mut severity = None;
    if let Some(i) = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("--sev") || w.eq_ignore_ascii_case("--severity"))
    {
        let level = words
            .get(i + 1)
            .ok_or(CommandError::Usage(INCIDENT_USAGE))?;
        severity = Some(level.parse()?);
        words.drain(i..i + 2);
    } else if let Some(level) = words.last().and_then(|w| Severity::from_code(w)) {
        severity = Some(level);
        words.pop();
    }
    if words.is_empty() {
        return Err(CommandError::Usage(INCIDENT_USAGE));
    }
    Ok(IncidentCommand::Start {
        title: words.join(" "),
        severity,
    })
}

/// `<label> <text>`: a label is one short word (a trailing `:` is dropped); the known ones
/// (`alert`, `dashboard`, `pr`) are kept in lower case.
fn parse_ref(args: &str) -> Result<IncidentCommand, CommandError> {
    if let Some((n, text)) = edit(args)? {
        return Ok(IncidentCommand::RefChange {
            n,
            change: RefChange::Text(text),
        });
    }
    if let Some((verb, n)) = numbered(args, &["remove", "restore"]) {
        let n = parse_number(n, INCIDENT_USAGE)?;
        let change = match verb {
            "remove" => RefChange::Hide,
            _ => RefChange::Restore,
        };
        return Ok(IncidentCommand::RefChange { n, change });
    }
    let (label, text) = first_word(args);
    let label = label.trim_end_matches(':');
    if label.is_empty() || text.is_empty() || label.chars().count() > 32 {
        return Err(CommandError::Usage(INCIDENT_USAGE));
    }
    let lower = label.to_lowercase();
    let label = match lower.as_str() {
        "alert" | "dashboard" | "pr" => lower,
        _ => label.to_string(),
    };
    Ok(IncidentCommand::Ref {
        label,
        text: text.to_string(),
    })
}

/// `edit N <text>`: `Some` when the word after `edit` is written like a number (then strict).
fn edit(args: &str) -> Result<Option<(Number, String)>, CommandError> {
    let (verb, rest) = first_word(args);
    let (n, text) = first_word(rest);
    if !verb.eq_ignore_ascii_case("edit") || !looks_like_number(n) {
        return Ok(None);
    }
    if text.is_empty() {
        return Err(CommandError::Usage(INCIDENT_USAGE));
    }
    Ok(Some((parse_number(n, INCIDENT_USAGE)?, text.to_string())))
}

/// `[now|short|long] <text> [@owner] [due YYYY-MM-DD]`, `edit N <text>`, or
/// `done|remove|restore N`.
fn parse_action(args: &str) -> Result<ActionCommand, CommandError> {
    if let Some((n, rest)) = edit(args)? {
        let (text, owner, due) = action_parts(&rest)?;
        return Ok(ActionCommand::Edit {
            n,
            text,
            owner,
            due,
        });
    }
    if let Some(track) = parse_track(args)? {
        return Ok(track);
    }
    if let Some((verb, n)) = numbered(args, &["done", "reopen", "remove", "restore"]) {
        let n = parse_number(n, INCIDENT_USAGE)?;
        return Ok(match verb {
            "done" => ActionCommand::Done(n),
            "reopen" => ActionCommand::Reopen(n),
            "remove" => ActionCommand::Remove(n),
            _ => ActionCommand::Restore(n),
        });
    }
    let (first, after) = first_word(args);
    let (horizon, rest) = match first.to_ascii_lowercase().as_str() {
        "now" => (Horizon::Now, after),
        "short" => (Horizon::Short, after),
        "long" => (Horizon::Long, after),
        _ => (Horizon::Short, args.trim()),
    };
    let (text, owner, due) = action_parts(rest)?;
    Ok(ActionCommand::Add {
        horizon,
        text,
        owner,
        due,
    })
}

/// `track N <issue> [URL]`: `Some` when a number and an issue key (`#123`, `OPS-45`,
/// `owner/repo#123`) follow `track` (then strict: an http(s) URL or nothing after them), so
/// that an action such as "track 3 dashboards" stays an action.
fn parse_track(args: &str) -> Result<Option<ActionCommand>, CommandError> {
    let (verb, rest) = first_word(args);
    let (n, rest) = first_word(rest);
    let (issue, rest) = first_word(rest);
    if !verb.eq_ignore_ascii_case("track") || !looks_like_number(n) || !is_issue_key(issue) {
        return Ok(None);
    }
    let n = parse_number(n, INCIDENT_USAGE)?;
    let (url, extra) = first_word(rest);
    let web = |url: &str| url.starts_with("https://") || url.starts_with("http://");
    if !extra.is_empty() {
        return Err(CommandError::Usage(INCIDENT_USAGE));
    }
    if !url.is_empty() && !web(url) {
        return Err(CommandError::Usage(INCIDENT_USAGE));
    }
    Ok(Some(ActionCommand::Track {
        n,
        issue: issue.to_string(),
        url: (!url.is_empty()).then(|| url.to_string()),
    }))
}

/// `#123`, `owner/repo#123` (GitHub) or `OPS-45` (Jira), at most 64 characters.
fn is_issue_key(word: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let github = word.rsplit_once('#').is_some_and(|(repo, n)| {
        digits(n)
            && (repo.is_empty()
                || repo.split('/').count() == 2
                    && repo.split('/').all(|part| {
                        !part.is_empty()
                            && part
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                    }))
    });
    let jira = word.split_once('-').is_some_and(|(project, n)| {
        digits(n)
            && project.starts_with(|c: char| c.is_ascii_uppercase())
            && project
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    });
    word.len() <= 64 && (github || jira)
}

/// `owner <name>`, `due YYYY-MM-DD`, `review [URL]`, `published`.
fn parse_postmortem(args: &str) -> Result<PostmortemCommand, CommandError> {
    let (verb, rest) = first_word(args);
    match verb.to_ascii_lowercase().as_str() {
        "owner" => {
            let name = rest.trim_start_matches(|c: char| c == '@' || c.is_whitespace());
            if name.is_empty() || name.chars().count() > 64 {
                return Err(CommandError::Usage(INCIDENT_USAGE));
            }
            Ok(PostmortemCommand::Owner(name.to_string()))
        }
        "due" if !rest.is_empty() && !rest.contains(char::is_whitespace) => parse_date(rest)
            .map(PostmortemCommand::Due)
            .ok_or_else(|| CommandError::BadDate(rest.chars().take(40).collect())),
        "review" if rest.is_empty() => Ok(PostmortemCommand::Review { pull: None }),
        "review"
            if !rest.contains(char::is_whitespace)
                && (rest.starts_with("https://") || rest.starts_with("http://")) =>
        {
            Ok(PostmortemCommand::Review {
                pull: Some(rest.to_string()),
            })
        }
        "published" | "publish" if rest.is_empty() => Ok(PostmortemCommand::Published),
        _ => Err(CommandError::Usage(INCIDENT_USAGE)),
    }
}

/// `<text> [@owner] [due YYYY-MM-DD]`, the due date before or after the owner.
fn action_parts(rest: &str) -> Result<(String, Option<String>, Option<NaiveDate>), CommandError> {
    let (rest, mut due) = split_due(rest)?;
    let (mut text, owner) = split_owner(rest);
    if due.is_none() {
        let (before, late_due) = split_due(&text)?;
        (text, due) = (before.to_string(), late_due);
    }
    if text.is_empty() {
        return Err(CommandError::Usage(INCIDENT_USAGE));
    }
    Ok((text, owner, due))
}

/// A trailing `due YYYY-MM-DD`; a date-like word that is no date is an error, not text.
fn split_due(text: &str) -> Result<(&str, Option<NaiveDate>), CommandError> {
    let text = text.trim();
    let Some((before, word)) = text.rsplit_once(char::is_whitespace) else {
        return Ok((text, None));
    };
    let before = before.trim_end();
    let (head, keyword) = match before.rsplit_once(char::is_whitespace) {
        Some((head, keyword)) => (head.trim_end(), keyword),
        None => ("", before),
    };
    let date_like = word.split('-').count() == 3
        && word
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if !keyword.eq_ignore_ascii_case("due") || !date_like {
        return Ok((text, None));
    }
    let date =
        parse_date(word).ok_or_else(|| CommandError::BadDate(word.chars().take(40).collect()))?;
    Ok((head, Some(date)))
}

/// An action's owner is its trailing mention: the text from the last ` @` on, when short.
fn split_owner(args: &str) -> (String, Option<String>) {
    if let Some(i) = args.rfind(" @") {
        let owner = args[i + 2..].trim();
        if !owner.is_empty() && owner.split_whitespace().count() <= 3 && owner.chars().count() <= 64
        {
            return (args[..i].trim().to_string(), Some(owner.to_string()));
        }
    }
    (args.trim().to_string(), None)
}

fn parse_timeline(rest: &str) -> Result<Command, CommandError> {
    let rest = rest.trim();
    if rest.is_empty() {
        return Err(CommandError::Usage(TIMELINE_USAGE));
    }
    let (first, after) = first_word(rest);
    let (second, tail) = first_word(after);
    let number = || parse_number(second, TIMELINE_USAGE);
    match first.to_ascii_lowercase().as_str() {
        "list" if after.is_empty() => return Ok(Command::Entry(EntryCommand::List)),
        "edit" | "move" | "remove" | "restore" if after.is_empty() => {
            return Err(CommandError::Usage(TIMELINE_USAGE));
        }
        "edit" if looks_like_number(second) => {
            if tail.is_empty() {
                return Err(CommandError::Usage(TIMELINE_USAGE));
            }
            return Ok(Command::Entry(EntryCommand::Edit {
                n: number()?,
                text: tail.to_string(),
            }));
        }
        // A move names a time: `move 3 pods to b` is a note.
        "move"
            if looks_like_number(second)
                && (tail.is_empty() || tail.starts_with(|c: char| c.is_ascii_digit())) =>
        {
            if tail.is_empty() {
                return Err(CommandError::Usage(TIMELINE_USAGE));
            }
            let n = number()?;
            return Ok(Command::Entry(EntryCommand::Move {
                n,
                to: parse_new_time(tail)?,
            }));
        }
        "remove" if looks_like_number(after) => {
            return Ok(Command::Entry(EntryCommand::Remove(number()?)));
        }
        "restore" if looks_like_number(after) => {
            return Ok(Command::Entry(EntryCommand::Restore(number()?)));
        }
        _ => {}
    }
    match parse_time_of_day(first) {
        Some(_) if after.is_empty() => Err(CommandError::Usage(TIMELINE_USAGE)),
        Some(at) => Ok(Command::Timeline(TimelineNote {
            at: Some(at),
            text: after.to_string(),
        })),
        None => Ok(Command::Timeline(TimelineNote {
            at: None,
            text: rest.to_string(),
        })),
    }
}

/// `HH:MM[:SS]` or `YYYY-MM-DD HH:MM[:SS]`.
fn parse_new_time(text: &str) -> Result<NewTime, CommandError> {
    let bad = || CommandError::BadTime(text.chars().take(40).collect());
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [time] => parse_time_of_day(time)
            .map(NewTime::TimeOfDay)
            .ok_or_else(bad),
        [date, time] => {
            let date = parse_date(date).ok_or_else(bad)?;
            let time = parse_time_of_day(time).ok_or_else(bad)?;
            Ok(NewTime::Local(date.and_time(time)))
        }
        _ => Err(bad()),
    }
}

/// `YYYY-MM-DD`, exactly: four digits of year, so that a date reads back as it was written.
fn parse_date(word: &str) -> Option<NaiveDate> {
    let bytes = word.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    let number = |range: std::ops::Range<usize>| word[range].parse::<u32>().ok();
    if !shaped {
        return None;
    }
    NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)
}

/// `H:MM`, `HH:MM` or `HH:MM:SS`, 24-hour.
fn parse_time_of_day(word: &str) -> Option<NaiveTime> {
    let parts: Vec<&str> = word.split(':').collect();
    let number = |s: &str, digits: std::ops::RangeInclusive<usize>| {
        (digits.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (h, m, s) = match parts.as_slice() {
        [h, m] => (number(h, 1..=2)?, number(m, 2..=2)?, 0),
        [h, m, s] => (number(h, 1..=2)?, number(m, 2..=2)?, number(s, 2..=2)?),
        _ => return None,
    };
    NaiveTime::from_hms_opt(h, m, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Command {
        parse(text).expect("a command").expect("valid")
    }

    fn start(text: &str) -> (String, Option<Severity>) {
        match ok(text) {
            Command::Incident(IncidentCommand::Start { title, severity }) => (title, severity),
            other => panic!("not a start: {other:?}"),
        }
    }

    #[test]
    fn start_takes_the_rest_as_title() {
        assert_eq!(
            start("/incident start  Checkout down  "),
            ("Checkout down".to_string(), None)
        );
    }

    #[test]
    fn start_reads_the_sev_flag_anywhere() {
        assert_eq!(
            start("/incident start {{ 7*7 }} checkout API returning 5xx --sev sev2"),
            (
                "{{ 7*7 }} checkout API returning 5xx".to_string(),
                Some(Severity::Sev2)
            )
        );
        assert_eq!(
            start("/incident start --sev HIGH Global 503s"),
            ("Global 503s".to_string(), Some(Severity::Sev2))
        );
    }

    #[test]
    fn a_trailing_sev_code_sets_severity_but_a_trailing_word_is_title() {
        assert_eq!(
            start("/incident start Global 503s sev2"),
            ("Global 503s".to_string(), Some(Severity::Sev2))
        );
        assert_eq!(
            start("/incident start Latency high"),
            ("Latency high".to_string(), None)
        );
    }

    #[test]
    fn assist_asks_accepts_and_reads_scribes_own_offer() {
        let assist = |text: &str| match parse(text) {
            Some(Ok(Command::Incident(IncidentCommand::Assist(command)))) => Ok(command),
            other => Err(other),
        };
        assert_eq!(assist("/incident assist"), Ok(AssistCommand::Ask(None)));
        assert_eq!(assist("/incident assist list"), Ok(AssistCommand::List));
        assert_eq!(
            assist("/incident assist factor"),
            Ok(AssistCommand::Ask(Some(Section::Factors)))
        );
        assert_eq!(
            assist("/incident assist Impact"),
            Ok(AssistCommand::Ask(Some(Section::Impact)))
        );
        assert_eq!(
            assist("/incident assist accept #2"),
            Ok(AssistCommand::Accept(Number::new(2).unwrap()))
        );
        let offered = assist(
            "/incident --incident=m1 assist suggested {\"suggestions\":[{\"section\":\"impact\",\"text\":\"x\",\"cites\":[\"#1\"]}],\"dropped\":1}",
        );
        assert!(
            matches!(&offered, Ok(AssistCommand::Offered(o)) if o.dropped == 1 && o.suggestions.len() == 1),
            "{offered:?}"
        );
        for bad in [
            "/incident assist accept",
            "/incident assist accept 0",
            "/incident assist please",
            "/incident assist summary now",
            "/incident assist suggested {broken",
        ] {
            assert!(matches!(parse(bad), Some(Err(_))), "{bad}");
        }
        assert_eq!(
            parse("/incident private"),
            Some(Ok(Command::Incident(IncidentCommand::Private)))
        );
    }

    #[test]
    fn start_without_title_or_with_a_bad_level_is_refused() {
        assert_eq!(
            parse("/incident start"),
            Some(Err(CommandError::Usage(INCIDENT_USAGE)))
        );
        assert_eq!(
            parse("/incident start sev1"),
            Some(Err(CommandError::Usage(INCIDENT_USAGE)))
        );
        assert!(matches!(
            parse("/incident start X --sev urgent"),
            Some(Err(CommandError::Severity(_)))
        ));
    }

    #[test]
    fn every_subcommand_parses() {
        use IncidentCommand::*;
        let cases = [
            (
                "/incident severity critical",
                Severity(super::Severity::Sev1),
            ),
            ("/incident lead @Priya Raman", Lead("Priya Raman".into())),
            (
                "/incident impact 100% of searches",
                Impact("100% of searches".into()),
            ),
            ("/incident summary It broke.", Summary("It broke.".into())),
            (
                "/incident action Keep 10x capacity @Martin Kowalski",
                Action(ActionCommand::Add {
                    horizon: Horizon::Short,
                    text: "Keep 10x capacity".into(),
                    owner: Some("Martin Kowalski".into()),
                    due: None,
                }),
            ),
            (
                "/incident action Write the runbook",
                Action(ActionCommand::Add {
                    horizon: Horizon::Short,
                    text: "Write the runbook".into(),
                    owner: None,
                    due: None,
                }),
            ),
            ("/incident resolve", Resolve { note: None }),
            (
                "/incident resolve traffic back",
                Resolve {
                    note: Some("traffic back".into()),
                },
            ),
            ("/incident close", Close),
            ("/incident STATUS", Status),
            ("/incident draft", Draft { publish: false }),
            ("/incident draft --publish", Draft { publish: true }),
        ];
        for (text, expected) in cases {
            assert_eq!(ok(text), Command::Incident(expected), "{text}");
        }
    }

    #[test]
    fn unknown_subcommands_and_missing_arguments_are_refused() {
        assert!(matches!(
            parse("/incident frobnicate"),
            Some(Err(CommandError::UnknownSubcommand(s))) if s == "frobnicate"
        ));
        assert_eq!(
            parse("/incident"),
            Some(Err(CommandError::Usage(INCIDENT_USAGE)))
        );
        assert_eq!(
            parse("/incident lead"),
            Some(Err(CommandError::Usage(INCIDENT_USAGE)))
        );
    }

    /// Found by fuzzing (`fuzz/fuzz_targets/command_parser.rs`): `@` alone made an empty lead,
    /// and `@ @name` one that read differently when typed again.
    #[test]
    fn a_lead_is_a_name_without_its_mention_signs() {
        assert_eq!(
            parse("/incident lead @"),
            Some(Err(CommandError::Usage(INCIDENT_USAGE)))
        );
        assert_eq!(
            parse("/incident lead @ @"),
            Some(Err(CommandError::Usage(INCIDENT_USAGE)))
        );
        assert_eq!(ok("/incident lead @ @Priya"), ok("/incident lead Priya"));
        assert_eq!(
            ok("/incident lead @@Priya Raman"),
            Command::Incident(IncidentCommand::Lead("Priya Raman".into()))
        );
    }

    #[test]
    fn timeline_text_is_trimmed_and_required() {
        assert_eq!(
            ok("/timeline    Customer-facing status page updated   "),
            Command::Timeline(TimelineNote {
                at: None,
                text: "Customer-facing status page updated".into()
            })
        );
        for empty in ["/timeline", "/timeline    ", "/timeline \t\n"] {
            assert_eq!(
                parse(empty),
                Some(Err(CommandError::Usage(TIMELINE_USAGE))),
                "{empty:?}"
            );
        }
    }

    #[test]
    fn timeline_backfill_reads_a_time_of_day() {
        assert_eq!(
            ok("/timeline 14:55 first alert fired"),
            Command::Timeline(TimelineNote {
                at: NaiveTime::from_hms_opt(14, 55, 0),
                text: "first alert fired".into()
            })
        );
        assert_eq!(
            ok("/timeline 9:05:30 paged"),
            Command::Timeline(TimelineNote {
                at: NaiveTime::from_hms_opt(9, 5, 30),
                text: "paged".into()
            })
        );
        assert_eq!(
            parse("/timeline 14:55"),
            Some(Err(CommandError::Usage(TIMELINE_USAGE)))
        );
        // Not a time of day: ordinary text.
        assert_eq!(
            ok("/timeline 25:00 later"),
            Command::Timeline(TimelineNote {
                at: None,
                text: "25:00 later".into()
            })
        );
    }

    fn n(n: u32) -> Number {
        Number::new(n).unwrap()
    }

    #[test]
    fn timeline_curation_reads_numbers_with_or_without_a_hash() {
        use EntryCommand::*;
        let cases = [
            ("/timeline list", List),
            ("/timeline LIST", List),
            (
                "/timeline edit #3  queue depth 45k ",
                Edit {
                    n: n(3),
                    text: "queue depth 45k".into(),
                },
            ),
            (
                "/timeline move 2 14:05",
                Move {
                    n: n(2),
                    to: NewTime::TimeOfDay(NaiveTime::from_hms_opt(14, 5, 0).unwrap()),
                },
            ),
            (
                "/timeline move #12 2024-03-09 23:59:30",
                Move {
                    n: n(12),
                    to: NewTime::Local(
                        NaiveDate::from_ymd_opt(2024, 3, 9)
                            .unwrap()
                            .and_hms_opt(23, 59, 30)
                            .unwrap(),
                    ),
                },
            ),
            ("/timeline remove 4", Remove(n(4))),
            ("/timeline restore #4", Restore(n(4))),
        ];
        for (text, expected) in cases {
            assert_eq!(ok(text), Command::Entry(expected), "{text}");
        }
    }

    #[test]
    fn malformed_curation_gets_usage_or_says_what_is_wrong() {
        for text in [
            "/timeline edit",
            "/timeline edit 3",
            "/timeline move",
            "/timeline move 3",
            "/timeline remove",
            "/timeline restore",
        ] {
            assert_eq!(
                parse(text),
                Some(Err(CommandError::Usage(TIMELINE_USAGE))),
                "{text}"
            );
        }
        for text in [
            "/timeline remove -3",
            "/timeline remove 0",
            "/timeline remove #0",
            "/timeline remove 99999999999999999999",
            "/timeline edit -1 text",
        ] {
            assert!(
                matches!(parse(text), Some(Err(CommandError::BadNumber { .. }))),
                "{text}: {:?}",
                parse(text)
            );
        }
        for text in [
            "/timeline move 3 25:00",
            "/timeline move 3 2024-02-30 10:00",
            "/timeline move 3 10:00 tomorrow",
        ] {
            assert!(
                matches!(parse(text), Some(Err(CommandError::BadTime(_)))),
                "{text}: {:?}",
                parse(text)
            );
        }
    }

    #[test]
    fn words_that_only_look_like_curation_stay_notes() {
        for text in [
            "remove 3 pods from the pool",
            "move 3 pods to zone b",
            "list of suspects narrowed to 2",
            "edit: config pushed",
            "restore from backup started",
        ] {
            assert_eq!(
                ok(&format!("/timeline {text}")),
                Command::Timeline(TimelineNote {
                    at: None,
                    text: text.into()
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn story_lists_add_remove_and_restore() {
        let story = |list, change| Command::Incident(IncidentCommand::Story { list, change });
        assert_eq!(
            ok("/incident factor retries amplified load"),
            story(
                StoryList::Factors,
                ItemChange::Add("retries amplified load".into())
            )
        );
        assert_eq!(
            ok("/incident worked remove #2"),
            story(StoryList::Worked, ItemChange::Remove(n(2)))
        );
        assert_eq!(
            ok("/incident improve restore 1"),
            story(StoryList::Improve, ItemChange::Restore(n(1)))
        );
        assert_eq!(
            ok("/incident factor edit #2 retries doubled the load"),
            story(
                StoryList::Factors,
                ItemChange::Edit(n(2), "retries doubled the load".into())
            )
        );
        assert_eq!(
            ok("/incident worked edited the runbook"),
            story(
                StoryList::Worked,
                ItemChange::Add("edited the runbook".into())
            )
        );
        assert_eq!(
            parse("/incident factor edit 2"),
            Some(Err(CommandError::Usage(INCIDENT_USAGE)))
        );
        // Text that starts with the word is an item.
        assert_eq!(
            ok("/incident improve remove toil from deploys"),
            story(
                StoryList::Improve,
                ItemChange::Add("remove toil from deploys".into())
            )
        );
        assert_eq!(
            parse("/incident factor"),
            Some(Err(CommandError::Usage(INCIDENT_USAGE)))
        );
        assert!(matches!(
            parse("/incident factor remove -1"),
            Some(Err(CommandError::BadNumber { .. }))
        ));
    }

    #[test]
    fn references_keep_their_label() {
        let reference = |label: &str, text: &str| {
            Command::Incident(IncidentCommand::Ref {
                label: label.into(),
                text: text.into(),
            })
        };
        assert_eq!(
            ok("/incident ref Alert: https://alerts.example/1"),
            reference("alert", "https://alerts.example/1")
        );
        assert_eq!(
            ok("/incident ref PR https://git.example/pr/7 the fix"),
            reference("pr", "https://git.example/pr/7 the fix")
        );
        assert_eq!(
            ok("/incident ref Runbook wiki/rb"),
            reference("Runbook", "wiki/rb")
        );
        let change = |n: u32, change| {
            Command::Incident(IncidentCommand::RefChange {
                n: Number::new(n).unwrap(),
                change,
            })
        };
        assert_eq!(ok("/incident ref remove 2"), change(2, RefChange::Hide));
        assert_eq!(
            ok("/incident ref restore #2"),
            change(2, RefChange::Restore)
        );
        assert_eq!(
            ok("/incident ref edit 1 https://alerts.example/2"),
            change(1, RefChange::Text("https://alerts.example/2".into()))
        );
        assert_eq!(
            ok("/incident ref remove the-old-runbook"),
            reference("remove", "the-old-runbook")
        );
        for text in [
            "/incident ref",
            "/incident ref alert",
            "/incident ref : x",
            "/incident ref aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa x",
        ] {
            assert_eq!(
                parse(text),
                Some(Err(CommandError::Usage(INCIDENT_USAGE))),
                "{text}"
            );
        }
    }

    #[test]
    fn actions_are_tracked_reopened_and_postmortems_owned() {
        let action = |c| Command::Incident(IncidentCommand::Action(c));
        let postmortem = |c| Command::Incident(IncidentCommand::Postmortem(c));
        assert_eq!(
            ok("/incident action track 2 OPS-45 https://acme.atlassian.net/browse/OPS-45"),
            action(ActionCommand::Track {
                n: n(2),
                issue: "OPS-45".into(),
                url: Some("https://acme.atlassian.net/browse/OPS-45".into()),
            })
        );
        assert_eq!(
            ok("/incident action track #1 octo/ops#12"),
            action(ActionCommand::Track {
                n: n(1),
                issue: "octo/ops#12".into(),
                url: None,
            })
        );
        // Not an issue key: an action of its own.
        assert!(matches!(
            ok("/incident action track 3 dashboards"),
            Command::Incident(IncidentCommand::Action(ActionCommand::Add { .. }))
        ));
        assert_eq!(
            parse("/incident action track 2 #4 not-a-url"),
            Some(Err(CommandError::Usage(INCIDENT_USAGE)))
        );
        assert_eq!(
            ok("/incident action reopen 2"),
            action(ActionCommand::Reopen(n(2)))
        );
        assert_eq!(
            ok("/incident postmortem owner @Bo Li"),
            postmortem(PostmortemCommand::Owner("Bo Li".into()))
        );
        assert_eq!(
            ok("/incident postmortem due 2026-12-20"),
            postmortem(PostmortemCommand::Due(
                NaiveDate::from_ymd_opt(2026, 12, 20).unwrap()
            ))
        );
        assert_eq!(
            parse("/incident postmortem due 2026-02-30"),
            Some(Err(CommandError::BadDate("2026-02-30".into())))
        );
        assert_eq!(
            ok("/incident postmortem review https://github.com/o/r/pull/7"),
            postmortem(PostmortemCommand::Review {
                pull: Some("https://github.com/o/r/pull/7".into())
            })
        );
        assert_eq!(
            ok("/incident pm published"),
            postmortem(PostmortemCommand::Published)
        );
        for text in [
            "/incident postmortem",
            "/incident postmortem owner",
            "/incident postmortem review soon please",
            "/incident postmortem published now",
            "/incident postmortem lunch",
        ] {
            assert_eq!(
                parse(text),
                Some(Err(CommandError::Usage(INCIDENT_USAGE))),
                "{text}"
            );
        }
        assert!(IncidentCommand::Postmortem(PostmortemCommand::Published).writes_story());
        assert_eq!(
            aimed("/incident action done 2", "cmd:t.1"),
            "/incident --incident=cmd:t.1 action done 2"
        );
    }

    #[test]
    fn actions_read_horizon_owner_and_due_date() {
        let add = |horizon, text: &str, owner: Option<&str>, due: Option<(i32, u32, u32)>| {
            Command::Incident(IncidentCommand::Action(ActionCommand::Add {
                horizon,
                text: text.into(),
                owner: owner.map(Into::into),
                due: due.map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap()),
            }))
        };
        let cases = [
            (
                "/incident action now scaled workers @Ana",
                add(Horizon::Now, "scaled workers", Some("Ana"), None),
            ),
            (
                "/incident action queue-age alert @Bo Li due 2026-12-20",
                add(
                    Horizon::Short,
                    "queue-age alert",
                    Some("Bo Li"),
                    Some((2026, 12, 20)),
                ),
            ),
            (
                "/incident action LONG redesign retries due 2027-03-31 @Cy",
                add(
                    Horizon::Long,
                    "redesign retries",
                    Some("Cy"),
                    Some((2027, 3, 31)),
                ),
            ),
            (
                "/incident action short due diligence on vendors",
                add(Horizon::Short, "due diligence on vendors", None, None),
            ),
            (
                "/incident action remove 3 stale flags",
                add(Horizon::Short, "remove 3 stale flags", None, None),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(ok(text), expected, "{text}");
        }
        let numbered = |c| Command::Incident(IncidentCommand::Action(c));
        assert_eq!(
            ok("/incident action done 2"),
            numbered(ActionCommand::Done(n(2)))
        );
        assert_eq!(
            ok("/incident action remove #3"),
            numbered(ActionCommand::Remove(n(3)))
        );
        assert_eq!(
            ok("/incident action restore 3"),
            numbered(ActionCommand::Restore(n(3)))
        );
        assert_eq!(
            ok("/incident action edit 1 alert on queue age @Bo due 2027-01-02"),
            numbered(ActionCommand::Edit {
                n: n(1),
                text: "alert on queue age".into(),
                owner: Some("Bo".into()),
                due: NaiveDate::from_ymd_opt(2027, 1, 2),
            })
        );
        assert_eq!(
            parse("/incident action x due 2026-13-01"),
            Some(Err(CommandError::BadDate("2026-13-01".into())))
        );
        for text in ["/incident action now", "/incident action due 2026-12-20"] {
            assert_eq!(
                parse(text),
                Some(Err(CommandError::Usage(INCIDENT_USAGE))),
                "{text}"
            );
        }
    }

    #[test]
    fn a_command_may_name_its_incident() {
        let text = "/timeline --incident=cmd:t.1 edit 3 new text";
        assert_eq!(target(text), Some("cmd:t.1"));
        assert_eq!(parse(text), parse("/timeline edit 3 new text"));
        assert_eq!(
            parse("/incident --incident=1700000000.000100 factor f"),
            parse("/incident factor f")
        );
        assert_eq!(target("/incident factor f"), None);
        // Found by fuzzing: a second target would be a note's text that reads as a target.
        assert_eq!(
            parse("/timeline --incident=a --incident=b x"),
            Some(Err(CommandError::Usage(TIMELINE_USAGE)))
        );
        assert_eq!(target("/timeline in the end --incident=x"), None);
    }

    #[test]
    fn commands_count_only_at_the_very_start() {
        for text in [
            "wait, nobody ran /incident resolve?",
            "CRLF test line1\r\nline2\r\n/timeline injected via CRLF",
            " /timeline leading space",
            "/timelines are great",
            "/incidents",
            "",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn non_ascii_text_never_panics() {
        for text in [
            "/ti",
            "é",
            "/incidenté",
            "/timeline\u{200b}x",
            "/incident start ✓",
        ] {
            let _ = parse(text);
        }
        assert_eq!(parse("/timeline\u{200b}x"), None);
    }
}
