//! The console: a chat room in the terminal, for trying Scribe without a chat account.
//!
//! Each line is a message from the local user and goes through the same recorder and fold as
//! live chat. A few console-only commands stand in for what a chat client's buttons do.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::Instrument;

use crate::app::App;
use crate::domain::{
    Author, ChannelRef, ChatEvent, EventKind, MessageId, Outcome, Platform, UserId, reply,
};
use crate::drafting::slug;
use crate::storage::{Store, StoreError, WebIdentity};
use crate::terminal::inert;

/// The longest line taken as a message, in bytes: over any chat's limit (Slack's is 40,000
/// characters), and a pasted file cannot take the memory.
const MAX_LINE: usize = 64 * 1024;

const HELP: &str = "\
Type messages as in an incident channel. Commands:
  /incident start <title> [--sev sev1..sev4]   open an incident here
  /timeline [HH:MM] <text>                      add a timeline entry
  /timeline list                                the entries with their numbers
  /timeline edit|move|remove|restore N ...      change entry N (move N [YYYY-MM-DD] HH:MM)
  /incident factor|worked|improve <text>        the story (remove|restore N hides one)
  /incident ref <label> <text or URL>           alert, dashboard, pr, or a label of yours
  /incident action [now|short|long] <text> [@owner] [due YYYY-MM-DD]   (done|remove N)
  /incident severity|lead|impact|summary|resolve|close|status|draft ...
  /incident assist [section | list | accept N]  suggestions from a language model ([assist])
  /incident private                             never send this incident to a language model
Console stand-ins for chat buttons, acting on the previous message:
  /pin  /unpin  /react <emoji>  /unreact <emoji>  /edit <new text>  /delete
  /help  /quit";

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("console I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot write the draft to {path}: {source}")]
    WriteDraft {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct Console {
    pub app: Arc<App>,
    pub channel: ChannelRef,
    pub user: String,
}

/// The message `/pin`, `/react`, `/edit` and `/delete` act on.
struct Previous {
    id: MessageId,
    text: String,
}

/// The console room called `name`.
pub fn channel(name: &str) -> ChannelRef {
    ChannelRef::new(Platform::Console, name)
}

/// Every console room is of one workspace: the console's.
pub const WORKSPACE: &str = "console";

/// The console person called `name`, as the web workspace knows them.
pub fn identity(name: &str) -> WebIdentity {
    WebIdentity {
        platform: Platform::Console,
        workspace: WORKSPACE.to_string(),
        person_id: name.to_string(),
        person_name: name.to_string(),
    }
}

impl Console {
    /// Reads lines until end of input or `/quit`, answering on `out`.
    pub async fn run(
        &self,
        input: impl AsyncBufRead + Unpin,
        out: impl AsyncWrite + Unpin,
    ) -> Result<(), ConsoleError> {
        let span = tracing::info_span!("console", channel = %self.channel);
        self.session(input, out).instrument(span).await
    }

    async fn session(
        &self,
        mut input: impl AsyncBufRead + Unpin,
        mut out: impl AsyncWrite + Unpin,
    ) -> Result<(), ConsoleError> {
        let mut previous = self.previous().await?;
        let mut clock = Clock::default();
        let prompt = std::io::stdin().is_terminal();
        let history = self.app.history(&self.channel).await?;
        let greeting = match history.open_incident() {
            Some(incident) => format!(
                "Resuming the open incident: {}\n",
                reply::status(incident, chrono::Utc::now().date_naive())
            ),
            None => "No incident open in this channel. /help lists the commands.\n".to_string(),
        };
        out.write_all(inert(&greeting).as_bytes()).await?;
        let mut number = 0;
        loop {
            if prompt {
                let prompt = format!("#{} {}> ", self.channel.id, self.user);
                out.write_all(inert(&prompt).as_bytes()).await?;
            }
            out.flush().await?;
            number += 1;
            let line = match next_line(&mut input).await? {
                None => break,
                Some(Line::Text(line)) => line,
                Some(Line::TooLong) => {
                    let said = format!(
                        "scribe: line {number} is longer than {MAX_LINE} bytes and was not \
                         recorded; a chat message is far shorter.\n"
                    );
                    out.write_all(said.as_bytes()).await?;
                    continue;
                }
                Some(Line::NotUtf8) => {
                    let said = format!(
                        "scribe: line {number} is not valid UTF-8 and was not recorded; \
                         check the terminal's character encoding.\n"
                    );
                    out.write_all(said.as_bytes()).await?;
                    continue;
                }
            };
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            let at = clock.now();
            let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
            let (id, kind) = match (word, previous.as_ref()) {
                ("/quit" | "/exit", _) => break,
                ("/help", _) => {
                    out.write_all(format!("{HELP}\n").as_bytes()).await?;
                    continue;
                }
                ("/pin" | "/unpin" | "/react" | "/unreact" | "/edit" | "/delete", None) => {
                    out.write_all(b"There is no previous message to act on yet.\n")
                        .await?;
                    continue;
                }
                ("/pin", Some(p)) => (p.id.clone(), EventKind::PinAdded),
                ("/unpin", Some(p)) => (p.id.clone(), EventKind::PinRemoved),
                ("/react" | "/unreact", Some(_)) if rest.trim().is_empty() => {
                    let usage = format!("usage: {word} <emoji>, e.g. {word} 📌\n");
                    out.write_all(inert(&usage).as_bytes()).await?;
                    continue;
                }
                ("/react", Some(p)) => (p.id.clone(), self.reaction(rest, true)),
                ("/unreact", Some(p)) => (p.id.clone(), self.reaction(rest, false)),
                ("/edit", Some(p)) => (
                    p.id.clone(),
                    EventKind::Edited {
                        text: rest.to_string(),
                    },
                ),
                ("/delete", Some(p)) => (p.id.clone(), EventKind::Deleted),
                _ => (
                    MessageId::new(at.timestamp_micros().to_string()),
                    EventKind::Posted {
                        author: Author::human(self.user.clone(), self.user.clone()),
                        text: line.to_string(),
                        thread: None,
                    },
                ),
            };
            let answer = self.apply(&mut previous, id, at, kind).await?;
            out.write_all(inert(&answer).as_bytes()).await?;
        }
        out.flush().await?;
        Ok(())
    }

    fn reaction(&self, emoji: &str, added: bool) -> EventKind {
        let emoji = emoji.trim().trim_matches(':').to_string();
        let user = UserId::new(self.user.clone());
        if added {
            EventKind::ReactionAdded { emoji, user }
        } else {
            EventKind::ReactionRemoved { emoji, user }
        }
    }

    /// Records one event and says what it did.
    async fn apply(
        &self,
        previous: &mut Option<Previous>,
        id: MessageId,
        at: DateTime<Utc>,
        kind: EventKind,
    ) -> Result<String, ConsoleError> {
        let posted_text = match &kind {
            EventKind::Posted { text, .. } => Some(text.clone()),
            _ => None,
        };
        let acknowledgement = match &kind {
            EventKind::PinAdded => Some("📌 Pinned the previous message."),
            EventKind::PinRemoved => Some("Unpinned the previous message."),
            EventKind::ReactionAdded { .. } => Some("Reacted to the previous message."),
            EventKind::ReactionRemoved { .. } => Some("Removed the reaction."),
            EventKind::Edited { .. } => Some("Edited the previous message."),
            EventKind::Deleted => Some("Deleted the previous message."),
            EventKind::Posted { .. } => None,
        };
        let event = ChatEvent {
            channel: self.channel.clone(),
            message: id.clone(),
            at,
            kind,
        };
        self.app
            .remember_workspace(&self.channel, WORKSPACE)
            .await?;
        let recorded = self.app.record(&event).await?;
        if let Some(text) = posted_text {
            *previous = Some(Previous {
                id: id.clone(),
                text,
            });
        }
        if let Some(answer) = acknowledgement {
            let shown = previous.as_ref().map_or("", |p| p.text.as_str());
            return Ok(format!("{answer} ({shown})\n"));
        }
        let Some(reply) = recorded.effect else {
            return Ok(String::new());
        };
        let incident = recorded.incident.as_ref();
        let mut answer = format!("scribe: {}\n", reply::text(&reply.outcome, incident));
        match (&reply.outcome, incident) {
            (Outcome::WebLink, _) => {
                let link = self.app.web_link_answer(&identity(&self.user)).await;
                answer = format!("scribe: {link}\n");
            }
            (Outcome::Search(words), _) => {
                let found = self.app.search_answer(&self.channel, words).await;
                answer = format!("scribe: {found}\n");
            }
            (Outcome::Similar, Some(incident)) => {
                let found = self.app.similar_answer(incident).await;
                let found = found.as_deref().unwrap_or(reply::NO_SIMILAR);
                answer = format!("scribe: {found}\n");
            }
            // The console runs no jobs: the model is asked while the person waits.
            (Outcome::AssistAsked(section), Some(incident)) => {
                let said = match crate::assist::Assistant::from_config(
                    &self.app.config,
                    &self.app.secrets,
                ) {
                    Some(Ok(assistant)) => {
                        crate::assist::ask(&self.app, &assistant, incident, id.as_str(), *section)
                            .await
                            .unwrap_or_else(|error| {
                                tracing::error!(
                                    error = error.reason(),
                                    "cannot ask for suggestions"
                                );
                                reply::assist_failed(crate::domain::assist::Failure::Unavailable)
                            })
                    }
                    Some(Err(error)) => {
                        tracing::error!(%error, "writing help is off");
                        reply::text(&Outcome::AssistOff, None)
                    }
                    None => reply::text(&Outcome::AssistOff, None),
                };
                answer.push_str(&format!("scribe: {said}\n"));
            }
            (Outcome::Opened, Some(incident)) => {
                if let Some(similar) = self.app.similar_on_start(incident).await {
                    answer.push_str(&format!("scribe: {similar}\n"));
                }
            }
            (Outcome::ShowStatus(_), Some(incident)) => {
                let jobs = self
                    .app
                    .store()
                    .jobs(&crate::jobs::job_prefix(&incident.id()))
                    .await?;
                if let Some(line) = crate::jobs::describe(&jobs) {
                    answer.push_str(&format!("scribe: {line}\n"));
                }
            }
            (Outcome::ShowDraft | Outcome::Closed, Some(incident)) => {
                match self.app.render_draft(incident, &self.channel.id) {
                    // The template's error is for the log (stderr), not for the room.
                    Err(error) => {
                        tracing::error!(%error, "cannot render the postmortem draft");
                        answer.push_str(&format!("scribe: {}\n", reply::no_draft()));
                    }
                    Ok(draft) if reply.outcome == Outcome::ShowDraft => answer.push_str(&draft),
                    Ok(draft) => {
                        let dir = &self.app.config.drafting.output_dir;
                        let path = dir.join(slug::file_name(incident));
                        write_file(&path, &draft).await?;
                        tracing::info!(path = %path.display(), "postmortem draft written");
                        answer.push_str(&format!(
                            "scribe: Postmortem draft written to {}\nscribe: `scribe publish {}` publishes it to the configured targets.\n",
                            path.display(),
                            incident.id()
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(answer)
    }

    /// The last message posted here, from the log, so a restart can `/pin` it.
    async fn previous(&self) -> Result<Option<Previous>, StoreError> {
        let events = self.app.store().channel_events(&self.channel).await?;
        Ok(events.into_iter().rev().find_map(|e| match e.kind {
            EventKind::Posted { text, .. } => Some(Previous {
                id: e.message,
                text,
            }),
            _ => None,
        }))
    }
}

/// A line of the console's input.
enum Line {
    Text(String),
    /// Longer than [`MAX_LINE`]; skipped to its end.
    TooLong,
    NotUtf8,
}

/// The next line of `input`, without its line ending; `None` at the end of input. Never holds
/// more than [`MAX_LINE`] bytes of it.
async fn next_line(input: &mut (impl AsyncBufRead + Unpin)) -> std::io::Result<Option<Line>> {
    let mut bytes = Vec::new();
    let limit = MAX_LINE as u64 + 1;
    if (&mut *input)
        .take(limit)
        .read_until(b'\n', &mut bytes)
        .await?
        == 0
    {
        return Ok(None);
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    } else if bytes.len() > MAX_LINE {
        loop {
            let buffer = input.fill_buf().await?;
            if buffer.is_empty() {
                break;
            }
            let (used, end) = match buffer.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buffer.len(), false),
            };
            input.consume(used);
            if end {
                break;
            }
        }
        return Ok(Some(Line::TooLong));
    }
    Ok(Some(
        String::from_utf8(bytes).map_or(Line::NotUtf8, Line::Text),
    ))
}

/// Writes through a temporary file, so a crash leaves the old draft or the new, never half.
async fn write_file(path: &std::path::Path, contents: &str) -> Result<(), ConsoleError> {
    let failed = |source| ConsoleError::WriteDraft {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    tokio::fs::create_dir_all(dir).await.map_err(failed)?;
    let tmp = path.with_extension("md.tmp");
    tokio::fs::write(&tmp, contents).await.map_err(failed)?;
    tokio::fs::rename(&tmp, path).await.map_err(failed)
}

/// Wall-clock time that never repeats, so two quick lines get distinct message ids.
#[derive(Default)]
struct Clock {
    last: Option<DateTime<Utc>>,
}

impl Clock {
    fn now(&mut self) -> DateTime<Utc> {
        let mut now = Utc::now();
        if let Some(last) = self.last
            && now <= last
        {
            now = last + chrono::Duration::microseconds(1);
        }
        self.last = Some(now);
        now
    }
}
