//! `scribe draft` replays real chat exports into drafts that hold every fact the fixture lists,
//! from the Slack export and from the DiscordChatExporter file alike.

mod common;

use chrono::{DateTime, Timelike, Utc};
use common::{Sandbox, fixture, success};
use fancy_regex::Regex;
use serde_json::Value;

const CASES: [&str; 2] = ["google-sre-shakespeare-2015", "adversarial"];
const EXPORTS: [&str; 2] = ["slack", "discord.json"];

fn expected(case: &str) -> Value {
    let text = std::fs::read_to_string(fixture(&format!("{case}/expected.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

struct Draft {
    json: Value,
    markdown: String,
    label: String,
}

fn draft(case: &str, export: &str) -> Draft {
    let sandbox = Sandbox::new();
    let path = fixture(&format!("{case}/{export}"));
    let path = path.to_str().unwrap();
    let json = success(&sandbox.run(&["draft", path, "--format", "json"]));
    let markdown = success(&sandbox.run(&["draft", path]));
    assert!(
        sandbox.files().is_empty(),
        "a replay writes nothing: {:?}",
        sandbox.files()
    );
    Draft {
        json: serde_json::from_str(&json).expect("one JSON object"),
        markdown,
        label: format!("{case}/{export}"),
    }
}

fn all_drafts() -> Vec<(Value, Draft)> {
    CASES
        .iter()
        .flat_map(|case| {
            EXPORTS
                .iter()
                .map(move |export| (expected(case), draft(case, export)))
        })
        .collect()
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str().map(|s| s.parse().expect("RFC 3339 time"))
}

fn to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0).unwrap()
}

fn to_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    to_second(t).with_second(0).unwrap()
}

/// The entries people made (state changes, source `event`, are not in the fixtures' lists).
fn entries(json: &Value) -> Vec<&Value> {
    json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] != "event")
        .collect()
}

#[test]
fn drafts_carry_the_incident_facts() {
    for (expected, draft) in all_drafts() {
        let (json, label) = (&draft.json, &draft.label);
        assert_eq!(json["title"], expected["title"], "{label}");
        assert_eq!(json["severity"], expected["severity_final"], "{label}");
        for field in ["started_at", "resolved_at", "closed_at"] {
            assert_eq!(
                time(&json[field]).map(to_second),
                time(&expected[field]),
                "{label}: {field}"
            );
        }
        assert_eq!(
            json["duration_minutes"], expected["duration_minutes"],
            "{label}"
        );
        assert_eq!(json["status"], "closed", "{label}");
    }
}

#[test]
fn drafts_hold_every_timeline_entry_in_order() {
    for (expected, draft) in all_drafts() {
        let label = &draft.label;
        let got = entries(&draft.json);
        let want = expected["timeline"].as_array().unwrap();
        let got_texts: Vec<_> = got.iter().map(|e| e["text"].as_str().unwrap()).collect();
        assert_eq!(got.len(), want.len(), "{label}: {got_texts:#?}");
        for (got, want) in got.iter().zip(want) {
            let needle = want["text_contains"].as_str().unwrap();
            let text = got["text"].as_str().unwrap().replace('\u{200b}', "");
            assert!(text.contains(needle), "{label}: {text:?} lacks {needle:?}");
            assert_eq!(
                time(&got["at"]).map(to_minute),
                time(&want["at"]),
                "{label}: time of {needle:?}"
            );
            assert!(
                draft.markdown.replace('\u{200b}', "").contains(needle),
                "{label}: markdown lacks {needle:?}"
            );
        }
        let times: Vec<_> = draft.json["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| time(&e["at"]).unwrap())
            .collect();
        assert!(times.is_sorted(), "{label}: timeline sorted by time");
    }
}

#[test]
fn chatter_never_becomes_an_entry() {
    for (expected, draft) in all_drafts() {
        for chatter in expected["not_in_timeline"].as_array().unwrap() {
            let chatter = chatter.as_str().unwrap();
            for entry in draft.json["timeline"].as_array().unwrap() {
                let text = entry["text"].as_str().unwrap();
                assert!(
                    !text.contains(chatter),
                    "{}: {chatter:?} is an entry",
                    draft.label
                );
            }
        }
    }
}

#[test]
fn participants_are_the_humans_who_wrote() {
    for (expected, draft) in all_drafts() {
        let names: Vec<_> = draft.json["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let want: Vec<_> = expected["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(names, want, "{}", draft.label);
        assert_eq!(
            names.len() as u64,
            expected["participant_count"].as_u64().unwrap()
        );
        for name in want {
            assert!(
                draft.markdown.contains(name),
                "{}: {name} in the draft",
                draft.label
            );
        }
    }
}

/// Fenced blocks and inline code spans removed: where active markup would take effect.
fn outside_code(markdown: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            let spans = Regex::new("`[^`]*`").unwrap();
            out.push_str(&spans.replace_all(line, ""));
            out.push('\n');
        }
    }
    out
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap()).collect())
        .unwrap_or_default()
}

fn regex(invariant: &Value, key: &str) -> Option<Regex> {
    let pattern = invariant[key].as_str()?;
    let flags = if invariant["flags"] == "i" {
        "(?i)"
    } else {
        ""
    };
    Some(Regex::new(&format!("{flags}{pattern}")).expect("fixture regex"))
}

#[test]
fn adversarial_invariants_hold_for_both_exports() {
    let expected = expected("adversarial");
    for export in EXPORTS {
        let draft = draft("adversarial", export);
        let (md, json, label) = (&draft.markdown, &draft.json, &draft.label);
        let timeline = entries(json);
        let count = |needle: &str| {
            timeline
                .iter()
                .filter(|e| e["text"].as_str().unwrap().contains(needle))
                .count()
        };
        for invariant in expected["invariants"].as_array().unwrap() {
            let id = invariant["id"].as_str().unwrap();
            let mut checked = false;
            let any = strings(&invariant["must_contain_any"]);
            if !any.is_empty() {
                assert!(any.iter().any(|s| md.contains(s)), "{label}: {id}");
                checked = true;
            }
            for s in strings(&invariant["must_contain_all"]) {
                assert!(md.contains(s), "{label}: {id}: lacks {s:?}");
                checked = true;
            }
            for s in strings(&invariant["must_not_contain"]) {
                assert!(!md.contains(s), "{label}: {id}: has {s:?}");
                checked = true;
            }
            if let Some(re) = regex(invariant, "must_not_match") {
                let hit = re.find(md).unwrap();
                assert!(
                    hit.is_none(),
                    "{label}: {id}: {:?}",
                    hit.map(|m| m.as_str())
                );
                checked = true;
            }
            if let Some(re) = regex(invariant, "must_not_match_outside_code") {
                let outside = outside_code(md);
                let hit = re.find(&outside).unwrap();
                assert!(
                    hit.is_none(),
                    "{label}: {id}: {:?}",
                    hit.map(|m| m.as_str())
                );
                checked = true;
            }
            match id {
                "no_crash" => assert!(!md.trim().is_empty() && json.is_object()),
                "empty_timeline_ignored" => {
                    assert_eq!(timeline.len(), 12, "{label}: {id}");
                    assert!(
                        timeline
                            .iter()
                            .all(|e| !e["text"].as_str().unwrap().trim().is_empty())
                    );
                }
                "timeline_sorted" => {
                    let times: Vec<_> = timeline.iter().map(|e| time(&e["at"]).unwrap()).collect();
                    assert!(times.is_sorted(), "{label}: {id}");
                }
                "exact_duplicate_deduped" => {
                    assert_eq!(
                        count("Checkout success rate back to baseline"),
                        1,
                        "{label}: {id}"
                    );
                    assert_eq!(
                        md.matches("Checkout success rate back to baseline").count(),
                        1
                    );
                }
                "pin_plus_timeline_once" => {
                    assert_eq!(count("bad feature flag"), 1, "{label}: {id}");
                }
                "same_ts_distinct_messages_kept" => {
                    let names: Vec<_> = json["participants"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["name"].as_str().unwrap())
                        .collect();
                    assert!(names.contains(&"Trent Osei"), "{label}: {id}");
                    assert!(names.contains(&"Layla حداد"), "{label}: {id}");
                }
                "close_without_resolve" => {
                    assert!(json["resolved_at"].is_null() && json["duration_minutes"].is_null());
                    let duration = md.lines().find(|l| l.starts_with("**Duration:**")).unwrap();
                    assert!(duration.contains("unknown"), "{label}: {id}: {duration}");
                }
                "commands_only_at_start" => {
                    for chatter in ["fake entry inside the dump", "injected via CRLF"] {
                        assert_eq!(count(chatter), 0, "{label}: {id}");
                    }
                    assert!(!md.contains("injected via CRLF"), "{label}: {id}");
                }
                "round_pushpin_is_not_pushpin" => {
                    assert_eq!(count("Customer comms drafted"), 0, "{label}: {id}");
                }
                "zero_width_entry_kept" => {
                    let entry = timeline
                        .iter()
                        .find(|e| {
                            e["text"].as_str().unwrap().replace('\u{200b}', "")
                                == "DB failover to replica completed"
                        })
                        .unwrap_or_else(|| panic!("{label}: {id}"));
                    assert_eq!(
                        to_minute(time(&entry["at"]).unwrap()).to_rfc3339(),
                        "2024-03-09T10:06:00+00:00"
                    );
                }
                "deceptive_link_label" => {
                    assert!(!md.contains("](https://evil.example"), "{label}: {id}");
                    assert!(
                        !outside_code(md).contains("[https://bank.example"),
                        "{label}: {id}"
                    );
                }
                _ => assert!(checked, "{label}: invariant {id} is not checked"),
            }
        }
    }
}

/// A zipped Slack export whose day file is 8 MiB of spaces, deflated to a few KiB.
fn zip_bomb(sandbox: &Sandbox) -> std::path::PathBuf {
    use std::io::Write;
    let file = sandbox.path().join("bomb.zip");
    let mut writer = zip::ZipWriter::new(std::fs::File::create(&file).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    writer.start_file("channels.json", options).unwrap();
    writer
        .write_all(br#"[{"id": "C1", "name": "inc-1"}]"#)
        .unwrap();
    writer.start_file("inc-1/2024-03-09.json", options).unwrap();
    writer.write_all(b"[").unwrap();
    for _ in 0..8 {
        writer.write_all(&[b' '; 1 << 20]).unwrap();
    }
    writer.write_all(b"]").unwrap();
    writer.finish().unwrap();
    file
}

#[test]
fn an_export_over_the_size_limit_is_refused_and_the_limit_can_be_raised() {
    let sandbox = Sandbox::new();
    let bomb = zip_bomb(&sandbox);
    let bomb = bomb.to_str().unwrap();
    let output = sandbox.run(&["draft", bomb, "--max-export-bytes", "1048576"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        common::stderr(&output),
        format!(
            "error: {bomb}, entry inc-1/2024-03-09.json: the export takes more than 1048576 \
             bytes once decompressed; if it is genuine, raise the limit with \
             --max-export-bytes\n"
        )
    );
    // Under a higher limit it reads, and holds no incident.
    let output = sandbox.run(&["draft", bomb, "--max-export-bytes", "10000000"]);
    assert!(
        common::stderr(&output).contains("no incident in channel #inc-1"),
        "{}",
        common::stderr(&output)
    );
}

#[test]
fn control_characters_from_an_export_reach_the_terminal_written_out() {
    let sandbox = Sandbox::new();
    let file = sandbox.path().join("evil.json");
    std::fs::write(
        &file,
        r#"{"channel": {"id": "1", "name": "inc\u001b[2J\u009b31m"}, "messages": []}"#,
    )
    .unwrap();
    let output = sandbox.run(&["draft", file.to_str().unwrap(), "--channel", "nope"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = common::stderr(&output);
    assert!(!stderr.contains(['\u{1b}', '\u{9b}']), "{stderr:?}");
    assert!(
        stderr.ends_with("it has: inc\\x1b[2J\\u{9b}31m\n"),
        "{stderr:?}"
    );
}

/// A Slack export whose day files are out of order (a message filed under a later day) is
/// read whole and sorted, not streamed: the draft is the one its days in order give.
#[test]
fn a_misfiled_day_drafts_the_same() {
    let case = "google-sre-shakespeare-2015";
    let sandbox = Sandbox::new();
    let copy = sandbox.path().join("export");
    let channel = "inc-465-shakespeare";
    std::fs::create_dir_all(copy.join(channel)).unwrap();
    for file in ["channels.json", "users.json"] {
        std::fs::copy(fixture(&format!("{case}/slack/{file}")), copy.join(file)).unwrap();
    }
    let day = fixture(&format!("{case}/slack/{channel}/2015-10-21.json"));
    let mut messages: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(day).unwrap()).unwrap();
    let first = messages.remove(0);
    let write = |name: &str, messages: &[Value]| {
        let path = copy.join(channel).join(name);
        std::fs::write(path, serde_json::to_string(messages).unwrap()).unwrap();
    };
    write("2015-10-21.json", &messages);
    write("2015-10-22.json", &[first]);
    let misfiled = success(&sandbox.run(&["draft", copy.to_str().unwrap(), "--format", "json"]));
    assert_eq!(
        serde_json::from_str::<Value>(&misfiled).unwrap(),
        draft(case, "slack").json
    );
}
