//! The DiscordChatExporter JSON reader on any bytes: it never panics, and what it reads is
//! one channel's events with every post under its own id.
#![no_main]

use std::collections::HashSet;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use scribe::adapters::export::{DEFAULT_MAX_BYTES, read_discord};
use scribe::domain::event::EventKind;

fuzz_target!(|data: &[u8]| {
    let Ok(export) = read_discord(data, Path::new("fuzz.json"), None, DEFAULT_MAX_BYTES) else {
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
