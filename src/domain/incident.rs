//! An incident's state: what the fold over a channel's events says about one incident.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::assist::Pending;
use super::event::{ChannelRef, MessageId, Platform};
use super::participant::Participant;
use super::severity::Severity;
use super::team_impact::TeamImpact;
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

    pub fn parse(word: &str) -> Option<Status> {
        [Status::Open, Status::Resolved, Status::Closed]
            .into_iter()
            .find(|s| s.as_str() == word)
    }
}

/// When an action is meant to be done, as the template's Actions headings say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Horizon {
    /// Already done during the response ("Immediate").
    Now,
    /// The next two weeks: the default.
    Short,
    /// The next quarter.
    Long,
}

impl Horizon {
    pub fn as_str(self) -> &'static str {
        match self {
            Horizon::Now => "now",
            Horizon::Short => "short",
            Horizon::Long => "long",
        }
    }
}

/// A follow-up someone committed to in the channel (`/incident action`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// 1, 2, 3 … in order of creation.
    pub n: u32,
    pub text: String,
    pub owner: Option<String>,
    pub horizon: Horizon,
    pub due: Option<NaiveDate>,
    pub done: bool,
    pub hidden: bool,
    pub added_by: String,
    pub at: DateTime<Utc>,
    /// The issue that tracks it in the team's tracker, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<Issue>,
}

/// An action's issue in the tracker: `#123` (GitHub) or `OPS-45` (Jira), and its page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub key: String,
    pub url: Option<String>,
}

/// How far the postmortem is, as people (or the pull request that carries it) say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    #[default]
    Draft,
    InReview,
    Published,
}

/// The postmortem's state as shown: its stage, or `overdue` when it is not published after its
/// due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostmortemState {
    Draft,
    InReview,
    Published,
    Overdue,
}

impl PostmortemState {
    pub const ALL: [PostmortemState; 4] = [
        PostmortemState::Draft,
        PostmortemState::InReview,
        PostmortemState::Published,
        PostmortemState::Overdue,
    ];

    /// As the JSON and the metrics write it.
    pub fn as_str(self) -> &'static str {
        match self {
            PostmortemState::Draft => "draft",
            PostmortemState::InReview => "in_review",
            PostmortemState::Published => "published",
            PostmortemState::Overdue => "overdue",
        }
    }

    /// As people read it.
    pub fn words(self) -> &'static str {
        match self {
            PostmortemState::Draft => "draft",
            PostmortemState::InReview => "in review",
            PostmortemState::Published => "published",
            PostmortemState::Overdue => "overdue",
        }
    }
}

/// What `/incident postmortem` set: an owner or due date given here wins over the defaults
/// (the lead; `[postmortem] due_after` after the close).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Postmortem {
    pub owner: Option<String>,
    pub due: Option<NaiveDate>,
    pub stage: Stage,
    /// The pull request that carries it, once one was opened.
    pub pull: Option<String>,
}

/// The story's numbered lists, as the template's "What we learned" headings say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoryList {
    /// Contributing factors.
    Factors,
    /// What worked well.
    Worked,
    /// What we could improve.
    Improve,
}

impl StoryList {
    /// What one item is called, in answers.
    pub fn item(self) -> &'static str {
        match self {
            StoryList::Factors => "contributing factor",
            StoryList::Worked => "item of what worked well",
            StoryList::Improve => "item of what to improve",
        }
    }

    /// The command word, in answers.
    pub fn command(self) -> &'static str {
        match self {
            StoryList::Factors => "factor",
            StoryList::Worked => "worked",
            StoryList::Improve => "improve",
        }
    }
}

/// One line of the story, written by a person in the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoryItem {
    /// 1, 2, 3 … in order of creation, per list.
    pub n: u32,
    pub text: String,
    pub author: String,
    pub hidden: bool,
    /// Accepted from a language model's suggestion (`/incident assist accept N`): `author`
    /// chose it, the words were proposed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub assisted: bool,
}

/// `/incident ref <label> <text>`: `alert`, `dashboard` and `pr` have their template lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// 1, 2, 3 … in order of creation.
    pub n: u32,
    pub label: String,
    pub text: String,
    pub hidden: bool,
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
    pub factors: Vec<StoryItem>,
    pub worked: Vec<StoryItem>,
    pub improve: Vec<StoryItem>,
    pub references: Vec<Reference>,
    pub actions: Vec<Action>,
    pub postmortem: Postmortem,
    /// Who spent how long, from the messages between start and close.
    pub team_impact: TeamImpact,
    /// Who last set each fact after the start (`title`, `severity`, `lead`, `impact`,
    /// `summary`): when two people change one, the later wins and is named.
    pub set_by: std::collections::BTreeMap<&'static str, String>,
    /// The facts (`summary`, `impact`) whose current text was accepted from a suggestion.
    pub assisted: std::collections::BTreeSet<&'static str>,
    /// `/incident private`: never sent to a language model.
    pub private: bool,
    /// Checked suggestions no one has accepted yet; never part of the draft.
    pub suggestions: Vec<Pending>,
    /// How many suggestions of the latest answer failed the checks.
    pub suggestions_dropped: u32,
    /// The number the next suggestion takes: numbers are never reused.
    pub next_suggestion: u32,
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

    /// Who writes the postmortem: whoever was named, else the author.
    pub fn postmortem_owner(&self) -> &str {
        self.postmortem
            .owner
            .as_deref()
            .unwrap_or_else(|| self.author())
    }

    /// When the postmortem is due: the date given, else `due_after` after the close (in the
    /// team's zone); none before the close unless one was given.
    pub fn postmortem_due(&self, due_after: Duration, zone: chrono_tz::Tz) -> Option<NaiveDate> {
        self.postmortem.due.or_else(|| {
            self.closed_at
                .map(|closed| (closed + due_after).with_timezone(&zone).date_naive())
        })
    }

    /// The state on `today` (in the team's zone): overdue once the due date has passed
    /// unpublished.
    pub fn postmortem_state(&self, due: Option<NaiveDate>, today: NaiveDate) -> PostmortemState {
        match self.postmortem.stage {
            Stage::Published => PostmortemState::Published,
            _ if self.closed_at.is_some() && due.is_some_and(|due| today > due) => {
                PostmortemState::Overdue
            }
            Stage::Draft => PostmortemState::Draft,
            Stage::InReview => PostmortemState::InReview,
        }
    }

    /// Start to resolve: how long the impact lasted, as far as the channel knows.
    pub fn time_to_resolve(&self) -> Option<Duration> {
        self.resolved_at.map(|t| t - self.started_at)
    }

    /// Start to close.
    pub fn time_open(&self) -> Option<Duration> {
        self.closed_at.map(|t| t - self.started_at)
    }

    /// The entries a draft shows: all but the hidden ones.
    pub fn visible_timeline(&self) -> impl Iterator<Item = &TimelineEntry> {
        self.timeline.iter().filter(|e| !e.hidden)
    }

    pub fn story(&self, list: StoryList) -> &[StoryItem] {
        match list {
            StoryList::Factors => &self.factors,
            StoryList::Worked => &self.worked,
            StoryList::Improve => &self.improve,
        }
    }

    pub fn story_mut(&mut self, list: StoryList) -> &mut Vec<StoryItem> {
        match list {
            StoryList::Factors => &mut self.factors,
            StoryList::Worked => &mut self.worked,
            StoryList::Improve => &mut self.improve,
        }
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
