//! The team's side of the impact, estimated from who wrote when: never invented, and only
//! where the platform says it (a person's time zone) is anything said about working hours.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::event::UserId;

/// Two messages this far apart start a new span of work.
pub const SPAN_GAP: Duration = Duration::minutes(30);
/// What a span counts beyond its first to last message (so a lone message counts this much).
pub const SPAN_PAD: Duration = Duration::minutes(5);
/// Outside working hours: from this hour of the evening …
pub const EVENING: u32 = 22;
/// … to this hour of the morning, in a person's own zone.
pub const MORNING: u32 = 7;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamImpact {
    /// Per person, sorted by name.
    pub per_person: Vec<PersonLoad>,
    /// Summed over people, to the second.
    pub person_seconds: i64,
    /// People with a message between 22:00 and 07:00 in their own zone, sorted.
    pub outside_hours: Vec<String>,
    /// Whether every person's zone is known: when not, `outside_hours` may miss people.
    pub zones_known: bool,
}

impl TeamImpact {
    /// Person-hours, to one decimal.
    pub fn person_hours(&self) -> f64 {
        (self.person_seconds as f64 / 360.0).round() / 10.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonLoad {
    pub name: String,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub messages: u32,
}

/// One person's messages, as they arrive.
#[derive(Debug, Default)]
struct Person {
    name: String,
    zone: Option<Tz>,
    times: Vec<DateTime<Utc>>,
}

/// Collects people's messages; the latest name and zone seen for a person win.
#[derive(Debug, Default)]
pub struct Load {
    people: HashMap<UserId, Person>,
}

impl Load {
    pub fn count(&mut self, author: &UserId, name: &str, zone: Option<Tz>, at: DateTime<Utc>) {
        let person = self.people.entry(author.clone()).or_default();
        person.name = name.to_string();
        if zone.is_some() {
            person.zone = zone;
        }
        person.times.push(at);
    }

    pub fn finish(self) -> TeamImpact {
        let mut per_person = Vec::new();
        let mut outside_hours = Vec::new();
        let mut person_seconds = 0;
        let mut zones_known = true;
        for (_, mut person) in self.people {
            person.times.sort();
            let (Some(&first), Some(&last)) = (person.times.first(), person.times.last()) else {
                continue;
            };
            person_seconds += spans(&person.times).num_seconds();
            match person.zone {
                Some(zone) => {
                    if person.times.iter().any(|t| off_hours(*t, zone)) {
                        outside_hours.push(person.name.clone());
                    }
                }
                None => zones_known = false,
            }
            per_person.push(PersonLoad {
                name: person.name,
                first,
                last,
                messages: person.times.len() as u32,
            });
        }
        per_person.sort_by(|a, b| by_name(&a.name, &b.name));
        outside_hours.sort_by(|a, b| by_name(a, b));
        TeamImpact {
            zones_known: zones_known && !per_person.is_empty(),
            per_person,
            person_seconds,
            outside_hours,
        }
    }
}

/// Names sorted as people read them: case aside first.
pub fn by_name(a: &str, b: &str) -> std::cmp::Ordering {
    a.to_lowercase()
        .cmp(&b.to_lowercase())
        .then_with(|| a.cmp(b))
}

/// The time sorted messages stand for: spans split at gaps of [`SPAN_GAP`], each padded.
fn spans(times: &[DateTime<Utc>]) -> Duration {
    let mut total = Duration::zero();
    let mut start = times[0];
    for pair in times.windows(2) {
        if pair[1] - pair[0] >= SPAN_GAP {
            total += pair[0] - start + SPAN_PAD;
            start = pair[1];
        }
    }
    total + (times[times.len() - 1] - start) + SPAN_PAD
}

fn off_hours(at: DateTime<Utc>, zone: Tz) -> bool {
    let hour = at.with_timezone(&zone).hour();
    !(MORNING..EVENING).contains(&hour)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn spans_split_at_half_an_hour_and_count_five_minutes_more() {
        let mut load = Load::default();
        let ana = UserId::new("U1");
        for t in [
            "2024-03-09T10:00:00Z",
            "2024-03-09T10:20:00Z",
            // 29:59 later: the same span.
            "2024-03-09T10:49:59Z",
            // exactly 30 minutes later: a new span, a lone message.
            "2024-03-09T11:19:59Z",
        ] {
            load.count(&ana, "Ana", None, at(t));
        }
        let impact = load.finish();
        // (49:59 + 5:00) + 5:00 = 59:59.
        assert_eq!(impact.person_seconds, 59 * 60 + 59);
        assert_eq!(impact.person_hours(), 1.0);
        assert_eq!(impact.per_person[0].messages, 4);
        assert_eq!(impact.per_person[0].first, at("2024-03-09T10:00:00Z"));
        assert_eq!(impact.per_person[0].last, at("2024-03-09T11:19:59Z"));
        assert!(!impact.zones_known, "no zone, so nothing is known");
        assert!(impact.outside_hours.is_empty());
    }

    #[test]
    fn outside_hours_are_read_in_each_persons_own_zone() {
        let mut load = Load::default();
        // 06:30 UTC is 23:30 the day before in Los Angeles (PDT) and 08:30 in Berlin (CEST).
        let t = at("2024-06-10T06:30:00Z");
        load.count(
            &UserId::new("U1"),
            "zoë",
            Some(chrono_tz::America::Los_Angeles),
            t,
        );
        load.count(
            &UserId::new("U2"),
            "Bert",
            Some(chrono_tz::Europe::Berlin),
            t,
        );
        let impact = load.finish();
        assert_eq!(impact.outside_hours, ["zoë"]);
        assert!(impact.zones_known);
        let names: Vec<_> = impact.per_person.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Bert", "zoë"]);
        // Two lone messages: ten minutes.
        assert_eq!(impact.person_hours(), 0.2);
    }

    #[test]
    fn seven_in_the_morning_is_working_hours_and_ten_at_night_is_not() {
        let zone = Tz::UTC;
        assert!(off_hours(at("2024-03-09T06:59:59Z"), zone));
        assert!(!off_hours(at("2024-03-09T07:00:00Z"), zone));
        assert!(!off_hours(at("2024-03-09T21:59:59Z"), zone));
        assert!(off_hours(at("2024-03-09T22:00:00Z"), zone));
    }

    #[test]
    fn one_unknown_zone_makes_the_answer_partial() {
        let mut load = Load::default();
        let t = at("2024-03-09T23:00:00Z");
        load.count(&UserId::new("U1"), "A", Some(Tz::UTC), t);
        load.count(&UserId::new("U2"), "B", None, t);
        let impact = load.finish();
        assert_eq!(impact.outside_hours, ["A"]);
        assert!(!impact.zones_known);
    }
}
