//! The incident as data: the JSON that `scribe draft --format json` prints and the HTTP API
//! serves. Text is as decoded from chat (JSON consumers escape for their own medium).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{EntrySource, Incident, Participant, Severity, Status};

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
    pub timeline: Vec<EntryDocument>,
    /// Sorted by name.
    pub participants: Vec<Participant>,
    pub actions: Vec<ActionDocument>,
    pub channel: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryDocument {
    pub at: DateTime<Utc>,
    pub author: String,
    pub text: String,
    pub source: EntrySource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_text: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ActionDocument {
    pub text: String,
    pub owner: Option<String>,
}

impl IncidentDocument {
    /// `channel` is the name people know the channel by.
    pub fn new(incident: &Incident, channel: &str) -> Self {
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
                    at: e.at,
                    author: e.author.clone(),
                    text: e.text.clone(),
                    source: e.source,
                    original_text: e.original_text.clone(),
                })
                .collect(),
            participants: incident.participants.clone(),
            actions: incident
                .actions
                .iter()
                .map(|a| ActionDocument {
                    text: a.text.clone(),
                    owner: a.owner.clone(),
                })
                .collect(),
            channel: channel.to_string(),
        }
    }
}
