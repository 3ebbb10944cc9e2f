//! The `scribe` command line: a thin layer over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use scribe::adapters::console::Console;
use scribe::adapters::discord::{self, DiscordApi};
use scribe::adapters::export;
use scribe::adapters::slack::socket;
use scribe::adapters::slack::web::SlackApi;
use scribe::config::{Config, LogFormat, Secrets, redact_password};
use scribe::domain::{IncidentId, fold};
use scribe::drafting::{Drafter, IncidentDocument, Place};
use scribe::jobs;
use scribe::recorder::Recorder;
use scribe::server::{self, App, Metrics};
use scribe::storage::{self, AnyStore, JobState, Store};
use tokio::sync::Notify;

#[derive(Parser)]
#[command(
    name = "scribe",
    version,
    about = "Keeps the incident timeline in chat and drafts the postmortem."
)]
struct Cli {
    /// A configuration file layered over the built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay a chat export (Slack export directory or .zip, DiscordChatExporter .json) into a
    /// postmortem draft. Reads only: writes nothing unless --out is given.
    Draft {
        /// The export to replay.
        path: PathBuf,
        /// The channel to replay, when the export holds several.
        #[arg(long)]
        channel: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Md)]
        format: Format,
        /// Write the draft to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The template to draft with (default: the configured one).
        #[arg(long, value_name = "NAME")]
        template: Option<String>,
    },
    /// Serve Slack's requests (and the health, metrics and incident API routes) and run the
    /// jobs that post to the channels.
    Serve {
        /// Do not apply database migrations at start (run `scribe migrate` yourself).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply the database migrations, then exit.
    Migrate,
    /// Validate the configuration and every template; exit non-zero naming each problem.
    Check,
    /// Publish an incident's draft again to the configured targets (files, git, GitHub).
    Publish {
        /// The incident, as `platform:channel:message` (see `/api/incidents`).
        id: String,
    },
    /// A chat room in the terminal: try every command without a chat account.
    Console {
        /// Your name in the room.
        #[arg(long = "as", value_name = "NAME", default_value = "you")]
        user: String,
        /// The room's name; each room keeps its own incidents.
        #[arg(long, default_value = "console")]
        channel: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Md,
    Json,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    match run(cli.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn run(command: Command, config: Config) -> Result<()> {
    match command {
        Command::Draft {
            path,
            channel,
            format,
            out,
            template,
        } => draft(
            &config,
            &path,
            channel.as_deref(),
            format,
            out.as_deref(),
            template,
        ),
        Command::Console { user, channel } => console(config, user, &channel).await,
        Command::Serve { no_migrate } => serve(config, !no_migrate).await,
        Command::Migrate => {
            let store = open_store(&config, false).await?;
            store.migrate().await.context("migrations failed")?;
            println!(
                "database is up to date ({})",
                redact_password(&config.database_url())
            );
            Ok(())
        }
        Command::Check => check(&config),
        Command::Publish { id } => publish(config, &id).await,
    }
}

fn draft(
    config: &Config,
    path: &Path,
    channel: Option<&str>,
    format: Format,
    out: Option<&Path>,
    template: Option<String>,
) -> Result<()> {
    let export = export::read(path, channel)?;
    let events = export.events.len();
    let history = fold(export.events, &config.settings());
    let Some(incident) = history.incidents.last() else {
        bail!(
            "{}: no incident in channel #{} ({events} events): nothing there starts with `/incident start <title>`",
            path.display(),
            export.channel_name
        );
    };
    if history.incidents.len() > 1 {
        tracing::warn!(
            count = history.incidents.len(),
            "the channel holds several incidents; drafting the latest"
        );
    }
    let text = match format {
        Format::Json => {
            let mut json = serde_json::to_string_pretty(&IncidentDocument::new(
                incident,
                &export.channel_name,
            ))?;
            json.push('\n');
            json
        }
        Format::Md => {
            let place = Place {
                channel: export.channel_name.clone(),
                platform: export.channel.platform.as_str(),
                team_zone: config.team.timezone,
            };
            let template = template.unwrap_or_else(|| config.drafting.template.clone());
            Drafter::new(config.template_dir()).render(&template, incident, &place)?
        }
    };
    match out {
        Some(out) => {
            std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?
        }
        None => {
            use std::io::Write;
            std::io::stdout().write_all(text.as_bytes())?;
        }
    }
    Ok(())
}

async fn console(config: Config, user: String, channel: &str) -> Result<()> {
    if channel.is_empty() || channel.contains(':') {
        bail!("--channel `{channel}`: a room name must be non-empty and hold no `:`");
    }
    let store = open_store(&config, true).await?;
    let console = Console {
        recorder: Recorder::new(Arc::new(store), config.settings()),
        drafter: Drafter::new(config.template_dir()),
        template: config.drafting.template.clone(),
        output_dir: config.drafting.output_dir.clone(),
        channel: scribe::adapters::console::channel(channel),
        user,
        team_zone: config.team.timezone,
    };
    console
        .run(
            tokio::io::BufReader::new(tokio::io::stdin()),
            tokio::io::stdout(),
        )
        .await?;
    Ok(())
}

/// The configured store, migrated first when `migrate` is set.
async fn open_store(config: &Config, migrate: bool) -> Result<AnyStore> {
    let url = config.database_url();
    let opened = if migrate {
        storage::open(&url).await
    } else {
        storage::connect(&url).await
    };
    opened.with_context(|| format!("cannot open the database {}", redact_password(&url)))
}

fn check(config: &Config) -> Result<()> {
    let problems =
        scribe::drafting::check_templates(config.template_dir(), &config.drafting.template);
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    if !problems.is_empty() {
        bail!("{} problem(s) found", problems.len());
    }
    println!("configuration and templates are valid");
    Ok(())
}

/// Everything the server and the job worker need, over `store`.
fn app(config: Config, store: Arc<AnyStore>) -> Arc<App<AnyStore>> {
    let secrets = Secrets::from_env();
    let slack = secrets
        .slack_bot_token
        .as_ref()
        .map(|token| SlackApi::new(config.slack.api_base_url.clone(), token.clone()));
    let discord = secrets
        .discord_token
        .as_ref()
        .map(|token| DiscordApi::new(&config.discord, token));
    Arc::new(App {
        recorder: Recorder::new(store, config.settings()),
        drafter: Drafter::new(config.template_dir()),
        metrics: Metrics::default(),
        wake: Arc::new(Notify::new()),
        slack,
        discord,
        secrets,
        config,
    })
}

/// Publishes an incident again, as jobs, and waits (a minute at most) for them to end.
async fn publish(config: Config, id: &str) -> Result<()> {
    let id: IncidentId = id.parse()?;
    let store = Arc::new(open_store(&config, true).await?);
    let app = app(config, Arc::clone(&store));
    let history = app.recorder.history(&id.channel).await?;
    if !history
        .incidents
        .iter()
        .any(|i| i.opened_by == id.opened_by)
    {
        bail!("no incident {id} in the store");
    }
    let suffix = format!("#manual-{}", chrono::Utc::now().timestamp_micros());
    let jobs = scribe::publish::jobs(&app.config.publish, &id, &suffix);
    if jobs.is_empty() {
        bail!(
            "no file-like publishing target is configured ([publish] targets: files, git, github)"
        );
    }
    store.enqueue(&jobs).await?;
    let prefix = scribe::jobs::job_prefix(&id);
    let finished = {
        let store = Arc::clone(&store);
        let prefix = prefix.clone();
        async move {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
            while tokio::time::Instant::now() < deadline {
                let pending = store.jobs(&prefix).await.map_or(true, |jobs| {
                    jobs.iter()
                        .any(|j| j.key.contains(&suffix) && j.state == JobState::Pending)
                });
                if !pending {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    let worker_app = Arc::clone(&app);
    jobs::work(
        Arc::clone(&store),
        Arc::clone(&app.wake),
        move |job| {
            let app = Arc::clone(&worker_app);
            async move { server::run_job(&app, job).await }
        },
        finished,
    )
    .await;
    let mut failed = 0;
    for job in store.jobs(&prefix).await? {
        if jobs.iter().any(|j| j.key == job.key) || job.key.contains("publish.github") {
            println!(
                "{}: {}{}",
                job.kind,
                job.state.as_str(),
                job.last_error
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
            failed += usize::from(job.state != JobState::Done);
        }
    }
    if failed > 0 {
        bail!(
            "{failed} publishing job(s) did not finish; `scribe serve` keeps retrying pending ones"
        );
    }
    Ok(())
}

async fn serve(config: Config, migrate: bool) -> Result<()> {
    let store = Arc::new(open_store(&config, migrate).await?);
    let listen = config.server.listen;
    let app = app(config, Arc::clone(&store));
    if app.secrets.slack_signing_secret.is_none() {
        tracing::warn!("SLACK_SIGNING_SECRET is not set: the Slack routes are off");
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let worker = {
        let app = Arc::clone(&app);
        tokio::spawn(jobs::work(
            store,
            Arc::clone(&app.wake),
            move |job| {
                let app = Arc::clone(&app);
                async move { server::run_job(&app, job).await }
            },
            until_stopped(stopped.clone()),
        ))
    };
    let socket = match (&app.secrets.slack_app_token, &app.slack) {
        (Some(token), Some(api)) => Some(tokio::spawn(socket::run(
            Arc::clone(&app),
            api.clone(),
            token.clone(),
            until_stopped(stopped.clone()),
        ))),
        _ => None,
    };
    let gateway = app.secrets.discord_token.clone().map(|token| {
        tokio::spawn(discord::run(
            Arc::clone(&app),
            token,
            until_stopped(stopped.clone()),
        ))
    });
    tracing::info!("listening on http://{}", listener.local_addr()?);
    server::serve(listener, server::router(app), shutdown_signal()).await?;
    tracing::info!("shutting down: finishing the job in progress");
    let _ = stop.send(true);
    // A job cut off here is not lost: its lease (30 s) runs out and it runs again.
    if tokio::time::timeout(SHUTDOWN_DEADLINE, worker)
        .await
        .is_err()
    {
        tracing::warn!(deadline = ?SHUTDOWN_DEADLINE, "a job outlived the shutdown deadline; it will run again");
    }
    if let Some(socket) = socket {
        socket.await?;
    }
    if let Some(gateway) = gateway {
        gateway.await?;
    }
    tracing::info!("stopped");
    Ok(())
}

/// How long a stopping server waits for the job in progress (container runtimes wait 30 s
/// between SIGTERM and SIGKILL by default).
const SHUTDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// Ctrl-C or SIGTERM (what container runtimes send).
async fn shutdown_signal() {
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
