//! The insights page's charts, drawn here as SVG: incidents per ISO week, stacked by severity,
//! and time to resolve (median and 90th percentile) by severity and by month. No script and no
//! chart library; every bar has a title for screen readers and hover, and the same figures
//! stand in a table beside each chart.

use std::fmt::Write;

use crate::insights::WeekCount;

use super::axis::escape;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 220.0;
const MARGIN: f64 = 28.0;

/// One stacked bar per week with incidents, sev1 at the bottom; each bar links to the list of
/// its incidents, `list` (a list path with a query) with the week and severity added.
pub fn per_week(weeks: &[WeekCount], list: &str) -> String {
    let label = "Incidents per week, stacked by severity";
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{label}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title>{label}</title>"
    );
    let most = weeks
        .iter()
        .map(|w| w.sev1 + w.sev2 + w.sev3 + w.sev4 + w.none)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let slot = (WIDTH - 2.0 * MARGIN) / weeks.len().max(1) as f64;
    let bar = (slot * 0.7).max(1.0);
    let scale = (HEIGHT - 2.0 * MARGIN) / most;
    let base = HEIGHT - MARGIN;
    let _ = write!(
        svg,
        "<line x1=\"{MARGIN}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" class=\"axis-line\"/>\
         <text x=\"4\" y=\"{}\" class=\"chart-label\">{}</text>",
        WIDTH - MARGIN,
        MARGIN - 8.0,
        most as usize
    );
    for (i, week) in weeks.iter().enumerate() {
        let x = MARGIN + i as f64 * slot + (slot - bar) / 2.0;
        let mut top = base;
        for (class, count) in [
            ("sev1", week.sev1),
            ("sev2", week.sev2),
            ("sev3", week.sev3),
            ("sev4", week.sev4),
            ("none", week.none),
        ] {
            if count == 0 {
                continue;
            }
            let height = count as f64 * scale;
            top -= height;
            let title = format!(
                "{}: {count} {}",
                week.week,
                if class == "none" {
                    "without a severity"
                } else {
                    class
                }
            );
            let rect = format!(
                "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{bar:.1}\" height=\"{height:.1}\" \
                 class=\"bar bar-{class}\"><title>{}</title></rect>",
                escape(&title)
            );
            // The list has no filter for incidents without a severity: their bar is not a link.
            if class == "none" {
                svg.push_str(&rect);
            } else {
                let _ = write!(
                    svg,
                    "<a href=\"{}\">{rect}</a>",
                    escape(&format!("{list}&severity={class}&week={}", week.week))
                );
            }
        }
        if weeks.len() <= 26 || i % 4 == 0 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" class=\"chart-label\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                HEIGHT - 8.0,
                escape(&week.week[5..])
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// One group of the time-to-resolve chart: its name and its figures in minutes (none when no
/// incident of it is resolved).
pub struct Spread<'a> {
    pub label: &'a str,
    pub median: Option<i64>,
    pub p90: Option<i64>,
}

/// Time to resolve per group, the median and the 90th percentile side by side; `id` names the
/// chart's title, which labels it.
pub fn time_to_resolve(id: &str, label: &str, groups: &[Spread]) -> String {
    let (id, label) = (escape(id), escape(label));
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"{id}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title id=\"{id}\">{label}</title>"
    );
    let most = groups
        .iter()
        .flat_map(|g| [g.median, g.p90])
        .flatten()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let slot = (WIDTH - 2.0 * MARGIN) / groups.len().max(1) as f64;
    let bar = (slot * 0.35).max(1.0);
    let scale = (HEIGHT - 2.0 * MARGIN) / most;
    let base = HEIGHT - MARGIN;
    let _ = write!(
        svg,
        "<line x1=\"{MARGIN}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" class=\"axis-line\"/>\
         <text x=\"4\" y=\"{}\" class=\"chart-label\">{} min</text>\
         <rect x=\"{}\" y=\"6\" width=\"10\" height=\"10\" class=\"bar-median\"/>\
         <text x=\"{}\" y=\"15\" class=\"chart-label\">median</text>\
         <rect x=\"{}\" y=\"6\" width=\"10\" height=\"10\" class=\"bar-p90\"/>\
         <text x=\"{}\" y=\"15\" class=\"chart-label\">p90</text>",
        WIDTH - MARGIN,
        MARGIN - 8.0,
        most as i64,
        WIDTH - 150.0,
        WIDTH - 136.0,
        WIDTH - 70.0,
        WIDTH - 56.0,
    );
    for (i, group) in groups.iter().enumerate() {
        let left = MARGIN + i as f64 * slot + (slot - 2.0 * bar) / 2.0;
        let name = escape(group.label);
        for (n, (class, words, minutes)) in [
            ("median", "median", group.median),
            ("p90", "90th percentile", group.p90),
        ]
        .into_iter()
        .enumerate()
        {
            let Some(minutes) = minutes else { continue };
            let height = minutes as f64 * scale;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{height:.1}\" \
                 class=\"bar bar-{class}\"><title>{name}: {words} {minutes} min</title></rect>",
                left + n as f64 * bar,
                base - height,
            );
        }
        if group.median.is_none() {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"chart-label\" text-anchor=\"middle\">\
                 <title>{name}: none resolved</title>-</text>",
                left + bar,
                base - 4.0
            );
        }
        if groups.len() <= 26 || i % 4 == 0 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" class=\"chart-label\" text-anchor=\"middle\">{name}</text>",
                left + bar,
                HEIGHT - 8.0,
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_severity_of_a_week_is_a_titled_bar_as_tall_as_its_count() {
        let weeks = [
            WeekCount {
                week: "2026-W10".into(),
                sev1: 2,
                sev2: 0,
                sev3: 1,
                sev4: 0,
                none: 1,
            },
            WeekCount {
                week: "2026-W11".into(),
                sev1: 0,
                sev2: 4,
                sev3: 0,
                sev4: 0,
                none: 0,
            },
        ];
        let svg = per_week(&weeks, "/?from=&to=");
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains("<title>2026-W10: 2 sev1</title>"), "{svg}");
        assert!(svg.contains("<title>2026-W10: 1 without a severity</title>"));
        assert!(
            svg.contains("<a href=\"/?from=&amp;to=&amp;severity=sev2&amp;week=2026-W11\"><rect"),
            "{svg}"
        );
        assert_eq!(svg.matches("<a href").count(), 3, "{svg}");
        // The tallest week (4) fills the chart's height: 164 units, 41 per incident.
        assert!(
            svg.contains("height=\"164.0\" class=\"bar bar-sev2\""),
            "{svg}"
        );
        assert!(
            svg.contains("height=\"82.0\" class=\"bar bar-sev1\""),
            "{svg}"
        );
    }

    #[test]
    fn time_to_resolve_is_a_median_and_a_p90_bar_per_group_as_tall_as_their_minutes() {
        let groups = [
            Spread {
                label: "sev1",
                median: Some(30),
                p90: Some(82),
            },
            Spread {
                label: "<sev2>",
                median: None,
                p90: None,
            },
        ];
        let svg = time_to_resolve("ttr-severity", "Time to resolve by severity", &groups);
        assert!(
            svg.contains("role=\"img\" aria-labelledby=\"ttr-severity\""),
            "{svg}"
        );
        assert!(svg.contains("<title id=\"ttr-severity\">Time to resolve by severity</title>"));
        assert_eq!(svg.matches("class=\"bar bar-").count(), 2, "{svg}");
        assert!(svg.contains("<title>sev1: median 30 min</title>"), "{svg}");
        assert!(svg.contains("<title>sev1: 90th percentile 82 min</title>"));
        // The longest (82 minutes) fills the chart's height: 164 units, 2 per minute.
        assert!(
            svg.contains("height=\"164.0\" class=\"bar bar-p90\""),
            "{svg}"
        );
        assert!(
            svg.contains("height=\"60.0\" class=\"bar bar-median\""),
            "{svg}"
        );
        assert!(svg.contains("&lt;sev2&gt;: none resolved") && !svg.contains("<sev2>"));
    }
}
