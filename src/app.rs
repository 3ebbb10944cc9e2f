//! The application state: one concrete [`App`] that the HTTP server, the chat adapters, the
//! console and the job runners share. It records events (with the jobs they call for), folds
//! channels, renders drafts and queues work; it knows no platform API, no HTTP server and no
//! adapter (`tests/architecture.rs` keeps it so), which is why adapters can depend on it.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Config, Secrets};
use crate::domain::reminders::Rules;
use crate::domain::{
    Author, ChannelRef, ChatEvent, EventKind, History, Incident, IncidentId, MessageId, Outcome,
    PostmortemState, Status, reply,
};
use crate::drafting::{DraftError, Drafter, Place};
use crate::indexer::Indexer;
use crate::jobs::{self, JobError, JobKind, Queue, incident_job};
use crate::metrics::{Metrics, SeverityLabels};
use crate::recorder::{Recorded, Recorder};
use crate::search::{self, Hit, Query, Scope, Words};
use crate::storage::{AnyStore, NewJob, Store, StoreError, WebIdentity};

/// The web page of incident `id`, from the site's root.
pub fn incident_path(id: &IncidentId) -> String {
    let id = id.to_string();
    format!(
        "/incidents/{}",
        url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
    )
}

/// How long `/metrics` serves one count of the postmortems by state: counting reads every
/// channel, and the states change by the day, not by the second.
pub const POSTMORTEM_RECOUNT: chrono::Duration = chrono::Duration::minutes(5);

/// Each postmortem state with how many closed incidents are in it.
pub type PostmortemCounts = Vec<(PostmortemState, i64)>;

/// Everything a request handler, an adapter or a job needs.
pub struct App {
    pub config: Config,
    pub secrets: Secrets,
    pub recorder: Recorder<AnyStore>,
    pub drafter: Drafter,
    pub metrics: Metrics,
    /// The job worker's doorbell and the "no job is due" sync point.
    pub jobs: Arc<Queue>,
    /// Rings with a channel whenever one of its events is stored here: open web pages follow.
    pub changes: tokio::sync::broadcast::Sender<ChannelRef>,
    /// When each reminder is due.
    pub rules: Rules,
    /// The time: the system's, or a test's that moves when told.
    pub clock: Clock,
    /// The postmortems by state as last counted, and when: `/metrics` counts them again at
    /// most every [`POSTMORTEM_RECOUNT`].
    postmortem_counts:
        tokio::sync::Mutex<Option<(chrono::DateTime<chrono::Utc>, PostmortemCounts)>>,
    /// Keeps the search index current.
    pub index: Indexer,
    /// Channels whose workspace is stored, so that each is written once per process.
    workspaces: std::sync::Mutex<std::collections::HashSet<ChannelRef>>,
}

impl App {
    pub fn new(config: Config, secrets: Secrets, store: Arc<AnyStore>) -> App {
        App {
            recorder: Recorder::new(store, config.settings())
                .with_budget(config.performance.fold_cache_mb.bytes()),
            drafter: Drafter::new(config.template_dir()),
            metrics: Metrics::default(),
            jobs: Arc::new(Queue::default()),
            changes: tokio::sync::broadcast::channel(256).0,
            workspaces: std::sync::Mutex::default(),
            index: Indexer::new(config.search.messages),
            postmortem_counts: tokio::sync::Mutex::default(),
            clock: Clock::System,
            rules: config.reminder_rules(),
            secrets,
            config,
        }
    }

    /// The same, reading `clock`.
    pub fn with_clock(mut self, clock: Clock) -> App {
        self.clock = clock;
        self
    }

    pub fn store(&self) -> &Arc<AnyStore> {
        self.recorder.store()
    }

    /// Stores `event` with the jobs it calls for and folds its channel: the one path of every
    /// live message, whichever platform it came from.
    pub async fn record(&self, event: &ChatEvent) -> Result<Recorded, StoreError> {
        let recorded = self
            .recorder
            .record(event, |reply, id, incident| {
                let mut jobs =
                    jobs::assist_jobs(&reply.outcome, id.as_ref(), event.message.as_str());
                jobs.extend(jobs::follow_ups(
                    &self.config.publish,
                    reply,
                    id,
                    event.message.as_str(),
                ));
                let mut made = None;
                let mut incident = || made.get_or_insert_with(&mut *incident).clone();
                jobs.extend(jobs::reminders(&self.rules, &reply.outcome, &mut incident));
                jobs.extend(jobs::issue_jobs(
                    &self.config.followups,
                    &reply.outcome,
                    &mut incident,
                ));
                jobs
            })
            .await?;
        if recorded.new {
            self.metrics.events_stored.inc();
            let severity = recorded.incident.as_ref().map(|i| SeverityLabels {
                severity: i.severity.map_or("none", |s| s.code()),
            });
            match recorded.effect.as_ref().map(|e| &e.outcome) {
                Some(Outcome::Opened) => {
                    self.metrics.incidents_open.inc();
                    if let Some(labels) = &severity {
                        self.metrics.incidents_started.get_or_create(labels).inc();
                    }
                }
                Some(Outcome::Resolved) => {
                    let resolved = recorded.incident.as_ref().and_then(|i| i.time_to_resolve());
                    if let (Some(labels), Some(took)) = (&severity, resolved) {
                        self.metrics
                            .time_to_resolve
                            .get_or_create(labels)
                            .observe(took.num_milliseconds() as f64 / 1000.0);
                    }
                }
                Some(Outcome::Closed) => {
                    self.metrics.incidents_open.dec();
                }
                _ => {}
            }
        }
        if recorded.queued {
            self.jobs.wake();
        }
        if recorded.new {
            self.index.mark(&event.channel);
            // Nobody listening is no error.
            let _ = self.changes.send(event.channel.clone());
        }
        Ok(recorded)
    }

    /// Records `command` (`/incident action done 3`) about incident `id` as said by an
    /// integration (a tracker, Scribe's own publishing) in the incident's channel. `key` names
    /// the outside change: the same change told twice (a webhook redelivered, a poll that
    /// sees it again) is stored once.
    pub async fn record_integration(
        &self,
        id: &IncidentId,
        key: &str,
        author: Author,
        command: &str,
    ) -> Result<Recorded, StoreError> {
        let event = ChatEvent {
            channel: id.channel.clone(),
            message: MessageId::new(format!("ext:{key}")),
            at: self.clock.now(),
            kind: EventKind::Posted {
                author,
                text: crate::domain::command::aimed(command, id.opened_by.as_str()),
                thread: None,
            },
        };
        self.record(&event).await
    }

    /// Notes which workspace (Slack team, Discord server) a channel belongs to: what decides
    /// who sees its incidents on the web.
    pub async fn remember_workspace(
        &self,
        channel: &ChannelRef,
        workspace: &str,
    ) -> Result<(), StoreError> {
        if workspace.is_empty() || self.known_workspace(channel) {
            return Ok(());
        }
        self.store()
            .set_channel_workspace(channel, workspace)
            .await?;
        self.workspaces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(channel.clone());
        Ok(())
    }

    fn known_workspace(&self, channel: &ChannelRef) -> bool {
        self.workspaces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(channel)
    }

    /// A new one-time sign-in link to the web workspace for `who`; `None` when the web
    /// workspace is off.
    pub async fn web_link(&self, who: &WebIdentity) -> Result<Option<String>, StoreError> {
        if !self.config.web.enabled {
            return Ok(None);
        }
        let token = crate::signin::secret();
        let expires = self.clock.now() + crate::signin::LINK_TTL;
        self.store()
            .add_web_link(&crate::signin::digest(&token), who, expires)
            .await?;
        Ok(Some(format!("{}/login/{token}", self.config.public_url())))
    }

    /// The answer to `/incident web`, the same on every platform: the link, or why there is
    /// none (the cause goes to the log).
    pub async fn web_link_answer(&self, who: &WebIdentity) -> String {
        match self.web_link(who).await {
            Ok(Some(link)) => reply::web_link(&link),
            Ok(None) => reply::text(&Outcome::WebLink, None),
            Err(error) => {
                tracing::error!(%error, "cannot store a sign-in link");
                reply::NO_WEB_LINK.to_string()
            }
        }
    }

    /// The incident's draft with the configured template; `channel` is the channel's name as
    /// people know it.
    pub fn render_draft(&self, incident: &Incident, channel: &str) -> Result<String, DraftError> {
        let place = Place {
            channel: channel.to_string(),
            platform: incident.channel.platform.as_str(),
            team_zone: self.config.team.timezone,
            today: Some(self.today()),
        };
        self.drafter
            .render(&self.config.drafting.template, incident, &place)
    }

    /// The team's day now.
    pub fn today(&self) -> chrono::NaiveDate {
        self.clock
            .now()
            .with_timezone(&self.config.team.timezone)
            .date_naive()
    }

    /// What `query` finds, once the index holds every event stored before the call.
    pub async fn search(&self, query: &Query) -> Result<Vec<Hit>, StoreError> {
        self.index.pass(&self.recorder).await?;
        self.store().search(query).await
    }

    /// Whose incidents a person in `channel` may find: those of the channel's workspace.
    /// A channel whose workspace is unknown finds nothing.
    pub async fn scope_of(&self, channel: &ChannelRef) -> Result<Scope, StoreError> {
        Ok(Scope::Workspace {
            platform: channel.platform,
            workspace: self
                .store()
                .channel_workspace(channel)
                .await?
                .unwrap_or_default(),
        })
    }

    /// The closed incidents most like `incident` (its title, factors and timeline), among
    /// those of its workspace, best first.
    pub async fn similar(&self, incident: &Incident) -> Result<Vec<Hit>, StoreError> {
        let query = Query::like(incident, self.scope_of(&incident.channel).await?);
        self.search(&query).await
    }

    /// The web page of the incident a hit names (its id, when there is no web workspace).
    pub fn link(&self, hit: &Hit) -> String {
        match hit.incident_id() {
            Some(id) if self.config.web.enabled => {
                format!("{}{}", self.config.public_url(), incident_path(&id))
            }
            _ => hit.id.clone(),
        }
    }

    /// The answer to `/incident search <words>` asked in `channel`: the top hits of its
    /// workspace, with links.
    pub async fn search_answer(&self, channel: &ChannelRef, asked: &str) -> String {
        let query = match self.scope_of(channel).await {
            Ok(scope) => Query::every_word(Words::parse(asked), scope, search::IN_CHAT),
            Err(error) => {
                tracing::error!(%error, "cannot search");
                return reply::SEARCH_FAILED.to_string();
            }
        };
        match self.search(&query).await {
            Ok(hits) => search::search_answer(asked, &hits, |hit| self.link(hit)),
            Err(error) => {
                tracing::error!(%error, "cannot search");
                reply::SEARCH_FAILED.to_string()
            }
        }
    }

    /// The list of closed incidents like `incident` (`/incident similar`, and under a start
    /// headline); `None` when there are none or the index cannot be read (said in the log).
    pub async fn similar_answer(&self, incident: &Incident) -> Option<String> {
        match self.similar(incident).await {
            Ok(hits) => search::similar_answer(&hits, |hit| self.link(hit)),
            Err(error) => {
                tracing::error!(incident = %incident.id(), %error, "cannot look for similar incidents");
                None
            }
        }
    }

    /// The start headline's addition: incidents like the new one, when `[search]
    /// similar_on_start` is on.
    pub async fn similar_on_start(&self, incident: &Incident) -> Option<String> {
        if !self.config.search.similar_on_start {
            return None;
        }
        self.similar_answer(incident).await
    }

    /// The channel's state, folded from its log.
    pub async fn history(&self, channel: &ChannelRef) -> Result<History, StoreError> {
        self.recorder.history(channel).await
    }

    /// The incident named by `id`, if its channel's log holds it.
    pub async fn incident(&self, id: &IncidentId) -> Result<Option<Incident>, StoreError> {
        Ok(self
            .history(&id.channel)
            .await?
            .incidents
            .into_iter()
            .find(|i| i.opened_by == id.opened_by))
    }

    /// The incident a job is about; a job outliving its incident fails for good.
    pub async fn incident_for_job(&self, id: &IncidentId) -> Result<Incident, JobError> {
        self.incident(id).await?.ok_or_else(|| {
            JobError::Permanent(format!("incident {id} is not in its channel's log"))
        })
    }

    /// Stores jobs outside any command and wakes the worker.
    pub async fn enqueue(&self, jobs: &[NewJob]) -> Result<(), StoreError> {
        self.store().enqueue(jobs).await?;
        self.jobs.wake();
        Ok(())
    }

    /// Posts `text` in the incident's channel, on its own platform, once per `key`. Where
    /// Scribe cannot post (the console, a platform without its token) the text goes to the log,
    /// as it does when the store cannot take the job: there is nobody else to tell.
    pub async fn report(&self, id: &IncidentId, key: &str, text: &str) {
        let Some(kind) = self.report_kind(id.channel.platform) else {
            tracing::warn!(incident = %id, text, "no way to post in the incident's channel");
            return;
        };
        let job = incident_job(id, kind, &format!(".{key}"), Some(text.to_string()));
        if let Err(error) = self.enqueue(&[job]).await {
            tracing::error!(incident = %id, %error, text, "cannot queue a post");
        }
    }

    /// The job that posts in a channel of `platform`; `None` where Scribe cannot post there.
    pub fn report_kind(&self, platform: crate::domain::Platform) -> Option<JobKind> {
        JobKind::report(platform).filter(|_| match platform {
            crate::domain::Platform::Slack => self.secrets.slack_bot_token.is_some(),
            crate::domain::Platform::Discord => self.secrets.discord_token.is_some(),
            crate::domain::Platform::Console => false,
        })
    }

    /// Deletes (or, dry, measures) the messages no incident holds, and drops the folds of the
    /// channels that changed.
    pub async fn retention(&self, dry_run: bool) -> Result<crate::retention::Report, StoreError> {
        let retention = &self.config.retention;
        crate::retention::pass(
            self.store().as_ref(),
            &self.config.settings(),
            retention.keys_for.span(),
            self.clock.now(),
            dry_run,
            |channel| self.recorder.unload(channel),
        )
        .await
    }

    /// Every incident of every channel in the log (folds of recent channels are cached).
    pub async fn all_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let mut incidents = Vec::new();
        for channel in self.store().channels().await? {
            incidents.extend(self.history(&channel).await?.incidents);
        }
        Ok(incidents)
    }

    /// [`App::postmortems_by_state`], counted again only when the last count is older than
    /// [`POSTMORTEM_RECOUNT`].
    pub async fn recent_postmortem_counts(&self) -> Result<PostmortemCounts, StoreError> {
        let mut cached = self.postmortem_counts.lock().await;
        let now = self.clock.now();
        if let Some((at, counts)) = cached.as_ref()
            && now - *at < POSTMORTEM_RECOUNT
        {
            return Ok(counts.clone());
        }
        let counts = self.postmortems_by_state().await?;
        *cached = Some((now, counts.clone()));
        Ok(counts)
    }

    /// The closed incidents' postmortems, counted by their state today (every state listed).
    pub async fn postmortems_by_state(&self) -> Result<PostmortemCounts, StoreError> {
        let today = self.today();
        let mut counts: Vec<(PostmortemState, i64)> =
            PostmortemState::ALL.iter().map(|s| (*s, 0)).collect();
        for incident in self.all_incidents().await? {
            if incident.closed_at.is_none() {
                continue;
            }
            let state = incident.postmortem_state(incident.postmortem.due, today);
            if let Some(count) = counts.iter_mut().find(|(s, _)| *s == state) {
                count.1 += 1;
            }
        }
        Ok(counts)
    }

    /// Counts the open incidents for the metrics, once at start: from then on
    /// [`App::record`] keeps the gauge current, so a scrape reads no channel.
    pub async fn count_open_incidents(&self) -> Result<(), StoreError> {
        let mut open = 0;
        for channel in self.store().channels().await? {
            let history = self.history(&channel).await?;
            open += history
                .incidents
                .iter()
                .filter(|i| i.status() != Status::Closed)
                .count() as i64;
        }
        self.metrics.incidents_open.set(open);
        Ok(())
    }
}
