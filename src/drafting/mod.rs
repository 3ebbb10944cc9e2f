//! Drafting: an incident in, a postmortem out, through `minijinja` templates.
//!
//! Templates are code and user text is data: chat text reaches a template only as values of a
//! [`view::DraftView`], already made inert, and is never compiled.

use std::path::Path;

use minijinja::{Environment, UndefinedBehavior, syntax::SyntaxConfig};

use crate::domain::{Incident, reply};
use crate::jobs::JobError;

pub mod document;
pub mod markdown;
pub mod slug;
pub mod view;

pub use document::IncidentDocument;
pub use view::{DraftView, Place};

/// Built-in templates, by name; a file of the same name in the user's directory wins.
const BUILTIN: &[(&str, &str)] = &[(
    "postmortem.md.j2",
    include_str!("../../templates/postmortem.md.j2"),
)];

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error(
        "template `{0}` not found (built-in: postmortem.md.j2, or a file in the template directory)"
    )]
    NoSuchTemplate(String),
    /// `{:#}` of a minijinja error names the template and line and quotes it.
    #[error("template error: {0:#}")]
    Template(#[from] minijinja::Error),
}

/// A job whose draft cannot be rendered fails for good with [`reply::DRAFT_FAILED`], which
/// its report and `/incident status` show; the cause is logged here, in the job's span.
impl From<DraftError> for JobError {
    fn from(error: DraftError) -> Self {
        tracing::error!(%error, "cannot render the postmortem draft");
        JobError::Permanent(reply::DRAFT_FAILED.to_string())
    }
}

pub struct Drafter {
    env: Environment<'static>,
}

impl Drafter {
    /// Templates from `template_dir` (when given) over the built-in ones.
    pub fn new(template_dir: Option<&Path>) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .expect("default delimiters are valid"),
        );
        let user = template_dir.map(minijinja::path_loader);
        env.set_loader(move |name| {
            if let Some(user) = &user
                && let Some(source) = user(name)?
            {
                return Ok(Some(source));
            }
            Ok(BUILTIN
                .iter()
                .find(|(builtin, _)| *builtin == name)
                .map(|(_, source)| minijinja::TemplateSource::from(*source)))
        });
        Drafter { env }
    }

    /// The names of every template: the built-in ones and the user's files.
    fn names(template_dir: Option<&Path>) -> Vec<String> {
        let mut names: Vec<String> = BUILTIN.iter().map(|(name, _)| name.to_string()).collect();
        if let Some(entries) = template_dir.and_then(|dir| std::fs::read_dir(dir).ok()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().is_file() && !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        names.sort();
        names
    }

    /// The postmortem draft of `incident` through the template called `template`.
    pub fn render(
        &self,
        template: &str,
        incident: &Incident,
        place: &Place,
    ) -> Result<String, DraftError> {
        let template = self
            .env
            .get_template(template)
            .map_err(|e| match e.kind() {
                minijinja::ErrorKind::TemplateNotFound => {
                    DraftError::NoSuchTemplate(template.to_string())
                }
                _ => DraftError::Template(e),
            })?;
        let view = DraftView::new(incident, place);
        Ok(template.render(minijinja::value::Serde(&view))?)
    }
}

/// Every template compiled and rendered with a sample incident (so a misspelt variable shows up
/// under strict undefined), and the configured one present: one line per problem, naming the
/// template and the line.
pub fn check_templates(template_dir: Option<&Path>, configured: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(dir) = template_dir
        && !dir.is_dir()
    {
        problems.push(format!(
            "[drafting] template_dir: {} is not a directory",
            dir.display()
        ));
    }
    let drafter = Drafter::new(template_dir);
    let names = Drafter::names(template_dir);
    if !names.iter().any(|n| n == configured) {
        problems.push(format!(
            "[drafting] template: `{configured}` is neither built in nor in the template directory"
        ));
    }
    let incident = sample_incident();
    let place = Place {
        channel: "inc-sample".to_string(),
        platform: "slack",
        team_zone: chrono_tz::Tz::UTC,
        today: None,
    };
    for name in names {
        if let Err(error) = drafter.render(&name, &incident, &place) {
            problems.push(format!("template {name}: {error}"));
        }
    }
    problems
}

/// An incident with every field set, folded from a short made-up channel.
fn sample_incident() -> Incident {
    use crate::domain::{
        Author, ChannelRef, ChatEvent, EventKind, MessageId, Platform, Settings, fold,
    };
    let start = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("a valid time");
    let lines = [
        "/incident start Sample incident --sev sev2",
        "/timeline first alert",
        "/incident lead @Sam",
        "/incident impact checkout failed for 5% of users",
        "/incident summary a bad deploy, rolled back",
        "/incident action add a canary stage @Sam",
        "/incident resolve",
        "/incident close",
    ];
    let events = lines.iter().enumerate().map(|(i, text)| ChatEvent {
        channel: ChannelRef::new(Platform::Slack, "CSAMPLE"),
        message: MessageId::new(i.to_string()),
        at: start + chrono::Duration::minutes(i as i64 * 5),
        kind: EventKind::Posted {
            author: Author::human("U1", "Sam"),
            text: text.to_string(),
            thread: None,
        },
    });
    fold(events, &Settings::default())
        .incidents
        .pop()
        .expect("the sample starts an incident")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_templates_pass_the_check() {
        assert_eq!(
            check_templates(None, "postmortem.md.j2"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn broken_templates_are_named_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("typo.md.j2"),
            "# {{ title }}\n{{ titel }}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("syntax.md.j2"), "{% if %}\n").unwrap();
        let problems = check_templates(Some(dir.path()), "missing.md.j2");
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("missing.md.j2"), "{problems:#?}");
        assert!(
            problems.iter().any(|p| p.contains("syntax.md.j2:1")),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("typo.md.j2:2") && p.contains("titel")),
            "{problems:#?}"
        );
    }
}
