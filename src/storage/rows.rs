//! Rows as both stores read them back. Each store keeps its own SQL; the columns it selects,
//! in the order given here, and what they mean are the same, so the decoding is shared: a row
//! is fetched as a tuple (sqlx decodes tuples on either database) and turned into its type here.

use chrono::DateTime;

use super::{Job, JobState, JobStatus, Logged, StoreError};
use crate::domain::{ChannelRef, ChatEvent, EventKind, MessageId, Platform};

/// `seq, message, at_us, payload` of an event of one channel.
pub(super) type EventRow = (i64, String, i64, String);

/// `platform, channel` and the number of the channel's first event, which names a corrupt row.
pub(super) type ChannelRow = (String, String, i64);

/// `id, key, kind, payload, attempts` of a claimed job.
pub(super) type JobRow = (i64, String, String, String, i32);

/// `id, key, kind, state, attempts, last_error` of a job.
pub(super) type JobStatusRow = (i64, String, String, String, i32, Option<String>);

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
    }
}
