//! `scribe draft`: a chat export replayed into the same fold as live chat, and drafted. Reads
//! only; the caller decides where the draft goes.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::adapters::export;
use crate::config::Config;
use crate::domain::fold;
use crate::drafting::{Drafter, IncidentDocument, Place};

/// What a draft is written as (`--format md|json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Json,
}

/// The draft of the latest incident in the export at `path` (of `channel`, when it holds
/// several), with `template` or the configured one; the export's files may take `max_bytes`
/// once decompressed, together.
pub fn draft(
    config: &Config,
    path: &Path,
    channel: Option<&str>,
    format: Format,
    template: Option<&str>,
    max_bytes: u64,
) -> Result<String> {
    let export = export::read(path, channel, max_bytes)?;
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
    Ok(match format {
        Format::Json => {
            let mut json = serde_json::to_string_pretty(&IncidentDocument::new(
                incident,
                &export.channel_name,
                None,
            ))?;
            json.push('\n');
            json
        }
        Format::Md => {
            let place = Place {
                channel: export.channel_name.clone(),
                platform: export.channel.platform.as_str(),
                team_zone: config.team.timezone,
                today: None,
            };
            let template = template.unwrap_or(&config.drafting.template);
            Drafter::new(config.template_dir()).render(template, incident, &place)?
        }
    })
}

/// Writes the draft to `out`, or to standard output.
pub fn write(text: &str, out: Option<&Path>) -> Result<()> {
    match out {
        Some(out) => {
            std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))
        }
        None => Ok(std::io::Write::write_all(
            &mut std::io::stdout(),
            text.as_bytes(),
        )?),
    }
}
