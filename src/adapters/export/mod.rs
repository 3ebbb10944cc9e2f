//! Chat exports: a Slack workspace export (a directory or its .zip) or a DiscordChatExporter
//! JSON file, read into one channel's events so an incident can be replayed after the fact.
//!
//! Files are read whole and parsed from memory; errors name the file (and zip entry), the
//! line, column and JSON path, so a broken export can be fixed by hand.

mod discord;
mod slack;

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::domain::event::{ChannelRef, ChatEvent};

/// One channel of an export, as events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub channel: ChannelRef,
    pub channel_name: String,
    pub events: Vec<ChatEvent>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    // The underlying errors are shown, not chained as `source`, so that the message is whole
    // on its own and not repeated by reporters that print the chain.
    #[error("{file}: {error}")]
    Io { file: String, error: std::io::Error },
    #[error("{file}: not a readable zip archive: {error}")]
    Zip {
        file: String,
        error: zip::result::ZipError,
    },
    #[error("{file}: line {line}, column {column}{}: {message}", at(.path.as_deref()))]
    Json {
        file: String,
        line: usize,
        column: usize,
        /// Where in the document, e.g. `[3].ts`; `None` at the top level.
        path: Option<String>,
        message: String,
    },
    #[error(
        "{file}: unknown export format: expected a Slack export directory or .zip with \
         channels.json, or a DiscordChatExporter .json file"
    )]
    UnknownFormat { file: String },
    #[error("{file}: the export lists no channels")]
    NoChannels { file: String },
    #[error("{file}: the export holds several channels, pick one with --channel: {}", .names.join(", "))]
    SeveralChannels { file: String, names: Vec<String> },
    #[error("{file}: no channel `{wanted}` in the export; it has: {}", .names.join(", "))]
    UnknownChannel {
        file: String,
        wanted: String,
        names: Vec<String>,
    },
}

fn at(path: Option<&str>) -> String {
    path.map(|p| format!(", at {p}")).unwrap_or_default()
}

/// Reads one channel of the export at `path`: a Slack export directory (with `channels.json`),
/// its `.zip`, or a DiscordChatExporter `.json` file. `channel` is the channel's name, with or
/// without `#`; it may be left out when the export holds one channel.
///
/// # Errors
/// When a file cannot be read or parsed, the format is not one of these, or the channel is
/// missing or ambiguous; the message names the file and what to do.
pub fn read(path: &Path, channel: Option<&str>) -> Result<Export, ExportError> {
    let metadata = std::fs::metadata(path).map_err(|error| ExportError::Io {
        file: path.display().to_string(),
        error,
    })?;
    if metadata.is_dir() && path.join("channels.json").is_file() {
        slack::read_dir(path, without_hash(channel))
    } else if metadata.is_file() && has_extension(path, "zip") {
        read_slack_zip(read_file(path)?, path, channel)
    } else if metadata.is_file() && has_extension(path, "json") {
        read_discord(&read_file(path)?, path, channel)
    } else {
        Err(ExportError::UnknownFormat {
            file: path.display().to_string(),
        })
    }
}

/// Reads one channel of a zipped Slack export held in memory, as [`read`] reads a `.zip`;
/// `file` names the archive in errors.
///
/// # Errors
/// As [`read`]'s, but for reading the file.
pub fn read_slack_zip(
    bytes: Vec<u8>,
    file: &Path,
    channel: Option<&str>,
) -> Result<Export, ExportError> {
    slack::read_zip(bytes, file, without_hash(channel))
}

/// Reads a DiscordChatExporter JSON document held in memory, as [`read`] reads a `.json`
/// file; `file` names it in errors.
///
/// # Errors
/// As [`read`]'s, but for reading the file.
pub fn read_discord(
    bytes: &[u8],
    file: &Path,
    channel: Option<&str>,
) -> Result<Export, ExportError> {
    discord::read(bytes, file, without_hash(channel))
}

/// A channel's name as the export writes it: `#inc-1` is `inc-1`.
fn without_hash(channel: Option<&str>) -> Option<&str> {
    channel.map(|c| c.strip_prefix('#').unwrap_or(c))
}

fn read_file(path: &Path) -> Result<Vec<u8>, ExportError> {
    std::fs::read(path).map_err(|error| ExportError::Io {
        file: path.display().to_string(),
        error,
    })
}

fn has_extension(path: &Path, extension: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(extension))
}

/// Parses a whole JSON document; errors name `file`, the position and the JSON path.
///
/// Tracking the path costs an allocation per object key, so it is done only to explain an
/// error: the document is parsed a second time then.
fn parse<T: DeserializeOwned>(bytes: &[u8], file: &str) -> Result<T, ExportError> {
    serde_json::from_slice(bytes).or_else(|_| {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path();
            let path = (path.iter().len() > 0).then(|| path.to_string());
            json_error(file, error.inner(), path)
        })?;
        deserializer
            .end()
            .map_err(|error| json_error(file, &error, None))?;
        Ok(value)
    })
}

fn json_error(file: &str, error: &serde_json::Error, path: Option<String>) -> ExportError {
    let (line, column) = (error.line(), error.column());
    let message = error.to_string();
    // serde_json appends the position, which the error already shows in front.
    let message = message
        .strip_suffix(&format!(" at line {line} column {column}"))
        .unwrap_or(&message)
        .to_string();
    ExportError::Json {
        file: file.to_string(),
        line,
        column,
        path,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{AuthorKind, EventKind};

    /// The `tests/fixtures` copy of the shared chat-export fixtures.
    pub(super) fn fixture(case: &str, name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(case)
            .join(name)
    }

    pub(super) fn humans(export: &Export) -> usize {
        export
            .events
            .iter()
            .filter(|e| {
                matches!(&e.kind, EventKind::Posted { author, .. } if author.kind == AuthorKind::Human)
            })
            .count()
    }

    #[test]
    fn an_unknown_format_says_what_is_expected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "hello").unwrap();
        for path in [file.as_path(), dir.path()] {
            let error = read(path, None).unwrap_err().to_string();
            assert!(error.starts_with(&path.display().to_string()), "{error}");
            assert!(
                error.contains("expected a Slack export directory or .zip with channels.json"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.json");
        let error = read(&path, None).unwrap_err();
        assert!(matches!(error, ExportError::Io { .. }));
        assert!(error.to_string().starts_with(&path.display().to_string()));
    }

    #[test]
    fn json_errors_give_line_column_and_path() {
        type Row = std::collections::HashMap<String, u32>;
        let error = parse::<Vec<Row>>(b"[\n  {\"n\": 1},\n  {\"n\": \"x\"}\n]", "f.json")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "f.json: line 3, column 11, at [1].n: invalid type: string \"x\", expected u32"
        );
        let error = parse::<Vec<Row>>(b"[] x", "f.json")
            .unwrap_err()
            .to_string();
        assert_eq!(error, "f.json: line 1, column 4: trailing characters");
        let error = parse::<Vec<Row>>(b"", "f.json").unwrap_err().to_string();
        assert_eq!(error, "f.json: line 1, column 0: EOF while parsing a value");
    }
}
