//! The `scribe` command line: a thin layer over the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use scribe::config::{Config, Secrets};
use scribe::replay;
use scribe::startup::{self, Application};
use scribe::storage::JobState;

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
    if let Command::Check = cli.command {
        return check(cli.config.as_deref());
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            for problem in &e.problems {
                eprintln!("error: {problem}");
            }
            return ExitCode::from(2);
        }
    };
    scribe::telemetry::init(&config.log);
    match run(cli.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
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
        } => {
            let format = match format {
                Format::Md => replay::Format::Markdown,
                Format::Json => replay::Format::Json,
            };
            let text = replay::draft(
                &config,
                &path,
                channel.as_deref(),
                format,
                template.as_deref(),
            )?;
            match out {
                Some(out) => std::fs::write(&out, text)
                    .with_context(|| format!("cannot write {}", out.display())),
                None => Ok(std::io::Write::write_all(
                    &mut std::io::stdout(),
                    text.as_bytes(),
                )?),
            }
        }
        Command::Console { user, channel } => startup::console(config, user, &channel).await,
        Command::Serve { no_migrate } => {
            let application = Application::build(config, Secrets::from_env(), !no_migrate).await?;
            application.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate => {
            startup::migrate(&config).await?;
            println!("database is up to date ({})", config.database_url());
            Ok(())
        }
        Command::Check => unreachable!("checked before the configuration is loaded"),
        Command::Publish { id } => {
            let jobs = startup::publish_again(config, Secrets::from_env(), &id).await?;
            let mut failed = 0;
            for job in jobs {
                let error = job.last_error.map(|e| format!(" ({e})"));
                println!(
                    "{}: {}{}",
                    job.kind,
                    job.state.as_str(),
                    error.unwrap_or_default()
                );
                failed += usize::from(job.state != JobState::Done);
            }
            if failed > 0 {
                bail!(
                    "{failed} publishing job(s) did not finish; `scribe serve` keeps retrying pending ones"
                );
            }
            Ok(())
        }
    }
}

/// `scribe check`: every problem of the configuration and the templates, one line each.
fn check(file: Option<&Path>) -> ExitCode {
    let problems = scribe::config::check(file, std::env::vars());
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    if problems.is_empty() {
        println!("configuration and templates are valid");
        ExitCode::SUCCESS
    } else {
        eprintln!("error: {} problem(s) found", problems.len());
        ExitCode::from(2)
    }
}

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
