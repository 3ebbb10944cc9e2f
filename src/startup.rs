//! Builds the application and runs it: the store, the [`App`], the HTTP server with Slack's
//! routes, Socket Mode, the Discord gateway and the job worker, until told to stop. The one
//! place that knows every adapter, so that nothing below it has to.

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::adapters::console::{self, Console};
use crate::adapters::discord::{self, DiscordApi};
use crate::adapters::slack::{self, Slack};
use crate::app::App;
use crate::clock::Clock;
use crate::config::{Config, Secrets, ServerConfig, TrackerKind};
use crate::domain::IncidentId;
use crate::domain::reply::{self, Remedy};
use crate::followups::Tracker;
use crate::jobs::{
    self, DiscordJob, FollowupJob, JobError, JobKind, Queue, SlackJob, read_incident_job,
};
use crate::storage::{self, AnyStore, Job, JobState, JobStatus, Store};
use crate::terminal::inert;

/// Open files kept for the database, git and templates when the connection cap is fitted to
/// the open-file limit.
const RESERVED_FILES: u64 = 64;
/// How long a supervised job worker that ended waits before it starts again.
const RESTART_PAUSE: Duration = Duration::from_secs(1);
/// How long `scribe publish` waits for its jobs, retries included.
const PUBLISH_DEADLINE: Duration = Duration::from_secs(60);

/// The configured store, migrated first when `migrate` is set.
pub async fn open_store(config: &Config, migrate: bool) -> Result<AnyStore> {
    let url = config.database_url();
    let opened = if migrate {
        storage::open(url.expose()).await
    } else {
        storage::connect(url.expose()).await
    };
    opened.with_context(|| format!("cannot open the database {url}"))
}

/// `scribe check`: every problem of the configuration and the templates, one line each.
pub fn check(file: Option<&std::path::Path>) -> std::process::ExitCode {
    let problems = crate::config::check(file, std::env::vars());
    for problem in &problems {
        eprintln!("error: {}", inert(&problem.to_string()));
    }
    if problems.is_empty() {
        println!("configuration and templates are valid");
        std::process::ExitCode::SUCCESS
    } else {
        eprintln!("error: {} problem(s) found", problems.len());
        std::process::ExitCode::from(2)
    }
}

/// Applies the database migrations.
pub async fn migrate(config: &Config) -> Result<()> {
    let store = open_store(config, false).await?;
    store.migrate().await.context("migrations failed")
}

/// `scribe console`: the room `channel` in the terminal, as `user`.
pub async fn console(config: Config, user: String, channel: &str) -> Result<()> {
    if channel.is_empty() || channel.contains(':') {
        bail!("--channel `{channel}`: a room name must be non-empty and hold no `:`");
    }
    let store = Arc::new(open_store(&config, true).await?);
    // Of the secrets, only the language model's key: the console posts nowhere else.
    let secrets = Secrets {
        assist_api_key: Secrets::from_env().assist_api_key,
        ..Secrets::default()
    };
    let app = App::new(config, secrets, store);
    // The first search brings the index up to date with the log.
    app.index.mark_everything();
    let room = Console {
        app: Arc::new(app),
        channel: console::channel(channel),
        user,
    };
    let input = tokio::io::BufReader::new(tokio::io::stdin());
    Ok(room.run(input, tokio::io::stdout()).await?)
}

/// `scribe link --as NAME`: a sign-in link for the console person `name`.
pub async fn web_link(config: Config, name: &str) -> Result<String> {
    let store = Arc::new(open_store(&config, true).await?);
    let app = App::new(config, Secrets::default(), store);
    app.web_link(&console::identity(name))
        .await?
        .context("the web workspace is off ([web] enabled = false)")
}

/// How `scribe insights` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum InsightsFormat {
    /// Markdown tables, to paste into a review.
    Md,
    Json,
    /// One table (`--table`).
    Csv,
}

/// `scribe insights`: the figures of the stored incidents that `filter` admits, today.
pub async fn insights(
    config: Config,
    filter: &crate::insights::Filter,
    format: InsightsFormat,
    table: crate::insights::Table,
) -> Result<String> {
    let store = Arc::new(open_store(&config, true).await?);
    let app = App::new(config, Secrets::default(), store);
    let insights = crate::insights::Insights::new(&app.all_incidents().await?, filter, app.today());
    Ok(match format {
        InsightsFormat::Md => insights.markdown(),
        InsightsFormat::Json => serde_json::to_string_pretty(&insights)? + "\n",
        InsightsFormat::Csv => insights.csv(table),
    })
}

/// `scribe retention`: deletes (or, dry, lists) the messages no incident holds.
pub async fn retention(config: Config, dry_run: bool) -> Result<String> {
    let store = Arc::new(open_store(&config, true).await?);
    let app = App::new(config, Secrets::default(), store);
    Ok(app.retention(dry_run).await?.to_string())
}

/// Retention every `[retention] every`, from the start, while `before_incident` is set.
async fn retain(app: &App) {
    if app.config.retention.before_incident.is_none() {
        return std::future::pending().await;
    }
    let mut every = tokio::time::interval(app.config.retention.every.get());
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(error) = app.retention(false).await {
            tracing::warn!(%error, "retention stopped; it runs again at the next interval");
        }
    }
}

/// Runs each stored job with whoever does its kind (one `match` over [`JobKind`]), and
/// reports a job's failure for good in its incident's channel.
pub struct Runner {
    app: Arc<App>,
    /// The issue tracker of `[followups]`, if any.
    tracker: Option<Tracker>,
    /// The language model of `[assist]`, if any.
    assistant: Option<crate::assist::Assistant>,
    slack: Arc<Slack>,
    discord: Option<DiscordApi>,
}

impl Runner {
    pub fn new(app: Arc<App>) -> Runner {
        let discord = app
            .secrets
            .discord_token
            .as_ref()
            .map(|token| DiscordApi::new(&app.config.discord, token));
        let tracker = Tracker::from_config(&app.config, &app.secrets).unwrap_or_else(|error| {
            tracing::error!(%error, "the issue tracker is off");
            None
        });
        let assistant =
            crate::assist::Assistant::from_config(&app.config, &app.secrets).and_then(|made| {
                made.map_err(|error| tracing::error!(%error, "writing help is off"))
                    .ok()
            });
        Runner {
            tracker,
            assistant,
            slack: Arc::new(Slack::new(Arc::clone(&app))),
            discord,
            app,
        }
    }

    pub async fn run(&self, job: Job) -> Result<(), JobError> {
        let kind: JobKind = job.kind.parse()?;
        let result = match kind {
            JobKind::Slack(kind) => slack::jobs::run(&self.slack, &job, kind).await,
            JobKind::Discord(kind) => {
                discord::jobs::run(&self.app, self.discord.as_ref(), &job, kind).await
            }
            JobKind::Publish(kind) => crate::publish::run(&self.app, &job, kind).await,
            JobKind::Remind(_) => crate::followthrough::remind(&self.app, &job).await,
            JobKind::Followup(FollowupJob::Issue) => {
                crate::followthrough::issue(&self.app, self.tracker.as_ref(), &job).await
            }
            JobKind::Followup(FollowupJob::Poll) => {
                crate::followthrough::poll(&self.app, self.tracker.as_ref()).await
            }
            JobKind::Assist => {
                crate::assist::suggest(&self.app, self.assistant.as_ref(), &job).await
            }
        };
        if let Err(error) = &result
            && error.is_final(job.attempts)
        {
            self.app.metrics.job_failures.inc();
            self.report_failure(kind, &job, error).await;
        }
        result
    }

    /// Tells the incident's channel what could not be done and where the draft still is. A
    /// report that fails is not reported again.
    async fn report_failure(&self, kind: JobKind, job: &Job, error: &JobError) {
        let id = match kind {
            JobKind::Slack(SlackJob::Report) | JobKind::Discord(DiscordJob::Report) => return,
            JobKind::Slack(SlackJob::CreateChannel) => slack::jobs::origin(job),
            _ => read_incident_job(job).ok().map(|(id, _)| id),
        };
        let Some(id) = id else { return };
        let incident = id.to_string();
        let remedy = match kind {
            JobKind::Publish(_) => Remedy::Publish {
                incident: &incident,
            },
            JobKind::Slack(SlackJob::CreateChannel) => Remedy::StartHere,
            JobKind::Followup(_) => Remedy::Tracker,
            _ => Remedy::Draft {
                incident: &incident,
            },
        };
        let text = reply::job_failed(kind.what(), error.reason(), remedy);
        self.app
            .report(&id, &format!("failed.{}", job.id), &text)
            .await;
    }
}

/// `scribe serve`, built: listening, with every part that runs beside the HTTP server.
pub struct Application {
    listener: TcpListener,
    app: Arc<App>,
}

impl Application {
    /// Opens the store (migrating it unless `migrate` is off) and binds the configured address
    /// (port 0: any free port, see [`Application::port`]).
    pub async fn build(config: Config, secrets: Secrets, migrate: bool) -> Result<Application> {
        Self::build_with_clock(config, secrets, migrate, Clock::System).await
    }

    /// The same, reading the time from `clock` (a test's, moved forward on demand).
    pub async fn build_with_clock(
        mut config: Config,
        secrets: Secrets,
        migrate: bool,
        clock: Clock,
    ) -> Result<Application> {
        let store = Arc::new(open_store(&config, migrate).await?);
        let listen = config.server.listen;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        if config.web.public_url.is_none() {
            // Sign-in links name the address actually bound (port 0 picks one).
            let bound = listener.local_addr().context("the listening address")?;
            config.server.listen = bound;
        }
        let app = Arc::new(App::new(config, secrets, store).with_clock(clock));
        // The index catches up with the log (filled for the first time after an upgrade).
        app.index.mark_everything();
        if let Err(error) = app.count_open_incidents().await {
            tracing::warn!(%error, "cannot count the open incidents; the gauge starts at 0");
        }
        // The tracker's reads: one job per slot, so every start queues the same next one.
        if let (true, Some(every)) = (
            app.config.followups.tracker != TrackerKind::None,
            app.config.followups.poll_every,
        ) {
            app.enqueue(&[jobs::poll_job(app.clock.now(), every.span())])
                .await
                .context("cannot queue the tracker's first read")?;
        }
        Ok(Application { listener, app })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map_or(0, |a| a.port())
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Serves until `shutdown` completes, then gives the requests in flight and the job in
    /// progress `[server] shutdown_grace_secs` (container runtimes wait 30 s between SIGTERM
    /// and SIGKILL by default) and closes what is left. A job cut off is not lost: its lease
    /// (30 s) runs out and it runs again.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let Application { listener, app } = self;
        let secrets = &app.secrets;
        if secrets.slack_signing_secret.is_none() {
            tracing::warn!("SLACK_SIGNING_SECRET is not set: the Slack routes are off");
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let worker = {
            let runner = Arc::new(Runner::new(Arc::clone(&app)));
            let app = Arc::clone(&app);
            let stopped = stopped.clone();
            tokio::spawn(supervise(
                Arc::clone(&app.jobs),
                stopped.clone(),
                move || {
                    let runner = Arc::clone(&runner);
                    jobs::work(
                        Arc::clone(app.store()),
                        Arc::clone(&app.jobs),
                        app.clock.clone(),
                        move |job| {
                            let runner = Arc::clone(&runner);
                            async move { runner.run(job).await }
                        },
                        until_stopped(stopped.clone()),
                    )
                },
            ))
        };
        let slack = Arc::new(Slack::new(Arc::clone(&app)));
        let socket = match (&secrets.slack_app_token, &slack.api) {
            (Some(token), Some(api)) => Some(tokio::spawn(slack::socket::run(
                Arc::clone(&slack),
                api.clone(),
                token.clone(),
                until_stopped(stopped.clone()),
            ))),
            _ => None,
        };
        if socket.is_none() && slack.api.is_some() {
            // Without Socket Mode nothing reconnects: what was missed is read once, at start.
            let slack = Arc::clone(&slack);
            tokio::spawn(async move { slack::catch_up::run(&slack).await });
        }
        let gateway = secrets.discord_token.clone().map(|token| {
            tokio::spawn(discord::run(
                Arc::clone(&app),
                token,
                until_stopped(stopped.clone()),
            ))
        });
        let indexer = {
            let app = Arc::clone(&app);
            let stopped = until_stopped(stopped.clone());
            tokio::spawn(async move { app.index.run(&app.recorder, stopped).await })
        };
        let retention = {
            let app = Arc::clone(&app);
            let stopped = until_stopped(stopped.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = retain(&app) => {}
                    () = stopped => {}
                }
            })
        };
        tracing::info!("listening on http://{}", listener.local_addr()?);
        let (signalled, signal) = tokio::sync::oneshot::channel();
        let shutdown = async move {
            shutdown.await;
            let _ = signalled.send(tokio::time::Instant::now());
        };
        let router = crate::server::router(Arc::clone(&app), slack);
        crate::server::serve(
            listener,
            router,
            &server_config(&app.config.server),
            shutdown,
        )
        .await;
        tracing::info!("shutting down: finishing the job in progress");
        let _ = stop.send(true);
        let grace = app.config.server.shutdown_grace();
        let deadline = signal.await.unwrap_or_else(|_| tokio::time::Instant::now()) + grace;
        if tokio::time::timeout_at(deadline, worker).await.is_err() {
            tracing::warn!(
                ?grace,
                "a job outlived the shutdown grace period; it will run again"
            );
        }
        // What it had not indexed yet is indexed at the next start.
        indexer.await?;
        // A batch cut off is rolled back whole, and the next pass deletes it.
        retention.await?;
        if let Some(socket) = socket {
            socket.await?;
        }
        if let Some(gateway) = gateway {
            gateway.await?;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The server's settings with the connection cap fitted to the open-file limit, raised first
/// to the hard limit: a process out of file descriptors cannot accept even a health check.
fn server_config(config: &ServerConfig) -> ServerConfig {
    let mut config = config.clone();
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open-file limit");
            return config;
        }
    };
    let fits = usize::try_from(limit.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
    if let Some(fits) = NonZeroUsize::new(fits)
        && fits < config.max_connections
    {
        tracing::warn!(
            limit,
            connections = fits,
            "the open-file limit caps the connections"
        );
        config.max_connections = fits;
    }
    config
}

/// Runs the job worker `start` makes until `stopped`, and starts it again (after
/// [`RESTART_PAUSE`]) whenever it ends or panics before then, so that one bad job cannot stop
/// every later one; `queue` tells readiness while it is down. A job cut off by a panic is not
/// lost: its lease runs out and it runs again.
pub async fn supervise<F, W>(queue: Arc<Queue>, mut stopped: watch::Receiver<bool>, start: F)
where
    F: Fn() -> W,
    W: Future<Output = ()> + Send + 'static,
{
    loop {
        let ended = tokio::spawn(start()).await;
        if *stopped.borrow() {
            return;
        }
        queue.set_down(true);
        match ended {
            Err(error) if error.is_panic() => {
                tracing::error!("the job worker panicked; starting it again")
            }
            _ => tracing::error!("the job worker ended; starting it again"),
        }
        tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(RESTART_PAUSE) => {}
        }
        queue.set_down(false);
    }
}

/// `scribe publish`: queues an incident's publish jobs again, runs them (with the GitHub job
/// the git job queues), and once none is due any more or a minute has passed, prints how each
/// ended; an error when one did not finish.
pub async fn publish_again(config: Config, secrets: Secrets, id: &str) -> Result<()> {
    let id: IncidentId = id.parse()?;
    let store = Arc::new(open_store(&config, true).await?);
    let app = Arc::new(App::new(config, secrets, Arc::clone(&store)));
    if app.incident(&id).await?.is_none() {
        bail!("no incident {id} in the store");
    }
    let suffix = format!("#manual-{}", chrono::Utc::now().timestamp_micros());
    let queued = jobs::publish_jobs(&app.config.publish, &id, &suffix);
    if queued.is_empty() {
        bail!(
            "no file-like publishing target is configured ([publish] targets: files, git, github)"
        );
    }
    app.enqueue(&queued).await?;
    let prefix = jobs::job_prefix(&id);
    let ours = |jobs: &[JobStatus]| -> Vec<JobStatus> {
        jobs.iter()
            .filter(|j| j.key.contains(&suffix))
            .cloned()
            .collect()
    };
    let finished = {
        let app = Arc::clone(&app);
        let prefix = prefix.clone();
        let suffix = suffix.clone();
        async move {
            let deadline = tokio::time::Instant::now() + PUBLISH_DEADLINE;
            loop {
                app.jobs.settled().await;
                let pending = app.store().jobs(&prefix).await.map_or(true, |jobs| {
                    jobs.iter()
                        .any(|j| j.key.contains(&suffix) && j.state == JobState::Pending)
                });
                if !pending || tokio::time::Instant::now() >= deadline {
                    break;
                }
                // A retry is due later: look again once it may have run.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let runner = Arc::new(Runner::new(Arc::clone(&app)));
    jobs::work(
        store,
        Arc::clone(&app.jobs),
        app.clock.clone(),
        move |job| {
            let runner = Arc::clone(&runner);
            async move { runner.run(job).await }
        },
        finished,
    )
    .await;
    let mut unfinished = 0;
    for job in ours(&app.store().jobs(&prefix).await?) {
        let error = job.last_error.map(|e| format!(" ({e})"));
        let state = job.state.as_str();
        let error = inert(error.as_deref().unwrap_or_default()).into_owned();
        println!("{}: {state}{error}", job.kind);
        unfinished += usize::from(job.state != JobState::Done);
    }
    if unfinished > 0 {
        bail!(
            "{unfinished} publishing job(s) did not finish; `scribe serve` keeps retrying pending ones"
        );
    }
    Ok(())
}

/// Ctrl-C or SIGTERM (what container runtimes send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    /// A worker that panics is started again; readiness says down until it is.
    #[tokio::test(start_paused = true)]
    async fn a_worker_that_panics_is_started_again() {
        let queue = Arc::new(Queue::default());
        let (stop, stopped) = watch::channel(false);
        let starts = Arc::new(AtomicU32::new(0));
        let (restarted, mut running) = tokio::sync::mpsc::unbounded_channel();
        let supervisor = tokio::spawn(supervise(Arc::clone(&queue), stopped.clone(), {
            let starts = Arc::clone(&starts);
            move || {
                let start = starts.fetch_add(1, Ordering::SeqCst);
                let mut stopped = stopped.clone();
                let restarted = restarted.clone();
                async move {
                    if start == 0 {
                        panic!("a job went wrong");
                    }
                    let _ = restarted.send(());
                    let _ = stopped.wait_for(|stop| *stop).await;
                }
            }
        }));
        // Paused time stands still while this task keeps yielding: the pause before the
        // restart cannot end before the supervisor has said the worker is down.
        while !queue.is_down() {
            tokio::task::yield_now().await;
        }
        assert_eq!(running.recv().await, Some(()), "started again");
        assert!(!queue.is_down());
        stop.send(true).unwrap();
        supervisor.await.unwrap();
        assert_eq!(
            starts.load(Ordering::SeqCst),
            2,
            "not started again once stopped"
        );
    }
}
