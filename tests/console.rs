//! `scribe console`: a whole incident typed in a terminal, drafted on close, resumable.

mod common;

use common::{Sandbox, broken_templates, stderr, stdout, success};

#[test]
fn an_incident_played_in_the_console_is_drafted_on_close() {
    let sandbox = Sandbox::new();
    let session = "\
FIRING: checkout error rate 22%
/pin
/incident start Checkout 5xx after deploy --sev sev2
/timeline rolled back checkout-api
db failover to replica done
/react 📌
/incident lead @Robin
/incident action add a canary stage @Zoë
/incident resolve
/incident close
";
    let output = sandbox.run_with_input(&["console", "--as", "Robin"], session);
    let out = success(&output);
    assert!(
        out.contains("Incident opened: Checkout 5xx after deploy"),
        "{out}"
    );
    assert!(out.contains("Added to the timeline at"), "{out}");
    let path_line = out
        .lines()
        .find(|l| l.contains("Postmortem draft written to "))
        .unwrap_or_else(|| panic!("no draft path in:\n{out}"));
    let path = path_line.split("written to ").nth(1).unwrap();
    assert!(
        path.starts_with("postmortems/") && path.contains("-checkout-5xx-after-deploy-"),
        "{path}"
    );
    let draft = std::fs::read_to_string(sandbox.path().join(path)).unwrap();
    for fact in [
        "# Incident: Checkout 5xx after deploy",
        "**Severity:** High (sev2)",
        "**Author:** @Robin",
        "FIRING: checkout error rate 22% — Robin",
        "rolled back checkout-api — Robin",
        "db failover to replica done — Robin",
        "- [ ] add a canary stage - @Zoë",
        "Robin (8 messages, ",
        "#console (console)",
    ] {
        assert!(draft.contains(fact), "draft lacks {fact:?}:\n{draft}");
    }
    assert!(sandbox.path().join("data/scribe.db").exists());
}

#[test]
fn quitting_and_restarting_resumes_the_open_incident() {
    let sandbox = Sandbox::new();
    success(&sandbox.run_with_input(
        &["console", "--as", "Zoë"],
        "/incident start Queue backlog\n/timeline consumers restarted\n/quit\n",
    ));
    let output = sandbox.run_with_input(
        &["console", "--as", "Robin"],
        "lag back under 1 minute\n/pin\n/incident status\n/incident close\n",
    );
    let out = stdout(&output);
    assert!(
        out.contains("Resuming the open incident: open: Queue backlog"),
        "{out}"
    );
    assert!(out.contains("3 timeline entries · 2 participants"), "{out}");
    let drafts: Vec<_> = sandbox
        .files()
        .into_iter()
        .filter(|f| f.starts_with("postmortems"))
        .collect();
    assert_eq!(drafts.len(), 1, "{drafts:?}");
    let draft = std::fs::read_to_string(sandbox.path().join(&drafts[0])).unwrap();
    assert!(draft.contains("consumers restarted — Zoë"), "{draft}");
    assert!(draft.contains("lag back under 1 minute — Robin"), "{draft}");
}

#[test]
fn two_incidents_whose_titles_slug_alike_keep_their_own_drafts() {
    let sandbox = Sandbox::new();
    let out = success(&sandbox.run_with_input(
        &["console", "--as", "Robin"],
        "/incident start 💥💥💥\n/timeline first fire\n/incident close\n\
         /incident start .\n/timeline second fire\n/incident close\n",
    ));
    let written: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split("Postmortem draft written to ").nth(1))
        .collect();
    assert_eq!(written.len(), 2, "{out}");
    assert_ne!(written[0], written[1], "{out}");
    let draft = |path: &str| std::fs::read_to_string(sandbox.path().join(path)).unwrap();
    assert!(draft(written[0]).contains("first fire — Robin"));
    assert!(!draft(written[0]).contains("second fire"));
    assert!(draft(written[1]).contains("second fire — Robin"));
}

#[test]
fn bad_commands_get_usage_and_change_nothing() {
    let sandbox = Sandbox::new();
    let out = success(&sandbox.run_with_input(
        &["console"],
        "/pin\n/timeline\n/incident severity sev9\n/incident start\n/incident status\n",
    ));
    assert!(out.contains("no previous message"), "{out}");
    assert!(out.contains("usage: /timeline <text>"), "{out}");
    assert!(out.contains("`sev9` is not a severity"), "{out}");
    assert!(out.contains("usage: /incident start <title>"), "{out}");
    assert!(out.contains("No open incident in this channel"), "{out}");
}

#[test]
fn a_draft_preview_does_not_close_the_incident() {
    let sandbox = Sandbox::new();
    let out = success(&sandbox.run_with_input(
        &["console"],
        "/incident start Disk full on db-3\n/timeline {{ 7*7 }} @everyone\n/incident draft\n/incident status\n",
    ));
    assert!(out.contains("# Incident: Disk full on db-3"), "{out}");
    assert!(out.contains("{{ 7*7 }} @\u{200b}everyone"), "{out}");
    assert!(out.contains("open: Disk full on db-3"), "{out}");
    assert!(!sandbox.path().join("postmortems").exists());
}

#[test]
fn a_broken_template_is_logged_and_the_room_is_told_so_plainly() {
    use std::io::Write;
    use std::process::Stdio;

    let sandbox = Sandbox::new();
    let dir = broken_templates(&sandbox);
    let mut child = sandbox
        .scribe()
        .env("SCRIBE__DRAFTING__TEMPLATE_DIR", &dir)
        .arg("console")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"/incident start Disk full on db-3\n/incident draft\n/incident close\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();

    // The session goes on past the first failure: both the preview and the close say so.
    let out = success(&output);
    let no_draft = scribe::domain::reply::no_draft();
    assert_eq!(out.matches(no_draft.as_str()).count(), 2, "{out}");
    assert!(out.contains("Incident closed: Disk full on db-3"), "{out}");
    assert!(!out.contains("no_such_field"), "{out}");
    let log = stderr(&output);
    assert!(
        log.contains("postmortem.md.j2") && log.contains("no_such_field"),
        "{log}"
    );
    assert!(!sandbox.path().join("postmortems").exists());
}

#[test]
fn a_line_of_bad_bytes_or_too_long_is_reported_and_the_session_goes_on() {
    let sandbox = Sandbox::new();
    let mut input = b"/incident start Disk full\n\xff\xfe not text\n".to_vec();
    input.extend(vec![b'x'; 1 << 20]);
    input.extend(b"\n/timeline cleaned up /var/log\n/incident status\n");
    let out = success(&sandbox.run_with_input(&["console"], input));
    assert!(
        out.contains("scribe: line 2 is not valid UTF-8 and was not recorded"),
        "{out}"
    );
    assert!(
        out.contains("scribe: line 3 is longer than 65536 bytes and was not recorded"),
        "{out}"
    );
    assert!(out.contains("Added to the timeline"), "{out}");
    assert!(!out.contains("xxxxxxxx"), "{out}");
}

#[test]
fn control_characters_are_shown_not_obeyed() {
    let sandbox = Sandbox::new();
    let out = success(&sandbox.run_with_input(
        &["console"],
        "/incident start Boom\x1b[2J\x1b]0;owned\x07 now\n/incident status\n",
    ));
    assert!(!out.contains(['\x1b', '\x07']), "{out:?}");
    assert!(
        out.contains("Incident opened: Boom\\x1b[2J\\x1b]0;owned\\x07 now"),
        "{out}"
    );
}

#[test]
fn incident_web_prints_a_sign_in_link_for_whoever_asked() {
    let sandbox = Sandbox::new();
    let out = success(&sandbox.run_with_input(&["console", "--as", "Robin"], "/incident web\n"));
    let line = out
        .lines()
        .find(|l| l.contains("/login/"))
        .unwrap_or_else(|| panic!("no link in:\n{out}"));
    assert!(line.contains("works once, within 10 minutes"), "{line}");
    let token = line.rsplit("/login/").next().unwrap().trim();
    assert_eq!(token.len(), 64, "{line}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
    // The store keeps no token, only its digest.
    let db = std::fs::read(sandbox.path().join("data/scribe.db")).unwrap();
    let wal = std::fs::read(sandbox.path().join("data/scribe.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token itself is stored"
        );
    }
}

#[test]
fn past_incidents_are_found_by_words_and_listed_when_a_like_one_starts() {
    let sandbox = Sandbox::new();
    success(&sandbox.run_with_input(
        &["console", "--as", "Robin"],
        "\
/incident start Checkout API 5xx after deploy --sev sev2
/incident factor connection pool exhausted by retries
/incident resolve
/incident close
/incident start Payments failover
/incident close
",
    ));
    // Another session, another day: the index is read from the store.
    let output = sandbox.run_with_input(
        &["console", "--as", "Zoë"],
        "\
/incident start checkout 5xx again
/incident search pool \"exhausted (
/incident search payments OR \"failover (*
/incident search nothing-like-this
/incident similar
",
    );
    let out = success(&output);
    let headline = out
        .split("Incident opened: checkout 5xx again")
        .nth(1)
        .unwrap_or_else(|| panic!("no start in:\n{out}"));
    let (listed, rest) = headline
        .split_once("Incidents matching")
        .unwrap_or_else(|| panic!("no search answer in:\n{out}"));
    assert!(
        listed.contains("Past incidents like this one:\n1. Checkout API 5xx after deploy (sev2, "),
        "{out}"
    );
    assert!(
        !listed.contains("Payments failover"),
        "only incidents sharing words: {out}"
    );
    assert!(
        listed.contains("/incidents/console%3Aconsole%3A"),
        "with a link: {out}"
    );
    assert!(
        rest.contains("1. Checkout API 5xx after deploy")
            && rest.contains("“connection pool exhausted by retries"),
        "the quote and bracket are only words; the snippet shows the match: {out}"
    );
    assert!(
        out.contains("matching “payments OR \"failover (*”, best first:\n1. Payments failover"),
        "{out}"
    );
    assert!(
        out.contains("No incident matches “nothing-like-this”"),
        "{out}"
    );
    let similar = out.rsplit("scribe: ").next().unwrap();
    assert!(
        similar.starts_with("Past incidents like this one:\n1. Checkout API 5xx after deploy"),
        "{out}"
    );
}
