//! Full-text search over incidents: the document each incident is indexed as, and queries read
//! as plain words. No query syntax of any engine reaches the store (every word goes to it
//! quoted), so a stray quote or operator in what someone typed can never make a search fail.
//! Pure: the stores index and rank, this says what is indexed and asked.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::{EntrySource, Incident, IncidentId, Platform};

/// Marks the start of a matching word in a stored snippet (a control character, which indexed
/// text never holds: [`Document::new`] takes them out).
pub const HIT_START: char = '\u{2}';
/// Marks the end of a matching word in a stored snippet.
pub const HIT_END: char = '\u{3}';

/// The indexed text of an incident's story and timeline is cut at this many bytes, and its
/// messages at [`MAX_MESSAGES`]: PostgreSQL refuses a text vector over 1 MiB, and nobody finds
/// an incident by its millionth word.
pub const MAX_BODY: usize = 256 * 1024;
/// See [`MAX_BODY`].
pub const MAX_MESSAGES: usize = 512 * 1024;
/// Words of a query past this many are not asked for.
pub const MAX_WORDS: usize = 16;
/// A longer "word" is no word anyone searches for.
const MAX_WORD: usize = 40;
/// How many words of an incident are asked for when looking for incidents like it.
const SIMILAR_WORDS: usize = 24;

/// Words too common to say what an incident is about: they are left out of the question
/// "which incidents are like this one" (a search for them still finds them).
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "all",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "for",
    "from",
    "had",
    "has",
    "have",
    "he",
    "her",
    "his",
    "how",
    "i",
    "if",
    "in",
    "incident",
    "incidents",
    "into",
    "is",
    "it",
    "its",
    "just",
    "me",
    "more",
    "my",
    "no",
    "not",
    "now",
    "of",
    "off",
    "on",
    "or",
    "our",
    "out",
    "she",
    "so",
    "some",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "to",
    "too",
    "up",
    "us",
    "was",
    "we",
    "were",
    "what",
    "when",
    "which",
    "while",
    "who",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
];

/// One incident as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub platform: Platform,
    pub channel: String,
    pub title: String,
    pub severity: Option<&'static str>,
    pub started_at: DateTime<Utc>,
    /// Start to resolve, or to close, or (still open) none.
    pub duration_minutes: Option<i64>,
    pub closed: bool,
    /// Summary, impact, the story's lists, actions, references and the visible timeline.
    pub body: String,
    /// The incident's messages, when `[search] messages` is on.
    pub messages: String,
    /// Changes whenever anything above does: an unchanged document is not written again.
    pub digest: String,
}

impl Document {
    /// The document of `incident`, with the text of `messages` (empty unless `[search]
    /// messages` is on).
    pub fn new<'a>(incident: &Incident, messages: impl IntoIterator<Item = &'a str>) -> Document {
        let mut body = Text::new(MAX_BODY);
        for text in [
            &incident.summary,
            &incident.impact,
            &incident.resolution_note,
        ]
        .into_iter()
        .flatten()
        {
            body.push(text);
        }
        for list in [&incident.factors, &incident.worked, &incident.improve] {
            for item in list.iter().filter(|i| !i.hidden) {
                body.push(&item.text);
            }
        }
        for action in incident.actions.iter().filter(|a| !a.hidden) {
            body.push(&action.text);
        }
        for reference in incident.references.iter().filter(|r| !r.hidden) {
            body.push(&reference.text);
        }
        for entry in incident.visible_timeline() {
            body.push(&entry.text);
        }
        let mut said = Text::new(MAX_MESSAGES);
        for text in messages {
            said.push(text);
        }
        let duration = incident
            .time_to_resolve()
            .or_else(|| incident.time_open())
            .map(|d| d.num_minutes());
        let mut document = Document {
            id: incident.id().to_string(),
            platform: incident.channel.platform,
            channel: incident.channel.id.clone(),
            title: clean(&incident.title),
            severity: incident.severity.map(|s| s.code()),
            started_at: incident.started_at,
            duration_minutes: duration,
            closed: incident.closed_at.is_some(),
            body: body.0,
            messages: said.0,
            digest: String::new(),
        };
        document.digest = document.digest_of();
        document
    }

    fn digest_of(&self) -> String {
        let mut hash = Sha256::new();
        for part in [
            self.id.as_str(),
            self.title.as_str(),
            self.severity.unwrap_or("-"),
            &self.started_at.timestamp_micros().to_string(),
            &format!("{:?}", self.duration_minutes),
            if self.closed { "closed" } else { "open" },
            self.body.as_str(),
            self.messages.as_str(),
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        hex::encode(&hash.finalize()[..16])
    }
}

/// Lines of text up to a size, control characters taken out.
struct Text(String, usize);

impl Text {
    fn new(limit: usize) -> Text {
        Text(String::new(), limit)
    }

    fn push(&mut self, text: &str) {
        if self.0.len() >= self.1 {
            return;
        }
        if !self.0.is_empty() {
            self.0.push_str(" · ");
        }
        let room = self.1 - self.0.len();
        let text = clean(text);
        let mut end = text.len().min(room);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.0.push_str(&text[..end]);
    }
}

/// `text` without control characters (newlines become spaces): the snippet markers stay
/// unambiguous.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// What someone typed, as the words it holds: letters and digits, lower-cased, each once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Words(Vec<String>);

impl Words {
    pub fn parse(text: &str) -> Words {
        let mut words: Vec<String> = Vec::new();
        for word in text.split(|c: char| !c.is_alphanumeric()) {
            if word.is_empty() || word.chars().count() > MAX_WORD {
                continue;
            }
            let word = word.to_lowercase();
            if !words.contains(&word) {
                words.push(word);
            }
            if words.len() == MAX_WORDS {
                break;
            }
        }
        // "the", "or": every store reads them alike only when they are left out (PostgreSQL
        // drops its own list of such words, SQLite would require them).
        if words.iter().any(|w| !STOPWORDS.contains(&w.as_str())) {
            words.retain(|w| !STOPWORDS.contains(&w.as_str()));
        }
        Words(words)
    }

    /// The words of `incident` that say what it is about: its title's first, then its
    /// factors' and its timeline's, common words left out.
    pub fn of_incident(incident: &Incident) -> Words {
        let texts = std::iter::once(incident.title.as_str())
            .chain(
                incident
                    .factors
                    .iter()
                    .filter(|f| !f.hidden)
                    .map(|f| f.text.as_str()),
            )
            .chain(
                incident
                    .visible_timeline()
                    // "Incident opened", "Severity set": every incident has those.
                    .filter(|e| e.source != EntrySource::Event)
                    .map(|e| e.text.as_str()),
            );
        let mut words: Vec<String> = Vec::new();
        for text in texts {
            for word in text.split(|c: char| !c.is_alphanumeric()) {
                let word = word.to_lowercase();
                let telling = word.chars().count() >= 3
                    && word.chars().count() <= MAX_WORD
                    && !word.chars().all(|c| c.is_ascii_digit())
                    && !STOPWORDS.contains(&word.as_str());
                if telling && !words.contains(&word) {
                    words.push(word);
                }
                if words.len() == SIMILAR_WORDS {
                    return Words(words);
                }
            }
        }
        Words(words)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// Whether a document must hold every word or any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// A search: every word.
    All,
    /// Incidents like another: any word, the more the better.
    Any,
}

/// Whose incidents a search sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every incident (the API, whose token is the operator's).
    Everywhere,
    /// The incidents of one Slack workspace, Discord server or the console.
    Workspace {
        platform: Platform,
        workspace: String,
    },
}

/// A question to the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub words: Words,
    pub matching: Match,
    pub scope: Scope,
    /// Only closed incidents (what a past incident is).
    pub closed_only: bool,
    /// Never this incident (the one the others are like).
    pub except: Option<String>,
    pub limit: usize,
}

impl Query {
    /// A search: incidents open or closed holding every word.
    pub fn every_word(words: Words, scope: Scope, limit: usize) -> Query {
        Query {
            words,
            matching: Match::All,
            scope,
            closed_only: false,
            except: None,
            limit,
        }
    }

    /// The closed incidents most like `incident` (never itself), up to [`SIMILAR`].
    pub fn like(incident: &Incident, scope: Scope) -> Query {
        Query {
            words: Words::of_incident(incident),
            matching: Match::Any,
            scope,
            closed_only: true,
            except: Some(incident.id().to_string()),
            limit: SIMILAR,
        }
    }
}

/// One incident found, best first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub id: String,
    pub title: String,
    pub severity: Option<String>,
    pub started_at: DateTime<Utc>,
    pub duration_minutes: Option<i64>,
    /// Where the words matched, each between [`HIT_START`] and [`HIT_END`].
    pub snippet: String,
    /// Higher is better; comparable within one answer only.
    pub score: f64,
}

impl Hit {
    pub fn incident_id(&self) -> Option<IncidentId> {
        self.id.parse().ok()
    }
}

/// A past incident like another, as the incident's JSON lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Similar {
    pub id: String,
    pub title: String,
    pub started_at: DateTime<Utc>,
    pub severity: Option<String>,
    pub duration_minutes: Option<i64>,
}

impl From<Hit> for Similar {
    fn from(hit: Hit) -> Similar {
        Similar {
            id: hit.id,
            title: hit.title,
            started_at: hit.started_at,
            severity: hit.severity,
            duration_minutes: hit.duration_minutes,
        }
    }
}

/// A snippet as pieces of text, each saying whether it matched: a page marks those up
/// without ever treating the text as markup.
pub fn pieces(snippet: &str) -> Vec<(String, bool)> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut inside = false;
    for c in snippet.chars() {
        if c == HIT_START || c == HIT_END {
            if !current.is_empty() {
                pieces.push((std::mem::take(&mut current), inside));
            }
            inside = c == HIT_START;
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        pieces.push((current, inside));
    }
    pieces
}

/// A snippet with each match between `open` and `close` (`**` for Markdown).
pub fn marked(snippet: &str, open: &str, close: &str) -> String {
    pieces(snippet)
        .into_iter()
        .map(|(text, hit)| {
            if hit {
                format!("{open}{text}{close}")
            } else {
                text
            }
        })
        .collect()
}

/// One incident of an answer in chat: its title, severity, start, duration, link and (for a
/// search) where the words matched. Titles and snippets are chat text: the adapters escape
/// what they post.
fn line(n: usize, hit: &Hit, link: &str, snippet: bool) -> String {
    let severity = hit.severity.as_deref().unwrap_or("no severity");
    let duration = hit.duration_minutes.map_or(String::new(), |m| {
        format!(
            ", {}",
            crate::drafting::view::human_duration(chrono::Duration::minutes(m))
        )
    });
    let mut line = format!(
        "{n}. {} ({severity}, {}{duration}) {link}",
        hit.title,
        hit.started_at.format("%Y-%m-%d %H:%M UTC")
    );
    if snippet && !hit.snippet.trim().is_empty() {
        line.push_str(&format!("\n   “{}”", marked(&hit.snippet, "", "").trim()));
    }
    line
}

/// The answer to `/incident search <words>`: each hit with its link.
pub fn search_answer(asked: &str, hits: &[Hit], link: impl Fn(&Hit) -> String) -> String {
    let asked: String = asked.chars().take(100).collect();
    if hits.is_empty() {
        return format!(
            "No incident matches “{asked}”. Search reads titles, timelines and the written postmortem; every word must appear."
        );
    }
    let mut answer = format!("Incidents matching “{asked}”, best first:");
    for (n, hit) in hits.iter().enumerate() {
        answer.push('\n');
        answer.push_str(&line(n + 1, hit, &link(hit), true));
    }
    answer
}

/// The closed incidents like one, as a list to post under its headline or to answer
/// `/incident similar` with; `None` when there are none.
pub fn similar_answer(hits: &[Hit], link: impl Fn(&Hit) -> String) -> Option<String> {
    if hits.is_empty() {
        return None;
    }
    let mut answer = "Past incidents like this one:".to_string();
    for (n, hit) in hits.iter().enumerate() {
        answer.push('\n');
        answer.push_str(&line(n + 1, hit, &link(hit), false));
    }
    Some(answer)
}

/// How many incidents like one are listed.
pub const SIMILAR: usize = 3;
/// How many incidents a search in chat lists.
pub const IN_CHAT: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_words_whatever_was_typed() {
        let words =
            Words::parse(r#"  "unbalanced AND (checkout-api) OR NEAR(x y) title:* é-Ünïcode "#);
        let got: Vec<&str> = words.iter().collect();
        assert_eq!(
            got,
            [
                "unbalanced",
                "checkout",
                "api",
                "near",
                "x",
                "y",
                "title",
                "é",
                "ünïcode"
            ]
        );
        assert!(Words::parse("\"*^:()").is_empty());
        assert_eq!(
            Words::parse("the or").iter().count(),
            2,
            "nothing else to ask for"
        );
        assert_eq!(Words::parse(&"w ".repeat(100)).iter().count(), 1);
        let many: String = (0..100).map(|n| format!("word{n} ")).collect();
        assert_eq!(Words::parse(&many).iter().count(), MAX_WORDS);
    }

    #[test]
    fn snippets_come_apart_into_matched_and_plain_pieces() {
        let snippet = format!("the {HIT_START}checkout{HIT_END} api <b>{HIT_START}x{HIT_END}");
        assert_eq!(
            pieces(&snippet),
            [
                ("the ".to_string(), false),
                ("checkout".to_string(), true),
                (" api <b>".to_string(), false),
                ("x".to_string(), true),
            ]
        );
        assert_eq!(
            marked(&snippet, "**", "**"),
            "the **checkout** api <b>**x**"
        );
    }

    #[test]
    fn indexed_text_is_bounded_and_holds_no_marker() {
        let mut text = Text::new(10);
        // " · " is 4 bytes: no room is left for a character of the second line.
        text.push(&format!("ab{HIT_START}cd"));
        text.push("ééééééééé");
        assert_eq!(text.0, "ab cd · ".to_string());
        assert!(text.0.len() <= 10);
    }
}
