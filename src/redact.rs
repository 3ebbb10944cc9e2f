//! What is taken out of chat text before it leaves for a language model: e-mail addresses,
//! tokens that look like secrets, IP addresses, and whatever `[assist] redact` adds. Pure: a
//! text in, the text with every match replaced out.

use regex_automata::meta::Regex;

use crate::config::RedactPattern;

/// What a match becomes.
pub const REDACTED: &str = "[redacted]";

/// The built-in patterns: secrets people paste into incident channels, and the addresses that
/// name people and machines.
const BUILT_IN: &[&str] = &[
    // E-mail addresses.
    r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    // Slack tokens (bot, user, app, refresh, configuration).
    r"\bxox[abeoprs]-[A-Za-z0-9\-]+",
    r"\bxapp-[A-Za-z0-9\-]+",
    // GitHub tokens.
    r"\bgh[pousr]_[A-Za-z0-9_]{8,}",
    r"\bgithub_pat_[A-Za-z0-9_]+",
    // AWS access key ids.
    r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{12,}",
    // Bearer (and basic) credentials as headers show them.
    r"(?i)\b(?:bearer|basic|token)\s+[A-Za-z0-9._~+/=\-]{8,}",
    // `password=…`, `secret: …`, `api_key=…`.
    r"(?i)\b(?:password|passwd|secret|api[_\-]?key|token)\s*[=:]\s*\S+",
    // Private keys.
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    // IPv4 addresses.
    r"\b(?:\d{1,3}\.){3}\d{1,3}\b",
    // IPv6 addresses, full or with `::`.
    r"\b(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}\b",
    r"\b(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}\b)?",
];

/// The patterns of one configuration, compiled once.
#[derive(Debug, Clone)]
pub struct Redactor {
    extra: Vec<RedactPattern>,
    built_in: Vec<Regex>,
}

impl Redactor {
    pub fn new(extra: &[RedactPattern]) -> Redactor {
        Redactor {
            extra: extra.to_vec(),
            built_in: BUILT_IN
                .iter()
                .map(|p| Regex::new(p).expect("the built-in patterns compile"))
                .collect(),
        }
    }

    /// `text` with every match of every pattern replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let patterns = self
            .extra
            .iter()
            .map(RedactPattern::regex)
            .chain(&self.built_in);
        let mut text = text.to_string();
        for pattern in patterns {
            if !pattern.is_match(&text) {
                continue;
            }
            let mut out = String::with_capacity(text.len());
            let mut last = 0;
            for found in pattern.find_iter(&text) {
                if found.is_empty() {
                    continue;
                }
                out.push_str(&text[last..found.start()]);
                out.push_str(REDACTED);
                last = found.end();
            }
            out.push_str(&text[last..]);
            text = out;
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_addresses_and_keys_are_taken_out() {
        let redactor = Redactor::new(&[]);
        let planted = [
            "dana.lee+oncall@example.co.uk",
            "xoxb-1234-5678-abcdefABCDEF",
            "xapp-1-A0001-1000-abc",
            "ghp_0123456789abcdefABCDEF0123456789abcd",
            "github_pat_11ABCDEFG0123456789_abcdef",
            "AKIAIOSFODNN7EXAMPLE",
            "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
            "10.12.0.7",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            "fe80::1ff:fe23:4567:890a",
            "password=hunter2hunter2",
        ];
        for secret in planted {
            let text = format!("before {secret} after");
            let out = redactor.redact(&text);
            assert!(!out.contains(secret), "{secret}: {out}");
            assert!(out.contains(REDACTED), "{out}");
            assert!(
                out.starts_with("before ") && out.ends_with(" after"),
                "{out}"
            );
        }
    }

    #[test]
    fn times_numbers_and_words_stay() {
        let redactor = Redactor::new(&[]);
        let text = "At 14:05:30 checkout-api v2.3.1 served 12.5% 5xx to 1,200 users; token bucket";
        assert_eq!(redactor.redact(text), text);
    }

    #[test]
    fn configured_patterns_redact_too() {
        let redactor = Redactor::new(&[RedactPattern::new(r"cust-\d+").unwrap()]);
        assert_eq!(
            redactor.redact("order of cust-42 failed"),
            "order of [redacted] failed"
        );
        assert!(RedactPattern::new("(unclosed").is_err());
        assert!(RedactPattern::new("").is_err());
    }
}
