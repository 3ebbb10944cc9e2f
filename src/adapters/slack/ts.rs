//! Slack's `ts`, shared by the export reader and the live adapter: both key messages by it.

use chrono::{DateTime, Datelike, Utc};
use serde::de::{Deserialize, Deserializer, Error as _};

/// A Slack `ts` ("1445439680.028328"): the post time to the microsecond, and the message's id.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ts {
    pub(crate) at: DateTime<Utc>,
    pub(crate) raw: String,
}

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        match parse_ts(&raw) {
            Some(at) => Ok(Ts { at, raw }),
            None => Err(D::Error::custom(format!("invalid timestamp {raw:?}"))),
        }
    }
}

/// Seconds and a fraction of up to nine digits, read as integers: a float would lose the
/// microseconds. A time after the year 9999 is refused: nothing downstream could write it.
pub(crate) fn parse_ts(raw: &str) -> Option<DateTime<Utc>> {
    let (secs, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if secs.is_empty() || fraction.len() > 9 || !digits(secs) || !digits(fraction) {
        return None;
    }
    let nanos = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0, |n, b| n * 10 + u32::from(b - b'0'));
    DateTime::from_timestamp(secs.parse().ok()?, nanos).filter(|at| at.year() <= 9999)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn timestamps_are_exact_to_the_microsecond() {
        let at = Utc.timestamp_opt(1445439680, 28_328_000).unwrap();
        assert_eq!(parse_ts("1445439680.028328"), Some(at));
        let last = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(parse_ts("253402300799"), Some(last));
        assert_eq!(
            parse_ts("1445439680"),
            Some(Utc.timestamp_opt(1445439680, 0).unwrap())
        );
        for bad in [
            "",
            ".5",
            "abc",
            "1.2.3",
            "-1.0",
            "1.0000000001",
            "1e9",
            "١٢.٣",
            // The year 10000, and seconds beyond chrono's range.
            "253402300800",
            "1515449522000016",
            "99999999999999999999",
        ] {
            assert_eq!(parse_ts(bad), None, "{bad}");
        }
    }
}
