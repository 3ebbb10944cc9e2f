//! The storage conformance suite: every `Store` implementation must pass every check here.

mod common;

use std::sync::Arc;

use chrono::Duration;
use chrono::{DateTime, TimeZone, Utc};
use common::postgres::Schema;
use scribe::domain::{
    Author, AuthorKind, ChannelRef, ChatEvent, EventKind, MessageId, Platform, UserId,
};
use scribe::search::{Document, Hit, Match, Query, Scope, Words, pieces};
use scribe::storage::{
    self, AnyStore, Forgotten, JobEnd, JobState, NewJob, PostgresStore, SqliteStore, Store,
    StoreError, WebIdentity, WebSession,
};

fn at(secs: i64, micros: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, micros * 1000).unwrap()
}

fn channel(id: &str) -> ChannelRef {
    ChannelRef::new(Platform::Slack, id)
}

fn posted(channel_id: &str, message: &str, text: &str) -> ChatEvent {
    ChatEvent {
        channel: channel(channel_id),
        message: MessageId::new(message),
        at: at(1_709_978_405, 22_255),
        kind: EventKind::Posted {
            author: Author::human("U1", "Zoë Kapoor"),
            text: text.into(),
            thread: None,
        },
    }
}

/// One event of every kind, with text that tries to break a naive store.
fn every_kind() -> Vec<ChatEvent> {
    let on = |message: &str, secs: i64, kind: EventKind| ChatEvent {
        channel: channel("C1"),
        message: MessageId::new(message),
        at: at(secs, 123_456),
        kind,
    };
    vec![
        on(
            "1.1",
            100,
            EventKind::Posted {
                author: Author {
                    id: UserId::new("B1"),
                    name: "deploy'bot\"; DROP TABLE events;--".into(),
                    kind: AuthorKind::Bot,
                    zone: None,
                },
                text: "NUL \0 RTL \u{202e} {{ 7*7 }} 'quoted' 📌".into(),
                thread: Some(MessageId::new("1.0")),
            },
        ),
        on(
            "1.1",
            101,
            EventKind::Edited {
                text: "edited".into(),
            },
        ),
        on(
            "1.1",
            102,
            EventKind::ReactionAdded {
                emoji: "📌".into(),
                user: UserId::new("U2"),
            },
        ),
        on(
            "1.1",
            103,
            EventKind::ReactionRemoved {
                emoji: "📌".into(),
                user: UserId::new("U2"),
            },
        ),
        on("1.1", 104, EventKind::PinAdded),
        on("1.1", 105, EventKind::PinRemoved),
        on("1.1", 106, EventKind::Deleted),
    ]
}

mod checks {
    use super::*;

    /// Forgetting deletes a message's events (all of its kinds) and nothing else, counts what
    /// it freed, keeps the keys so a redelivery stores nothing, and drops the keys later.
    pub async fn forgotten_events_keep_their_keys_a_while<S: Store>(store: &S) {
        let events = every_kind();
        for event in &events {
            store.append(event, &[]).await.unwrap();
        }
        let kept = posted("C1", "2.0", "kept");
        let elsewhere = posted("C2", "1.1", "same id, other channel");
        store.append(&kept, &[]).await.unwrap();
        store.append(&elsewhere, &[]).await.unwrap();
        let forget = [MessageId::new("1.1"), MessageId::new("9.9")];
        let measured = store.measure(&channel("C1"), &forget).await.unwrap();
        assert_eq!(measured.events, 7);
        assert!(measured.bytes > 100, "{measured:?}");
        assert_eq!(store.channel_len(&channel("C1")).await.unwrap(), 8, "dry");

        let when = at(1_800_000_000, 0);
        let forgotten = store.forget(&channel("C1"), &forget, when).await.unwrap();
        assert_eq!(forgotten, measured);
        assert_eq!(
            store.channel_events(&channel("C1")).await.unwrap(),
            vec![kept.clone()]
        );
        assert_eq!(
            store.channel_events(&channel("C2")).await.unwrap(),
            vec![elsewhere]
        );
        assert_eq!(
            store.forget(&channel("C1"), &forget, when).await.unwrap(),
            Forgotten::default(),
            "forgotten once"
        );
        for event in &events {
            assert!(!store.append(event, &[]).await.unwrap(), "a redelivery");
        }
        assert_eq!(
            store.channel_events(&channel("C1")).await.unwrap(),
            vec![kept]
        );

        assert_eq!(store.drop_keys(when, 1_000).await.unwrap(), 0, "not before");
        assert_eq!(
            store
                .drop_keys(when + Duration::seconds(1), 3)
                .await
                .unwrap(),
            3,
            "at most the limit"
        );
        assert_eq!(
            store
                .drop_keys(when + Duration::seconds(1), 1_000)
                .await
                .unwrap(),
            4
        );
        assert!(
            store.append(&events[0], &[]).await.unwrap(),
            "the key is gone"
        );
        assert_eq!(store.channel_len(&channel("C1")).await.unwrap(), 2);
    }

    pub async fn a_new_event_is_stored_once<S: Store>(store: &S) {
        let event = posted("C1", "1.0", "/timeline rolled back");
        assert!(store.append(&event, &[]).await.unwrap(), "new event");
        assert!(!store.append(&event, &[]).await.unwrap(), "redelivery");
        let mut again = event.clone();
        again.at = at(1_709_978_999, 0);
        assert!(
            !store.append(&again, &[]).await.unwrap(),
            "same key, other time"
        );
        assert_eq!(
            store.channel_events(&channel("C1")).await.unwrap(),
            vec![event]
        );
    }

    pub async fn every_kind_round_trips_exactly<S: Store>(store: &S) {
        let events = every_kind();
        for event in &events {
            assert!(store.append(event, &[]).await.unwrap());
        }
        assert_eq!(store.channel_events(&channel("C1")).await.unwrap(), events);
    }

    pub async fn channels_and_platforms_are_apart<S: Store>(store: &S) {
        let slack = posted("C1", "1.0", "slack");
        let other_channel = posted("C2", "1.0", "other channel");
        let mut discord = posted("C1", "1.0", "discord");
        discord.channel.platform = Platform::Discord;
        for event in [&slack, &other_channel, &discord] {
            assert!(store.append(event, &[]).await.unwrap());
        }
        assert_eq!(
            store.channel_events(&channel("C1")).await.unwrap(),
            vec![slack]
        );
        assert_eq!(
            store.channel_events(&discord.channel).await.unwrap(),
            vec![discord]
        );
        assert!(
            store
                .channel_events(&channel("C9"))
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn events_come_back_in_arrival_order<S: Store>(store: &S) {
        let mut late = posted("C1", "2.0", "posted later, arrived first");
        late.at = at(2_000_000_000, 0);
        let early = posted("C1", "1.0", "posted earlier, arrived second");
        store.append(&late, &[]).await.unwrap();
        store.append(&early, &[]).await.unwrap();
        assert_eq!(
            store.channel_events(&channel("C1")).await.unwrap(),
            vec![late, early]
        );
    }

    pub async fn concurrent_redeliveries_store_one<S: Store + 'static>(store: Arc<S>) {
        let event = posted("C1", "1.0", "raced");
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let store = Arc::clone(&store);
                let event = event.clone();
                tokio::spawn(async move { store.append(&event, &[]).await.unwrap() })
            })
            .collect();
        let mut new = 0;
        for task in tasks {
            new += usize::from(task.await.unwrap());
        }
        assert_eq!(new, 1);
        assert_eq!(store.channel_events(&channel("C1")).await.unwrap().len(), 1);
    }

    /// Appends waiting at the same time (and so sharing commits): each acknowledged once,
    /// each stored once with its job, each channel's events in the order of their numbers.
    pub async fn concurrent_appends_are_all_stored_once<S: Store + 'static>(store: Arc<S>) {
        let now = at(1_000, 0);
        let tasks: Vec<_> = (0..400)
            .map(|i| {
                let store = Arc::clone(&store);
                // Every event twice: one of the two is new.
                let (c, m) = ((i / 2) % 4, i / 2);
                let event = posted(&format!("C{c}"), &format!("{m}.0"), "hi");
                let jobs = [job(&format!("job-{m}"), now)];
                tokio::spawn(async move { store.append_entry(&event, &jobs).await.unwrap() })
            })
            .collect();
        let mut seqs = Vec::new();
        for task in tasks {
            let appended = task.await.unwrap();
            assert_eq!(appended.new, appended.seq.is_some());
            seqs.extend(appended.seq);
        }
        assert_eq!(seqs.len(), 200, "one new of each pair");
        seqs.sort();
        seqs.dedup();
        assert_eq!(seqs.len(), 200, "numbers are unique");
        let mut stored = 0;
        for c in 0..4 {
            let logged = store
                .channel_events_after(&channel(&format!("C{c}")), 0)
                .await
                .unwrap();
            assert!(logged.windows(2).all(|w| w[0].seq < w[1].seq));
            stored += logged.len();
        }
        assert_eq!(stored, 200);
        assert_eq!(store.jobs("job-").await.unwrap().len(), 200);
    }

    /// What a reader who saw a channel up to an event has not seen.
    pub async fn events_after_a_number_are_the_newer_ones<S: Store>(store: &S) {
        let first = store
            .append_entry(&posted("C1", "1.0", "a"), &[])
            .await
            .unwrap();
        store.append(&posted("C2", "1.0", "b"), &[]).await.unwrap();
        let third = posted("C1", "2.0", "c");
        let appended = store.append_entry(&third, &[]).await.unwrap();
        let after = store
            .channel_events_after(&channel("C1"), first.seq.unwrap())
            .await
            .unwrap();
        assert_eq!(after.len(), 1);
        assert_eq!(
            (Some(after[0].seq), &after[0].event),
            (appended.seq, &third)
        );
        let last = appended.seq.unwrap();
        assert!(
            store
                .channel_events_after(&channel("C1"), last)
                .await
                .unwrap()
                .is_empty()
        );
        let redelivered = store.append_entry(&third, &[]).await.unwrap();
        assert_eq!((redelivered.new, redelivered.seq), (false, None));
    }

    pub fn job(key: &str, due: DateTime<Utc>) -> NewJob {
        NewJob {
            key: key.into(),
            kind: "post".into(),
            payload: format!("{{\"key\":\"{key}\"}}"),
            run_at: due,
        }
    }

    pub async fn jobs_come_with_their_event_once<S: Store>(store: &S) {
        let event = posted("C1", "1.0", "/incident start X");
        let first = [job("slack:C1:headline", at(0, 0))];
        assert!(store.append(&event, &first).await.unwrap());
        let second = [
            job("slack:C1:headline", at(0, 0)),
            job("slack:C1:other", at(0, 0)),
        ];
        assert!(!store.append(&event, &second).await.unwrap());
        let jobs = store.jobs("slack:C1:").await.unwrap();
        let keys: Vec<_> = jobs.iter().map(|j| j.key.as_str()).collect();
        assert_eq!(keys, ["slack:C1:headline", "slack:C1:other"]);
        assert!(
            jobs.iter()
                .all(|j| j.state == JobState::Pending && j.attempts == 0)
        );
        store
            .enqueue(&[job("slack:C1:headline", at(0, 0))])
            .await
            .unwrap();
        assert_eq!(store.jobs("slack:").await.unwrap().len(), 2);
        assert!(store.jobs("discord:").await.unwrap().is_empty());
    }

    pub async fn job_prefixes_are_literal<S: Store>(store: &S) {
        let keys = ["slack:C%1:a", "slack:CX1:b", "slack:C_1:c"];
        let jobs: Vec<_> = keys.iter().map(|key| job(key, at(0, 0))).collect();
        store.enqueue(&jobs).await.unwrap();
        for (prefix, expected) in [("slack:C%", keys[0]), ("slack:C_", keys[2])] {
            let found = store.jobs(prefix).await.unwrap();
            let found: Vec<_> = found.iter().map(|j| j.key.as_str()).collect();
            assert_eq!(found, [expected], "prefix {prefix}");
        }
    }

    pub async fn a_renewed_lease_keeps_a_running_job_its_own<S: Store>(store: &S) {
        let now = at(1_000, 0);
        store.enqueue(&[job("slow push", now)]).await.unwrap();
        let lease = Duration::seconds(30);
        let claimed = store.claim_job(now, lease).await.unwrap().expect("due");
        store
            .renew_job(claimed.id, now + lease + lease)
            .await
            .unwrap();
        assert_eq!(
            store.claim_job(now + lease, lease).await.unwrap(),
            None,
            "the renewed lease still holds"
        );
        let again = store
            .claim_job(now + lease + lease, lease)
            .await
            .unwrap()
            .expect("the renewed lease ran out");
        assert_eq!((again.id, again.attempts), (claimed.id, 2));
        store.finish_job(again.id, JobEnd::Done).await.unwrap();
        store
            .renew_job(again.id, now + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(
            store
                .claim_job(now + Duration::hours(2), lease)
                .await
                .unwrap(),
            None,
            "a finished job is not brought back by a late renewal"
        );
    }

    pub async fn a_job_runs_when_due_and_once_per_lease<S: Store>(store: &S) {
        let now = at(1_000, 0);
        store
            .enqueue(&[job("later", now + Duration::minutes(5)), job("now", now)])
            .await
            .unwrap();
        let lease = Duration::seconds(30);
        let claimed = store
            .claim_job(now, lease)
            .await
            .unwrap()
            .expect("a due job");
        assert_eq!((claimed.key.as_str(), claimed.attempts), ("now", 1));
        assert_eq!(claimed.payload, "{\"key\":\"now\"}");
        assert_eq!(
            store.claim_job(now, lease).await.unwrap(),
            None,
            "leased, and the other is not due"
        );
        // A worker that died loses its lease: the job runs again.
        let again = store
            .claim_job(now + lease, lease)
            .await
            .unwrap()
            .expect("lease expired");
        assert_eq!((again.id, again.attempts), (claimed.id, 2));
        store.finish_job(again.id, JobEnd::Done).await.unwrap();
        let later = now + Duration::minutes(5);
        let next = store
            .claim_job(later, lease)
            .await
            .unwrap()
            .expect("now due");
        assert_eq!(next.key, "later");
        store.finish_job(next.id, JobEnd::Done).await.unwrap();
        assert_eq!(
            store
                .claim_job(later + Duration::hours(1), lease)
                .await
                .unwrap(),
            None
        );
    }

    pub async fn retries_wait_and_failures_stop<S: Store>(store: &S) {
        let now = at(1_000, 0);
        let lease = Duration::seconds(30);
        store.enqueue(&[job("flaky", now)]).await.unwrap();
        let first = store.claim_job(now, lease).await.unwrap().unwrap();
        let retry_at = now + Duration::seconds(10);
        store
            .finish_job(
                first.id,
                JobEnd::Retry {
                    at: retry_at,
                    error: "HTTP 503".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .claim_job(now + Duration::seconds(5), lease)
                .await
                .unwrap(),
            None
        );
        let second = store
            .claim_job(retry_at, lease)
            .await
            .unwrap()
            .expect("retry due");
        assert_eq!(second.attempts, 2);
        let status = &store.jobs("flaky").await.unwrap()[0];
        assert_eq!(status.last_error.as_deref(), Some("HTTP 503"));
        store
            .finish_job(
                second.id,
                JobEnd::Failed {
                    error: "channel_not_found".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .claim_job(retry_at + Duration::days(1), lease)
                .await
                .unwrap(),
            None
        );
        let status = &store.jobs("flaky").await.unwrap()[0];
        assert_eq!(status.state, JobState::Failed);
        assert_eq!(status.last_error.as_deref(), Some("channel_not_found"));
    }

    pub async fn racing_workers_claim_each_job_once<S: Store + 'static>(store: Arc<S>) {
        let now = at(1_000, 0);
        let jobs: Vec<_> = (0..20).map(|i| job(&format!("job-{i:02}"), now)).collect();
        store.enqueue(&jobs).await.unwrap();
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    while let Some(job) = store.claim_job(now, Duration::minutes(5)).await.unwrap()
                    {
                        mine.push(job.key);
                    }
                    mine
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for worker in workers {
            claimed.extend(worker.await.unwrap());
        }
        claimed.sort();
        let expected: Vec<_> = jobs.iter().map(|j| j.key.clone()).collect();
        assert_eq!(claimed, expected);
    }

    fn person(platform: Platform, workspace: &str, id: &str, name: &str) -> WebIdentity {
        WebIdentity {
            platform,
            workspace: workspace.into(),
            person_id: id.into(),
            person_name: name.into(),
        }
    }

    fn hash(n: u8) -> String {
        format!("{n:02x}").repeat(32)
    }

    pub async fn a_sign_in_link_works_once<S: Store>(store: &S) {
        let now = at(1_000, 0);
        let zoe = person(Platform::Slack, "T1", "U1", "Zoë 'quoted' Kapoor");
        let bo = person(Platform::Discord, "G1", "42", "bo");
        let expires = now + Duration::minutes(10);
        store.add_web_link(&hash(1), &zoe, expires).await.unwrap();
        store.add_web_link(&hash(2), &bo, expires).await.unwrap();
        assert_eq!(
            store.use_web_link(&hash(1), now).await.unwrap(),
            Some(zoe),
            "the link signs in the person it was made for"
        );
        assert_eq!(store.use_web_link(&hash(1), now).await.unwrap(), None);
        let later = now + Duration::minutes(1);
        assert_eq!(
            store.use_web_link(&hash(1), later).await.unwrap(),
            None,
            "used: never again"
        );
        assert_eq!(
            store.use_web_link(&hash(2), later).await.unwrap(),
            Some(bo),
            "another link is not used by the first one's use"
        );
    }

    pub async fn an_expired_or_unknown_link_never_works<S: Store>(store: &S) {
        let now = at(1_000, 0);
        let ana = person(Platform::Console, "console", "ana", "Ana");
        store.add_web_link(&hash(1), &ana, now).await.unwrap();
        assert_eq!(store.use_web_link(&hash(1), now).await.unwrap(), None);
        let later = now + Duration::days(1);
        assert_eq!(store.use_web_link(&hash(1), later).await.unwrap(), None);
        for unknown in [hash(9), String::new(), hash(1).to_uppercase()] {
            assert_eq!(
                store.use_web_link(&unknown, now).await.unwrap(),
                None,
                "{unknown:?}"
            );
        }
        assert_eq!(
            store
                .use_web_link(&hash(1), now - Duration::microseconds(1))
                .await
                .unwrap(),
            Some(ana),
            "a refused use left the link unused"
        );
    }

    pub async fn concurrent_uses_of_a_link_give_one_identity<S: Store + 'static>(store: Arc<S>) {
        let now = at(1_000, 0);
        let zoe = person(Platform::Slack, "T1", "U1", "Zoë");
        let expires = now + Duration::minutes(10);
        store.add_web_link(&hash(1), &zoe, expires).await.unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { store.use_web_link(&hash(1), now).await.unwrap() })
            })
            .collect();
        let mut signed_in = Vec::new();
        for task in tasks {
            signed_in.extend(task.await.unwrap());
        }
        assert_eq!(signed_in, vec![zoe]);
    }

    pub async fn sessions_expire_and_end<S: Store>(store: &S) {
        let now = at(1_000, 0);
        let expires = now + Duration::hours(12);
        let zoe = person(Platform::Slack, "T1", "U1", "Zoë");
        let ana = person(Platform::Console, "console", "ana", "Ana");
        store
            .add_web_session(&hash(1), &zoe, "csrf-1", now, expires)
            .await
            .unwrap();
        store
            .add_web_session(&hash(2), &ana, "csrf-2", now, expires)
            .await
            .unwrap();
        let session = WebSession {
            who: zoe,
            csrf: "csrf-1".into(),
            expires_at: expires,
        };
        assert_eq!(
            store.web_session(&hash(1), now).await.unwrap(),
            Some(session.clone())
        );
        let last_moment = expires - Duration::microseconds(1);
        assert_eq!(
            store.web_session(&hash(1), last_moment).await.unwrap(),
            Some(session)
        );
        assert_eq!(store.web_session(&hash(1), expires).await.unwrap(), None);
        assert_eq!(store.web_session(&hash(9), now).await.unwrap(), None);

        store.end_web_session(&hash(2)).await.unwrap();
        assert_eq!(store.web_session(&hash(2), now).await.unwrap(), None);
        store.end_web_session(&hash(2)).await.unwrap();
        store.end_web_session(&hash(9)).await.unwrap();
        assert_eq!(
            store
                .web_session(&hash(1), now)
                .await
                .unwrap()
                .map(|s| s.csrf),
            Some("csrf-1".into()),
            "ending one session ends no other"
        );
    }

    pub async fn forgetting_deletes_only_what_expired<S: Store>(store: &S) {
        let now = at(1_000, 0);
        let (past, future) = (now - Duration::minutes(1), now + Duration::minutes(10));
        let zoe = person(Platform::Slack, "T1", "U1", "Zoë");
        // Links 1 (expired, used), 2 (expired, unused), 3 (live, used), 4 (live, unused), and
        // one that expires at `now`, so is expired then.
        for (n, expires) in [(1, past), (2, past), (3, future), (4, future), (5, now)] {
            store.add_web_link(&hash(n), &zoe, expires).await.unwrap();
        }
        let before = past - Duration::minutes(1);
        assert!(
            store
                .use_web_link(&hash(1), before)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .use_web_link(&hash(3), before)
                .await
                .unwrap()
                .is_some()
        );
        // Sessions 1 (expired), 2 (expires at `now`), 3 (live).
        for (n, expires) in [(1, past), (2, now), (3, future)] {
            let csrf = format!("csrf-{n}");
            store
                .add_web_session(&hash(n), &zoe, &csrf, before, expires)
                .await
                .unwrap();
        }
        assert!(
            store.add_web_link(&hash(1), &zoe, future).await.is_err(),
            "a stored hash is not stored twice"
        );

        assert_eq!(store.forget_expired_web(now).await.unwrap(), 3 + 2);
        assert_eq!(store.forget_expired_web(now).await.unwrap(), 0);
        for n in [1, 2, 5] {
            // Gone: the hash can be stored again.
            store.add_web_link(&hash(n), &zoe, future).await.unwrap();
        }
        assert!(
            store.add_web_link(&hash(3), &zoe, future).await.is_err(),
            "a live used link is kept"
        );
        assert_eq!(
            store.use_web_link(&hash(4), now).await.unwrap(),
            Some(zoe.clone()),
            "a live link is kept, unused"
        );
        assert_eq!(
            store
                .web_session(&hash(3), now)
                .await
                .unwrap()
                .map(|s| s.csrf),
            Some("csrf-3".into())
        );
        let kept = store
            .add_web_session(&hash(3), &zoe, "again", now, future)
            .await;
        assert!(kept.is_err(), "the live session is still stored");
        for n in [1, 2] {
            store
                .add_web_session(&hash(n), &zoe, "again", now, future)
                .await
                .unwrap();
        }
    }

    pub async fn channel_workspaces_are_upserted_and_listed_apart<S: Store>(store: &S) {
        let discord = |id: &str| ChannelRef::new(Platform::Discord, id);
        assert_eq!(store.channel_workspace(&channel("C1")).await.unwrap(), None);
        assert!(
            store
                .workspace_channels(Platform::Slack, "T1")
                .await
                .unwrap()
                .is_empty()
        );
        for (place, workspace) in [
            (channel("C2"), "T1"),
            (channel("C10"), "T1"),
            (channel("C1"), "T1"),
            (channel("C3"), "T2"),
            (discord("C1"), "T1"),
            (discord("900"), "G1"),
        ] {
            store
                .set_channel_workspace(&place, workspace)
                .await
                .unwrap();
        }
        assert_eq!(
            store
                .workspace_channels(Platform::Slack, "T1")
                .await
                .unwrap(),
            vec![channel("C1"), channel("C10"), channel("C2")]
        );
        assert_eq!(
            store
                .workspace_channels(Platform::Discord, "T1")
                .await
                .unwrap(),
            vec![discord("C1")],
            "a workspace id on another platform is another workspace"
        );
        assert!(
            store
                .workspace_channels(Platform::Console, "T1")
                .await
                .unwrap()
                .is_empty()
        );

        store
            .set_channel_workspace(&channel("C2"), "T2")
            .await
            .unwrap();
        assert_eq!(
            store.channel_workspace(&channel("C2")).await.unwrap(),
            Some("T2".into()),
            "the latest wins"
        );
        assert_eq!(
            store
                .workspace_channels(Platform::Slack, "T1")
                .await
                .unwrap(),
            vec![channel("C1"), channel("C10")]
        );
        assert_eq!(
            store
                .workspace_channels(Platform::Slack, "T2")
                .await
                .unwrap(),
            vec![channel("C2"), channel("C3")]
        );
        assert_eq!(
            store.channel_workspace(&discord("900")).await.unwrap(),
            Some("G1".into())
        );
        assert_eq!(
            store.channel_workspace(&discord("C2")).await.unwrap(),
            None,
            "a channel id on another platform is another channel"
        );
    }

    /// The web's writes skip the writer task: with appends in flight, neither waits forever.
    pub async fn web_writes_go_alongside_appends<S: Store + 'static>(store: Arc<S>) {
        let now = at(1_000, 0);
        let expires = now + Duration::minutes(10);
        let tasks: Vec<_> = (0..60u8)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let place = channel(&format!("C{i:02}"));
                    let event = posted(&place.id, "1.0", "hi");
                    let who = person(Platform::Slack, "T1", &format!("U{i}"), "someone");
                    let (jobs, token_hash) = ([job(&format!("job-{i}"), now)], hash(i));
                    let (appended, linked, placed) = tokio::join!(
                        store.append(&event, &jobs),
                        store.add_web_link(&token_hash, &who, expires),
                        store.set_channel_workspace(&place, "T1"),
                    );
                    assert!(appended.unwrap());
                    linked.unwrap();
                    placed.unwrap();
                    store.use_web_link(&hash(i), now).await.unwrap()
                })
            })
            .collect();
        let all = async {
            let mut signed_in = 0;
            for task in tasks {
                signed_in += usize::from(task.await.unwrap().is_some());
            }
            signed_in
        };
        let signed_in = tokio::time::timeout(std::time::Duration::from_secs(60), all)
            .await
            .expect("web writes and appends finish");
        assert_eq!(signed_in, 60);
        let listed = store
            .workspace_channels(Platform::Slack, "T1")
            .await
            .unwrap();
        assert_eq!(listed.len(), 60);
        assert_eq!(store.channels().await.unwrap().len(), 60);
    }

    pub async fn channels_are_listed_in_order_of_first_event<S: Store>(store: &S) {
        store.append(&posted("C2", "1.0", "a"), &[]).await.unwrap();
        store.append(&posted("C1", "1.0", "b"), &[]).await.unwrap();
        store.append(&posted("C2", "2.0", "c"), &[]).await.unwrap();
        assert_eq!(
            store.channels().await.unwrap(),
            vec![channel("C2"), channel("C1")]
        );
        assert_eq!(store.channel_len(&channel("C2")).await.unwrap(), 2);
        assert_eq!(store.channel_len(&channel("C9")).await.unwrap(), 0);
        store.ping().await.unwrap();
    }

    /// A search document as the indexer would write it.
    fn document(channel_id: &str, n: u32, title: &str, body: &str, closed: bool) -> Document {
        Document {
            id: format!("slack:{channel_id}:{n}.0"),
            platform: Platform::Slack,
            channel: channel_id.to_string(),
            title: title.to_string(),
            severity: Some("sev2"),
            started_at: at(1_700_000_000 + i64::from(n) * 86_400, 0),
            duration_minutes: closed.then_some(42),
            closed,
            body: body.to_string(),
            messages: String::new(),
            digest: format!("{n}:{title}:{body}"),
        }
    }

    fn query(text: &str, matching: Match) -> Query {
        Query {
            words: Words::parse(text),
            matching,
            scope: Scope::Everywhere,
            closed_only: false,
            except: None,
            limit: 10,
        }
    }

    fn ids(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.id.as_str()).collect()
    }

    pub async fn search_ranks_matches_and_marks_them<S: Store>(store: &S) {
        store
            .index(&[
                document("C1", 1, "Checkout API timeouts", "pool exhausted", true),
                document(
                    "C1",
                    2,
                    "Payments failover",
                    "checkout retried after the failover",
                    true,
                ),
                document("C2", 3, "DNS outage", "resolver crashed", false),
            ])
            .await
            .unwrap();
        let hits = store.search(&query("checkout", Match::All)).await.unwrap();
        // A match in the title ranks above one in the body.
        assert_eq!(ids(&hits), ["slack:C1:1.0", "slack:C1:2.0"]);
        assert!(hits[0].score > hits[1].score, "{hits:?}");
        let first = &hits[0];
        assert_eq!(first.title, "Checkout API timeouts");
        assert_eq!(first.severity.as_deref(), Some("sev2"));
        assert_eq!(first.duration_minutes, Some(42));
        assert_eq!(first.started_at, at(1_700_086_400, 0));
        assert!(
            pieces(&hits[1].snippet).contains(&("checkout".to_string(), true)),
            "the match is marked: {:?}",
            hits[1].snippet
        );
        // Every word must match, stemmed: "timeout" finds "timeouts".
        let both = store
            .search(&query("checkout timeout", Match::All))
            .await
            .unwrap();
        assert_eq!(ids(&both), ["slack:C1:1.0"]);
        // Any word: the one holding more of them first.
        let any = store
            .search(&query("failover resolver checkout", Match::Any))
            .await
            .unwrap();
        assert_eq!(any.len(), 3, "{any:?}");
        assert_eq!(any[0].id, "slack:C1:2.0");
        // Closed ones only, never the one asked about, at most `limit`.
        let mut closed = query("checkout failover resolver", Match::Any);
        closed.closed_only = true;
        closed.except = Some("slack:C1:2.0".into());
        assert_eq!(ids(&store.search(&closed).await.unwrap()), ["slack:C1:1.0"]);
        let mut one = query("checkout", Match::All);
        one.limit = 1;
        assert_eq!(store.search(&one).await.unwrap().len(), 1);
        assert!(
            store
                .search(&query("", Match::All))
                .await
                .unwrap()
                .is_empty()
        );
        // Messages are searched, but incidents are alike in what was written about them.
        let mut chatty = document("C3", 4, "Queue stuck", "", true);
        chatty.messages = "zebra crossing".into();
        store.index(&[chatty]).await.unwrap();
        let found = store.search(&query("zebra", Match::All)).await.unwrap();
        assert_eq!(ids(&found), ["slack:C3:4.0"]);
        assert!(
            store
                .search(&query("zebra", Match::Any))
                .await
                .unwrap()
                .is_empty()
        );
    }

    pub async fn a_document_indexed_again_replaces_the_old<S: Store>(store: &S) {
        store
            .index(&[document(
                "C1",
                1,
                "Checkout API timeouts",
                "pool exhausted",
                false,
            )])
            .await
            .unwrap();
        let again = document("C1", 1, "Checkout latency", "cache cold", true);
        store.index(std::slice::from_ref(&again)).await.unwrap();
        assert!(
            store
                .search(&query("pool", Match::All))
                .await
                .unwrap()
                .is_empty()
        );
        let hits = store.search(&query("cache", Match::All)).await.unwrap();
        assert_eq!(ids(&hits), ["slack:C1:1.0"]);
        assert_eq!(hits[0].title, "Checkout latency");
        let indexed = store.indexed().await.unwrap();
        assert_eq!(indexed.len(), 1);
        assert_eq!(indexed["slack:C1:1.0"], again.digest);
    }

    pub async fn search_sees_only_its_workspace<S: Store>(store: &S) {
        store
            .index(&[
                document("C1", 1, "Checkout down", "", true),
                document("C2", 2, "Checkout slow", "", true),
            ])
            .await
            .unwrap();
        store
            .set_channel_workspace(&channel("C1"), "T1")
            .await
            .unwrap();
        store
            .set_channel_workspace(&channel("C2"), "T2")
            .await
            .unwrap();
        let mut scoped = query("checkout", Match::All);
        scoped.scope = Scope::Workspace {
            platform: Platform::Slack,
            workspace: "T1".into(),
        };
        assert_eq!(ids(&store.search(&scoped).await.unwrap()), ["slack:C1:1.0"]);
        scoped.scope = Scope::Workspace {
            platform: Platform::Discord,
            workspace: "T1".into(),
        };
        assert!(store.search(&scoped).await.unwrap().is_empty());
        assert_eq!(
            store
                .search(&query("checkout", Match::All))
                .await
                .unwrap()
                .len(),
            2
        );
    }

    /// Text in the index and in queries that would be syntax to SQL or to the search engine.
    pub async fn hostile_text_is_only_words<S: Store>(store: &S) {
        let hostile =
            r#"'); DROP TABLE search_docs; -- NEAR(a b) "unbalanced * title:x AND OR NOT ^"#;
        store
            .index(&[document("C1", 1, hostile, hostile, true)])
            .await
            .unwrap();
        for asked in [
            hostile,
            "\"",
            "(",
            "checkout OR",
            "NEAR(drop",
            "title:drop",
            "drop*",
            "-drop",
            "' OR 1=1 --",
            "\u{2}drop\u{3}",
        ] {
            for matching in [Match::All, Match::Any] {
                let result = store.search(&query(asked, matching)).await;
                assert!(result.is_ok(), "{asked:?} ({matching:?}): {result:?}");
            }
        }
        let found = store
            .search(&query("DROP TABLE search_docs", Match::All))
            .await
            .unwrap();
        assert_eq!(ids(&found), ["slack:C1:1.0"]);
        assert_eq!(found[0].title, hostile);
        assert_eq!(
            store.indexed().await.unwrap().len(),
            1,
            "the table is still there"
        );
    }
}

/// `$open` gives `Some((store, guard))`, or `None` when the backend is not available here.
macro_rules! conformance {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn a_new_event_is_stored_once() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::a_new_event_is_stored_once(&store).await;
            }

            #[tokio::test]
            async fn every_kind_round_trips_exactly() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::every_kind_round_trips_exactly(&store).await;
            }

            #[tokio::test]
            async fn channels_and_platforms_are_apart() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::channels_and_platforms_are_apart(&store).await;
            }

            #[tokio::test]
            async fn events_come_back_in_arrival_order() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::events_come_back_in_arrival_order(&store).await;
            }

            #[tokio::test]
            async fn jobs_come_with_their_event_once() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::jobs_come_with_their_event_once(&store).await;
            }

            #[tokio::test]
            async fn job_prefixes_are_literal() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::job_prefixes_are_literal(&store).await;
            }

            #[tokio::test]
            async fn a_job_runs_when_due_and_once_per_lease() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::a_job_runs_when_due_and_once_per_lease(&store).await;
            }

            #[tokio::test]
            async fn a_renewed_lease_keeps_a_running_job_its_own() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::a_renewed_lease_keeps_a_running_job_its_own(&store).await;
            }

            #[tokio::test]
            async fn retries_wait_and_failures_stop() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::retries_wait_and_failures_stop(&store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn racing_workers_claim_each_job_once() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::racing_workers_claim_each_job_once(Arc::new(store)).await;
            }

            #[tokio::test]
            async fn channels_are_listed_in_order_of_first_event() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::channels_are_listed_in_order_of_first_event(&store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_appends_are_all_stored_once() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::concurrent_appends_are_all_stored_once(Arc::new(store)).await;
            }

            #[tokio::test]
            async fn events_after_a_number_are_the_newer_ones() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::events_after_a_number_are_the_newer_ones(&store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_redeliveries_store_one() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::concurrent_redeliveries_store_one(Arc::new(store)).await;
            }

            #[tokio::test]
            async fn a_sign_in_link_works_once() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::a_sign_in_link_works_once(&store).await;
            }

            #[tokio::test]
            async fn an_expired_or_unknown_link_never_works() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::an_expired_or_unknown_link_never_works(&store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_uses_of_a_link_give_one_identity() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::concurrent_uses_of_a_link_give_one_identity(Arc::new(store)).await;
            }

            #[tokio::test]
            async fn sessions_expire_and_end() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::sessions_expire_and_end(&store).await;
            }

            #[tokio::test]
            async fn forgetting_deletes_only_what_expired() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::forgetting_deletes_only_what_expired(&store).await;
            }

            #[tokio::test]
            async fn channel_workspaces_are_upserted_and_listed_apart() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::channel_workspaces_are_upserted_and_listed_apart(&store).await;
            }

            #[tokio::test]
            async fn search_ranks_matches_and_marks_them() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::search_ranks_matches_and_marks_them(&store).await;
            }

            #[tokio::test]
            async fn a_document_indexed_again_replaces_the_old() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::a_document_indexed_again_replaces_the_old(&store).await;
            }

            #[tokio::test]
            async fn search_sees_only_its_workspace() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::search_sees_only_its_workspace(&store).await;
            }

            #[tokio::test]
            async fn hostile_text_is_only_words() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::hostile_text_is_only_words(&store).await;
            }

            #[tokio::test]
            async fn forgotten_events_keep_their_keys_a_while() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::forgotten_events_keep_their_keys_a_while(&store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn web_writes_go_alongside_appends() {
                let Some((store, _guard)) = $open.await else {
                    return;
                };
                checks::web_writes_go_alongside_appends(Arc::new(store)).await;
            }
        }
    };
}

async fn open_sqlite() -> Option<(SqliteStore, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("data/scribe.db").display());
    Some((SqliteStore::open(&url).await.unwrap(), dir))
}

conformance!(sqlite, open_sqlite());

async fn open_postgres() -> Option<(PostgresStore, Schema)> {
    let schema = Schema::create("PostgreSQL conformance").await?;
    Some((PostgresStore::open(&schema.url).await.unwrap(), schema))
}

conformance!(postgres, open_postgres());

#[tokio::test]
async fn sqlite_keeps_events_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
    let events = every_kind();
    {
        let store = SqliteStore::open(&url).await.unwrap();
        for event in &events {
            store.append(event, &[]).await.unwrap();
        }
        store.close().await;
    }
    let reopened = SqliteStore::open(&url).await.unwrap();
    assert_eq!(
        reopened.channel_events(&channel("C1")).await.unwrap(),
        events
    );
    assert!(
        !reopened.append(&events[0], &[]).await.unwrap(),
        "still deduplicated"
    );
}

#[tokio::test]
async fn open_picks_the_backend_by_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("scribe.db").display());
    let sqlite = storage::open(&url).await.unwrap();
    assert!(matches!(sqlite, AnyStore::Sqlite(_)));
    checks::a_new_event_is_stored_once(&sqlite).await;
    checks::a_sign_in_link_works_once(&sqlite).await;
    checks::channel_workspaces_are_upserted_and_listed_apart(&sqlite).await;
    checks::sessions_expire_and_end(&sqlite).await;
    sqlite.close().await;

    let refused = storage::open("mysql://u:pw@h/db").await.unwrap_err();
    let message = refused.to_string();
    assert!(matches!(refused, StoreError::UnsupportedUrl { .. }));
    assert!(message.contains("`mysql`"), "{message}");
    assert!(!message.contains("pw"), "leaks the password: {message}");

    let Some(schema) = Schema::create("PostgreSQL conformance").await else {
        return;
    };
    let postgres = storage::open(&schema.url).await.unwrap();
    assert!(matches!(postgres, AnyStore::Postgres(_)));
    checks::a_new_event_is_stored_once(&postgres).await;
    checks::a_sign_in_link_works_once(&postgres).await;
    checks::channel_workspaces_are_upserted_and_listed_apart(&postgres).await;
    checks::sessions_expire_and_end(&postgres).await;
    postgres.close().await;
}

/// Two pools on one schema stand for two Scribe processes sharing a database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_processes_share_a_database_safely() {
    let Some(schema) = Schema::create("PostgreSQL conformance").await else {
        return;
    };
    let (a, b) = tokio::join!(
        PostgresStore::open(&schema.url),
        PostgresStore::open(&schema.url)
    );
    let stores = [a.unwrap(), b.unwrap()];

    let now = at(1_000, 0);
    let jobs: Vec<_> = (0..50)
        .map(|i| checks::job(&format!("job-{i:02}"), now))
        .collect();
    stores[0].enqueue(&jobs).await.unwrap();
    let workers: Vec<_> = (0..16)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(job) = store.claim_job(now, Duration::minutes(5)).await.unwrap() {
                    assert_eq!(job.attempts, 1, "{} claimed twice", job.key);
                    mine.push(job.key);
                }
                mine
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }
    claimed.sort();
    let expected: Vec<_> = jobs.iter().map(|j| j.key.clone()).collect();
    assert_eq!(claimed, expected);

    let events: Arc<Vec<_>> = Arc::new(
        (0..200)
            .map(|i| posted("C1", &format!("{i}.0"), &format!("message {i}")))
            .collect(),
    );
    let appenders: Vec<_> = stores
        .iter()
        .map(|store| {
            let (store, events) = (store.clone(), Arc::clone(&events));
            tokio::spawn(async move {
                let mut new = 0;
                for (i, event) in events.iter().enumerate() {
                    let follow_up = [checks::job(&format!("event-{i:03}"), now)];
                    new += usize::from(store.append(event, &follow_up).await.unwrap());
                }
                new
            })
        })
        .collect();
    let mut new = 0;
    for appender in appenders {
        new += appender.await.unwrap();
    }
    assert_eq!(new, 200);
    let mut stored = stores[1].channel_events(&channel("C1")).await.unwrap();
    stored.sort_by(|x, y| x.message.cmp(&y.message));
    let mut expected = events.to_vec();
    expected.sort_by(|x, y| x.message.cmp(&y.message));
    assert_eq!(stored, expected);
    assert_eq!(stores[0].jobs("event-").await.unwrap().len(), 200);
    for store in &stores {
        store.close().await;
    }
}
