//! Slack's HTTP payload parsers on any body: none panics; events are Slack's; a slash
//! command's message reads as that command; "Add to timeline" is a post and a web pin on it.
#![no_main]

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use scribe::adapters::slack::inbound::{
    Inbound, Interaction, parse_command, parse_events_body, parse_interaction,
    parse_interaction_form,
};
use scribe::domain::command;
use scribe::domain::event::{EventKind, Platform, WEB_PIN};

fuzz_target!(|data: &[u8]| {
    if let Ok(Inbound::Events { events, .. }) = parse_events_body(data) {
        assert!(!events.is_empty());
        for event in &events {
            assert_eq!(event.channel.platform, Platform::Slack);
        }
    }
    for interaction in [parse_interaction(data), parse_interaction_form(data)] {
        if let Ok(Interaction::AddToTimeline(shortcut)) = interaction {
            let post = &shortcut.message;
            assert_eq!(post.channel.platform, Platform::Slack);
            assert!(matches!(post.kind, EventKind::Posted { .. }), "{post:?}");
            let pin = shortcut.pin();
            assert_eq!((&pin.channel, &pin.message), (&post.channel, &post.message));
            assert!(
                matches!(&pin.kind, EventKind::ReactionAdded { emoji, .. } if emoji == WEB_PIN),
                "{pin:?}"
            );
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
