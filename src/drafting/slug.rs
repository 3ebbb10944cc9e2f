//! File names from titles: no title can leave the target directory or make an odd name.

use sha2::{Digest, Sha256};

use crate::domain::{Incident, IncidentId};

const MAX_SLUG_CHARS: usize = 60;

/// Lowercase ASCII letters and digits joined by single dashes, at most 60 characters, cut at a
/// dash; `incident` when nothing is left.
pub fn slug(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    if slug.len() > MAX_SLUG_CHARS {
        slug.truncate(MAX_SLUG_CHARS);
        if let Some(cut) = slug.rfind('-') {
            slug.truncate(cut);
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "incident".to_string()
    } else {
        slug.to_string()
    }
}

/// Eight hex digits of the SHA-256 of the incident id: the same on every run and every
/// machine, so two incidents with the same title and day still get names of their own.
pub fn short_id(id: &IncidentId) -> String {
    hex::encode(&Sha256::digest(id.to_string().as_bytes())[..4])
}

/// `YYYY-MM-DD-<slug>-<short id>.md`, dated by the incident's start (UTC).
pub fn file_name(incident: &Incident) -> String {
    format!(
        "{}-{}-{}.md",
        incident.started_at.format("%Y-%m-%d"),
        slug(&incident.title),
        short_id(&incident.id())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_become_safe_slugs() {
        assert_eq!(
            slug("{{ 7*7 }} checkout API returning 5xx"),
            "7-7-checkout-api-returning-5xx"
        );
        assert_eq!(slug("../../etc/passwd"), "etc-passwd");
        assert_eq!(slug("حداد 🔥"), "incident");
        assert_eq!(slug("  --  "), "incident");
        let long = slug(&"word ".repeat(30));
        assert!(
            long.len() <= MAX_SLUG_CHARS && !long.ends_with('-'),
            "{long}"
        );
    }

    #[test]
    fn short_ids_are_stable_and_tell_incidents_apart() {
        let id = |s: &str| s.parse::<IncidentId>().unwrap();
        let a = short_id(&id("slack:CA:1700000000.000100"));
        assert_eq!(a, short_id(&id("slack:CA:1700000000.000100")));
        assert_ne!(a, short_id(&id("slack:CB:1700000000.000100")));
        assert!(
            a.len() == 8 && a.chars().all(|c| c.is_ascii_hexdigit()),
            "{a}"
        );
    }
}
