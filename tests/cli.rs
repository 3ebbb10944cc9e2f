//! The command line's contract: bad input gets a clear error naming the file and position and
//! changes nothing; configuration layers and user templates work as documented.

mod common;

use common::{Sandbox, fixture, stderr, stdout, success};

fn shakespeare() -> String {
    fixture("google-sre-shakespeare-2015/slack")
        .display()
        .to_string()
}

/// A copy of the Shakespeare Slack export whose day file is replaced by `day`.
fn slack_export_with_day(sandbox: &Sandbox, day: &str) -> std::path::PathBuf {
    let root = sandbox.path().join("export");
    let channel = root.join("inc-465-shakespeare");
    std::fs::create_dir_all(&channel).unwrap();
    for file in ["channels.json", "users.json"] {
        std::fs::copy(
            fixture(&format!("google-sre-shakespeare-2015/slack/{file}")),
            root.join(file),
        )
        .unwrap();
    }
    std::fs::write(channel.join("2015-10-21.json"), day).unwrap();
    root
}

#[test]
fn a_malformed_slack_day_file_is_named_with_its_position_and_nothing_is_written() {
    let sandbox = Sandbox::new();
    let export = slack_export_with_day(
        &sandbox,
        "[\n  {\"type\": \"message\", \"ts\": \"1445439680.0\",\n   \"text\": \"ok\"},\n  {\"type\": \"message\" \"ts\": 1}\n]\n",
    );
    let out_file = sandbox.path().join("draft.md");
    let output = sandbox.run(&[
        "draft",
        export.to_str().unwrap(),
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("2015-10-21.json"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("column"), "{err}");
    assert!(!out_file.exists(), "nothing is written on error");
    assert!(stdout(&output).is_empty());
}

#[test]
fn a_bad_timestamp_is_named_by_its_json_path() {
    let sandbox = Sandbox::new();
    let export = slack_export_with_day(
        &sandbox,
        r#"[{"type": "message", "ts": "1445439680.0", "text": "ok"}, {"type": "message", "ts": "yesterday", "text": "x"}]"#,
    );
    let output = sandbox.run(&["draft", export.to_str().unwrap()]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("2015-10-21.json") && err.contains("[1].ts"),
        "{err}"
    );
}

#[test]
fn a_truncated_discord_export_is_named_with_its_position() {
    let sandbox = Sandbox::new();
    let full = std::fs::read_to_string(fixture("adversarial/discord.json")).unwrap();
    let cut = sandbox.path().join("cut.json");
    std::fs::write(&cut, &full[..full.len() / 2]).unwrap();
    let output = sandbox.run(&["draft", cut.to_str().unwrap()]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("cut.json") && err.contains("line") && err.contains("column"),
        "{err}"
    );
}

#[test]
fn something_that_is_no_export_says_what_was_expected() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.path().join("notes.txt"), "hello").unwrap();
    for path in ["notes.txt", "missing-dir"] {
        let output = sandbox.run(&["draft", path]);
        assert!(!output.status.success(), "{path}");
        let err = stderr(&output);
        assert!(err.contains(path), "{err}");
    }
}

#[test]
fn an_export_without_an_incident_says_so() {
    let sandbox = Sandbox::new();
    let export = slack_export_with_day(
        &sandbox,
        r#"[{"type": "message", "ts": "1445439680.0", "user": "U043FRTQ5", "text": "just chatting"}]"#,
    );
    let output = sandbox.run(&["draft", export.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("/incident start"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn each_cause_of_a_failure_is_said_once() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.path().join("a-file"), "not a directory").unwrap();
    std::fs::create_dir(sandbox.path().join("a-dir")).unwrap();
    std::fs::write(sandbox.path().join("truncated.json"), "{\"messages\": [").unwrap();
    let database = |path: &str| format!("sqlite://{}", sandbox.path().join(path).display());
    let cases: [(&[&str], Option<String>, &str); 5] = [
        (&["draft", "missing.json"], None, "(os error 2)"),
        (&["draft", "truncated.json"], None, "EOF while parsing"),
        (
            &["draft", &shakespeare(), "--out", "a-dir"],
            None,
            "(os error 21)",
        ),
        (
            &["migrate"],
            Some(database("a-file/scribe.db")),
            "(os error 17)",
        ),
        (
            &["migrate"],
            Some(database("a-dir")),
            "unable to open database file",
        ),
    ];
    for (args, url, cause) in cases {
        let mut command = sandbox.scribe();
        if let Some(url) = &url {
            command.env("SCRIBE__DATABASE__URL", url);
        }
        let output = command.args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        let err = stderr(&output);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert_eq!(err.matches(cause).count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn out_writes_the_draft_to_a_file() {
    let sandbox = Sandbox::new();
    let output = sandbox.run(&["draft", &shakespeare(), "--out", "pm.md"]);
    success(&output);
    assert!(stdout(&output).is_empty());
    let draft = std::fs::read_to_string(sandbox.path().join("pm.md")).unwrap();
    assert!(draft.starts_with("# Incident: Shakespeare search cascading failure"));
}

#[test]
fn unknown_configuration_keys_are_named() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path().join("scribe.toml"),
        "[team]\ntimezon = \"UTC\"\n",
    )
    .unwrap();
    let output = sandbox.run(&["--config", "scribe.toml", "draft", &shakespeare()]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("timezon") && err.contains("scribe.toml"),
        "{err}"
    );

    let output = sandbox
        .scribe()
        .env("SCRIBE__TEAM__NOPE", "1")
        .args(["draft", &shakespeare()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("nope"), "{}", stderr(&output));
}

#[test]
fn a_bad_time_zone_is_refused() {
    let sandbox = Sandbox::new();
    let output = sandbox
        .scribe()
        .env("SCRIBE__TEAM__TIMEZONE", "Mars/Olympus_Mons")
        .args(["draft", &shakespeare()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("timezone"), "{}", stderr(&output));
}

#[test]
fn the_environment_overrides_the_team_zone() {
    let sandbox = Sandbox::new();
    let output = sandbox
        .scribe()
        .env("SCRIBE__TEAM__TIMEZONE", "America/Los_Angeles")
        .args(["draft", &shakespeare()])
        .output()
        .unwrap();
    let draft = success(&output);
    assert!(
        draft.contains("Team time zone: America/Los_Angeles"),
        "{draft}"
    );
    assert!(
        draft.contains("- **15:01** (08:01 PDT) - Incident started"),
        "{draft}"
    );
}

#[test]
fn a_users_template_overrides_the_built_in_one_by_name() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("my-templates");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("postmortem.md.j2"),
        "{{ title }} / {{ severity }} / {{ timeline | length }} entries\n",
    )
    .unwrap();
    std::fs::write(dir.join("short.md.j2"), "short: {{ title }}\n").unwrap();
    let run = |args: &[&str]| {
        sandbox
            .scribe()
            .env("SCRIBE__DRAFTING__TEMPLATE_DIR", &dir)
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(
        success(&run(&["draft", &shakespeare()])),
        "Shakespeare search cascading failure: HTTP 500s in all clusters / Critical (sev1) / 30 entries\n"
    );
    assert_eq!(
        success(&run(&[
            "draft",
            &shakespeare(),
            "--template",
            "short.md.j2"
        ])),
        "short: Shakespeare search cascading failure: HTTP 500s in all clusters\n"
    );
    let missing = run(&["draft", &shakespeare(), "--template", "nope.md.j2"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("nope.md.j2"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn a_template_error_names_the_template_and_line() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("t");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("broken.md.j2"),
        "# {{ title }}\n\n{{ no_such_field }}\n",
    )
    .unwrap();
    let output = sandbox
        .scribe()
        .env("SCRIBE__DRAFTING__TEMPLATE_DIR", &dir)
        .args(["draft", &shakespeare(), "--template", "broken.md.j2"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("broken.md.j2:3") && err.contains("no_such_field"),
        "{err}"
    );
}

#[test]
fn check_lists_every_bad_setting_with_its_key_and_every_command_stops_on_them() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.path().join("bad.toml"),
        r#"
[database]
url = "mysql://scribe:hunter2@db/scribe"

[server]
max_body_bytes = 0

[publish]
targets = ["git", "github"]

[publish.files]
path = "../../etc/{slug}.md"

[publish.git]
remote = "file:///srv/postmortems.git"

[log]
level = "nonsense[[["
"#,
    )
    .unwrap();
    let output = sandbox
        .scribe()
        .env("SCRIBE__DISCORD__GUILD_IDS", "12,x")
        .args(["--config", "bad.toml", "check"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    for (source, key, why) in [
        ("bad.toml", "database.url", "mysql"),
        ("bad.toml", "server.max_body_bytes", "0"),
        ("bad.toml", "publish.files.path", "../../etc/{slug}.md"),
        ("bad.toml", "log.level", "nonsense[[["),
        ("bad.toml", "publish.targets", "publish.github.repository"),
        ("bad.toml", "publish.targets", "GITHUB_TOKEN"),
        (
            "environment variable SCRIBE__DISCORD__GUILD_IDS",
            "discord.guild_ids",
            "x",
        ),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(source) && l.contains(key) && l.contains(why)),
            "no line names {source}, {key} and {why}:\n{err}"
        );
    }
    assert!(err.contains("7 problem(s)"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");

    // Any other command stops at start, with the same lines.
    let output = sandbox
        .scribe()
        .env("SCRIBE__DISCORD__GUILD_IDS", "12,x")
        .args(["--config", "bad.toml", "draft", &shakespeare()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stdout(&output).is_empty());
    let same: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.contains("problem(s)"))
        .collect();
    assert_eq!(stderr(&output).lines().collect::<Vec<_>>(), same);
}

#[test]
fn one_guild_id_in_the_environment_is_a_list_of_one() {
    let sandbox = Sandbox::new();
    for ids in ["300", "300,400", "[300,400]"] {
        let output = sandbox
            .scribe()
            .env("SCRIBE__DISCORD__GUILD_IDS", ids)
            .arg("check")
            .output()
            .unwrap();
        success(&output);
    }
}

#[test]
fn insights_count_the_stored_incidents_in_every_format() {
    let sandbox = Sandbox::new();
    let sessions = [
        (
            "one",
            "/incident start Checkout down sev1\n/incident factor retries amplified the load\n/incident resolve\n/incident close\n",
        ),
        (
            "two",
            "/incident start Search slow sev2\n/incident factor retries amplified the load\n/incident action tune retries due 2020-01-01\n/incident close\n",
        ),
        ("three", "/incident start Queue stuck\n"),
    ];
    for (room, session) in sessions {
        success(&sandbox.run_with_input(&["console", "--as", "Ana", "--channel", room], session));
    }
    let json: serde_json::Value =
        serde_json::from_str(&success(&sandbox.run(&["insights", "--format", "json"]))).unwrap();
    assert_eq!(json["incidents"], 3);
    assert_eq!(json["by_severity"]["sev1"]["count"], 1);
    assert_eq!(json["by_severity"]["sev1"]["ttr_median_minutes"], 0);
    assert_eq!(
        json["by_severity"]["sev2"]["ttr_median_minutes"],
        serde_json::Value::Null
    );
    assert_eq!(json["by_severity"]["none"]["count"], 1);
    assert_eq!(json["actions"]["overdue"], 1);
    assert_eq!(json["factors"][0]["phrase"], "retries amplified the load");
    let sev2 = serde_json::from_str::<serde_json::Value>(&success(&sandbox.run(&[
        "insights",
        "--severity",
        "sev2",
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(sev2["incidents"], 1);
    let markdown = success(&sandbox.run(&["insights"]));
    assert!(markdown.contains("| sev1 | 1 | 0 | 0 |"), "{markdown}");
    let csv = success(&sandbox.run(&["insights", "--format", "csv"]));
    assert!(csv.starts_with("severity,incidents,"), "{csv}");
    let load = success(&sandbox.run(&["insights", "--format", "csv", "--table", "load"]));
    assert!(load.starts_with("month,person_hours,people\n"), "{load}");
    let bad = sandbox.run(&["insights", "--from", "2026-02-30"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from"));
}

#[test]
fn discord_invite_asks_for_exactly_the_permissions_scribe_uses() {
    let sandbox = Sandbox::new();
    // Discord's documented bits: VIEW_CHANNEL 1 << 10, SEND_MESSAGES 1 << 11, ATTACH_FILES
    // 1 << 15, READ_MESSAGE_HISTORY 1 << 16, SEND_MESSAGES_IN_THREADS 1 << 38.
    let permissions: u64 = (1 << 10) + (1 << 11) + (1 << 15) + (1 << 16) + (1 << 38);
    let invite = |id: &str| {
        format!(
            "https://discord.com/oauth2/authorize?client_id={id}\
             &scope=bot+applications.commands&permissions={permissions}\n"
        )
    };
    // "MTIzNDU2Nzg5MDEyMzQ1Njc4" is the base64 of the bot's id, 123456789012345678.
    let token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhJkLm.aBcDeFgHiJkLmNoPqRsTuVwXyZ012345";
    let run = |token: Option<&str>, id: Option<&str>| {
        let mut scribe = sandbox.scribe();
        scribe.env_remove("DISCORD_TOKEN");
        if let Some(token) = token {
            scribe.env("DISCORD_TOKEN", token);
        }
        if let Some(id) = id {
            scribe.env("SCRIBE__DISCORD__APPLICATION_ID", id);
        }
        scribe.arg("discord-invite").output().unwrap()
    };

    let from_token = run(Some(token), None);
    success(&from_token);
    assert_eq!(stdout(&from_token), invite("123456789012345678"));
    let configured = run(Some(token), Some("1155550123456789012"));
    success(&configured);
    assert_eq!(stdout(&configured), invite("1155550123456789012"));
    let without_token = run(None, Some("1155550123456789012"));
    assert_eq!(stdout(&without_token), invite("1155550123456789012"));

    let neither = run(None, None);
    assert!(!neither.status.success());
    assert!(stdout(&neither).is_empty());
    assert!(
        stderr(&neither).contains(
            "no Discord application id: set [discord] application_id \
             (SCRIBE__DISCORD__APPLICATION_ID) or DISCORD_TOKEN"
        ),
        "{}",
        stderr(&neither)
    );
    let not_a_bot = run(Some("mfa.secret-user-token-xyz"), None);
    assert!(!not_a_bot.status.success());
    let err = stderr(&not_a_bot);
    assert!(
        err.contains("DISCORD_TOKEN does not begin with an application id"),
        "{err}"
    );
    assert!(
        !err.contains("secret-user-token"),
        "the token is never shown: {err}"
    );

    // A malformed id is a configuration problem, named by `scribe check` with its key.
    let output = sandbox
        .scribe()
        .env("SCRIBE__DISCORD__APPLICATION_ID", "my-bot")
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.lines()
            .any(|l| l.contains("SCRIBE__DISCORD__APPLICATION_ID")
                && l.contains("discord.application_id")
                && l.contains("my-bot")),
        "{err}"
    );
}
