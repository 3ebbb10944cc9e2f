//! Scribe's slash commands on Discord: their registration, and an invocation turned back into
//! the command text every platform shares (`/incident start …`), which the core parses.
//!
//! Discord cannot mix subcommands with plain options at one level, so `/timeline` is a set of
//! subcommands (`add`, `list`, `edit`, `move`, `remove`, `restore`), and the lists of
//! `/incident` (`factor`, `worked`, `improve`, `action`) are subcommand groups.
//!
//! The text is what the shared grammar reads, word for word as a Slack or console user would
//! type it. A note or an item whose text reads like a curation command (`/timeline add` with
//! the text `remove 3`, or `edit 2 the config`) is written as it is, so it means on Discord
//! exactly what it means everywhere else: the grammar decides (`remove 3 pods` stays a note,
//! `remove 3` removes entry 3, `remove` alone gets the usage). A note is always a note when it
//! is given its time (`at`).
//!
//! A subcommand without one of its required options (which Discord's client does not send)
//! becomes the bare command (`/timeline`, `/incident factor`), which the core answers with its
//! usage: the options that are there never move into the missing one's place.

use serenity::all::{
    ButtonStyle, CommandDataOption, CommandDataOptionValue, CommandOptionType, CommandType,
    CreateActionRow, CreateButton, CreateCommand, CreateCommandOption, CreateInputText,
    CreateModal, CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption, InputTextStyle,
};

/// The message command (Apps → "Add to timeline"), Slack's shortcut of the same name.
pub const ADD_TO_TIMELINE: &str = "Add to timeline";

/// The modal a start without a title opens, and its two inputs.
pub const START_MODAL: &str = "start_incident";
const TITLE_INPUT: &str = "title";
const SEVERITY_INPUT: &str = "severity";
/// The longest title and severity read from a submitted modal (Discord's own limits are
/// the modal's, which a forged payload need not keep).
const MAX_TITLE: usize = 200;
const MAX_SEVERITY: usize = 16;

/// The controls under a start's answer: the severity select and two buttons.
pub const SEVERITY_SELECT: &str = "severity";
pub const LEAD_ME: &str = "lead_me";
pub const RESOLVE: &str = "resolve";

/// The severities Discord offers: label, what it means, the grammar's code.
const SEVERITIES: [(&str, &str, &str); 4] = [
    ("SEV1", "critical", "sev1"),
    ("SEV2", "high", "sev2"),
    ("SEV3", "medium", "sev3"),
    ("SEV4", "low", "sev4"),
];

/// A slash command as Discord delivered it, without Discord's types: the command, the
/// subcommand group and the subcommand, and the options by name (a user option carries the
/// user's display name, an integer its digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub command: String,
    pub group: Option<String>,
    pub subcommand: Option<String>,
    pub options: Vec<(String, String)>,
}

/// The lists of `/incident` whose items are added, removed and restored by number.
const STORY_LISTS: [&str; 3] = ["factor", "worked", "improve"];

impl Invocation {
    /// Reads an interaction's data; user options are named with `name_of`.
    pub fn from_options(
        command: &str,
        options: &[CommandDataOption],
        name_of: impl Fn(serenity::all::UserId) -> String,
    ) -> Self {
        let flat = |options: &[CommandDataOption]| -> Vec<(String, String)> {
            options
                .iter()
                .filter_map(|option| {
                    let value = match &option.value {
                        CommandDataOptionValue::String(text) => text.clone(),
                        CommandDataOptionValue::Boolean(flag) => flag.to_string(),
                        CommandDataOptionValue::Integer(n) => n.to_string(),
                        CommandDataOptionValue::User(user) => name_of(*user),
                        _ => return None,
                    };
                    Some((option.name.clone(), value))
                })
                .collect()
        };
        let subcommand = |option: Option<&CommandDataOption>| match option {
            Some(CommandDataOption {
                name,
                value: CommandDataOptionValue::SubCommand(inner),
                ..
            }) => Some((name.clone(), flat(inner))),
            _ => None,
        };
        let (group, subcommand, options) = match options.first() {
            Some(CommandDataOption {
                name,
                value: CommandDataOptionValue::SubCommandGroup(inner),
                ..
            }) => match subcommand(inner.first()) {
                Some((sub, options)) => (Some(name.clone()), Some(sub), options),
                None => (Some(name.clone()), None, vec![]),
            },
            first => match subcommand(first) {
                Some((sub, options)) => (None, Some(sub), options),
                None => (None, None, flat(options)),
            },
        };
        Invocation {
            command: command.to_string(),
            group,
            subcommand,
            options,
        }
    }

    /// `/incident start` without a title: Discord asks for it in a modal
    /// ([`start_modal`]) rather than Scribe answering with the usage.
    pub fn is_untitled_start(&self) -> bool {
        self.command == "incident"
            && self.group.is_none()
            && self.subcommand.as_deref() == Some("start")
            && self.option("title").is_none()
    }

    /// The value of option `name`, trimmed; `None` when missing or blank.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The `number` option, when it is plain digits.
    fn number(&self) -> Option<&str> {
        self.option("number")
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
    }

    /// The command as text (`/incident action long Shard the queue @Ana due 2026-12-20`), or
    /// `None` for a command, group or subcommand Scribe does not have.
    pub fn text(&self) -> Option<String> {
        let sub = self.subcommand.as_deref()?;
        match (self.command.as_str(), self.group.as_deref()) {
            ("timeline", None) => self.timeline(sub),
            ("incident", None) => self.incident(sub),
            ("incident", Some("action")) => self.action(sub),
            ("incident", Some("assist")) => self.assist(sub),
            ("incident", Some(list)) if STORY_LISTS.contains(&list) => self.story(list, sub),
            _ => None,
        }
    }

    fn timeline(&self, sub: &str) -> Option<String> {
        let text = match sub {
            "add" => self.option("text").map(|text| {
                let mut words = vec!["/timeline"];
                words.extend(self.option("at"));
                words.push(text);
                words.join(" ")
            }),
            "list" => Some("/timeline list".to_string()),
            "edit" => (self.number().zip(self.option("text")))
                .map(|(n, text)| format!("/timeline edit {n} {text}")),
            "move" => (self.number().zip(self.option("time")))
                .map(|(n, time)| format!("/timeline move {n} {time}")),
            "remove" | "restore" => self.number().map(|n| format!("/timeline {sub} {n}")),
            _ => return None,
        };
        Some(text.unwrap_or_else(|| "/timeline".to_string()))
    }

    fn incident(&self, sub: &str) -> Option<String> {
        let mut words = vec!["/incident", sub];
        match sub {
            "start" => {
                words.extend(self.option("title"));
                if let Some(severity) = self.option("severity") {
                    words.extend(["--sev", severity]);
                }
            }
            "severity" => words.extend(self.option("level")),
            "lead" => words.extend(self.option("user")),
            "impact" | "summary" | "title" => words.extend(self.option("text")),
            "ref" => {
                // The grammar's label is one word: a label of several is joined by dashes.
                let label = self
                    .option("label")
                    .map(|label| label.split_whitespace().collect::<Vec<_>>().join("-"));
                if let Some((label, text)) = label.zip(self.option("text")) {
                    return Some(format!("/incident ref {label} {text}"));
                }
            }
            "resolve" => words.extend(self.option("note")),
            "search" => words.extend(self.option("words")),
            "draft" if self.option("publish") == Some("true") => words.push("--publish"),
            "close" | "status" | "draft" | "web" | "similar" | "private" => {}
            _ => return None,
        }
        Some(words.join(" "))
    }

    /// `assist ask [section]`, `assist accept N`.
    fn assist(&self, sub: &str) -> Option<String> {
        let mut words = vec!["/incident", "assist"];
        match sub {
            "ask" => words.extend(self.option("section")),
            "accept" => words.extend(["accept", self.number()?]),
            "list" => words.push("list"),
            _ => return None,
        }
        Some(words.join(" "))
    }

    /// `factor`, `worked` or `improve`: `add`, `remove N`, `restore N`.
    fn story(&self, list: &str, sub: &str) -> Option<String> {
        let text = match sub {
            "add" => self
                .option("text")
                .map(|text| format!("/incident {list} {text}")),
            "remove" | "restore" => self.number().map(|n| format!("/incident {list} {sub} {n}")),
            _ => return None,
        };
        Some(text.unwrap_or_else(|| format!("/incident {list}")))
    }

    /// `action add` (`[now|short|long] <text> [@owner] [due YYYY-MM-DD]`), `done N`,
    /// `remove N`, `restore N`.
    fn action(&self, sub: &str) -> Option<String> {
        let text = match sub {
            "add" => self.option("text").map(|text| {
                let owner = self.option("owner").map(|name| format!("@{name}"));
                let mut words = vec!["/incident", "action"];
                words.extend(
                    self.option("horizon")
                        .and_then(|h| HORIZONS.into_iter().find(|k| k.eq_ignore_ascii_case(h))),
                );
                words.push(text);
                words.extend(owner.as_deref());
                if let Some(due) = self.option("due") {
                    words.extend(["due", due]);
                }
                words.join(" ")
            }),
            "done" | "remove" | "restore" => {
                self.number().map(|n| format!("/incident action {sub} {n}"))
            }
            _ => return None,
        };
        Some(text.unwrap_or_else(|| "/incident action".to_string()))
    }
}

/// An action's horizon, as the grammar writes it.
const HORIZONS: [&str; 3] = ["now", "short", "long"];

/// `/incident` with its subcommands and groups, and `/timeline` with its subcommands, as
/// registered with Discord.
pub fn definitions() -> Vec<CreateCommand> {
    let text = |name: &str, about: &str| {
        CreateCommandOption::new(CommandOptionType::String, name, about)
            .required(true)
            .max_length(1500)
    };
    let number = |about: &str| {
        CreateCommandOption::new(CommandOptionType::Integer, "number", about)
            .required(true)
            .min_int_value(1)
    };
    let sub = |name: &str, about: &str| {
        CreateCommandOption::new(CommandOptionType::SubCommand, name, about)
    };
    let group = |name: &str, about: &str| {
        CreateCommandOption::new(CommandOptionType::SubCommandGroup, name, about)
    };
    let severity = |name: &str, required: bool| {
        let mut option = CreateCommandOption::new(CommandOptionType::String, name, "How bad it is")
            .required(required);
        for (label, about, code) in SEVERITIES {
            option = option.add_string_choice(format!("{label} ({about})"), code);
        }
        option
    };
    // `factor`, `worked`, `improve`: add an item, remove or restore one by number.
    let story = |name: &str, about: &str, one: &str, item: &str| {
        group(name, about)
            .add_sub_option(sub("add", &format!("Add {one}")).add_sub_option(text("text", item)))
            .add_sub_option(
                sub("remove", &format!("Remove {one} by number"))
                    .add_sub_option(number("Its number")),
            )
            .add_sub_option(
                sub("restore", &format!("Bring back {one} that was removed"))
                    .add_sub_option(number("Its number")),
            )
    };
    let mut horizon = CreateCommandOption::new(
        CommandOptionType::String,
        "horizon",
        "When it should be done (default: short term)",
    )
    .required(false);
    for (label, code) in [
        ("Now", "now"),
        ("Short term", "short"),
        ("Long term", "long"),
    ] {
        horizon = horizon.add_string_choice(label, code);
    }
    let action = group("action", "The follow-up action items")
        .add_sub_option(
            sub("add", "Add a follow-up action item")
                .add_sub_option(text("text", "What to do"))
                .add_sub_option(
                    CreateCommandOption::new(CommandOptionType::User, "owner", "Who does it")
                        .required(false),
                )
                .add_sub_option(horizon)
                .add_sub_option(
                    CreateCommandOption::new(
                        CommandOptionType::String,
                        "due",
                        "Due date, as YYYY-MM-DD",
                    )
                    .required(false)
                    .min_length(10)
                    .max_length(10),
                ),
        )
        .add_sub_option(
            sub("done", "Mark an action item done").add_sub_option(number("Its number")),
        )
        .add_sub_option(sub("remove", "Remove an action item").add_sub_option(number("Its number")))
        .add_sub_option(
            sub("restore", "Bring back an action item that was removed")
                .add_sub_option(number("Its number")),
        );
    let incident = CreateCommand::new("incident")
        .description("Run the incident in this channel")
        .dm_permission(false)
        .add_option(
            sub("start", "Open an incident in this channel")
                .add_sub_option(
                    text("title", "What is broken (without it, a form asks)")
                        .max_length(200)
                        .required(false),
                )
                .add_sub_option(severity("severity", false)),
        )
        .add_option(
            sub("severity", "Set the incident's severity").add_sub_option(severity("level", true)),
        )
        .add_option(
            sub("lead", "Set who leads the response").add_sub_option(
                CreateCommandOption::new(CommandOptionType::User, "user", "The incident lead")
                    .required(true),
            ),
        )
        .add_option(
            sub("impact", "Describe the impact").add_sub_option(text("text", "Who saw what")),
        )
        .add_option(
            sub("summary", "Summarise the incident")
                .add_sub_option(text("text", "What happened, in short")),
        )
        .add_option(
            sub("title", "Rename the incident")
                .add_sub_option(text("text", "What it turned out to be").max_length(200)),
        )
        .add_option(story(
            "factor",
            "What contributed to the incident",
            "a contributing factor",
            "What contributed",
        ))
        .add_option(story(
            "worked",
            "What went well in the response",
            "something that went well",
            "What went well",
        ))
        .add_option(story(
            "improve",
            "What to do better next time",
            "something to improve",
            "What to do better",
        ))
        .add_option(action)
        .add_option(
            sub("ref", "Add a reference: an alert, a dashboard, a fix")
                .add_sub_option(
                    CreateCommandOption::new(
                        CommandOptionType::String,
                        "label",
                        "One word: alert, dashboard, pr, or your own",
                    )
                    .required(true)
                    .max_length(32),
                )
                .add_sub_option(text("text", "A link, or a line of its own")),
        )
        .add_option(
            sub("resolve", "Mark the incident resolved").add_sub_option(
                CreateCommandOption::new(CommandOptionType::String, "note", "How it was fixed")
                    .required(false)
                    .max_length(1500),
            ),
        )
        .add_option(sub(
            "close",
            "Close the incident and post the postmortem draft",
        ))
        .add_option(sub("status", "Show the incident's state"))
        .add_option(sub(
            "web",
            "A sign-in link to the web workspace, for you only",
        ))
        .add_option(
            sub("search", "Search past incidents, for you only")
                .add_sub_option(text("words", "Every word must appear").max_length(200)),
        )
        .add_option(sub("similar", "Past incidents like this one, for you only"))
        .add_option(
            group("assist", "Suggestions for the story from a language model")
                .add_sub_option(sub("ask", "Ask for suggestions").add_sub_option({
                    let mut option = CreateCommandOption::new(
                        CommandOptionType::String,
                        "section",
                        "Ask for this section only",
                    )
                    .required(false);
                    for section in crate::domain::assist::Section::ALL {
                        option = option.add_string_choice(section.heading(), section.as_str());
                    }
                    option
                }))
                .add_sub_option(sub("list", "The suggestions waiting, for you only"))
                .add_sub_option(
                    sub("accept", "Put a suggestion into the story, in your name")
                        .add_sub_option(number("The suggestion's number")),
                ),
        )
        .add_option(sub(
            "private",
            "Never send this incident to a language model",
        ))
        .add_option(
            sub("draft", "Preview the postmortem draft").add_sub_option(
                CreateCommandOption::new(
                    CommandOptionType::Boolean,
                    "publish",
                    "Publish it again to the configured targets",
                )
                .required(false),
            ),
        );
    let timeline = CreateCommand::new("timeline")
        .description("Add to the incident timeline, or correct it")
        .dm_permission(false)
        .add_option(
            sub("add", "Add an entry to the incident timeline")
                .add_sub_option(text("text", "What happened"))
                .add_sub_option(
                    CreateCommandOption::new(
                        CommandOptionType::String,
                        "at",
                        "When, as HH:MM in the team's zone (default: now)",
                    )
                    .required(false)
                    .max_length(8),
                ),
        )
        .add_option(sub(
            "list",
            "List the timeline's entries with their numbers",
        ))
        .add_option(
            sub("edit", "Change an entry's text")
                .add_sub_option(number("The entry's number"))
                .add_sub_option(text("text", "The new text")),
        )
        .add_option(
            sub("move", "Change an entry's time")
                .add_sub_option(number("The entry's number"))
                .add_sub_option(
                    CreateCommandOption::new(
                        CommandOptionType::String,
                        "time",
                        "HH:MM[:SS] or YYYY-MM-DD HH:MM[:SS] in the team's time zone",
                    )
                    .required(true)
                    .max_length(19),
                ),
        )
        .add_option(
            sub("remove", "Remove an entry from the timeline")
                .add_sub_option(number("The entry's number")),
        )
        .add_option(
            sub("restore", "Bring back an entry that was removed")
                .add_sub_option(number("The entry's number")),
        );
    let add_to_timeline = CreateCommand::new(ADD_TO_TIMELINE)
        .kind(CommandType::Message)
        .dm_permission(false);
    vec![incident, timeline, add_to_timeline]
}

/// The form a start without a title opens: the title, and the severity (filled in when the
/// slash command gave one).
pub fn start_modal(severity: Option<&str>) -> CreateModal {
    let title = CreateInputText::new(InputTextStyle::Short, "Title", TITLE_INPUT)
        .placeholder("What is broken")
        .max_length(200)
        .required(true);
    let mut level = CreateInputText::new(InputTextStyle::Short, "Severity", SEVERITY_INPUT)
        .placeholder("sev1–sev4")
        .max_length(16)
        .required(false);
    if let Some(severity) = severity {
        level = level.value(severity);
    }
    CreateModal::new(START_MODAL, "Start an incident").components(vec![
        CreateActionRow::InputText(title),
        CreateActionRow::InputText(level),
    ])
}

/// A submitted modal as the command the slash command makes (`/incident start <title>
/// [--sev <level>]`), from its inputs as (custom id, value); `None` for a modal Scribe did not
/// open. The severity loses its spaces (`sev 2` is `sev2`); the grammar judges the rest.
pub fn modal_text(custom_id: &str, inputs: &[(String, String)]) -> Option<String> {
    if custom_id != START_MODAL {
        return None;
    }
    let input = |name: &str, max: usize| -> String {
        inputs
            .iter()
            .find(|(id, _)| id == name)
            .map(|(_, value)| value.trim().chars().take(max).collect())
            .unwrap_or_default()
    };
    let severity: String = input(SEVERITY_INPUT, MAX_SEVERITY)
        .split_whitespace()
        .collect();
    Invocation {
        command: "incident".to_string(),
        group: None,
        subcommand: Some("start".to_string()),
        options: vec![
            ("title".to_string(), input(TITLE_INPUT, MAX_TITLE)),
            ("severity".to_string(), severity),
        ],
    }
    .text()
}

/// The controls under a start's answer: a severity select, "I'm the lead" and "Resolve".
pub fn start_controls() -> Vec<CreateActionRow> {
    let options = SEVERITIES
        .iter()
        .map(|(label, about, code)| CreateSelectMenuOption::new(*label, *code).description(*about))
        .collect();
    let severity = CreateSelectMenu::new(SEVERITY_SELECT, CreateSelectMenuKind::String { options })
        .placeholder("Set the severity");
    vec![
        CreateActionRow::SelectMenu(severity),
        CreateActionRow::Buttons(vec![
            CreateButton::new(LEAD_ME)
                .label("I'm the lead")
                .style(ButtonStyle::Primary),
            CreateButton::new(RESOLVE)
                .label("Resolve")
                .style(ButtonStyle::Danger),
        ]),
    ]
}

/// A click on one of [`start_controls`] as the command typing it would be: `clicker` is the
/// display name of whoever clicked. `None` for a control Scribe did not make, or a severity
/// it did not offer.
pub fn component_text(custom_id: &str, values: &[String], clicker: &str) -> Option<String> {
    match custom_id {
        SEVERITY_SELECT => values
            .first()
            .filter(|value| SEVERITIES.iter().any(|(_, _, code)| code == value))
            .map(|code| format!("/incident severity {code}")),
        LEAD_ME => Some(format!("/incident lead {clicker}")),
        RESOLVE => Some("/incident resolve".to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::command::{Command, IncidentCommand, parse};
    use serde_json::{Value, json};

    fn invocation(
        command: &str,
        group: Option<&str>,
        sub: Option<&str>,
        options: &[(&str, &str)],
    ) -> Invocation {
        Invocation {
            command: command.into(),
            group: group.map(Into::into),
            subcommand: sub.map(Into::into),
            options: options
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn text(
        command: &str,
        group: Option<&str>,
        sub: &str,
        options: &[(&str, &str)],
    ) -> Option<String> {
        invocation(command, group, Some(sub), options).text()
    }

    /// Options as Discord sends them in an interaction's `data.options`.
    fn received(command: &str, options: Value) -> Invocation {
        let options: Vec<CommandDataOption> = serde_json::from_value(options).unwrap();
        Invocation::from_options(command, &options, |user| format!("user {user}"))
    }

    #[test]
    fn start_with_a_severity_choice_reads_as_the_shared_grammar() {
        let text = text(
            "incident",
            None,
            "start",
            &[("title", "Checkout 5xx"), ("severity", "sev2")],
        )
        .unwrap();
        assert_eq!(text, "/incident start Checkout 5xx --sev sev2");
        assert_eq!(
            parse(&text).expect("a command").expect("valid"),
            Command::Incident(IncidentCommand::Start {
                title: "Checkout 5xx".into(),
                severity: Some("sev2".parse().unwrap()),
            })
        );
    }

    #[test]
    fn a_subcommand_group_is_read_with_its_subcommand_and_options() {
        let action = received(
            "incident",
            json!([{"name": "action", "type": 2, "options": [
                {"name": "add", "type": 1, "options": [
                    {"name": "text", "type": 3, "value": "Shard the queue"},
                    {"name": "owner", "type": 6, "value": "1176000000000000011"},
                    {"name": "horizon", "type": 3, "value": "long"},
                ]},
            ]}]),
        );
        assert_eq!(
            action,
            invocation(
                "incident",
                Some("action"),
                Some("add"),
                &[
                    ("text", "Shard the queue"),
                    ("owner", "user 1176000000000000011"),
                    ("horizon", "long"),
                ],
            )
        );
        let done = received(
            "incident",
            json!([{"name": "action", "type": 2, "options": [
                {"name": "done", "type": 1, "options": [{"name": "number", "type": 4, "value": 3}]},
            ]}]),
        );
        assert_eq!(done.text(), Some("/incident action done 3".into()));
        let remove = received(
            "timeline",
            json!([{"name": "remove", "type": 1, "options": [
                {"name": "number", "type": 4, "value": 12},
            ]}]),
        );
        assert_eq!(remove.group, None);
        assert_eq!(remove.text(), Some("/timeline remove 12".into()));
        let list = received(
            "timeline",
            json!([{"name": "list", "type": 1, "options": []}]),
        );
        assert_eq!(list.text(), Some("/timeline list".into()));
        // A group without a subcommand is nothing Scribe has.
        let empty = received(
            "incident",
            json!([{"name": "factor", "type": 2, "options": []}]),
        );
        assert_eq!(
            (empty.group.as_deref(), empty.subcommand.as_deref()),
            (Some("factor"), None)
        );
        assert_eq!(empty.text(), None);
    }

    #[test]
    fn timeline_subcommands_as_text() {
        let timeline = |sub: &str, options: &[(&str, &str)]| text("timeline", None, sub, options);
        assert_eq!(
            timeline("add", &[("text", "rolled back"), ("at", "03:12")]),
            Some("/timeline 03:12 rolled back".into())
        );
        assert_eq!(
            timeline("add", &[("text", "rolled back")]),
            Some("/timeline rolled back".into())
        );
        assert_eq!(timeline("list", &[]), Some("/timeline list".into()));
        assert_eq!(
            timeline(
                "edit",
                &[("number", "2"), ("text", "failover to replica 2")]
            ),
            Some("/timeline edit 2 failover to replica 2".into())
        );
        assert_eq!(
            timeline("move", &[("number", "4"), ("time", "14:05")]),
            Some("/timeline move 4 14:05".into())
        );
        assert_eq!(
            timeline("move", &[("number", "4"), ("time", "2026-12-06 23:59:30")]),
            Some("/timeline move 4 2026-12-06 23:59:30".into())
        );
        assert_eq!(
            timeline("remove", &[("number", "3")]),
            Some("/timeline remove 3".into())
        );
        assert_eq!(
            timeline("restore", &[("number", "3")]),
            Some("/timeline restore 3".into())
        );
    }

    #[test]
    fn story_lists_as_text() {
        for list in STORY_LISTS {
            let story =
                |sub: &str, options: &[(&str, &str)]| text("incident", Some(list), sub, options);
            assert_eq!(
                story("add", &[("text", "No alert on queue depth")]),
                Some(format!("/incident {list} No alert on queue depth"))
            );
            assert_eq!(
                story("remove", &[("number", "2")]),
                Some(format!("/incident {list} remove 2"))
            );
            assert_eq!(
                story("restore", &[("number", "2")]),
                Some(format!("/incident {list} restore 2"))
            );
        }
    }

    #[test]
    fn actions_as_text() {
        let action =
            |sub: &str, options: &[(&str, &str)]| text("incident", Some("action"), sub, options);
        assert_eq!(
            action(
                "add",
                &[
                    ("text", "Shard the queue"),
                    ("owner", "Ana"),
                    ("horizon", "long"),
                    ("due", "2026-12-20"),
                ],
            ),
            Some("/incident action long Shard the queue @Ana due 2026-12-20".into())
        );
        assert_eq!(
            action("add", &[("text", "Alert on queue depth"), ("owner", "Ana")]),
            Some("/incident action Alert on queue depth @Ana".into())
        );
        assert_eq!(
            action("add", &[("text", "Page the DBA"), ("horizon", "now")]),
            Some("/incident action now Page the DBA".into())
        );
        assert_eq!(
            action("add", &[("text", "Runbook"), ("due", "2027-01-15")]),
            Some("/incident action Runbook due 2027-01-15".into())
        );
        // Only the horizons Discord offers are written.
        assert_eq!(
            action("add", &[("text", "Runbook"), ("horizon", "someday")]),
            Some("/incident action Runbook".into())
        );
        for sub in ["done", "remove", "restore"] {
            assert_eq!(
                action(sub, &[("number", "5")]),
                Some(format!("/incident action {sub} 5"))
            );
        }
    }

    #[test]
    fn references_and_the_other_incident_subcommands_as_text() {
        let incident = |sub: &str, options: &[(&str, &str)]| text("incident", None, sub, options);
        assert_eq!(
            incident(
                "ref",
                &[
                    ("label", "dashboard"),
                    ("text", "https://grafana.example/d/checkout")
                ]
            ),
            Some("/incident ref dashboard https://grafana.example/d/checkout".into())
        );
        // The grammar's label is one word.
        assert_eq!(
            incident("ref", &[("label", " Load  test "), ("text", "k6 run 42")]),
            Some("/incident ref Load-test k6 run 42".into())
        );
        assert_eq!(
            incident("severity", &[("level", "sev1")]),
            Some("/incident severity sev1".into())
        );
        assert_eq!(
            incident("lead", &[("user", "Ana")]),
            Some("/incident lead Ana".into())
        );
        assert_eq!(
            incident("impact", &[("text", "EU checkout")]),
            Some("/incident impact EU checkout".into())
        );
        assert_eq!(
            incident("summary", &[("text", "A bad deploy")]),
            Some("/incident summary A bad deploy".into())
        );
        assert_eq!(
            incident("resolve", &[("note", "rolled back")]),
            Some("/incident resolve rolled back".into())
        );
        assert_eq!(incident("resolve", &[]), Some("/incident resolve".into()));
        assert_eq!(incident("close", &[]), Some("/incident close".into()));
        assert_eq!(incident("status", &[]), Some("/incident status".into()));
        assert_eq!(
            incident("draft", &[("publish", "true")]),
            Some("/incident draft --publish".into())
        );
        assert_eq!(
            incident("draft", &[("publish", "false")]),
            Some("/incident draft".into())
        );
    }

    #[test]
    fn a_missing_required_option_leaves_the_bare_command_for_the_usage_answer() {
        // The command is read off the bare text wanted.
        let bare = |group: Option<&str>, sub: &str, options: &[(&str, &str)], want: &str| {
            let command = want[1..].split(' ').next().unwrap();
            assert_eq!(
                text(command, group, sub, options),
                Some(want.to_string()),
                "{command} {group:?} {sub} {options:?}"
            );
        };
        // The text never slides into the number's place.
        bare(None, "edit", &[("text", "3 replicas")], "/timeline");
        bare(None, "edit", &[("number", "3")], "/timeline");
        bare(None, "move", &[("number", "3")], "/timeline");
        bare(None, "move", &[("time", "14:05")], "/timeline");
        bare(None, "remove", &[], "/timeline");
        bare(None, "restore", &[("number", "")], "/timeline");
        bare(None, "add", &[("at", "03:12")], "/timeline");
        // A number is digits, or it is missing.
        bare(None, "remove", &[("number", "-1")], "/timeline");
        bare(
            None,
            "edit",
            &[("number", "2 x"), ("text", "y")],
            "/timeline",
        );
        for list in STORY_LISTS {
            let want = format!("/incident {list}");
            bare(Some(list), "add", &[], &want);
            bare(Some(list), "add", &[("text", "  ")], &want);
            bare(Some(list), "remove", &[], &want);
            bare(Some(list), "restore", &[("number", "two")], &want);
        }
        bare(
            Some("action"),
            "add",
            &[("owner", "Ana")],
            "/incident action",
        );
        for sub in ["done", "remove", "restore"] {
            bare(Some("action"), sub, &[], "/incident action");
        }
        bare(
            None,
            "ref",
            &[("text", "https://x.example")],
            "/incident ref",
        );
        bare(None, "ref", &[("label", "pr")], "/incident ref");
    }

    #[test]
    fn unknown_commands_groups_and_subcommands_are_none() {
        assert_eq!(text("incident", None, "explode", &[]), None);
        assert_eq!(text("other", None, "add", &[]), None);
        assert_eq!(invocation("other", None, None, &[]).text(), None);
        // `/timeline` and `/incident` always come with a subcommand now.
        assert_eq!(
            invocation("timeline", None, None, &[("text", "rolled back")]).text(),
            None
        );
        assert_eq!(invocation("incident", None, None, &[]).text(), None);
        assert_eq!(text("timeline", None, "explode", &[]), None);
        assert_eq!(
            text("timeline", Some("factor"), "add", &[("text", "x")]),
            None
        );
        assert_eq!(
            text("incident", Some("explode"), "add", &[("text", "x")]),
            None
        );
        assert_eq!(
            text("incident", Some("factor"), "done", &[("number", "1")]),
            None
        );
        assert_eq!(
            text("incident", Some("action"), "edit", &[("number", "1")]),
            None
        );
        // The lists are groups: not subcommands of their own.
        assert_eq!(text("incident", None, "factor", &[("text", "x")]), None);
        assert_eq!(text("incident", None, "action", &[("text", "x")]), None);
        assert_eq!(
            invocation("incident", Some("action"), None, &[("text", "x")]).text(),
            None
        );
    }

    /// The decision on notes that read like curation commands: they are written as they are,
    /// and the shared grammar reads them as it reads them on every platform.
    #[test]
    fn a_note_that_reads_like_a_curation_command_is_written_as_it_is() {
        let add = |options: &[(&str, &str)]| text("timeline", None, "add", options).unwrap();
        assert_eq!(add(&[("text", "list")]), "/timeline list");
        assert_eq!(add(&[("text", "Remove 3")]), "/timeline Remove 3");
        assert_eq!(
            add(&[("text", "edit 2 the config")]),
            "/timeline edit 2 the config"
        );
        assert_eq!(
            add(&[("text", "move 3 pods to b")]),
            "/timeline move 3 pods to b"
        );
        // Given its time, it can only be a note.
        assert_eq!(
            add(&[("text", "remove 3"), ("at", "03:12")]),
            "/timeline 03:12 remove 3"
        );
        assert_eq!(
            text("incident", Some("factor"), "add", &[("text", "remove 2")]),
            Some("/incident factor remove 2".into())
        );
        assert_eq!(
            text("incident", Some("action"), "add", &[("text", "done 1")]),
            Some("/incident action done 1".into())
        );
    }

    #[test]
    fn only_a_start_without_a_title_opens_the_form() {
        let start = |options: &[(&str, &str)]| invocation("incident", None, Some("start"), options);
        assert!(start(&[]).is_untitled_start());
        assert!(start(&[("title", "  "), ("severity", "sev2")]).is_untitled_start());
        assert!(!start(&[("title", "Checkout 5xx")]).is_untitled_start());
        assert!(!invocation("incident", None, Some("resolve"), &[]).is_untitled_start());
        assert!(!invocation("timeline", None, Some("start"), &[]).is_untitled_start());
        let form = serde_json::to_value(start_modal(Some("sev2"))).unwrap();
        assert_eq!(form["custom_id"], START_MODAL);
        assert_eq!(form["components"][1]["components"][0]["value"], "sev2");
    }

    #[test]
    fn a_submitted_start_form_is_the_start_command() {
        let inputs = |title: &str, severity: &str| {
            vec![
                (TITLE_INPUT.to_string(), title.to_string()),
                (SEVERITY_INPUT.to_string(), severity.to_string()),
            ]
        };
        assert_eq!(
            modal_text(START_MODAL, &inputs(" Checkout 5xx ", "sev2")),
            Some("/incident start Checkout 5xx --sev sev2".into())
        );
        assert_eq!(
            modal_text(START_MODAL, &inputs("Checkout 5xx", "")),
            Some("/incident start Checkout 5xx".into())
        );
        assert_eq!(
            modal_text(START_MODAL, &inputs("Checkout 5xx", "SEV 1")),
            Some("/incident start Checkout 5xx --sev SEV1".into())
        );
        // A bad severity reaches the grammar, which says what is wrong with it.
        let bad = modal_text(START_MODAL, &inputs("Checkout", "urgent")).unwrap();
        assert!(matches!(
            parse(&bad),
            Some(Err(crate::domain::command::CommandError::Severity(_)))
        ));
        // Without a title: the bare start, which the grammar answers with its usage.
        assert_eq!(
            modal_text(START_MODAL, &inputs("", "")),
            Some("/incident start".into())
        );
        // Long inputs are cut before they are read further.
        let long = modal_text(START_MODAL, &inputs(&"x".repeat(5000), &"s".repeat(5000))).unwrap();
        assert_eq!(
            long,
            format!(
                "/incident start {} --sev {}",
                "x".repeat(200),
                "s".repeat(16)
            )
        );
        assert_eq!(modal_text("other_form", &inputs("Checkout", "")), None);
    }

    #[test]
    fn the_controls_are_the_commands_they_stand_for() {
        let values = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            component_text(SEVERITY_SELECT, &values(&["sev3"]), "Ana"),
            Some("/incident severity sev3".into())
        );
        assert_eq!(
            component_text(LEAD_ME, &[], "Zoë Kapoor"),
            Some("/incident lead Zoë Kapoor".into())
        );
        assert_eq!(
            component_text(RESOLVE, &[], "Ana"),
            Some("/incident resolve".into())
        );
        // Only the severities offered; nothing Scribe did not make.
        assert_eq!(
            component_text(SEVERITY_SELECT, &values(&["sev9"]), "Ana"),
            None
        );
        assert_eq!(component_text(SEVERITY_SELECT, &[], "Ana"), None);
        assert_eq!(component_text("explode", &[], "Ana"), None);
        let controls = serde_json::to_value(start_controls()).unwrap();
        assert_eq!(controls[0]["components"][0]["custom_id"], SEVERITY_SELECT);
        assert_eq!(controls[1]["components"][0]["custom_id"], LEAD_ME);
        assert_eq!(controls[1]["components"][1]["custom_id"], RESOLVE);
        for text in [
            "/incident severity sev3",
            "/incident lead Zoë Kapoor",
            "/incident resolve",
        ] {
            assert!(matches!(parse(text), Some(Ok(_))), "{text}");
        }
    }

    /// A sample value for an option of the registered definitions, by its type and name.
    fn sample(option: &Value) -> Option<(String, String)> {
        let name = option["name"].as_str().unwrap().to_string();
        let value = match option["type"].as_u64().unwrap() {
            4 => "2".to_string(),
            6 => "Ana".to_string(),
            5 => "true".to_string(),
            3 => match (
                option["choices"].as_array().filter(|c| !c.is_empty()),
                name.as_str(),
            ) {
                (Some(choices), _) => choices[0]["value"].as_str().unwrap().to_string(),
                (None, "time") => "2026-12-06 14:05".to_string(),
                (None, "due") => "2026-12-20".to_string(),
                (None, "at") => "03:12".to_string(),
                (None, _) => format!("sample-{name}"),
            },
            other => panic!("no sample for option type {other}: {option}"),
        };
        Some((name, value))
    }

    #[test]
    fn every_registered_subcommand_maps_to_text() {
        let registered = serde_json::to_value(definitions()).unwrap();
        let names: Vec<&str> = registered
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["incident", "timeline", ADD_TO_TIMELINE]);
        let mut seen = vec![];
        for command in registered.as_array().unwrap() {
            let name = command["name"].as_str().unwrap();
            let top = command["options"].as_array().unwrap();
            assert!(top.len() <= 25, "{name}: Discord allows 25");
            // (group, subcommand definition)
            let mut subs: Vec<(Option<&str>, &Value)> = vec![];
            for option in top {
                match option["type"].as_u64() {
                    Some(1) => subs.push((None, option)),
                    Some(2) => {
                        let inner = option["options"].as_array().unwrap();
                        assert!(!inner.is_empty() && inner.len() <= 25, "{option}");
                        for sub in inner {
                            assert_eq!(sub["type"], 1, "a group holds subcommands: {sub}");
                            subs.push((option["name"].as_str(), sub));
                        }
                    }
                    _ => panic!("/{name} mixes subcommands with plain options: {option}"),
                }
            }
            for (group, sub) in subs {
                let sub_name = sub["name"].as_str().unwrap();
                let options: Vec<(String, String)> = sub["options"]
                    .as_array()
                    .map(|o| o.iter().filter_map(sample).collect())
                    .unwrap_or_default();
                let filled = Invocation {
                    command: name.to_string(),
                    group: group.map(Into::into),
                    subcommand: Some(sub_name.to_string()),
                    options: options.clone(),
                };
                let what = format!("/{name} {group:?} {sub_name}");
                let text = filled.text().unwrap_or_else(|| panic!("{what}: no text"));
                assert!(
                    text.starts_with("/incident ") || text.starts_with("/timeline "),
                    "{what}: {text}"
                );
                for (option, value) in options.iter().filter(|(_, v)| v != "true") {
                    assert!(
                        text.contains(value.as_str()),
                        "{what}: {option} not in {text}"
                    );
                }
                seen.push(match group {
                    Some(group) => format!("{name} {group} {sub_name}"),
                    None => format!("{name} {sub_name}"),
                });
            }
        }
        let mut want = vec![];
        for sub in [
            "start", "severity", "lead", "impact", "summary", "title", "factor", "worked",
            "improve", "action", "ref", "resolve", "close", "status", "web", "search", "similar",
            "assist", "private", "draft",
        ] {
            match sub {
                "factor" | "worked" | "improve" => {
                    want.extend(["add", "remove", "restore"].map(|s| format!("incident {sub} {s}")))
                }
                "action" => want.extend(
                    ["add", "done", "remove", "restore"].map(|s| format!("incident action {s}")),
                ),
                "assist" => {
                    want.extend(["ask", "list", "accept"].map(|s| format!("incident assist {s}")))
                }
                _ => want.push(format!("incident {sub}")),
            }
        }
        want.extend(
            ["add", "list", "edit", "move", "remove", "restore"].map(|s| format!("timeline {s}")),
        );
        assert_eq!(seen, want);
    }
}
