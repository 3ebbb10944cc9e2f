//! Participants: the distinct humans who wrote in the incident's channel.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::event::UserId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub name: String,
    pub messages: u32,
}

/// Counts messages per author; the latest name an author was seen with wins.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    by_author: HashMap<UserId, Participant>,
}

impl Tally {
    pub fn count(&mut self, author: &UserId, name: &str) {
        let entry = self
            .by_author
            .entry(author.clone())
            .or_insert_with(|| Participant {
                name: name.to_string(),
                messages: 0,
            });
        entry.name = name.to_string();
        entry.messages += 1;
    }

    /// Participants sorted by name.
    pub fn into_sorted(self) -> Vec<Participant> {
        let mut people: Vec<Participant> = self.by_author.into_values().collect();
        people.sort_by(|a, b| super::team_impact::by_name(&a.name, &b.name));
        people
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_author_and_sorts_by_name() {
        let mut tally = Tally::default();
        tally.count(&UserId::new("U2"), "zoë");
        tally.count(&UserId::new("U1"), "Anna");
        tally.count(&UserId::new("U2"), "Zoë");
        assert_eq!(
            tally.into_sorted(),
            vec![
                Participant {
                    name: "Anna".into(),
                    messages: 1
                },
                Participant {
                    name: "Zoë".into(),
                    messages: 2
                },
            ]
        );
    }
}
