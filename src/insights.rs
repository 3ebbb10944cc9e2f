//! What the incidents say together: how many, how long they took by severity and by month, how
//! far their postmortems and actions are, the contributing factors teams write most, and who
//! carries the load. A pure function of the incidents and the day, so `scribe insights` and any
//! other reader agree. Percentiles are nearest-rank; minutes are whole.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::domain::{Horizon, Incident, PostmortemState, Severity};

/// Which incidents count: started on or after `from`, before the end of `to` (UTC days), of
/// `severity` when given.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub severity: Option<Severity>,
}

impl Filter {
    pub fn admits(&self, incident: &Incident) -> bool {
        let day = incident.started_at.date_naive();
        self.from.is_none_or(|from| day >= from)
            && self.to.is_none_or(|to| day <= to)
            && self.severity.is_none_or(|s| incident.severity == Some(s))
    }
}

/// The ISO week an incident started in (`YYYY-Www`): its bar of the per-week figures.
pub fn week_of(incident: &Incident) -> String {
    let iso = incident.started_at.iso_week();
    format!("{}-W{:02}", iso.year(), iso.week())
}

/// The month an incident started in (`YYYY-MM`): its row of the monthly figures.
pub fn month_of(incident: &Incident) -> String {
    incident.started_at.format("%Y-%m").to_string()
}

/// The state an incident's postmortem is counted in: only a closed incident's counts.
pub fn postmortem_of(incident: &Incident, today: NaiveDate) -> Option<PostmortemState> {
    incident
        .closed_at
        .map(|_| incident.postmortem_state(incident.postmortem.due, today))
}

/// One incident's visible actions by state: an action to do now counts as done.
pub fn actions_of(incident: &Incident, today: NaiveDate) -> ActionCounts {
    let mut counts = ActionCounts::default();
    for action in incident.actions.iter().filter(|a| !a.hidden) {
        if action.done || action.horizon == Horizon::Now {
            counts.done += 1;
        } else {
            counts.open += 1;
            if action.due.is_some_and(|due| due < today) {
                counts.overdue += 1;
            }
        }
    }
    counts
}

/// Which actions an incident must have to be behind an action figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionState {
    Open,
    Done,
    Overdue,
}

impl ActionState {
    pub fn parse(text: &str) -> Option<ActionState> {
        match text.trim() {
            "open" => Some(ActionState::Open),
            "done" => Some(ActionState::Done),
            "overdue" => Some(ActionState::Overdue),
            _ => None,
        }
    }

    fn of(self, counts: &ActionCounts) -> usize {
        match self {
            ActionState::Open => counts.open,
            ActionState::Done => counts.done,
            ActionState::Overdue => counts.overdue,
        }
    }
}

/// The incidents behind one figure of [`Insights`] (with the page's [`Filter`]): the list a
/// figure links to shows exactly the incidents the figure counts, because both ask these.
#[derive(Debug, Clone, Default)]
pub struct Behind {
    /// `YYYY-Www`.
    pub week: Option<String>,
    /// `YYYY-MM`.
    pub month: Option<String>,
    pub postmortem: Option<PostmortemState>,
    pub actions: Option<ActionState>,
    /// A factor phrase, its words as [`phrase`] writes them.
    pub factor: Option<String>,
    /// A participant's name, as written.
    pub person: Option<String>,
}

impl Behind {
    pub fn admits(&self, incident: &Incident, today: NaiveDate) -> bool {
        self.week.as_ref().is_none_or(|w| *w == week_of(incident))
            && self.month.as_ref().is_none_or(|m| *m == month_of(incident))
            && self
                .postmortem
                .is_none_or(|s| postmortem_of(incident, today) == Some(s))
            && self
                .actions
                .is_none_or(|a| a.of(&actions_of(incident, today)) > 0)
            && self
                .factor
                .as_ref()
                .is_none_or(|f| phrases(incident).contains(f))
            && self
                .person
                .as_ref()
                .is_none_or(|name| incident.participants.iter().any(|p| p.name == *name))
    }
}

/// `text` as a factor phrase: its words, lowercase, one space apart; `None` when it has none.
pub fn phrase(text: &str) -> Option<String> {
    let words = words(text);
    (!words.is_empty()).then(|| words.join(" "))
}

/// `YYYY-Www` when `text` names an ISO week, written as [`week_of`] writes it.
pub fn parse_week(text: &str) -> Option<String> {
    let (year, week) = text.trim().split_once("-W")?;
    let day =
        NaiveDate::from_isoywd_opt(year.parse().ok()?, week.parse().ok()?, chrono::Weekday::Mon)?;
    let iso = day.iso_week();
    Some(format!("{}-W{:02}", iso.year(), iso.week()))
}

/// `YYYY-MM` when `text` names a month.
pub fn parse_month(text: &str) -> Option<String> {
    let first = NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d").ok()?;
    Some(first.format("%Y-%m").to_string())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insights {
    pub incidents: usize,
    /// `sev1` … `sev4`, and `none` for incidents without one; only those with incidents.
    pub by_severity: BTreeMap<String, SeverityFigures>,
    pub by_month: Vec<MonthFigures>,
    pub per_week: Vec<WeekCount>,
    pub postmortems: BTreeMap<&'static str, usize>,
    pub actions: ActionCounts,
    /// How many incidents have an open, a done and an overdue action.
    pub action_incidents: ActionCounts,
    pub factors: Vec<Phrase>,
    pub load: Vec<MonthLoad>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeverityFigures {
    pub count: usize,
    #[serde(flatten)]
    pub times: Times,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthFigures {
    /// `YYYY-MM`.
    pub month: String,
    pub count: usize,
    #[serde(flatten)]
    pub times: Times,
}

/// The median and 90th percentile, in minutes, of time to resolve (over the resolved
/// incidents) and of time open (over the closed ones).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Times {
    pub ttr_median_minutes: Option<i64>,
    pub ttr_p90_minutes: Option<i64>,
    pub open_median_minutes: Option<i64>,
    pub open_p90_minutes: Option<i64>,
}

impl Times {
    /// The column names, in the order of [`Times::cells`].
    const COLUMNS: &str = "ttr_median_minutes,ttr_p90_minutes,open_median_minutes,open_p90_minutes";

    fn of(incidents: &[&Incident]) -> Times {
        let ttr = minutes(incidents, Incident::time_to_resolve);
        let open = minutes(incidents, Incident::time_open);
        Times {
            ttr_median_minutes: percentile(&ttr, 50),
            ttr_p90_minutes: percentile(&ttr, 90),
            open_median_minutes: percentile(&open, 50),
            open_p90_minutes: percentile(&open, 90),
        }
    }

    /// The four figures joined by `separator`, `unknown` where there is none.
    fn cells(&self, separator: &str, unknown: &str) -> String {
        [
            self.ttr_median_minutes,
            self.ttr_p90_minutes,
            self.open_median_minutes,
            self.open_p90_minutes,
        ]
        .map(|v| v.map_or(unknown.to_string(), |m| m.to_string()))
        .join(separator)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekCount {
    /// ISO week, `YYYY-Www`.
    pub week: String,
    pub sev1: usize,
    pub sev2: usize,
    pub sev3: usize,
    pub sev4: usize,
    pub none: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ActionCounts {
    pub open: usize,
    pub done: usize,
    /// Open past their due date.
    pub overdue: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phrase {
    pub phrase: String,
    /// In how many incidents' contributing factors it appears.
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthLoad {
    pub month: String,
    /// One decimal.
    pub person_hours: f64,
    pub people: usize,
    /// Who worked on the month's incidents, and on how many; most first.
    pub by_person: Vec<PersonLoad>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonLoad {
    pub name: String,
    pub incidents: usize,
}

/// The nearest-rank percentile `p` (1 to 100) of `sorted`.
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn minutes(
    incidents: &[&Incident],
    of: impl Fn(&Incident) -> Option<chrono::Duration>,
) -> Vec<i64> {
    let mut values: Vec<i64> = incidents
        .iter()
        .filter_map(|i| of(i).map(|d| d.num_minutes()))
        .collect();
    values.sort_unstable();
    values
}

/// Words that say nothing on their own: a phrase neither starts nor ends with one.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "had", "has", "have", "in",
    "into", "is", "it", "its", "no", "not", "of", "on", "or", "our", "so", "that", "the", "their",
    "then", "there", "this", "to", "too", "was", "we", "were", "when", "which", "while", "with",
];

/// The words of a factor as phrases are made of them: lowercase, split at anything but
/// letters, digits and inner hyphens.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '-')
        .map(|w| w.trim_matches('-').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The phrases (one to four words) of one incident's factors, each once.
fn phrases(incident: &Incident) -> HashSet<String> {
    let mut found = HashSet::new();
    for factor in incident.factors.iter().filter(|f| !f.hidden) {
        let words = words(&factor.text);
        for len in 1..=4 {
            for window in words.windows(len) {
                let edge = |w: &String| STOP_WORDS.contains(&w.as_str()) || w.len() < 3;
                if edge(&window[0]) || edge(&window[len - 1]) {
                    continue;
                }
                found.insert(window.join(" "));
            }
        }
    }
    found
}

/// The ten phrases most incidents share (at least two); a phrase inside a longer one with the
/// same count is left out, the longer says more.
fn top_phrases(incidents: &[&Incident]) -> Vec<Phrase> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for incident in incidents {
        for phrase in phrases(incident) {
            *counts.entry(phrase).or_default() += 1;
        }
    }
    let mut ranked: Vec<(String, usize)> = counts.into_iter().filter(|(_, n)| *n >= 2).collect();
    ranked.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then(b.0.split(' ').count().cmp(&a.0.split(' ').count()))
            .then(a.0.cmp(&b.0))
    });
    let mut kept: Vec<Phrase> = Vec::new();
    for (phrase, count) in ranked {
        let inside = kept.iter().any(|k| {
            k.count == count && format!(" {} ", k.phrase).contains(&format!(" {phrase} "))
        });
        if !inside {
            kept.push(Phrase { phrase, count });
        }
        if kept.len() == 10 {
            break;
        }
    }
    kept
}

fn severity_key(severity: Option<Severity>) -> String {
    severity.map_or("none".to_string(), |s| s.code().to_string())
}

impl Insights {
    /// The figures of the incidents `filter` admits, on `today` (for what is overdue).
    pub fn new(all: &[Incident], filter: &Filter, today: NaiveDate) -> Insights {
        let incidents: Vec<&Incident> = all.iter().filter(|i| filter.admits(i)).collect();
        let mut by_severity = BTreeMap::new();
        let mut groups: BTreeMap<String, Vec<&Incident>> = BTreeMap::new();
        for incident in &incidents {
            groups
                .entry(severity_key(incident.severity))
                .or_default()
                .push(incident);
        }
        for (key, group) in &groups {
            by_severity.insert(
                key.clone(),
                SeverityFigures {
                    count: group.len(),
                    times: Times::of(group),
                },
            );
        }
        let mut months: BTreeMap<String, Vec<&Incident>> = BTreeMap::new();
        let mut weeks: BTreeMap<String, WeekCount> = BTreeMap::new();
        for incident in &incidents {
            months.entry(month_of(incident)).or_default().push(incident);
            let week = week_of(incident);
            let count = weeks.entry(week.clone()).or_insert(WeekCount {
                week,
                sev1: 0,
                sev2: 0,
                sev3: 0,
                sev4: 0,
                none: 0,
            });
            match incident.severity {
                Some(Severity::Sev1) => count.sev1 += 1,
                Some(Severity::Sev2) => count.sev2 += 1,
                Some(Severity::Sev3) => count.sev3 += 1,
                Some(Severity::Sev4) => count.sev4 += 1,
                None => count.none += 1,
            }
        }
        let by_month = months
            .iter()
            .map(|(month, group)| MonthFigures {
                month: month.clone(),
                count: group.len(),
                times: Times::of(group),
            })
            .collect();
        let load = months
            .iter()
            .map(|(month, group)| {
                let seconds: f64 = group.iter().map(|i| i.team_impact.person_hours()).sum();
                let mut people: BTreeMap<&str, usize> = BTreeMap::new();
                for incident in group {
                    let names: BTreeSet<&str> = incident
                        .participants
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect();
                    for name in names {
                        *people.entry(name).or_default() += 1;
                    }
                }
                let mut by_person: Vec<PersonLoad> = people
                    .into_iter()
                    .map(|(name, incidents)| PersonLoad {
                        name: name.to_string(),
                        incidents,
                    })
                    .collect();
                by_person.sort_by(|a, b| b.incidents.cmp(&a.incidents).then(a.name.cmp(&b.name)));
                MonthLoad {
                    month: month.clone(),
                    person_hours: (seconds * 10.0).round() / 10.0,
                    people: by_person.len(),
                    by_person,
                }
            })
            .collect();
        let mut postmortems: BTreeMap<&'static str, usize> = PostmortemState::ALL
            .iter()
            .map(|s| (s.as_str(), 0))
            .collect();
        let mut actions = ActionCounts::default();
        let mut action_incidents = ActionCounts::default();
        for incident in &incidents {
            if let Some(state) = postmortem_of(incident, today) {
                *postmortems.entry(state.as_str()).or_default() += 1;
            }
            let own = actions_of(incident, today);
            actions.open += own.open;
            actions.done += own.done;
            actions.overdue += own.overdue;
            action_incidents.open += usize::from(own.open > 0);
            action_incidents.done += usize::from(own.done > 0);
            action_incidents.overdue += usize::from(own.overdue > 0);
        }
        Insights {
            incidents: incidents.len(),
            by_severity,
            by_month,
            per_week: weeks.into_values().collect(),
            postmortems,
            actions,
            action_incidents,
            factors: top_phrases(&incidents),
            load,
        }
    }

    /// The figures as markdown tables, to paste into a review.
    pub fn markdown(&self) -> String {
        let mut out = format!("# Incident insights\n\n{} incidents.\n\n", self.incidents);
        out.push_str("## By severity (minutes)\n\n| severity | incidents | time to resolve, median | p90 | time open, median | p90 |\n|---|---|---|---|---|---|\n");
        for (key, f) in &self.by_severity {
            out.push_str(&format!(
                "| {key} | {} | {} |\n",
                f.count,
                f.times.cells(" | ", "-")
            ));
        }
        out.push_str("\n## By month (minutes)\n\n| month | incidents | time to resolve, median | p90 | time open, median | p90 |\n|---|---|---|---|---|---|\n");
        for m in &self.by_month {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                m.month,
                m.count,
                m.times.cells(" | ", "-")
            ));
        }
        out.push_str("\n## Per week\n\n| week | sev1 | sev2 | sev3 | sev4 | none |\n|---|---|---|---|---|---|\n");
        for w in &self.per_week {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                w.week, w.sev1, w.sev2, w.sev3, w.sev4, w.none
            ));
        }
        out.push_str("\n## Postmortems\n\n| state | count |\n|---|---|\n");
        for (state, count) in &self.postmortems {
            out.push_str(&format!("| {state} | {count} |\n"));
        }
        out.push_str(&format!(
            "\n## Actions\n\n| open | done | overdue |\n|---|---|---|\n| {} | {} | {} |\n",
            self.actions.open, self.actions.done, self.actions.overdue
        ));
        out.push_str(
            "\n## Contributing factors written most\n\n| phrase | incidents |\n|---|---|\n",
        );
        for p in &self.factors {
            out.push_str(&format!(
                "| {} | {} |\n",
                crate::drafting::markdown::inline(&p.phrase),
                p.count
            ));
        }
        out.push_str("\n## Load\n\n| month | person-hours | people |\n|---|---|---|\n");
        for l in &self.load {
            out.push_str(&format!(
                "| {} | {:.1} | {} |\n",
                l.month, l.person_hours, l.people
            ));
        }
        out
    }

    /// One table as CSV, with a header row.
    pub fn csv(&self, table: Table) -> String {
        let columns = Times::COLUMNS;
        let mut out = String::new();
        match table {
            Table::Severity => {
                out.push_str(&format!("severity,incidents,{columns}\n"));
                for (key, f) in &self.by_severity {
                    out.push_str(&format!("{key},{},{}\n", f.count, f.times.cells(",", "")));
                }
            }
            Table::Months => {
                out.push_str(&format!("month,incidents,{columns}\n"));
                for m in &self.by_month {
                    out.push_str(&format!(
                        "{},{},{}\n",
                        m.month,
                        m.count,
                        m.times.cells(",", "")
                    ));
                }
            }
            Table::Weeks => {
                out.push_str("week,sev1,sev2,sev3,sev4,none\n");
                for w in &self.per_week {
                    out.push_str(&format!(
                        "{},{},{},{},{},{}\n",
                        w.week, w.sev1, w.sev2, w.sev3, w.sev4, w.none
                    ));
                }
            }
            Table::Postmortems => {
                out.push_str("state,count\n");
                for (state, count) in &self.postmortems {
                    out.push_str(&format!("{state},{count}\n"));
                }
            }
            Table::Actions => {
                out.push_str(&format!(
                    "open,done,overdue\n{},{},{}\n",
                    self.actions.open, self.actions.done, self.actions.overdue
                ));
            }
            Table::Factors => {
                out.push_str("phrase,incidents\n");
                for p in &self.factors {
                    out.push_str(&format!("{},{}\n", cell(&p.phrase), p.count));
                }
            }
            Table::Load => {
                out.push_str("month,person_hours,people\n");
                for l in &self.load {
                    out.push_str(&format!("{},{:.1},{}\n", l.month, l.person_hours, l.people));
                }
            }
        }
        out
    }
}

/// The tables of [`Insights`], by the name `?table=` and `--table` give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    #[default]
    Severity,
    Months,
    Weeks,
    Postmortems,
    Actions,
    Factors,
    Load,
}

impl Table {
    pub fn as_str(self) -> &'static str {
        match self {
            Table::Severity => "severity",
            Table::Months => "months",
            Table::Weeks => "weeks",
            Table::Postmortems => "postmortems",
            Table::Actions => "actions",
            Table::Factors => "factors",
            Table::Load => "load",
        }
    }
}

/// A text cell: quoted when it holds a comma, a quote or a line break, and never read as a
/// formula by a spreadsheet (a leading `=`, `+`, `-` or `@` gets a `'`).
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Author, ChannelRef, ChatEvent, EventKind, MessageId, Platform, Settings, fold,
    };
    use chrono::{DateTime, Duration, TimeZone, Utc};

    /// `(start, minutes to resolve, minutes to close, severity, factors, actions)`.
    type Spec<'a> = (
        DateTime<Utc>,
        Option<i64>,
        Option<i64>,
        &'a str,
        &'a [&'a str],
        &'a [&'a str],
    );

    /// One incident per spec, each in its own channel.
    fn incidents(specs: &[Spec]) -> Vec<Incident> {
        specs
            .iter()
            .enumerate()
            .map(|(i, (start, resolve, close, sev, factors, actions))| {
                let channel = ChannelRef::new(Platform::Console, format!("c{i}"));
                let mut lines = vec![(0, format!("/incident start Incident {i} {sev}"))];
                for f in *factors {
                    lines.push((1, format!("/incident factor {f}")));
                }
                for a in *actions {
                    lines.push((1, format!("/incident action {a}")));
                }
                if let Some(m) = resolve {
                    lines.push((*m, "/incident resolve".to_string()));
                }
                if let Some(m) = close {
                    lines.push((*m, "/incident close".to_string()));
                }
                let events = lines
                    .into_iter()
                    .enumerate()
                    .map(|(n, (m, text))| ChatEvent {
                        channel: channel.clone(),
                        message: MessageId::new(format!("m{n}")),
                        at: *start + Duration::minutes(m) + Duration::milliseconds(n as i64),
                        kind: EventKind::Posted {
                            author: Author::human("U1", "ana"),
                            text,
                            thread: None,
                        },
                    });
                fold(events, &Settings::default()).incidents.remove(0)
            })
            .collect()
    }

    fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
    }

    #[test]
    fn figures_match_a_table_computed_by_hand() {
        let set = incidents(&[
            (
                day(2026, 3, 2),
                Some(30),
                Some(60),
                "sev1",
                &["retries amplified the load", "no alert on queue age"],
                &["short add a queue-age alert due 2026-03-20"],
            ),
            (
                day(2026, 3, 4),
                Some(90),
                Some(120),
                "sev1",
                &["retries amplified the load"],
                &["now scaled workers"],
            ),
            (day(2026, 3, 10), Some(10), None, "sev1", &[], &[]),
            (
                day(2026, 4, 1),
                Some(45),
                Some(50),
                "sev2",
                &["no alert on queue age"],
                &["short tune retries due 2026-05-01"],
            ),
            (day(2026, 4, 2), None, None, "", &[], &[]),
        ]);
        let today = NaiveDate::from_ymd_opt(2026, 4, 10).unwrap();
        let insights = Insights::new(&set, &Filter::default(), today);
        assert_eq!(insights.incidents, 5);
        // sev1 time to resolve: 10, 30, 90 → median (rank 2) 30, p90 (rank 3) 90; open: 60, 120.
        let sev1 = &insights.by_severity["sev1"];
        assert_eq!(
            (
                sev1.count,
                sev1.times.ttr_median_minutes,
                sev1.times.ttr_p90_minutes
            ),
            (3, Some(30), Some(90))
        );
        assert_eq!(
            (sev1.times.open_median_minutes, sev1.times.open_p90_minutes),
            (Some(60), Some(120))
        );
        assert_eq!(insights.by_severity["none"].times.ttr_median_minutes, None);
        assert_eq!(insights.by_month[0].month, "2026-03");
        assert_eq!(insights.by_month[1].count, 2);
        let weeks: Vec<(&str, usize, usize, usize)> = insights
            .per_week
            .iter()
            .map(|w| (w.week.as_str(), w.sev1, w.sev2, w.none))
            .collect();
        assert_eq!(
            weeks,
            [
                ("2026-W10", 2, 0, 0),
                ("2026-W11", 1, 0, 0),
                ("2026-W14", 0, 1, 1)
            ]
        );
        // Closed: the first two due 5 days after the close (overdue by 04-10), the fourth due
        // 04-06 (overdue too).
        assert_eq!(insights.postmortems["overdue"], 3);
        assert_eq!(insights.postmortems["draft"], 0);
        assert_eq!(
            insights.actions,
            ActionCounts {
                open: 2,
                done: 1,
                overdue: 1
            }
        );
        // Shorter phrases inside these, with the same count, are left out.
        let phrases: Vec<(&str, usize)> = insights
            .factors
            .iter()
            .map(|p| (p.phrase.as_str(), p.count))
            .collect();
        assert_eq!(
            phrases,
            [("alert on queue age", 2), ("retries amplified the load", 2)]
        );
        let filtered = Insights::new(
            &set,
            &Filter {
                from: NaiveDate::from_ymd_opt(2026, 4, 1),
                to: None,
                severity: Some(Severity::Sev2),
            },
            today,
        );
        assert_eq!(filtered.incidents, 1);
        assert!(
            insights
                .markdown()
                .contains("| sev1 | 3 | 30 | 90 | 60 | 120 |")
        );
        assert!(
            insights
                .csv(Table::Severity)
                .contains("\nsev1,3,30,90,60,120\n")
        );
        assert_eq!(
            insights.csv(Table::Weeks).lines().nth(1),
            Some("2026-W10,2,0,0,0,0")
        );
        assert_eq!(insights.csv(Table::Actions), "open,done,overdue\n2,1,1\n");
        assert!(
            insights
                .csv(Table::Factors)
                .contains("\nalert on queue age,2\n")
        );
    }

    #[test]
    fn the_incidents_behind_each_figure_are_as_many_as_it_counts() {
        let set = incidents(&[
            (
                day(2026, 3, 2),
                Some(30),
                Some(60),
                "sev1",
                &["Retries amplified the load"],
                &["short add an alert due 2026-03-20", "short page less"],
            ),
            (
                day(2026, 3, 4),
                Some(90),
                Some(120),
                "sev2",
                &["retries amplified the load, again"],
                &["now scaled workers"],
            ),
            (day(2026, 3, 31), Some(10), None, "sev1", &[], &[]),
            (day(2026, 4, 1), None, None, "", &["retries-amplified"], &[]),
        ]);
        let today = NaiveDate::from_ymd_opt(2026, 4, 10).unwrap();
        let insights = Insights::new(&set, &Filter::default(), today);
        let behind = |b: Behind| set.iter().filter(|i| b.admits(i, today)).count();
        for w in &insights.per_week {
            let week = Behind {
                week: parse_week(&w.week),
                ..Behind::default()
            };
            assert_eq!(behind(week), w.sev1 + w.sev2 + w.sev3 + w.sev4 + w.none);
        }
        for m in &insights.by_month {
            let month = Behind {
                month: parse_month(&m.month),
                ..Behind::default()
            };
            assert_eq!(behind(month), m.count, "{}", m.month);
        }
        for state in PostmortemState::ALL {
            let pm = Behind {
                postmortem: Some(state),
                ..Behind::default()
            };
            assert_eq!(behind(pm), insights.postmortems[state.as_str()]);
        }
        for (state, count) in [
            ("open", insights.action_incidents.open),
            ("done", insights.action_incidents.done),
            ("overdue", insights.action_incidents.overdue),
        ] {
            let actions = Behind {
                actions: ActionState::parse(state),
                ..Behind::default()
            };
            assert_eq!(behind(actions), count, "{state}");
        }
        // Two open actions in one incident: two actions, one incident behind them.
        assert_eq!(
            (insights.actions.open, insights.action_incidents.open),
            (2, 1)
        );
        assert_eq!(insights.factors[0].phrase, "retries amplified the load");
        for p in &insights.factors {
            let factor = Behind {
                factor: phrase(&p.phrase.to_uppercase()),
                ..Behind::default()
            };
            assert_eq!(behind(factor), p.count, "{}", p.phrase);
        }
        for load in &insights.load {
            assert_eq!(load.people, load.by_person.len());
            for person in &load.by_person {
                let worked = Behind {
                    month: parse_month(&load.month),
                    person: Some(person.name.clone()),
                    ..Behind::default()
                };
                assert_eq!(behind(worked), person.incidents, "{}", person.name);
            }
        }
        assert_eq!(insights.load[0].by_person[0].incidents, 3);
        assert_eq!(parse_week(" 2026-W9"), Some("2026-W09".into()));
        assert_eq!(parse_week("2026-W54"), None);
        assert_eq!(parse_month("2026-13"), None);
        assert_eq!(phrase(" ,; "), None);
    }

    #[test]
    fn a_csv_cell_is_quoted_and_never_a_formula() {
        assert_eq!(cell("retries, again"), "\"retries, again\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(cell("plain"), "plain");
    }

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 90), Some(7));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 50), Some(5));
        assert_eq!(percentile(&ten, 90), Some(9));
        assert_eq!(percentile(&ten, 100), Some(10));
    }
}
