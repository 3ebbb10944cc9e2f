//! A Slack HTTP request as its route reads it: the signature checked first, then the body
//! parsed. The first byte picks the route (bit 0: events or commands) and the headers (bit 1:
//! signed now with the secret, so that the parsers see most inputs; or the input's own
//! `timestamp\nsignature\nbody`). Nothing panics, a request signed with another secret or
//! at another time never passes, and every event's incident id reads back as itself.
#![no_main]

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use scribe::adapters::slack::inbound::{Inbound, parse_command, parse_events_body};
use scribe::adapters::slack::signature;
use scribe::domain::event::ChatEvent;
use scribe::domain::incident::IncidentId;

const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
const NOW: i64 = 1_700_000_000;

/// The incident `event` would open, named and read back.
fn round_trips(event: &ChatEvent) {
    let id = IncidentId {
        channel: event.channel.clone(),
        opened_by: event.message.clone(),
    };
    let text = id.to_string();
    assert_eq!(text.parse::<IncidentId>().ok(), Some(id), "{text}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let now = DateTime::from_timestamp(NOW, 0).expect("a valid time");
    let signed = mode & 2 == 0;
    let (timestamp, signature, body) = if signed {
        (NOW.to_string(), signature::sign(SECRET, NOW, rest), rest)
    } else {
        let mut parts = rest.splitn(3, |&b| b == b'\n');
        let (Some(timestamp), Some(signature)) = (parts.next(), parts.next()) else {
            return;
        };
        let (Ok(timestamp), Ok(signature)) = (
            std::str::from_utf8(timestamp),
            std::str::from_utf8(signature),
        ) else {
            return;
        };
        let body = parts.next().unwrap_or_default();
        (timestamp.to_string(), signature.to_string(), body)
    };
    let verified = signature::verify(SECRET, Some(&timestamp), Some(&signature), body, now);
    if signed {
        assert_eq!(verified, Ok(()));
        let elsewhere = signature::sign(b"another secret", NOW, body);
        assert!(signature::verify(SECRET, Some(&timestamp), Some(&elsewhere), body, now).is_err());
        let later = DateTime::from_timestamp(NOW + 301, 0).expect("a valid time");
        assert!(
            signature::verify(SECRET, Some(&timestamp), Some(&signature), body, later).is_err()
        );
    }
    if verified.is_err() {
        return;
    }
    if mode & 1 == 0 {
        if let Ok(Inbound::Events { events, .. }) = parse_events_body(body) {
            events.iter().for_each(round_trips);
        }
    } else if let Ok(command) = parse_command(body) {
        round_trips(&command.event(now));
    }
});
