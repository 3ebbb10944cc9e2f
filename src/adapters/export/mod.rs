//! Chat exports: a Slack workspace export (a directory or its .zip) or a DiscordChatExporter
//! JSON file, read into one channel's events so an incident can be replayed after the fact.
//!
//! Files are parsed as streams, under a cap on the bytes the whole export may take once
//! decompressed: a small zip can hold gigabytes. Errors name the file (and zip entry), the
//! line, column and JSON path, so a broken export can be fixed by hand.

mod discord;
mod slack;

use std::io::{self, Read, Seek};
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::domain::event::{ChannelRef, ChatEvent};

/// What an export may decompress to by default, all the files read together: far above any
/// channel's history, far below what would exhaust memory or time.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

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
        "{file}: the export takes more than {limit} bytes once decompressed; if it is genuine, \
         raise the limit with --max-export-bytes"
    )]
    TooBig { file: String, limit: u64 },
    #[error(
        "{file}: not a regular file (a device, FIFO or socket); an export holds only files and \
         folders"
    )]
    NotAFile { file: String },
    #[error(
        "{file}: a link to {target}, outside the export; copy what it points to into the export"
    )]
    OutsideExport { file: String, target: String },
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
/// without `#`; it may be left out when the export holds one channel. The files read may take
/// `max_bytes` at most, together, once decompressed.
///
/// # Errors
/// When a file cannot be read or parsed, is too big, is no regular file or a link out of the
/// export, the format is not one of these, or the channel is missing or ambiguous; the message
/// names the file and what to do.
pub fn read(path: &Path, channel: Option<&str>, max_bytes: u64) -> Result<Export, ExportError> {
    let mut events = Vec::new();
    match open(path, channel, max_bytes, slack::Emit::All(&mut events))? {
        Opened::Slack(found) => Ok(sorted(found, events)),
        Opened::Discord(export) => Ok(export),
    }
}

/// The channel an export was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    pub channel: ChannelRef,
    pub channel_name: String,
}

/// Reads one channel of the export at `path` as [`read`] does, passing its events to `sink`
/// in the order [`read`] returns them, without holding them: a Slack export day file by day
/// file. `None` (after some events) when the day files are not in order: read it with
/// [`read`].
///
/// # Errors
/// As [`read`]'s.
pub fn stream(
    path: &Path,
    channel: Option<&str>,
    max_bytes: u64,
    sink: &mut dyn FnMut(ChatEvent),
) -> Result<Option<Streamed>, ExportError> {
    let found = match open(path, channel, max_bytes, slack::Emit::ByDay(sink))? {
        Opened::Slack(found) => found,
        // A DiscordChatExporter file is one document, read whole.
        Opened::Discord(export) => {
            let found = (export.channel, export.channel_name);
            export.events.into_iter().for_each(&mut *sink);
            Some(found)
        }
    };
    Ok(found.map(|(channel, channel_name)| Streamed {
        channel,
        channel_name,
    }))
}

/// An export opened: a Slack export's events went where it was told.
enum Opened {
    Slack(slack::Found),
    Discord(Export),
}

fn open(
    path: &Path,
    channel: Option<&str>,
    max_bytes: u64,
    emit: slack::Emit<'_>,
) -> Result<Opened, ExportError> {
    let io_error = |error| ExportError::Io {
        file: path.display().to_string(),
        error,
    };
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    let budget = Budget::new(max_bytes);
    let channel = without_hash(channel);
    if metadata.is_dir() && path.join("channels.json").exists() {
        slack::read_dir(path, channel, budget, emit).map(Opened::Slack)
    } else if metadata.is_file() && has_extension(path, "zip") {
        let file = std::fs::File::open(path).map_err(io_error)?;
        let archive = Box::new(io::BufReader::new(file));
        slack::read_zip(archive, path, channel, budget, emit).map(Opened::Slack)
    } else if metadata.is_file() && has_extension(path, "json") {
        let open = || std::fs::File::open(path).map_err(io_error);
        let file = path.display().to_string();
        discord::read(open, &file, channel, budget).map(Opened::Discord)
    } else {
        Err(ExportError::UnknownFormat {
            file: path.display().to_string(),
        })
    }
}

/// Reads one channel of a zipped Slack export, as [`read`] reads a `.zip`; `file` names the
/// archive in errors.
///
/// # Errors
/// As [`read`]'s, but for reading the file.
pub fn read_slack_zip<R: Read + Seek + 'static>(
    archive: R,
    file: &Path,
    channel: Option<&str>,
    max_bytes: u64,
) -> Result<Export, ExportError> {
    let mut events = Vec::new();
    let found = slack::read_zip(
        Box::new(archive),
        file,
        without_hash(channel),
        Budget::new(max_bytes),
        slack::Emit::All(&mut events),
    )?;
    Ok(sorted(found, events))
}

/// The export [`slack::Emit::All`] read: it always finds its channel.
fn sorted(found: slack::Found, events: Vec<ChatEvent>) -> Export {
    let (channel, channel_name) = found.expect("every message read and sorted");
    Export {
        channel,
        channel_name,
        events,
    }
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
    max_bytes: u64,
) -> Result<Export, ExportError> {
    let open = || Ok(bytes);
    let file = file.display().to_string();
    discord::read(open, &file, without_hash(channel), Budget::new(max_bytes))
}

/// A channel's name as the export writes it: `#inc-1` is `inc-1`.
fn without_hash(channel: Option<&str>) -> Option<&str> {
    channel.map(|c| c.strip_prefix('#').unwrap_or(c))
}

fn has_extension(path: &Path, extension: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(extension))
}

/// What is left of the bytes the export may take once decompressed.
struct Budget {
    limit: u64,
    left: u64,
}

impl Budget {
    fn new(limit: u64) -> Budget {
        Budget { limit, left: limit }
    }
}

/// A reader that fails once more than `left` bytes came through it.
struct Capped<R> {
    inner: R,
    left: u64,
    used: u64,
    over: bool,
}

impl<R> Capped<R> {
    /// `reader`, allowed what is left of `budget`.
    fn new(reader: R, budget: &Budget) -> Capped<R> {
        Capped {
            inner: reader,
            left: budget.left,
            used: 0,
            over: false,
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.used += n as u64;
        if self.used > self.left {
            self.over = true;
            return Err(io::Error::other("over the export's size limit"));
        }
        Ok(n)
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The first bytes of `reader`, to be read again before the rest, but for the byte order mark
/// some editors put first: it is no JSON.
fn head(reader: &mut impl Read) -> io::Result<io::Cursor<Vec<u8>>> {
    let mut head = Vec::with_capacity(BOM.len());
    reader.take(BOM.len() as u64).read_to_end(&mut head)?;
    if head == BOM {
        head.clear();
    }
    Ok(io::Cursor::new(head))
}

/// The first byte of `reader` that is no white space, under the budget; `None` when there is
/// none.
fn first_byte(reader: impl Read, file: &str, budget: &Budget) -> Result<Option<u8>, ExportError> {
    let mut capped = Capped::new(reader, budget);
    let first = head(&mut capped).and_then(|head| {
        for byte in io::BufReader::new(head.chain(&mut capped)).bytes() {
            match byte? {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                byte => return Ok(Some(byte)),
            }
        }
        Ok(None)
    });
    if capped.over {
        return Err(too_big(file, budget));
    }
    first.map_err(|error| io_error(file, error))
}

fn too_big(file: &str, budget: &Budget) -> ExportError {
    ExportError::TooBig {
        file: file.to_string(),
        limit: budget.limit,
    }
}

fn io_error(file: &str, error: io::Error) -> ExportError {
    ExportError::Io {
        file: file.to_string(),
        error,
    }
}

/// Parses a whole JSON document read from `open`, charged to `budget`; errors name `file`, the
/// position and the JSON path.
///
/// Tracking the path costs an allocation per object key, so it is done only to explain an
/// error: the document is opened and parsed a second time then.
fn parse<T: DeserializeOwned, R: Read>(
    mut open: impl FnMut() -> Result<R, ExportError>,
    file: &str,
    budget: &mut Budget,
) -> Result<T, ExportError> {
    match parse_fast(open()?, file, budget)? {
        Some(value) => Ok(value),
        None => Err(explain::<T>(open()?, file, budget)),
    }
}

/// The document, charged to `budget`; `None` when it is malformed (see [`explain`]).
fn parse_fast<T: DeserializeOwned>(
    reader: impl Read,
    file: &str,
    budget: &mut Budget,
) -> Result<Option<T>, ExportError> {
    let mut capped = Capped::new(reader, budget);
    let parsed = head(&mut capped).map(|head| {
        let text = io::BufReader::new(head.chain(&mut capped));
        let mut deserializer = serde_json::Deserializer::from_reader(text);
        T::deserialize(&mut deserializer).and_then(|value| deserializer.end().map(|()| value))
    });
    if capped.over {
        return Err(too_big(file, budget));
    }
    match parsed {
        Err(error) => Err(io_error(file, error)),
        Ok(Ok(value)) => {
            budget.left -= capped.used;
            Ok(Some(value))
        }
        Ok(Err(error)) if error.is_io() => Err(io_error(file, error.into())),
        Ok(Err(_)) => Ok(None),
    }
}

/// Why the document `reader` holds is malformed: its position and JSON path.
fn explain<T: DeserializeOwned>(reader: impl Read, file: &str, budget: &Budget) -> ExportError {
    let mut capped = Capped::new(reader, budget);
    let head = match head(&mut capped) {
        Ok(head) => head,
        Err(_) if capped.over => return too_big(file, budget),
        Err(error) => return io_error(file, error),
    };
    let text = io::BufReader::new(head.chain(&mut capped));
    let mut deserializer = serde_json::Deserializer::from_reader(text);
    let error = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(_) => match deserializer.end() {
            Ok(()) => {
                let changed = io::Error::other("the file changed while it was read");
                return io_error(file, changed);
            }
            Err(error) => json_error(file, &error, None),
        },
        Err(error) => {
            let path = error.path();
            let path = (path.iter().len() > 0).then(|| path.to_string());
            json_error(file, error.inner(), path)
        }
    };
    drop(deserializer);
    if capped.over {
        return too_big(file, budget);
    }
    error
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

    /// [`read`] under the default cap.
    pub(super) fn read_export(path: &Path, channel: Option<&str>) -> Result<Export, ExportError> {
        read(path, channel, DEFAULT_MAX_BYTES)
    }

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
            let error = read_export(path, None).unwrap_err().to_string();
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
        let error = read_export(&path, None).unwrap_err();
        assert!(matches!(error, ExportError::Io { .. }));
        assert!(error.to_string().starts_with(&path.display().to_string()));
    }

    fn parse_bytes<T: DeserializeOwned>(bytes: &[u8], file: &str) -> Result<T, ExportError> {
        parse(|| Ok(bytes), file, &mut Budget::new(DEFAULT_MAX_BYTES))
    }

    #[test]
    fn json_errors_give_line_column_and_path() {
        type Row = std::collections::HashMap<String, u32>;
        let error = parse_bytes::<Vec<Row>>(b"[\n  {\"n\": 1},\n  {\"n\": \"x\"}\n]", "f.json")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "f.json: line 3, column 11, at [1].n: invalid type: string \"x\", expected u32"
        );
        let error = parse_bytes::<Vec<Row>>(b"[] x", "f.json")
            .unwrap_err()
            .to_string();
        assert_eq!(error, "f.json: line 1, column 4: trailing characters");
        let error = parse_bytes::<Vec<Row>>(b"", "f.json")
            .unwrap_err()
            .to_string();
        assert_eq!(error, "f.json: line 1, column 0: EOF while parsing a value");
    }
}
