//! One curation script, typed live in Slack (slash commands), Discord (slash commands with
//! typed options) and the console, gives the same incident: the same numbers, texts, hidden
//! entries and items, references, actions and edits, as the API serves it.

mod common;

use std::time::Duration;

use common::fake_discord::{
    BOT_TOKEN, FakeDiscord, GUILD_ID, string_option, subcommand, user_option,
};
use common::fake_slack::FakeSlack;
use common::server::Server;
use common::{Sandbox, success};
use serde_json::{Value, json};

/// The one person who types every command, with the same display name everywhere.
const NAME: &str = "Ana Lima";
const SLACK_USER: &str = "U0ANALIMA";
const DISCORD_USER: &str = "300000000000000001";
const SLACK_CHANNEL: &str = "C0WEBHOOKS";
const DISCORD_CHANNEL: &str = "400000000000000001";
const WAIT: Duration = Duration::from_secs(20);

/// The shared command text of every step, as typed in Slack and the console.
const SCRIPT: &[&str] = &[
    "/incident start Webhook backlog --sev sev2",
    "/timeline queue depth 40k",
    "/timeline 00:00 first page",
    "/incident factor retries amplified load",
    "/incident factor no alert on queue age",
    "/incident factor remove 1",
    "/incident worked rollback script",
    "/incident improve runbook was stale",
    "/incident ref alert https://alerts.example/1",
    "/incident ref runbook https://wiki.example/rb",
    "/incident action now scaled workers @Ana Lima",
    "/incident action queue-age alert @Ana Lima due 2030-01-31",
    "/incident action long redesign retries",
    "/incident action done 2",
    "/incident action remove 3",
    "/timeline edit 2 queue depth 45k",
    "/timeline move 3 00:01",
    "/timeline remove 1",
    "/timeline restore 1",
    "/timeline remove 3",
    "/timeline remove 99",
    "/timeline list",
    "/incident resolve drained",
    "/incident close",
    "/incident worked paging after the close",
];

/// What every path must agree on: all but times, which are each run's own.
fn curated(incident: &Value) -> Value {
    let pick = |list: &str, fields: &[&str]| -> Value {
        incident[list]
            .as_array()
            .unwrap_or_else(|| panic!("no {list} in {incident:#}"))
            .iter()
            .map(|item| {
                Value::Object(
                    fields
                        .iter()
                        .map(|f| (f.to_string(), item[*f].clone()))
                        .collect(),
                )
            })
            .collect::<Vec<Value>>()
            .into()
    };
    let mut timeline = pick(
        "timeline",
        &[
            "n",
            "text",
            "source",
            "hidden",
            "original_text",
            "edited_by",
        ],
    );
    for (entry, full) in timeline
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .zip(incident["timeline"].as_array().unwrap())
    {
        entry["moved"] = json!(!full["original_at"].is_null());
    }
    json!({
        "title": incident["title"],
        "severity": incident["severity"],
        "status": incident["status"],
        "timeline": timeline,
        "factors": pick("factors", &["n", "text", "author", "hidden"]),
        "worked": pick("worked", &["n", "text", "author", "hidden"]),
        "improve": pick("improve", &["n", "text", "author", "hidden"]),
        "references": incident["references"],
        "actions": pick("actions", &["n", "text", "owner", "horizon", "due", "done", "hidden"]),
        "people": incident["team_impact"]["people"],
    })
}

/// What the script must leave, checked on the first path (the others must equal it).
fn check_script_result(curated: &Value) {
    let entries: Vec<(u64, &str, bool)> = curated["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["n"].as_u64().unwrap(),
                e["text"].as_str().unwrap(),
                e["hidden"].as_bool().unwrap(),
            )
        })
        .collect();
    let by_n = |n: u64| entries.iter().find(|e| e.0 == n).copied().unwrap();
    assert_eq!(
        by_n(1).1,
        "Incident started: Webhook backlog, severity High (sev2)"
    );
    assert!(!by_n(1).2, "restored");
    assert_eq!(by_n(2), (2, "queue depth 45k", false));
    assert_eq!(by_n(3), (3, "first page", true));
    assert_eq!(
        entries.len(),
        5,
        "three state changes and two notes: {entries:?}"
    );
    let edited = &curated["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["n"] == 2)
        .unwrap();
    assert_eq!(edited["original_text"], "queue depth 40k");
    assert_eq!(edited["edited_by"], NAME);
    let moved = curated["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["n"] == 3)
        .unwrap();
    assert_eq!(moved["moved"], true);
    assert_eq!(
        curated["factors"],
        json!([
            {"n": 1, "text": "retries amplified load", "author": NAME, "hidden": true},
            {"n": 2, "text": "no alert on queue age", "author": NAME, "hidden": false},
        ])
    );
    assert_eq!(curated["worked"].as_array().unwrap().len(), 2);
    assert_eq!(
        curated["worked"][1]["text"], "paging after the close",
        "the story goes on after the close"
    );
    assert_eq!(
        curated["references"],
        json!([
            {"n": 1, "label": "alert", "text": "https://alerts.example/1", "hidden": false},
            {"n": 2, "label": "runbook", "text": "https://wiki.example/rb", "hidden": false},
        ])
    );
    assert_eq!(
        curated["actions"],
        json!([
            {"n": 1, "text": "scaled workers", "owner": NAME, "horizon": "now", "due": null,
             "done": true, "hidden": false},
            {"n": 2, "text": "queue-age alert", "owner": NAME, "horizon": "short",
             "due": "2030-01-31", "done": true, "hidden": false},
            {"n": 3, "text": "redesign retries", "owner": null, "horizon": "long", "due": null,
             "done": false, "hidden": true},
        ])
    );
}

async fn slack_run() -> Value {
    let fake = FakeSlack::start().await;
    fake.add_user(SLACK_USER, NAME, NAME);
    fake.set_zone(SLACK_USER, "Asia/Kolkata", "India Standard Time", 19800);
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    for (i, step) in SCRIPT.iter().enumerate() {
        let (command, text) = step.split_once(' ').unwrap();
        // Slack sends a mention as `<@U…>`; the owner of an action is one.
        let text = text.replace("@Ana Lima", &format!("<@{SLACK_USER}>"));
        let answer = server
            .command(SLACK_CHANNEL, SLACK_USER, command, &text, &format!("c.{i}"))
            .await;
        if *step == "/timeline list" {
            assert_eq!(answer["response_type"], "ephemeral", "{answer}");
            let list = answer["text"].as_str().unwrap();
            assert!(list.contains("#3 ") && list.contains("(hidden)"), "{list}");
        }
    }
    server.settled().await;
    let incident = server.the_incident().await;
    // Slack says where people are: whether Ana was up outside working hours is known.
    let impact = &incident["team_impact"];
    assert_eq!(impact["zones_known"], true, "{impact:#}");
    let hour_in_kolkata = |at: &Value| {
        let at: chrono::DateTime<chrono::Utc> = at.as_str().unwrap().parse().unwrap();
        chrono::Timelike::hour(&at.with_timezone(&chrono_tz::Asia::Kolkata))
    };
    let person = &impact["per_person"][0];
    let outside = |hour: u32| !(7..22).contains(&hour);
    let (first, last) = (
        outside(hour_in_kolkata(&person["first"])),
        outside(hour_in_kolkata(&person["last"])),
    );
    if first == last {
        let expected: Vec<&str> = if first { vec![NAME] } else { vec![] };
        assert_eq!(impact["outside_hours"], json!(expected), "{impact:#}");
    }
    curated(&incident)
}

async fn console_run() -> Value {
    let sandbox = Sandbox::new();
    let session = format!("{}\n", SCRIPT.join("\n"));
    let output =
        tokio::task::block_in_place(|| sandbox.run_with_input(&["console", "--as", NAME], session));
    let out = success(&output);
    assert!(out.contains("There is no timeline entry #99"), "{out}");
    assert!(
        out.contains("(hidden)"),
        "the list marks hidden entries: {out}"
    );
    // The console's store, served.
    let server = Server::start_with(&sandbox, &[]);
    let incidents = server.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0]["team_impact"]["zones_known"], false);
    curated(&incidents[0])
}

/// A step as Discord delivers it: the command, and its subcommand (in its group) with typed
/// options.
fn discord_interaction(step: &str) -> (&'static str, Value) {
    let words: Vec<&str> = step.split_whitespace().collect();
    let rest = |from: usize| words[from..].join(" ");
    let number =
        |word: &str| json!({"name": "number", "type": 4, "value": word.parse::<i64>().unwrap()});
    let text = |value: String| string_option("text", &value);
    match (words[0], words[1]) {
        ("/timeline", "list") => ("timeline", json!([subcommand("list", json!([]))])),
        ("/timeline", "edit") => (
            "timeline",
            json!([subcommand("edit", json!([number(words[2]), text(rest(3))]))]),
        ),
        ("/timeline", "move") => (
            "timeline",
            json!([subcommand(
                "move",
                json!([number(words[2]), string_option("time", &rest(3))])
            )]),
        ),
        ("/timeline", sub @ ("remove" | "restore")) => (
            "timeline",
            json!([subcommand(sub, json!([number(words[2])]))]),
        ),
        ("/timeline", first) if first.contains(':') => (
            "timeline",
            json!([subcommand(
                "add",
                json!([text(rest(2)), string_option("at", first)])
            )]),
        ),
        ("/timeline", _) => (
            "timeline",
            json!([subcommand("add", json!([text(rest(1))]))]),
        ),
        ("/incident", "start") => (
            "incident",
            json!([subcommand(
                "start",
                json!([
                    string_option("title", "Webhook backlog"),
                    string_option("severity", "sev2"),
                ])
            )]),
        ),
        ("/incident", group @ ("factor" | "worked" | "improve")) => {
            let sub = match words[2] {
                sub @ ("remove" | "restore") => subcommand(sub, json!([number(words[3])])),
                _ => subcommand("add", json!([text(rest(2))])),
            };
            (
                "incident",
                json!([{"name": group, "type": 2, "options": [sub]}]),
            )
        }
        ("/incident", "ref") => (
            "incident",
            json!([subcommand(
                "ref",
                json!([string_option("label", words[2]), text(rest(3))])
            )]),
        ),
        ("/incident", "action") => {
            let sub = match words[2] {
                sub @ ("done" | "remove" | "restore") => subcommand(sub, json!([number(words[3])])),
                _ => {
                    let mut words = words[2..].to_vec();
                    let mut options = Vec::new();
                    if let ["now" | "short" | "long", ..] = words.as_slice() {
                        options.push(string_option("horizon", words.remove(0)));
                    }
                    if let Some(i) = words.iter().position(|w| *w == "due") {
                        options.push(string_option("due", words[i + 1]));
                        words.truncate(i);
                    }
                    if let Some(i) = words.iter().position(|w| *w == "@Ana") {
                        options.push(user_option("owner", DISCORD_USER));
                        words.truncate(i);
                    }
                    options.push(text(words.join(" ")));
                    subcommand("add", Value::Array(options))
                }
            };
            (
                "incident",
                json!([{"name": "action", "type": 2, "options": [sub]}]),
            )
        }
        ("/incident", "resolve") => (
            "incident",
            json!([subcommand(
                "resolve",
                json!([string_option("note", &rest(2))])
            )]),
        ),
        ("/incident", sub) => ("incident", json!([subcommand(sub, json!([]))])),
        _ => panic!("no Discord form for {step}"),
    }
}

async fn discord_run() -> Value {
    let fake = FakeDiscord::start().await;
    fake.add_member(DISCORD_USER, "ana.lima", Some(NAME), None);
    fake.add_channel(DISCORD_CHANNEL, "inc-webhooks");
    let sandbox = Sandbox::new();
    let guilds = format!("[{GUILD_ID}]");
    let server = Server::start_with(
        &sandbox,
        &[
            ("DISCORD_TOKEN", BOT_TOKEN),
            ("SCRIBE__DISCORD__API_BASE_URL", &fake.base_url()),
            ("SCRIBE__DISCORD__GUILD_IDS", &guilds),
        ],
    );
    fake.wait_connected(WAIT).await;
    fake.wait_for("PUT", "/commands", 1, WAIT).await;
    for step in SCRIPT {
        let (name, options) = discord_interaction(step);
        let id = fake.command(DISCORD_CHANNEL, DISCORD_USER, name, options);
        let answer = fake.interaction_answer(&id, WAIT).await;
        if *step == "/timeline list" {
            let shown = answer.to_string();
            assert!(shown.contains("(hidden)"), "{shown}");
        }
    }
    server.settled().await;
    let incident = server.the_incident().await;
    // Discord never says where people are.
    assert_eq!(incident["team_impact"]["zones_known"], false);
    assert_eq!(incident["team_impact"]["outside_hours"], json!([]));
    curated(&incident)
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_discord_and_the_console_curate_alike() {
    let slack = slack_run().await;
    check_script_result(&slack);
    let console = console_run().await;
    assert_eq!(console, slack, "the console and Slack disagree");
    let discord = discord_run().await;
    assert_eq!(discord, slack, "Discord and Slack disagree");
}
