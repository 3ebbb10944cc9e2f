//! The command grammar, the same on every platform: text in, a [`Command`] or a usage error out.

use chrono::NaiveTime;

use super::severity::{InvalidSeverity, Severity};

pub const INCIDENT_USAGE: &str = "usage: /incident start <title> [--sev <level>] | severity <level> \
| lead <name> | impact <text> | summary <text> | action <text> [@owner] | resolve [note] | close \
| status | draft [--publish]";
pub const TIMELINE_USAGE: &str = "usage: /timeline <text> or /timeline HH:MM[:SS] <text>";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Incident(IncidentCommand),
    Timeline(TimelineNote),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentCommand {
    Start {
        title: String,
        severity: Option<Severity>,
    },
    Severity(Severity),
    Lead(String),
    Impact(String),
    Summary(String),
    Action {
        text: String,
        owner: Option<String>,
    },
    Resolve {
        note: Option<String>,
    },
    Close,
    Status,
    /// Preview the draft; with `--publish`, publish it again too.
    Draft {
        publish: bool,
    },
}

/// `/timeline [HH:MM[:SS]] <text>`: the text is never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineNote {
    /// A time of day in the team's zone, for an entry written after the fact.
    pub at: Option<NaiveTime>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Usage(&'static str),
    #[error("unknown /incident subcommand `{0}`; {INCIDENT_USAGE}")]
    UnknownSubcommand(String),
    #[error(transparent)]
    Severity(#[from] InvalidSeverity),
}

/// Reads a message's text. `None`: the text is not a command (commands count only at the very
/// start of a message); `Some(Err)`: it is one, but malformed.
pub fn parse(text: &str) -> Option<Result<Command, CommandError>> {
    if let Some(rest) = strip_command(text, "/incident") {
        Some(parse_incident(rest).map(Command::Incident))
    } else {
        strip_command(text, "/timeline").map(|rest| parse_timeline(rest).map(Command::Timeline))
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

fn parse_incident(rest: &str) -> Result<IncidentCommand, CommandError> {
    let rest = rest.trim();
    let (sub, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let required = |args: &str| {
        if args.is_empty() {
            Err(CommandError::Usage(INCIDENT_USAGE))
        } else {
            Ok(args.to_string())
        }
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
        "action" => {
            let (text, owner) = split_owner(&required(args)?);
            Ok(IncidentCommand::Action { text, owner })
        }
        "resolve" | "resolved" => Ok(IncidentCommand::Resolve {
            note: (!args.is_empty()).then(|| args.to_string()),
        }),
        "close" => Ok(IncidentCommand::Close),
        "status" => Ok(IncidentCommand::Status),
        "draft" => match args {
            "" => Ok(IncidentCommand::Draft { publish: false }),
            "--publish" => Ok(IncidentCommand::Draft { publish: true }),
            _ => Err(CommandError::Usage(INCIDENT_USAGE)),
        },
        other => Err(CommandError::UnknownSubcommand(other.to_string())),
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

/// An action's owner is its trailing mention: the text from the last ` @` on, when short.
fn split_owner(args: &str) -> (String, Option<String>) {
    if let Some(i) = args.rfind(" @") {
        let owner = args[i + 2..].trim();
        if !owner.is_empty() && owner.split_whitespace().count() <= 3 && owner.chars().count() <= 64
        {
            return (args[..i].trim().to_string(), Some(owner.to_string()));
        }
    }
    (args.to_string(), None)
}

fn parse_timeline(rest: &str) -> Result<TimelineNote, CommandError> {
    let rest = rest.trim();
    if rest.is_empty() {
        return Err(CommandError::Usage(TIMELINE_USAGE));
    }
    let (first, after) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    match parse_time_of_day(first) {
        Some(_) if after.is_empty() => Err(CommandError::Usage(TIMELINE_USAGE)),
        Some(at) => Ok(TimelineNote {
            at: Some(at),
            text: after.to_string(),
        }),
        None => Ok(TimelineNote {
            at: None,
            text: rest.to_string(),
        }),
    }
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
                Action {
                    text: "Keep 10x capacity".into(),
                    owner: Some("Martin Kowalski".into()),
                },
            ),
            (
                "/incident action Write the runbook",
                Action {
                    text: "Write the runbook".into(),
                    owner: None,
                },
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
