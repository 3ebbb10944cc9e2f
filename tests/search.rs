//! Search and similar incidents through the application, on both stores: a set of incidents
//! (the chat-export fixtures, replayed into channels of their own, and generated incidents
//! with variants) recorded as chat, then asked for with the expected incidents on top.

mod common;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::postgres::Schema;
use scribe::app::App;
use scribe::config::{Config, Secrets};
use scribe::domain::{Author, ChannelRef, ChatEvent, EventKind, Incident, MessageId, Platform};
use scribe::search::{Hit, Match, Query, Scope, Words};
use scribe::storage::{self, AnyStore, Store};

const WORKSPACE: &str = "G1";

/// One generated incident: its title, severity, and what people wrote during it.
struct Made {
    title: &'static str,
    severity: &'static str,
    timeline: &'static [&'static str],
    factors: &'static [&'static str],
    /// Said in the channel, never a timeline entry.
    chatter: &'static str,
}

/// Generated incidents, each with a vocabulary of its own, and variants of some (the same
/// failure another day, worded differently).
const MADE: &[Made] = &[
    Made {
        title: "Checkout API 5xx after deploy",
        severity: "sev2",
        timeline: &[
            "checkout-api pods restarting",
            "rolled back checkout-api to v41",
        ],
        factors: &["database connection pool exhausted by the new retry loop"],
        chatter: "anyone seen the flamingo dashboard",
    },
    Made {
        title: "Checkout errors after config push",
        severity: "sev3",
        timeline: &["config push to checkout", "reverted the config push"],
        factors: &["connection pool size halved by a config typo"],
        chatter: "coffee first",
    },
    Made {
        title: "Payments database failover",
        severity: "sev1",
        timeline: &["primary postgres unreachable", "promoted the replica"],
        factors: &["replica lag hid a failing disk"],
        chatter: "pager is loud today",
    },
    Made {
        title: "Payments replica lag delays receipts",
        severity: "sev3",
        timeline: &["receipt emails late", "replica lag at 40 minutes"],
        factors: &["vacuum blocked replication"],
        chatter: "lunch?",
    },
    Made {
        title: "DNS resolver outage in eu-west",
        severity: "sev2",
        timeline: &[
            "resolver pods crashlooping",
            "failed over to the secondary resolvers",
        ],
        factors: &["resolver cache exhausted memory"],
        chatter: "",
    },
    Made {
        title: "TLS certificate expired on the API gateway",
        severity: "sev1",
        timeline: &[
            "clients see certificate errors",
            "renewed the certificate by hand",
        ],
        factors: &["certificate renewal cron silently failing"],
        chatter: "",
    },
    Made {
        title: "Internal mTLS certificate expiry breaks service mesh",
        severity: "sev2",
        timeline: &[
            "sidecars refuse connections",
            "rotated the mesh root certificate",
        ],
        factors: &["certificate expiry not monitored"],
        chatter: "",
    },
    Made {
        title: "Kafka consumer lag in the order pipeline",
        severity: "sev3",
        timeline: &["orders stuck in pending", "scaled consumers to 24"],
        factors: &["a poison message stalled one partition"],
        chatter: "",
    },
    Made {
        title: "Disk full on the logging cluster",
        severity: "sev4",
        timeline: &["log ingestion stopped", "deleted old indices"],
        factors: &["retention policy not applied to new indices"],
        chatter: "",
    },
    Made {
        title: "Memory leak in the recommendation service",
        severity: "sev3",
        timeline: &["OOM kills every hour", "pinned the previous image"],
        factors: &["unbounded cache of user vectors"],
        chatter: "",
    },
    Made {
        title: "Rate limiter blocks logins",
        severity: "sev2",
        timeline: &["login failures spike", "raised the limiter threshold"],
        factors: &["limiter keyed on the NAT address of a large customer"],
        chatter: "",
    },
    Made {
        title: "CDN purge storm slows the storefront",
        severity: "sev3",
        timeline: &["origin load at 400 percent", "paused purges"],
        factors: &["a deploy script purged every path"],
        chatter: "",
    },
    Made {
        title: "Duplicate invoices from the billing cron",
        severity: "sev2",
        timeline: &[
            "customers report two invoices",
            "disabled the second cron host",
        ],
        factors: &["cron ran on two hosts after a migration"],
        chatter: "",
    },
    Made {
        title: "Autoscaler stuck during the traffic peak",
        severity: "sev2",
        timeline: &["node pool not growing", "added nodes by hand"],
        factors: &["autoscaler quota exhausted"],
        chatter: "",
    },
    Made {
        title: "SSO broken by an expired OAuth client secret",
        severity: "sev1",
        timeline: &["nobody can sign in", "rotated the client secret"],
        factors: &["secret expiry not tracked"],
        chatter: "",
    },
    Made {
        title: "Feature flag rollout broke mobile login",
        severity: "sev2",
        timeline: &["android login crashes", "turned the flag off"],
        factors: &["flag targeted every client version"],
        chatter: "",
    },
    Made {
        title: "Orders table locked by a migration",
        severity: "sev2",
        timeline: &["writes to orders time out", "killed the migration"],
        factors: &["migration took an exclusive lock"],
        chatter: "",
    },
    Made {
        title: "Search index rebuild overloads the database",
        severity: "sev3",
        timeline: &["database CPU at 100 percent", "throttled the rebuild"],
        factors: &["rebuild ran without a rate limit"],
        chatter: "",
    },
];

/// The fixtures replayed: each Discord export into its own channel.
const FIXTURES: &[&str] = &[
    "google-sre-shakespeare-2015",
    "curation-webhook-backlog",
    "adversarial",
];

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
}

fn said(channel: &ChannelRef, n: usize, at: DateTime<Utc>, text: &str) -> ChatEvent {
    ChatEvent {
        channel: channel.clone(),
        message: MessageId::new(format!("m{n}")),
        at,
        kind: EventKind::Posted {
            author: Author::human("U1", "Ana"),
            text: text.to_string(),
            thread: None,
        },
    }
}

/// The chat of a generated incident, a day after the one before.
fn made_events(index: usize, made: &Made) -> Vec<ChatEvent> {
    let channel = ChannelRef::new(Platform::Discord, format!("made-{index}"));
    let start = t0() + Duration::days(index as i64);
    let mut texts = vec![format!(
        "/incident start {} --sev {}",
        made.title, made.severity
    )];
    texts.extend(made.timeline.iter().map(|t| format!("/timeline {t}")));
    texts.extend(made.factors.iter().map(|f| format!("/incident factor {f}")));
    if !made.chatter.is_empty() {
        texts.push(made.chatter.to_string());
    }
    texts.push("/incident resolve".into());
    texts.push("/incident close".into());
    texts
        .iter()
        .enumerate()
        .map(|(n, text)| said(&channel, n, start + Duration::minutes(n as i64 * 7), text))
        .collect()
}

fn fixture_events(case: &str) -> Vec<ChatEvent> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{case}/discord.json"));
    let export = scribe::adapters::export::read(&path, None, 64 << 20).unwrap();
    let channel = ChannelRef::new(Platform::Discord, format!("fixture-{case}"));
    export
        .events
        .into_iter()
        .map(|mut event| {
            event.channel = channel.clone();
            event
        })
        .collect()
}

fn config(messages: bool) -> Config {
    let vars = [("SCRIBE__SEARCH__MESSAGES".to_string(), messages.to_string())];
    Config::load_from(None, vars).unwrap()
}

async fn app(store: &AnyStore, messages: bool) -> App {
    App::new(
        config(messages),
        Secrets::default(),
        Arc::new(store.clone()),
    )
}

/// Records every incident of the set as chat, each channel in the workspace.
async fn record_all(app: &App) {
    let mut chats: Vec<Vec<ChatEvent>> = MADE
        .iter()
        .enumerate()
        .map(|(i, made)| made_events(i, made))
        .collect();
    chats.extend(FIXTURES.iter().map(|case| fixture_events(case)));
    for events in chats {
        app.remember_workspace(&events[0].channel, WORKSPACE)
            .await
            .unwrap();
        for event in &events {
            app.record(event).await.unwrap();
        }
    }
}

fn ask(words: &str, limit: usize) -> Query {
    Query {
        words: Words::parse(words),
        matching: Match::All,
        scope: Scope::Workspace {
            platform: Platform::Discord,
            workspace: WORKSPACE.into(),
        },
        closed_only: false,
        except: None,
        limit,
    }
}

fn titles(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.title.as_str()).collect()
}

/// Words someone would type, and the incident they are after (found first).
const EXPECTED: &[(&str, &str)] = &[
    ("retry loop", "Checkout API 5xx after deploy"),
    ("checkout config", "Checkout errors after config push"),
    (
        "certificate expired",
        "TLS certificate expired on the API gateway",
    ),
    (
        "mesh certificate",
        "Internal mTLS certificate expiry breaks service mesh",
    ),
    ("replica promoted", "Payments database failover"),
    ("receipts", "Payments replica lag delays receipts"),
    ("resolver", "DNS resolver outage in eu-west"),
    (
        "kafka partition",
        "Kafka consumer lag in the order pipeline",
    ),
    ("logging disk", "Disk full on the logging cluster"),
    ("OOM", "Memory leak in the recommendation service"),
    ("NAT", "Rate limiter blocks logins"),
    ("purge", "CDN purge storm slows the storefront"),
    ("invoices", "Duplicate invoices from the billing cron"),
    (
        "autoscaler quota",
        "Autoscaler stuck during the traffic peak",
    ),
    (
        "oauth secret",
        "SSO broken by an expired OAuth client secret",
    ),
    ("flag android", "Feature flag rollout broke mobile login"),
    ("exclusive lock", "Orders table locked by a migration"),
    (
        "rebuild throttled",
        "Search index rebuild overloads the database",
    ),
    (
        "shakespeare",
        "Shakespeare search cascading failure: HTTP 500s in all clusters",
    ),
    (
        "webhook backlog",
        "Payments webhooks delayed: delivery backlog growing",
    ),
];

async fn the_set_answers_as_expected(store: AnyStore) {
    let app = app(&store, false).await;
    record_all(&app).await;
    let incidents = app.all_incidents().await.unwrap();
    assert!(incidents.len() >= 20, "{} incidents", incidents.len());
    for title in EXPECTED.iter().map(|(_, t)| t) {
        assert!(
            incidents.iter().any(|i| &i.title == title),
            "the set holds {title:?}: {:?}",
            incidents.iter().map(|i| &i.title).collect::<Vec<_>>()
        );
    }
    let mut misses = Vec::new();
    for (words, expected) in EXPECTED {
        let hits = app.search(&ask(words, 5)).await.unwrap();
        if hits.first().map(|h| h.title.as_str()) != Some(*expected) {
            misses.push(format!("{words:?} finds {:?}", titles(&hits)));
            continue;
        }
        assert!(
            hits[0].snippet.contains(scribe::search::HIT_START),
            "{words:?}: the snippet marks a match: {:?}",
            hits[0].snippet
        );
    }
    assert!(
        misses.is_empty(),
        "expected first, but:\n{}",
        misses.join("\n")
    );
    // Words are stemmed: "timed" finds "time".
    let hits = app.search(&ask("orders timed", 5)).await.unwrap();
    assert_eq!(titles(&hits), ["Orders table locked by a migration"]);
    // Every word must match.
    assert!(
        app.search(&ask("checkout shakespeare", 5))
            .await
            .unwrap()
            .is_empty()
    );
    // Chatter is no timeline entry: it is not searched unless messages are.
    assert!(app.search(&ask("flamingo", 5)).await.unwrap().is_empty());
    // Another workspace sees none of it.
    let mut elsewhere = ask("checkout", 5);
    elsewhere.scope = Scope::Workspace {
        platform: Platform::Discord,
        workspace: "G2".into(),
    };
    assert!(app.search(&elsewhere).await.unwrap().is_empty());
}

/// A new incident, its title and factor, and the past incident it should bring up first.
const LIKE: &[(&str, &str, &str)] = &[
    (
        "checkout returning 500s",
        "pool exhausted again",
        "Checkout API 5xx after deploy",
    ),
    (
        "certificate expired for partner API",
        "renewal cron failed",
        "TLS certificate expired on the API gateway",
    ),
    (
        "payments primary database down",
        "disk failing",
        "Payments database failover",
    ),
    (
        "webhook deliveries delayed",
        "dispatcher retries",
        "Payments webhooks delayed: delivery backlog growing",
    ),
];

async fn similar_incidents_come_first(store: AnyStore) {
    let app = app(&store, false).await;
    record_all(&app).await;
    for (n, (title, factor, expected)) in LIKE.iter().enumerate() {
        let channel = ChannelRef::new(Platform::Discord, format!("new-{n}"));
        app.remember_workspace(&channel, WORKSPACE).await.unwrap();
        let at = t0() + Duration::days(100);
        for (i, text) in [
            format!("/incident start {title}"),
            format!("/incident factor {factor}"),
        ]
        .iter()
        .enumerate()
        {
            app.record(&said(&channel, i, at + Duration::minutes(i as i64), text))
                .await
                .unwrap();
        }
        let incident: Incident = app.history(&channel).await.unwrap().incidents[0].clone();
        let similar = app.similar(&incident).await.unwrap();
        assert!(similar.len() <= 3);
        assert_eq!(
            similar.first().map(|h| h.title.as_str()),
            Some(*expected),
            "like {title:?}: {:?}",
            titles(&similar)
        );
        assert!(
            similar.iter().all(|h| h.id != incident.id().to_string()),
            "an incident is not like itself"
        );
        let answer = app.similar_answer(&incident).await.unwrap();
        assert!(answer.contains(expected), "{answer}");
    }
    // Open incidents are no past incidents.
    let open = app
        .history(&ChannelRef::new(Platform::Discord, "new-0"))
        .await
        .unwrap();
    let found = app.similar(&open.incidents[0]).await.unwrap();
    assert!(
        found
            .iter()
            .all(|h| !h.title.starts_with("certificate expired for"))
    );
}

async fn messages_are_searched_when_asked(store: AnyStore) {
    let app = app(&store, true).await;
    record_all(&app).await;
    let hits = app.search(&ask("flamingo dashboard", 5)).await.unwrap();
    assert_eq!(titles(&hits), ["Checkout API 5xx after deploy"]);
}

/// Events stored before the index existed (or before the indexer saw them) are indexed when
/// the application starts.
async fn an_older_log_is_indexed_at_start(store: AnyStore) {
    for event in made_events(0, &MADE[0]) {
        store.append(&event, &[]).await.unwrap();
    }
    store
        .set_channel_workspace(&ChannelRef::new(Platform::Discord, "made-0"), WORKSPACE)
        .await
        .unwrap();
    let app = app(&store, false).await;
    assert!(store.indexed().await.unwrap().is_empty());
    app.index.mark_everything();
    let hits = app.search(&ask("connection pool", 5)).await.unwrap();
    assert_eq!(titles(&hits), ["Checkout API 5xx after deploy"]);
    // A start again writes nothing new: every document is as indexed.
    let again = App::new(config(false), Secrets::default(), Arc::new(store.clone()));
    again.index.mark_everything();
    assert_eq!(again.index.pass(&again.recorder).await.unwrap(), 0);
}

/// Each check on SQLite, then on PostgreSQL when one is configured.
macro_rules! on_both {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let dir = tempfile::tempdir().unwrap();
                    let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
                    super::$check(super::storage::open(&url).await.unwrap()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $check() {
                    let Some(schema) = super::Schema::create("PostgreSQL search").await else {
                        return;
                    };
                    super::$check(super::storage::open(&schema.url).await.unwrap()).await;
                }
            )*
        }
    };
}

on_both!(
    the_set_answers_as_expected,
    similar_incidents_come_first,
    messages_are_searched_when_asked,
    an_older_log_is_indexed_at_start,
);
