//! Timeline entries: what people marked as worth remembering, and the incident's own changes.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::event::MessageId;

/// Where an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntrySource {
    /// `/timeline <text>`.
    Command,
    /// A pin-emoji reaction (📌) on a message.
    Reaction,
    /// A pinned message.
    Pin,
    /// `/timeline HH:MM <text>`, written after the fact.
    Backfill,
    /// A change of the incident's state (start, severity, lead, resolve, close).
    Event,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// Its number in the incident, by when the entry was made: never changes, never reused.
    pub n: u32,
    pub at: DateTime<Utc>,
    pub author: String,
    pub text: String,
    pub source: EntrySource,
    /// The text before it was first changed (by an edit of the message or `/timeline edit`).
    pub original_text: Option<String>,
    /// The time before `/timeline move` first moved it.
    pub original_at: Option<DateTime<Utc>>,
    /// Who last changed it: the message's author for an edit of the message, else whoever
    /// edited, moved, hid or restored it with a command.
    pub edited_by: Option<String>,
    /// Hidden from the draft by `/timeline remove`; kept, with everything else, for the record.
    pub hidden: bool,
    /// The message the entry stands for.
    pub message: MessageId,
}

/// The latest moment not after `now` whose time of day, in `zone`, is `time`.
pub fn backfill_instant(time: NaiveTime, now: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    let local_today = now.with_timezone(&zone).date_naive();
    (0..=2)
        .filter_map(|days_back| {
            let date = local_today - Duration::days(days_back);
            // A time skipped by a DST change has no instant; a repeated one takes the later.
            zone.from_local_datetime(&date.and_time(time))
                .latest()
                .map(|t| t.with_timezone(&Utc))
        })
        .find(|t| *t <= now)
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn backfill_takes_today_when_earlier_in_the_day() {
        let t = NaiveTime::from_hms_opt(14, 55, 0).unwrap();
        assert_eq!(
            backfill_instant(t, utc("2015-10-21T15:10:00Z"), Tz::UTC),
            utc("2015-10-21T14:55:00Z")
        );
    }

    #[test]
    fn backfill_takes_yesterday_when_the_time_is_still_ahead() {
        let t = NaiveTime::from_hms_opt(23, 50, 0).unwrap();
        assert_eq!(
            backfill_instant(t, utc("2015-10-22T00:10:00Z"), Tz::UTC),
            utc("2015-10-21T23:50:00Z")
        );
    }

    #[test]
    fn backfill_reads_the_time_in_the_team_zone() {
        let t = NaiveTime::from_hms_opt(8, 0, 0).unwrap();
        // 08:00 in Los Angeles (PDT, UTC-7) is 15:00 UTC.
        assert_eq!(
            backfill_instant(
                t,
                utc("2015-10-21T15:30:00Z"),
                chrono_tz::America::Los_Angeles
            ),
            utc("2015-10-21T15:00:00Z")
        );
    }

    #[test]
    fn backfill_at_exactly_now_is_now() {
        let t = NaiveTime::from_hms_opt(15, 30, 0).unwrap();
        assert_eq!(
            backfill_instant(t, utc("2015-10-21T15:30:00Z"), Tz::UTC),
            utc("2015-10-21T15:30:00Z")
        );
    }
}
