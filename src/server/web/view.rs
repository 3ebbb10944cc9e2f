//! What the web templates see: incidents, entries and messages as plain data, every time in
//! UTC with the team's zone beside it. Text stays as people wrote it: the templates escape it.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::known::{Said, conversation};
use crate::domain::{ChatEvent, EntrySource, Incident, MessageId, Severity, Stage};
use crate::drafting::view::human_duration;

/// `14:05 UTC`, with the date when `with_date`.
pub fn utc(at: DateTime<Utc>, with_date: bool) -> String {
    if with_date {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    } else {
        at.format("%H:%M UTC").to_string()
    }
}

/// The same moment in the team's zone, when that is not UTC.
pub fn local(at: DateTime<Utc>, zone: Tz) -> Option<String> {
    (zone != Tz::UTC).then(|| at.with_timezone(&zone).format("%H:%M %Z").to_string())
}

/// The incident page's path: the id, encoded.
pub fn href(incident: &Incident) -> String {
    crate::app::incident_path(&incident.id())
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub href: String,
    pub title: String,
    pub severity: Option<&'static str>,
    pub severity_label: Option<String>,
    pub status: &'static str,
    pub started: String,
    pub duration: Option<String>,
    pub lead: Option<String>,
    /// Once closed: the postmortem's state, owner and due date.
    pub postmortem: Option<PostmortemView>,
}

/// An incident a search found, or one like the incident shown.
#[derive(Debug, Serialize)]
pub struct HitView {
    pub href: String,
    pub title: String,
    pub severity: Option<String>,
    pub started: String,
    pub duration: Option<String>,
    /// Where the words matched: text pieces, `true` for a match (marked up by the template,
    /// escaped like any text).
    pub snippet: Vec<(String, bool)>,
}

impl HitView {
    pub fn new(hit: &crate::search::Hit) -> HitView {
        HitView {
            href: hit
                .incident_id()
                .map_or_else(|| "/".to_string(), |id| crate::app::incident_path(&id)),
            title: hit.title.clone(),
            severity: hit.severity.clone(),
            started: utc(hit.started_at, true),
            duration: hit
                .duration_minutes
                .map(|m| human_duration(chrono::Duration::minutes(m))),
            snippet: crate::search::pieces(&hit.snippet),
        }
    }
}

/// The postmortem's state as the pages show it.
#[derive(Debug, Serialize)]
pub struct PostmortemView {
    /// `draft`, `in_review`, `published`, `overdue`.
    pub state: &'static str,
    /// `in review`.
    pub words: &'static str,
    pub owner: String,
    pub due: Option<String>,
    pub pull: Option<String>,
    /// In review (overdue or not): the next step is "published".
    pub in_review: bool,
}

impl PostmortemView {
    fn new(incident: &Incident, today: NaiveDate) -> Option<PostmortemView> {
        incident.closed_at?;
        let state = incident.postmortem_state(incident.postmortem.due, today);
        Some(PostmortemView {
            state: state.as_str(),
            words: state.words(),
            owner: incident.postmortem_owner().to_string(),
            due: incident
                .postmortem
                .due
                .map(|d| d.format("%Y-%m-%d").to_string()),
            pull: incident.postmortem.pull.clone(),
            in_review: incident.postmortem.stage == Stage::InReview,
        })
    }
}

impl Row {
    pub fn new(incident: &Incident, today: NaiveDate) -> Row {
        Row {
            href: href(incident),
            title: incident.title.clone(),
            severity: incident.severity.map(Severity::code),
            severity_label: incident.severity.map(|s| s.to_string()),
            status: incident.status().as_str(),
            started: utc(incident.started_at, true),
            duration: incident.time_to_resolve().map(human_duration),
            lead: incident.lead.clone(),
            postmortem: PostmortemView::new(incident, today),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EntryView {
    pub n: u32,
    pub time: String,
    pub local_time: Option<String>,
    /// `HH:MM:SS` in the team's zone, for the move field.
    pub clock: String,
    pub author: String,
    pub text: String,
    pub source: EntrySource,
    pub event: bool,
    pub hidden: bool,
    pub original_text: Option<String>,
    pub original_time: Option<String>,
    pub edited_by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MessageView {
    pub id: String,
    pub time: String,
    pub author: String,
    pub text: String,
    /// Already a timeline entry.
    pub entry: bool,
    pub replies: Vec<MessageView>,
}

/// One incident's page.
#[derive(Debug, Serialize)]
pub struct IncidentView {
    pub href: String,
    pub title: String,
    pub severity: Option<&'static str>,
    pub severity_label: Option<String>,
    pub status: &'static str,
    pub lead: Option<String>,
    pub started: String,
    pub started_local: Option<String>,
    pub resolved: Option<String>,
    pub closed: Option<String>,
    pub time_to_resolve: Option<String>,
    pub time_open: Option<String>,
    pub summary: Option<String>,
    pub impact: Option<String>,
    pub zone: Option<String>,
    pub entries: Vec<EntryView>,
    pub hidden: Vec<EntryView>,
    pub messages: Vec<MessageView>,
    pub person_hours: String,
    pub people: usize,
    /// Who last set each fact.
    pub set_by: std::collections::BTreeMap<&'static str, String>,
    pub postmortem: Option<PostmortemView>,
}

impl IncidentView {
    pub fn new(
        incident: &Incident,
        zone: Tz,
        today: NaiveDate,
        messages: Vec<MessageView>,
    ) -> IncidentView {
        let spans_days = incident
            .timeline
            .iter()
            .map(|e| e.at)
            .chain(incident.closed_at)
            .any(|t| t.date_naive() != incident.started_at.date_naive());
        let (hidden, entries): (Vec<EntryView>, Vec<EntryView>) = incident
            .timeline
            .iter()
            .map(|e| EntryView {
                n: e.n,
                time: utc(e.at, spans_days),
                local_time: local(e.at, zone),
                clock: e.at.with_timezone(&zone).format("%H:%M:%S").to_string(),
                author: e.author.clone(),
                text: e.text.clone(),
                source: e.source,
                event: e.source == EntrySource::Event,
                hidden: e.hidden,
                original_text: e.original_text.clone(),
                original_time: e.original_at.map(|t| utc(t, true)),
                edited_by: e.edited_by.clone(),
            })
            .partition(|e| e.hidden);
        IncidentView {
            href: href(incident),
            title: incident.title.clone(),
            severity: incident.severity.map(Severity::code),
            severity_label: incident.severity.map(|s| s.to_string()),
            status: incident.status().as_str(),
            lead: incident.lead.clone(),
            started: utc(incident.started_at, true),
            started_local: local(incident.started_at, zone),
            resolved: incident.resolved_at.map(|t| utc(t, true)),
            closed: incident.closed_at.map(|t| utc(t, true)),
            time_to_resolve: incident.time_to_resolve().map(human_duration),
            time_open: incident.time_open().map(human_duration),
            summary: incident.summary.clone(),
            impact: incident.impact.clone(),
            zone: (zone != Tz::UTC).then(|| zone.name().to_string()),
            entries,
            hidden,
            messages,
            person_hours: format!("{:.1}", incident.team_impact.person_hours()),
            people: incident.participants.len(),
            set_by: incident.set_by.clone(),
            postmortem: PostmortemView::new(incident, today),
        }
    }
}

/// The channel's messages of `incident` as people read them (see [`conversation`]), replies
/// under their thread's first message.
pub fn messages(
    events: &[ChatEvent],
    incident: &Incident,
    after: Option<DateTime<Utc>>,
) -> Vec<MessageView> {
    let entries: std::collections::HashSet<&MessageId> = incident
        .timeline
        .iter()
        .filter(|e| e.source != EntrySource::Event)
        .map(|e| &e.message)
        .collect();
    let view = |message: &Said| MessageView {
        id: message.id.as_str().to_string(),
        time: utc(message.at, false),
        author: message.author.clone(),
        text: message.text.clone(),
        entry: entries.contains(&message.id),
        replies: Vec::new(),
    };
    let mut roots: Vec<MessageView> = Vec::new();
    let mut root_index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let said = conversation(events, incident, after);
    for message in &said {
        let parent = message
            .thread
            .as_ref()
            .filter(|root| **root != message.id)
            .and_then(|root| root_index.get(root.as_str()).copied());
        match parent {
            Some(i) => roots[i].replies.push(view(message)),
            None => {
                root_index.insert(message.id.as_str(), roots.len());
                roots.push(view(message));
            }
        }
    }
    roots
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Author, ChannelRef, EventKind, Platform, Settings, fold};

    fn at(minute: i64) -> DateTime<Utc> {
        "2024-03-09T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::minutes(minute)
    }

    fn posted(id: &str, minute: i64, text: &str, thread: Option<&str>) -> ChatEvent {
        ChatEvent {
            channel: ChannelRef::new(Platform::Console, "c"),
            message: MessageId::new(id),
            at: at(minute),
            kind: EventKind::Posted {
                author: Author::human("u", "Ana"),
                text: text.into(),
                thread: thread.map(MessageId::new),
            },
        }
    }

    #[test]
    fn messages_are_as_the_log_leaves_them_with_replies_folded_under_their_thread() {
        let mut events = vec![
            posted("0", -5, "before the window", None),
            posted("1", 0, "/incident start X", None),
            posted("2", 1, "the replica lags", None),
            posted("3", 2, "by 40 s", Some("2")),
            posted("4", 3, "oops", None),
            posted("web:ab", 4, "/timeline edit 2 x", None),
            posted("5", 5, "pinned finding", None),
        ];
        events.push(ChatEvent {
            kind: EventKind::Deleted,
            ..posted("4", 4, "", None)
        });
        events.push(ChatEvent {
            kind: EventKind::Edited {
                text: "the replica lags by 40 s".into(),
            },
            ..posted("2", 6, "", None)
        });
        events.push(ChatEvent {
            kind: EventKind::ReactionAdded {
                emoji: "pushpin".into(),
                user: crate::domain::UserId::new("u"),
            },
            ..posted("5", 7, "", None)
        });
        let incident = fold(events.clone(), &Settings::default())
            .incidents
            .remove(0);
        let shown = messages(&events, &incident, Some(at(-1)));
        let roots: Vec<(&str, &str, bool, usize)> = shown
            .iter()
            .map(|m| (m.id.as_str(), m.text.as_str(), m.entry, m.replies.len()))
            .collect();
        assert_eq!(
            roots,
            [
                ("2", "the replica lags by 40 s", false, 1),
                ("5", "pinned finding", true, 0)
            ]
        );
        assert_eq!(shown[0].replies[0].text, "by 40 s");
    }
}
