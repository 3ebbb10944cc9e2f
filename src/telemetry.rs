//! Logging: `tracing` to standard error, as text for people or JSON for collectors, filtered
//! by `RUST_LOG` when set, else by `[log] level`.

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the global subscriber; call once, at start.
pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| log.level.filter());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// `error` and its causes, each said once: many errors put their cause in their own message
/// too (sqlx's, and ours that name the file or directory), so a cause already said is left out.
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let said = cause.to_string();
        if text.contains(&said) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&said);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_is_said_once() {
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        #[derive(Debug, thiserror::Error)]
        #[error("cannot create /data: {0}")]
        struct Create(#[source] std::io::Error);
        let error = anyhow::Error::new(Create(io())).context("cannot open the database");
        assert_eq!(
            error_chain(&error),
            format!("cannot open the database: cannot create /data: {}", io())
        );
        let error = anyhow::Error::new(io()).context("cannot write out.md");
        assert_eq!(
            error_chain(&error),
            format!("cannot write out.md: {}", io())
        );
    }
}
