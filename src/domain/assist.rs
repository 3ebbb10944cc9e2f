//! Writing help from a language model, checked before anyone sees it. The model only proposes
//! sentences for the story's sections; each must rest on timeline entries or messages it cites,
//! and every time, number, name and URL in it must appear in what it cites. What fails a check
//! is dropped and counted, so nothing the channel did not say reaches a person, and only a
//! person's `/incident assist accept N` puts a suggestion into the draft.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::incident::StoryList;

/// At most this many suggestions of one answer are kept; the rest count as dropped.
pub const MAX_SUGGESTIONS: usize = 20;
/// A longer sentence is no sentence: it is dropped.
pub const MAX_TEXT_CHARS: usize = 600;
/// At most this many citations per sentence.
const MAX_CITES: usize = 12;

/// The part of the postmortem a suggestion is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    Summary,
    Impact,
    Factors,
    Worked,
    Improve,
}

impl Section {
    pub const ALL: [Section; 5] = [
        Section::Summary,
        Section::Impact,
        Section::Factors,
        Section::Worked,
        Section::Improve,
    ];

    /// As the answer's JSON and the incident JSON write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Summary => "summary",
            Section::Impact => "impact",
            Section::Factors => "factors",
            Section::Worked => "worked",
            Section::Improve => "improve",
        }
    }

    pub fn parse(word: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.as_str() == word)
    }

    /// A section as people type it: its name, or the story command's word (`factor`).
    pub fn read(word: &str) -> Option<Section> {
        match word.to_ascii_lowercase().as_str() {
            "factor" => Some(Section::Factors),
            word => Section::parse(word),
        }
    }

    /// The heading people know it by.
    pub fn heading(self) -> &'static str {
        match self {
            Section::Summary => "Summary",
            Section::Impact => "Impact",
            Section::Factors => "Contributing factors",
            Section::Worked => "What worked well",
            Section::Improve => "What we could improve",
        }
    }

    /// The story's list an accepted suggestion joins; `None` for the summary and the impact,
    /// which it replaces.
    pub fn list(self) -> Option<StoryList> {
        match self {
            Section::Summary | Section::Impact => None,
            Section::Factors => Some(StoryList::Factors),
            Section::Worked => Some(StoryList::Worked),
            Section::Improve => Some(StoryList::Improve),
        }
    }
}

/// What a sentence rests on: timeline entry `#N`, or message `m:<id>` (only when messages were
/// sent).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Cite {
    Entry(u32),
    Message(String),
}

impl Cite {
    pub fn parse(text: &str) -> Option<Cite> {
        let text = text.trim();
        if let Some(n) = text.strip_prefix('#') {
            return n.parse().ok().filter(|n| *n > 0).map(Cite::Entry);
        }
        let id = text.strip_prefix("m:")?;
        (!id.is_empty() && id.len() <= 128 && !id.contains(char::is_whitespace))
            .then(|| Cite::Message(id.to_string()))
    }
}

impl fmt::Display for Cite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cite::Entry(n) => write!(f, "#{n}"),
            Cite::Message(id) => write!(f, "m:{id}"),
        }
    }
}

impl TryFrom<String> for Cite {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Cite::parse(&text).ok_or_else(|| format!("`{text}` is no citation (#N or m:<id>)"))
    }
}

impl From<Cite> for String {
    fn from(cite: Cite) -> String {
        cite.to_string()
    }
}

/// One checked sentence for one section, with what it rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    pub section: Section,
    pub text: String,
    pub cites: Vec<Cite>,
}

/// A suggestion waiting for a person: its number is never reused within the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub n: u32,
    pub suggestion: Suggestion,
}

/// What Scribe records when an answer has been checked: the suggestions that passed and how
/// many did not. It replaces the incident's pending suggestions of the section it was asked
/// for (of every section, when none was named).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub suggestions: Vec<Suggestion>,
    pub dropped: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<Section>,
}

/// One suggestion as the model wrote it, before any check.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Raw {
    pub section: String,
    pub text: String,
    pub cites: Vec<String>,
}

/// The only shape of answer Scribe accepts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    suggestions: Vec<Raw>,
}

/// The model's answer did not have the agreed shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the answer is not {{\"suggestions\": [...]}}: {0}")]
pub struct Malformed(pub String);

/// Reads the model's answer: `{"suggestions": [{"section", "text", "cites"}]}` and nothing else.
pub fn read_answer(text: &str) -> Result<Vec<Raw>, Malformed> {
    serde_json::from_str::<Answer>(text.trim())
        .map(|answer| answer.suggestions)
        .map_err(|error| Malformed(error.to_string()))
}

/// Why asking the model came to nothing; each is told in the channel, and nothing changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer within `[assist] timeout`.
    Timeout,
    /// 429: the server asks to wait.
    Busy,
    /// 5xx, or no connection.
    Unavailable,
    /// Another refusal (a bad key, an unknown model).
    Refused,
    /// Not the agreed JSON, or cut off by the model's token limit or Scribe's size bound.
    Malformed,
}

/// What can be cited, each with the text the model was sent for it (its time, `HH:MM`, and its
/// text): a sentence is checked against these texts only.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    cited: BTreeMap<Cite, String>,
}

impl Sources {
    pub fn insert(&mut self, cite: Cite, text: String) {
        self.cited.insert(cite, text);
    }

    pub fn contains(&self, cite: &Cite) -> bool {
        self.cited.contains_key(cite)
    }
}

/// The suggestions that passed, and how many were dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub kept: Vec<Suggestion>,
    pub dropped: u32,
}

/// Why a sentence was dropped (for tests and the log's counts; never shown with its text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    UnknownSection,
    Empty,
    TooLong,
    Uncited,
    BadCitation,
    MissingSource,
    Time,
    Number,
    Name,
    Url,
}

/// Checks every sentence against what it cites; `names` are the participants' display names.
pub fn check(raw: &[Raw], sources: &Sources, names: &[&str]) -> Checked {
    let mut kept = Vec::new();
    let mut dropped = 0u32;
    for suggestion in raw {
        match check_one(suggestion, sources, names) {
            Ok(ok) if kept.len() < MAX_SUGGESTIONS => kept.push(ok),
            _ => dropped += 1,
        }
    }
    Checked { kept, dropped }
}

/// One sentence, checked.
pub fn check_one(raw: &Raw, sources: &Sources, names: &[&str]) -> Result<Suggestion, Dropped> {
    let section = Section::parse(raw.section.trim()).ok_or(Dropped::UnknownSection)?;
    let text = raw.text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return Err(Dropped::Empty);
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(Dropped::TooLong);
    }
    if raw.cites.is_empty() {
        return Err(Dropped::Uncited);
    }
    if raw.cites.len() > MAX_CITES {
        return Err(Dropped::BadCitation);
    }
    let mut cites: Vec<Cite> = Vec::new();
    for cite in &raw.cites {
        let cite = Cite::parse(cite).ok_or(Dropped::BadCitation)?;
        if !sources.contains(&cite) {
            return Err(Dropped::MissingSource);
        }
        if !cites.contains(&cite) {
            cites.push(cite);
        }
    }
    let cited: String = cites
        .iter()
        .filter_map(|c| sources.cited.get(c))
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    let said = Figures::of(&cited);
    let says = Figures::of(&text);
    if !says.times.iter().all(|t| said.times.contains(t)) {
        return Err(Dropped::Time);
    }
    if !says.numbers.iter().all(|n| said.numbers.contains(n)) {
        return Err(Dropped::Number);
    }
    let cited_lower = cited.to_lowercase();
    let text_lower = text.to_lowercase();
    for name in names {
        let name = name.trim().to_lowercase();
        if name.chars().count() >= 2
            && contains_word(&text_lower, &name)
            && !contains_word(&cited_lower, &name)
        {
            return Err(Dropped::Name);
        }
    }
    if !urls(&text).all(|url| cited.contains(url)) {
        return Err(Dropped::Url);
    }
    Ok(Suggestion {
        section,
        text,
        cites,
    })
}

/// The times (`HH:MM`, hours without a leading zero) and numbers (digit runs with `.` or `,`
/// between digits) a text holds.
#[derive(Debug, Default)]
struct Figures {
    times: Vec<String>,
    numbers: Vec<String>,
}

impl Figures {
    fn of(text: &str) -> Figures {
        let mut figures = Figures::default();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if !chars[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < chars.len() {
                let joins = matches!(chars[i], '.' | ',' | ':')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit);
                if chars[i].is_ascii_digit() || (joins && i > start) {
                    i += 1;
                } else {
                    break;
                }
            }
            let run: String = chars[start..i].iter().collect();
            if run.contains(':') {
                let mut parts = run.split(':');
                let hours = parts.next().and_then(|h| h.parse::<u32>().ok());
                let minutes = parts.next().filter(|m| m.len() == 2);
                match (hours, minutes) {
                    (Some(h), Some(m)) => figures.times.push(format!("{h}:{m}")),
                    // `1:2`: no time, so its numbers must be said.
                    _ => figures.numbers.extend(run.split(':').map(str::to_string)),
                }
            } else {
                figures.numbers.push(run);
            }
        }
        figures
    }
}

/// Whether `word` occurs in `text` with no letter or digit right before or after it.
fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The URLs in a text, without the punctuation that ends a sentence around them.
fn urls(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace().filter_map(|word| {
        let at = word.find("http://").or_else(|| word.find("https://"))?;
        Some(word[at..].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '>', '"', '\'']))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(section: &str, text: &str, cites: &[&str]) -> Raw {
        Raw {
            section: section.into(),
            text: text.into(),
            cites: cites.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn sources() -> Sources {
        let mut sources = Sources::default();
        sources.insert(
            Cite::Entry(1),
            "14:02 checkout-api 5xx at 12.5% after deploy v2.3.1 by Dana".into(),
        );
        sources.insert(
            Cite::Entry(3),
            "14:20 rolled back; see https://status.example.com/i/42".into(),
        );
        sources.insert(
            Cite::Message("1700000000.000100".into()),
            "09:05 Sam: 1,200 orders failed".into(),
        );
        sources
    }

    const NAMES: &[&str] = &["Dana", "Sam", "Lee"];

    fn one(section: &str, text: &str, cites: &[&str]) -> Result<Suggestion, Dropped> {
        check_one(&raw(section, text, cites), &sources(), NAMES)
    }

    #[test]
    fn a_sentence_resting_on_what_it_cites_passes() {
        let ok = one(
            "summary",
            "A deploy of v2.3.1 at 14:02 sent 12.5% of checkout requests to errors, rolled back at 14:20.",
            &["#1", "#3"],
        )
        .unwrap();
        assert_eq!(ok.section, Section::Summary);
        assert_eq!(ok.cites, [Cite::Entry(1), Cite::Entry(3)]);
        assert!(one("impact", "1,200 orders failed.", &["m:1700000000.000100"]).is_ok());
        assert!(one("factors", "Dana's deploy broke checkout.", &["#1"]).is_ok());
        assert!(
            one(
                "worked",
                "The status page (https://status.example.com/i/42).",
                &["#3"]
            )
            .is_ok()
        );
        // A time the source writes with a leading zero, or with seconds, is the same time.
        assert!(one("impact", "It began at 9:05.", &["m:1700000000.000100"]).is_ok());
    }

    #[test]
    fn uncited_missing_or_malformed_citations_drop_the_sentence() {
        assert_eq!(
            one("summary", "Checkout broke.", &[]),
            Err(Dropped::Uncited)
        );
        assert_eq!(
            one("summary", "Checkout broke.", &["#2"]),
            Err(Dropped::MissingSource)
        );
        assert_eq!(
            one("summary", "Checkout broke.", &["m:nope"]),
            Err(Dropped::MissingSource)
        );
        assert_eq!(
            one("summary", "Checkout broke.", &["3"]),
            Err(Dropped::BadCitation)
        );
        assert_eq!(
            one("summary", "Checkout broke.", &["#0"]),
            Err(Dropped::BadCitation)
        );
        assert_eq!(
            one("story", "Checkout broke.", &["#1"]),
            Err(Dropped::UnknownSection)
        );
        assert_eq!(one("summary", "  \n ", &["#1"]), Err(Dropped::Empty));
        let long = "word ".repeat(200);
        assert_eq!(one("summary", &long, &["#1"]), Err(Dropped::TooLong));
    }

    #[test]
    fn invented_times_numbers_names_and_urls_drop_the_sentence() {
        assert_eq!(
            one("summary", "It began at 13:55.", &["#1"]),
            Err(Dropped::Time)
        );
        // A time said by another entry than the ones cited is not said.
        assert_eq!(
            one("summary", "Rolled back at 14:20.", &["#1"]),
            Err(Dropped::Time)
        );
        assert_eq!(
            one("impact", "40% of requests failed.", &["#1"]),
            Err(Dropped::Number)
        );
        assert_eq!(
            one("impact", "12.6% of requests failed.", &["#1"]),
            Err(Dropped::Number)
        );
        assert_eq!(
            one("impact", "1200 orders failed.", &["m:1700000000.000100"]),
            Err(Dropped::Number)
        );
        assert_eq!(
            one("impact", "It lasted 2 hours.", &["#1", "#3"]),
            Err(Dropped::Number)
        );
        assert_eq!(
            one("factors", "Lee's deploy broke checkout.", &["#1"]),
            Err(Dropped::Name)
        );
        assert_eq!(
            one("factors", "SAM deployed it.", &["#1"]),
            Err(Dropped::Name)
        );
        assert_eq!(
            one("worked", "See https://evil.example.net/x.", &["#3"]),
            Err(Dropped::Url)
        );
        // A name inside another word is no name.
        assert!(one("factors", "Samples of checkout failed.", &["#1"]).is_ok());
    }

    #[test]
    fn figures_are_digit_runs_and_times() {
        let f = Figures::of("at 09:05:30, 1,200 of 3.5k; v2.3.1. Then 7.");
        assert_eq!(f.times, ["9:05"]);
        assert_eq!(f.numbers, ["1,200", "3.5", "2.3.1", "7"]);
    }

    #[test]
    fn an_answer_has_one_shape_and_at_most_twenty_suggestions_are_kept() {
        assert!(read_answer("{\"suggestions\": []}").unwrap().is_empty());
        for bad in [
            "",
            "{\"suggestions\": [",
            "{\"suggestions\": [{\"section\": \"summary\", \"text\": \"x\"}]}",
            "[]",
            "{\"suggestions\": [], \"note\": \"ignore the checks\"}",
        ] {
            assert!(read_answer(bad).is_err(), "{bad}");
        }
        let many: Vec<Raw> = (0..25)
            .map(|_| raw("factors", "Checkout broke.", &["#1"]))
            .chain([raw("factors", "Checkout broke.", &[])])
            .collect();
        let checked = check(&many, &sources(), NAMES);
        assert_eq!(checked.kept.len(), MAX_SUGGESTIONS);
        assert_eq!(checked.dropped, 6);
    }

    #[test]
    fn an_offer_round_trips_through_json() {
        let offer = Offer {
            suggestions: vec![Suggestion {
                section: Section::Worked,
                text: "Rollback was quick.".into(),
                cites: vec![Cite::Entry(3), Cite::Message("ab".into())],
            }],
            dropped: 2,
            section: None,
        };
        let json = serde_json::to_string(&offer).unwrap();
        assert!(json.contains("\"cites\":[\"#3\",\"m:ab\"]"), "{json}");
        assert_eq!(serde_json::from_str::<Offer>(&json).unwrap(), offer);
    }
}
