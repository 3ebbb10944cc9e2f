//! `domain::command::parse` on any text: it never panics, and a command it accepts reads back
//! the same from its canonical text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scribe::domain::command::{Command, IncidentCommand, parse};

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
                Action { text, owner } => match owner {
                    Some(owner) => format!("action {text} @{owner}"),
                    None => format!("action {text}"),
                },
                Resolve { note } => format!("resolve {}", note.as_deref().unwrap_or_default()),
                Close => "close".to_string(),
                Status => "status".to_string(),
                Draft { publish } => format!("draft{}", if *publish { " --publish" } else { "" }),
            };
            format!("/incident {rest}")
        }
    }
}
