//! Scribe live in Slack: the real server on a random port, requests signed as Slack signs them,
//! payloads as Slack's documentation shows, and a local fake of Slack's Web API.

mod common;

use std::time::Duration;

use common::Sandbox;
use common::fake_slack::{FakeSlack, RESPONSE_URL};
use common::server::{SIGNING_SECRET, Server, entry_texts, interaction_body, message_action, now};
use serde_json::{Value, json};

const CHANNEL: &str = "C0CHECKOUT";
const WAIT: Duration = Duration::from_secs(20);

fn ts(offset: i64, n: u32) -> String {
    format!("{}.{n:06}", now() + offset)
}

fn message(user: &str, text: &str, ts: &str) -> Value {
    json!({"type": "message", "channel": CHANNEL, "user": user, "text": text, "ts": ts,
           "channel_type": "channel", "event_ts": ts})
}

async fn slack_with_people() -> FakeSlack {
    let fake = FakeSlack::start().await;
    fake.add_user("U0ROBIN01", "Robin Ayers", "Robin Ayers");
    fake.add_user("U0ZOE0002", "Zoë Kapoor", "Zoë Kapoor");
    fake.add_user("U0TRENT03", "", "Trent Osei");
    fake
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incident_runs_from_start_to_close_in_slack() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());

    let answer = server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "start Checkout 5xx <!here> --sev sev2",
            "t.1",
        )
        .await;
    assert_eq!(answer["response_type"], "ephemeral");
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("Incident opened: Checkout 5xx @here"),
        "{answer}"
    );
    let headline = fake.wait_for("chat.postMessage", 1, WAIT).await;
    let text = headline[0].params["text"].as_str().unwrap();
    assert_eq!(headline[0].params["channel"], CHANNEL);
    assert!(
        text.contains("Incident opened: Checkout 5xx") && text.contains("High (sev2)"),
        "{text}"
    );
    assert!(
        !text.contains("<!here>"),
        "quoted mass mentions never ping: {text}"
    );
    assert_eq!(
        headline[0].auth.as_deref(),
        Some("Bearer xoxb-test-bot-token-7f3a")
    );

    // Chatter, a 📌 on it, an edit; a thread reply; a command.
    let finding = ts(0, 11);
    server
        .event(
            "Ev01",
            message("U0ZOE0002", "db failover started", &finding),
        )
        .await;
    server
        .event("Ev02", json!({"type": "reaction_added", "user": "U0ROBIN01", "reaction": "pushpin",
            "item_user": "U0ZOE0002", "item": {"type": "message", "channel": CHANNEL, "ts": finding},
            "event_ts": ts(0, 20)}))
        .await;
    server
        .event("Ev03", json!({"type": "message", "subtype": "message_changed", "hidden": true,
            "channel": CHANNEL, "ts": ts(0, 30), "event_ts": ts(0, 30),
            "message": {"type": "message", "user": "U0ZOE0002", "text": "db failover to replica 2 done",
                        "ts": finding, "edited": {"user": "U0ZOE0002", "ts": ts(0, 30)}},
            "previous_message": {"type": "message", "user": "U0ZOE0002", "text": "db failover started", "ts": finding}}))
        .await;
    let mut reply = message("U0TRENT03", "mobile app recovering too", &ts(0, 40));
    reply["thread_ts"] = json!(finding);
    reply["parent_user_id"] = json!("U0ZOE0002");
    server.event("Ev04", reply).await;
    let answer = server
        .command(
            CHANNEL,
            "U0ZOE0002",
            "/timeline",
            "rolled back checkout-api, paged <@U0ROBIN01>",
            "t.2",
        )
        .await;
    assert_eq!(answer["response_type"], "in_channel", "{answer}");
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("Added to the timeline")
    );

    // A pin on a message posted before Scribe was in the channel: fetched once.
    let old = ts(-3600, 7);
    fake.add_message(
        CHANNEL,
        &old,
        "U0ROBIN01",
        "FIRING: checkout error rate 22%",
    );
    server
        .event(
            "Ev05",
            json!({"type": "reaction_added", "user": "U0ZOE0002", "reaction": "pushpin",
            "item": {"type": "message", "channel": CHANNEL, "ts": old}, "event_ts": ts(0, 50)}),
        )
        .await;
    assert_eq!(fake.calls_to("conversations.history").len(), 1);

    server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "resolve error rate back to normal",
            "t.3",
        )
        .await;
    let answer = server
        .command(CHANNEL, "U0ROBIN01", "/incident", "close", "t.4")
        .await;
    assert!(
        answer["text"].as_str().unwrap().contains("Incident closed"),
        "{answer}"
    );

    let posts = fake.wait_for("chat.postMessage", 2, WAIT).await;
    let summary = posts[1].params["text"].as_str().unwrap();
    assert!(
        summary.contains("Incident closed: Checkout 5xx"),
        "{summary}"
    );
    assert!(
        summary.contains("3 participants: Robin Ayers, Trent Osei, Zoë Kapoor"),
        "{summary}"
    );
    fake.wait_for("files.completeUploadExternal", 1, WAIT).await;
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1);
    let (name, content) = &uploads[0];
    let date = chrono::Utc::now().format("%Y-%m-%d");
    let short = common::short_id(server.the_incident().await["id"].as_str().unwrap());
    assert_eq!(
        name,
        &format!("postmortem-{date}-checkout-5xx-here-{short}.md")
    );
    let draft = String::from_utf8(content.clone()).unwrap();
    for fact in [
        "# Incident: Checkout 5xx @\u{200b}here",
        "**Severity:** High (sev2)",
        "db failover to replica 2 done — Zoë Kapoor",
        "rolled back checkout-api, paged @Robin Ayers — Zoë Kapoor",
        "FIRING: checkout error rate 22% — Robin Ayers",
        "Resolved: error rate back to normal",
        // Its span of activity follows when the reply fell after the start's instant.
        "Trent Osei (1 message",
    ] {
        assert!(draft.contains(fact), "draft lacks {fact:?}:\n{draft}");
    }

    let incident = server.the_incident().await;
    assert_eq!(incident["status"], "closed");
    assert_eq!(incident["platform"], "slack");
    let id = incident["id"].as_str().unwrap();
    let markdown = server
        .api(&format!("/api/incidents/{id}/postmortem.md"))
        .await
        .text()
        .await
        .unwrap();
    assert!(markdown.contains("db failover to replica 2 done"));
    let detail: Value = server
        .api(&format!("/api/incidents/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let states: Vec<_> = detail["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["done", "done", "done"], "{detail:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_deletes_pins_and_retries() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "start Queue backlog",
            "t.1",
        )
        .await;

    let keep = ts(0, 11);
    let gone = ts(0, 12);
    server
        .event("Ev10", message("U0ZOE0002", "consumers restarted", &keep))
        .await;
    server
        .event("Ev11", message("U0ZOE0002", "wrong channel, sorry", &gone))
        .await;
    for (id, item) in [("Ev12", &keep), ("Ev13", &gone)] {
        let pin = json!({"type": "pin_added", "user": "U0ROBIN01", "channel_id": CHANNEL,
            "item": {"type": "message", "channel": CHANNEL, "created": now(), "created_by": "U0ROBIN01",
                     "message": {"type": "message", "user": "U0ZOE0002", "text": "ignored: already captured", "ts": item}},
            "event_ts": ts(0, 20)});
        assert_eq!(server.event(id, pin).await.status(), 200);
    }
    assert_eq!(
        entry_texts(&server.the_incident().await),
        ["consumers restarted", "wrong channel, sorry"]
    );

    let delete = json!({"type": "message", "subtype": "message_deleted", "hidden": true, "channel": CHANNEL,
        "ts": ts(0, 30), "deleted_ts": gone, "event_ts": ts(0, 30)});
    server.event("Ev14", delete).await;
    assert_eq!(
        entry_texts(&server.the_incident().await),
        ["consumers restarted"]
    );

    // Slack redelivers an event it thinks was lost: stored once.
    let chatter = message("U0TRENT03", "lag is falling", &ts(0, 40));
    server.event("Ev15", chatter.clone()).await;
    let retry = server
        .event_with(
            "Ev15",
            chatter,
            &[
                ("x-slack-retry-num", "1"),
                ("x-slack-retry-reason", "http_timeout"),
            ],
        )
        .await;
    assert_eq!(retry.status(), 200);
    let incident = server.the_incident().await;
    let trent = incident["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Trent Osei")
        .unwrap()
        .clone();
    assert_eq!(trent["messages"], 1);

    // Unpinning removes the entry.
    server
        .event("Ev16", json!({"type": "pin_removed", "user": "U0ROBIN01", "channel_id": CHANNEL,
            "item": {"type": "message", "channel": CHANNEL, "message": {"type": "message", "ts": keep}},
            "has_pins": false, "event_ts": ts(0, 50)}))
        .await;
    assert!(entry_texts(&server.the_incident().await).is_empty());

    let metrics = server.metrics().await;
    assert!(metrics.contains("scribe_incidents_open 1"), "{metrics}");
    assert!(
        metrics.contains("scribe_events_stored_total 8"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"route="/slack/events",status="200""#),
        "{metrics}"
    );
}

/// Participants as (name, messages).
fn participants(incident: &Value) -> Vec<(String, u64)> {
    incident["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["messages"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn what_was_said_while_scribe_was_down_is_read_back_at_start() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let mut server = Server::start(&sandbox, &fake.api_base());
    server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "start Queue backlog",
            "t.1",
        )
        .await;
    let base = now() + 1;
    let at = |secs: i64, n: u32| format!("{}.{n:06}", base + secs);
    // Said live: in Slack's history, and sent as events.
    let restarted = at(0, 1);
    let lag = at(0, 2);
    for (ts, user, text) in [
        (&restarted, "U0ZOE0002", "consumers restarted"),
        (&lag, "U0TRENT03", "lag is falling"),
    ] {
        fake.add_message(CHANNEL, ts, user, text);
        server.event(ts, message(user, text, ts)).await;
    }
    fake.add_reaction(CHANNEL, &lag, "U0ROBIN01", "pushpin");
    server
        .event(
            "Ev-pin",
            json!({"type": "reaction_added", "user": "U0ROBIN01", "reaction": "pushpin",
            "item": {"type": "message", "channel": CHANNEL, "ts": lag}, "event_ts": at(0, 3)}),
        )
        .await;
    assert_eq!(
        entry_texts(&server.the_incident().await),
        ["lag is falling"]
    );

    server.kill();
    // On messages stored before the outage…
    fake.edit_message(
        CHANNEL,
        &restarted,
        "consumers restarted (all 12)",
        &at(1, 0),
    );
    fake.add_reaction(CHANNEL, &restarted, "U0ROBIN01", "pushpin");
    fake.remove_reaction(CHANNEL, &lag, "U0ROBIN01", "pushpin");
    let reply = at(2, 0);
    fake.add_reply(
        CHANNEL,
        &restarted,
        &reply,
        "U0ROBIN01",
        "mobile app recovering",
    );
    fake.pin(CHANNEL, &reply);
    // …and posted meanwhile: more than a page of history (200 messages).
    let failover = at(3, 0);
    fake.add_message(CHANNEL, &failover, "U0ZOE0002", "db failover done");
    fake.add_reaction(CHANNEL, &failover, "U0TRENT03", "pushpin");
    fake.add_reaction(CHANNEL, &failover, "U0TRENT03", "thumbsup");
    for n in 0..200 {
        fake.add_message(CHANNEL, &at(4, n), "U0TRENT03", &format!("chatter {n}"));
    }

    let server = Server::start(&sandbox, &fake.api_base());
    let expected = [
        "consumers restarted (all 12)",
        "mobile app recovering",
        "db failover done",
    ];
    server
        .eventually(WAIT, "the missed messages", || async {
            let incident = server.the_incident().await;
            entry_texts(&incident) == expected
                && participants(&incident).contains(&("Trent Osei".into(), 201))
        })
        .await;
    let incident = server.the_incident().await;
    let timeline = incident["timeline"].as_array().unwrap();
    let edited = timeline.iter().find(|e| e["text"] == expected[0]).unwrap();
    assert_eq!(edited["original_text"], "consumers restarted");
    assert_eq!(edited["source"], "reaction");
    let pinned = timeline.iter().find(|e| e["text"] == expected[1]).unwrap();
    assert_eq!(pinned["source"], "pin");
    let pages = fake.calls_to("conversations.history");
    assert!(
        pages.iter().any(|c| c.params["cursor"].is_string())
            && pages.iter().all(|c| c.params["oldest"].is_string()),
        "{pages:#?}"
    );
    assert!(
        fake.calls_to("conversations.replies")
            .iter()
            .any(|c| c.params["ts"] == restarted.as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_stale_and_oversized_requests_are_refused_and_change_nothing() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    let body = json!({"type": "event_callback", "event_id": "Ev1", "team_id": "T0001",
        "event": message("U0ZOE0002", "/incident start forged", &ts(0, 0))})
    .to_string();
    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(&str, reqwest::Response, u16)> = vec![
        (
            "wrong secret",
            server
                .post_signed(
                    "/slack/events",
                    "application/json",
                    &body,
                    "not-the-secret",
                    now(),
                    &[],
                )
                .await,
            401,
        ),
        (
            "stale",
            server
                .post_signed(
                    "/slack/events",
                    "application/json",
                    &body,
                    SIGNING_SECRET,
                    now() - 6 * 60,
                    &[],
                )
                .await,
            401,
        ),
        (
            "from the future",
            server
                .post_signed(
                    "/slack/events",
                    "application/json",
                    &body,
                    SIGNING_SECRET,
                    now() + 6 * 60,
                    &[],
                )
                .await,
            401,
        ),
        (
            "forged command",
            server
                .post_signed(
                    "/slack/commands",
                    form,
                    "command=%2Fincident&text=start+x&user_id=U1&channel_id=C1&trigger_id=t",
                    "nope",
                    now(),
                    &[],
                )
                .await,
            401,
        ),
        (
            "oversized",
            server
                .post_signed(
                    "/slack/events",
                    "application/json",
                    &"x".repeat(2 << 20),
                    SIGNING_SECRET,
                    now(),
                    &[],
                )
                .await,
            413,
        ),
    ];
    for (what, response, status) in cases {
        assert_eq!(response.status().as_u16(), status, "{what}");
    }
    // A valid signature over another body.
    let signature =
        scribe::adapters::slack::signature::sign(SIGNING_SECRET.as_bytes(), now(), b"{}");
    let response = reqwest::Client::new()
        .post(format!("{}/slack/events", server.base))
        .header("x-slack-request-timestamp", now().to_string())
        .header("x-slack-signature", signature)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "signature of another body");
    let unsigned = reqwest::Client::new()
        .post(format!("{}/slack/events", server.base))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401, "unsigned");

    assert!(server.incidents().await.is_empty());
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("scribe_events_stored_total 0"),
        "{metrics}"
    );
    assert!(
        fake.calls().is_empty(),
        "nothing reached Slack: {:?}",
        fake.calls().iter().map(|c| &c.method).collect::<Vec<_>>()
    );
    assert!(
        !server.log().contains(SIGNING_SECRET),
        "the secret never appears in logs"
    );
    assert!(
        !server.log().contains("xoxb-test-bot-token"),
        "the token never appears in logs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn url_verification_is_answered_and_the_api_needs_its_token() {
    let fake = FakeSlack::start().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    let body = r#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let response = server
        .post_signed(
            "/slack/events",
            "application/json",
            body,
            SIGNING_SECRET,
            now(),
            &[],
        )
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );

    let client = reqwest::Client::new();
    let no_token = client
        .get(format!("{}/api/incidents", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    let wrong = client
        .get(format!("{}/api/incidents", server.base))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(server.api("/api/incidents/not-an-id").await.status(), 400);
    assert_eq!(
        server.api("/api/incidents/slack:C1:1.0").await.status(),
        404
    );
    assert_eq!(
        reqwest::get(format!("{}/healthz", server.base))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{}/readyz", server.base))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_web_api_outage_during_close_delays_the_draft_but_loses_nothing() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "start Payments timeouts",
            "t.1",
        )
        .await;
    fake.wait_for("chat.postMessage", 1, WAIT).await;
    server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/timeline",
            "failed over to the standby PSP",
            "t.2",
        )
        .await;

    fake.set_outage(true);
    let answer = server
        .command(CHANNEL, "U0ROBIN01", "/incident", "close", "t.3")
        .await;
    assert!(
        answer["text"].as_str().unwrap().contains("Incident closed"),
        "acknowledged during the outage"
    );
    server
        .eventually(WAIT, "a failed attempt during the outage", || async {
            fake.calls()
                .iter()
                .any(|c| c.method == "files.getUploadURLExternal")
        })
        .await;
    fake.set_outage(false);

    fake.wait_for("files.completeUploadExternal", 1, Duration::from_secs(40))
        .await;
    fake.wait_for("chat.postMessage", 2, Duration::from_secs(40))
        .await;
    // Nothing more is due: a second post would have been made by now.
    server.settled().await;
    assert_eq!(fake.uploads().len(), 1, "the draft is posted exactly once");
    let draft = String::from_utf8(fake.uploads()[0].1.clone()).unwrap();
    assert!(draft.contains("failed over to the standby PSP"));
    let posted = fake.wait_for("chat.postMessage", 2, WAIT).await;
    assert_eq!(
        posted.len(),
        2,
        "the headline and the summary, nothing else"
    );
    let summaries = posted
        .iter()
        .filter(|c| {
            c.params["text"]
                .as_str()
                .unwrap_or_default()
                .contains("Incident closed")
        })
        .count();
    assert_eq!(summaries, 1, "the summary is posted exactly once");
}

#[tokio::test(flavor = "multi_thread")]
async fn create_channel_opens_the_incident_in_a_channel_of_its_own() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start_with(
        &sandbox,
        &[
            ("SCRIBE__SLACK__API_BASE_URL", &fake.api_base()),
            ("SCRIBE__SLACK__CREATE_CHANNEL", "true"),
        ],
    );
    let answer = server
        .command(
            "C0GENERAL",
            "U0ROBIN01",
            "/incident",
            "start Checkout 5xx sev1",
            "t.1",
        )
        .await;
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("Creating a channel"),
        "{answer}"
    );

    let created = fake.wait_for("conversations.create", 1, WAIT).await;
    let date = chrono::Utc::now().format("%Y%m%d");
    assert_eq!(
        created[0].params["name"],
        format!("inc-{date}-checkout-5xx")
    );
    let invited = fake.wait_for("conversations.invite", 1, WAIT).await;
    let channel = invited[0].params["channel"].as_str().unwrap().to_string();
    assert!(
        invited[0].params["users"]
            .as_str()
            .unwrap()
            .contains("U0ROBIN01")
    );
    let posts = fake.wait_for("chat.postMessage", 2, WAIT).await;
    let link = posts
        .iter()
        .find(|p| p.params["channel"] == "C0GENERAL")
        .expect("a link in the origin channel");
    assert!(
        link.params["text"]
            .as_str()
            .unwrap()
            .contains(&format!("<#{channel}>")),
        "{:?}",
        link.params
    );
    let headline = posts
        .iter()
        .find(|p| p.params["channel"] == channel.as_str())
        .expect("the headline in the new channel");
    assert!(
        headline.params["text"]
            .as_str()
            .unwrap()
            .contains("Critical (sev1)")
    );

    // The incident lives in the new channel; the origin channel has none.
    let answer = server
        .command(&channel, "U0ZOE0002", "/timeline", "rolled back", "t.2")
        .await;
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("Added to the timeline"),
        "{answer}"
    );
    let incident = server.the_incident().await;
    assert_eq!(incident["title"], "Checkout 5xx");
    assert_eq!(incident["channel"], channel.as_str());
    assert_eq!(entry_texts(&incident), ["rolled back"]);
    assert_eq!(incident["participants"][0]["name"], "Robin Ayers");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_whose_answer_was_lost_is_not_posted_again() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    let history_lookups = || {
        fake.calls_to("conversations.history")
            .into_iter()
            .filter(|c| c.params["include_all_metadata"] == "true")
            .count()
    };

    // Slack posts the headline, but its answer never arrives: the job fails and runs again.
    fake.lose_answer_next("chat.postMessage");
    server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "start Lost answers",
            "t.1",
        )
        .await;
    server
        .eventually(WAIT, "the retry looking for its post", || async {
            history_lookups() >= 1
        })
        .await;
    server
        .command(CHANNEL, "U0ROBIN01", "/timeline", "queue drained", "t.2")
        .await;

    // The same for the draft's upload on close.
    fake.lose_answer_next("files.completeUploadExternal");
    server
        .command(CHANNEL, "U0ROBIN01", "/incident", "close", "t.3")
        .await;
    server
        .eventually(WAIT, "the upload's retry looking for the file", || async {
            history_lookups() >= 2
        })
        .await;
    fake.wait_for("chat.postMessage", 1, WAIT).await;
    // Nothing more is due: a second post would have been made by now.
    server.settled().await;

    let headlines = fake
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|c| {
            c.params["text"]
                .as_str()
                .is_some_and(|t| t.contains("Incident opened"))
        })
        .count();
    assert_eq!(headlines, 1, "{:#?}", fake.calls());
    assert_eq!(fake.calls_to("files.completeUploadExternal").len(), 1);
    let drafts = fake.uploads();
    assert_eq!(drafts.len(), 1);
    assert!(String::from_utf8_lossy(&drafts[0].1).contains("queue drained"));
    assert!(
        server.log().contains("already posted"),
        "the retries say why they did not post"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_the_store_refuses_is_answered_with_a_request_to_send_it_again() {
    use sqlx::{Connection, SqliteConnection};

    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "start Search down",
            "t.1",
        )
        .await;

    // The database refuses every event from now on, as a full disk would.
    let db = sandbox.path().join("data/scribe.db");
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    // `command` checks for HTTP 200: Slack shows nothing of a 500 but an error of its own.
    let answer = server
        .command(CHANNEL, "U0ZOE0002", "/timeline", "reindex started", "t.2")
        .await;
    assert_eq!(answer["response_type"], "ephemeral", "{answer}");
    assert_eq!(
        answer["text"],
        scribe::domain::reply::NOT_RECORDED,
        "{answer}"
    );
    let log = server.log();
    assert!(log.contains("disk full"), "the cause is logged:\n{log}");
    assert!(!log.contains("Slack will retry"), "{log}");

    sqlx::query("DROP TRIGGER refuse")
        .execute(&mut conn)
        .await
        .unwrap();
    let answer = server
        .command(CHANNEL, "U0ZOE0002", "/timeline", "reindex started", "t.3")
        .await;
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .contains("Added to the timeline"),
        "sent again, it is recorded: {answer}"
    );
    assert_eq!(
        entry_texts(&server.the_incident().await),
        ["reindex started"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_template_reaches_slack_as_a_plain_sentence_and_the_log_in_full() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let dir = common::broken_templates(&sandbox);
    let server = Server::start_with(
        &sandbox,
        &[
            ("SCRIBE__SLACK__API_BASE_URL", &fake.api_base()),
            ("SCRIBE__DRAFTING__TEMPLATE_DIR", dir.to_str().unwrap()),
        ],
    );
    server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "start Search down",
            "t.1",
        )
        .await;

    let answer = server
        .command(CHANNEL, "U0ROBIN01", "/incident", "draft", "t.2")
        .await;
    assert_eq!(
        answer["text"],
        scribe::domain::reply::no_draft(),
        "{answer}"
    );

    // The upload job fails for good, and its report in the channel says why in the same words.
    server
        .command(CHANNEL, "U0ROBIN01", "/incident", "close", "t.3")
        .await;
    let posted = fake.wait_for("chat.postMessage", 3, WAIT).await;
    let report = posted
        .iter()
        .filter_map(|c| c.params["text"].as_str())
        .find(|t| t.contains("could not upload the postmortem draft"))
        .unwrap_or_else(|| panic!("no report in {posted:#?}"));
    assert!(
        report.contains(scribe::domain::reply::DRAFT_FAILED),
        "{report}"
    );
    for text in posted.iter().filter_map(|c| c.params["text"].as_str()) {
        assert!(!text.contains("no_such_field"), "{text}");
    }
    let status = server
        .command(CHANNEL, "U0ROBIN01", "/incident", "status", "t.4")
        .await;
    assert!(!status.to_string().contains("no_such_field"), "{status}");
    let log = server.log();
    assert!(
        log.contains("postmortem.md.j2") && log.contains("no_such_field"),
        "the cause is logged:\n{log}"
    );
}

/// The open-incidents gauge is counted from the store once at start and then follows the
/// commands; a request no route matches is counted too.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_follow_incidents_as_they_open_and_close_and_count_unmatched_routes() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let mut server = Server::start(&sandbox, &fake.api_base());
    server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "start Checkout 5xx",
            "t.1",
        )
        .await;
    server
        .command(
            "C0OTHER",
            "U0ROBIN01",
            "/incident",
            "start Search slow",
            "t.2",
        )
        .await;
    assert!(server.metrics().await.contains("scribe_incidents_open 2"));
    server.settled().await;
    server.terminate().unwrap();

    let server = Server::start(&sandbox, &fake.api_base());
    assert!(server.metrics().await.contains("scribe_incidents_open 2"));
    server
        .command("C0OTHER", "U0ROBIN01", "/incident", "close", "t.3")
        .await;
    let missing = reqwest::get(format!("{}/no/such/route", server.base))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let metrics = server.metrics().await;
    assert!(metrics.contains("scribe_incidents_open 1"), "{metrics}");
    assert!(
        metrics.contains(r#"scribe_http_requests_total{route="unmatched",status="404"} 1"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reused_trigger_id_is_answered_with_what_was_stored() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    server
        .command(CHANNEL, "U0ROBIN01", "/incident", "start DB down", "t.1")
        .await;
    let first = server
        .command(CHANNEL, "U0ROBIN01", "/timeline", "failed over", "t.2")
        .await;
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .contains("Added to the timeline"),
        "{first}"
    );

    let again = server
        .command(CHANNEL, "U0ROBIN01", "/timeline", "rolled back", "t.2")
        .await;
    assert_eq!(again["response_type"], "ephemeral");
    assert_eq!(
        again["text"], "Already recorded: /timeline failed over. Nothing new was stored.",
        "{again}"
    );
    assert_eq!(entry_texts(&server.the_incident().await), ["failed over"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_stored_id_round_trips_through_the_api_and_others_are_refused() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    let form = |channel: &str| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("channel_id", channel)
            .append_pair("user_id", "U0ROBIN01")
            .append_pair("command", "/incident")
            .append_pair("text", "start DB down")
            .append_pair("trigger_id", "1234.5678.9abc")
            .finish()
    };
    for channel in ["C:1", "", "c0lower", "C0/..", "C0 1"] {
        let response = server
            .post_signed(
                "/slack/commands",
                "application/x-www-form-urlencoded",
                &form(channel),
                SIGNING_SECRET,
                now(),
                &[],
            )
            .await;
        assert_eq!(response.status(), 400, "{channel:?}");
    }
    assert!(server.incidents().await.is_empty());

    let answer = server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "start DB down",
            "1234.5678.9abc",
        )
        .await;
    assert!(answer["text"].as_str().unwrap().contains("Incident opened"));
    let incidents = server.incidents().await;
    assert_eq!(incidents.len(), 1);
    let id = incidents[0]["id"].as_str().unwrap();
    let detail = server.api(&format!("/api/incidents/{id}")).await;
    assert_eq!(detail.status(), 200, "{id}");
    let detail: Value = detail.json().await.unwrap();
    assert_eq!(detail["id"], id);
}

/// A start headline lists the team's past incidents like the new one, and `/incident search`
/// answers whoever asked with the matches and their links; quoted mass mentions never ping.
#[tokio::test]
async fn past_incidents_are_listed_under_a_start_and_found_by_search() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    for (text, trigger) in [
        (
            "start Checkout pool exhausted <!everyone> --sev sev2",
            "p.1",
        ),
        (
            "factor connection pool sized for last year's traffic",
            "p.2",
        ),
        ("resolve", "p.3"),
        ("close", "p.4"),
    ] {
        server
            .command("C0PAST", "U0ROBIN01", "/incident", text, trigger)
            .await;
    }
    server.settled().await;
    let before = fake.calls_to("chat.postMessage").len();
    server
        .command(
            CHANNEL,
            "U0ZOE0002",
            "/incident",
            "start checkout pool errors",
            "n.1",
        )
        .await;
    let posts = fake.wait_for("chat.postMessage", before + 1, WAIT).await;
    let headline = posts
        .iter()
        .find(|p| p.params["channel"] == CHANNEL)
        .expect("the new incident's headline");
    let text = headline.params["text"].as_str().unwrap();
    assert!(
        text.contains("Past incidents like this one:\n1. Checkout pool exhausted"),
        "{text}"
    );
    assert!(text.contains("(sev2, "), "{text}");
    assert!(
        !text.contains("<!everyone>"),
        "quoted mass mentions never ping: {text}"
    );

    let answer = server
        .command(
            CHANNEL,
            "U0ZOE0002",
            "/incident",
            "search \"pool* traffic",
            "n.2",
        )
        .await;
    assert_eq!(answer["response_type"], "ephemeral", "{answer}");
    let found = answer["text"].as_str().unwrap();
    assert!(found.contains("1. Checkout pool exhausted"), "{found}");
    assert!(
        found.contains("/incidents/slack%3AC0PAST%3A"),
        "with a link: {found}"
    );
    assert!(
        found.contains("last year"),
        "the passage that matched: {found}"
    );
    // Another Slack workspace finds none of it.
    let elsewhere = server
        .command_in(
            "T0OTHER",
            "C0ELSE",
            "U0ZOE0002",
            "/incident",
            "search pool",
            "n.3",
        )
        .await;
    assert!(
        elsewhere["text"]
            .as_str()
            .unwrap()
            .starts_with("No incident matches"),
        "{elsewhere}"
    );
}

/// A message as a shortcut's payload shows it.
fn shown(user: &str, text: &str, ts: &str) -> Value {
    json!({"type": "message", "user": user, "text": text, "ts": ts, "team": "T0001"})
}

async fn events_stored(server: &Server) -> String {
    let metrics = server.metrics().await;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("scribe_events_stored_total"))
        .unwrap();
    line.to_owned()
}

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test(flavor = "multi_thread")]
async fn add_to_timeline_makes_a_message_an_entry_at_its_time_once() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "start Checkout 5xx",
            "t.1",
        )
        .await;
    let seen = ts(0, 11);
    server
        .event("Ev01", message("U0ZOE0002", "db failover started", &seen))
        .await;
    assert!(entry_texts(&server.the_incident().await).is_empty());

    let url = fake.response_url("actions/T0001/1/abc");
    let payload = message_action(
        CHANNEL,
        "U0ROBIN01",
        shown("U0ZOE0002", "db failover started", &seen),
        "13345224609.738474920.8088930838d88f008e0",
        &ts(0, 20),
        &url,
    );
    let body = interaction_body(&payload);
    let signed_at = now();
    let first = server
        .post_signed(
            "/slack/interactions",
            FORM,
            &body,
            SIGNING_SECRET,
            signed_at,
            &[],
        )
        .await;
    assert_eq!(first.status(), 200);
    // Read once, right after the 200: the entry was stored before it.
    let incident = server.the_incident().await;
    assert_eq!(entry_texts(&incident), ["db failover started"]);
    let entry = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["text"] == "db failover started")
        .unwrap();
    let at: chrono::DateTime<chrono::Utc> = entry["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        format!("{}.{:06}", at.timestamp(), at.timestamp_subsec_micros()),
        seen,
        "the entry is at the message's time, not the shortcut's"
    );
    let answers = fake.wait_for(RESPONSE_URL, 1, WAIT).await;
    assert_eq!(answers[0].params["response_type"], "ephemeral");
    assert_eq!(
        answers[0].params["text"],
        "Added to the incident's timeline, at the message's time."
    );
    assert_eq!(
        answers[0].auth, None,
        "the bot token is not sent to a response_url"
    );

    // The same request again: answered, stored once.
    let stored = events_stored(&server).await;
    let replay = server
        .post_signed(
            "/slack/interactions",
            FORM,
            &body,
            SIGNING_SECRET,
            signed_at,
            &[],
        )
        .await;
    assert_eq!(replay.status(), 200);
    assert_eq!(events_stored(&server).await, stored);

    // A message Scribe never saw (posted before it was invited): the payload brings it along.
    let unseen = ts(-600, 7);
    let payload = message_action(
        CHANNEL,
        "U0ZOE0002",
        shown("U0ROBIN01", "FIRING: checkout error rate 22%", &unseen),
        "13345224609.738474921.1f2e",
        &ts(0, 30),
        &url,
    );
    assert_eq!(server.interaction(&payload).await.status(), 200);
    assert_eq!(
        entry_texts(&server.the_incident().await),
        ["FIRING: checkout error rate 22%", "db failover started"]
    );
    let draft = server
        .command(CHANNEL, "U0ROBIN01", "/incident", "draft", "t.2")
        .await;
    let draft = draft["text"].as_str().unwrap();
    for fact in [
        "FIRING: checkout error rate 22% — Robin Ayers",
        "db failover started — Zoë Kapoor",
    ] {
        assert!(draft.contains(fact), "draft lacks {fact:?}:\n{draft}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn add_to_timeline_forged_stale_or_outside_an_incident_stores_nothing() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    let url = fake.response_url("actions/T0001/2/def");
    let shortcut = |channel: &str, text: &str, on: &str, trigger: &str| {
        message_action(
            channel,
            "U0ROBIN01",
            shown("U0ZOE0002", text, on),
            trigger,
            &ts(0, 900),
            &url,
        )
    };

    // A channel without any incident.
    let lunch = interaction_body(&shortcut("C0RANDOM1", "lunch?", &ts(0, 5), "1.2.a"));
    let forged = server
        .post_signed(
            "/slack/interactions",
            FORM,
            &lunch,
            "not-the-secret",
            now(),
            &[],
        )
        .await;
    assert_eq!(forged.status(), 401, "forged");
    let stale = server
        .post_signed(
            "/slack/interactions",
            FORM,
            &lunch,
            SIGNING_SECRET,
            now() - 6 * 60,
            &[],
        )
        .await;
    assert_eq!(stale.status(), 401, "stale");
    let malformed = server
        .post_signed(
            "/slack/interactions",
            FORM,
            "payload=%7B",
            SIGNING_SECRET,
            now(),
            &[],
        )
        .await;
    assert_eq!(malformed.status(), 400, "malformed");
    assert!(fake.calls_to(RESPONSE_URL).is_empty());
    assert_eq!(events_stored(&server).await, "scribe_events_stored_total 0");

    let outside = server
        .post_signed(
            "/slack/interactions",
            FORM,
            &lunch,
            SIGNING_SECRET,
            now(),
            &[],
        )
        .await;
    assert_eq!(outside.status(), 200);
    let answers = fake.wait_for(RESPONSE_URL, 1, WAIT).await;
    assert_eq!(answers[0].params["response_type"], "ephemeral");
    assert!(
        answers[0].params["text"]
            .as_str()
            .unwrap()
            .starts_with("That message is not part of an incident, so nothing was added."),
        "{:?}",
        answers[0].params
    );
    assert_eq!(events_stored(&server).await, "scribe_events_stored_total 0");
    assert!(server.incidents().await.is_empty());

    // In an incident's channel, a message after its close belongs to no incident either; one
    // from during it still does.
    let during = ts(0, 11);
    server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "start Queue backlog",
            "t.1",
        )
        .await;
    server
        .event("Ev01", message("U0ZOE0002", "consumers restarted", &during))
        .await;
    server
        .command(CHANNEL, "U0ROBIN01", "/incident", "close", "t.2")
        .await;
    server.settled().await;
    let stored = events_stored(&server).await;
    let after = ts(5, 0);
    let late = shortcut(CHANNEL, "thanks all", &after, "1.2.b");
    assert_eq!(server.interaction(&late).await.status(), 200);
    let answers = fake.wait_for(RESPONSE_URL, 2, WAIT).await;
    assert!(
        answers[1].params["text"]
            .as_str()
            .unwrap()
            .starts_with("That message is not part of an incident"),
        "{:?}",
        answers[1].params
    );
    assert_eq!(events_stored(&server).await, stored);

    let kept = shortcut(CHANNEL, "consumers restarted", &during, "1.2.c");
    assert_eq!(server.interaction(&kept).await.status(), 200);
    assert_eq!(
        entry_texts(&server.the_incident().await),
        ["consumers restarted"]
    );

    // Slack's own notice in the incident: no mark makes it an entry, and the person is told.
    let stored = events_stored(&server).await;
    let mut joined = shown("U0TRENT03", "<@U0TRENT03> has joined the channel", &during);
    joined["subtype"] = json!("channel_join");
    joined["ts"] = json!(ts(0, 901));
    let notice = message_action(CHANNEL, "U0ROBIN01", joined, "1.2.d", &ts(0, 950), &url);
    assert_eq!(server.interaction(&notice).await.status(), 200);
    assert_eq!(events_stored(&server).await, stored);
    let answers = fake.wait_for(RESPONSE_URL, 4, WAIT).await;
    assert!(
        answers[3].params["text"]
            .as_str()
            .unwrap()
            .starts_with("Commands and the platform's own notices"),
        "{:?}",
        answers[3].params
    );
}

/// The manifest's scalars by path (`settings.event_subscriptions.bot_events.[]`), read from
/// the block-style subset of YAML the manifest keeps to (`key:`, `key: value`, `- ` items,
/// deeper items indented further, double-quoted or plain values, whole-line comments); a line
/// outside it fails the test rather than being misread.
fn manifest_scalars(text: &str) -> Vec<(String, String)> {
    let is_key = |k: &str| !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    let unquote = |v: &str| {
        let v = v.trim();
        match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(quoted) => {
                assert!(!quoted.contains(['"', '\\']), "a simple quoted value: {v}");
                quoted.to_string()
            }
            None => {
                assert!(
                    !v.starts_with(['[', '{', '&', '*', '!', '|', '>', '\'', '%', '@', '`'])
                        && !v.contains(" #")
                        && !v.contains(": "),
                    "a plain value the subset reads as it is: {v}"
                );
                v.to_string()
            }
        }
    };
    let mut open: Vec<(usize, String)> = Vec::new();
    let mut scalars = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        assert!(!line.contains('\t'), "no tabs: {line}");
        let indent = line.len() - trimmed.len();
        while open.last().is_some_and(|(at, _)| *at >= indent) {
            open.pop();
        }
        let mut rest = trimmed;
        if let Some(item) = rest.strip_prefix("- ") {
            assert!(!open.is_empty(), "an item belongs to a key: {line}");
            open.push((indent, "[]".to_string()));
            rest = item;
        }
        let path = |key: Option<&str>| {
            let parts: Vec<&str> = open.iter().map(|(_, k)| k.as_str()).chain(key).collect();
            parts.join(".")
        };
        if let Some(key) = rest.strip_suffix(':').filter(|k| is_key(k)) {
            let at = indent + (trimmed.len() - rest.len());
            open.push((at, key.to_string()));
        } else if let Some((key, value)) = rest.split_once(": ").filter(|(k, _)| is_key(k)) {
            scalars.push((path(Some(key)), unquote(value)));
        } else {
            assert!(
                trimmed.starts_with("- "),
                "a value alone is an item: {line}"
            );
            scalars.push((path(None), unquote(rest)));
        }
    }
    scalars
}

fn values<'a>(scalars: &'a [(String, String)], path: &str) -> Vec<&'a str> {
    scalars
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn the_slack_manifest_declares_what_the_code_handles_and_calls() {
    use scribe::adapters::slack::inbound::{ADD_TO_TIMELINE, EVENT_TYPES};
    use scribe::adapters::slack::intake::SLASH_COMMANDS;
    use std::collections::BTreeSet;

    let root = env!("CARGO_MANIFEST_DIR");
    let read = |path: &str| std::fs::read_to_string(format!("{root}/{path}")).unwrap();
    let manifest = manifest_scalars(&read("config/slack-manifest.yaml"));
    let one = |path: &str| {
        let found = values(&manifest, path);
        assert_eq!(found.len(), 1, "{path}: {found:?}");
        found[0]
    };

    assert_eq!(
        values(&manifest, "features.slash_commands.[].command"),
        SLASH_COMMANDS
    );
    assert_eq!(
        values(&manifest, "features.shortcuts.[].callback_id"),
        [ADD_TO_TIMELINE]
    );
    assert_eq!(values(&manifest, "features.shortcuts.[].type"), ["message"]);
    let events: BTreeSet<&str> = values(&manifest, "settings.event_subscriptions.bot_events.[]")
        .into_iter()
        .collect();
    let read_by_code: BTreeSet<&str> = EVENT_TYPES
        .iter()
        .flat_map(|&kind| match kind {
            "message" => vec!["message.channels", "message.groups"],
            kind => vec![kind],
        })
        .collect();
    assert_eq!(events, read_by_code);
    assert_eq!(one("settings.interactivity.is_enabled"), "true");
    assert_eq!(one("settings.socket_mode_enabled"), "false");

    // Every request URL is a placeholder on a route Slack's HTTP transport serves.
    let routes = read("src/adapters/slack/http.rs");
    let mut urls = values(&manifest, "features.slash_commands.[].url");
    urls.push(one("settings.event_subscriptions.request_url"));
    urls.push(one("settings.interactivity.request_url"));
    for url in urls {
        let path = url
            .strip_prefix("https://scribe.example.com")
            .unwrap_or_else(|| panic!("a placeholder URL: {url}"));
        assert!(routes.contains(&format!(".route(\"{path}\"")), "{url}");
    }

    // The bot scopes are exactly those of the Web API methods the client calls, of the events
    // and of the commands and shortcut.
    let client = read("src/adapters/slack/web.rs");
    let methods: BTreeSet<&str> = client
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.contains('.')
                && s.split('.')
                    .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphabetic()))
        })
        .collect();
    let scope_of = |method: &str| -> &[&str] {
        match method {
            "chat.postMessage" => &["chat:write"],
            "conversations.history" | "conversations.replies" => {
                &["channels:history", "groups:history"]
            }
            "users.info" => &["users:read"],
            "pins.list" => &["pins:read"],
            "files.getUploadURLExternal" | "files.completeUploadExternal" => &["files:write"],
            "conversations.create" | "conversations.invite" => &["channels:manage"],
            // The app-level token's (`connections:write`), which a manifest does not grant.
            "apps.connections.open" => &[],
            // A form opens on a trigger the person just gave; Slack asks for no scope.
            "views.open" => &[],
            other => panic!("which scope does {other} need? Add it here and to the manifest"),
        }
    };
    let mut needed: BTreeSet<&str> = methods.iter().flat_map(|m| scope_of(m)).copied().collect();
    for event in &events {
        needed.extend(match *event {
            "message.channels" => &["channels:history"][..],
            "message.groups" => &["groups:history"],
            "reaction_added" | "reaction_removed" => &["reactions:read"],
            "pin_added" | "pin_removed" => &["pins:read"],
            "member_joined_channel" => &["channels:read", "groups:read"],
            other => panic!("which scope does {other} need?"),
        });
    }
    needed.insert("commands");
    let granted: BTreeSet<&str> = values(&manifest, "oauth_config.scopes.bot.[]")
        .into_iter()
        .collect();
    assert_eq!(granted, needed, "methods called: {methods:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shortcut_the_store_refuses_is_a_500_and_the_person_is_asked_to_try_again() {
    use sqlx::{Connection, SqliteConnection};

    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "start Search down",
            "t.1",
        )
        .await;
    let said = ts(0, 11);
    server
        .event("Ev01", message("U0ZOE0002", "reindex started", &said))
        .await;

    // The database refuses every event from now on, as a full disk would.
    let db = sandbox.path().join("data/scribe.db");
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let url = fake.response_url("actions/T0001/3/ghi");
    let shortcut = |trigger: &str, action_ts: &str| {
        message_action(
            CHANNEL,
            "U0ROBIN01",
            shown("U0ZOE0002", "reindex started", &said),
            trigger,
            action_ts,
            &url,
        )
    };
    let refused = server.interaction(&shortcut("1.2.a", &ts(0, 20))).await;
    assert_eq!(refused.status(), 500);
    let answers = fake.wait_for(RESPONSE_URL, 1, WAIT).await;
    assert_eq!(
        answers[0].params["text"],
        scribe::domain::reply::SHORTCUT_NOT_RECORDED
    );
    assert!(server.log().contains("disk full"), "the cause is logged");

    sqlx::query("DROP TRIGGER refuse")
        .execute(&mut conn)
        .await
        .unwrap();
    let again = server.interaction(&shortcut("1.2.b", &ts(0, 30))).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        entry_texts(&server.the_incident().await),
        ["reindex started"]
    );
}

/// The start form as Slack submits it (`view_submission`), with what was typed and picked.
fn start_submission(trigger: &str, title: &str, severity: Option<&str>, create: bool) -> Value {
    let picked =
        |value: &str| json!({"text": {"type": "plain_text", "text": value}, "value": value});
    json!({
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": "U0ROBIN01", "username": "robin", "name": "robin", "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "deprecated",
        "trigger_id": trigger,
        "view": {
            "id": "V00000001",
            "team_id": "T0001",
            "type": "modal",
            "callback_id": "start_incident",
            "private_metadata": CHANNEL,
            "hash": "156772938.1827394",
            "state": {"values": {
                "title": {"title": {"type": "plain_text_input", "value": title}},
                "severity": {"severity": {"type": "static_select",
                    "selected_option": severity.map(picked)}},
                "channel": {"channel": {"type": "checkboxes",
                    "selected_options": if create { vec![picked("create")] } else { vec![] }}},
            }},
        },
        "response_urls": [],
        "is_enterprise_install": false,
    })
}

/// A click under the headline, as Slack sends its `block_actions`: `action` is the element
/// as the payload shows it.
fn headline_click(
    user: &str,
    block_id: &str,
    action: Value,
    trigger: &str,
    response_url: &str,
) -> Value {
    let mut action = action;
    action["block_id"] = json!(block_id);
    action["action_ts"] = json!(ts(0, 500));
    json!({
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": user, "username": user.to_lowercase(), "name": user.to_lowercase(),
                 "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "deprecated",
        "container": {"type": "message", "message_ts": "1700000001.000001",
                      "channel_id": CHANNEL, "is_ephemeral": false},
        "trigger_id": trigger,
        "channel": {"id": CHANNEL, "name": "inc-checkout"},
        "message": {"type": "message", "ts": "1700000001.000001", "text": "headline"},
        "response_url": response_url,
        "actions": [action],
    })
}

fn select_severity(value: &str) -> Value {
    json!({"type": "static_select", "action_id": "set_severity",
           "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
           "placeholder": {"type": "plain_text", "text": "Set severity"}})
}

fn button(action_id: &str) -> Value {
    json!({"type": "button", "action_id": action_id,
           "text": {"type": "plain_text", "text": action_id}})
}

/// The action ids of the headline's actions block, and its block id.
fn headline_actions(blocks: &Value) -> (String, Vec<String>) {
    let actions = blocks
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap_or_else(|| panic!("no actions in {blocks}"));
    let ids = actions["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action_id"].as_str().unwrap().to_owned())
        .collect();
    (actions["block_id"].as_str().unwrap().to_owned(), ids)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_start_without_a_title_opens_the_form_and_submitting_it_starts_the_incident() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());

    let body = common::server::command_body(
        CHANNEL,
        "inc-checkout",
        "U0ROBIN01",
        "robin",
        "/incident",
        "start",
        "t.form",
    );
    let opened = server
        .post_signed("/slack/commands", FORM, &body, SIGNING_SECRET, now(), &[])
        .await;
    assert_eq!(opened.status(), 200);
    assert_eq!(opened.text().await.unwrap(), "", "the form is the answer");
    let views = fake.calls_to("views.open");
    assert_eq!(views.len(), 1, "opened before the 200");
    assert_eq!(views[0].params["trigger_id"], "t.form");
    let view = &views[0].params["view"];
    assert_eq!(view["callback_id"], "start_incident");
    assert_eq!(view["private_metadata"], CHANNEL);
    assert!(server.incidents().await.is_empty(), "a form stores nothing");

    // Submitted without a title (Slack would not let it, but a payload may): shown in the form.
    let untitled = server
        .interaction(&start_submission("t.sub.0", "   ", Some("sev2"), false))
        .await;
    assert_eq!(untitled.status(), 200);
    let errors: Value = untitled.json().await.unwrap();
    assert_eq!(errors["response_action"], "errors");
    assert!(
        errors["errors"]["title"]
            .as_str()
            .unwrap()
            .contains("title")
    );
    assert!(server.incidents().await.is_empty());

    let submission = start_submission("t.sub.1", "  Checkout   5xx  sev3 ", Some("sev2"), false);
    let submitted = server.interaction(&submission).await;
    assert_eq!(submitted.status(), 200);
    assert_eq!(submitted.text().await.unwrap(), "", "the form closes");
    let incident = server.the_incident().await;
    assert_eq!(
        incident["title"], "Checkout 5xx sev3",
        "the severity is the picked one"
    );
    assert_eq!(incident["severity"], "sev2");
    let headline = fake.wait_for("chat.postMessage", 1, WAIT).await;
    assert!(
        headline[0].params["text"]
            .as_str()
            .unwrap()
            .contains("Incident opened: Checkout 5xx sev3")
    );

    // Submitted twice (a retry): stored once.
    let stored = events_stored(&server).await;
    assert_eq!(server.interaction(&submission).await.status(), 200);
    assert_eq!(events_stored(&server).await, stored);

    // A second incident in the same channel: refused, with the reason shown in the form.
    let again = server
        .interaction(&start_submission("t.sub.2", "Search down", None, false))
        .await;
    let errors: Value = again.json().await.unwrap();
    assert_eq!(errors["response_action"], "errors");
    assert!(
        errors["errors"]["title"]
            .as_str()
            .unwrap()
            .contains("already open"),
        "{errors}"
    );
    assert_eq!(server.the_incident().await["title"], "Checkout 5xx sev3");

    // A severity Slack never offered is a malformed payload, and changes nothing.
    let stored = events_stored(&server).await;
    let forged = server
        .interaction(&start_submission("t.sub.3", "Other", Some("sev9"), false))
        .await;
    assert_eq!(forged.status(), 400);
    assert_eq!(events_stored(&server).await, stored);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_start_form_with_a_new_channel_ticked_opens_the_incident_there() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    let submitted = server
        .interaction(&start_submission(
            "t.sub.1",
            "Payments timeouts",
            None,
            true,
        ))
        .await;
    assert_eq!(submitted.status(), 200);
    let created = fake.wait_for("conversations.create", 1, WAIT).await;
    assert!(
        created[0].params["name"]
            .as_str()
            .unwrap()
            .ends_with("-payments-timeouts"),
        "{:?}",
        created[0].params
    );
    fake.wait_for("chat.postMessage", 2, WAIT).await;
    server.settled().await;
    let incident = server.the_incident().await;
    assert_eq!(incident["title"], "Payments timeouts");
    assert_ne!(incident["channel"], CHANNEL, "{incident}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_headline_buttons_change_the_incident_and_the_headline_in_place() {
    let fake = slack_with_people().await;
    let sandbox = Sandbox::new();
    let server = Server::start(&sandbox, &fake.api_base());
    server
        .command(
            CHANNEL,
            "U0ROBIN01",
            "/incident",
            "start Checkout 5xx",
            "t.1",
        )
        .await;
    let posted = fake.wait_for("chat.postMessage", 1, WAIT).await;
    assert!(
        posted[0].params["text"]
            .as_str()
            .unwrap()
            .contains("Severity: not set")
    );
    let (block, ids) = headline_actions(&posted[0].params["blocks"]);
    assert_eq!(ids, ["set_severity", "lead_me", "resolve"]);
    let url = fake.response_url("actions/T0001/2/headline");

    // The severity select: stored before the 200, the headline replaced with the new state.
    let pick = headline_click("U0ZOE0002", &block, select_severity("sev1"), "t.a.1", &url);
    assert_eq!(server.interaction(&pick).await.status(), 200);
    assert_eq!(server.the_incident().await["severity"], "sev1");
    let answers = fake.wait_for(RESPONSE_URL, 1, WAIT).await;
    assert_eq!(
        answers[0].params["replace_original"], true,
        "{:?}",
        answers[0].params
    );
    let text = answers[0].params["text"].as_str().unwrap();
    assert!(text.contains("Severity: Critical (sev1)"), "{text}");
    let blocks = answers[0].params["blocks"].to_string();
    assert!(
        blocks.contains("Zoë Kapoor"),
        "who changed it is named: {blocks}"
    );
    assert_eq!(answers[0].auth, None);

    // "I'm the lead", clicked twice (a redelivery): stored once.
    let lead = headline_click("U0ZOE0002", &block, button("lead_me"), "t.a.2", &url);
    assert_eq!(server.interaction(&lead).await.status(), 200);
    let answers = fake.wait_for(RESPONSE_URL, 2, WAIT).await;
    assert!(
        answers[1].params["text"]
            .as_str()
            .unwrap()
            .contains("Lead: Zoë Kapoor"),
        "{:?}",
        answers[1].params
    );
    let stored = events_stored(&server).await;
    assert_eq!(server.interaction(&lead).await.status(), 200);
    assert_eq!(events_stored(&server).await, stored);

    // Resolve: the incident is resolved, and the new headline has no "Resolve".
    let resolve = headline_click("U0ROBIN01", &block, button("resolve"), "t.a.3", &url);
    assert_eq!(server.interaction(&resolve).await.status(), 200);
    assert!(server.the_incident().await["resolved_at"].is_string());
    let answers = fake.wait_for(RESPONSE_URL, 4, WAIT).await;
    let replaced = answers
        .iter()
        .rev()
        .find(|a| a.params["replace_original"] == true)
        .unwrap();
    let (_, ids) = headline_actions(&replaced.params["blocks"]);
    assert_eq!(ids, ["set_severity", "lead_me"]);
    assert!(
        replaced.params["text"]
            .as_str()
            .unwrap()
            .contains("Resolved at")
    );

    // The draft says what the buttons did.
    let draft = server
        .command(CHANNEL, "U0ROBIN01", "/incident", "draft", "t.2")
        .await;
    let draft = draft["text"].as_str().unwrap();
    assert!(
        draft.contains("Zoë Kapoor") && draft.contains("Critical"),
        "{draft}"
    );

    // Once closed, a click on the old headline changes nothing and says why.
    server
        .command(CHANNEL, "U0ROBIN01", "/incident", "close", "t.3")
        .await;
    let stored = events_stored(&server).await;
    let late = headline_click("U0ZOE0002", &block, select_severity("sev3"), "t.a.4", &url);
    assert_eq!(server.interaction(&late).await.status(), 200);
    assert_eq!(events_stored(&server).await, stored);
    assert_eq!(server.the_incident().await["severity"], "sev1");
    let answers = fake.wait_for(RESPONSE_URL, 5, WAIT).await;
    assert_eq!(answers[4].params["response_type"], "ephemeral");
    assert!(
        answers[4].params["text"]
            .as_str()
            .unwrap()
            .contains("nothing was changed")
    );

    // Forged: refused before anything is read.
    let forged = server
        .post_signed(
            "/slack/interactions",
            FORM,
            &interaction_body(&late),
            "not-the-signing-secret",
            now(),
            &[],
        )
        .await;
    assert_eq!(forged.status(), 401);
}
