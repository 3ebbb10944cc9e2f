//! The incident as data: the JSON that `scribe draft --format json` prints and the HTTP API
//! serves. Text is as decoded from chat (JSON consumers escape for their own medium).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::{
    EntrySource, Horizon, Incident, Issue, Participant, PersonLoad, PostmortemState, Reference,
    Severity, Status, StoryItem,
};

#[derive(Debug, Clone, Serialize)]
pub struct IncidentDocument {
    pub title: String,
    pub severity: Option<Severity>,
    pub status: Status,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Whole minutes from start to resolve; `None` while unresolved.
    pub duration_minutes: Option<i64>,
    pub author: String,
    pub lead: Option<String>,
    pub summary: Option<String>,
    pub impact: Option<String>,
    /// Hidden entries too (`hidden: true`), in time order.
    pub timeline: Vec<EntryDocument>,
    /// Sorted by name.
    pub participants: Vec<Participant>,
    pub factors: Vec<StoryItem>,
    pub worked: Vec<StoryItem>,
    pub improve: Vec<StoryItem>,
    pub references: Vec<Reference>,
    pub actions: Vec<ActionDocument>,
    pub team_impact: TeamImpactDocument,
    pub channel: String,
    /// Once the incident is closed: who writes the postmortem, by when, how far it is.
    pub postmortem: Option<PostmortemDocument>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PostmortemDocument {
    pub owner: String,
    pub due: Option<NaiveDate>,
    pub state: PostmortemState,
    /// The pull request that carries it, once one was opened.
    pub pull_request: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryDocument {
    pub n: u32,
    pub at: DateTime<Utc>,
    pub author: String,
    pub text: String,
    pub source: EntrySource,
    pub hidden: bool,
    pub original_text: Option<String>,
    pub original_at: Option<DateTime<Utc>>,
    pub edited_by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionDocument {
    pub n: u32,
    pub text: String,
    pub owner: Option<String>,
    pub horizon: Horizon,
    /// `YYYY-MM-DD`.
    pub due: Option<NaiveDate>,
    pub done: bool,
    pub hidden: bool,
    /// Its issue in the tracker, once there is one.
    pub issue: Option<Issue>,
}

/// Estimates from who wrote when (see `domain::team_impact`).
#[derive(Debug, Clone, Serialize)]
pub struct TeamImpactDocument {
    pub people: usize,
    /// One decimal.
    pub person_hours: f64,
    pub outside_hours: Vec<String>,
    pub zones_known: bool,
    pub per_person: Vec<PersonLoad>,
}

impl IncidentDocument {
    /// `channel` is the name people know the channel by; `today` (the team's day) says
    /// whether the postmortem is overdue (`None`: its stage only).
    pub fn new(incident: &Incident, channel: &str, today: Option<NaiveDate>) -> Self {
        IncidentDocument {
            title: incident.title.clone(),
            severity: incident.severity,
            status: incident.status(),
            started_at: incident.started_at,
            resolved_at: incident.resolved_at,
            closed_at: incident.closed_at,
            duration_minutes: incident.time_to_resolve().map(|d| d.num_minutes()),
            author: incident.author().to_string(),
            lead: incident.lead.clone(),
            summary: incident.summary.clone(),
            impact: incident.impact.clone(),
            timeline: incident
                .timeline
                .iter()
                .map(|e| EntryDocument {
                    n: e.n,
                    at: e.at,
                    author: e.author.clone(),
                    text: e.text.clone(),
                    source: e.source,
                    hidden: e.hidden,
                    original_text: e.original_text.clone(),
                    original_at: e.original_at,
                    edited_by: e.edited_by.clone(),
                })
                .collect(),
            participants: incident.participants.clone(),
            factors: incident.factors.clone(),
            worked: incident.worked.clone(),
            improve: incident.improve.clone(),
            references: incident.references.clone(),
            actions: incident
                .actions
                .iter()
                .map(|a| ActionDocument {
                    n: a.n,
                    text: a.text.clone(),
                    owner: a.owner.clone(),
                    horizon: a.horizon,
                    due: a.due,
                    done: a.done,
                    hidden: a.hidden,
                    issue: a.issue.clone(),
                })
                .collect(),
            team_impact: TeamImpactDocument {
                people: incident.participants.len(),
                person_hours: incident.team_impact.person_hours(),
                outside_hours: incident.team_impact.outside_hours.clone(),
                zones_known: incident.team_impact.zones_known,
                per_person: incident.team_impact.per_person.clone(),
            },
            channel: channel.to_string(),
            postmortem: incident.closed_at.map(|_| {
                let due = incident.postmortem.due;
                PostmortemDocument {
                    owner: incident.postmortem_owner().to_string(),
                    due,
                    state: incident
                        .postmortem_state(today.and(due), today.unwrap_or(NaiveDate::MIN)),
                    pull_request: incident.postmortem.pull.clone(),
                }
            }),
        }
    }
}
