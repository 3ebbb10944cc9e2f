//! Publishing drafts: to files, to git, to GitHub.
//!
//! Every publish is a job stored before it runs (see [`crate::jobs`]): on `/incident close` the
//! fold's follow-ups queue one job per configured target; the git job queues the GitHub job once
//! its push succeeded. Each target is idempotent (the same file, branch and pull request are
//! updated, a commit is made only when the content changed), so a retry or a re-publish never
//! duplicates anything.

use std::path::{Component, Path, PathBuf};

use chrono::Utc;

use crate::config::{PublishConfig, Target};
use crate::domain::{Incident, IncidentId, Reply};
use crate::drafting::{Place, slug};
use crate::jobs::{JobError, incident_job, read_incident_job};
use crate::server::App;
use crate::storage::{Job, NewJob, Store};

pub mod git;
pub mod github;

pub const FILES: &str = "publish.files";
pub const GIT: &str = "publish.git";
pub const GITHUB: &str = "publish.github";

/// What a pattern (`postmortems/{yyyy}/{date}-{slug}.md`) makes of an incident: a relative path
/// made of the slug and the start date only, so no title can leave the target directory.
pub fn expand(pattern: &str, incident: &Incident) -> String {
    pattern
        .replace("{yyyy}", &incident.started_at.format("%Y").to_string())
        .replace(
            "{date}",
            &incident.started_at.format("%Y-%m-%d").to_string(),
        )
        .replace("{slug}", &slug::slug(&incident.title))
}

/// A relative path with no `..`, no root and no empty part.
pub fn is_safe_relative(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

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

/// The publish jobs for an incident: one per file-like target (GitHub follows git). `suffix`
/// tells a re-publish from the first one; the targets themselves make it idempotent.
pub fn jobs(config: &PublishConfig, id: &IncidentId, suffix: &str) -> Vec<NewJob> {
    config
        .targets
        .iter()
        .filter_map(|target| match target {
            Target::Files => Some(incident_job(id, FILES, suffix, None)),
            Target::Git => Some(incident_job(id, GIT, suffix, None)),
            Target::Chat | Target::Github => None,
        })
        .collect()
}

/// Publish jobs for a command: on close, and on `/incident draft --publish`.
pub fn follow_ups(
    config: &PublishConfig,
    reply: &Reply,
    id: Option<IncidentId>,
    message: &str,
) -> Vec<NewJob> {
    match (&reply.outcome, id) {
        (crate::domain::Outcome::Closed, Some(id)) => jobs(config, &id, ""),
        (crate::domain::Outcome::Publish, Some(id)) => jobs(config, &id, &format!("#{message}")),
        _ => Vec::new(),
    }
}

/// Runs one publish job; a failure for good is reported in the incident's channel.
pub async fn run<S: Store>(app: &App<S>, job: Job) -> Result<(), JobError> {
    let result = attempt(app, &job).await;
    if let Err(error @ (JobError::Transient(reason) | JobError::Permanent(reason))) = &result
        && error.is_final(job.attempts)
    {
        app.metrics.job_failures.inc();
        if let Ok((id, _)) = read_incident_job(&job) {
            let text = format!(
                "⚠️ Scribe could not publish the postmortem ({}): {reason}. Nothing is lost: \
                 `scribe publish {id}` tries again, and the draft stays available with \
                 `/incident draft`.",
                job.kind
            );
            crate::server::announce(app, &id, &format!("failed.{}", job.id), &text).await;
        }
    }
    result
}

async fn attempt<S: Store>(app: &App<S>, job: &Job) -> Result<(), JobError> {
    let (id, _) = read_incident_job(job)?;
    let incident = app.incident_for_job(&id).await?;
    let config = &app.config.publish;
    match job.kind.as_str() {
        FILES => {
            let path = expand(&config.files.path, &incident);
            let content = document(app, &incident)?;
            write_file(&config.files.dir, &path, &content).await
        }
        GIT => {
            let branch = expand(&config.git.branch, &incident);
            let path = expand(&config.git.path, &incident);
            let content = document(app, &incident)?;
            let target = git::GitTarget {
                remote: config.git.remote.clone(),
                base_branch: config.git.base_branch.clone(),
                author_name: config.git.author_name.clone(),
                author_email: config.git.author_email.clone(),
                workdir: app
                    .config
                    .data_dir
                    .join("git")
                    .join(slug::slug(&config.git.remote)),
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
                let suffix = job.key.rsplit_once(GIT).map_or("", |(_, s)| s);
                app.recorder
                    .store()
                    .enqueue(&[incident_job(&id, GITHUB, suffix, None)])
                    .await
                    .map_err(|e| JobError::Transient(e.to_string()))?;
                app.wake.notify_one();
            }
            Ok(())
        }
        GITHUB => {
            let token = app
                .secrets
                .github_token
                .as_ref()
                .ok_or_else(|| JobError::Permanent("GITHUB_TOKEN is not set".to_string()))?;
            let api = github::GithubApi::new(
                config.github.api_base_url.clone(),
                &config.github.repository,
                token.clone(),
            )?;
            let branch = expand(&config.git.branch, &incident);
            let title = format!("Postmortem: {}", incident.title);
            let body = summary(&incident);
            let (pull, created) = api
                .ensure_pull_request(&branch, &config.git.base_branch, &title, &body)
                .await?;
            tracing::info!(number = pull.number, created, "pull request ready");
            crate::server::announce(
                app,
                &id,
                &format!("pr.{}", pull.number),
                &format!("Postmortem pull request: {}", pull.html_url),
            )
            .await;
            Ok(())
        }
        other => Err(JobError::Permanent(format!(
            "unknown publish job `{other}`"
        ))),
    }
}

/// The draft as published: front matter, then the rendered template.
fn document<S: Store>(app: &App<S>, incident: &Incident) -> Result<String, JobError> {
    let place = Place {
        channel: incident.channel.id.clone(),
        platform: incident.channel.platform.as_str(),
        team_zone: app.config.team.timezone,
    };
    let draft = app
        .drafter
        .render(&app.config.drafting.template, incident, &place)
        .map_err(|e| JobError::Permanent(e.to_string()))?;
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
        incident.timeline.len(),
        crate::drafting::markdown::inline(&names.join(", ")),
    )
}

async fn write_file(dir: &Path, path: &str, content: &str) -> Result<(), JobError> {
    if !is_safe_relative(path) {
        return Err(JobError::Permanent(format!("unsafe path `{path}`")));
    }
    let target: PathBuf = dir.join(path);
    let failed = |e: std::io::Error| JobError::Transient(format!("{}: {e}", target.display()));
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(failed)?;
    }
    let tmp = target.with_extension("md.tmp");
    tokio::fs::write(&tmp, content).await.map_err(failed)?;
    tokio::fs::rename(&tmp, &target).await.map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_their_directory() {
        assert!(is_safe_relative("postmortems/2024/2024-03-09-x.md"));
        for bad in ["", "/etc/passwd", "../x.md", "a/../../x.md", "./x"] {
            assert!(!is_safe_relative(bad), "{bad}");
        }
    }
}
