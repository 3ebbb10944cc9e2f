//! What comes after the answer, about people rather than posts: reminders, posted in the
//! incident's channel when their time comes (see `domain::reminders` for when and why), and
//! follow-up actions kept as issues in the team's tracker, whose state comes back as commands
//! said by the tracker (from webhooks, or polling).

use tracing::Instrument;

use crate::app::App;
use crate::domain::reminders::{Due, Fire};
use crate::domain::{Action, Author, Incident, IncidentId, Issue, Outcome, reply};
use crate::followups::{IssueSpec, IssueState, TrackedIssue, Tracker, TrackerError};
use crate::jobs::{JobError, read_action_job, read_reminder_job, reminder_job};
use crate::storage::{Job, StoreError};

/// Runs a reminder job: posts it if its reason still holds, queues the next one of a
/// repeating reminder, or the same one later (quiet hours, a newer timeline entry). The post
/// is keyed by the reminder, so a job run twice (a crash before it was marked done) posts once.
pub async fn remind(app: &App, job: &Job) -> Result<(), JobError> {
    let (id, due) = read_reminder_job(job)?;
    let Some(incident) = app.incident(&id).await? else {
        tracing::warn!(incident = %id, "a reminder for an incident no longer in the log");
        return Ok(());
    };
    let span = tracing::info_span!("remind", incident = %id, channel = %id.channel, reminder = due.reminder.as_str());
    fire(app, &id, &incident, &due).instrument(span).await
}

async fn fire(app: &App, id: &IncidentId, incident: &Incident, due: &Due) -> Result<(), JobError> {
    let id = id.clone();
    match app.rules.fire(incident, due, app.clock.now()) {
        Fire::Post { text, next } => {
            app.report(&id, &format!("remind.{}", due.key()), &text)
                .await;
            if let Some(next) = next {
                app.enqueue(&[reminder_job(&id, &next)]).await?;
            }
        }
        Fire::Later(later) => app.enqueue(&[reminder_job(&id, &later)]).await?,
        Fire::Drop => tracing::debug!("the reminder's reason is gone"),
    }
    Ok(())
}

/// Creates (once) or updates the issue of one action. A new issue is recorded in the
/// incident's channel as `/incident action track N <key> <url>` said by the tracker, so the
/// draft, the page and the JSON show it; if that record is lost, the next attempt finds the
/// issue by its marker instead of making a second one.
pub async fn issue(app: &App, tracker: Option<&Tracker>, job: &Job) -> Result<(), JobError> {
    let tracker = tracker.ok_or_else(|| {
        JobError::Permanent("no issue tracker is configured ([followups] tracker)".to_string())
    })?;
    let (id, n) = read_action_job(job)?;
    let incident = app.incident_for_job(&id).await?;
    let span = tracing::info_span!("issue", incident = %id, channel = %id.channel, action = n);
    keep_issue(app, tracker, &incident, n)
        .instrument(span)
        .await
}

async fn keep_issue(
    app: &App,
    tracker: &Tracker,
    incident: &Incident,
    n: u32,
) -> Result<(), JobError> {
    let id = incident.id();
    let action = incident
        .actions
        .iter()
        .find(|a| a.n == n)
        .ok_or_else(|| JobError::Permanent(format!("incident {id} has no action {n}")))?;
    if action.hidden {
        return Ok(());
    }
    let spec = spec(app, incident, action);
    if let Some(issue) = &action.issue {
        let tracked = TrackedIssue::from_key(&issue.key, issue.url.as_deref());
        return match tracker.update(&tracked, &spec).await {
            Err(TrackerError::Gone(why)) => {
                tracing::warn!(%why, issue = %issue.key, "the action's issue is gone");
                let text = reply::issue_gone(n, &issue.key, tracker.name());
                app.report(&id, &format!("issue-gone.{n}.{}", issue.key), &text)
                    .await;
                Ok(())
            }
            result => result.map_err(JobError::from),
        };
    }
    let made = tracker.ensure(&spec).await?;
    let recorded = app
        .record_integration(
            &id,
            &format!("track:{}:{n}:{}", id.opened_by, made.key),
            Author::integration(tracker.name().to_lowercase(), tracker.name()),
            &format!("/incident action track {n} {} {}", made.key, made.url),
        )
        .await?;
    if let Some(Outcome::Refused(error)) = recorded.effect.map(|e| e.outcome) {
        return Err(JobError::Permanent(format!(
            "the issue {} could not be recorded: {error}",
            made.key
        )));
    }
    tracing::info!(issue = %made.key, "action tracked");
    Ok(())
}

/// Chat text as it goes into an issue: a mention (`@team`) would notify people in the tracker
/// and an HTML comment could pass for another action's marker, so neither survives.
fn quoted(text: &str) -> String {
    text.replace('@', "@\u{200B}")
        .replace("<!--", "<!\u{200B}--")
}

/// What the issue of `action` says: the action as its title; the incident, its channel, the
/// due date, the owner and where to read more as its text.
fn spec(app: &App, incident: &Incident, action: &Action) -> IssueSpec {
    let mut body = format!(
        "Follow-up action #{} of the incident \"{}\" ({}, channel {} on {}).\n\n",
        action.n,
        quoted(&incident.title),
        incident
            .severity
            .map_or("severity not set".to_string(), |s| s.to_string()),
        incident.channel.id,
        incident.channel.platform.as_str(),
    );
    if let Some(owner) = &action.owner {
        body.push_str(&format!("Owner: {}\n", quoted(owner)));
    }
    if let Some(due) = action.due {
        body.push_str(&format!("Due: {}\n", due.format("%Y-%m-%d")));
    }
    if let Some(pull) = &incident.postmortem.pull {
        body.push_str(&format!("Postmortem: {}\n", quoted(pull)));
    }
    if app.config.web.enabled {
        body.push_str(&format!(
            "Incident: {}{}\n",
            app.config.public_url(),
            crate::app::incident_path(&incident.id())
        ));
    }
    IssueSpec {
        title: quoted(&action.text).chars().take(240).collect(),
        body,
        marker: format!(
            "scribe-action-{}-{}",
            crate::drafting::slug::short_id(&incident.id()),
            action.n
        ),
        due: action.due,
        assignee: action
            .owner
            .as_ref()
            .and_then(|owner| app.config.people.get(owner).cloned()),
        labels: Vec::new(),
    }
}

/// At most this many issues are read per poll, oldest incidents first being no better than
/// newest: the newest are read first, as their actions are the likeliest to change.
const POLL_LIMIT: usize = 500;

/// Reads each tracked issue's state and records the change where it differs from the
/// action's (closed in the tracker: done; reopened: not done). Queues the next read first,
/// so that a failing read never ends the polling.
pub async fn poll(app: &App, tracker: Option<&Tracker>) -> Result<(), JobError> {
    let (Some(tracker), Some(every)) = (tracker, app.config.followups.poll_every) else {
        return Ok(());
    };
    let now = app.clock.now();
    app.enqueue(&[crate::jobs::poll_job(now, every.span())])
        .await?;
    let mut incidents = app.all_incidents().await?;
    incidents.sort_by_key(|i| std::cmp::Reverse(i.started_at));
    let mut tracked: Vec<(IncidentId, Action, Issue)> = Vec::new();
    for incident in &incidents {
        for action in incident.actions.iter().filter(|a| !a.hidden) {
            if let Some(issue) = &action.issue {
                tracked.push((incident.id(), action.clone(), issue.clone()));
            }
        }
    }
    tracked.truncate(POLL_LIMIT);
    for (id, action, issue) in tracked {
        let state = match tracker
            .state(&TrackedIssue::from_key(&issue.key, issue.url.as_deref()))
            .await
        {
            Ok(state) => state,
            Err(TrackerError::Gone(why)) => {
                tracing::warn!(incident = %id, %why, issue = %issue.key, "the action's issue is gone");
                let text = reply::issue_gone(action.n, &issue.key, tracker.name());
                app.report(
                    &id,
                    &format!("issue-gone.{}.{}", action.n, issue.key),
                    &text,
                )
                .await;
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        let author = Author::integration(tracker.name().to_lowercase(), tracker.name());
        let key = format!("poll:{}:{}:{}", now.timestamp(), id.opened_by, action.n);
        set_done(app, &id, &action, state, author, &key).await?;
    }
    Ok(())
}

/// Records `/incident action done|reopen N` when the tracker's `state` differs from the
/// action's; `key` names the outside change, so telling it twice stores it once.
pub async fn set_done(
    app: &App,
    id: &IncidentId,
    action: &Action,
    state: IssueState,
    author: Author,
    key: &str,
) -> Result<(), StoreError> {
    let verb = match (state, action.done) {
        (IssueState::Closed, false) => "done",
        (IssueState::Open, true) => "reopen",
        _ => return Ok(()),
    };
    tracing::info!(incident = %id, action = action.n, verb, "the tracker changed an action");
    app.record_integration(
        id,
        &format!("{key}:{verb}"),
        author,
        &format!("/incident action {verb} {}", action.n),
    )
    .await?;
    Ok(())
}

/// Every action, of every incident, tracked as `key` (`#123`, `OPS-45`).
pub async fn actions_tracked_as(
    app: &App,
    key: &str,
) -> Result<Vec<(IncidentId, Action)>, StoreError> {
    let mut found = Vec::new();
    for incident in app.all_incidents().await? {
        for action in &incident.actions {
            if action.issue.as_ref().is_some_and(|issue| issue.key == key) {
                found.push((incident.id(), action.clone()));
            }
        }
    }
    Ok(found)
}

/// Every incident whose postmortem's pull request is `number` of `repository` (`owner/name`):
/// its URL ends `/<owner>/<name>/pull/<number>`.
pub async fn incidents_of_pull(
    app: &App,
    repository: &str,
    number: u64,
) -> Result<Vec<Incident>, StoreError> {
    let suffix = format!("/{repository}/pull/{number}").to_lowercase();
    let mut found = app.all_incidents().await?;
    found.retain(|i| {
        i.postmortem
            .pull
            .as_deref()
            .is_some_and(|p| p.to_lowercase().ends_with(&suffix))
    });
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_text_in_an_issue_mentions_nobody_and_hides_no_marker() {
        let text = quoted("ping @everyone and @octo-org/sre <!-- scribe-action-1a2b3c4d-1 -->");
        assert!(!text.contains("@e") && !text.contains("@o"), "{text}");
        assert!(!text.contains("<!--"), "{text}");
        assert!(text.contains("scribe-action-1a2b3c4d-1"));
    }
}
