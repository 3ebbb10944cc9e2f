//! How bad an incident is, in the seed template's words.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `sev1` is the worst. The words (Critical … Low) are the postmortem template's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Sev1,
    Sev2,
    Sev3,
    Sev4,
}

impl Severity {
    /// Every level, the worst first.
    pub const ALL: [Severity; 4] = [
        Severity::Sev1,
        Severity::Sev2,
        Severity::Sev3,
        Severity::Sev4,
    ];

    /// The machine code, as stored and as the JSON draft shows it.
    pub fn code(self) -> &'static str {
        match self {
            Severity::Sev1 => "sev1",
            Severity::Sev2 => "sev2",
            Severity::Sev3 => "sev3",
            Severity::Sev4 => "sev4",
        }
    }

    /// The template's word for the level.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Sev1 => "Critical",
            Severity::Sev2 => "High",
            Severity::Sev3 => "Medium",
            Severity::Sev4 => "Low",
        }
    }

    /// Only `sev1`..`sev4`: the form that may trail an incident title.
    pub fn from_code(word: &str) -> Option<Severity> {
        match word.to_ascii_lowercase().as_str() {
            "sev1" => Some(Severity::Sev1),
            "sev2" => Some(Severity::Sev2),
            "sev3" => Some(Severity::Sev3),
            "sev4" => Some(Severity::Sev4),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.label(), self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a severity: use sev1..sev4 or critical, high, medium, low")]
pub struct InvalidSeverity(pub String);

impl FromStr for Severity {
    type Err = InvalidSeverity;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        if let Some(severity) = Severity::from_code(word) {
            return Ok(severity);
        }
        match word.to_ascii_lowercase().as_str() {
            "critical" => Ok(Severity::Sev1),
            "high" => Ok(Severity::Sev2),
            "medium" => Ok(Severity::Sev3),
            "low" => Ok(Severity::Sev4),
            _ => Err(InvalidSeverity(word.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_words_parse_case_insensitively() {
        assert_eq!("SEV1".parse(), Ok(Severity::Sev1));
        assert_eq!("sev4".parse(), Ok(Severity::Sev4));
        assert_eq!("High".parse(), Ok(Severity::Sev2));
        assert_eq!("medium".parse(), Ok(Severity::Sev3));
        assert_eq!("LOW".parse(), Ok(Severity::Sev4));
        assert_eq!("critical".parse(), Ok(Severity::Sev1));
    }

    #[test]
    fn other_words_are_refused() {
        assert!("sev5".parse::<Severity>().is_err());
        assert!("sev".parse::<Severity>().is_err());
        assert!("".parse::<Severity>().is_err());
        assert_eq!(Severity::from_code("high"), None);
    }

    #[test]
    fn display_shows_word_and_code() {
        assert_eq!(Severity::Sev2.to_string(), "High (sev2)");
    }
}
