//! Publishing drafts: to files, to git, to GitHub.
//!
//! Every publish is a job stored before it runs (see [`crate::jobs`]): on `/incident close` the
//! fold's follow-ups queue one job per configured target ([`crate::jobs::publish_jobs`]); the
//! git job queues the GitHub job once its push succeeded. Each target is idempotent (the same file, branch and pull request are
//! updated, a commit is made only when the content changed), so a retry or a re-publish never
//! duplicates anything.

use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::app::App;
use crate::config::{RelativePath, Target};
use crate::domain::{Author, Incident, Stage};
use crate::drafting::slug;
use crate::jobs::{JobError, JobKind, PublishJob, incident_job, read_incident_job};
use crate::storage::Job;

pub mod git;
pub mod github;

/// The draft with YAML front matter (incident id, title, severity, status, times, channel,
/// participants) so tools can index a repository of postmortems. Values are JSON strings,
/// which YAML reads as they are, without control or bidirectional-override characters.
pub fn with_front_matter(incident: &Incident, channel: &str, draft: &str) -> String {
    let quote = |s: &str| {
        serde_json::to_string(&crate::drafting::markdown::plain(s)).expect("strings serialise")
    };
    let time = |t: Option<chrono::DateTime<Utc>>| {
        t.map_or_else(|| "null".to_string(), |t| quote(&t.to_rfc3339()))
    };
    let participants: Vec<String> = incident
        .participants
        .iter()
        .map(|p| format!("  - {}", quote(&p.name)))
        .collect();
    format!(
        "---\nincident: {id}\ntitle: {title}\nseverity: {severity}\nstatus: {status}\n\
         started_at: {started}\nresolved_at: {resolved}\nclosed_at: {closed}\nchannel: {channel}\n\
         participants:{list}\n---\n\n{draft}",
        id = quote(&incident.id().to_string()),
        title = quote(&incident.title),
        severity = incident
            .severity
            .map_or_else(|| "null".to_string(), |s| quote(s.code())),
        status = quote(incident.status().as_str()),
        started = time(Some(incident.started_at)),
        resolved = time(incident.resolved_at),
        closed = time(incident.closed_at),
        channel = quote(channel),
        list = if participants.is_empty() {
            " []".to_string()
        } else {
            format!("\n{}", participants.join("\n"))
        },
    )
}

/// Runs one publish job.
pub async fn run(app: &App, job: &Job, kind: PublishJob) -> Result<(), JobError> {
    let (id, _) = read_incident_job(job)?;
    let incident = app.incident_for_job(&id).await?;
    let config = &app.config.publish;
    match kind {
        PublishJob::Files => {
            let path = config.files.path.expand(&incident).map_err(permanent)?;
            let content = document(app, &incident)?;
            write_file(&config.files.dir, &path, &content).await
        }
        PublishJob::Git => {
            let remote =
                config.git.remote.as_ref().ok_or_else(|| {
                    JobError::Permanent("publish.git.remote is not set".to_string())
                })?;
            let branch = config.git.branch.expand(&incident).map_err(permanent)?;
            let path = config.git.path.expand(&incident).map_err(permanent)?;
            let content = document(app, &incident)?;
            let target = git::GitTarget {
                remote: remote.clone(),
                base_branch: config.git.base_branch.clone(),
                author_name: config.git.author_name.clone(),
                author_email: config.git.author_email.clone(),
                workdir: app.config.data_dir.join("git").join(slug::slug(remote)),
                token: app
                    .secrets
                    .git_token
                    .as_ref()
                    .map(|t| t.expose().to_string()),
            };
            let message = format!("Postmortem: {} ({id})", incident.title);
            let published = target
                .publish(&branch, &path, content.as_bytes(), &message)
                .await?;
            tracing::info!(commit = %published.commit, changed = published.changed, %branch, "draft pushed");
            if config.targets.contains(&Target::Github) {
                let git = JobKind::Publish(PublishJob::Git).as_str();
                let suffix = job.key.rsplit_once(git).map_or("", |(_, s)| s);
                let github = JobKind::Publish(PublishJob::Github);
                app.enqueue(&[incident_job(&id, github, suffix, None)])
                    .await?;
            }
            Ok(())
        }
        PublishJob::Github => {
            let token = app
                .secrets
                .github_token
                .as_ref()
                .ok_or_else(|| JobError::Permanent("GITHUB_TOKEN is not set".to_string()))?;
            let repository = config.github.repository.as_ref().ok_or_else(|| {
                JobError::Permanent("publish.github.repository is not set".to_string())
            })?;
            let api = github::GithubApi::new(
                config.github.api_base_url.clone(),
                repository,
                token.clone(),
            )?;
            let branch = config.git.branch.expand(&incident).map_err(permanent)?;
            let title = format!("Postmortem: {}", incident.title);
            let body = summary(&incident);
            let (pull, created) = api
                .ensure_pull_request(&branch, &config.git.base_branch, &title, &body)
                .await?;
            tracing::info!(number = pull.number, created, "pull request ready");
            if incident.postmortem.stage == Stage::Draft {
                // Keyed by the pull request: a second publish changes nothing.
                app.record_integration(
                    &id,
                    &format!("github:pr:{}:opened", pull.number),
                    Author::integration("github", "GitHub"),
                    &format!("/incident postmortem review {}", pull.html_url),
                )
                .await?;
            }
            app.report(
                &id,
                &format!("pr.{}", pull.number),
                &format!("Postmortem pull request: {}", pull.html_url),
            )
            .await;
            Ok(())
        }
    }
}

fn permanent(error: impl std::fmt::Display) -> JobError {
    JobError::Permanent(error.to_string())
}

/// The draft as published: front matter, then the rendered template.
fn document(app: &App, incident: &Incident) -> Result<String, JobError> {
    let draft = app.render_draft(incident, &incident.channel.id)?;
    Ok(with_front_matter(incident, &incident.channel.id, &draft))
}

/// The pull request's body: what a reviewer needs before opening the file.
fn summary(incident: &Incident) -> String {
    let names: Vec<&str> = incident
        .participants
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    format!(
        "Postmortem draft for **{}** ({}).\n\n- Severity: {}\n- Duration: {}\n- Timeline entries: {}\n- Participants: {}\n\nFill in the sections marked \"To fill in\".",
        crate::drafting::markdown::inline(&incident.title),
        incident.id(),
        incident
            .severity
            .map_or_else(|| "not set".to_string(), |s| s.to_string()),
        incident.time_to_resolve().map_or_else(
            || "unknown".to_string(),
            crate::drafting::view::human_duration
        ),
        incident.visible_timeline().count(),
        crate::drafting::markdown::inline(&names.join(", ")),
    )
}

async fn write_file(dir: &Path, path: &RelativePath, content: &str) -> Result<(), JobError> {
    let target: PathBuf = dir.join(path.as_str());
    let failed = |e: std::io::Error| JobError::Transient(format!("{}: {e}", target.display()));
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(failed)?;
    }
    let tmp = target.with_extension("md.tmp");
    tokio::fs::write(&tmp, content).await.map_err(failed)?;
    tokio::fs::rename(&tmp, &target).await.map_err(failed)
}
