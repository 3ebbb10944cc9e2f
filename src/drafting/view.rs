//! What a template sees: every user text already made inert ([`markdown::inline`]) and every
//! time already formatted, so a user's own template cannot forget to escape.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::markdown::{diagram_label, inline, link_target};
use crate::domain::{EntrySource, Horizon, Incident, StoryItem, StoryList};

#[derive(Debug, Serialize)]
pub struct DraftView {
    pub title: String,
    /// `YYYY-MM-DD`, the UTC day the incident started.
    pub date: String,
    /// `HH:MM to HH:MM (X hours Y minutes)`, start to resolve.
    pub duration: String,
    /// Start to resolve, for the Impact section; `None` while unknown.
    pub impact_duration: Option<String>,
    pub severity: Option<String>,
    pub status: &'static str,
    /// `@name`: the lead, else whoever started the incident.
    pub author: String,
    pub summary: Option<String>,
    /// The facts (`summary`, `impact`) whose text was accepted from a language model's
    /// suggestion: the draft says so.
    pub assisted: Vec<&'static str>,
    pub impact: Option<String>,
    pub time_to_resolve: Option<String>,
    pub time_open: Option<String>,
    /// The team's zone when it is not UTC.
    pub team_zone: Option<String>,
    /// The entries not hidden.
    pub timeline: Vec<EntryView>,
    pub participants: Vec<ParticipantView>,
    pub team: TeamView,
    pub factors: Vec<ItemView>,
    pub worked: Vec<ItemView>,
    pub improve: Vec<ItemView>,
    /// Actions not hidden, by horizon.
    pub actions_now: Vec<ActionView>,
    pub actions: Vec<ActionView>,
    pub actions_long: Vec<ActionView>,
    pub references: ReferencesView,
    pub channel: String,
    /// A Mermaid flowchart of the incident's key moments.
    pub diagram: String,
    /// Who writes the postmortem, by when, and how far it is; `None` before the close.
    pub postmortem: Option<PostmortemView>,
}

#[derive(Debug, Serialize)]
pub struct PostmortemView {
    /// `@name`.
    pub owner: String,
    /// `YYYY-MM-DD`.
    pub due: Option<String>,
    /// `draft`, `in review`, `published` or `overdue`.
    pub state: &'static str,
}

#[derive(Debug, Serialize)]
pub struct EntryView {
    /// `HH:MM` UTC, with the date in front when the incident spans days.
    pub time: String,
    /// The same moment in the team's zone, when it is not UTC.
    pub local_time: Option<String>,
    pub text: String,
    pub author: String,
    pub source: EntrySource,
}

#[derive(Debug, Serialize)]
pub struct ParticipantView {
    pub name: String,
    pub messages: u32,
    /// `HH:MM to HH:MM`: their first and last message between start and close.
    pub active: Option<String>,
}

/// The team impact the messages show, as estimates.
#[derive(Debug, Serialize)]
pub struct TeamView {
    /// `3.5`.
    pub person_hours: String,
    /// Names (inert), of people active between 22:00 and 07:00 in their own zone.
    pub outside_hours: Vec<String>,
    /// Whether every person's zone is known.
    pub zones_known: bool,
}

#[derive(Debug, Serialize)]
pub struct ItemView {
    /// The number the commands use.
    pub n: u32,
    pub text: String,
    /// Accepted from a language model's suggestion.
    pub assisted: bool,
}

#[derive(Debug, Serialize)]
pub struct ActionView {
    pub n: u32,
    pub text: String,
    /// `@name`, when the action has an owner.
    pub owner: Option<String>,
    /// `YYYY-MM-DD`.
    pub due: Option<String>,
    pub done: bool,
    /// Its issue in the tracker (`#123`, `OPS-45`), as a markdown link when its page is known.
    pub issue: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct ReferencesView {
    pub alert: Vec<String>,
    pub dashboard: Vec<String>,
    pub pr: Vec<String>,
    /// Labels of the team's own.
    pub other: Vec<ReferenceView>,
}

#[derive(Debug, Serialize)]
pub struct ReferenceView {
    pub label: String,
    pub text: String,
}

/// Where the draft's incident happened, as people name it.
#[derive(Debug, Clone)]
pub struct Place {
    pub channel: String,
    pub platform: &'static str,
    pub team_zone: Tz,
    /// The team's day the draft is made on, which says whether the postmortem is overdue;
    /// `None` (a replayed export): its stage only.
    pub today: Option<NaiveDate>,
}

impl DraftView {
    pub fn new(incident: &Incident, place: &Place) -> Self {
        let zone = (place.team_zone != Tz::UTC).then_some(place.team_zone);
        let spans_days = incident
            .visible_timeline()
            .map(|e| e.at)
            .chain(incident.closed_at)
            .any(|t| t.date_naive() != incident.started_at.date_naive());
        let clock = |t: DateTime<Utc>| {
            if spans_days {
                t.format("%Y-%m-%d %H:%M").to_string()
            } else {
                t.format("%H:%M").to_string()
            }
        };
        let duration = match incident.resolved_at {
            Some(resolved) => format!(
                "{} to {} ({})",
                clock(incident.started_at),
                clock(resolved),
                human_duration(resolved - incident.started_at)
            ),
            None if incident.closed_at.is_some() => format!(
                "{} to unknown (resolution time unknown: closed without /incident resolve)",
                clock(incident.started_at)
            ),
            None => format!("{} to now (ongoing)", clock(incident.started_at)),
        };
        DraftView {
            title: inline(&incident.title),
            date: incident.started_at.format("%Y-%m-%d").to_string(),
            duration,
            impact_duration: incident.time_to_resolve().map(human_duration),
            severity: incident.severity.map(|s| s.to_string()),
            status: incident.status().as_str(),
            author: inline(&format!("@{}", incident.author())),
            summary: incident.summary.as_deref().map(inline),
            assisted: incident.assisted.iter().copied().collect(),
            impact: incident.impact.as_deref().map(inline),
            time_to_resolve: incident.time_to_resolve().map(human_duration),
            time_open: incident.time_open().map(human_duration),
            team_zone: zone.map(|z| z.name().to_string()),
            timeline: incident
                .visible_timeline()
                .map(|e| EntryView {
                    time: clock(e.at),
                    local_time: zone.map(|z| e.at.with_timezone(&z).format("%H:%M %Z").to_string()),
                    text: inline(&e.text),
                    author: inline(&e.author),
                    source: e.source,
                })
                .collect(),
            participants: incident
                .participants
                .iter()
                .map(|p| ParticipantView {
                    name: inline(&p.name),
                    messages: p.messages,
                    active: incident
                        .team_impact
                        .per_person
                        .iter()
                        .find(|load| load.name == p.name)
                        .map(|load| format!("{} to {}", clock(load.first), clock(load.last))),
                })
                .collect(),
            team: TeamView {
                person_hours: format!("{:.1}", incident.team_impact.person_hours()),
                outside_hours: incident
                    .team_impact
                    .outside_hours
                    .iter()
                    .map(|name| inline(name))
                    .collect(),
                zones_known: incident.team_impact.zones_known,
            },
            factors: items(incident, StoryList::Factors),
            worked: items(incident, StoryList::Worked),
            improve: items(incident, StoryList::Improve),
            actions_now: actions(incident, Horizon::Now),
            actions: actions(incident, Horizon::Short),
            actions_long: actions(incident, Horizon::Long),
            references: references(incident),
            channel: inline(&format!("#{} ({})", place.channel, place.platform)),
            diagram: diagram(incident, &clock),
            postmortem: incident.closed_at.map(|_| PostmortemView {
                owner: inline(&format!("@{}", incident.postmortem_owner())),
                due: incident
                    .postmortem
                    .due
                    .map(|d| d.format("%Y-%m-%d").to_string()),
                state: match place.today {
                    Some(today) => incident.postmortem_state(incident.postmortem.due, today),
                    None => incident.postmortem_state(None, NaiveDate::MIN),
                }
                .words(),
            }),
        }
    }
}

fn items(incident: &Incident, list: StoryList) -> Vec<ItemView> {
    incident
        .story(list)
        .iter()
        .filter(|item| !item.hidden)
        .map(
            |StoryItem {
                 n, text, assisted, ..
             }| ItemView {
                n: *n,
                text: inline(text),
                assisted: *assisted,
            },
        )
        .collect()
}

fn actions(incident: &Incident, horizon: Horizon) -> Vec<ActionView> {
    incident
        .actions
        .iter()
        .filter(|a| a.horizon == horizon && !a.hidden)
        .map(|a| ActionView {
            n: a.n,
            text: inline(&a.text),
            owner: a.owner.as_deref().map(|o| inline(&format!("@{o}"))),
            due: a.due.map(|d| d.format("%Y-%m-%d").to_string()),
            done: a.done,
            issue: a
                .issue
                .as_ref()
                .map(|issue| match issue.url.as_deref().and_then(link_target) {
                    Some(url) => format!("[{}]({url})", inline(&issue.key)),
                    None => inline(&issue.key),
                }),
        })
        .collect()
}

fn references(incident: &Incident) -> ReferencesView {
    let mut view = ReferencesView::default();
    for reference in incident.references.iter().filter(|r| !r.hidden) {
        let text = inline(&reference.text);
        match reference.label.as_str() {
            "alert" => view.alert.push(text),
            "dashboard" => view.dashboard.push(text),
            "pr" => view.pr.push(text),
            label => view.other.push(ReferenceView {
                label: inline(label),
                text,
            }),
        }
    }
    view
}

/// `1 hour 5 minutes`, `59 minutes`, `2 days 3 hours`.
pub fn human_duration(d: Duration) -> String {
    let minutes = d.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let unit = |n: i64, word: &str| match n {
        1 => format!("1 {word}"),
        n => format!("{n} {word}s"),
    };
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(unit(days, "day"));
    }
    if hours > 0 {
        parts.push(unit(hours, "hour"));
    }
    if mins > 0 || parts.is_empty() {
        parts.push(unit(mins, "minute"));
    }
    parts.join(" ")
}

/// The moments worth a picture: state changes and what people pinned, at most a dozen.
fn diagram(incident: &Incident, clock: &dyn Fn(DateTime<Utc>) -> String) -> String {
    const MAX_NODES: usize = 12;
    let events = incident
        .visible_timeline()
        .filter(|e| e.source == EntrySource::Event)
        .count();
    let mut room_for_pins = MAX_NODES.saturating_sub(events);
    let nodes: Vec<String> = incident
        .visible_timeline()
        .filter(|e| match e.source {
            EntrySource::Event => true,
            EntrySource::Pin | EntrySource::Reaction if room_for_pins > 0 => {
                room_for_pins -= 1;
                true
            }
            _ => false,
        })
        .enumerate()
        .map(|(i, e)| format!("    n{i}[\"{} {}\"]", clock(e.at), diagram_label(&e.text)))
        .collect();
    let mut out = String::from("flowchart TD\n");
    out.push_str(&nodes.join("\n"));
    for i in 1..nodes.len() {
        out.push_str(&format!("\n    n{} --> n{i}", i - 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(human_duration(Duration::minutes(59)), "59 minutes");
        assert_eq!(human_duration(Duration::minutes(60)), "1 hour");
        assert_eq!(human_duration(Duration::minutes(89)), "1 hour 29 minutes");
        assert_eq!(human_duration(Duration::minutes(1)), "1 minute");
        assert_eq!(human_duration(Duration::seconds(30)), "0 minutes");
        assert_eq!(
            human_duration(Duration::minutes(1440 + 125)),
            "1 day 2 hours 5 minutes"
        );
    }
}
