//! Reminders: when each is due, and what it does when its time comes. Pure: the caller says
//! what time it is, and keeps each [`Due`] as a durable job keyed by [`Due::key`], so that a
//! reminder queued twice is stored once and one that waited through a restart still fires.
//!
//! A reminder is checked again when it fires: one whose reason is gone (a lead named, the
//! incident closed, the postmortem published, a due date changed) does nothing.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::incident::{Horizon, Incident, Stage, Status};
use super::severity::Severity;

/// How many times the overdue reminder is posted at most.
pub const OVERDUE_ROUNDS: u32 = 5;

/// Every reminder there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reminder {
    NoLead,
    NoSeverity,
    NoUpdate,
    NotClosed,
    PostmortemDue,
    PostmortemOverdue,
    ActionDue,
}

impl Reminder {
    pub const ALL: [Reminder; 7] = [
        Reminder::NoLead,
        Reminder::NoSeverity,
        Reminder::NoUpdate,
        Reminder::NotClosed,
        Reminder::PostmortemDue,
        Reminder::PostmortemOverdue,
        Reminder::ActionDue,
    ];

    /// Its name in the configuration and in job kinds.
    pub fn as_str(self) -> &'static str {
        match self {
            Reminder::NoLead => "no_lead",
            Reminder::NoSeverity => "no_severity",
            Reminder::NoUpdate => "no_update",
            Reminder::NotClosed => "not_closed",
            Reminder::PostmortemDue => "postmortem_due",
            Reminder::PostmortemOverdue => "postmortem_overdue",
            Reminder::ActionDue => "action_due",
        }
    }

    /// Whether it is about an incident whose response is over: those wait for quiet hours
    /// to end; the ones during an open incident never wait.
    fn can_wait(self) -> bool {
        !matches!(
            self,
            Reminder::NoLead | Reminder::NoSeverity | Reminder::NoUpdate
        )
    }
}

/// When each reminder is due (`None`: off), in the team's zone and quiet hours.
#[derive(Debug, Clone)]
pub struct Rules {
    pub no_lead: Option<Duration>,
    pub no_severity: Option<Duration>,
    pub no_update: Option<Duration>,
    pub not_closed: Option<Duration>,
    /// Before the start of the due date.
    pub postmortem_due: Option<Duration>,
    /// Into the due date.
    pub postmortem_overdue: Option<Duration>,
    pub overdue_every: Option<Duration>,
    /// Into an action's due date.
    pub action_due: Option<Duration>,
    pub quiet_hours: Option<(NaiveTime, NaiveTime)>,
    pub zone: Tz,
}

/// One reminder at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    pub reminder: Reminder,
    pub at: DateTime<Utc>,
    /// The action it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<u32>,
    /// The due date it was made for: a reminder for a date since changed does nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// 1 for the first overdue reminder, 2 for the next …
    #[serde(default)]
    pub round: u32,
}

impl Due {
    /// Names it among the incident's jobs: the same reminder for the same reason has the same
    /// key however often it is derived.
    pub fn key(&self) -> String {
        let mut key = self.reminder.as_str().to_string();
        if let Some(n) = self.action {
            key.push_str(&format!(".{n}"));
        }
        if let Some(date) = self.date {
            key.push_str(&format!(".{date}"));
        }
        key.push_str(&format!("@{}", self.at.timestamp()));
        if self.round > 1 {
            key.push_str(&format!("#{}", self.round));
        }
        key
    }
}

/// What a reminder does when its time comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fire {
    /// Post `text` in the incident's channel, then queue `next` if there is one.
    Post { text: String, next: Option<Due> },
    /// Not yet (quiet hours, or a newer timeline entry): the same reminder again later.
    Later(Due),
    /// Its reason is gone.
    Drop,
}

/// The start of `date` in `zone`.
fn day_start(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    zone.from_local_datetime(&midnight)
        .earliest()
        // A zone that skips midnight (a DST change at 00:00) starts the day an hour later.
        .or_else(|| {
            zone.from_local_datetime(&(midnight + Duration::hours(1)))
                .earliest()
        })
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

impl Rules {
    /// `at`, or the end of the quiet hours it falls in (for the reminders that can wait).
    pub fn after_quiet(&self, reminder: Reminder, at: DateTime<Utc>) -> DateTime<Utc> {
        let Some((from, to)) = self.quiet_hours.filter(|_| reminder.can_wait()) else {
            return at;
        };
        let local = at.with_timezone(&self.zone);
        let time = local.time();
        let quiet = if from < to {
            time >= from && time < to
        } else {
            time >= from || time < to
        };
        if !quiet {
            return at;
        }
        let date = if from > to && time >= from {
            local.date_naive() + Duration::days(1)
        } else {
            local.date_naive()
        };
        let end = date.and_time(to);
        self.zone
            .from_local_datetime(&end)
            .earliest()
            .map_or(at, |t| t.with_timezone(&Utc))
    }

    fn due(&self, reminder: Reminder, at: DateTime<Utc>) -> Due {
        Due {
            reminder,
            at: self.after_quiet(reminder, at),
            action: None,
            date: None,
            round: 1,
        }
    }

    /// The reminders `incident` calls for as it stands. Deriving them again after any change
    /// is safe: each keeps its key.
    pub fn schedule(&self, incident: &Incident) -> Vec<Due> {
        let mut due = Vec::new();
        let start = incident.started_at;
        match incident.status() {
            Status::Open => {
                if let Some(after) = self.no_lead.filter(|_| incident.lead.is_none()) {
                    due.push(self.due(Reminder::NoLead, start + after));
                }
                if let Some(after) = self.no_severity.filter(|_| incident.severity.is_none()) {
                    due.push(self.due(Reminder::NoSeverity, start + after));
                }
                if let Some(every) = self.no_update {
                    due.push(self.due(Reminder::NoUpdate, last_update(incident) + every));
                }
            }
            Status::Resolved => {
                if let (Some(after), Some(resolved)) = (self.not_closed, incident.resolved_at) {
                    due.push(self.due(Reminder::NotClosed, resolved + after));
                }
            }
            Status::Closed => {}
        }
        if let (Some(closed), Some(date)) = (incident.closed_at, incident.postmortem.due)
            && incident.postmortem.stage != Stage::Published
        {
            let day = day_start(date, self.zone);
            if let Some(before) = self.postmortem_due
                && day - before > closed
            {
                due.push(Due {
                    date: Some(date),
                    ..self.due(Reminder::PostmortemDue, day - before)
                });
            }
            if let Some(into) = self.postmortem_overdue {
                due.push(Due {
                    date: Some(date),
                    ..self.due(Reminder::PostmortemOverdue, day + into)
                });
            }
        }
        if let Some(into) = self.action_due {
            for action in &incident.actions {
                let open = !action.done && !action.hidden && action.horizon != Horizon::Now;
                if let (true, Some(date)) = (open, action.due) {
                    due.push(Due {
                        action: Some(action.n),
                        date: Some(date),
                        ..self.due(Reminder::ActionDue, day_start(date, self.zone) + into)
                    });
                }
            }
        }
        due
    }

    /// What `due` does at `now`, for `incident` as it stands then.
    pub fn fire(&self, incident: &Incident, due: &Due, now: DateTime<Utc>) -> Fire {
        let waited = self.after_quiet(due.reminder, now);
        if waited > now {
            return Fire::Later(Due {
                at: waited,
                ..due.clone()
            });
        }
        let title = &incident.title;
        let lead = incident.author();
        let post = |text: String| Fire::Post { text, next: None };
        let same_date = due.date == incident.postmortem.due;
        let unpublished =
            incident.closed_at.is_some() && incident.postmortem.stage != Stage::Published;
        match due.reminder {
            Reminder::NoLead if incident.status() == Status::Open && incident.lead.is_none() => {
                post(format!(
                    "@{}: {title} has no lead yet. Who leads? /incident lead @name",
                    incident.started_by
                ))
            }
            Reminder::NoSeverity
                if incident.status() == Status::Open && incident.severity.is_none() =>
            {
                post(format!(
                    "@{lead}: {title} has no severity yet. Set one with /incident severity <level>."
                ))
            }
            Reminder::NoUpdate if incident.status() == Status::Open => {
                let Some(every) = self.no_update else {
                    return Fire::Drop;
                };
                let last = last_update(incident);
                let urgent = matches!(incident.severity, Some(Severity::Sev1 | Severity::Sev2));
                if now - last < every {
                    return Fire::Later(Due {
                        at: last + every,
                        ..due.clone()
                    });
                }
                let next = Due {
                    at: now + every,
                    ..due.clone()
                };
                if !urgent {
                    // Checked again at the interval: a severity raised later counts.
                    return Fire::Later(next);
                }
                Fire::Post {
                    text: format!(
                        "@{lead}: no timeline entry for {} on {title}. What is happening? /timeline <text>",
                        span(now - last)
                    ),
                    next: Some(next),
                }
            }
            Reminder::NotClosed if incident.status() == Status::Resolved => post(format!(
                "@{lead}: {title} was resolved {} ago and is still not closed. Close it with /incident close when the response is over.",
                span(now - incident.resolved_at.unwrap_or(now))
            )),
            Reminder::PostmortemDue if unpublished && same_date => post(format!(
                "@{}: the postmortem of {title} is due {}.",
                incident.postmortem_owner(),
                date_words(due.date)
            )),
            Reminder::PostmortemOverdue if unpublished && same_date => {
                let next = self.overdue_every.and_then(|every| {
                    (due.round < OVERDUE_ROUNDS).then(|| Due {
                        at: self.after_quiet(Reminder::PostmortemOverdue, now + every),
                        round: due.round + 1,
                        ..due.clone()
                    })
                });
                let when = if due.round == 1 { "is due" } else { "was due" };
                Fire::Post {
                    text: format!(
                        "@{}: the postmortem of {title} {when} {} and is not published yet. When it is: /incident postmortem published",
                        incident.postmortem_owner(),
                        date_words(due.date)
                    ),
                    next,
                }
            }
            Reminder::ActionDue => {
                let action = due
                    .action
                    .and_then(|n| incident.actions.iter().find(|a| a.n == n));
                match action {
                    Some(action) if !action.done && !action.hidden && action.due == due.date => {
                        let owner = action.owner.as_deref().unwrap_or(lead);
                        post(format!(
                            "@{owner}: action #{} of {title} is due {}: {}. Done? /incident action done {}",
                            action.n,
                            date_words(due.date),
                            action.text,
                            action.n
                        ))
                    }
                    _ => Fire::Drop,
                }
            }
            _ => Fire::Drop,
        }
    }
}

/// The latest timeline entry (hidden ones too: someone wrote it), else the start.
fn last_update(incident: &Incident) -> DateTime<Utc> {
    incident
        .timeline
        .iter()
        .map(|e| e.at)
        .chain([incident.started_at])
        .max()
        .unwrap_or(incident.started_at)
}

fn date_words(date: Option<NaiveDate>) -> String {
    date.map_or_else(String::new, |d| d.format("%Y-%m-%d").to_string())
}

/// `2 hours 5 minutes`, `40 minutes`.
fn span(duration: Duration) -> String {
    let minutes = duration.num_minutes().max(0);
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} minutes"),
        (h, 0) => format!("{h} hours"),
        (h, m) => format!("{h} hours {m} minutes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::engine::{Settings, fold};
    use crate::domain::event::{Author, ChannelRef, ChatEvent, EventKind, MessageId, Platform};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap()
    }

    fn rules() -> Rules {
        let m = Duration::minutes;
        Rules {
            no_lead: Some(m(10)),
            no_severity: Some(m(10)),
            no_update: Some(m(30)),
            not_closed: Some(Duration::hours(24)),
            postmortem_due: Some(Duration::days(1)),
            postmortem_overdue: Some(Duration::hours(9)),
            overdue_every: Some(Duration::days(2)),
            action_due: Some(Duration::hours(9)),
            quiet_hours: Some((
                NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
                NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            )),
            zone: Tz::UTC,
        }
    }

    /// The incident the commands make, each `(minutes after t0, text)`.
    fn incident(commands: &[(i64, &str)]) -> Incident {
        let channel = ChannelRef::new(Platform::Console, "c");
        let events = commands
            .iter()
            .enumerate()
            .map(|(i, (minutes, text))| ChatEvent {
                channel: channel.clone(),
                message: MessageId::new(format!("m{i}")),
                at: t0() + Duration::minutes(*minutes),
                kind: EventKind::Posted {
                    author: Author::human("U1", "alice"),
                    text: text.to_string(),
                    thread: None,
                },
            });
        fold(events, &Settings::default())
            .incidents
            .pop()
            .expect("an incident")
    }

    fn kinds(due: &[Due]) -> Vec<(Reminder, DateTime<Utc>)> {
        due.iter().map(|d| (d.reminder, d.at)).collect()
    }

    #[test]
    fn an_open_incident_is_reminded_of_its_lead_severity_and_updates() {
        let open = incident(&[(0, "/incident start db down")]);
        assert_eq!(
            kinds(&rules().schedule(&open)),
            vec![
                (Reminder::NoLead, t0() + Duration::minutes(10)),
                (Reminder::NoSeverity, t0() + Duration::minutes(10)),
                (Reminder::NoUpdate, t0() + Duration::minutes(30)),
            ]
        );
        // Naming the lead is a timeline entry: the silence counts from it.
        let led = incident(&[
            (0, "/incident start db down sev1"),
            (2, "/incident lead bob"),
        ]);
        assert_eq!(
            kinds(&rules().schedule(&led)),
            vec![(Reminder::NoUpdate, t0() + Duration::minutes(32))]
        );
    }

    #[test]
    fn a_reminder_whose_reason_is_gone_does_nothing() {
        let open = incident(&[(0, "/incident start db down")]);
        let no_lead = rules().schedule(&open).remove(0);
        let at = t0() + Duration::minutes(10);
        assert!(
            matches!(rules().fire(&open, &no_lead, at), Fire::Post { text, .. } if text.contains("@alice") && text.contains("no lead"))
        );
        let led = incident(&[(0, "/incident start db down"), (5, "/incident lead bob")]);
        assert_eq!(rules().fire(&led, &no_lead, at), Fire::Drop);
        let closed = incident(&[(0, "/incident start db down"), (5, "/incident close")]);
        assert_eq!(rules().fire(&closed, &no_lead, at), Fire::Drop);
    }

    #[test]
    fn no_update_waits_for_the_latest_entry_and_repeats_while_it_holds() {
        let quiet = incident(&[
            (0, "/incident start db down sev2"),
            (20, "/timeline restarted"),
        ]);
        let first = rules().schedule(&incident(&[(0, "/incident start db down sev2")]));
        let first = first
            .iter()
            .find(|d| d.reminder == Reminder::NoUpdate)
            .unwrap();
        // An entry at +20 moves it to +50.
        let at = t0() + Duration::minutes(30);
        assert_eq!(
            rules().fire(&quiet, first, at),
            Fire::Later(Due {
                at: t0() + Duration::minutes(50),
                ..first.clone()
            })
        );
        let at = t0() + Duration::minutes(50);
        let Fire::Post { text, next } = rules().fire(&quiet, first, at) else {
            panic!("a post")
        };
        assert!(text.contains("30 minutes"), "{text}");
        assert_eq!(next.unwrap().at, at + Duration::minutes(30));
        // A sev3 incident is only checked again.
        let minor = incident(&[(0, "/incident start db down sev3")]);
        assert!(matches!(rules().fire(&minor, first, at), Fire::Later(_)));
    }

    #[test]
    fn postmortem_reminders_follow_the_due_date_and_quiet_hours() {
        let closed = incident(&[
            (0, "/incident start db down sev2"),
            (5, "/incident lead bob"),
            (60, "/incident close"),
            (61, "/incident postmortem due 2026-03-16"),
        ]);
        let due = rules().schedule(&closed);
        let day = Utc.with_ymd_and_hms(2026, 3, 16, 0, 0, 0).unwrap();
        // A day before the due date starts is 00:00 on the 15th: quiet until 07:00.
        assert_eq!(
            kinds(&due),
            vec![
                (
                    Reminder::PostmortemDue,
                    day - Duration::days(1) + Duration::hours(7)
                ),
                (Reminder::PostmortemOverdue, day + Duration::hours(9)),
            ]
        );
        assert_eq!(
            due[0].key(),
            format!("postmortem_due.2026-03-16@{}", due[0].at.timestamp())
        );
        let overdue = &due[1];
        let Fire::Post { text, next } = rules().fire(&closed, overdue, overdue.at) else {
            panic!("a post")
        };
        assert!(text.starts_with("@bob"), "{text}");
        let next = next.unwrap();
        assert_eq!((next.round, next.at), (2, overdue.at + Duration::days(2)));
        assert_eq!(
            next.key(),
            format!("postmortem_overdue.2026-03-16@{}#2", next.at.timestamp())
        );
        let last = Due {
            round: OVERDUE_ROUNDS,
            ..next.clone()
        };
        assert!(matches!(
            rules().fire(&closed, &last, last.at),
            Fire::Post { next: None, .. }
        ));
        // Published, or due another day: nothing.
        let published = incident(&[
            (0, "/incident start db down"),
            (60, "/incident close"),
            (61, "/incident postmortem due 2026-03-16"),
            (62, "/incident postmortem published"),
        ]);
        assert_eq!(rules().fire(&published, overdue, overdue.at), Fire::Drop);
        let moved = incident(&[
            (0, "/incident start db down"),
            (60, "/incident close"),
            (61, "/incident postmortem due 2026-03-20"),
        ]);
        assert_eq!(rules().fire(&moved, overdue, overdue.at), Fire::Drop);
        // Fired at 23:00 (the server was down): it waits for 07:00.
        let late = Utc.with_ymd_and_hms(2026, 3, 16, 23, 0, 0).unwrap();
        assert_eq!(
            rules().fire(&closed, overdue, late),
            Fire::Later(Due {
                at: Utc.with_ymd_and_hms(2026, 3, 17, 7, 0, 0).unwrap(),
                ..overdue.clone()
            })
        );
    }

    #[test]
    fn an_action_is_reminded_on_its_due_date_unless_done() {
        let closed = incident(&[
            (0, "/incident start db down"),
            (30, "/incident action add a replica @carol due 2026-03-12"),
            (60, "/incident close"),
        ]);
        let due: Vec<_> = rules()
            .schedule(&closed)
            .into_iter()
            .filter(|d| d.reminder == Reminder::ActionDue)
            .collect();
        assert_eq!(due.len(), 1);
        assert!(due[0].key().starts_with("action_due.1.2026-03-12@"));
        assert!(
            matches!(rules().fire(&closed, &due[0], due[0].at), Fire::Post { text, .. } if text.starts_with("@carol"))
        );
        let done = incident(&[
            (0, "/incident start db down"),
            (30, "/incident action add a replica @carol due 2026-03-12"),
            (60, "/incident close"),
            (61, "/incident action done 1"),
        ]);
        assert_eq!(rules().fire(&done, &due[0], due[0].at), Fire::Drop);
    }

    #[test]
    fn quiet_hours_delay_only_what_can_wait() {
        let rules = rules();
        let night = Utc.with_ymd_and_hms(2026, 3, 10, 23, 30, 0).unwrap();
        let morning = Utc.with_ymd_and_hms(2026, 3, 11, 7, 0, 0).unwrap();
        assert_eq!(rules.after_quiet(Reminder::NotClosed, night), morning);
        assert_eq!(rules.after_quiet(Reminder::NoLead, night), night);
        let early = Utc.with_ymd_and_hms(2026, 3, 11, 3, 0, 0).unwrap();
        assert_eq!(rules.after_quiet(Reminder::ActionDue, early), morning);
        let noon = Utc.with_ymd_and_hms(2026, 3, 11, 12, 0, 0).unwrap();
        assert_eq!(rules.after_quiet(Reminder::ActionDue, noon), noon);
        let berlin = Rules {
            zone: chrono_tz::Europe::Berlin,
            ..rules
        };
        // 05:30 UTC is 06:30 in Berlin in March: quiet until 07:00 Berlin, 06:00 UTC.
        let dawn = Utc.with_ymd_and_hms(2026, 3, 11, 5, 30, 0).unwrap();
        assert_eq!(
            berlin.after_quiet(Reminder::ActionDue, dawn),
            Utc.with_ymd_and_hms(2026, 3, 11, 6, 0, 0).unwrap()
        );
    }
}
