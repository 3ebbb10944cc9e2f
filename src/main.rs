//! The `scribe` command line: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use scribe::adapters::discord::invite;
use scribe::config::{Config, Secrets};
use scribe::replay;
use scribe::startup::{self, Application};
use scribe::terminal::inert;

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
    /// Validate the configuration and every template; exit non-zero naming each problem.
    Check,
    #[command(flatten)]
    WithConfig(Run),
}

/// The commands that run on a configuration that loaded.
#[derive(Subcommand)]
enum Run {
    /// Replay a chat export (Slack export directory or .zip, DiscordChatExporter .json) into a
    /// postmortem draft. Reads only: writes nothing unless --out is given.
    Draft {
        /// The export to replay.
        path: PathBuf,
        /// The channel to replay, when the export holds several.
        #[arg(long)]
        channel: Option<String>,
        #[arg(long, value_enum, default_value_t = replay::Format::Md)]
        format: replay::Format,
        /// Write the draft to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The template to draft with (default: the configured one).
        #[arg(long, value_name = "NAME")]
        template: Option<String>,
        /// What the export's files may take once decompressed, together, in bytes: a small
        /// zip can hold gigabytes.
        #[arg(long, value_name = "BYTES", default_value_t = scribe::adapters::export::DEFAULT_MAX_BYTES)]
        max_export_bytes: u64,
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
    /// Publish an incident's draft again to the configured targets (files, git, GitHub).
    Publish {
        /// The incident, as `platform:channel:message` (see `/api/incidents`).
        id: String,
    },
    /// Print a one-time sign-in link to the web workspace for a console identity (for an
    /// operator on the server): it works once, within 10 minutes.
    Link {
        /// The console name to sign in as.
        #[arg(long = "as", value_name = "NAME", default_value = "you")]
        user: String,
    },
    /// The incidents together: counts, time to resolve and time open by severity and month,
    /// postmortems and actions by state, the factors written most, and the team's load.
    Insights {
        /// Incidents started on or after this day (YYYY-MM-DD, UTC).
        #[arg(long, value_name = "DATE")]
        from: Option<chrono::NaiveDate>,
        /// Incidents started on or before this day (YYYY-MM-DD, UTC).
        #[arg(long, value_name = "DATE")]
        to: Option<chrono::NaiveDate>,
        /// Only incidents of this severity (sev1 … sev4, or critical, high, medium, low).
        #[arg(long)]
        severity: Option<scribe::domain::Severity>,
        #[arg(long, value_enum, default_value_t = startup::InsightsFormat::Md)]
        format: startup::InsightsFormat,
        /// The table `--format csv` prints.
        #[arg(long, value_enum, default_value_t = scribe::insights::Table::Severity)]
        table: scribe::insights::Table,
    },
    /// Delete the messages no incident holds: posted while none was open, longer than
    /// `[retention] before_incident` ago (`scribe serve` does it every `[retention] every`).
    Retention {
        /// Say what would be deleted, and delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the link that adds Scribe's bot to a Discord server, with its slash commands and
    /// exactly the permissions it uses; the application is `[discord] application_id`, or the
    /// one DISCORD_TOKEN begins with.
    DiscordInvite,
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Command::Check => return startup::check(cli.config.as_deref()),
        Command::WithConfig(command) => command,
    };
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            for problem in &e.problems {
                eprintln!("error: {}", inert(&problem.to_string()));
            }
            return ExitCode::from(2);
        }
    };
    scribe::telemetry::init(&config.log);
    match run(command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", inert(&scribe::telemetry::error_chain(&e)));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Run, config: Config) -> Result<()> {
    match command {
        Run::Draft {
            path,
            channel,
            format,
            out,
            template,
            max_export_bytes,
        } => {
            let text = replay::draft(
                &config,
                &path,
                channel.as_deref(),
                format,
                template.as_deref(),
                max_export_bytes,
            )?;
            replay::write(&text, out.as_deref())
        }
        Run::Console { user, channel } => startup::console(config, user, &channel).await,
        Run::Insights {
            from,
            to,
            severity,
            format,
            table,
        } => {
            let filter = scribe::insights::Filter { from, to, severity };
            print!(
                "{}",
                startup::insights(config, &filter, format, table).await?
            );
            Ok(())
        }
        Run::Retention { dry_run } => {
            print!("{}", startup::retention(config, dry_run).await?);
            Ok(())
        }
        Run::DiscordInvite => {
            let token = Secrets::from_env().discord_token;
            let application = invite::application(config.discord.application_id, token.as_ref())?;
            println!("{}", invite::url(application));
            Ok(())
        }
        Run::Link { user } => {
            println!("{}", startup::web_link(config, &user).await?);
            Ok(())
        }
        Run::Serve { no_migrate } => {
            let application = Application::build(config, Secrets::from_env(), !no_migrate).await?;
            application
                .run_until_stopped(startup::shutdown_signal())
                .await
        }
        Run::Migrate => {
            startup::migrate(&config).await?;
            println!("database is up to date ({})", config.database_url());
            Ok(())
        }
        Run::Publish { id } => startup::publish_again(config, Secrets::from_env(), &id).await,
    }
}
