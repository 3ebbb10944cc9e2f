//! Jobs: the follow-up work a command calls for (posts, uploads, publishing), stored with the
//! event and run by the worker after the acknowledgement. A job survives restarts, is retried
//! with exponential backoff and jitter, and is given up (and reported) only when its error is
//! permanent or its attempts run out. [`JobKind`] names every kind there is; one `match` in
//! `startup.rs` hands each to the adapter or target that does it.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use tokio::sync::{Notify, watch};

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::config::{CreateWhen, FollowupsConfig, PublishConfig, Target, TrackerKind};
use crate::domain::reminders::{Due, Reminder, Rules};
use crate::domain::{Change, Effect, Horizon, Incident, IncidentId, Outcome, Platform};
use crate::storage::{Job, JobEnd, JobState, JobStatus, NewJob, Store, StoreError};

/// Every kind of job Scribe stores, by who does it. Stored as `slack.headline`, `publish.git`, …
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    Slack(SlackJob),
    Discord(DiscordJob),
    Publish(PublishJob),
    /// A reminder posted in the incident's channel when its time comes.
    Remind(Reminder),
    /// Follow-up actions kept as issues in the team's tracker.
    Followup(FollowupJob),
    /// `/incident assist`: ask the language model, check and record its suggestions.
    Assist,
}

/// What Scribe does in the issue tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FollowupJob {
    /// Create (once) or update the issue of one action.
    Issue,
    /// Read the tracked issues' states, then queue the next read.
    Poll,
}

/// What Scribe does in Slack after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlackJob {
    /// The headline on `/incident start`.
    Headline,
    /// The closing summary.
    Summary,
    /// The postmortem draft, uploaded as a file.
    Draft,
    /// A post of given words (a failure report, a link).
    Report,
    /// A channel of the incident's own (`[slack] create_channel`).
    CreateChannel,
}

/// What Scribe does in Discord after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiscordJob {
    /// The closing summary, with the draft attached.
    Summary,
    /// A post of given words.
    Report,
}

/// Where a draft is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PublishJob {
    Files,
    Git,
    Github,
}

impl JobKind {
    const ALL: [JobKind; 20] = [
        JobKind::Slack(SlackJob::Headline),
        JobKind::Slack(SlackJob::Summary),
        JobKind::Slack(SlackJob::Draft),
        JobKind::Slack(SlackJob::Report),
        JobKind::Slack(SlackJob::CreateChannel),
        JobKind::Discord(DiscordJob::Summary),
        JobKind::Discord(DiscordJob::Report),
        JobKind::Publish(PublishJob::Files),
        JobKind::Publish(PublishJob::Git),
        JobKind::Publish(PublishJob::Github),
        JobKind::Remind(Reminder::NoLead),
        JobKind::Remind(Reminder::NoSeverity),
        JobKind::Remind(Reminder::NoUpdate),
        JobKind::Remind(Reminder::NotClosed),
        JobKind::Remind(Reminder::PostmortemDue),
        JobKind::Remind(Reminder::PostmortemOverdue),
        JobKind::Remind(Reminder::ActionDue),
        JobKind::Followup(FollowupJob::Issue),
        JobKind::Followup(FollowupJob::Poll),
        JobKind::Assist,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Slack(SlackJob::Headline) => "slack.headline",
            JobKind::Slack(SlackJob::Summary) => "slack.summary",
            JobKind::Slack(SlackJob::Draft) => "slack.draft",
            JobKind::Slack(SlackJob::Report) => "slack.report",
            JobKind::Slack(SlackJob::CreateChannel) => "slack.create_channel",
            JobKind::Discord(DiscordJob::Summary) => "discord.summary",
            JobKind::Discord(DiscordJob::Report) => "discord.report",
            JobKind::Publish(PublishJob::Files) => "publish.files",
            JobKind::Publish(PublishJob::Git) => "publish.git",
            JobKind::Publish(PublishJob::Github) => "publish.github",
            JobKind::Remind(Reminder::NoLead) => "remind.no_lead",
            JobKind::Remind(Reminder::NoSeverity) => "remind.no_severity",
            JobKind::Remind(Reminder::NoUpdate) => "remind.no_update",
            JobKind::Remind(Reminder::NotClosed) => "remind.not_closed",
            JobKind::Remind(Reminder::PostmortemDue) => "remind.postmortem_due",
            JobKind::Remind(Reminder::PostmortemOverdue) => "remind.postmortem_overdue",
            JobKind::Remind(Reminder::ActionDue) => "remind.action_due",
            JobKind::Followup(FollowupJob::Issue) => "followup.issue",
            JobKind::Followup(FollowupJob::Poll) => "followup.poll",
            JobKind::Assist => "assist.suggest",
        }
    }

    /// What the job does, for the report when it fails for good: "Scribe could not …".
    pub fn what(self) -> &'static str {
        match self {
            JobKind::Slack(SlackJob::Headline) => "post the incident headline",
            JobKind::Slack(SlackJob::Summary) | JobKind::Discord(DiscordJob::Summary) => {
                "post the closing summary"
            }
            JobKind::Slack(SlackJob::Draft) => "upload the postmortem draft",
            JobKind::Slack(SlackJob::Report) | JobKind::Discord(DiscordJob::Report) => {
                "post a message"
            }
            JobKind::Slack(SlackJob::CreateChannel) => "create the incident channel",
            JobKind::Publish(PublishJob::Files) => "publish the postmortem (publish.files)",
            JobKind::Publish(PublishJob::Git) => "publish the postmortem (publish.git)",
            JobKind::Publish(PublishJob::Github) => "publish the postmortem (publish.github)",
            JobKind::Remind(_) => "post a reminder",
            JobKind::Followup(FollowupJob::Issue) => "keep an action's issue in the tracker",
            JobKind::Followup(FollowupJob::Poll) => "read the tracker's issues",
            JobKind::Assist => "ask the language model for suggestions",
        }
    }

    /// A report of given words in `platform`'s channel; none where Scribe cannot post.
    pub fn report(platform: Platform) -> Option<JobKind> {
        match platform {
            Platform::Slack => Some(JobKind::Slack(SlackJob::Report)),
            Platform::Discord => Some(JobKind::Discord(DiscordJob::Report)),
            Platform::Console => None,
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored kind this build does not know (a newer build's job, a hand-edited row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no runner for job kind `{0}`")]
pub struct UnknownJobKind(pub String);

impl FromStr for JobKind {
    type Err = UnknownJobKind;

    fn from_str(kind: &str) -> Result<Self, Self::Err> {
        JobKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or_else(|| UnknownJobKind(kind.to_string()))
    }
}

/// After this many attempts a job fails for good.
pub const MAX_ATTEMPTS: u32 = 8;
/// How long a claim on a job lasts unless renewed: after a crash, the job is taken up again
/// (by this process restarted, or another) within this time.
const LEASE: Duration = Duration::seconds(30);
/// How often a worker renews the lease of the job it is running.
const RENEW: std::time::Duration = std::time::Duration::from_secs(10);
/// How often an idle worker looks for due retries.
const POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// How one run of a job went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// Worth another try later (network, 5xx, rate limit).
    Transient(String),
    /// Another try would fail the same way (bad channel, revoked token).
    Permanent(String),
}

/// The store failing is the store's trouble, not the job's: worth another try.
impl From<StoreError> for JobError {
    fn from(error: StoreError) -> Self {
        JobError::Transient(error.to_string())
    }
}

impl From<UnknownJobKind> for JobError {
    fn from(unknown: UnknownJobKind) -> Self {
        JobError::Permanent(unknown.to_string())
    }
}

impl JobError {
    /// The cause, for the log and the failure report.
    pub fn reason(&self) -> &str {
        let (JobError::Transient(reason) | JobError::Permanent(reason)) = self;
        reason
    }

    /// Whether the job ends with this error: it is permanent, or `attempts` used them all up.
    pub fn is_final(&self, attempts: u32) -> bool {
        matches!(self, JobError::Permanent(_)) || attempts >= MAX_ATTEMPTS
    }
}

/// Jobs are keyed under their incident's id, so one prefix finds all of an incident's jobs.
pub fn job_prefix(id: &IncidentId) -> String {
    format!("{id}/")
}

/// What a job about an incident carries (posts, uploads, publishing): the incident, and for a
/// post of given words, its text.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct IncidentJob {
    incident: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

/// A job of `kind` for incident `id`, keyed `<id>/<kind><suffix>`: queued twice (a redelivered
/// command), it is stored once.
pub fn incident_job(id: &IncidentId, kind: JobKind, suffix: &str, text: Option<String>) -> NewJob {
    NewJob {
        key: format!("{}{kind}{suffix}", job_prefix(id)),
        kind: kind.to_string(),
        payload: serde_json::to_string(&IncidentJob {
            incident: id.to_string(),
            text,
        })
        .expect("payloads serialise"),
        run_at: Utc::now(),
    }
}

/// The jobs a command calls for, keyed by incident so a redelivery queues nothing new: the
/// platform's own posts, and the publishing the configuration asks for. The console posts
/// nothing and writes its draft itself at close; it publishes only when asked (`/incident
/// draft --publish`, or the web page's button).
pub fn follow_ups(
    publish: &PublishConfig,
    reply: &Effect,
    incident: Option<IncidentId>,
    message: &str,
) -> Vec<NewJob> {
    let Some(id) = incident else {
        return Vec::new();
    };
    let upload = publish.targets.contains(&Target::Chat);
    let posts: &[JobKind] = match (id.channel.platform, &reply.outcome) {
        (Platform::Console, _) => &[],
        (Platform::Slack, Outcome::Opened) => &[JobKind::Slack(SlackJob::Headline)],
        (Platform::Slack, Outcome::Closed) if upload => &[
            JobKind::Slack(SlackJob::Summary),
            JobKind::Slack(SlackJob::Draft),
        ],
        (Platform::Slack, Outcome::Closed) => &[JobKind::Slack(SlackJob::Summary)],
        (Platform::Discord, Outcome::Closed) => &[JobKind::Discord(DiscordJob::Summary)],
        _ => &[],
    };
    let mut jobs: Vec<NewJob> = posts
        .iter()
        .map(|kind| incident_job(&id, *kind, "", None))
        .collect();
    match reply.outcome {
        Outcome::Closed if id.channel.platform != Platform::Console => {
            jobs.extend(publish_jobs(publish, &id, ""));
        }
        Outcome::Publish => jobs.extend(publish_jobs(publish, &id, &format!("#{message}"))),
        _ => {}
    }
    jobs
}

/// The job `/incident assist` calls for (carrying the section asked for, if one was):
/// keyed by the command's message, so each ask is asked
/// once however often its command is delivered, and a new ask (a retry) is a new job. The
/// console, which runs no jobs, asks while its person waits.
pub fn assist_jobs(outcome: &Outcome, incident: Option<&IncidentId>, message: &str) -> Vec<NewJob> {
    match (outcome, incident) {
        (Outcome::AssistAsked(section), Some(id)) if id.channel.platform != Platform::Console => {
            let section = section.map(|s| s.as_str().to_string());
            vec![incident_job(
                id,
                JobKind::Assist,
                &format!("#{message}"),
                section,
            )]
        }
        _ => Vec::new(),
    }
}

/// The publish jobs for an incident: one per file-like target (GitHub follows git). `suffix`
/// tells a re-publish from the first one; the targets themselves make it idempotent.
pub fn publish_jobs(publish: &PublishConfig, id: &IncidentId, suffix: &str) -> Vec<NewJob> {
    publish
        .targets
        .iter()
        .filter_map(|target| match target {
            Target::Files => Some(incident_job(
                id,
                JobKind::Publish(PublishJob::Files),
                suffix,
                None,
            )),
            Target::Git => Some(incident_job(
                id,
                JobKind::Publish(PublishJob::Git),
                suffix,
                None,
            )),
            Target::Chat | Target::Github => None,
        })
        .collect()
}

/// The incident (and text) of a job made by [`incident_job`]; an unreadable one fails for good.
pub fn read_incident_job(job: &Job) -> Result<(IncidentId, Option<String>), JobError> {
    let payload: IncidentJob = read_payload(job)?;
    Ok((incident_of(&payload.incident)?, payload.text))
}

/// A job's payload as `T`; one that does not read fails for good.
fn read_payload<T: serde::de::DeserializeOwned>(job: &Job) -> Result<T, JobError> {
    serde_json::from_str(&job.payload)
        .map_err(|e| JobError::Permanent(format!("unreadable job payload: {e}")))
}

/// The incident a payload names; an id that does not read fails for good.
fn incident_of(id: &str) -> Result<IncidentId, JobError> {
    id.parse().map_err(|e| JobError::Permanent(format!("{e}")))
}

/// What a reminder job carries: its incident, and which reminder for when.
#[derive(Debug, Serialize, Deserialize)]
struct RemindJob {
    incident: String,
    due: Due,
}

/// The job that posts `due` for incident `id` at its time, keyed by the reminder's own key.
pub fn reminder_job(id: &IncidentId, due: &Due) -> NewJob {
    NewJob {
        key: format!("{}remind.{}", job_prefix(id), due.key()),
        kind: JobKind::Remind(due.reminder).to_string(),
        payload: serde_json::to_string(&RemindJob {
            incident: id.to_string(),
            due: due.clone(),
        })
        .expect("payloads serialise"),
        run_at: due.at,
    }
}

/// The incident and reminder of a job made by [`reminder_job`].
pub fn read_reminder_job(job: &Job) -> Result<(IncidentId, Due), JobError> {
    let payload: RemindJob = read_payload(job)?;
    Ok((incident_of(&payload.incident)?, payload.due))
}

/// The reminders a command's outcome may change (a start, a resolve, a close, a due date or
/// an action), derived from the incident as it stands after it. Keyed, so deriving them again
/// stores nothing new; reminders whose reason went away find so when they fire.
pub fn reminders(
    rules: &Rules,
    outcome: &Outcome,
    incident: impl FnOnce() -> Option<Incident>,
) -> Vec<NewJob> {
    let changes_reminders = match outcome {
        Outcome::Opened | Outcome::Resolved | Outcome::Closed => true,
        Outcome::Curated(change) => matches!(
            change,
            Change::PostmortemDue(_)
                | Change::ActionAdded(_)
                | Change::ActionEdited(_)
                | Change::ActionReopened(_)
                | Change::ActionRestored(_)
        ),
        _ => false,
    };
    if !changes_reminders {
        return Vec::new();
    }
    let Some(incident) = incident() else {
        return Vec::new();
    };
    if incident.channel.platform == Platform::Console {
        return Vec::new();
    }
    let id = incident.id();
    rules
        .schedule(&incident)
        .iter()
        .map(|due| reminder_job(&id, due))
        .collect()
}

/// What a job about one action carries.
#[derive(Debug, Serialize, Deserialize)]
struct ActionJob {
    incident: String,
    action: u32,
}

/// The issue jobs a command's outcome calls for, when a tracker is configured: one per action
/// that is not already done (`now`) nor hidden, once its incident is closed (or at once, with
/// `create = "immediately"`). Keyed by the action's text, owner and due date, so an edit queues
/// an update and anything else queues nothing new.
pub fn issue_jobs(
    followups: &FollowupsConfig,
    outcome: &Outcome,
    incident: impl FnOnce() -> Option<Incident>,
) -> Vec<NewJob> {
    let relevant = match outcome {
        Outcome::Closed => true,
        Outcome::Curated(change) => matches!(
            change,
            Change::ActionAdded(_) | Change::ActionEdited(_) | Change::ActionRestored(_)
        ),
        _ => false,
    };
    if followups.tracker == TrackerKind::None || !relevant {
        return Vec::new();
    }
    let Some(incident) = incident() else {
        return Vec::new();
    };
    if incident.closed_at.is_none() && followups.create == CreateWhen::OnClose {
        return Vec::new();
    }
    let id = incident.id();
    incident
        .actions
        .iter()
        .filter(|a| !a.hidden && a.horizon != Horizon::Now && (a.issue.is_some() || !a.done))
        .map(|action| {
            let version = crate::signin::digest(&format!(
                "{}\n{}\n{}",
                action.text,
                action.owner.as_deref().unwrap_or_default(),
                action.due.map(|d| d.to_string()).unwrap_or_default()
            ));
            let version = &version[..12];
            let kind = JobKind::Followup(FollowupJob::Issue);
            NewJob {
                key: format!("{}{kind}.{}@{version}", job_prefix(&id), action.n),
                kind: kind.to_string(),
                payload: serde_json::to_string(&ActionJob {
                    incident: id.to_string(),
                    action: action.n,
                })
                .expect("payloads serialise"),
                run_at: Utc::now(),
            }
        })
        .collect()
}

/// The incident and action of a job made by [`issue_jobs`].
pub fn read_action_job(job: &Job) -> Result<(IncidentId, u32), JobError> {
    let payload: ActionJob = read_payload(job)?;
    Ok((incident_of(&payload.incident)?, payload.action))
}

/// The tracker's read for the slot after `now` (`every` apart): keyed by its time, so
/// queueing it again (each start, each read) stores it once.
pub fn poll_job(now: DateTime<Utc>, every: Duration) -> NewJob {
    let step = every.num_seconds().max(1);
    let slot = (now.timestamp().div_euclid(step) + 1) * step;
    let at = DateTime::from_timestamp(slot, 0).unwrap_or(now);
    let kind = JobKind::Followup(FollowupJob::Poll);
    NewJob {
        key: format!("followups/{kind}@{slot}"),
        kind: kind.to_string(),
        payload: "{}".to_string(),
        run_at: at,
    }
}

/// The delay before attempt `attempts + 1`: 2, 4, 8 … seconds, at most 10 minutes, plus up to
/// half again of jitter so a fleet of retries does not arrive together.
pub fn backoff(attempts: u32) -> Duration {
    let base = 2i64.saturating_pow(attempts.min(20)).min(600);
    let jitter = rand::rng().random_range(0..=base * 500);
    Duration::seconds(base) + Duration::milliseconds(jitter)
}

/// One line on an incident's jobs for `/incident status`: what ran, what waits, what failed.
pub fn describe(jobs: &[JobStatus]) -> Option<String> {
    let (reminders, jobs): (Vec<&JobStatus>, Vec<&JobStatus>) =
        jobs.iter().partition(|job| job.kind.starts_with("remind."));
    let waiting = reminders
        .iter()
        .filter(|job| job.state == JobState::Pending)
        .count();
    let reminders = match waiting {
        0 => String::new(),
        1 => " 1 reminder scheduled.".to_string(),
        n => format!(" {n} reminders scheduled."),
    };
    if jobs.is_empty() {
        return (!reminders.is_empty()).then(|| reminders.trim_start().to_string());
    }
    let parts: Vec<String> = jobs
        .into_iter()
        .map(|job| match (&job.state, &job.last_error) {
            (JobState::Done, _) | (_, None) => format!("{} {}", job.kind, job.state.as_str()),
            (state, Some(error)) => format!("{} {} ({error})", job.kind, state.as_str()),
        })
        .collect();
    Some(format!("Jobs: {}.{reminders}", parts.join(", ")))
}

/// The job worker's doorbell, and the sync point "no job is due": whoever enqueues rings it,
/// and whoever waits for the jobs a request queued (a test, `scribe publish`) asks
/// [`Queue::settled`] instead of polling.
#[derive(Debug)]
pub struct Queue {
    wake: Notify,
    /// Claims begun, numbered.
    claims: AtomicU64,
    /// The number of the latest claim that found no job due.
    idle: watch::Sender<u64>,
    /// The worker ended or panicked and is not running again yet: the server is not ready.
    down: AtomicBool,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            wake: Notify::new(),
            claims: AtomicU64::new(0),
            idle: watch::Sender::new(0),
            down: AtomicBool::new(false),
        }
    }
}

impl Queue {
    /// Starts the worker at once instead of at its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Whether the worker is down (ended or panicked, not restarted yet).
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// Set by whoever supervises the worker.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Returns once a claim begun after this call found no job due: every job enqueued before
    /// the call has ended or waits for a retry. Never returns while no worker runs.
    pub async fn settled(&self) {
        let after = self.claims.load(Ordering::SeqCst);
        let mut idle = self.idle.subscribe();
        self.wake();
        let _ = idle.wait_for(|claim| *claim > after).await;
    }
}

/// Runs jobs until `shutdown` completes; `run` does one job and says how it went.
pub async fn work<S, F, Fut>(
    store: Arc<S>,
    queue: Arc<Queue>,
    clock: Clock,
    run: F,
    shutdown: impl Future<Output = ()>,
) where
    S: Store,
    F: Fn(Job) -> Fut,
    Fut: Future<Output = Result<(), JobError>>,
{
    tokio::pin!(shutdown);
    loop {
        let claim = queue.claims.fetch_add(1, Ordering::SeqCst) + 1;
        let claimed = store.claim_job(clock.now(), LEASE).await;
        let Ok(Some(job)) = claimed else {
            match claimed {
                // Nothing due: whoever waits for the queue to settle may go on.
                Ok(_) => {
                    queue.idle.send_if_modified(|idle| {
                        let newer = claim > *idle;
                        *idle = (*idle).max(claim);
                        newer
                    });
                }
                Err(error) => tracing::error!(%error, "cannot claim a job"),
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = queue.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
            continue;
        };
        let span =
            tracing::info_span!("job", key = %job.key, kind = %job.kind, attempt = job.attempts);
        let (id, attempts) = (job.id, job.attempts);
        let running = tracing::Instrument::instrument(run(job), span.clone());
        let end = match keep_leased(&*store, &clock, id, running).await {
            Ok(()) => JobEnd::Done,
            Err(failure) if !failure.is_final(attempts) => {
                let (JobError::Transient(error) | JobError::Permanent(error)) = failure;
                let at = clock.now() + backoff(attempts);
                span.in_scope(|| tracing::warn!(%error, retry_at = %at, "job failed; will retry"));
                JobEnd::Retry { at, error }
            }
            Err(JobError::Transient(error) | JobError::Permanent(error)) => {
                span.in_scope(|| tracing::error!(%error, "job failed for good"));
                JobEnd::Failed { error }
            }
        };
        if let Err(error) = store.finish_job(id, end).await {
            tracing::error!(%error, job = id, "cannot record a job's end; it will run again when its lease ends");
        }
    }
}

/// Runs `job` while renewing its lease, so a long job (a slow push) is never taken over.
async fn keep_leased<S: Store, T>(
    store: &S,
    clock: &Clock,
    id: i64,
    job: impl Future<Output = T>,
) -> T {
    tokio::pin!(job);
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + RENEW, RENEW);
    loop {
        tokio::select! {
            done = &mut job => return done,
            _ = renew.tick() => {
                if let Err(error) = store.renew_job(id, clock.now() + LEASE).await {
                    tracing::warn!(%error, job = id, "cannot renew a job's lease");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incident_job_reads_back_its_incident_and_text() {
        let id: IncidentId = "slack:C1:cmd:t.1".parse().unwrap();
        let new = incident_job(
            &id,
            JobKind::Slack(SlackJob::Report),
            ".x",
            Some("it broke".into()),
        );
        assert_eq!(new.key, "slack:C1:cmd:t.1/slack.report.x");
        let job = Job {
            id: 1,
            key: new.key,
            kind: new.kind,
            payload: new.payload,
            attempts: 1,
        };
        assert_eq!(read_incident_job(&job), Ok((id, Some("it broke".into()))));
        let broken = Job {
            payload: "{}".into(),
            ..job
        };
        assert!(matches!(
            read_incident_job(&broken),
            Err(JobError::Permanent(_))
        ));
    }

    #[test]
    fn every_kind_reads_back_from_its_stored_name() {
        for kind in JobKind::ALL {
            assert_eq!(kind.as_str().parse::<JobKind>(), Ok(kind));
        }
        assert_eq!(
            "slack.unknown".parse::<JobKind>(),
            Err(UnknownJobKind("slack.unknown".into()))
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempts in 1..30 {
            let delay = backoff(attempts);
            let base = 2i64.pow(attempts.min(20)).min(600);
            assert!(delay >= Duration::seconds(base), "{attempts}: {delay}");
            assert!(
                delay <= Duration::seconds(base * 3 / 2),
                "{attempts}: {delay}"
            );
        }
    }
}
