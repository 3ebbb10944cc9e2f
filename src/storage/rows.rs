//! Rows as both stores read them back. Each store keeps its own SQL; the columns it selects,
//! in the order given here, and what they mean are the same, so the decoding is shared: a row
//! is fetched as a tuple (sqlx decodes tuples on either database) and turned into its type here.

use chrono::DateTime;

use super::{Job, JobState, JobStatus, Logged, StoreError, WebIdentity, WebSession};
use crate::domain::{ChannelRef, ChatEvent, EventKind, MessageId, Platform};
use crate::search::Hit;

/// `seq, message, at_us, payload` of an event of one channel.
pub(super) type EventRow = (i64, String, i64, String);

/// `platform, channel` and the number of the channel's first event, which names a corrupt row.
pub(super) type ChannelRow = (String, String, i64);

/// `id, key, kind, payload, attempts` of a claimed job.
pub(super) type JobRow = (i64, String, String, String, i32);

/// `id, key, kind, state, attempts, last_error` of a job.
pub(super) type JobStatusRow = (i64, String, String, String, i32, Option<String>);

/// `incident, title, severity, started_at_us, duration_minutes, snippet, score` of a search
/// hit.
pub(super) type HitRow = (
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    String,
    f64,
);

/// `platform, workspace, person_id, person_name` of a sign-in link or a web session.
pub(super) type WebIdentityRow = (String, String, String, String);

/// `platform, workspace, person_id, person_name, csrf, expires_at_us` of a web session.
pub(super) type WebSessionRow = (String, String, String, String, String, i64);

pub(super) fn logged(
    channel: &ChannelRef,
    (seq, message, at_us, payload): EventRow,
) -> Result<Logged, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { id: seq, reason };
    let kind: EventKind = serde_json::from_str(&payload).map_err(|e| corrupt(e.to_string()))?;
    let event = ChatEvent {
        channel: channel.clone(),
        message: MessageId::new(message),
        at: DateTime::from_timestamp_micros(at_us)
            .ok_or_else(|| corrupt(format!("time {at_us} out of range")))?,
        kind,
    };
    Ok(Logged { seq, event })
}

pub(super) fn channel((platform, channel, first): ChannelRow) -> Result<ChannelRef, StoreError> {
    let platform = Platform::parse(&platform).ok_or_else(|| StoreError::Corrupt {
        id: first,
        reason: format!("unknown platform `{platform}`"),
    })?;
    Ok(ChannelRef::new(platform, channel))
}

pub(super) fn hit(
    (id, title, severity, started_at_us, duration_minutes, snippet, score): HitRow,
) -> Result<Hit, StoreError> {
    let started_at =
        DateTime::from_timestamp_micros(started_at_us).ok_or_else(|| StoreError::Corrupt {
            id: 0,
            reason: format!("in search_docs: {id} starts at {started_at_us}, out of range"),
        })?;
    Ok(Hit {
        id,
        title,
        severity,
        started_at,
        duration_minutes,
        snippet,
        score,
    })
}

/// What a web row read back is: its rows have no number to name them by (a hash is not for
/// logs), so the table names it.
fn corrupt_web(table: &str, reason: String) -> StoreError {
    StoreError::Corrupt {
        id: 0,
        reason: format!("in {table}: {reason}"),
    }
}

pub(super) fn web_identity(
    table: &str,
    (platform, workspace, person_id, person_name): WebIdentityRow,
) -> Result<WebIdentity, StoreError> {
    let platform = Platform::parse(&platform)
        .ok_or_else(|| corrupt_web(table, format!("unknown platform `{platform}`")))?;
    Ok(WebIdentity {
        platform,
        workspace,
        person_id,
        person_name,
    })
}

pub(super) fn web_session(
    (platform, workspace, person_id, person_name, csrf, expires_at_us): WebSessionRow,
) -> Result<WebSession, StoreError> {
    const TABLE: &str = "web_sessions";
    Ok(WebSession {
        who: web_identity(TABLE, (platform, workspace, person_id, person_name))?,
        csrf,
        expires_at: DateTime::from_timestamp_micros(expires_at_us)
            .ok_or_else(|| corrupt_web(TABLE, format!("time {expires_at_us} out of range")))?,
    })
}

pub(super) fn job((id, key, kind, payload, attempts): JobRow) -> Result<Job, StoreError> {
    Ok(Job {
        id,
        key,
        kind,
        payload,
        attempts: attempts_of(id, attempts)?,
    })
}

pub(super) fn job_status(
    (id, key, kind, state, attempts, last_error): JobStatusRow,
) -> Result<JobStatus, StoreError> {
    Ok(JobStatus {
        key,
        kind,
        state: JobState::parse(&state).ok_or_else(|| StoreError::Corrupt {
            id,
            reason: format!("unknown job state `{state}`"),
        })?,
        attempts: attempts_of(id, attempts)?,
        last_error,
    })
}

fn attempts_of(id: i64, attempts: i32) -> Result<u32, StoreError> {
    u32::try_from(attempts).map_err(|_| StoreError::Corrupt {
        id,
        reason: format!("{attempts} attempts"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corrupt<T>(result: Result<T, StoreError>) -> (i64, String) {
        match result {
            Err(StoreError::Corrupt { id, reason }) => (id, reason),
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("read back"),
        }
    }

    #[test]
    fn what_cannot_be_read_back_is_corrupt_and_names_its_row() {
        let place = ChannelRef::new(Platform::Slack, "C1");
        let (id, _) = corrupt(logged(&place, (7, "1.0".into(), 0, "{".into())));
        assert_eq!(id, 7);
        let deleted = r#"{"type":"deleted"}"#.to_string();
        let (_, reason) = corrupt(logged(&place, (7, "1.0".into(), i64::MAX, deleted)));
        assert!(reason.contains("out of range"), "{reason}");
        let (id, reason) = corrupt(channel(("irc".into(), "C1".into(), 3)));
        assert_eq!((id, reason.as_str()), (3, "unknown platform `irc`"));
        let claimed = (4, "k".into(), "slack.report".into(), "{}".into(), -1);
        assert_eq!(corrupt(job(claimed)).0, 4);
        let status = (5, "k".into(), "k".into(), "lost".into(), 1, None);
        assert_eq!(corrupt(job_status(status)).0, 5);
        let who = ("irc".into(), "T1".into(), "U1".into(), "Zoë".into());
        let (id, reason) = corrupt(web_identity("web_links", who));
        assert_eq!(
            (id, reason.as_str()),
            (0, "in web_links: unknown platform `irc`")
        );
        let session = |platform: &str, expires_at_us| {
            let (workspace, person, name) = ("T1".into(), "U1".into(), "Zoë".into());
            (
                platform.into(),
                workspace,
                person,
                name,
                "c".into(),
                expires_at_us,
            )
        };
        let (_, reason) = corrupt(web_session(session("matrix", 1)));
        assert_eq!(reason, "in web_sessions: unknown platform `matrix`");
        let (_, reason) = corrupt(web_session(session("slack", i64::MAX)));
        assert!(reason.starts_with("in web_sessions: time"), "{reason}");
        assert!(reason.contains("out of range"), "{reason}");
    }

    #[test]
    fn good_rows_read_back_as_their_types() {
        let place = ChannelRef::new(Platform::Discord, "42");
        let deleted = r#"{"type":"deleted"}"#.to_string();
        let read = logged(&place, (9, "m1".into(), 1_000_001, deleted)).unwrap();
        assert_eq!(read.seq, 9);
        assert_eq!(read.event.message, MessageId::new("m1"));
        assert_eq!(read.event.at.timestamp_micros(), 1_000_001);
        assert_eq!(read.event.kind, EventKind::Deleted);
        assert_eq!(channel(("discord".into(), "42".into(), 1)).unwrap(), place);
        let claimed = job((4, "k".into(), "s".into(), "{}".into(), 3)).unwrap();
        assert_eq!((claimed.id, claimed.attempts), (4, 3));
        let status = job_status((5, "k".into(), "s".into(), "done".into(), 2, None)).unwrap();
        assert_eq!((status.state, status.attempts), (JobState::Done, 2));
        let who = WebIdentity {
            platform: Platform::Console,
            workspace: "console".into(),
            person_id: "ana".into(),
            person_name: "Ana".into(),
        };
        let row = (
            "console".into(),
            "console".into(),
            "ana".into(),
            "Ana".into(),
        );
        assert_eq!(web_identity("web_links", row).unwrap(), who);
        let row = (
            "console".into(),
            "console".into(),
            "ana".into(),
            "Ana".into(),
        );
        let session = web_session((row.0, row.1, row.2, row.3, "csrf".into(), 2_000_001)).unwrap();
        assert_eq!(session.who, who);
        assert_eq!(session.csrf, "csrf");
        assert_eq!(session.expires_at.timestamp_micros(), 2_000_001);
    }
}
