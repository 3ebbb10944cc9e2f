//! Block Kit for what Scribe shows in Slack: the start headline with its severity select and
//! buttons, the closing summary, and the form that starts an incident. Every message keeps its
//! plain `text` beside the blocks: notifications and screen readers read that.

use serde_json::{Value, json};

use crate::domain::{Incident, Severity};

/// The callback id of the form `/incident start` opens when it has no title.
pub const START_FORM: &str = "start_incident";
/// The action id of the headline's severity select.
pub const SET_SEVERITY: &str = "set_severity";
/// The action id of the headline's "I'm the lead" button.
pub const LEAD_ME: &str = "lead_me";
/// The action id of the headline's "Resolve" button.
pub const RESOLVE: &str = "resolve";
/// What starts the block id of the headline's actions; the incident's opening message follows,
/// so a click on an old incident's headline never changes a newer incident.
pub const INCIDENT_BLOCK: &str = "incident:";

/// The form's blocks, each with one input of the same id.
pub const FORM_TITLE: &str = "title";
pub const FORM_SEVERITY: &str = "severity";
pub const FORM_CHANNEL: &str = "channel";
/// The value of the form's "create a channel" checkbox.
pub const CREATE_CHANNEL: &str = "create";

/// Slack refuses a section whose text is longer.
const SECTION_LIMIT: usize = 3000;
/// An incident title longer than this would not fit a form input.
pub const TITLE_LIMIT: usize = 200;

/// `text` (Slack markup, already escaped) as sections, cut where Slack's limit requires.
pub fn sections(text: &str) -> Vec<Value> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(SECTION_LIMIT)
        .map(|chunk| {
            json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": chunk.iter().collect::<String>()},
            })
        })
        .collect()
}

/// The headline's blocks: its text, then what can be done about the incident from here (a
/// resolved incident has no "Resolve"; a closed one has no actions at all), then `note`, who
/// last did what through these actions.
pub fn headline(text: &str, incident: &Incident, note: Option<&str>) -> Value {
    let mut blocks = sections(text);
    if incident.closed_at.is_none() {
        let mut select = json!({
            "type": "static_select",
            "action_id": SET_SEVERITY,
            "placeholder": plain("Set severity"),
            "options": Severity::ALL.iter().map(|s| option(*s)).collect::<Vec<_>>(),
        });
        if let Some(severity) = incident.severity {
            select["initial_option"] = option(severity);
        }
        let mut elements = vec![
            select,
            json!({"type": "button", "action_id": LEAD_ME, "text": plain("I'm the lead")}),
        ];
        if incident.resolved_at.is_none() {
            elements.push(json!({
                "type": "button",
                "action_id": RESOLVE,
                "style": "danger",
                "text": plain("Resolve"),
                "confirm": {
                    "title": plain("Resolve the incident?"),
                    "text": plain("The incident is marked resolved now. Close it with /incident close when the timeline is complete."),
                    "confirm": plain("Resolve"),
                    "deny": plain("Not yet"),
                },
            }));
        }
        blocks.push(json!({
            "type": "actions",
            "block_id": format!("{INCIDENT_BLOCK}{}", incident.id().opened_by.as_str()),
            "elements": elements,
        }));
    }
    if let Some(note) = note {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": note.chars().take(SECTION_LIMIT).collect::<String>()}],
        }));
    }
    Value::Array(blocks)
}

/// The form `/incident start` opens without a title: title, severity and whether to open the
/// incident in a channel of its own (ticked when `[slack] create_channel` is on). The channel
/// it was asked from rides along as the view's private metadata.
pub fn start_form(channel: &str, create_channel: bool) -> Value {
    let create = json!({"text": plain("Open it in a new channel"), "value": CREATE_CHANNEL});
    let mut checkboxes = json!({
        "type": "checkboxes",
        "action_id": FORM_CHANNEL,
        "options": [create.clone()],
    });
    if create_channel {
        checkboxes["initial_options"] = json!([create]);
    }
    json!({
        "type": "modal",
        "callback_id": START_FORM,
        "private_metadata": channel,
        "title": plain("Start an incident"),
        "submit": plain("Start"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": FORM_TITLE,
                "label": plain("Title"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": FORM_TITLE,
                    "max_length": TITLE_LIMIT,
                    "placeholder": plain("What is broken, for whom"),
                },
            },
            {
                "type": "input",
                "block_id": FORM_SEVERITY,
                "optional": true,
                "label": plain("Severity"),
                "element": {
                    "type": "static_select",
                    "action_id": FORM_SEVERITY,
                    "placeholder": plain("Not known yet"),
                    "options": Severity::ALL.iter().map(|s| option(*s)).collect::<Vec<_>>(),
                },
            },
            {
                "type": "input",
                "block_id": FORM_CHANNEL,
                "optional": true,
                "label": plain("Channel"),
                "element": checkboxes,
            },
        ],
    })
}

fn option(severity: Severity) -> Value {
    json!({
        "text": plain(&format!("{} ({})", severity.code().to_uppercase(), severity.label())),
        "value": severity.code(),
    })
}

fn plain(text: &str) -> Value {
    json!({"type": "plain_text", "text": text, "emoji": true})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_into_sections_slack_accepts() {
        let text = "é".repeat(SECTION_LIMIT * 2 + 1);
        let blocks = sections(&text);
        assert_eq!(blocks.len(), 3);
        let lengths: Vec<usize> = blocks
            .iter()
            .map(|b| b["text"]["text"].as_str().unwrap().chars().count())
            .collect();
        assert_eq!(lengths, [SECTION_LIMIT, SECTION_LIMIT, 1]);
        assert!(sections("").is_empty());
    }

    #[test]
    fn the_form_offers_every_severity_and_ticks_the_channel_as_configured() {
        let form = start_form("C0INC0001", true);
        assert_eq!(form["callback_id"], START_FORM);
        assert_eq!(form["private_metadata"], "C0INC0001");
        assert!(form["title"]["text"].as_str().unwrap().chars().count() <= 24);
        let values: Vec<&str> = form["blocks"][1]["element"]["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["value"].as_str().unwrap())
            .collect();
        assert_eq!(values, ["sev1", "sev2", "sev3", "sev4"]);
        assert_eq!(
            form["blocks"][2]["element"]["initial_options"][0]["value"],
            CREATE_CHANNEL
        );
        assert!(
            start_form("C0INC0001", false)["blocks"][2]["element"]
                .get("initial_options")
                .is_none()
        );
    }
}
