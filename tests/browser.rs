//! The web workspace in a real browser: Debian's Chromium, headless, driven over WebDriver
//! against the real server on loopback, with the incident made through the Slack path. Two
//! people sign in with their `/incident web` links, curate the timeline and the story with the
//! page's own forms, see chat and each other's changes arrive without a reload, and publish;
//! the published file holds every change, and chat's injection text stays text throughout.
//!
//! Screenshots of the list and the incident page go to the directory `SCRIBE_SCREENSHOTS`
//! names (README's are made with `SCRIBE_SCREENSHOTS=docs/screenshots`), else to a temp dir.

#[path = "common/browser.rs"]
mod chrome;
mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrome::Browser;
use common::Sandbox;
use common::fake_slack::FakeSlack;
use common::server::{Clock, Server};
use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::{Value, json};

const CHANNEL: &str = "C0CHECKOUT";
/// A second incident of the same workspace, as a team would write one: the screenshots'.
const PAYMENTS: &str = "C0PAYMENTS";
const ANA: &str = "U0ANA0001";
const BO: &str = "U0BO00002";
const TITLE: &str = "Checkout 5xx <script>alert(1)</script> {{ 7*7 }}";
const JS_LINK: &str = "runbook: [click here](javascript:alert(1))";

/// Text as Slack sends it in a payload: `&`, `<` and `>` escaped.
fn slack_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn message(channel: &str, user: &str, text: &str, ts: &str) -> Value {
    json!({"type": "message", "channel": channel, "user": user, "text": slack_escaped(text),
           "ts": ts, "channel_type": "channel", "event_ts": ts})
}

/// An XPath string literal for `text` (which holds no double quote).
fn literal(text: &str) -> String {
    assert!(!text.contains('"'), "{text}");
    format!("\"{text}\"")
}

/// The timeline entry (shown, not hidden) whose text contains `text`.
fn entry(text: &str) -> String {
    format!(
        "//section[@id='timeline']/ol[@class='entries']/li[contains(@class, 'entry')]\
         [.//span[@class='text'][contains(., {})]]",
        literal(text)
    )
}

/// A button whose label is `label`, under `scope`.
fn button(scope: &str, label: &str) -> String {
    format!("{scope}//button[normalize-space()={}]", literal(label))
}

/// The field a label reading `label` holds, under `scope`.
fn field(scope: &str, label: &str) -> String {
    format!(
        "{scope}//label[contains(normalize-space(), {})]/*[self::input or self::textarea or self::select]",
        literal(label)
    )
}

/// Where the screenshots go: `SCRIBE_SCREENSHOTS`, else the test's own temp dir.
fn screenshots(scratch: &Path) -> PathBuf {
    match std::env::var_os("SCRIBE_SCREENSHOTS").filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => scratch.join("screenshots"),
    }
}

async fn screenshot(browser: &Browser, dir: &Path, name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let png = browser.client().screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    std::fs::write(dir.join(name), png).unwrap();
}

/// The path of the sign-in link `/incident web` answers `user` with in `channel`.
async fn sign_in_link(server: &Server, channel: &str, user: &str, trigger: &str) -> String {
    let answer = server
        .command(channel, user, "/incident", "web", trigger)
        .await;
    assert_eq!(answer["response_type"], "ephemeral", "{answer}");
    let text = answer["text"].as_str().unwrap();
    let start = text
        .find("/login/")
        .unwrap_or_else(|| panic!("no link in {text}"));
    text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '|')
        .collect()
}

/// No alert is open: nothing from chat ran as script.
async fn no_alert(browser: &Browser) {
    if let Ok(text) = browser.client().get_alert_text().await {
        panic!("an alert is open: {text:?}");
    }
}

/// Opens `#entry-N`'s "Change #N" for the entry whose text contains `text`; returns the
/// entry's XPath by id, which stays the entry's after its text or time changes.
async fn open_change(browser: &Browser, text: &str) -> String {
    let item = browser.wait_for(text, &entry(text)).await;
    let id = item.attr("id").await.unwrap().expect("an entry has an id");
    let by_id = format!("//li[@id={}]", literal(&id));
    let summary = browser
        .client()
        .find(Locator::XPath(&format!("{by_id}/details/summary")))
        .await
        .unwrap();
    let n = id.trim_start_matches("entry-");
    assert_eq!(summary.text().await.unwrap(), format!("Change #{n}"));
    summary.click().await.unwrap();
    by_id
}

/// Clicks the button `xpath` finds: a form's normal POST, and the page that comes back.
async fn submit(browser: &Browser, what: &str, xpath: &str) {
    let button = browser.wait_for(what, xpath).await;
    browser.navigates(what, || button.click()).await;
    no_alert(browser).await;
}

/// Types `value` into the (cleared) field `xpath` finds.
async fn type_into(browser: &Browser, xpath: &str, value: &str) {
    let field = browser.wait_for(xpath, xpath).await;
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

/// Marks the page's window: the mark survives a live update and is gone after a reload.
async fn mark_window(browser: &Browser) {
    browser
        .client()
        .execute("window.scribeTestMark = 'kept'", vec![])
        .await
        .unwrap();
}

async fn not_reloaded(browser: &Browser, what: &str) {
    let mark = browser
        .client()
        .execute("return window.scribeTestMark || null", vec![])
        .await
        .unwrap();
    assert_eq!(
        mark, "kept",
        "{what}: the page was reloaded, not updated live"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_people_curate_an_incident_in_chromium_and_publish_it() {
    if !chrome::available() {
        return;
    }
    let began = Instant::now();
    let fake = FakeSlack::start().await;
    fake.add_user(ANA, "Ana", "Ana Lima");
    fake.add_user(BO, "Bo", "Bo Chen");
    let sandbox = Sandbox::new();
    let api_base = fake.api_base();
    let server = Server::start_with(
        &sandbox,
        &[
            ("SCRIBE__SLACK__API_BASE_URL", &api_base),
            ("SCRIBE__PUBLISH__TARGETS", r#"["files"]"#),
            ("SCRIBE__PUBLISH__FILES__DIR", "published"),
        ],
    );
    let mut clock = Clock::default();

    // Through Slack: the hostile incident, entries (one with a javascript: link), chatter.
    let start = format!("start {}", slack_escaped(TITLE));
    server
        .command(CHANNEL, ANA, "/incident", &start, "t.1")
        .await;
    for (user, text, trigger) in [
        (ANA, "checkout-api 4121 deployed to all regions", "t.2"),
        (BO, "checkout error rate at 22%", "t.3"),
        (BO, JS_LINK, "t.4"),
        (ANA, "paged the search team by mistake", "t.5"),
    ] {
        let answer = server
            .command(CHANNEL, user, "/timeline", &slack_escaped(text), trigger)
            .await;
        assert!(
            answer["text"]
                .as_str()
                .unwrap()
                .contains("Added to the timeline"),
            "{answer}"
        );
    }
    let chatter = message(
        CHANNEL,
        BO,
        "rolling back checkout-api to 4120",
        &clock.next(),
    );
    assert_eq!(server.event("Ev01", chatter).await.status(), 200);
    let incidents = server.incidents().await;
    assert!(
        incidents.iter().any(|i| i["title"] == TITLE),
        "the title arrives as typed: {incidents:#?}"
    );

    // A second incident, as a team writes one, for the screenshots.
    let payments_href = payments_incident(&server, &mut clock).await;
    // Chat's own jobs (the headlines) done: from here on, the pages change only when the
    // test makes them.
    server.settled().await;

    // Browser 1, Ana: her link signs her in and shows the list.
    let ana = Browser::start().await;
    let link = sign_in_link(&server, CHANNEL, ANA, "t.web1").await;
    ana.client()
        .goto(&format!("{}{link}", server.base))
        .await
        .unwrap();
    let row = ana
        .wait_for(
            "the hostile incident in the list",
            &format!(
                "//table[@class='incidents']//a[normalize-space()={}]",
                literal(TITLE)
            ),
        )
        .await;
    assert_eq!(
        ana.client().current_url().await.unwrap().path(),
        "/",
        "signed in, at the list"
    );
    ana.wait_for(
        "the payments incident in the list",
        "//table[@class='incidents']//a[normalize-space()='Payments API latency above 2 s']",
    )
    .await;
    no_alert(&ana).await;
    assert!(
        ana.client()
            .find_all(Locator::Css("main script"))
            .await
            .unwrap()
            .is_empty(),
        "no script element came from chat"
    );

    // The keyboard: the first Tab from the start of the page reaches a link or a control.
    first_tab_reaches_a_control(&ana, "the list").await;

    // The incident: the title and the entries are text, nothing ran, no 49.
    ana.navigates("opening the incident", || row.click()).await;
    no_alert(&ana).await;
    let title = ana.wait_for("the title", "//h1[@id='facts-title']").await;
    assert_eq!(title.text().await.unwrap(), TITLE);
    assert_eq!(
        ana.client().title().await.unwrap(),
        format!("{TITLE} · Scribe")
    );
    ana.wait_for(
        "the Slack message in the channel column",
        "//section[@id='messages']//span[@class='text'][.='rolling back checkout-api to 4120']",
    )
    .await;
    let js = ana.wait_for("the javascript: entry", &entry(JS_LINK)).await;
    assert!(js.text().await.unwrap().contains(JS_LINK));
    for (what, css) in [
        ("a script element from chat", "#incident script"),
        ("a javascript: link", "a[href^='javascript:' i]"),
    ] {
        let found = ana.client().find_all(Locator::Css(css)).await.unwrap();
        assert!(found.is_empty(), "{what} on the page");
    }
    let text = ana
        .client()
        .find(Locator::Id("incident"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("{{ 7*7 }}"), "{text}");
    assert!(
        !text.contains("Checkout 5xx 49"),
        "a template was evaluated:\n{text}"
    );
    first_tab_reaches_a_control(&ana, "the incident").await;

    // Hide an entry with "Hide from the draft" in its "Change #N".
    let hidden = "paged the search team by mistake";
    let by_id = open_change(&ana, hidden).await;
    submit(
        &ana,
        "hiding an entry",
        &button(&by_id, "Hide from the draft"),
    )
    .await;
    ana.wait_for(
        "the hidden entry among the hidden ones",
        &format!(
            "//details[@class='hidden-entries']//li[contains(@class, 'entry-hidden')][.//span[@class='text'][contains(., {})]]",
            literal(hidden)
        ),
    )
    .await;
    let shown = ana
        .client()
        .find_all(Locator::XPath(&entry(hidden)))
        .await
        .unwrap();
    assert!(shown.is_empty(), "the hidden entry left the timeline");

    // Move an entry: its time field, then "Move".
    let moved = "checkout error rate at 22%";
    let to = chrono::Utc::now() - chrono::Duration::minutes(47);
    let by_id = open_change(&ana, moved).await;
    let time = format!("{by_id}//form[.//button[normalize-space()='Move']]//input[@name='time']");
    type_into(&ana, &time, &to.format("%Y-%m-%d %H:%M").to_string()).await;
    submit(&ana, "moving an entry", &button(&by_id, "Move")).await;
    let clock_time = to.format("%H:%M").to_string();
    // A draft whose timeline spans two days (the move crossed midnight) dates every entry.
    let drafted_time = if to.date_naive() == chrono::Utc::now().date_naive() {
        format!("**{clock_time}")
    } else {
        format!("**{} {clock_time}", to.format("%Y-%m-%d"))
    };
    let edited = ana
        .wait_for(
            "the moved entry, marked as edited",
            &format!("{}//span[@class='edited']", entry(moved)),
        )
        .await;
    assert!(
        edited.text().await.unwrap().contains("edited by Ana"),
        "{}",
        edited.text().await.unwrap()
    );
    let moved_time = ana
        .client()
        .find(Locator::XPath(&format!("{}/time", entry(moved))))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        moved_time.contains(&clock_time),
        "{moved_time} at {clock_time}"
    );

    // A contributing factor and an action, with the story's forms.
    let factor = "the deploy skipped the canary stage";
    type_into(
        &ana,
        &field("//section[@id='story']", "Add to contributing factors"),
        factor,
    )
    .await;
    submit(
        &ana,
        "adding a factor",
        &format!(
            "{}/ancestor::form//button",
            field("//section[@id='story']", "Add to contributing factors")
        ),
    )
    .await;
    ana.wait_for(
        "the factor",
        &format!(
            "//section[@id='story']//li//span[@class='text'][.={}]",
            literal(factor)
        ),
    )
    .await;
    let action = "require a canary for checkout-api deploys";
    let actions = "//section[@id='actions']";
    type_into(&ana, &field(actions, "Action"), action).await;
    type_into(&ana, &field(actions, "Owner"), "Bo").await;
    ana.wait_for("the horizon", &field(actions, "When"))
        .await
        .select_by_value("long")
        .await
        .unwrap();
    let due = ana.wait_for("the due date", &field(actions, "Due")).await;
    due.send_keys("01312030").await.unwrap();
    assert_eq!(
        due.prop("value").await.unwrap().as_deref(),
        Some("2030-01-31"),
        "the date field took the date as a person types it"
    );
    submit(&ana, "adding an action", &button(actions, "Add action")).await;
    let shown = ana
        .wait_for(
            "the action",
            &format!(
                "{actions}//li[.//span[@class='text'][.={}]]",
                literal(action)
            ),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        shown.contains("@Bo") && shown.contains("due 2030-01-31") && shown.contains("long"),
        "{shown}"
    );

    // A new message in Slack, then a 📌 on it: the open page shows both with no reload.
    mark_window(&ana).await;
    let news = "card payments fell back to the old gateway";
    let ts = clock.next();
    assert_eq!(
        server
            .event("Ev02", message(CHANNEL, BO, news, &ts))
            .await
            .status(),
        200
    );
    ana.wait_for(
        "the new Slack message, live",
        &format!(
            "//section[@id='messages']//li[@class='message']/span[@class='text'][.={}]",
            literal(news)
        ),
    )
    .await;
    let pin = json!({"type": "reaction_added", "user": ANA, "reaction": "pushpin",
        "item_user": BO, "item": {"type": "message", "channel": CHANNEL, "ts": ts},
        "event_ts": clock.next()});
    assert_eq!(server.event("Ev03", pin).await.status(), 200);
    ana.wait_for("the pinned message on the timeline, live", &entry(news))
        .await;
    not_reloaded(&ana, "a Slack message").await;
    let refreshed = ana
        .client()
        .find(Locator::Id("incident"))
        .await
        .unwrap()
        .attr("data-refreshed")
        .await
        .unwrap();
    assert!(refreshed.is_some(), "the page's script swapped #incident");

    // Browser 2, Bo, signed in with his own link: Ana's edits so far, then her next one live.
    let bo = Browser::start().await;
    let link = sign_in_link(&server, CHANNEL, BO, "t.web2").await;
    bo.client()
        .goto(&format!("{}{link}", server.base))
        .await
        .unwrap();
    let row = bo
        .wait_for(
            "the incident in Bo's list",
            &format!(
                "//table[@class='incidents']//a[normalize-space()={}]",
                literal(TITLE)
            ),
        )
        .await;
    bo.navigates("Bo opening the incident", || row.click())
        .await;
    let who = bo
        .wait_for("Bo's name", "//header//span[@class='who']")
        .await;
    assert_eq!(who.text().await.unwrap(), "Bo");
    for what in [factor, action, news] {
        bo.wait_for(
            what,
            &format!(
                "//*[@id='incident']//span[@class='text'][contains(., {})]",
                literal(what)
            ),
        )
        .await;
    }
    mark_window(&bo).await;
    let later = "the old gateway holds the load";
    type_into(
        &ana,
        &field("//section[@id='timeline']", "New entry"),
        later,
    )
    .await;
    submit(
        &ana,
        "adding an entry",
        &button("//section[@id='timeline']", "Add to the timeline"),
    )
    .await;
    ana.wait_for("Ana's new entry", &entry(later)).await;
    bo.wait_for("Ana's new entry in Bo's page, live", &entry(later))
        .await;
    not_reloaded(&bo, "Ana's edit").await;
    no_alert(&bo).await;

    // Bo is typing when the next change comes: his page says so and keeps his words.
    let typing = "Bo was typing this";
    let bo_field = field("//section[@id='timeline']", "New entry");
    bo.wait_for("Bo's new-entry field", &bo_field)
        .await
        .send_keys(typing)
        .await
        .unwrap();

    // Publish: the files target writes the draft with every change.
    submit(
        &ana,
        "publishing",
        &button("//section[@id='draft']", "Publish"),
    )
    .await;
    let note = bo
        .wait_for(
            "the note that someone changed the incident, on Bo's page",
            "//p[@id='live-note'][not(@hidden)]",
        )
        .await;
    let kept = bo
        .client()
        .find(Locator::XPath(&bo_field))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some(typing), "Bo's typing was kept");
    note.find(Locator::XPath(".//a[normalize-space()='Show the changes']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    bo.wait_for(
        "the publish jobs on Bo's page, once he asks for the changes",
        "//section[@id='draft']//ul[@class='jobs']",
    )
    .await;
    bo.wait_for("the note gone", "//p[@id='live-note'][@hidden]")
        .await;
    not_reloaded(&bo, "showing the changes").await;

    // The publish job was stored with the command; the queue settling is its sync point.
    server.settled().await;
    let published = published(&sandbox);
    let body = published
        .split_once("\n---\n")
        .map_or(published.as_str(), |(_, body)| body);
    let action_line = body
        .lines()
        .find(|line| line.contains(action))
        .unwrap_or_else(|| panic!("no action:\n{published}"));
    assert!(
        action_line.contains("@Bo") && action_line.contains("due 2030-01-31"),
        "{action_line}"
    );
    for (what, text) in [
        ("the factor", factor),
        ("the moved entry's new time", &drafted_time),
        ("the pinned message", news),
        ("Ana's entry", later),
        ("the template text, as text", "{{ 7*7 }}"),
        (
            "the title's tags, escaped",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
        ),
        ("the javascript: text, unlinked", "javascript:alert(1)"),
    ] {
        assert!(
            body.contains(text),
            "the published draft lacks {what} ({text:?}):\n{published}"
        );
    }
    let moved_line = body
        .lines()
        .find(|line| line.contains(moved))
        .unwrap_or_else(|| panic!("no moved entry:\n{published}"));
    assert!(moved_line.contains(&drafted_time), "{moved_line}");
    for (what, text) in [
        ("the hidden entry", hidden),
        ("a script tag", "<script>"),
        ("a javascript: link", "](javascript:"),
        ("an evaluated template", "Checkout 5xx 49"),
    ] {
        assert!(
            !body.contains(text),
            "the published draft has {what}:\n{published}"
        );
    }
    let jobs = ana
        .wait_for(
            "the publish jobs",
            "//section[@id='draft']//ul[@class='jobs']",
        )
        .await;
    assert!(!jobs.text().await.unwrap().is_empty());

    // Screenshots for README: the list, and an incident as a team writes one.
    let dir = screenshots(sandbox.path());
    ana.client()
        .goto(&format!("{}/", server.base))
        .await
        .unwrap();
    ana.wait_for("the list", "//table[@class='incidents']")
        .await;
    screenshot(&ana, &dir, "list.png").await;
    ana.client()
        .goto(&format!("{}{payments_href}", server.base))
        .await
        .unwrap();
    ana.wait_for(
        "the payments incident",
        "//h1[@id='facts-title'][.='Payments API latency above 2 s']",
    )
    .await;
    // Taller, to show the story and the actions below the timeline.
    ana.client().set_window_size(1280, 1600).await.unwrap();
    screenshot(&ana, &dir, "incident.png").await;

    // Once published, the postmortem is in the library, one click from a page to read.
    server
        .command(
            PAYMENTS,
            BO,
            "/incident",
            "postmortem published",
            "p.published",
        )
        .await;
    ana.client()
        .goto(&format!("{}/postmortems", server.base))
        .await
        .unwrap();
    ana.wait_for(
        "the library's payments row",
        "//table[@class='incidents']//a[.='Payments API latency above 2 s']",
    )
    .await
    .click()
    .await
    .unwrap();
    ana.wait_for(
        "the postmortem to read",
        "//article[@class='postmortem']/h1[contains(., 'Payments API latency above 2 s')]",
    )
    .await;

    bo.close().await;
    ana.close().await;
    println!("browser test ran in {:.1} s", began.elapsed().as_secs_f64());
}

/// The first Tab from the start of the page focuses a link or a form control.
async fn first_tab_reaches_a_control(browser: &Browser, page: &str) {
    let client = browser.client();
    client
        .execute(
            "document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);",
            vec![],
        )
        .await
        .unwrap();
    let body = client.find(Locator::Css("body")).await.unwrap();
    body.send_keys(&Key::Tab.to_string()).await.unwrap();
    let focused = client
        .execute(
            "const e = document.activeElement; \
             return e ? [e.tagName.toLowerCase(), e.getAttribute('href') || e.type || '', (e.innerText || e.value || '').trim()] : null",
            vec![],
        )
        .await
        .unwrap();
    let tag = focused[0].as_str().unwrap_or_default();
    assert!(
        ["a", "button", "input", "select", "textarea", "summary"].contains(&tag),
        "on {page}, the first Tab reached {focused}"
    );
}

/// The one draft the files target wrote under the sandbox's `published/`.
fn published(sandbox: &Sandbox) -> String {
    let dir = sandbox.path().join("published");
    let mut files = Vec::new();
    markdown_under(&dir, &mut files);
    match files.as_slice() {
        [file] => std::fs::read_to_string(file).unwrap(),
        _ => panic!("one draft published under {}: {files:?}", dir.display()),
    }
}

fn markdown_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            markdown_under(&path, out);
        } else if path.extension().is_some_and(|x| x == "md") {
            out.push(path);
        }
    }
}

/// An incident in `PAYMENTS` as a team writes one in Slack; returns its page's path.
async fn payments_incident(server: &Server, clock: &mut Clock) -> String {
    let start = "start Payments API latency above 2 s --sev sev2";
    server
        .command(PAYMENTS, BO, "/incident", start, "p.start")
        .await;
    for (user, text) in [
        (
            BO,
            "p99 latency on payments-api at 2.4 s, card authorisations timing out",
        ),
        (ANA, "payments-db primary shows the connection pool at 100%"),
    ] {
        let ts = clock.next();
        let event = message(PAYMENTS, user, text, &ts);
        assert_eq!(server.event(&format!("Ev{ts}"), event).await.status(), 200);
    }
    // Entries at their times of day in the last hour, as a team backfills them.
    let ago = |minutes: i64| {
        (chrono::Utc::now() - chrono::Duration::minutes(minutes))
            .format("%H:%M")
            .to_string()
    };
    let commands = [
        (
            "/timeline",
            format!(
                "{} FIRING: payments-api p99 above 2 s for 5 minutes",
                ago(52)
            ),
        ),
        (
            "/timeline",
            format!(
                "{} connection pool on payments-db primary saturated",
                ago(41)
            ),
        ),
        (
            "/timeline",
            format!("{} raised the pool from 50 to 120 connections", ago(23)),
        ),
        ("/timeline", format!("{} p99 back under 300 ms", ago(14))),
        ("/incident", "lead Bo".into()),
        (
            "/incident",
            "summary Card payments slowed for 38 minutes: the database connection pool was \
             too small for the evening peak."
                .into(),
        ),
        (
            "/incident",
            "factor the pool size was set for last year's traffic".into(),
        ),
        ("/incident", "factor no alert on pool saturation".into()),
        (
            "/incident",
            "worked the latency alert fired within 5 minutes".into(),
        ),
        (
            "/incident",
            "action short alert when the pool is above 80% @Ana due 2030-02-15".into(),
        ),
        (
            "/incident",
            "action long size pools from measured peak traffic @Bo".into(),
        ),
    ];
    for (n, (command, text)) in commands.iter().enumerate() {
        server
            .command(PAYMENTS, BO, command, text, &format!("p.{n}"))
            .await;
    }
    let incidents = server.incidents().await;
    let payments = incidents
        .iter()
        .find(|i| i["title"] == "Payments API latency above 2 s")
        .expect("the payments incident");
    let id = payments["id"].as_str().unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/incidents/{encoded}")
}
