//! `scribe draft`: a chat export replayed into the same fold as live chat, and drafted. Reads
//! only; the caller decides where the draft goes.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::adapters::export;
use crate::config::Config;
use crate::domain::{Stream, fold};
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
    let settings = config.settings();
    // Folded as it is read; an export whose days are out of order is read whole and sorted.
    let mut stream = Some(Stream::new(settings.clone()));
    let mut events = 0;
    let streamed = export::stream(path, channel, max_bytes, &mut |event| {
        events += 1;
        if stream.as_mut().is_some_and(|s| s.push(event).is_err()) {
            stream = None;
        }
    })?;
    let (history, from, name) = match (streamed, stream) {
        (Some(streamed), Some(stream)) => {
            (stream.history(), streamed.channel, streamed.channel_name)
        }
        _ => {
            tracing::debug!("the export is not in time order: reading it whole");
            let export = export::read(path, channel, max_bytes)?;
            events = export.events.len();
            (
                fold(export.events, &settings),
                export.channel,
                export.channel_name,
            )
        }
    };
    let Some(incident) = history.incidents.last() else {
        bail!(
            "{}: no incident in channel #{} ({events} events): nothing there starts with `/incident start <title>`",
            path.display(),
            name
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
            let mut json =
                serde_json::to_string_pretty(&IncidentDocument::new(incident, &name, None))?;
            json.push('\n');
            json
        }
        Format::Md => {
            let place = Place {
                channel: name.clone(),
                platform: from.platform.as_str(),
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
