//! `scribe draft` replays a channel that curated its own timeline and wrote the story in chat
//! (the `curation-webhook-backlog` fixture): every value of `expected.json`'s `curation` holds in
//! the JSON draft, and the markdown shows what is left once the curation is applied, from the
//! Slack export and from the DiscordChatExporter file alike.

mod common;

use std::sync::OnceLock;

use chrono::{DateTime, Timelike, Utc};
use common::{Sandbox, fixture, success};
use serde_json::Value;

const CASE: &str = "curation-webhook-backlog";
/// Each export, by the name `expected.json` gives its format.
const EXPORTS: [(&str, &str); 2] = [("slack", "slack"), ("discord", "discord.json")];

fn expected() -> &'static Value {
    static EXPECTED: OnceLock<Value> = OnceLock::new();
    EXPECTED.get_or_init(|| {
        let path = fixture(&format!("{CASE}/expected.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    })
}

fn curation() -> &'static Value {
    &expected()["curation"]
}

struct Draft {
    json: Value,
    markdown: String,
    /// `slack` or `discord`.
    format: &'static str,
}

fn draft(format: &'static str, export: &str) -> Draft {
    let sandbox = Sandbox::new();
    let path = fixture(&format!("{CASE}/{export}"));
    let path = path.to_str().unwrap();
    let json = success(&sandbox.run(&["draft", path, "--format", "json"]));
    let markdown = success(&sandbox.run(&["draft", path]));
    Draft {
        json: serde_json::from_str(&json).expect("one JSON object"),
        markdown,
        format,
    }
}

/// Both drafts, made once for every test of this file.
fn drafts() -> &'static [Draft] {
    static DRAFTS: OnceLock<Vec<Draft>> = OnceLock::new();
    DRAFTS.get_or_init(|| {
        EXPORTS
            .iter()
            .map(|(format, export)| draft(format, export))
            .collect()
    })
}

/// An RFC 3339 time cut to the second; `None` for null.
fn time(value: &Value, label: &str) -> Option<DateTime<Utc>> {
    let text = value.as_str()?;
    let at = DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|error| panic!("{label}: {text:?} is no RFC 3339 time: {error}"));
    Some(at.with_timezone(&Utc).with_nanosecond(0).unwrap())
}

/// Fields whose values are times, compared to the second.
const TIMES: [&str; 4] = ["at", "original_at", "first", "last"];

/// Numbers compare by value (`7.8` and `7.80000000001` are the same estimate); the rest exactly.
fn same_value(got: &Value, want: &Value) -> bool {
    match (got.as_f64(), want.as_f64()) {
        (Some(got), Some(want)) => (got - want).abs() < 1e-6,
        _ => got == want,
    }
}

/// Every field `want` lists has the same value in `got`; `label` names the object.
fn same_fields(got: &Value, want: &Value, label: &str) {
    assert!(got.is_object(), "{label}: not an object: {got}");
    for (key, want) in want.as_object().unwrap() {
        let got = &got[key];
        let label = format!("{label}.{key}");
        if TIMES.contains(&key.as_str()) {
            assert_eq!(time(got, &label), time(want, &label), "{label}");
        } else {
            assert!(same_value(got, want), "{label}: got {got}, want {want}");
        }
    }
}

/// The same number of objects, each with the fields `want` lists; `label` names the list.
fn same_list(got: &Value, want: &Value, label: &str) {
    let (got, want) = (array(got, label), array(want, label));
    assert_eq!(got.len(), want.len(), "{label}: length; got {got:#?}");
    for (i, (got, want)) in got.iter().zip(want).enumerate() {
        same_fields(got, want, &format!("{label}[{i}]"));
    }
}

fn array<'a>(value: &'a Value, label: &str) -> &'a Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{label}: not an array: {value}"))
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap()
}

#[test]
fn drafts_carry_the_incident_facts() {
    let expected = expected();
    for draft in drafts() {
        let (json, format) = (&draft.json, draft.format);
        assert_eq!(json["title"], expected["title"], "{format}: title");
        assert_eq!(
            json["severity"], expected["severity_final"],
            "{format}: severity"
        );
        for field in ["started_at", "resolved_at", "closed_at"] {
            let label = format!("{format}: {field}");
            assert_eq!(
                time(&json[field], &label),
                time(&expected[field], &label),
                "{label}"
            );
        }
        assert_eq!(
            json["duration_minutes"], expected["duration_minutes"],
            "{format}: duration_minutes"
        );
        assert_eq!(json["status"], "closed", "{format}: status");
        let names: Vec<&Value> = array(&json["participants"], format)
            .iter()
            .map(|p| &p["name"])
            .collect();
        let want: Vec<&Value> = array(&expected["participants"], "expected")
            .iter()
            .collect();
        assert_eq!(names, want, "{format}: participants");
        assert_eq!(
            Some(names.len() as u64),
            expected["participant_count"].as_u64(),
            "{format}: participant_count"
        );
    }
}

#[test]
fn the_last_lead_impact_and_summary_win() {
    for draft in drafts() {
        for field in ["lead", "impact", "summary"] {
            assert_eq!(
                draft.json[field],
                curation()[field],
                "{}: {field}",
                draft.format
            );
        }
    }
}

#[test]
fn the_timeline_holds_every_entry_as_curated() {
    let want = &curation()["timeline"];
    for draft in drafts() {
        let format = draft.format;
        let got = &draft.json["timeline"];
        let numbers = |list: &Value| -> Vec<Value> {
            array(list, format).iter().map(|e| e["n"].clone()).collect()
        };
        assert_eq!(
            numbers(got),
            numbers(want),
            "{format}: timeline numbers in order of time"
        );
        same_list(got, want, &format!("{format}: timeline"));
    }
}

#[test]
fn the_story_lists_hold_every_item() {
    for draft in drafts() {
        for list in ["factors", "worked", "improve", "references", "actions"] {
            same_list(
                &draft.json[list],
                &curation()[list],
                &format!("{}: {list}", draft.format),
            );
        }
    }
}

#[test]
fn team_impact_is_computed_from_the_messages() {
    let want = &curation()["team_impact"];
    for draft in drafts() {
        let format = draft.format;
        let got = &draft.json["team_impact"];
        let label = format!("{format}: team_impact");
        for field in ["people", "person_hours"] {
            assert!(
                same_value(&got[field], &want[field]),
                "{label}.{field}: got {}, want {}",
                got[field],
                want[field]
            );
        }
        for field in ["outside_hours", "zones_known"] {
            assert_eq!(got[field], want[field][format], "{label}.{field}");
        }
        same_list(
            &got["per_person"],
            &want["per_person"],
            &format!("{label}.per_person"),
        );
    }
}

#[test]
fn chatter_never_becomes_an_entry() {
    for draft in drafts() {
        for chatter in array(&expected()["not_in_timeline"], "expected") {
            for entry in array(&draft.json["timeline"], draft.format) {
                assert!(
                    !text(&entry["text"]).contains(text(chatter)),
                    "{}: {chatter} is an entry",
                    draft.format
                );
            }
        }
    }
}

/// The markdown as a reader sees it: escapes and zero-width spaces taken out.
fn readable(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut chars = markdown.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{200b}' => {}
            '\\' if chars.peek().is_some_and(char::is_ascii_punctuation) => {
                out.extend(chars.next());
            }
            c => out.push(c),
        }
    }
    out.replace("&lt;", "<").replace("&gt;", ">")
}

/// The lines under the heading `title` (any level), up to the next heading of the same or a
/// higher level; `None` when there is no such heading.
fn section(markdown: &str, title: &str) -> Option<String> {
    let level = |line: &str| {
        let hashes = line.chars().take_while(|c| *c == '#').count();
        (hashes > 0 && line[hashes..].starts_with(' ')).then_some(hashes)
    };
    let mut lines = markdown.lines();
    let depth = loop {
        let line = lines.next()?;
        if let Some(depth) = level(line)
            && line[depth..].trim().eq_ignore_ascii_case(title)
        {
            break depth;
        }
    };
    let body: Vec<&str> = lines
        .take_while(|line| level(line).is_none_or(|l| l > depth))
        .collect();
    Some(body.join("\n"))
}

/// Entries or items, visible (`hidden: false`) or hidden.
fn shown(list: &Value, hidden: bool) -> Vec<&Value> {
    array(list, "expected")
        .iter()
        .filter(|item| item["hidden"] == hidden)
        .collect()
}

#[test]
fn the_markdown_shows_the_curated_timeline() {
    let timeline = &curation()["timeline"];
    for draft in drafts() {
        let (md, format) = (readable(&draft.markdown), draft.format);
        for entry in shown(timeline, false) {
            let entry_text = text(&entry["text"]);
            assert!(
                md.contains(entry_text),
                "{format}: markdown lacks entry {entry_text:?}"
            );
        }
        for entry in shown(timeline, true) {
            let hidden = text(&entry["text"]);
            assert!(
                !md.contains(hidden),
                "{format}: hidden entry {hidden:?} in the markdown"
            );
        }
        for entry in array(timeline, "expected") {
            if let Some(original) = entry["original_text"].as_str() {
                assert!(
                    !md.contains(original),
                    "{format}: replaced text {original:?} in the markdown"
                );
            }
        }
    }
}

/// `HH:MM` of an expected time.
fn clock(value: &Value) -> String {
    time(value, "expected").unwrap().format("%H:%M").to_string()
}

#[test]
fn a_moved_entry_shows_at_its_new_time_only() {
    let moved: Vec<&Value> = shown(&curation()["timeline"], false)
        .into_iter()
        .filter(|entry| !entry["original_at"].is_null())
        .collect();
    assert!(!moved.is_empty(), "the fixture moves entries");
    for draft in drafts() {
        let (md, format) = (readable(&draft.markdown), draft.format);
        for entry in &moved {
            let entry_text = text(&entry["text"]);
            let (new, old) = (clock(&entry["at"]), clock(&entry["original_at"]));
            let lines: Vec<&str> = md.lines().filter(|l| l.contains(entry_text)).collect();
            assert!(
                lines.iter().any(|l| l.contains(&new)),
                "{format}: {entry_text:?} not at {new}: {lines:#?}"
            );
            assert!(
                lines.iter().all(|l| !l.contains(&old)),
                "{format}: {entry_text:?} still at {old}: {lines:#?}"
            );
        }
    }
}

/// Each story list and the markdown section that shows it.
const STORY: [(&str, &str); 3] = [
    ("factors", "Contributing factors"),
    ("worked", "What worked well"),
    ("improve", "What we could improve"),
];

fn section_of(draft: &Draft, title: &str) -> String {
    let md = readable(&draft.markdown);
    section(&md, title).unwrap_or_else(|| panic!("{}: no section {title:?}", draft.format))
}

#[test]
fn the_story_sections_show_the_visible_items_only() {
    for draft in drafts() {
        let (md, format) = (readable(&draft.markdown), draft.format);
        for (list, title) in STORY {
            let body = section_of(draft, title);
            for item in shown(&curation()[list], false) {
                let item_text = text(&item["text"]);
                assert!(
                    body.contains(item_text),
                    "{format}: {title} lacks {item_text:?}"
                );
            }
            for item in shown(&curation()[list], true) {
                let hidden = text(&item["text"]);
                assert!(
                    !md.contains(hidden),
                    "{format}: hidden {list} item {hidden:?} shown"
                );
            }
        }
    }
}

#[test]
fn the_actions_section_shows_the_visible_actions_with_owner_and_due_date() {
    for draft in drafts() {
        let (md, format) = (readable(&draft.markdown), draft.format);
        let body = section_of(draft, "Actions");
        for action in shown(&curation()["actions"], false) {
            let action_text = text(&action["text"]);
            let line = body
                .lines()
                .find(|l| l.contains(action_text))
                .unwrap_or_else(|| panic!("{format}: Actions lacks {action_text:?}"));
            for field in ["owner", "due"] {
                if let Some(value) = action[field].as_str() {
                    assert!(
                        line.contains(value),
                        "{format}: action {action_text:?} without its {field} {value:?}: {line}"
                    );
                }
            }
        }
        for action in shown(&curation()["actions"], true) {
            let hidden = text(&action["text"]);
            assert!(
                !md.contains(hidden),
                "{format}: hidden action {hidden:?} shown"
            );
        }
    }
}

#[test]
fn the_references_section_shows_every_reference_under_its_label() {
    for draft in drafts() {
        let format = draft.format;
        let body = section_of(draft, "References");
        for reference in array(&curation()["references"], "expected") {
            let (label, target) = (text(&reference["label"]), text(&reference["text"]));
            let line = body
                .lines()
                .find(|l| l.contains(target))
                .unwrap_or_else(|| panic!("{format}: References lacks {label} {target:?}"));
            assert!(
                line.to_lowercase().contains(&label.to_lowercase()),
                "{format}: {target:?} not under {label:?}: {line}"
            );
        }
    }
}

#[test]
fn sections_with_content_keep_no_prompt() {
    for draft in drafts() {
        for title in STORY
            .map(|(_, title)| title)
            .into_iter()
            .chain(["Actions", "References"])
        {
            let body = section_of(draft, title);
            assert!(
                !body.trim().is_empty(),
                "{}: {title} is empty",
                draft.format
            );
            assert!(
                !body.contains("To fill in"),
                "{}: {title} keeps a prompt:\n{body}",
                draft.format
            );
        }
    }
}
