//! Scribe's Slack Web API client against a fake Slack on a local port: request shapes, response
//! parsing, the upload flow, and how rate limits, refusals and outages come out.

mod common;

use std::time::{Duration, Instant};

use common::fake_slack::{BOT_ID, FakeSlack, UPLOAD};
use scribe::adapters::slack::web::{ApiError, FetchedMessage, SlackApi};
use scribe::config::Secret;
use scribe::jobs::JobError;
use serde_json::{Value, json};

const TOKEN: &str = "xoxb-test-token";

fn client(fake: &FakeSlack, token: &str) -> SlackApi {
    SlackApi::new(
        fake.api_base().parse().expect("fake base URL"),
        Secret::new(token),
    )
}

async fn setup() -> (FakeSlack, SlackApi) {
    let fake = FakeSlack::start().await;
    let api = client(&fake, TOKEN);
    (fake, api)
}

#[tokio::test]
async fn post_message_sends_the_token_and_a_json_body_without_unfurls() {
    let (fake, api) = setup().await;

    let ts = api
        .post_message("C123", "Deploy rolled back & <b>fine</b>")
        .await
        .unwrap();

    let calls = fake
        .wait_for("chat.postMessage", 1, Duration::from_secs(5))
        .await;
    let call = &calls[0];
    assert_eq!(call.auth.as_deref(), Some("Bearer xoxb-test-token"));
    assert_eq!(call.params["channel"], "C123");
    assert_eq!(call.params["text"], "Deploy rolled back & <b>fine</b>");
    assert_eq!(call.params["unfurl_links"], json!(false));
    assert_eq!(call.params["unfurl_media"], json!(false));
    let sent: Value = serde_json::from_slice(&call.body).expect("a JSON body");
    assert_eq!(sent["channel"], "C123");

    // The returned ts is Slack's, and names the bot's message.
    let posted = api
        .message("C123", &ts)
        .await
        .unwrap()
        .expect("posted message");
    assert_eq!(posted.bot_id.as_deref(), Some(BOT_ID));
    assert_eq!(posted.text, "Deploy rolled back & <b>fine</b>");
}

#[tokio::test]
async fn user_names_fall_back_from_display_name_to_real_name_to_username() {
    let (fake, api) = setup().await;
    fake.add_user("U1", "alex", "Alex Doe");
    fake.add_user("U2", "", "Sam Roe");
    fake.add_user("U3", " ", "");

    assert_eq!(api.person("U1").await.unwrap().name, "alex");
    assert_eq!(api.person("U2").await.unwrap().name, "Sam Roe");
    assert_eq!(api.person("U3").await.unwrap().name, "u3");

    let calls = fake.calls_to("users.info");
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].params["user"], "U1");
    assert_eq!(calls[0].auth.as_deref(), Some("Bearer xoxb-test-token"));
}

#[tokio::test]
async fn user_names_are_fetched_once_and_the_cache_is_shared_by_clones() {
    let (fake, api) = setup().await;
    fake.add_user("U1", "alex", "Alex Doe");

    assert_eq!(api.person("U1").await.unwrap().name, "alex");
    assert_eq!(api.person("U1").await.unwrap().name, "alex");
    assert_eq!(api.clone().person("U1").await.unwrap().name, "alex");

    assert_eq!(fake.calls_to("users.info").len(), 1);
}

#[tokio::test]
async fn an_unknown_user_is_a_permanent_error_and_is_not_cached() {
    let (fake, api) = setup().await;

    let error = api.person("U404").await.unwrap_err();
    assert!(
        matches!(&error, ApiError::Permanent { error, .. } if error == "user_not_found"),
        "{error:?}"
    );
    fake.add_user("U404", "late", "Late Joiner");
    assert_eq!(api.person("U404").await.unwrap().name, "late");
}

#[tokio::test]
async fn a_users_time_zone_is_read_when_slack_names_one_it_knows() {
    let (fake, api) = setup().await;
    fake.add_user("U1", "alex", "Alex Doe");
    fake.set_zone("U1", "America/Los_Angeles", "Pacific Standard Time", -28800);
    fake.add_user("U2", "sam", "Sam Roe");
    fake.set_zone("U2", "Mars/Olympus_Mons", "Mars Time", 0);
    fake.add_user("U3", "kim", "Kim Poe");

    assert_eq!(
        api.person("U1").await.unwrap().zone,
        Some(chrono_tz::America::Los_Angeles)
    );
    assert_eq!(api.person("U2").await.unwrap().zone, None, "not a zone");
    assert_eq!(api.person("U3").await.unwrap().zone, None, "no tz field");
}

#[tokio::test]
async fn a_top_level_message_comes_from_history_alone() {
    let (fake, api) = setup().await;
    fake.add_message("C1", "1700000100.000100", "U1", "older");
    fake.add_message("C1", "1700000200.000200", "U1", "checkout is 5xx-ing");
    fake.add_message("C1", "1700000300.000300", "U2", "newer");

    let found = api.message("C1", "1700000200.000200").await.unwrap();

    assert_eq!(
        found,
        Some(FetchedMessage {
            ts: "1700000200.000200".into(),
            user: Some("U1".into()),
            bot_id: None,
            text: "checkout is 5xx-ing".into(),
            thread_ts: None,
        })
    );
    let history = fake.calls_to("conversations.history");
    assert_eq!(history.len(), 1);
    let params = &history[0].params;
    assert_eq!(params["channel"], "C1");
    assert_eq!(params["latest"], "1700000200.000200");
    assert_eq!(params["inclusive"], "true");
    assert_eq!(params["limit"], "1");
    assert!(fake.calls_to("conversations.replies").is_empty());
}

#[tokio::test]
async fn a_thread_reply_is_found_through_replies_after_history_misses_it() {
    let (fake, api) = setup().await;
    fake.add_message("C1", "1700000100.000100", "U1", "declaring an incident");
    fake.add_reply(
        "C1",
        "1700000100.000100",
        "1700000150.000150",
        "U2",
        "rolled back",
    );
    fake.add_reply(
        "C1",
        "1700000100.000100",
        "1700000160.000160",
        "U1",
        "thanks",
    );

    let found = api
        .message("C1", "1700000150.000150")
        .await
        .unwrap()
        .expect("the reply");

    assert_eq!(found.text, "rolled back");
    assert_eq!(found.user.as_deref(), Some("U2"));
    assert_eq!(found.thread_ts.as_deref(), Some("1700000100.000100"));
    let replies = fake.calls_to("conversations.replies");
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].params["channel"], "C1");
    assert_eq!(replies[0].params["ts"], "1700000150.000150");
}

#[tokio::test]
async fn a_message_slack_does_not_have_is_none() {
    let (fake, api) = setup().await;
    fake.add_message("C1", "1700000100.000100", "U1", "only message");

    assert_eq!(api.message("C1", "1700000999.000999").await.unwrap(), None);
    assert_eq!(api.message("C2", "1700000100.000100").await.unwrap(), None);
    assert_eq!(fake.calls_to("conversations.replies").len(), 2);
}

#[tokio::test]
async fn upload_file_reserves_sends_the_bytes_and_completes_in_the_channel() {
    let (fake, api) = setup().await;
    // Not UTF-8, and longer than one network write.
    let content: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 256) as u8).collect();

    let file_id = api
        .upload_file(
            "C1",
            "postmortem.md",
            "Postmortem: checkout 5xx",
            &content,
            "Draft is ready",
        )
        .await
        .unwrap();

    assert_eq!(
        fake.uploads(),
        vec![("postmortem.md".to_owned(), content.clone())]
    );

    let reserve = fake.calls_to("files.getUploadURLExternal");
    assert_eq!(reserve.len(), 1);
    assert_eq!(reserve[0].params["filename"], "postmortem.md");
    assert_eq!(reserve[0].params["length"], content.len().to_string());

    let upload = fake.calls_to(UPLOAD);
    assert_eq!(upload.len(), 1);
    assert_eq!(upload[0].params["file_id"], file_id);
    assert_eq!(upload[0].auth, None, "the upload URL is its own credential");

    let complete = fake.calls_to("files.completeUploadExternal");
    assert_eq!(complete.len(), 1);
    let params = &complete[0].params;
    let files: Value =
        serde_json::from_str(params["files"].as_str().expect("files as a JSON string")).unwrap();
    assert_eq!(
        files,
        json!([{ "id": file_id, "title": "Postmortem: checkout 5xx" }])
    );
    assert_eq!(params["channel_id"], "C1");
    assert_eq!(params["initial_comment"], "Draft is ready");
    assert_eq!(complete[0].auth.as_deref(), Some("Bearer xoxb-test-token"));
}

#[tokio::test]
async fn an_upload_step_that_fails_once_is_retried() {
    let (fake, api) = setup().await;
    fake.rate_limit_next(UPLOAD, 0);

    api.upload_file("C1", "a.txt", "A", b"hello", "")
        .await
        .unwrap();

    assert_eq!(fake.calls_to(UPLOAD).len(), 2);
    assert_eq!(
        fake.uploads(),
        vec![("a.txt".to_owned(), b"hello".to_vec())]
    );
    let complete = fake.calls_to("files.completeUploadExternal");
    assert!(complete[0].params.get("initial_comment").is_none());
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after() {
    let (fake, api) = setup().await;
    fake.rate_limit_next("chat.postMessage", 1);

    let started = Instant::now();
    api.post_message("C1", "status update").await.unwrap();
    let elapsed = started.elapsed();

    assert!(
        elapsed >= Duration::from_secs(1),
        "retried after {elapsed:?}"
    );
    assert_eq!(fake.calls_to("chat.postMessage").len(), 2);
    assert_eq!(
        fake.wait_for("chat.postMessage", 1, Duration::from_secs(1))
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_refusal_is_permanent_with_slacks_code_and_is_not_retried() {
    let (fake, api) = setup().await;
    fake.fail_next("chat.postMessage", "channel_not_found");

    let error = api.post_message("C404", "hello").await.unwrap_err();

    assert!(
        matches!(&error, ApiError::Permanent { method, error } if *method == "chat.postMessage" && error == "channel_not_found"),
        "{error:?}"
    );
    assert!(matches!(JobError::from(error), JobError::Permanent(_)));
    assert_eq!(fake.calls_to("chat.postMessage").len(), 1);
}

#[tokio::test]
async fn slacks_own_trouble_codes_are_retried() {
    let (fake, api) = setup().await;
    fake.fail_next("chat.postMessage", "internal_error");

    api.post_message("C1", "hello").await.unwrap();

    assert_eq!(fake.calls_to("chat.postMessage").len(), 2);
}

#[tokio::test]
async fn an_outage_is_transient_after_three_attempts_and_recovers() {
    let (fake, api) = setup().await;
    fake.set_outage(true);

    let error = api.post_message("C1", "hello").await.unwrap_err();

    assert!(
        matches!(&error, ApiError::Transient { method, .. } if *method == "chat.postMessage"),
        "{error:?}"
    );
    assert!(matches!(JobError::from(error), JobError::Transient(_)));
    assert_eq!(fake.calls_to("chat.postMessage").len(), 3);

    fake.set_outage(false);
    api.post_message("C1", "hello again").await.unwrap();
    assert_eq!(fake.calls_to("chat.postMessage").len(), 4);
}

#[tokio::test]
async fn a_missing_token_is_refused_as_not_authed() {
    let fake = FakeSlack::start().await;

    let error = client(&fake, "")
        .post_message("C1", "hello")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ApiError::Permanent { error, .. } if error == "not_authed"),
        "{error:?}"
    );
    assert_eq!(fake.calls_to("chat.postMessage").len(), 1);

    // Nor does the fake take a request with no Authorization header at all.
    let raw: Value = reqwest::Client::new()
        .post(format!("{}users.info", fake.api_base()))
        .form(&[("user", "U1")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw, json!({ "ok": false, "error": "not_authed" }));
    assert_eq!(fake.calls_to("users.info")[0].auth, None);
}

#[tokio::test]
async fn create_channel_and_invite() {
    let (fake, api) = setup().await;

    let id = api.create_channel("inc-2024-03-09-checkout").await.unwrap();
    assert!(id.starts_with('C'), "{id}");
    assert_eq!(
        fake.calls_to("conversations.create")[0].params["name"],
        "inc-2024-03-09-checkout"
    );

    api.invite(&id, "U1").await.unwrap();
    let invite = &fake.calls_to("conversations.invite")[0];
    assert_eq!(invite.params["channel"], id.as_str());
    assert_eq!(invite.params["users"], "U1");
    // Inviting someone already there is not an error.
    api.invite(&id, "U1").await.unwrap();

    let taken = api
        .create_channel("inc-2024-03-09-checkout")
        .await
        .unwrap_err();
    assert!(
        matches!(&taken, ApiError::Permanent { error, .. } if error == "name_taken"),
        "{taken:?}"
    );
    let nowhere = api.invite("C404", "U1").await.unwrap_err();
    assert!(
        matches!(&nowhere, ApiError::Permanent { error, .. } if error == "channel_not_found"),
        "{nowhere:?}"
    );
}
