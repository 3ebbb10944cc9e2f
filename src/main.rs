//! The `scribe` command line: a thin layer over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use scribe::adapters::console::Console;
use scribe::adapters::export;
use scribe::config::{Config, LogFormat, redact_password};
use scribe::domain::fold;
use scribe::drafting::{Drafter, IncidentDocument, Place};
use scribe::recorder::Recorder;
use scribe::storage::SqliteStore;

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
    let url = config.database_url();
    let store = SqliteStore::open(&url)
        .await
        .with_context(|| format!("cannot open the database {}", redact_password(&url)))?;
    let console = Console {
        recorder: Recorder::new(store, config.settings()),
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
