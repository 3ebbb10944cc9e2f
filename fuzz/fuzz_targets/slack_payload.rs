//! Slack's HTTP payload parsers on any body: neither panics; events are Slack's; a slash
//! command's message reads as that command.
#![no_main]

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use scribe::adapters::slack::inbound::{Inbound, parse_command, parse_events_body};
use scribe::domain::command;
use scribe::domain::event::{EventKind, Platform};

fuzz_target!(|data: &[u8]| {
    if let Ok(Inbound::Events { events, .. }) = parse_events_body(data) {
        assert!(!events.is_empty());
        for event in &events {
            assert_eq!(event.channel.platform, Platform::Slack);
        }
    }
    if let Ok(slash) = parse_command(data) {
        let event = slash.event(DateTime::UNIX_EPOCH);
        let EventKind::Posted { text, .. } = &event.kind else {
            panic!("a command is a post: {event:?}");
        };
        if ["/incident", "/timeline"].contains(&slash.command.as_str()) {
            assert!(
                command::parse(text).is_some(),
                "{slash:?} reads as {text:?}"
            );
        }
    }
});
