//! The job worker: runs stored jobs (Web API calls, uploads, publishing) after the event that
//! asked for them was acknowledged. A job survives restarts, is retried with exponential
//! backoff and jitter, and is given up (and reported) only when its error is permanent or its
//! attempts run out.

use std::future::Future;
use std::sync::Arc;

use chrono::{Duration, Utc};
use rand::Rng;
use tokio::sync::Notify;

use serde::{Deserialize, Serialize};

use crate::domain::IncidentId;
use crate::storage::{Job, JobEnd, JobState, JobStatus, NewJob, Store};

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

impl JobError {
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
pub fn incident_job(id: &IncidentId, kind: &str, suffix: &str, text: Option<String>) -> NewJob {
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

/// The incident (and text) of a job made by [`incident_job`]; an unreadable one fails for good.
pub fn read_incident_job(job: &Job) -> Result<(IncidentId, Option<String>), JobError> {
    let payload: IncidentJob = serde_json::from_str(&job.payload)
        .map_err(|e| JobError::Permanent(format!("unreadable job payload: {e}")))?;
    let id = payload
        .incident
        .parse()
        .map_err(|e| JobError::Permanent(format!("{e}")))?;
    Ok((id, payload.text))
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
    if jobs.is_empty() {
        return None;
    }
    let parts: Vec<String> = jobs
        .iter()
        .map(|job| match (&job.state, &job.last_error) {
            (JobState::Done, _) | (_, None) => format!("{} {}", job.kind, job.state.as_str()),
            (state, Some(error)) => format!("{} {} ({error})", job.kind, state.as_str()),
        })
        .collect();
    Some(format!("Jobs: {}.", parts.join(", ")))
}

/// Runs jobs until `shutdown` completes; `run` does one job and says how it went. `wake` lets
/// whoever enqueues a job start it at once instead of at the next poll.
pub async fn work<S, F, Fut>(
    store: Arc<S>,
    wake: Arc<Notify>,
    run: F,
    shutdown: impl Future<Output = ()>,
) where
    S: Store,
    F: Fn(Job) -> Fut,
    Fut: Future<Output = Result<(), JobError>>,
{
    tokio::pin!(shutdown);
    loop {
        let claimed = match store.claim_job(Utc::now(), LEASE).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(%error, "cannot claim a job");
                None
            }
        };
        let Some(job) = claimed else {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
            continue;
        };
        let span =
            tracing::info_span!("job", key = %job.key, kind = %job.kind, attempt = job.attempts);
        let (id, attempts) = (job.id, job.attempts);
        let running = tracing::Instrument::instrument(run(job), span.clone());
        let end = match keep_leased(&*store, id, running).await {
            Ok(()) => JobEnd::Done,
            Err(failure) if !failure.is_final(attempts) => {
                let (JobError::Transient(error) | JobError::Permanent(error)) = failure;
                let at = Utc::now() + backoff(attempts);
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
async fn keep_leased<S: Store, T>(store: &S, id: i64, job: impl Future<Output = T>) -> T {
    tokio::pin!(job);
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + RENEW, RENEW);
    loop {
        tokio::select! {
            done = &mut job => return done,
            _ = renew.tick() => {
                if let Err(error) = store.renew_job(id, Utc::now() + LEASE).await {
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
        let new = incident_job(&id, "slack.report", ".x", Some("it broke".into()));
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
