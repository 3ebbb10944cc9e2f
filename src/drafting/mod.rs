//! Drafting: an incident in, a postmortem out, through `minijinja` templates.
//!
//! Templates are code and user text is data: chat text reaches a template only as values of a
//! [`view::DraftView`], already made inert, and is never compiled.

use std::path::Path;

use minijinja::{Environment, UndefinedBehavior, syntax::SyntaxConfig};

use crate::domain::Incident;

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
