//! Scribe in Discord, end to end: the real `scribe serve` with its serenity client against a
//! fake Discord on a local port (REST and gateway), read back through the incident API.

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::Sandbox;
use common::fake_discord::{
    APPLICATION_ID, BOT_TOKEN, FakeDiscord, GUILD_ID, INTENT_GUILD_MESSAGE_REACTIONS,
    INTENT_GUILD_MESSAGES, INTENT_GUILDS, INTENT_MESSAGE_CONTENT, Posted, integer_option,
    snowflake_time, string_option, subcommand, subcommand_group, user_option,
};
use common::server::{Server, entry_texts};
use scribe::domain::reply;
use serde_json::{Value, json};

const CHANNEL: &str = "1176000000000000100";
const THREAD: &str = "1176000000000000200";
const OTHER: &str = "1176000000000000300";
/// Shown by their nick.
const ZOE: &str = "1176000000000000011";
/// Shown by their global name.
const ROBIN: &str = "1176000000000000012";
/// Shown by their username.
const TRENT: &str = "1176000000000000013";
const WAIT: Duration = Duration::from_secs(20);

fn people(fake: &FakeDiscord) {
    fake.add_member(ZOE, "zoe.k", Some("Zoë K."), Some("Zoë Kapoor"));
    fake.add_member(ROBIN, "robin.ayers", Some("Robin Ayers"), None);
    fake.add_member(TRENT, "trent.osei", None, None);
    fake.add_channel(CHANNEL, "inc-checkout");
    fake.add_channel(OTHER, "general");
    fake.add_thread(THREAD, CHANNEL, "db-failover");
}

fn serve(sandbox: &Sandbox, fake: &FakeDiscord) -> Server {
    let guilds = format!("[{GUILD_ID}]");
    Server::start_with(
        sandbox,
        &[
            ("DISCORD_TOKEN", BOT_TOKEN),
            ("SCRIBE__DISCORD__API_BASE_URL", &fake.base_url()),
            ("SCRIBE__DISCORD__GUILD_IDS", &guilds),
        ],
    )
}

/// A fake Discord with people and channels, and Scribe connected to it with its commands
/// registered.
async fn start() -> (FakeDiscord, Sandbox, Server) {
    let fake = FakeDiscord::start().await;
    people(&fake);
    let sandbox = Sandbox::new();
    let server = serve(&sandbox, &fake);
    fake.wait_connected(WAIT).await;
    fake.wait_for("PUT", "/commands", 1, WAIT).await;
    (fake, sandbox, server)
}

/// Runs `/incident <sub> …` as `user` and returns what Discord shows for it.
async fn incident(fake: &FakeDiscord, user: &str, sub: &str, options: Value) -> Value {
    let id = fake.command(CHANNEL, user, "incident", json!([subcommand(sub, options)]));
    fake.interaction_answer(&id, WAIT).await
}

/// Runs `/incident <group> <sub> …` (`/incident action add …`) as `user`.
async fn incident_group(
    fake: &FakeDiscord,
    user: &str,
    group: &str,
    sub: &str,
    options: Value,
) -> Value {
    let id = fake.command(
        CHANNEL,
        user,
        "incident",
        json!([subcommand_group(group, subcommand(sub, options))]),
    );
    fake.interaction_answer(&id, WAIT).await
}

/// Runs `/timeline <sub> …` as `user`.
async fn timeline_sub(fake: &FakeDiscord, user: &str, sub: &str, options: Value) -> Value {
    let id = fake.command(CHANNEL, user, "timeline", json!([subcommand(sub, options)]));
    fake.interaction_answer(&id, WAIT).await
}

/// Adds a timeline note with `/timeline add …` as `user`.
async fn timeline(fake: &FakeDiscord, user: &str, options: Value) -> Value {
    timeline_sub(fake, user, "add", options).await
}

async fn open(fake: &FakeDiscord, title: &str) -> Value {
    incident(fake, ROBIN, "start", json!([string_option("title", title)])).await
}

/// Polls the incident API until the one incident satisfies `check`; fails with what was seen.
async fn until(server: &Server, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let incidents = server.incidents().await;
        if let [incident] = incidents.as_slice()
            && check(incident)
        {
            return incident.clone();
        }
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for {what}; incidents: {incidents:#?}\nserver log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn entries_are(expected: &[&str]) -> impl Fn(&Value) -> bool {
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    move |incident| entry_texts(incident) == expected
}

/// Participants as (name, messages), sorted by name as the API gives them.
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

fn messages_of(incident: &Value, name: &str) -> u64 {
    participants(incident)
        .into_iter()
        .find(|(n, _)| n == name)
        .map_or(0, |(_, m)| m)
}

fn no_mentions(allowed: &Value) -> bool {
    let empty = |key: &str| allowed.get(key).is_none_or(|v| v == &json!([]));
    allowed["parse"] == json!([]) && empty("users") && empty("roles")
}

/// The one message carrying a postmortem file, once the close job has posted it.
async fn postmortem_post(fake: &FakeDiscord) -> Posted {
    let with_files = || -> Vec<Posted> {
        fake.posted(CHANNEL)
            .into_iter()
            .filter(|p| !p.files.is_empty())
            .collect()
    };
    let found = fake.until(WAIT, || Some(with_files()).filter(|w| !w.is_empty()));
    let with_files = found
        .await
        .unwrap_or_else(|| panic!("no postmortem posted; calls:\n{}", fake.describe_calls()));
    assert_eq!(with_files.len(), 1, "{with_files:#?}");
    with_files.into_iter().next().unwrap()
}

fn clock(at: &Value) -> String {
    let at: DateTime<Utc> = at.as_str().unwrap().parse().unwrap();
    at.format("%H:%M").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incident_from_start_to_postmortem() {
    let (fake, _sandbox, server) = start().await;

    let answer = incident(
        &fake,
        ROBIN,
        "start",
        json!([
            string_option("title", "Checkout 5xx"),
            string_option("severity", "sev2")
        ]),
    )
    .await;
    let headline = answer["content"].as_str().unwrap();
    assert!(headline.contains("Checkout 5xx"), "{answer}");
    assert!(headline.to_lowercase().contains("sev2"), "{answer}");
    assert_eq!(
        answer["flags"].as_u64().unwrap_or(0) & 64,
        0,
        "the headline is public: {answer}"
    );

    fake.post(CHANNEL, ZOE, "checkout error rate at 22%");
    let rolled_back = timeline(
        &fake,
        ZOE,
        json!([string_option("text", "rolled back checkout-api")]),
    )
    .await;
    assert!(rolled_back["content"].is_string(), "{rolled_back}");
    let failover = fake.post(CHANNEL, TRENT, "db failover to replica 2 done");
    fake.react(CHANNEL, &failover, ROBIN, "📌");
    let alert = fake.post(CHANNEL, ROBIN, "FIRING: checkout error rate high");
    fake.pin_and_announce(CHANNEL, &alert);

    let open = until(&server, "the three entries", |i| {
        let texts = entry_texts(i);
        texts.len() == 3
    })
    .await;
    assert_eq!(
        entry_texts(&open),
        [
            "rolled back checkout-api",
            "db failover to replica 2 done",
            "FIRING: checkout error rate high",
        ]
    );
    let sources: Vec<&str> = open["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] != "event")
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["command", "reaction", "pin"]);
    assert_eq!(open["title"], "Checkout 5xx");
    assert_eq!(open["severity"], "sev2");
    assert_eq!(open["platform"], "discord");
    let mut names: Vec<String> = participants(&open).into_iter().map(|(n, _)| n).collect();
    names.sort();
    assert_eq!(names, ["Robin Ayers", "Zoë Kapoor", "trent.osei"]);

    incident(&fake, ROBIN, "resolve", json!([])).await;
    let closed = incident(&fake, ROBIN, "close", json!([])).await;
    assert!(closed["content"].is_string(), "{closed}");

    let post = postmortem_post(&fake).await;
    let date = Utc::now().format("%Y-%m-%d");
    let (name, content) = &post.files[0];
    assert!(no_mentions(&post.body["allowed_mentions"]), "{}", post.body);
    let draft = String::from_utf8(content.clone()).unwrap();
    assert!(draft.contains("Checkout 5xx"), "{draft}");
    let incident = until(&server, "the closed incident", |i| i["status"] == "closed").await;
    let short = common::short_id(incident["id"].as_str().unwrap());
    assert_eq!(name, &format!("postmortem-{date}-checkout-5xx-{short}.md"));
    for entry in incident["timeline"].as_array().unwrap() {
        if entry["source"] == "event" {
            continue;
        }
        let line = format!(
            "**{}** - {} — {}",
            clock(&entry["at"]),
            entry["text"].as_str().unwrap(),
            entry["author"].as_str().unwrap()
        );
        assert!(draft.contains(&line), "draft lacks {line:?}:\n{draft}");
    }
    assert!(draft.contains("db failover to replica 2 done — trent.osei"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backfilled_timeline_entry_keeps_the_time_it_was_given() {
    let (fake, _sandbox, server) = start().await;
    open(&fake, "Queue backlog").await;

    let earlier = Utc::now() - chrono::Duration::minutes(7);
    let at = earlier.format("%H:%M").to_string();
    timeline(
        &fake,
        ZOE,
        json!([
            string_option("text", "first alert fired"),
            string_option("at", &at)
        ]),
    )
    .await;

    let incident = until(
        &server,
        "the backfilled entry",
        entries_are(&["first alert fired"]),
    )
    .await;
    let entry = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["text"] == "first alert fired")
        .unwrap();
    assert_eq!(entry["source"], "backfill");
    assert_eq!(clock(&entry["at"]), at);
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_deletes_unpins_and_taken_back_reactions_change_the_timeline() {
    let (fake, _sandbox, server) = start().await;
    open(&fake, "Queue backlog").await;

    let restarted = fake.post(CHANNEL, ZOE, "consumers restarted");
    fake.react(CHANNEL, &restarted, ROBIN, "📌");
    let wrong = fake.post(CHANNEL, TRENT, "wrong channel, sorry");
    fake.pin_and_announce(CHANNEL, &wrong);
    let lag = fake.post(CHANNEL, TRENT, "lag is falling");
    fake.pin_and_announce(CHANNEL, &lag);
    until(
        &server,
        "three entries",
        entries_are(&[
            "consumers restarted",
            "wrong channel, sorry",
            "lag is falling",
        ]),
    )
    .await;

    fake.edit(CHANNEL, &restarted, "consumers restarted (all 12)");
    let edited = until(
        &server,
        "the edit",
        entries_are(&[
            "consumers restarted (all 12)",
            "wrong channel, sorry",
            "lag is falling",
        ]),
    )
    .await;
    assert_eq!(
        edited["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["text"] == "consumers restarted (all 12)")
            .unwrap()["original_text"],
        "consumers restarted"
    );

    fake.delete(CHANNEL, &wrong);
    until(
        &server,
        "the deletion",
        entries_are(&["consumers restarted (all 12)", "lag is falling"]),
    )
    .await;

    fake.unpin_and_announce(CHANNEL, &lag);
    until(
        &server,
        "the unpin",
        entries_are(&["consumers restarted (all 12)"]),
    )
    .await;

    fake.unreact(CHANNEL, &restarted, ROBIN, "📌");
    let incident = until(&server, "the reaction taken back", entries_are(&[])).await;
    // The messages still count, the deleted one too: only the entries went.
    assert_eq!(messages_of(&incident, "Zoë Kapoor"), 1);
    assert_eq!(messages_of(&incident, "trent.osei"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn thread_replies_belong_to_the_channels_incident_and_other_channels_do_not() {
    let (fake, _sandbox, server) = start().await;
    open(&fake, "DB failover").await;

    let lag = fake.post(THREAD, ZOE, "replica lag is 40s");
    fake.react(THREAD, &lag, ROBIN, "📌");
    fake.post(OTHER, TRENT, "lunch anyone?");
    fake.post(THREAD, TRENT, "promoting replica 2");

    let incident = until(&server, "the thread's messages", |i| {
        entry_texts(i) == ["replica lag is 40s"] && messages_of(i, "trent.osei") == 1
    })
    .await;
    assert_eq!(messages_of(&incident, "Zoë Kapoor"), 1);
    assert!(
        !incident.to_string().contains("lunch anyone"),
        "{incident:#}"
    );

    // A pin in the thread leaves the channel's pins alone.
    let alert = fake.post(CHANNEL, ROBIN, "FIRING: replica lag");
    fake.pin_and_announce(CHANNEL, &alert);
    let promoted = fake.post(THREAD, ZOE, "replica 2 promoted");
    fake.pin_and_announce(THREAD, &promoted);
    until(
        &server,
        "both pins",
        entries_are(&[
            "replica lag is 40s",
            "FIRING: replica lag",
            "replica 2 promoted",
        ]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_scribe_posts_can_mention_anyone() {
    let (fake, _sandbox, server) = start().await;

    let headline = open(&fake, "Checkout down @everyone").await;
    assert!(
        headline["content"]
            .as_str()
            .unwrap()
            .contains("Checkout down")
    );
    timeline(
        &fake,
        ZOE,
        json!([string_option(
            "text",
            "paging @here and <@&1176000000000000999>"
        )]),
    )
    .await;
    incident_group(
        &fake,
        ROBIN,
        "action",
        "add",
        json!([
            string_option("text", "add alerting @everyone"),
            user_option("owner", TRENT)
        ]),
    )
    .await;
    incident(&fake, ROBIN, "status", json!([])).await;
    until(&server, "the entry", |i| entry_texts(i).len() == 1).await;
    incident(&fake, ROBIN, "close", json!([])).await;
    postmortem_post(&fake).await;

    let posts: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.ok())
        .filter(|c| {
            c.path.contains("/messages")
                || c.path.contains("/webhooks/")
                || c.path.ends_with("/callback")
        })
        .collect();
    assert!(posts.len() >= 5, "{}", fake.describe_calls());
    for call in &posts {
        let body = call.json.clone().unwrap_or(Value::Null);
        let message = if call.path.ends_with("/callback") {
            if body["type"] == 5 {
                continue; // "thinking…" has no content
            }
            body["data"].clone()
        } else {
            body
        };
        assert!(
            no_mentions(&message["allowed_mentions"]),
            "{} {} sent {message}",
            call.method,
            call.path
        );
    }
    // And what Discord made of them: not one message of the bot's pings @everyone.
    for message in fake.history(CHANNEL) {
        if message["author"]["id"] == APPLICATION_ID {
            assert_eq!(message["mention_everyone"], false, "{message}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_dropped_gateway_connection_the_missed_messages_arrive_once() {
    let (fake, _sandbox, server) = start().await;
    open(&fake, "Flaky network").await;
    fake.post(CHANNEL, ZOE, "before the drop");
    until(&server, "the first message", |i| {
        messages_of(i, "Zoë Kapoor") == 1
    })
    .await;

    // Scribe is away until the fake lets its RESUME through; what happens meanwhile waits in
    // the session, as Discord keeps it.
    fake.hold_sessions(true);
    let connections = fake.connection_count();
    fake.drop_connection();
    let away = fake.post(CHANNEL, ZOE, "db failover started while you were away");
    fake.react(CHANNEL, &away, TRENT, "📌");
    fake.post(CHANNEL, TRENT, "replica promoted");
    let reconnected = fake.until(WAIT, || {
        (fake.connection_count() != connections).then_some(())
    });
    assert!(reconnected.await.is_some(), "Scribe did not reconnect");
    fake.hold_sessions(false);
    fake.wait_connected(WAIT).await;

    let incident = until(&server, "the missed messages", |i| {
        entry_texts(i) == ["db failover started while you were away"]
            && messages_of(i, "trent.osei") == 1
    })
    .await;
    assert_eq!(fake.identify_count(), 1, "resumed, not identified again");
    assert_eq!(fake.resume_count(), 1);
    assert!(fake.replayed_count() >= 3);
    assert_eq!(messages_of(&incident, "Zoë Kapoor"), 2);

    // And the connection works on.
    timeline(
        &fake,
        ROBIN,
        json!([string_option("text", "network is stable")]),
    )
    .await;
    let incident = until(&server, "the entry after the reconnect", |i| {
        entry_texts(i).len() == 2
    })
    .await;
    assert_eq!(messages_of(&incident, "Zoë Kapoor"), 2);
    assert_eq!(messages_of(&incident, "trent.osei"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_that_cannot_resume_is_caught_up_from_the_channel_history() {
    let (fake, _sandbox, server) = start().await;
    open(&fake, "Flaky network").await;
    fake.post(CHANNEL, ZOE, "before the drop");
    until(&server, "the first message", |i| {
        messages_of(i, "Zoë Kapoor") == 1
    })
    .await;

    fake.hold_sessions(true);
    fake.invalidate_next_resume();
    let connections = fake.connection_count();
    fake.close_connection(4000);
    // Dispatched into a session Discord then gives up: only the history keeps them.
    fake.post(CHANNEL, ZOE, "db failover started while you were away");
    fake.post(CHANNEL, TRENT, "replica promoted");
    let reconnected = fake.until(WAIT, || {
        (fake.connection_count() != connections).then_some(())
    });
    assert!(reconnected.await.is_some(), "Scribe did not reconnect");
    fake.hold_sessions(false);

    let incident = until(&server, "the messages from history", |i| {
        messages_of(i, "Zoë Kapoor") == 2 && messages_of(i, "trent.osei") == 1
    })
    .await;
    assert_eq!(fake.invalid_session_count(), 1);
    assert_eq!(fake.identify_count(), 2);
    let fetched = fake.calls_to("GET", &format!("/channels/{CHANNEL}/messages"));
    assert!(
        fetched.iter().any(|c| c.query_param("after").is_some()),
        "{}",
        fake.describe_calls()
    );
    assert_eq!(participants(&incident).len(), 3, "{incident:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_restart_the_messages_posted_meanwhile_are_caught_up_once() {
    let fake = FakeDiscord::start().await;
    people(&fake);
    let sandbox = Sandbox::new();
    let mut server = serve(&sandbox, &fake);
    fake.wait_connected(WAIT).await;
    fake.wait_for("PUT", "/commands", 1, WAIT).await;
    open(&fake, "Long outage").await;
    fake.post(CHANNEL, ZOE, "before the restart");
    until(&server, "the first message", |i| {
        messages_of(i, "Zoë Kapoor") == 1
    })
    .await;

    server.kill();
    // More than one page of history (Discord serves at most 100 at a time).
    let mut missed = Vec::new();
    for n in 0..101 {
        let id = fake.next_id();
        fake.add_history(CHANNEL, &id, TRENT, &format!("chatter {n}"));
        missed.push(id);
    }
    let zoe_missed = fake.next_id();
    fake.add_history(
        CHANNEL,
        &zoe_missed,
        ZOE,
        "db failover done while Scribe was down",
    );

    let server = serve(&sandbox, &fake);
    let incident = until(&server, "the caught-up messages", |i| {
        messages_of(i, "trent.osei") == 101 && messages_of(i, "Zoë Kapoor") == 2
    })
    .await;
    assert_eq!(incident["status"], "open");
    let pages: Vec<_> = fake
        .calls_to("GET", &format!("/channels/{CHANNEL}/messages"))
        .into_iter()
        .filter(|c| c.ok() && c.query_param("after").is_some())
        .collect();
    assert!(pages.len() >= 2, "{}", fake.describe_calls());
    assert!(
        pages
            .iter()
            .all(|c| c.query_param("limit").as_deref() == Some("100")),
        "{}",
        fake.describe_calls()
    );

    // The same message dispatched late (as a gateway replay might) is not counted again.
    fake.wait_connected(WAIT).await;
    let late = fake.message_create(
        CHANNEL,
        &zoe_missed,
        ZOE,
        "db failover done while Scribe was down",
    );
    fake.dispatch("MESSAGE_CREATE", late);
    fake.post(CHANNEL, ROBIN, "all caught up");
    let incident = until(&server, "the message after the catch-up", |i| {
        messages_of(i, "Robin Ayers") >= 1
    })
    .await;
    assert_eq!(messages_of(&incident, "Zoë Kapoor"), 2, "{incident:#}");
    assert_eq!(messages_of(&incident, "trent.osei"), 101);
}

#[tokio::test(flavor = "multi_thread")]
async fn reactions_pins_and_edits_made_while_scribe_was_away_are_caught_up() {
    let fake = FakeDiscord::start().await;
    people(&fake);
    let sandbox = Sandbox::new();
    let mut server = serve(&sandbox, &fake);
    fake.wait_connected(WAIT).await;
    fake.wait_for("PUT", "/commands", 1, WAIT).await;
    open(&fake, "Queue backlog").await;
    let restarted = fake.post(CHANNEL, ZOE, "consumers restarted");
    let lag = fake.post(CHANNEL, TRENT, "lag is falling");
    fake.react(CHANNEL, &lag, ROBIN, "📌");
    let noise = fake.post(CHANNEL, TRENT, "noise");
    fake.pin_and_announce(CHANNEL, &noise);
    until(
        &server,
        "the live entries",
        entries_are(&["lag is falling", "noise"]),
    )
    .await;

    server.kill();
    // On messages Scribe stored before it went away…
    fake.edit_history(CHANNEL, &restarted, "consumers restarted (all 12)");
    fake.add_reaction(CHANNEL, &restarted, ROBIN, "📌");
    fake.remove_reaction(CHANNEL, &lag, ROBIN, "📌");
    fake.unpin(CHANNEL, &noise);
    // …and on messages posted meanwhile.
    let failover = fake.next_id();
    fake.add_history(CHANNEL, &failover, ZOE, "db failover done");
    fake.add_reaction(CHANNEL, &failover, TRENT, "📌");
    fake.add_reaction(CHANNEL, &failover, TRENT, "👍");
    let normal = fake.next_id();
    fake.add_history(CHANNEL, &normal, TRENT, "error rate back to normal");
    fake.pin(CHANNEL, &normal);
    // A thread no message of which was stored yet.
    let in_thread = fake.next_id();
    fake.add_history(THREAD, &in_thread, ZOE, "replica lag is zero");

    let server = serve(&sandbox, &fake);
    let incident = until(
        &server,
        "what changed while Scribe was away",
        entries_are(&[
            "consumers restarted (all 12)",
            "db failover done",
            "error rate back to normal",
        ]),
    )
    .await;
    let timeline = incident["timeline"].as_array().unwrap();
    let restarted_entry = timeline
        .iter()
        .find(|e| e["text"] == "consumers restarted (all 12)")
        .unwrap();
    assert_eq!(restarted_entry["original_text"], "consumers restarted");
    assert_eq!(restarted_entry["source"], "reaction");
    until(&server, "the message in a thread", |i| {
        messages_of(i, "Zoë Kapoor") == 3
    })
    .await;
    let failover_entry = timeline
        .iter()
        .find(|e| e["text"] == "db failover done")
        .unwrap();
    assert_eq!(failover_entry["source"], "reaction");
    let read = fake.calls_to("GET", &format!("/messages/{failover}/reactions/"));
    assert!(
        !read.is_empty()
            && read
                .iter()
                .all(|c| !c.path.contains("%F0%9F%91%8D") && !c.path.contains("👍")),
        "who reacted is read for 📌 only:\n{}",
        fake.describe_calls()
    );

    // Reconnecting reads the same history again and changes nothing.
    fake.drop_connection();
    fake.wait_connected(WAIT).await;
    fake.post(CHANNEL, ROBIN, "all caught up");
    let incident = until(&server, "the message after the second catch-up", |i| {
        messages_of(i, "Robin Ayers") >= 1
    })
    .await;
    assert_eq!(
        entry_texts(&incident),
        [
            "consumers restarted (all 12)",
            "db failover done",
            "error rate back to normal",
        ]
    );
    assert_eq!(messages_of(&incident, "Zoë Kapoor"), 3, "{incident:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limited_postmortem_post_is_retried_after_the_limit_resets_and_posted_once() {
    let (fake, _sandbox, server) = start().await;
    open(&fake, "Rate limits").await;
    timeline(
        &fake,
        ZOE,
        json!([string_option("text", "throttling clients")]),
    )
    .await;
    until(&server, "the entry", |i| entry_texts(i).len() == 1).await;

    let path = format!("/channels/{CHANNEL}/messages");
    fake.rate_limit_next("POST", &path, 1.5);
    incident(&fake, ROBIN, "close", json!([])).await;

    let post = postmortem_post(&fake).await;
    assert!(String::from_utf8_lossy(&post.files[0].1).contains("throttling clients"));
    let calls = fake.calls_to("POST", &path);
    let limited: Vec<_> = calls.iter().filter(|c| c.status == 429).collect();
    assert_eq!(
        limited.len(),
        1,
        "retried before the limit reset:\n{}",
        fake.describe_calls()
    );
    let retried = calls
        .iter()
        .find(|c| c.ok() && !c.parts.is_empty())
        .unwrap();
    assert!(
        retried.at.duration_since(limited[0].at) >= Duration::from_millis(1500),
        "retried after {:?}",
        retried.at.duration_since(limited[0].at)
    );
    // Still exactly one postmortem message once no job is due.
    server.settled().await;
    let with_files = fake
        .posted(CHANNEL)
        .into_iter()
        .filter(|p| !p.files.is_empty())
        .count();
    assert_eq!(with_files, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postmortem_post_whose_answer_was_lost_is_retried_and_appears_once() {
    let (fake, _sandbox, server) = start().await;
    open(&fake, "Lost answers").await;
    timeline(
        &fake,
        ZOE,
        json!([string_option("text", "packets dropped")]),
    )
    .await;
    until(&server, "the entry", |i| entry_texts(i).len() == 1).await;

    let path = format!("/channels/{CHANNEL}/messages");
    fake.lose_answer_next("POST", &path, 502);
    incident(&fake, ROBIN, "close", json!([])).await;

    postmortem_post(&fake).await;
    // The job retries after its backoff with the same enforced nonce: Discord hands back the
    // message it created, and the channel still holds one postmortem.
    let attempts = || -> Vec<_> {
        fake.calls_to("POST", &path)
            .into_iter()
            .filter(|c| !c.parts.is_empty())
            .collect()
    };
    let attempts = fake
        .until(WAIT, || Some(attempts()).filter(|a| a.len() >= 2))
        .await
        .unwrap_or_else(attempts);
    assert_eq!(attempts.len(), 2, "{}", fake.describe_calls());
    assert_eq!(attempts[0].status, 502);
    assert!(attempts[1].ok());
    let nonce = |call: &common::fake_discord::Call| {
        let payload = call
            .parts
            .iter()
            .find(|p| p.name == "payload_json")
            .expect("a payload_json part");
        let body: Value = serde_json::from_slice(&payload.data).unwrap();
        (body["nonce"].clone(), body["enforce_nonce"].clone())
    };
    assert_eq!(nonce(&attempts[0]), nonce(&attempts[1]));
    assert_eq!(nonce(&attempts[0]).1, json!(true));
    let with_files = fake
        .posted(CHANNEL)
        .into_iter()
        .filter(|p| !p.files.is_empty())
        .count();
    assert_eq!(with_files, 1, "{}", fake.describe_calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn incident_web_answers_only_its_asker_with_a_sign_in_link_that_works() {
    let (fake, _sandbox, server) = start().await;
    open(&fake, "DB failover").await;
    let answer = incident(&fake, ZOE, "web", json!([])).await;
    assert_eq!(
        answer["flags"].as_u64().unwrap_or(0) & 64,
        64,
        "private: {answer}"
    );
    let text = answer["content"].as_str().unwrap();
    let start = text.find("/login/").expect("a link");
    let path: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let signed_in = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let list = reqwest::Client::new()
        .get(format!("{}/", server.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("DB failover"),
        "the server's incidents: {list}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_commands_are_registered_in_the_guild_with_their_options() {
    let (fake, _sandbox, _server) = start().await;

    assert_eq!(
        fake.last_intents(),
        Some(
            INTENT_GUILDS
                | INTENT_GUILD_MESSAGES
                | INTENT_GUILD_MESSAGE_REACTIONS
                | INTENT_MESSAGE_CONTENT
        )
    );
    assert!(fake.registered_global_commands().is_empty());
    let commands = fake.registered_commands();
    let mut names: Vec<&str> = commands
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Add to timeline", "incident", "timeline"]);
    let command = |name: &str| commands.iter().find(|c| c["name"] == name).unwrap().clone();
    let option = |parent: &Value, name: &str| -> Value {
        parent["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["name"] == name)
            .unwrap_or_else(|| panic!("no option {name} in {parent:#}"))
            .clone()
    };
    let required = |o: &Value| o["required"].as_bool().unwrap_or(false);

    let names_of = |parent: &Value| -> Vec<String> {
        parent["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // An entry's or an item's number: an integer of at least 1.
    let number = |sub: &Value| {
        let number = option(sub, "number");
        assert_eq!(
            (number["type"].as_u64(), required(&number)),
            (Some(4), true),
            "{sub}"
        );
        assert_eq!(number["min_value"], 1, "{sub}");
    };

    let incident = command("incident");
    assert_eq!(
        names_of(&incident),
        [
            "start", "severity", "lead", "impact", "summary", "title", "factor", "worked",
            "improve", "action", "ref", "resolve", "close", "status", "web", "search", "similar",
            "assist", "private", "draft"
        ]
    );
    // `assist ask [section]`, `assist accept N`.
    let assist = option(&incident, "assist");
    assert_eq!(names_of(&assist), ["ask", "list", "accept"]);
    number(&option(&assist, "accept"));
    let section = option(&option(&assist, "ask"), "section");
    assert_eq!(
        (section["type"].as_u64(), required(&section)),
        (Some(3), false)
    );
    assert_eq!(section["choices"].as_array().unwrap().len(), 5);
    for o in incident["options"].as_array().unwrap() {
        let groups = ["factor", "worked", "improve", "action", "assist"];
        let kind = if groups.contains(&o["name"].as_str().unwrap()) {
            2
        } else {
            1
        };
        assert_eq!(o["type"], kind, "{o}");
    }

    // The message command of the Apps menu: no description, no options.
    let add = command("Add to timeline");
    assert_eq!(add["type"], 3, "{add}");
    assert!(add["options"].as_array().is_none_or(Vec::is_empty), "{add}");
    assert!(
        add["description"].as_str().is_none_or(str::is_empty),
        "{add}"
    );

    let start = option(&incident, "start");
    // Without a title, a form asks for it.
    let title = option(&start, "title");
    assert_eq!((title["type"].as_u64(), required(&title)), (Some(3), false));
    let severity = option(&start, "severity");
    assert_eq!(severity["type"], 3);
    assert!(!required(&severity));
    let choices: Vec<String> = severity["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap().to_lowercase())
        .collect();
    assert_eq!(choices, ["sev1", "sev2", "sev3", "sev4"]);

    let level = option(&option(&incident, "severity"), "level");
    assert!(required(&level));
    assert_eq!(level["choices"].as_array().unwrap().len(), 4);
    let lead = option(&option(&incident, "lead"), "user");
    assert_eq!((lead["type"].as_u64(), required(&lead)), (Some(6), true));
    for sub in ["impact", "summary", "title"] {
        let text = option(&option(&incident, sub), "text");
        assert_eq!((text["type"].as_u64(), required(&text)), (Some(3), true));
    }
    for list in ["factor", "worked", "improve"] {
        let group = option(&incident, list);
        assert_eq!(names_of(&group), ["add", "remove", "restore"], "{list}");
        for sub in group["options"].as_array().unwrap() {
            assert_eq!(sub["type"], 1, "{sub}");
        }
        let text = option(&option(&group, "add"), "text");
        assert_eq!((text["type"].as_u64(), required(&text)), (Some(3), true));
        number(&option(&group, "remove"));
        number(&option(&group, "restore"));
    }

    let action = option(&incident, "action");
    assert_eq!(names_of(&action), ["add", "done", "remove", "restore"]);
    let add = option(&action, "add");
    assert_eq!(add["type"], 1);
    assert_eq!(names_of(&add), ["text", "owner", "horizon", "due"]);
    let text = option(&add, "text");
    assert_eq!((text["type"].as_u64(), required(&text)), (Some(3), true));
    let owner = option(&add, "owner");
    assert_eq!((owner["type"].as_u64(), required(&owner)), (Some(6), false));
    let horizon = option(&add, "horizon");
    assert_eq!(
        (horizon["type"].as_u64(), required(&horizon)),
        (Some(3), false)
    );
    let horizons: Vec<&str> = horizon["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    assert_eq!(horizons, ["now", "short", "long"]);
    let due = option(&add, "due");
    assert_eq!((due["type"].as_u64(), required(&due)), (Some(3), false));
    assert_eq!(due["max_length"], 10);
    for sub in ["done", "remove", "restore"] {
        let sub = option(&action, sub);
        assert_eq!(sub["type"], 1, "{sub}");
        number(&sub);
    }

    let reference = option(&incident, "ref");
    assert_eq!(names_of(&reference), ["label", "text"]);
    let label = option(&reference, "label");
    assert_eq!((label["type"].as_u64(), required(&label)), (Some(3), true));
    assert_eq!(label["max_length"], 32);
    let text = option(&reference, "text");
    assert_eq!((text["type"].as_u64(), required(&text)), (Some(3), true));

    for sub in ["resolve", "close", "status", "draft"] {
        let sub = option(&incident, sub);
        assert!(
            sub["options"]
                .as_array()
                .is_none_or(|o| o.iter().all(|o| !required(o))),
            "{sub}"
        );
    }

    let timeline = command("timeline");
    assert_eq!(
        names_of(&timeline),
        ["add", "list", "edit", "move", "remove", "restore"]
    );
    for sub in timeline["options"].as_array().unwrap() {
        assert_eq!(sub["type"], 1, "{sub}");
    }
    let add = option(&timeline, "add");
    let text = option(&add, "text");
    assert_eq!((text["type"].as_u64(), required(&text)), (Some(3), true));
    let at = option(&add, "at");
    assert_eq!((at["type"].as_u64(), required(&at)), (Some(3), false));
    assert!(
        option(&timeline, "list")["options"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    let edit = option(&timeline, "edit");
    number(&edit);
    let text = option(&edit, "text");
    assert_eq!((text["type"].as_u64(), required(&text)), (Some(3), true));
    let moved = option(&timeline, "move");
    number(&moved);
    let time = option(&moved, "time");
    assert_eq!((time["type"].as_u64(), required(&time)), (Some(3), true));
    assert!(
        time["description"]
            .as_str()
            .unwrap()
            .contains("YYYY-MM-DD HH:MM[:SS]"),
        "{time}"
    );
    for sub in ["remove", "restore"] {
        number(&option(&timeline, sub));
    }
}

/// Every curation command reaches Scribe through its subcommand or group: none is answered as
/// a command Scribe does not know.
#[tokio::test(flavor = "multi_thread")]
async fn the_curation_commands_and_groups_reach_scribe() {
    let (fake, _sandbox, _server) = start().await;
    open(&fake, "Curation").await;
    let unknown = |answer: &Value| {
        answer["content"]
            .as_str()
            .is_none_or(|c| c.contains("does not know"))
    };
    let one = || json!([integer_option("number", 1)]);
    for (sub, options) in [
        ("list", json!([])),
        (
            "edit",
            json!([
                integer_option("number", 1),
                string_option("text", "rolled back")
            ]),
        ),
        (
            "move",
            json!([integer_option("number", 1), string_option("time", "03:12")]),
        ),
        ("remove", one()),
        ("restore", one()),
    ] {
        let answer = timeline_sub(&fake, ZOE, sub, options).await;
        assert!(!unknown(&answer), "/timeline {sub}: {answer}");
    }
    for list in ["factor", "worked", "improve"] {
        for (sub, options) in [
            (
                "add",
                json!([string_option("text", "no alert on queue depth")]),
            ),
            ("remove", one()),
            ("restore", one()),
        ] {
            let answer = incident_group(&fake, ROBIN, list, sub, options).await;
            assert!(!unknown(&answer), "/incident {list} {sub}: {answer}");
        }
    }
    for (sub, options) in [
        (
            "add",
            json!([
                string_option("text", "shard the queue"),
                user_option("owner", TRENT),
                string_option("horizon", "long"),
                string_option("due", "2026-12-20")
            ]),
        ),
        ("done", one()),
        ("remove", one()),
        ("restore", one()),
    ] {
        let answer = incident_group(&fake, ROBIN, "action", sub, options).await;
        assert!(!unknown(&answer), "/incident action {sub}: {answer}");
    }
    let answer = incident(
        &fake,
        ROBIN,
        "ref",
        json!([
            string_option("label", "dashboard"),
            string_option("text", "https://grafana.example/d/checkout")
        ]),
    )
    .await;
    assert!(!unknown(&answer), "/incident ref: {answer}");
}

fn private(answer: &Value) -> bool {
    answer["flags"].as_u64().unwrap_or(0) & 64 == 64
}

/// "Add to timeline" on a message Scribe never saw stores it and the mark, at the message's
/// time; the same interaction again changes nothing; a message of no incident is refused.
#[tokio::test(flavor = "multi_thread")]
async fn add_to_timeline_on_a_message_makes_an_entry_at_its_time_once() {
    let (fake, _sandbox, server) = start().await;
    open(&fake, "Checkout 5xx").await;
    // Posted while Scribe was not looking: only the interaction brings it.
    let message = fake.next_id();
    fake.add_history(CHANNEL, &message, ZOE, "error rate back to 1%");

    let asked = fake.message_command(CHANNEL, ROBIN, "Add to timeline", &message);
    let answer = fake.interaction_answer(&asked, WAIT).await;
    assert_eq!(answer["content"], reply::SHORTCUT_ADDED, "{answer}");
    assert!(private(&answer), "{answer}");
    assert!(no_mentions(&answer["allowed_mentions"]), "{answer}");
    // Stored before the answer: the API shows it at once.
    let [incident] = server.incidents().await.try_into().unwrap();
    assert_eq!(entry_texts(&incident), ["error rate back to 1%"]);
    let entry = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["text"] == "error rate back to 1%")
        .unwrap();
    assert_eq!(entry["source"], "reaction", "{entry}");
    let at: DateTime<Utc> = entry["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(at, snowflake_time(&message), "{entry}");
    assert_eq!(entry["author"], "Zoë Kapoor", "{entry}");

    fake.replay_interaction(&asked);
    let again = fake.interaction_answer(&asked, WAIT).await;
    assert_eq!(again["content"], reply::SHORTCUT_ADDED, "{again}");
    let [incident] = server.incidents().await.try_into().unwrap();
    assert_eq!(entry_texts(&incident), ["error rate back to 1%"]);
    assert_eq!(messages_of(&incident, "Zoë Kapoor"), 1, "{incident:#}");

    // A message of a channel without an incident.
    let lunch = fake.post(OTHER, TRENT, "lunch anyone?");
    let asked = fake.message_command(OTHER, ROBIN, "Add to timeline", &lunch);
    let refused = fake.interaction_answer(&asked, WAIT).await;
    assert_eq!(refused["content"], reply::SHORTCUT_OUTSIDE, "{refused}");
    assert!(private(&refused), "{refused}");
    let incidents = server.incidents().await;
    assert_eq!(incidents.len(), 1);
    assert!(
        !format!("{incidents:?}").contains("lunch"),
        "{incidents:#?}"
    );
}

/// "Add to timeline" in a thread of the incident's channel: stored under the channel.
#[tokio::test(flavor = "multi_thread")]
async fn add_to_timeline_in_a_thread_adds_to_the_channels_incident() {
    let (fake, _sandbox, server) = start().await;
    open(&fake, "DB failover").await;
    let message = fake.next_id();
    fake.add_history(THREAD, &message, TRENT, "replica 2 promoted");
    let asked = fake.message_command(THREAD, ZOE, "Add to timeline", &message);
    let answer = fake.interaction_answer(&asked, WAIT).await;
    assert_eq!(answer["content"], reply::SHORTCUT_ADDED, "{answer}");
    let [incident] = server.incidents().await.try_into().unwrap();
    assert_eq!(entry_texts(&incident), ["replica 2 promoted"]);

    // A command typed as a message is no entry however it is marked: refused, nothing stored.
    let typed = fake.next_id();
    fake.add_history(CHANNEL, &typed, TRENT, "/incident status");
    let asked = fake.message_command(CHANNEL, ZOE, "Add to timeline", &typed);
    let refused = fake.interaction_answer(&asked, WAIT).await;
    assert_eq!(
        refused["content"],
        reply::SHORTCUT_NOT_AN_ENTRY,
        "{refused}"
    );
    let [incident] = server.incidents().await.try_into().unwrap();
    assert_eq!(entry_texts(&incident), ["replica 2 promoted"]);
    assert_eq!(messages_of(&incident, "trent.osei"), 1, "{incident:#}");
}

/// `/incident start` without a title opens a form; its submit starts the incident as the
/// slash command would, once however often it arrives; a bad severity changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_start_without_a_title_asks_for_it_in_a_form() {
    let (fake, _sandbox, server) = start().await;
    let id = fake.command(
        CHANNEL,
        ROBIN,
        "incident",
        json!([subcommand("start", json!([]))]),
    );
    let form = fake.interaction_response(&id, WAIT).await;
    assert_eq!(form["type"], 9, "{form}");
    assert_eq!(form["data"]["custom_id"], "start_incident", "{form}");
    let inputs: Vec<&Value> = form["data"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| &row["components"][0])
        .collect();
    let [title, severity] = inputs.as_slice() else {
        panic!("two inputs: {form}")
    };
    assert_eq!(
        (
            &title["custom_id"],
            &title["required"],
            &title["max_length"]
        ),
        (&json!("title"), &json!(true), &json!(200)),
        "{form}"
    );
    assert_eq!(severity["custom_id"], "severity", "{form}");
    assert_eq!(severity["required"], false, "{form}");
    assert_eq!(severity["placeholder"], "sev1–sev4", "{form}");
    assert!(server.incidents().await.is_empty());

    let submitted = fake.submit_modal(
        CHANNEL,
        ROBIN,
        "start_incident",
        &[("title", "Checkout 5xx"), ("severity", "sev2")],
    );
    let answer = fake.interaction_answer(&submitted, WAIT).await;
    assert!(
        answer["content"].as_str().unwrap().contains("Checkout 5xx"),
        "{answer}"
    );
    assert!(!private(&answer), "the headline is public: {answer}");
    let [incident] = server.incidents().await.try_into().unwrap();
    assert_eq!(incident["title"], "Checkout 5xx");
    assert_eq!(incident["severity"], "sev2");
    assert_eq!(incident["author"], "Robin Ayers");

    fake.replay_interaction(&submitted);
    fake.interaction_answer(&submitted, WAIT).await;
    let [incident] = server.incidents().await.try_into().unwrap();
    // One start command: the replay was not stored again.
    assert_eq!(messages_of(&incident, "Robin Ayers"), 1, "{incident:#}");

    let bad = fake.submit_modal(
        CHANNEL,
        ZOE,
        "start_incident",
        &[("title", "Another one"), ("severity", "urgent")],
    );
    let refused = fake.interaction_answer(&bad, WAIT).await;
    assert!(private(&refused), "{refused}");
    assert!(
        refused["content"].as_str().unwrap().contains("urgent"),
        "{refused}"
    );
    let [incident] = server.incidents().await.try_into().unwrap();
    assert_eq!(
        (&incident["title"], &incident["severity"]),
        (&json!("Checkout 5xx"), &json!("sev2"))
    );
}

/// The select and buttons under a start's answer do what typing the command does.
#[tokio::test(flavor = "multi_thread")]
async fn the_controls_under_a_start_set_severity_lead_and_resolve() {
    let (fake, _sandbox, server) = start().await;
    let started = fake.command(
        CHANNEL,
        ROBIN,
        "incident",
        json!([subcommand(
            "start",
            json!([string_option("title", "Queue backlog")])
        )]),
    );
    let answer = fake.interaction_answer(&started, WAIT).await;
    let rows = answer["components"].as_array().expect("controls");
    let select = &rows[0]["components"][0];
    assert_eq!(
        (&select["type"], &select["custom_id"]),
        (&json!(3), &json!("severity"))
    );
    let values: Vec<&str> = select["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["sev1", "sev2", "sev3", "sev4"]);
    let buttons: Vec<(&Value, &Value, &Value)> = rows[1]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (&b["type"], &b["custom_id"], &b["label"]))
        .collect();
    assert_eq!(
        buttons,
        [
            (&json!(2), &json!("lead_me"), &json!("I'm the lead")),
            (&json!(2), &json!("resolve"), &json!("Resolve"))
        ]
    );
    assert_eq!(rows[1]["components"][1]["style"], 4, "Resolve is red");
    let message = fake.answer_message(&started, WAIT).await;

    let picked = fake.click(CHANNEL, ZOE, &message, "severity", &["sev2"]);
    let answer = fake.interaction_answer(&picked, WAIT).await;
    assert!(!private(&answer), "{answer}");
    assert!(no_mentions(&answer["allowed_mentions"]), "{answer}");
    let [incident] = server.incidents().await.try_into().unwrap();
    assert_eq!(incident["severity"], "sev2");
    // Answered in place: the start's answer shows the incident as it now is, and who changed it.
    let start_shown = |fake: &FakeDiscord| {
        fake.history(CHANNEL)
            .into_iter()
            .find(|m| m["id"] == message.as_str())
            .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
            .unwrap()
    };
    assert_eq!(fake.interaction_response(&picked, WAIT).await["type"], 7);
    let shown = start_shown(&fake);
    assert!(
        shown.contains("Queue backlog") && shown.contains("sev2") && shown.contains("Zoë Kapoor"),
        "{shown}"
    );
    // Again: stored once.
    fake.replay_interaction(&picked);
    fake.interaction_answer(&picked, WAIT).await;

    let lead = fake.click(CHANNEL, ZOE, &message, "lead_me", &[]);
    let answer = fake.interaction_answer(&lead, WAIT).await;
    assert!(
        answer["content"].as_str().unwrap().contains("Zoë Kapoor"),
        "{answer}"
    );
    let [incident] = server.incidents().await.try_into().unwrap();
    assert_eq!(incident["lead"], "Zoë Kapoor");

    let resolve = fake.click(CHANNEL, ROBIN, &message, "resolve", &[]);
    fake.interaction_answer(&resolve, WAIT).await;
    let [incident] = server.incidents().await.try_into().unwrap();
    assert_eq!(incident["status"], "resolved");
    let shown = start_shown(&fake);
    assert!(
        shown.contains("Lead: Zoë Kapoor") && shown.contains("Resolved at"),
        "{shown}"
    );
    // The severity select, lead and resolve each left one command: the replay added none.
    assert_eq!(messages_of(&incident, "Zoë Kapoor"), 2, "{incident:#}");

    // A click where no incident is open gets the refusal, and changes nothing.
    let elsewhere = fake.post(OTHER, TRENT, "lunch anyone?");
    let outside = fake.click(OTHER, TRENT, &elsewhere, "resolve", &[]);
    let refused = fake.interaction_answer(&outside, WAIT).await;
    assert!(private(&refused), "{refused}");
    assert_eq!(server.incidents().await.len(), 1);

    // The controls of an earlier incident never change a newer one in the same channel.
    self::incident(&fake, ROBIN, "close", json!([])).await;
    self::incident(
        &fake,
        ROBIN,
        "start",
        json!([string_option("title", "Search down")]),
    )
    .await;
    let late = fake.click(CHANNEL, ZOE, &message, "severity", &["sev1"]);
    let refused = fake.interaction_answer(&late, WAIT).await;
    assert!(private(&refused), "{refused}");
    assert!(
        refused["content"]
            .as_str()
            .unwrap()
            .contains("nothing was changed"),
        "{refused}"
    );
    let newer = server
        .incidents()
        .await
        .into_iter()
        .find(|i| i["title"] == "Search down")
        .unwrap();
    assert!(newer["severity"].is_null(), "{newer}");
}

/// A start whose answer takes past Discord's deferral point (a slow channel lookup here) is
/// still answered in the channel, with its controls; the asker's own "thinking…" says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_start_is_still_answered_in_the_channel() {
    const SLOW: &str = "1176000000000000400";
    let (fake, _sandbox, server) = start().await;
    fake.add_channel(SLOW, "inc-slow");
    fake.slow_next(
        "GET",
        &format!("/channels/{SLOW}"),
        Duration::from_millis(2600),
    );
    let started = fake.command(
        SLOW,
        ROBIN,
        "incident",
        json!([subcommand(
            "start",
            json!([string_option("title", "Slow disks")])
        )]),
    );
    let response = fake.interaction_response(&started, WAIT).await;
    assert_eq!(response["type"], 5, "deferred: {response}");
    // The answer for the channel comes after the deferral: wait for it.
    let shown = |fake: &FakeDiscord| -> Vec<Value> {
        fake.history(SLOW)
            .into_iter()
            .filter(|m| {
                m["content"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("Slow disks")
            })
            .collect()
    };
    let shown = fake
        .until(WAIT, || Some(shown(&fake)).filter(|s| !s.is_empty()))
        .await
        .unwrap_or_else(|| shown(&fake));
    assert_eq!(shown.len(), 1, "{}", fake.describe_calls());
    assert!(
        shown[0]["flags"].as_u64().unwrap_or(0) & 64 == 0,
        "{:?}",
        shown[0]
    );
    let followup = fake
        .calls()
        .into_iter()
        .find(|c| c.method == "POST" && c.path.contains("/webhooks/"))
        .and_then(|c| c.json)
        .expect("a follow-up");
    assert!(
        followup["components"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "the controls came along: {followup}"
    );
    let private = fake.private_answer(&started).expect("the asker was told");
    assert_eq!(private["content"], reply::ANSWERED_IN_CHANNEL);
    let incident = server
        .incidents()
        .await
        .into_iter()
        .find(|i| i["title"] == "Slow disks")
        .unwrap();
    assert_eq!(incident["status"], "open", "{incident}");
}
