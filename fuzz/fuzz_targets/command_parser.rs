//! `domain::command::parse` on any text: it never panics, and a command it accepts reads back
//! the same from its canonical text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scribe::domain::command::{
    ActionCommand, AssistCommand, Command, EntryCommand, IncidentCommand, ItemChange, NewTime,
    PostmortemCommand, parse,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(Ok(command)) = parse(text) {
        let canonical = render(&command);
        assert_eq!(
            parse(&canonical),
            Some(Ok(command)),
            "{text:?} reads differently as {canonical:?}"
        );
    }
});

/// The text a person would type for `command`.
fn render(command: &Command) -> String {
    use IncidentCommand::*;
    match command {
        Command::Timeline(note) => match note.at {
            Some(at) => format!("/timeline {} {}", at.format("%H:%M:%S"), note.text),
            None => format!("/timeline {}", note.text),
        },
        Command::Entry(entry) => match entry {
            EntryCommand::List => "/timeline list".to_string(),
            EntryCommand::Edit { n, text } => format!("/timeline edit {} {text}", n.get()),
            EntryCommand::Move { n, to } => match to {
                NewTime::TimeOfDay(t) => {
                    format!("/timeline move {} {}", n.get(), t.format("%H:%M:%S"))
                }
                NewTime::Local(t) => {
                    format!(
                        "/timeline move {} {}",
                        n.get(),
                        t.format("%Y-%m-%d %H:%M:%S")
                    )
                }
            },
            EntryCommand::Remove(n) => format!("/timeline remove {}", n.get()),
            EntryCommand::Restore(n) => format!("/timeline restore {}", n.get()),
        },
        Command::Incident(incident) => {
            let rest = match incident {
                // The flag first: a title may hold another `--sev` word after it.
                Start { title, severity } => match severity {
                    Some(severity) => format!("start --sev {} {title}", severity.code()),
                    None => format!("start {title}"),
                },
                Severity(severity) => format!("severity {}", severity.code()),
                Lead(name) => format!("lead {name}"),
                Impact(text) => format!("impact {text}"),
                Summary(text) => format!("summary {text}"),
                Story { list, change } => {
                    let word = match list {
                        scribe::domain::StoryList::Factors => "factor",
                        scribe::domain::StoryList::Worked => "worked",
                        scribe::domain::StoryList::Improve => "improve",
                    };
                    match change {
                        ItemChange::Add(text) => format!("{word} {text}"),
                        ItemChange::Edit(n, text) => format!("{word} edit {} {text}", n.get()),
                        ItemChange::Remove(n) => format!("{word} remove {}", n.get()),
                        ItemChange::Restore(n) => format!("{word} restore {}", n.get()),
                    }
                }
                Ref { label, text } => format!("ref {label} {text}"),
                RefChange { n, change } => match change {
                    scribe::domain::RefChange::Text(text) => format!("ref edit {} {text}", n.get()),
                    scribe::domain::RefChange::Hide => format!("ref remove {}", n.get()),
                    scribe::domain::RefChange::Restore => format!("ref restore {}", n.get()),
                },
                // The horizon always written: `action done 3` would read as a number.
                Action(ActionCommand::Add {
                    horizon,
                    text,
                    owner,
                    due,
                }) => {
                    let mut out = format!("action {} {text}", horizon.as_str());
                    if let Some(owner) = owner {
                        out.push_str(&format!(" @{owner}"));
                    }
                    if let Some(due) = due {
                        out.push_str(&format!(" due {}", due.format("%Y-%m-%d")));
                    }
                    out
                }
                Action(ActionCommand::Edit {
                    n,
                    text,
                    owner,
                    due,
                }) => {
                    let mut out = format!("action edit {} {text}", n.get());
                    if let Some(owner) = owner {
                        out.push_str(&format!(" @{owner}"));
                    }
                    if let Some(due) = due {
                        out.push_str(&format!(" due {}", due.format("%Y-%m-%d")));
                    }
                    out
                }
                Action(ActionCommand::Done(n)) => format!("action done {}", n.get()),
                Action(ActionCommand::Reopen(n)) => format!("action reopen {}", n.get()),
                Action(ActionCommand::Track { n, issue, url }) => match url {
                    Some(url) => format!("action track {} {issue} {url}", n.get()),
                    None => format!("action track {} {issue}", n.get()),
                },
                Postmortem(PostmortemCommand::Owner(name)) => format!("postmortem owner {name}"),
                Postmortem(PostmortemCommand::Due(due)) => {
                    format!("postmortem due {}", due.format("%Y-%m-%d"))
                }
                Postmortem(PostmortemCommand::Review { pull }) => match pull {
                    Some(url) => format!("postmortem review {url}"),
                    None => "postmortem review".to_string(),
                },
                Postmortem(PostmortemCommand::Published) => "postmortem published".to_string(),
                Action(ActionCommand::Remove(n)) => format!("action remove {}", n.get()),
                Action(ActionCommand::Restore(n)) => format!("action restore {}", n.get()),
                Resolve { note } => format!("resolve {}", note.as_deref().unwrap_or_default()),
                Close => "close".to_string(),
                Status => "status".to_string(),
                Draft { publish } => format!("draft{}", if *publish { " --publish" } else { "" }),
                Title(text) => format!("title {text}"),
                Web => "web".to_string(),
                Search(words) => format!("search {words}"),
                Similar => "similar".to_string(),
                Private => "private".to_string(),
                Assist(AssistCommand::Ask(section)) => match section {
                    Some(section) => format!("assist {}", section.as_str()),
                    None => "assist".to_string(),
                },
                Assist(AssistCommand::List) => "assist list".to_string(),
                Assist(AssistCommand::Accept(n)) => format!("assist accept {}", n.get()),
                Assist(AssistCommand::Offered(offer)) => format!(
                    "assist suggested {}",
                    serde_json::to_string(offer).expect("an offer serialises")
                ),
            };
            format!("/incident {rest}")
        }
    }
}
