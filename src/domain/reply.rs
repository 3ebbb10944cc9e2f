//! The words Scribe answers a command with, the same on every platform.

use super::assist::{Failure, Pending};
use super::engine::{Change, Outcome};
use chrono::NaiveDate;

use super::incident::{Incident, Stage};

/// The answer to a command the store refused: none of it happened, and since no platform sends
/// a command again by itself, the user is the one to (a command stored once is never stored
/// twice, so sending it again is safe).
pub const NOT_RECORDED: &str =
    "Scribe could not store that command, so nothing was recorded. Please send it again.";

/// The answer to "Add to timeline" on a message of a channel's incident.
pub const SHORTCUT_ADDED: &str = "Added to the incident's timeline, at the message's time.";

/// The answer to "Add to timeline" on a message that belongs to no incident.
pub const SHORTCUT_OUTSIDE: &str = "That message is not part of an incident, so nothing was added. \
     \"Add to timeline\" works on the messages of a channel's incident (/incident start opens one).";

/// The answer to "Add to timeline" on a command or on the platform's own notice (someone
/// joined), which no mark makes an entry.
pub const SHORTCUT_NOT_AN_ENTRY: &str = "Commands and the platform's own notices do not go on \
     the timeline, so nothing was added. Use \"Add to timeline\" on what people said.";

/// What "Add to timeline" did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    Added,
    /// The message belongs to no incident of its channel.
    Outside,
    /// A command or a notice: no mark makes it an entry.
    NotAnEntry,
}

impl Marked {
    pub fn text(self) -> &'static str {
        match self {
            Marked::Added => SHORTCUT_ADDED,
            Marked::Outside => SHORTCUT_OUTSIDE,
            Marked::NotAnEntry => SHORTCUT_NOT_AN_ENTRY,
        }
    }
}

/// The answer to "Add to timeline" when the store refused it.
pub const SHORTCUT_NOT_RECORDED: &str =
    "Scribe could not store that, so nothing was added. Please use \"Add to timeline\" again.";

/// The answer to a click under a start headline whose incident is no longer the channel's
/// open one.
pub const HEADLINE_STALE: &str = "That headline is of an incident that is closed or no longer \
     this channel's open one, so nothing was changed. Use the newest headline, or /incident status.";

/// The start form's answer when it was submitted without a title.
pub const FORM_NEEDS_TITLE: &str = "An incident needs a title: what is broken, for whom.";

/// What the asker's own "thinking…" becomes when a slow answer is posted for the channel.
pub const ANSWERED_IN_CHANNEL: &str = "Done: the answer is in the channel.";

/// The answer to a button, select or form Scribe did not make (or no longer has).
pub const UNKNOWN_CONTROL: &str =
    "Scribe does not know that button or form. Please use the slash command instead.";

/// The answer to `/incident search` when the index cannot be read.
pub const SEARCH_FAILED: &str =
    "Scribe could not search past incidents just now (the cause is in its log). Please try again.";

/// The answer to `/incident similar` when no closed incident is like this one.
pub const NO_SIMILAR: &str = "No past incident looks like this one yet.";

/// The answer to `/incident web` when the link could not be stored.
pub const NO_WEB_LINK: &str =
    "Scribe could not make a sign-in link just now. Please ask again with /incident web.";

/// The answer to `/incident web`: a link for whoever asked, and only for them.
pub fn web_link(link: &str) -> String {
    format!(
        "Your sign-in link to the web workspace, for you only: it works once, within 10 minutes. {link}"
    )
}

/// Why a draft is missing, as users are told (in answers, job reports and job states): the
/// cause names template files, lines and source, which are the operator's, so it goes to the log.
pub const DRAFT_FAILED: &str =
    "the postmortem template could not be rendered (the cause is in Scribe's log)";

/// The answer to a command whose draft could not be rendered.
pub fn no_draft() -> String {
    format!(
        "No draft: {DRAFT_FAILED}. Every event is kept, so the draft comes back once the template is fixed."
    )
}

/// The answer to a command whose id had been stored before (Slack names a command's event
/// after its `trigger_id`): nothing new was stored, and `stored` is what was.
pub fn already_recorded(stored: &str) -> String {
    let stored: String = stored.chars().take(300).collect();
    format!("Already recorded: {stored}. Nothing new was stored.")
}

/// A one-line answer to the command that had `outcome` on `incident`.
pub fn text(outcome: &Outcome, incident: Option<&Incident>) -> String {
    let title = incident.map_or("", |i| i.title.as_str());
    match outcome {
        Outcome::Opened => match incident.and_then(|i| i.severity) {
            Some(severity) => format!(
                "Incident opened: {title} (severity {severity}). Add entries with /timeline <text> or a 📌 reaction; close with /incident close."
            ),
            None => format!(
                "Incident opened: {title}. Add entries with /timeline <text> or a 📌 reaction; set a severity with /incident severity <level>."
            ),
        },
        Outcome::AlreadyOpen => {
            format!("An incident is already open in this channel: {title}. Close it first.")
        }
        Outcome::NoOpenIncident => {
            "No open incident in this channel: start one with /incident start <title>.".to_string()
        }
        Outcome::Recorded { at, before_start } => {
            let when = at.format("%H:%M:%S UTC");
            if *before_start {
                format!(
                    "Noted at {when}. No incident is open yet: the entry counts toward the next /incident start here."
                )
            } else {
                format!("Added to the timeline at {when}.")
            }
        }
        Outcome::SeveritySet(severity) => format!("Severity set to {severity}."),
        Outcome::LeadSet(lead) => format!("Lead set to {lead}."),
        Outcome::ImpactSet => "Impact recorded.".to_string(),
        Outcome::SummarySet => "Summary recorded.".to_string(),
        Outcome::Curated(change) => curated(change),
        Outcome::TitleSet => "Title changed.".to_string(),
        Outcome::WebLink => {
            "Your sign-in link to the web workspace could not be made: the web workspace is off here."
                .to_string()
        }
        Outcome::Resolved => format!(
            "Resolved: {title}. Close the incident with /incident close when the response is over."
        ),
        Outcome::AlreadyResolved => "This incident is already resolved.".to_string(),
        Outcome::Closed => format!("Incident closed: {title}. Drafting the postmortem."),
        Outcome::ShowStatus(today) => {
            incident.map_or_else(String::new, |incident| status(incident, *today))
        }
        Outcome::ShowTimeline => incident.map_or_else(String::new, timeline_list),
        Outcome::ShowDraft => "Drafting the postmortem preview.".to_string(),
        Outcome::Publish => format!("Publishing the postmortem draft of {title}."),
        // The adapters answer these from the search index; this is what is left without one.
        Outcome::Search(_) | Outcome::Similar => {
            "Search is not available here: Scribe has no store of past incidents.".to_string()
        }
        Outcome::AssistAsked(section) => format!(
            "Asking the language model for suggestions ({}). They are posted here once checked; \
none enters the draft until someone accepts it with /incident assist accept N.",
            section.map_or(
                "summary, impact, contributing factors, what worked, what to improve",
                |s| s.heading()
            )
        ),
        Outcome::ShowSuggestions => incident.map_or_else(String::new, |incident| {
            suggestions(&incident.suggestions, incident.suggestions_dropped)
        }),
        Outcome::AssistOff => {
            "Writing help is off here: no language model is configured ([assist] base_url)."
                .to_string()
        }
        Outcome::AssistPrivate => {
            "This incident is private: Scribe never sends it to a language model.".to_string()
        }
        Outcome::Suggested { kept, dropped } => {
            format!("{kept} suggestions recorded, {dropped} dropped by the checks.")
        }
        Outcome::Refused(error) => error.to_string(),
    }
}

/// The checked suggestions, numbered: "1. Summary: … (from #3, #7)". `dropped` failed the
/// checks and are only counted.
pub fn suggestions(pending: &[Pending], dropped: u32) -> String {
    let gone = match dropped {
        0 => String::new(),
        1 => "\n1 more was dropped: it cited nothing, cited what does not exist, or said a \
time, number, name or URL that what it cites does not."
            .to_string(),
        n => format!(
            "\n{n} more were dropped: they cited nothing, cited what does not exist, or said a \
time, number, name or URL that what they cite does not."
        ),
    };
    if pending.is_empty() {
        return format!(
            "The language model suggested nothing that passed Scribe's checks. Nothing was \
changed; /incident assist asks again.{gone}"
        );
    }
    let mut text = "Suggestions from the language model, checked against the timeline. None is \
in the draft until someone accepts it with /incident assist accept N:"
        .to_string();
    for Pending { n, suggestion } in pending {
        let cites: Vec<String> = suggestion.cites.iter().map(ToString::to_string).collect();
        text.push_str(&format!(
            "\n{n}. {}: {} (from {})",
            suggestion.section.heading(),
            suggestion.text,
            cites.join(", ")
        ));
    }
    text + &gone
}

/// Why asking the model came to nothing, told in the channel.
pub fn assist_failed(failure: Failure) -> String {
    let why = match failure {
        Failure::Timeout => "The language model did not answer in time",
        Failure::Busy => "The language model is busy (it asked Scribe to wait)",
        Failure::Unavailable => "The language model could not be reached or failed",
        Failure::Refused => "The language model refused the request (the cause is in Scribe's log)",
        Failure::Malformed => {
            "The language model's answer was not the suggestions Scribe asked for"
        }
    };
    format!("{why}. Nothing was changed; ask again with /incident assist.")
}

/// Told in the channel when an action's issue was deleted in the tracker: Scribe does not make
/// another one by itself.
pub fn issue_gone(n: u32, key: &str, tracker: &str) -> String {
    format!(
        "The issue {key} of action #{n} is gone from {tracker} (deleted?). Scribe will not make another by itself: link a new one with /incident action track {n} <issue> [URL]."
    )
}

/// `/incident status` on `today` (the team's day): the incident in one line, and once it is
/// closed, its postmortem's state, owner and due date.
pub fn status(incident: &Incident, today: NaiveDate) -> String {
    let severity = incident
        .severity
        .map_or("not set".to_string(), |s| s.to_string());
    let lead = incident.lead.as_deref().unwrap_or("not set");
    format!(
        "{status}: {title} · severity {severity} · lead {lead} · started {started} · {entries} timeline entries · {people} participants",
        status = incident.status().as_str(),
        title = incident.title,
        started = incident.started_at.format("%Y-%m-%d %H:%M UTC"),
        entries = incident.visible_timeline().count(),
        people = incident.participants.len(),
    ) + &suggestions_line(incident)
        + &postmortem_line(incident, today)
}

/// ` · 2 suggestions pending (/incident assist list)`, when some wait for a person.
fn suggestions_line(incident: &Incident) -> String {
    match incident.suggestions.len() {
        0 => String::new(),
        1 => " · 1 suggestion pending (/incident assist list)".to_string(),
        n => format!(" · {n} suggestions pending (/incident assist list)"),
    }
}

/// ` · postmortem <state> · owner <name> · due <date>`, once the incident is closed.
fn postmortem_line(incident: &Incident, today: NaiveDate) -> String {
    if incident.closed_at.is_none() {
        return String::new();
    }
    let due = incident.postmortem.due;
    let mut line = format!(
        " · postmortem {} · owner {}",
        incident.postmortem_state(due, today).words(),
        incident.postmortem_owner()
    );
    if let Some(due) = due {
        line.push_str(&format!(" · due {}", due.format("%Y-%m-%d")));
    }
    line
}

/// What a curation command did, naming what it did it to.
fn curated(change: &Change) -> String {
    match change {
        Change::EntryEdited(n) => format!("Timeline entry {n} edited; its original text is kept."),
        Change::EntryMoved(n, at) => format!(
            "Timeline entry {n} moved to {}; its original time is kept.",
            at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        Change::EntryHidden(n) => format!(
            "Timeline entry {n} hidden from the draft; /timeline restore {} brings it back.",
            n.get()
        ),
        Change::EntryRestored(n) => format!("Timeline entry {n} is back in the draft."),
        Change::ItemAdded(list, n) => format!("Added as {} {n}.", list.item()),
        Change::ItemEdited(list, n) => {
            format!("The {} {n} now reads as you wrote it.", list.item())
        }
        Change::ItemHidden(list, n) => format!(
            "The {} {n} is hidden from the draft; /incident {} restore {} brings it back.",
            list.item(),
            list.command(),
            n.get()
        ),
        Change::ItemRestored(list, n) => format!("The {} {n} is back in the draft.", list.item()),
        Change::ReferenceAdded(label) => format!("Reference added under \"{label}\"."),
        Change::ReferenceChanged(n) => format!("Reference {n} changed."),
        Change::ActionAdded(n) => format!("Action item {n} added."),
        Change::ActionEdited(n) => format!("Action item {n} changed."),
        Change::ActionDone(n) => format!("Action item {n} marked done."),
        Change::ActionHidden(n) => format!(
            "Action item {n} hidden from the draft; /incident action restore {} brings it back.",
            n.get()
        ),
        Change::ActionRestored(n) => format!("Action item {n} is back in the draft."),
        Change::ActionReopened(n) => format!("Action item {n} is open again."),
        Change::ActionTracked(n, issue) => format!("Action item {n} is tracked as {issue}."),
        Change::PostmortemOwner(owner) => format!("{owner} owns the postmortem."),
        Change::PostmortemDue(due) => format!("The postmortem is due {}.", due.format("%Y-%m-%d")),
        Change::PostmortemStage(Stage::Draft) => "The postmortem is a draft.".to_string(),
        Change::PostmortemStage(Stage::InReview) => "The postmortem is in review.".to_string(),
        Change::PostmortemStage(Stage::Published) => "The postmortem is published.".to_string(),
        Change::SuggestionAccepted { n, section, item } => match (section.list(), item) {
            (Some(list), Some(item)) => format!(
                "Suggestion {n} accepted as {} {item}, in your name, marked as assisted.",
                list.item()
            ),
            _ => format!(
                "Suggestion {n} accepted as the {}, in your name, marked as assisted.",
                section.heading().to_lowercase()
            ),
        },
        Change::MadePrivate => {
            "This incident is private now: Scribe never sends it to a language model.".to_string()
        }
    }
}

/// The most an entry list answer holds: Discord's messages end at 2,000 characters.
const LIST_BUDGET: usize = 1800;
/// The most of one entry's text a list line shows.
const LIST_TEXT: usize = 90;

/// `/timeline list`: every entry in time order with its number, author and time; hidden ones
/// marked, so that they can be restored.
pub fn timeline_list(incident: &Incident) -> String {
    if incident.timeline.is_empty() {
        return "No timeline entries yet: add one with /timeline <text> or a 📌 reaction."
            .to_string();
    }
    let start = incident.started_at.date_naive();
    let mut out = format!("Timeline of {} (times UTC):", incident.title);
    for (shown, entry) in incident.timeline.iter().enumerate() {
        let time = if entry.at.date_naive() == start {
            entry.at.format("%H:%M:%S").to_string()
        } else {
            entry.at.format("%Y-%m-%d %H:%M:%S").to_string()
        };
        let mut text: String = entry
            .text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(LIST_TEXT)
            .collect();
        if entry.text.chars().count() > LIST_TEXT {
            text.push('…');
        }
        let hidden = if entry.hidden { " (hidden)" } else { "" };
        let line = format!("\n#{} {time} · {} · {text}{hidden}", entry.n, entry.author);
        if out.len() + line.len() > LIST_BUDGET {
            out.push_str(&format!(
                "\n… and {} more: the draft (/incident draft) shows them all.",
                incident.timeline.len() - shown
            ));
            break;
        }
        out.push_str(&line);
    }
    out
}

/// What is left to do after follow-up work failed for good.
#[derive(Debug, Clone, Copy)]
pub enum Remedy<'a> {
    /// The draft of this incident is still there.
    Draft { incident: &'a str },
    /// Publishing this incident can be tried again.
    Publish { incident: &'a str },
    /// No incident was opened: start it where the command was typed.
    StartHere,
    /// An action's issue could not be made or updated.
    Tracker,
}

/// What Scribe posts in an incident's channel when follow-up work failed for good: what it
/// could not do, why, and what is left to do.
pub fn job_failed(what: &str, reason: &str, remedy: Remedy) -> String {
    let remedy = match remedy {
        Remedy::Draft { incident } => format!(
            "Nothing is lost: the draft stays available with `/incident draft` and from the API at /api/incidents/{incident}/postmortem.md."
        ),
        Remedy::Publish { incident } => format!(
            "Nothing is lost: `scribe publish {incident}` tries again, and the draft stays available with `/incident draft`."
        ),
        Remedy::StartHere => "Start the incident in an existing channel instead.".to_string(),
        Remedy::Tracker => "Nothing is lost: the action stays in the draft. Once the tracker's settings or token are fixed, edit the action to try again, or link an issue with /incident action track N <issue> [URL].".to_string(),
    };
    format!("⚠️ Scribe could not {what}: {reason}. {remedy}")
}
