//! An incident's state: what the fold over a channel's events says about one incident.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::event::{ChannelRef, MessageId, Platform};
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

/// Names an incident everywhere: its channel and the message that started it, written
/// `platform:channel:message` (e.g. `slack:C0EB7KJ5V:1445439680.028328`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IncidentId {
    pub channel: ChannelRef,
    pub opened_by: MessageId,
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.channel, self.opened_by)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an incident id (platform:channel:message, e.g. slack:C0EB7KJ5V:1445439680.028328)"
)]
pub struct InvalidIncidentId(pub String);

impl FromStr for IncidentId {
    type Err = InvalidIncidentId;

    /// Message ids may hold `:` (a slash command's `cmd:<trigger>`); platforms and channel ids
    /// do not.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidIncidentId(s.to_string());
        let (platform, rest) = s.split_once(':').ok_or_else(invalid)?;
        let (channel, message) = rest.split_once(':').ok_or_else(invalid)?;
        let platform = Platform::parse(platform).ok_or_else(invalid)?;
        if channel.is_empty() || message.is_empty() {
            return Err(invalid());
        }
        Ok(IncidentId {
            channel: ChannelRef::new(platform, channel),
            opened_by: MessageId::new(message),
        })
    }
}

impl Incident {
    pub fn id(&self) -> IncidentId {
        IncidentId {
            channel: self.channel.clone(),
            opened_by: self.opened_by.clone(),
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_ids_round_trip_through_text() {
        for text in [
            "slack:C0EB7KJ5V:1445439680.028328",
            "discord:106403620454531074:106406472698691588",
            "slack:C0CHECKOUT:cmd:13345224609.738474920.8088930838d88f008e0",
        ] {
            let id: IncidentId = text.parse().unwrap();
            assert_eq!(id.to_string(), text);
        }
        let id: IncidentId = "slack:C1:cmd:t.1".parse().unwrap();
        assert_eq!(
            (id.channel.id.as_str(), id.opened_by.as_str()),
            ("C1", "cmd:t.1")
        );
    }

    #[test]
    fn malformed_ids_are_refused() {
        for text in [
            "",
            "slack",
            "slack:C1",
            "teams:C1:1",
            "slack::1",
            "slack:C1:",
        ] {
            assert!(text.parse::<IncidentId>().is_err(), "{text:?}");
        }
    }
}
