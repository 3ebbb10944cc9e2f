//! The web workspace over HTTP on loopback: sign-in links that work once, sessions, CSRF, the
//! security headers, workspaces that see only their own incidents, every edit as an event that
//! chat, the API and the draft agree with, and a live page that hears of new events.

mod common;

use std::time::Duration;

use common::fake_slack::FakeSlack;
use common::server::{API_TOKEN, Server};
use common::{Sandbox, files_under, success};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use scribe::storage::Store;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The path of a sign-in link (`/login/<token>`), wherever the link points.
fn login_path(text: &str) -> String {
    let start = text
        .find("/login/")
        .unwrap_or_else(|| panic!("no link in {text}"));
    text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}

/// Opens a sign-in link; returns the session cookie (`name=value`) it set.
async fn sign_in(server: &Server, path: &str) -> String {
    let response = http()
        .get(format!("{}{path}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
    assert_eq!(response.headers()[LOCATION], "/");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    cookie.split(';').next().unwrap().to_string()
}

async fn page(server: &Server, cookie: &str, path: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", server.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// A page's HTML with the slashes the escaping writes as `&#x2f;` put back, to search in.
fn readable(html: &str) -> String {
    html.replace("&#x2f;", "/")
}

/// The CSRF token of a signed-in page.
fn csrf(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

async fn post(
    server: &Server,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    http()
        .post(format!("{}{path}", server.base))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn api_incident(server: &Server, id: &str) -> Value {
    let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    let response = http()
        .get(format!("{}/api/incidents/{encoded}", server.base))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn href(id: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/incidents/{encoded}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_console_person_signs_in_once_and_every_edit_is_an_event() {
    let sandbox = Sandbox::new();
    let session = "\
/incident start Checkout <script>alert(1)</script> {{ 7*7 }}
/timeline first entry
the replica is lagging
/incident factor retries amplified load
";
    tokio::task::block_in_place(|| {
        success(&sandbox.run_with_input(&["console", "--as", "Ana"], session))
    });
    let link = tokio::task::block_in_place(|| success(&sandbox.run(&["link", "--as", "Ana"])));
    assert!(link.starts_with("http://127.0.0.1:8080/login/"), "{link}");
    let server = Server::start_with(
        &sandbox,
        &[
            ("SCRIBE__PUBLISH__TARGETS", r#"["files"]"#),
            ("SCRIBE__PUBLISH__FILES__DIR", "published"),
        ],
    );

    // Signed out: every page sends people to the sign-in page.
    let response = page(&server, "", "/").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/signin");
    let signin = readable(&page(&server, "", "/signin").await.text().await.unwrap());
    assert!(signin.contains("/incident web"), "{signin}");

    // A link works once; a used, forged or unknown one gets a page saying so, and no cookie.
    let path = login_path(&link);
    let cookie = sign_in(&server, &path).await;
    for path in [
        path.clone(),
        "/login/feedbeef".to_string(),
        format!("/login/{}", "f".repeat(4000)),
    ] {
        let response = page(&server, "", &path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(response.headers().get(SET_COOKIE).is_none());
        let text = readable(&response.text().await.unwrap());
        assert!(text.contains("/incident web"), "{text}");
    }

    // The list, with the hostile title as text and the security headers.
    let response = page(&server, &cookie, "/").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let csp = headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let list = readable(&response.text().await.unwrap());
    assert!(
        list.contains("&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}"),
        "{list}"
    );
    assert!(
        !list.contains("<script>alert") && !list.contains(" 49"),
        "{list}"
    );

    let incidents = server.incidents().await;
    assert_eq!(incidents.len(), 1);
    let id = incidents[0]["id"].as_str().unwrap().to_string();
    let base = href(&id);
    let html = readable(&page(&server, &cookie, &base).await.text().await.unwrap());
    assert!(html.contains("first entry") && html.contains("the replica is lagging"));
    assert!(
        html.contains("<svg class=\"axis\""),
        "the time axis is drawn"
    );
    let token = csrf(&html);

    // A form without the page's CSRF token changes nothing.
    let before = api_incident(&server, &id).await;
    for form in [
        vec![("csrf", "forged"), ("op", "remove"), ("n", "2")],
        vec![("op", "remove"), ("n", "2")],
    ] {
        let response = post(&server, &cookie, &format!("{base}/timeline"), &form).await;
        assert!(response.status().is_client_error(), "{form:?}");
    }
    assert_eq!(api_incident(&server, &id).await, before);

    // Every form, as the signed-in person.
    let message = server
        .app
        .store()
        .channel_events(&scribe::adapters::console::channel("console"))
        .await
        .unwrap()
        .into_iter()
        .find(|e| matches!(&e.kind, scribe::domain::EventKind::Posted { text, .. } if text == "the replica is lagging"))
        .unwrap()
        .message;
    let edits: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "facts",
            vec![("field", "title"), ("value", "Checkout down")],
        ),
        ("facts", vec![("field", "severity"), ("value", "sev2")]),
        ("facts", vec![("field", "lead"), ("value", "Bo")]),
        (
            "facts",
            vec![("field", "summary"), ("value", "A retry storm.")],
        ),
        (
            "timeline",
            vec![("op", "add"), ("text", "added on the web"), ("time", "")],
        ),
        (
            "timeline",
            vec![("op", "edit"), ("n", "2"), ("text", "first entry, edited")],
        ),
        (
            "timeline",
            vec![("op", "move"), ("n", "2"), ("time", "00:00")],
        ),
        ("timeline", vec![("op", "remove"), ("n", "1")]),
        ("pin", vec![("message", message.as_str())]),
        (
            "story",
            vec![
                ("list", "factor"),
                ("op", "add"),
                ("text", "no alert on queue age"),
            ],
        ),
        (
            "story",
            vec![("list", "factor"), ("op", "remove"), ("n", "1")],
        ),
        (
            "story",
            vec![("list", "worked"), ("op", "add"), ("text", "the rollback")],
        ),
        (
            "actions",
            vec![
                ("op", "add"),
                ("text", "alert on queue age"),
                ("owner", "@Bo"),
                ("horizon", "long"),
                ("due", "2030-01-31"),
            ],
        ),
        (
            "actions",
            vec![
                ("op", "edit"),
                ("n", "1"),
                ("text", "alert on queue age and lag"),
                ("owner", ""),
                ("due", ""),
            ],
        ),
        ("actions", vec![("op", "done"), ("n", "1")]),
        (
            "references",
            vec![
                ("label", "dashboard"),
                ("text", "https://grafana.example/d/1"),
            ],
        ),
        ("publish", vec![]),
    ];
    for (route, mut form) in edits {
        form.push(("csrf", &token));
        let response = post(&server, &cookie, &format!("{base}/{route}"), &form).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{route} {form:?}");
        let back = response.headers()[LOCATION].to_str().unwrap().to_string();
        assert!(back.starts_with(&base), "{back}");
    }
    // A number that does not exist is answered on the page and changes nothing.
    let response = post(
        &server,
        &cookie,
        &format!("{base}/timeline"),
        &[("csrf", &token), ("op", "remove"), ("n", "99")],
    )
    .await;
    let back = response.headers()[LOCATION].to_str().unwrap().to_string();
    let said = readable(&page(&server, &cookie, &back).await.text().await.unwrap());
    assert!(said.contains("There is no timeline entry #99"), "{said}");

    server.settled().await;
    let incident = api_incident(&server, &id).await;
    assert_eq!(incident["title"], "Checkout down");
    assert_eq!(incident["severity"], "sev2");
    assert_eq!(incident["lead"], "Bo");
    assert_eq!(incident["summary"], "A retry storm.");
    let entry = |n: u64| {
        incident["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["n"] == n)
            .unwrap_or_else(|| panic!("no entry {n}: {incident:#}"))
            .clone()
    };
    assert_eq!(entry(1)["hidden"], true);
    assert_eq!(entry(2)["text"], "first entry, edited");
    assert_eq!(entry(2)["original_text"], "first entry");
    assert!(!entry(2)["original_at"].is_null(), "moved");
    assert_eq!(entry(2)["edited_by"], "Ana");
    let texts: Vec<&str> = incident["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"added on the web"), "{texts:?}");
    assert!(
        texts.contains(&"the replica is lagging"),
        "added to the timeline: {texts:?}"
    );
    assert_eq!(incident["factors"][0]["hidden"], true);
    assert_eq!(incident["factors"][1]["text"], "no alert on queue age");
    assert_eq!(incident["worked"][0]["author"], "Ana");
    assert_eq!(incident["worked"][0]["text"], "the rollback");
    assert_eq!(incident["actions"][0]["text"], "alert on queue age and lag");
    assert_eq!(incident["actions"][0]["owner"], "Bo");
    assert_eq!(incident["actions"][0]["due"], "2030-01-31");
    assert_eq!(incident["actions"][0]["horizon"], "long");
    assert_eq!(incident["actions"][0]["done"], true);
    assert_eq!(incident["references"][0]["label"], "dashboard");

    // The published file holds the changes, as the chat's draft does.
    let published = files_under(&sandbox.path().join("published"))
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !published.is_empty(),
        "nothing published: {incident:#}\n{}",
        server.log()
    );
    for fact in [
        "Checkout down",
        "no alert on queue age",
        "first entry, edited",
        "https://grafana.example/d/1",
    ] {
        assert!(
            published.contains(fact),
            "the published draft lacks {fact:?}:\n{published}"
        );
    }
    assert!(
        !published.contains("retries amplified load"),
        "hidden factor:\n{published}"
    );

    // The download is the same draft.
    let download = page(&server, &cookie, &format!("{base}/postmortem.md")).await;
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert!(download.text().await.unwrap().contains("## Timeline"));

    // A later incident in the channel leaves the first one open to its postmortem.
    let response = post(
        &server,
        &cookie,
        &format!("{base}/facts"),
        &[("csrf", &token), ("field", "close")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let start = scribe::domain::ChatEvent {
        channel: scribe::adapters::console::channel("console"),
        message: scribe::domain::MessageId::new("second-start"),
        at: chrono::Utc::now(),
        kind: scribe::domain::EventKind::Posted {
            author: scribe::domain::Author::human("Bo", "Bo"),
            text: "/incident start The next fire".into(),
            thread: None,
        },
    };
    server.app.record(&start).await.unwrap();
    let response = post(
        &server,
        &cookie,
        &format!("{base}/story"),
        &[
            ("csrf", &token),
            ("list", "improve"),
            ("op", "add"),
            ("text", "written after the next fire began"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let first = api_incident(&server, &id).await;
    assert_eq!(
        first["improve"][0]["text"],
        "written after the next fire began"
    );
    let second = server
        .incidents()
        .await
        .into_iter()
        .find(|i| i["title"] == "The next fire")
        .unwrap();
    assert!(
        second["improve"].as_array().unwrap().is_empty(),
        "{second:#}"
    );

    // The postmortem's owner, due date and state, from the page's forms.
    let html = page(&server, &cookie, &base).await.text().await.unwrap();
    assert!(
        readable(&html).contains("Postmortem: <span class=\"pm pm-draft\">draft</span> · owner Bo"),
        "{html}"
    );
    for (field, value) in [
        ("postmortem_owner", "@Cy"),
        ("postmortem_due", "2030-01-15"),
        ("postmortem_review", ""),
    ] {
        let form = [("csrf", token.as_str()), ("field", field), ("value", value)];
        let response = post(&server, &cookie, &format!("{base}/facts"), &form).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{field}");
    }
    let bad = [
        ("csrf", token.as_str()),
        ("field", "postmortem_due"),
        ("value", "2030-02-30"),
    ];
    post(&server, &cookie, &format!("{base}/facts"), &bad).await;
    let first = api_incident(&server, &id).await;
    assert_eq!(
        first["postmortem"],
        serde_json::json!({"owner": "Cy", "due": "2030-01-15", "state": "in_review", "pull_request": null})
    );
    let html = page(&server, &cookie, &base).await.text().await.unwrap();
    assert!(html.contains("Mark the postmortem published"), "{html}");
    let form = [("csrf", token.as_str()), ("field", "postmortem_published")];
    post(&server, &cookie, &format!("{base}/facts"), &form).await;
    let list = page(&server, &cookie, "/").await.text().await.unwrap();
    assert!(
        readable(&list).contains("<span class=\"pm pm-published\">published</span> <span class=\"muted\">Cy · due 2030-01-15</span>"),
        "{list}"
    );

    // The insights of the workspace: a chart with a table beside it, and the CSV.
    let insights = page(&server, &cookie, "/insights").await;
    assert_eq!(insights.status(), StatusCode::OK);
    let html = insights.text().await.unwrap();
    assert!(html.contains("<p>2 incidents (days in UTC).</p>"), "{html}");
    assert!(html.contains("<svg class=\"chart\""), "{html}");
    assert_eq!(html.matches("class=\"bar bar-").count(), 2, "{html}");
    assert!(html.contains("<caption>Incidents per ISO week, by severity. <a href="));
    let csv = page(&server, &cookie, "/insights.csv").await;
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let csv = csv.text().await.unwrap();
    assert!(
        csv.starts_with("severity,incidents,ttr_median_minutes"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(
        readable(&html).contains("/insights.csv?from=&amp;to=&amp;severity=&amp;table=weeks"),
        "{html}"
    );
    let weeks = page(&server, &cookie, "/insights.csv?table=weeks").await;
    assert!(
        weeks.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("insights-weeks.csv")
    );
    assert!(
        weeks
            .text()
            .await
            .unwrap()
            .starts_with("week,sev1,sev2,sev3,sev4,none\n")
    );
    let unknown = page(&server, &cookie, "/insights.csv?table=secrets").await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let none = page(&server, &cookie, "/insights?severity=sev4&from=2000-01-01").await;
    assert!(none.text().await.unwrap().contains("<p>0 incidents"));

    // Signing out ends the session.
    let response = post(&server, &cookie, "/logout", &[("csrf", &token)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page(&server, &cookie, "/").await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn people_see_only_their_own_workspace_and_a_page_hears_of_new_events() {
    let fake = FakeSlack::start().await;
    fake.add_user("U0ANA0001", "Ana", "Ana Lima");
    fake.add_user("U0BO00002", "Bo", "Bo Chen");
    let sandbox = Sandbox::new();
    let api_base = fake.api_base();
    let server = Server::start_with(
        &sandbox,
        &[
            ("SCRIBE__SLACK__API_BASE_URL", &api_base),
            ("SCRIBE__WEB__PUBLIC_URL", "https://scribe.example"),
        ],
    );
    server
        .command_in(
            "T0001",
            "C0ONE",
            "U0ANA0001",
            "/incident",
            "start Queue backlog",
            "t.1",
        )
        .await;
    server
        .command_in(
            "T0002",
            "C0TWO",
            "U0BO00002",
            "/incident",
            "start Other team's fire",
            "t.2",
        )
        .await;
    let answer = server
        .command_in("T0001", "C0ONE", "U0ANA0001", "/incident", "web", "t.3")
        .await;
    assert_eq!(answer["response_type"], "ephemeral", "{answer}");
    let text = answer["text"].as_str().unwrap();
    assert!(text.contains("https://scribe.example/login/"), "{text}");
    // Over https the cookie is Secure.
    let response = http()
        .get(format!("{}{}", server.base, login_path(text)))
        .send()
        .await
        .unwrap();
    let set = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(set.contains("; Secure"), "{set}");
    let ana = set.split(';').next().unwrap().to_string();

    let list = page(&server, &ana, "/").await.text().await.unwrap();
    assert!(
        list.contains("Queue backlog") && !list.contains("Other team"),
        "{list}"
    );
    let incidents = server.incidents().await;
    let id_of = |title: &str| {
        incidents.iter().find(|i| i["title"] == title).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (ours, theirs) = (id_of("Queue backlog"), id_of("Other team's fire"));
    assert_eq!(page(&server, &ana, &href(&theirs)).await.status(), 404);
    assert_eq!(
        page(&server, &ana, &href("console:console:1"))
            .await
            .status(),
        404
    );
    assert_eq!(
        page(&server, &ana, "/incidents/not-an-id").await.status(),
        404
    );
    assert_eq!(page(&server, &ana, &href(&ours)).await.status(), 200);

    // The live stream of our incident hears a command typed in Slack.
    let mut live = http()
        .get(format!("{}{}/live", server.base, href(&ours)))
        .header("cookie", &ana)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    assert!(
        live.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    server
        .command_in(
            "T0001",
            "C0ONE",
            "U0ANA0001",
            "/timeline",
            "consumers restarted",
            "t.4",
        )
        .await;
    let heard = tokio::time::timeout(WAIT, async {
        let mut seen = String::new();
        while let Some(chunk) = live.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: change") {
                return seen;
            }
        }
        seen
    })
    .await
    .expect("the change arrives");
    assert!(heard.contains("event: change"), "{heard}");
    let html = page(&server, &ana, &href(&ours))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("consumers restarted"), "{html}");
}

/// Records `commands` in the console room `room` of `workspace` as Ana would have typed them,
/// each `(minutes after start, text)`.
async fn typed(
    server: &Server,
    workspace: &str,
    room: &str,
    start: chrono::DateTime<chrono::Utc>,
    commands: &[(i64, &str)],
) {
    let channel = scribe::adapters::console::channel(room);
    server
        .app
        .remember_workspace(&channel, workspace)
        .await
        .unwrap();
    for (n, (minutes, text)) in commands.iter().enumerate() {
        let event = scribe::domain::ChatEvent {
            channel: channel.clone(),
            message: scribe::domain::MessageId::new(format!("{room}-{n}")),
            at: start
                + chrono::Duration::minutes(*minutes)
                + chrono::Duration::milliseconds(n as i64),
            kind: scribe::domain::EventKind::Posted {
                author: scribe::domain::Author::human("Ana", "Ana"),
                text: text.to_string(),
                thread: None,
            },
        };
        server.app.record(&event).await.unwrap();
    }
}

fn utc(y: i32, m: u32, d: u32) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

/// Six incidents of the console workspace in March and April 2026 (two postmortems published,
/// one in review, one a draft, one overdue) and one published in another workspace, in May.
async fn a_spring_of_incidents(server: &Server) {
    let closed_later = "/incident postmortem due 2099-01-01";
    typed(
        server,
        "console",
        "a",
        utc(2026, 3, 2),
        &[
            (0, "/incident start Checkout errors --sev sev1"),
            (1, "/incident summary The checkout API returned 503s"),
            (1, "/incident factor retries amplified the load"),
            (1, "/incident action short add a queue alert due 2026-03-20"),
            (30, "/incident resolve"),
            (60, "/incident close"),
            (61, "/incident postmortem published"),
        ],
    )
    .await;
    typed(
        server,
        "console",
        "b",
        utc(2026, 3, 4),
        &[
            (0, "/incident start Search slow --sev sev2"),
            (1, "/incident factor retries amplified the load again"),
            (1, "/incident action now scaled workers"),
            (90, "/incident resolve"),
            (120, "/incident close"),
        ],
    )
    .await;
    typed(
        server,
        "console",
        "c",
        utc(2026, 3, 10),
        &[
            (0, "/incident start Login flaps --sev sev1"),
            (10, "/incident resolve"),
        ],
    )
    .await;
    typed(
        server,
        "console",
        "d",
        utc(2026, 4, 1),
        &[
            (
                0,
                "/incident start Payments <script>alert(1)</script> @everyone --sev sev2",
            ),
            (
                1,
                "/incident summary <img src=x onerror=alert(1)> [run](javascript:alert(2)) @here",
            ),
            (1, "/incident impact card payments failed"),
            (1, "/incident factor retries amplified the load <b>bold</b>"),
            (1, "/incident action short tune retries due 2099-05-01"),
            (45, "/incident resolve"),
            (50, "/incident close"),
            (51, closed_later),
            (52, "/incident postmortem published"),
        ],
    )
    .await;
    typed(
        server,
        "console",
        "e",
        utc(2026, 4, 2),
        &[
            (0, "/incident start Unsorted blip"),
            (5, "/incident close"),
            (6, closed_later),
        ],
    )
    .await;
    typed(
        server,
        "console",
        "f",
        utc(2026, 4, 3),
        &[
            (0, "/incident start Cache stampede --sev sev3"),
            (5, "/incident close"),
            (6, closed_later),
            (7, "/incident postmortem review"),
        ],
    )
    .await;
    typed(
        server,
        "elsewhere",
        "g",
        utc(2026, 5, 4),
        &[
            (0, "/incident start Their checkout outage --sev sev1"),
            (5, "/incident close"),
            (6, "/incident postmortem published"),
        ],
    )
    .await;
    server.settled().await;
}

/// Signs Ana of the console workspace in.
async fn ana(server: &Server) -> String {
    let who = scribe::storage::WebIdentity {
        platform: scribe::domain::Platform::Console,
        workspace: "console".into(),
        person_id: "Ana".into(),
        person_name: "Ana".into(),
    };
    let link = server
        .app
        .web_link(&who)
        .await
        .unwrap()
        .expect("the web is on");
    sign_in(server, &login_path(&link)).await
}

/// How many incidents a list page says it shows.
fn shown(html: &str) -> usize {
    if html.contains("No incidents here yet") {
        return 0;
    }
    let caption = html.split("<caption>").nth(1).expect("a caption");
    caption.split(' ').next().unwrap().parse().expect("a count")
}

#[tokio::test(flavor = "multi_thread")]
async fn published_postmortems_are_a_library_to_read_and_filter() {
    let sandbox = Sandbox::new();
    let server = Server::start_with(&sandbox, &[]);
    a_spring_of_incidents(&server).await;
    let cookie = ana(&server).await;
    let incidents = server.incidents().await;
    let id_of = |start: &str| {
        incidents
            .iter()
            .find(|i| i["title"].as_str().unwrap().starts_with(start))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // Only this workspace's published postmortems, newest first.
    let library = page(&server, &cookie, "/postmortems").await;
    assert_eq!(library.status(), StatusCode::OK);
    let html = readable(&library.text().await.unwrap());
    assert!(
        html.contains("<a href=\"/postmortems\">Postmortems</a>"),
        "{html}"
    );
    assert!(html.contains("2 published postmortems"), "{html}");
    let (payments, checkout) = (
        html.find("Payments").unwrap(),
        html.find("Checkout errors").unwrap(),
    );
    assert!(payments < checkout, "{html}");
    for absent in [
        "Search slow",
        "Login flaps",
        "Cache stampede",
        "Their checkout",
    ] {
        assert!(!html.contains(absent), "{absent}: {html}");
    }
    assert!(
        html.contains(&format!("{}/postmortem\"", href(&id_of("Checkout")))),
        "{html}"
    );
    for (query, titles) in [
        ("severity=sev1", &["Checkout errors"][..]),
        ("q=CHECKOUT+503s", &["Checkout errors"]),
        ("q=payments+card", &["Payments"]),
        ("q=retries", &["Payments", "Checkout errors"]),
        ("from=2026-03-15", &["Payments"]),
        ("to=2026-03-31", &["Checkout errors"]),
        (
            "from=someday&severity=sev9",
            &["Payments", "Checkout errors"],
        ),
        ("q=kafka", &[]),
    ] {
        let html = page(&server, &cookie, &format!("/postmortems?{query}"))
            .await
            .text()
            .await
            .unwrap();
        for title in ["Payments", "Checkout errors"] {
            assert_eq!(
                html.contains(title),
                titles.contains(&title),
                "{query}: {html}"
            );
        }
        if titles.is_empty() {
            assert!(
                html.contains("No published postmortem here that matches"),
                "{html}"
            );
        }
    }

    // A published postmortem reads as a document; any other is not there.
    let checkout = href(&id_of("Checkout"));
    let html = page(&server, &cookie, &format!("{checkout}/postmortem"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<article class=\"postmortem\">\n<h1>"),
        "{html}"
    );
    assert!(html.contains("<h2>Timeline (all times UTC)</h2>"), "{html}");
    assert!(html.contains("The checkout API returned 503s"), "{html}");
    let incident = readable(
        &page(&server, &cookie, &checkout)
            .await
            .text()
            .await
            .unwrap(),
    );
    assert!(
        incident.contains(&format!(
            "<a href=\"{checkout}/postmortem\">read it in the library</a>"
        )),
        "{incident}"
    );
    let search = href(&id_of("Search slow"));
    assert!(
        !readable(&page(&server, &cookie, &search).await.text().await.unwrap())
            .contains("read it in the library")
    );
    for other in [
        search,
        href(&id_of("Their checkout")),
        "/incidents/nonsense".into(),
    ] {
        let response = page(&server, &cookie, &format!("{other}/postmortem")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{other}");
    }
    assert_eq!(
        page(&server, "", "/postmortems").await.status(),
        StatusCode::SEE_OTHER
    );

    // Hostile text is shown as text: no tag, no script link, no mass mention.
    let payments = href(&id_of("Payments"));
    let html = page(&server, &cookie, &format!("{payments}/postmortem"))
        .await
        .text()
        .await
        .unwrap();
    let article = html.split("<article").nth(1).unwrap();
    for raw in [
        "<script",
        "<img",
        "<b>",
        "href=\"javascript",
        "@everyone",
        "@here",
    ] {
        assert!(!article.contains(raw), "{raw}: {article}");
    }
    assert!(
        article.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{article}"
    );
    assert!(article.contains("@\u{200b}everyone"), "{article}");
    let library = page(&server, &cookie, "/postmortems")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !library.contains("<script>alert") && !library.contains("<img src"),
        "{library}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_insights_figure_links_to_as_many_incidents_as_it_counts() {
    let sandbox = Sandbox::new();
    let server = Server::start_with(&sandbox, &[]);
    a_spring_of_incidents(&server).await;
    let cookie = ana(&server).await;
    let dates = "from=2026-03-01&to=2026-04-30";
    let html = page(&server, &cookie, &format!("/insights?{dates}"))
        .await
        .text()
        .await
        .unwrap();
    let html = readable(&html).replace("&amp;", "&");
    let figures: Value = server
        .api(&format!("/api/insights?{dates}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(figures["incidents"], 6, "{figures}");
    let drill = format!("/?{dates}&severity=");
    let week = |w: &Value| {
        ["sev1", "sev2", "sev3", "sev4", "none"]
            .iter()
            .map(|s| w[s].as_u64().unwrap())
            .sum::<u64>()
    };
    let count = |v: &Value| v.as_u64().unwrap() as usize;
    let mut links: Vec<(String, usize)> = Vec::new();
    for w in figures["per_week"].as_array().unwrap() {
        let name = w["week"].as_str().unwrap();
        links.push((format!("{drill}&week={name}"), week(w) as usize));
        if w["sev1"].as_u64().unwrap() > 0 {
            links.push((
                format!("/?{dates}&severity=sev1&week={name}"),
                count(&w["sev1"]),
            ));
        }
    }
    for m in figures["by_month"].as_array().unwrap() {
        let name = m["month"].as_str().unwrap();
        links.push((format!("{drill}&month={name}"), count(&m["count"])));
    }
    for (state, n) in figures["postmortems"].as_object().unwrap() {
        links.push((format!("{drill}&postmortem={state}"), count(n)));
    }
    for (state, n) in figures["action_incidents"].as_object().unwrap() {
        links.push((format!("{drill}&actions={state}"), count(n)));
    }
    for p in figures["factors"].as_array().unwrap() {
        let phrase = p["phrase"].as_str().unwrap().replace(' ', "+");
        links.push((format!("{drill}&factor={phrase}"), count(&p["count"])));
    }
    for l in figures["load"].as_array().unwrap() {
        let month = l["month"].as_str().unwrap();
        links.push((
            format!("{drill}&month={month}"),
            count(
                &figures["by_month"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["month"] == month)
                    .unwrap()["count"],
            ),
        ));
        for p in l["by_person"].as_array().unwrap() {
            let name: String =
                url::form_urlencoded::byte_serialize(p["name"].as_str().unwrap().as_bytes())
                    .collect();
            links.push((
                format!("{drill}&month={month}&person={name}"),
                count(&p["incidents"]),
            ));
        }
    }
    assert_eq!(
        figures["load"][0]["by_person"][0]["name"], "Ana",
        "{figures}"
    );
    links.push((
        format!("/?{dates}&severity=sev2"),
        count(&figures["by_severity"]["sev2"]["count"]),
    ));
    // The spring as built: each kind of figure is here, and not all are zero.
    assert_eq!(figures["postmortems"]["published"], 2, "{figures}");
    assert_eq!(figures["postmortems"]["in_review"], 1, "{figures}");
    assert_eq!(figures["action_incidents"]["open"], 2, "{figures}");
    assert_eq!(
        figures["factors"][0]["phrase"], "retries amplified the load",
        "{figures}"
    );
    assert_eq!(figures["factors"][0]["count"], 3, "{figures}");
    assert!(links.len() >= 16, "{links:?}");
    for (link, expected) in &links {
        assert!(
            html.contains(&format!("href=\"{link}\"")),
            "{link} not on {html}"
        );
        let list = page(&server, &cookie, link).await;
        assert_eq!(list.status(), StatusCode::OK);
        let list = list.text().await.unwrap();
        assert_eq!(shown(&list), *expected, "{link}: {list}");
    }
    // Time to resolve as charts labelled for screen readers, each bar titled with its figure.
    for id in ["ttr-severity", "ttr-month"] {
        assert!(
            html.contains(&format!("role=\"img\" aria-labelledby=\"{id}\"")),
            "{html}"
        );
    }
    for (key, f) in figures["by_severity"].as_object().unwrap() {
        if let Some(m) = f["ttr_median_minutes"].as_i64() {
            let title = format!("<title>{key}: median {m} min</title>");
            assert!(html.contains(&title), "{title} not on {html}");
        }
    }
    for f in figures["by_month"].as_array().unwrap() {
        let p90 = f["ttr_p90_minutes"].as_i64().unwrap();
        let title = format!(
            "<title>{}: 90th percentile {p90} min</title>",
            f["month"].as_str().unwrap()
        );
        assert!(html.contains(&title), "{title} not on {html}");
    }
    assert!(
        html.contains("<title>sev3: none resolved</title>"),
        "{html}"
    );
    // The week's bars in the chart link too.
    assert!(
        html.contains(
            "<a href=\"/?from=2026-03-01&to=2026-04-30&severity=sev1&week=2026-W10\"><rect"
        ),
        "{html}"
    );

    // A filter that does not read is left out and shown as typed.
    let list = page(
        &server,
        &cookie,
        "/?week=2026-W99&month=soon&postmortem=lost&actions=some",
    )
    .await;
    let list = list.text().await.unwrap();
    assert_eq!(shown(&list), 6, "{list}");
    assert!(
        list.contains("value=\"2026-W99\"") && list.contains("value=\"soon\""),
        "{list}"
    );
}

/// `/search` finds the workspace's incidents by their words, marks the match and escapes
/// everything; `/api/search` answers the same for every workspace; an incident's page and
/// JSON list the closed incidents like it.
#[tokio::test]
async fn search_finds_by_words_and_an_incident_names_the_ones_like_it() {
    let sandbox = Sandbox::new();
    let server = Server::start_with(&sandbox, &[]);
    typed(
        &server,
        "console",
        "s1",
        utc(2026, 2, 2),
        &[
            (
                0,
                "/incident start <script>alert(1)</script> checkout outage --sev sev2",
            ),
            (
                5,
                "/incident factor connection pool exhausted <b>bold</b> @everyone",
            ),
            (30, "/incident resolve"),
            (40, "/incident close"),
        ],
    )
    .await;
    typed(
        &server,
        "other",
        "s2",
        utc(2026, 2, 3),
        &[
            (0, "/incident start Checkout pool drained elsewhere"),
            (9, "/incident close"),
        ],
    )
    .await;
    typed(
        &server,
        "console",
        "s3",
        utc(2026, 2, 9),
        &[(0, "/incident start checkout pool trouble again")],
    )
    .await;
    let cookie = ana(&server).await;
    let html = page(&server, &cookie, "/search?q=pool+%22exhausted+(")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<mark>pool</mark>") && html.contains("<mark>exhausted</mark>"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; checkout outage"),
        "{html}"
    );
    assert!(
        !html.contains("<script>alert") && !html.contains("<b>bold"),
        "{html}"
    );
    assert!(
        !html.contains("elsewhere"),
        "another workspace's incident: {html}"
    );
    assert!(
        html.contains("SEV2") && html.contains("2026-02-02 10:00 UTC"),
        "{html}"
    );
    let none = page(&server, &cookie, "/search?q=%22%22%22").await;
    assert_eq!(none.status(), 200);
    assert!(!none.text().await.unwrap().contains("<li>"));

    let api = |query: &'static str| {
        let base = server.base.clone();
        async move {
            http()
                .get(format!("{base}/api/search?{query}"))
                .bearer_auth(API_TOKEN)
                .send()
                .await
                .unwrap()
        }
    };
    let found: Value = api("q=checkout+pool&limit=5").await.json().await.unwrap();
    let results = found["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{found}");
    for result in results {
        for field in ["id", "title", "severity", "started_at", "snippet", "score"] {
            assert!(result.get(field).is_some(), "{field} in {result}");
        }
    }
    let titles: Vec<&str> = results
        .iter()
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"Checkout pool drained elsewhere"),
        "{titles:?}"
    );
    let scores: Vec<f64> = results
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {scores:?}"
    );
    let one: Value = api("q=exhausted").await.json().await.unwrap();
    assert_eq!(one["results"].as_array().unwrap().len(), 1, "{one}");
    assert!(
        one["results"][0]["snippet"]
            .as_str()
            .unwrap()
            .contains("**exhausted**"),
        "{one}"
    );
    assert_eq!(one["results"][0]["severity"], "sev2");
    for bad in [
        "q=",
        "q=%28%22",
        "q=pool&limit=0",
        "q=pool&limit=51",
        "q=pool&limit=x",
    ] {
        assert_eq!(api(bad).await.status(), 400, "{bad}");
    }
    let hostile: Value = api("q=NEAR%28pool+OR+%22x%22%29+AND+-checkout*")
        .await
        .json()
        .await
        .unwrap();
    assert!(hostile["results"].is_array(), "{hostile}");
    let unauthorized = http()
        .get(format!("{}/api/search?q=pool", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);

    // The open incident is like the closed one of its workspace, not like the other's.
    let open = scribe::adapters::console::channel("s3");
    let incident = &server.app.history(&open).await.unwrap().incidents[0];
    let json = api_incident(&server, &incident.id().to_string()).await;
    let similar = json["similar"].as_array().unwrap();
    assert_eq!(similar.len(), 1, "{json}");
    assert_eq!(
        similar[0]["title"],
        "<script>alert(1)</script> checkout outage"
    );
    assert_eq!(similar[0]["severity"], "sev2");
    assert_eq!(similar[0]["duration_minutes"], 30);
    let html = page(&server, &cookie, &href(&incident.id().to_string()))
        .await
        .text()
        .await
        .unwrap();
    let section = html.split("id=\"similar\"").nth(1).unwrap();
    assert!(
        section.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; checkout outage</a>"),
        "{section}"
    );
}
