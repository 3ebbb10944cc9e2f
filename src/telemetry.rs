//! Logging: `tracing` to standard error, as text for people or JSON for collectors, filtered
//! by `RUST_LOG` when set, else by `[log] level`. A line that cannot be written (a full disk,
//! a closed pipe) is dropped and counted ([`crate::metrics::LOG_LINES_DROPPED`]): logging
//! never takes Scribe down.

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};
use crate::metrics::LOG_LINES_DROPPED;

/// Installs the global subscriber; call once, at start.
pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| log.level.filter());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .with_writer(|| Lossy(io::stderr()));
    match log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// A writer that never fails: tracing's formatter is handed one whole line per write, and
/// reports a failed write on standard error with `eprintln!`, which panics when that fails
/// too. A line this writer cannot write is dropped and counted instead.
struct Lossy<W>(W);

impl<W: Write> Write for Lossy<W> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        if self.0.write_all(line).is_err() {
            LOG_LINES_DROPPED.inc();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = self.0.flush();
        Ok(())
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
