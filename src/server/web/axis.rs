//! A picture of the incident: a time axis from its first entry to its close, with start,
//! resolve and close marked and every entry as a tick. Drawn here as SVG, so the page needs no
//! chart library and no script; each mark has a title for screen readers and hover.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use crate::domain::{EntrySource, Incident};

const WIDTH: f64 = 800.0;
const MARGIN: f64 = 24.0;

/// The axis as an `<svg>` element; every text in it escaped.
pub fn axis(incident: &Incident) -> String {
    let visible: Vec<_> = incident.visible_timeline().collect();
    let first = visible
        .iter()
        .map(|e| e.at)
        .chain([incident.started_at])
        .min()
        .unwrap_or(incident.started_at);
    let last = visible
        .iter()
        .map(|e| e.at)
        .chain([incident.started_at])
        .chain(incident.resolved_at)
        .chain(incident.closed_at)
        .max()
        .unwrap_or(incident.started_at);
    let span = (last - first).num_milliseconds().max(1) as f64;
    let x = |at: DateTime<Utc>| {
        MARGIN + (at - first).num_milliseconds() as f64 / span * (WIDTH - 2.0 * MARGIN)
    };
    let label = format!(
        "Time axis of the incident from {} to {}",
        first.format("%Y-%m-%d %H:%M UTC"),
        last.format("%Y-%m-%d %H:%M UTC")
    );
    let mut svg = format!(
        "<svg class=\"axis\" viewBox=\"0 0 {WIDTH} 64\" role=\"img\" aria-label=\"{}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>\
         <line x1=\"{MARGIN}\" y1=\"32\" x2=\"{}\" y2=\"32\" class=\"axis-line\"/>",
        escape(&label),
        escape(&label),
        WIDTH - MARGIN
    );
    for entry in &visible {
        let class = if entry.source == EntrySource::Event {
            "tick tick-event"
        } else {
            "tick"
        };
        let _ = write!(
            svg,
            "<line x1=\"{0:.1}\" y1=\"24\" x2=\"{0:.1}\" y2=\"40\" class=\"{class}\">\
             <title>#{1} {2} {3}</title></line>",
            x(entry.at),
            entry.n,
            entry.at.format("%H:%M UTC"),
            escape(&entry.text.chars().take(120).collect::<String>()),
        );
    }
    let marks = [
        Some(("start", incident.started_at)),
        incident.resolved_at.map(|t| ("resolve", t)),
        incident.closed_at.map(|t| ("close", t)),
    ];
    for (name, at) in marks.into_iter().flatten() {
        // Labels stay inside the picture at its ends, and the resolve label sits above the
        // line so that it never covers the start's or the close's.
        let (anchor, y) = match name {
            "start" => ("start", 58),
            "close" => ("end", 58),
            _ => ("middle", 14),
        };
        let _ = write!(
            svg,
            "<g class=\"mark mark-{name}\"><circle cx=\"{0:.1}\" cy=\"32\" r=\"5\"/>\
             <text x=\"{0:.1}\" y=\"{y}\" text-anchor=\"{anchor}\">{name} {1}</text>\
             <title>{name} {1}</title></g>",
            x(at),
            at.format("%H:%M UTC"),
        );
    }
    svg.push_str("</svg>");
    svg
}

pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ChannelRef, ChatEvent, EventKind, MessageId, Platform, Settings, fold};

    fn incident(texts: &[(i64, &str)]) -> Incident {
        let t0: DateTime<Utc> = "2024-03-09T10:00:00Z".parse().unwrap();
        let events = texts
            .iter()
            .enumerate()
            .map(|(i, (minute, text))| ChatEvent {
                channel: ChannelRef::new(Platform::Console, "c"),
                message: MessageId::new(i.to_string()),
                at: t0 + chrono::Duration::minutes(*minute),
                kind: EventKind::Posted {
                    author: crate::domain::Author::human("u", "U"),
                    text: text.to_string(),
                    thread: None,
                },
            });
        fold(events, &Settings::default()).incidents.remove(0)
    }

    #[test]
    fn entries_fall_on_the_axis_in_time_order_and_text_is_escaped() {
        let svg = axis(&incident(&[
            (0, "/incident start X"),
            (30, "/timeline <script>alert(1)</script> & \"more\""),
            (60, "/incident resolve"),
            (60, "/incident close"),
        ]));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;more&quot;"));
        assert!(!svg.contains("<script>"));
        // Start at the left margin, the note half way, the close at the right margin.
        assert!(svg.contains("<line x1=\"24.0\""), "{svg}");
        assert!(svg.contains("<line x1=\"400.0\""), "{svg}");
        assert!(svg.contains("cx=\"776.0\""), "{svg}");
        for mark in ["start 10:00 UTC", "resolve 11:00 UTC", "close 11:00 UTC"] {
            assert!(svg.contains(mark), "{mark}: {svg}");
        }
    }
}
