//! Scribe's slash commands on Discord: their registration, and an invocation turned back into
//! the command text every platform shares (`/incident start …`), which the core parses.

use serenity::all::{
    CommandDataOption, CommandDataOptionValue, CommandOptionType, CreateCommand,
    CreateCommandOption,
};

/// A slash command as Discord delivered it, without Discord's types: the command, the
/// subcommand, and the options by name (a user option carries the user's display name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub command: String,
    pub subcommand: Option<String>,
    pub options: Vec<(String, String)>,
}

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
        match options.first() {
            Some(CommandDataOption {
                name,
                value: CommandDataOptionValue::SubCommand(inner),
                ..
            }) => Invocation {
                command: command.to_string(),
                subcommand: Some(name.clone()),
                options: flat(inner),
            },
            _ => Invocation {
                command: command.to_string(),
                subcommand: None,
                options: flat(options),
            },
        }
    }

    fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The command as text (`/incident action Add alerts @Ana`), or `None` for a command
    /// Scribe does not have.
    pub fn text(&self) -> Option<String> {
        let mut words: Vec<&str> = vec![];
        match (self.command.as_str(), self.subcommand.as_deref()) {
            ("timeline", None) => {
                words.push("/timeline");
                words.extend(self.option("at"));
                words.extend(self.option("text"));
            }
            ("incident", Some(sub)) => {
                words.extend(["/incident", sub]);
                match sub {
                    "start" => {
                        words.extend(self.option("title"));
                        if let Some(severity) = self.option("severity") {
                            words.extend(["--sev", severity]);
                        }
                    }
                    "severity" => words.extend(self.option("level")),
                    "lead" => words.extend(self.option("user")),
                    "impact" | "summary" => words.extend(self.option("text")),
                    "action" => {
                        words.extend(self.option("text"));
                        let owner = self.option("owner").map(|name| format!("@{name}"));
                        return Some(join(&words, owner.as_deref()));
                    }
                    "resolve" => words.extend(self.option("note")),
                    "draft" if self.option("publish") == Some("true") => words.push("--publish"),
                    "close" | "status" | "draft" => {}
                    _ => return None,
                }
            }
            _ => return None,
        }
        Some(join(&words, None))
    }
}

fn join(words: &[&str], last: Option<&str>) -> String {
    let mut text = words.join(" ");
    if let Some(last) = last {
        text.push(' ');
        text.push_str(last);
    }
    text
}

/// `/incident` with its subcommands and `/timeline`, as registered with Discord.
pub fn definitions() -> Vec<CreateCommand> {
    let text = |name: &str, about: &str| {
        CreateCommandOption::new(CommandOptionType::String, name, about)
            .required(true)
            .max_length(1500)
    };
    let sub = |name: &str, about: &str| {
        CreateCommandOption::new(CommandOptionType::SubCommand, name, about)
    };
    let severity = |name: &str, required: bool| {
        let mut option = CreateCommandOption::new(CommandOptionType::String, name, "How bad it is")
            .required(required);
        for (label, code) in [
            ("SEV1 (critical)", "sev1"),
            ("SEV2 (high)", "sev2"),
            ("SEV3 (medium)", "sev3"),
            ("SEV4 (low)", "sev4"),
        ] {
            option = option.add_string_choice(label, code);
        }
        option
    };
    let incident = CreateCommand::new("incident")
        .description("Run the incident in this channel")
        .dm_permission(false)
        .add_option(
            sub("start", "Open an incident in this channel")
                .add_sub_option(text("title", "What is broken").max_length(200))
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
            sub("action", "Add a follow-up action item")
                .add_sub_option(text("text", "What to do"))
                .add_sub_option(
                    CreateCommandOption::new(CommandOptionType::User, "owner", "Who does it")
                        .required(false),
                ),
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
        .description("Add an entry to the incident timeline")
        .dm_permission(false)
        .add_option(text("text", "What happened"))
        .add_option(
            CreateCommandOption::new(
                CommandOptionType::String,
                "at",
                "When, as HH:MM in the team's zone (default: now)",
            )
            .required(false)
            .max_length(8),
        );
    vec![incident, timeline]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::command::{Command, IncidentCommand, parse};

    fn invocation(command: &str, sub: Option<&str>, options: &[(&str, &str)]) -> Invocation {
        Invocation {
            command: command.into(),
            subcommand: sub.map(Into::into),
            options: options
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn parsed(invocation: &Invocation) -> Command {
        let text = invocation.text().expect("a known command");
        parse(&text).expect("a command").expect("valid")
    }

    #[test]
    fn start_with_a_severity_choice_reads_as_the_shared_grammar() {
        let command = parsed(&invocation(
            "incident",
            Some("start"),
            &[("title", "Checkout 5xx"), ("severity", "sev2")],
        ));
        assert_eq!(
            command,
            Command::Incident(IncidentCommand::Start {
                title: "Checkout 5xx".into(),
                severity: Some("sev2".parse().unwrap()),
            })
        );
    }

    #[test]
    fn an_action_keeps_its_owner_and_a_timeline_its_time() {
        let command = parsed(&invocation(
            "incident",
            Some("action"),
            &[("text", "Alert on queue depth"), ("owner", "Ana")],
        ));
        assert_eq!(
            command,
            Command::Incident(IncidentCommand::Action(crate::domain::ActionCommand::Add {
                horizon: crate::domain::Horizon::Short,
                text: "Alert on queue depth".into(),
                owner: Some("Ana".into()),
                due: None,
            }))
        );
        let text = invocation(
            "timeline",
            None,
            &[("text", "rolled back"), ("at", "03:12")],
        )
        .text()
        .unwrap();
        assert_eq!(text, "/timeline 03:12 rolled back");
    }

    #[test]
    fn draft_publish_and_unknown_commands() {
        assert_eq!(
            invocation("incident", Some("draft"), &[("publish", "true")]).text(),
            Some("/incident draft --publish".into())
        );
        assert_eq!(
            invocation("incident", Some("draft"), &[("publish", "false")]).text(),
            Some("/incident draft".into())
        );
        assert_eq!(invocation("incident", Some("explode"), &[]).text(), None);
        assert_eq!(invocation("other", None, &[]).text(), None);
    }

    #[test]
    fn every_registered_subcommand_maps_to_text() {
        let registered = serde_json::to_value(definitions()).unwrap();
        let incident = &registered[0];
        assert_eq!(incident["name"], "incident");
        let subs: Vec<&str> = incident["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            subs,
            [
                "start", "severity", "lead", "impact", "summary", "action", "resolve", "close",
                "status", "draft"
            ]
        );
        for sub in subs {
            let filled = invocation(
                "incident",
                Some(sub),
                &[
                    ("title", "t"),
                    ("level", "sev1"),
                    ("user", "Ana"),
                    ("text", "x"),
                ],
            );
            assert!(parse(&filled.text().unwrap()).unwrap().is_ok(), "{sub}");
        }
        assert_eq!(registered[1]["name"], "timeline");
    }
}
