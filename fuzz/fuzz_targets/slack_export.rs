//! The Slack export reader on any export: it never panics, and what it reads is one channel's
//! events with every post under its own id.
//!
//! An input starting with `PK` is read as the zip archive itself. Any other is a list of files
//! separated by NUL bytes, each `path` newline `content` (`channels.json`, `users.json`,
//! `inc-1/2024-03-09.json`, ...), zipped uncompressed before reading so that the fuzzer's
//! changes reach the JSON; a file named `--channel` names the channel to read.
#![no_main]

use std::collections::HashSet;
use std::io::{Cursor, Write};
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use scribe::adapters::export::{DEFAULT_MAX_BYTES, read_slack_zip};
use scribe::domain::event::EventKind;
use zip::write::SimpleFileOptions;

fuzz_target!(|data: &[u8]| {
    let (archive, channel) = if data.starts_with(b"PK") {
        (data.to_vec(), None)
    } else {
        match zipped(data) {
            Some(zipped) => zipped,
            None => return,
        }
    };
    let archive = Cursor::new(archive);
    let read = read_slack_zip(
        archive,
        Path::new("fuzz.zip"),
        channel.as_deref(),
        DEFAULT_MAX_BYTES,
    );
    let Ok(export) = read else {
        return;
    };
    let mut posts = HashSet::new();
    for event in &export.events {
        assert_eq!(event.channel, export.channel);
        if matches!(event.kind, EventKind::Posted { .. }) {
            assert!(
                posts.insert(&event.message),
                "{:?} posted twice",
                event.message
            );
        } else {
            assert!(posts.contains(&event.message), "{event:?} before its post");
        }
    }
});

/// The files of `data` as a zip archive, and the channel asked for; `None` when the archive
/// cannot hold them (a repeated or non-UTF-8 name).
fn zipped(data: &[u8]) -> Option<(Vec<u8>, Option<String>)> {
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut channel = None;
    for file in data.split(|b| *b == 0) {
        let (name, content) = match file.iter().position(|b| *b == b'\n') {
            Some(i) => (&file[..i], &file[i + 1..]),
            None => (file, &[][..]),
        };
        let name = std::str::from_utf8(name).ok()?;
        if name == "--channel" {
            channel = Some(String::from_utf8_lossy(content).into_owned());
            continue;
        }
        writer.start_file(name, options).ok()?;
        writer.write_all(content).ok()?;
    }
    Some((writer.finish().ok()?.into_inner(), channel))
}
