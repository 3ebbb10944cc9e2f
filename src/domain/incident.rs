//! An incident's state: what the fold over a channel's events says about one incident.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::event::{ChannelRef, MessageId};
use super::participant::Participant;
use super::severity::Severity;
use super::timeline::TimelineEntry;

/// Open until impact ends (resolved), then closed when the response is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Resolved,
    Closed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }
}

/// A follow-up someone committed to in the channel (`/incident action`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub text: String,
    pub owner: Option<String>,
    pub added_by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub channel: ChannelRef,
    /// The `/incident start` message: what makes this incident this one.
    pub opened_by: MessageId,
    pub title: String,
    pub severity: Option<Severity>,
    pub started_at: DateTime<Utc>,
    pub started_by: String,
    pub lead: Option<String>,
    pub impact: Option<String>,
    pub summary: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_note: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Sorted by time.
    pub timeline: Vec<TimelineEntry>,
    /// Sorted by name.
    pub participants: Vec<Participant>,
    pub actions: Vec<Action>,
}

impl Incident {
    pub fn status(&self) -> Status {
        if self.closed_at.is_some() {
            Status::Closed
        } else if self.resolved_at.is_some() {
            Status::Resolved
        } else {
            Status::Open
        }
    }

    /// Who the postmortem names as author: the lead, else whoever started the incident.
    pub fn author(&self) -> &str {
        self.lead.as_deref().unwrap_or(&self.started_by)
    }

    /// Start to resolve: how long the impact lasted, as far as the channel knows.
    pub fn time_to_resolve(&self) -> Option<Duration> {
        self.resolved_at.map(|t| t - self.started_at)
    }

    /// Start to close.
    pub fn time_open(&self) -> Option<Duration> {
        self.closed_at.map(|t| t - self.started_at)
    }
}
