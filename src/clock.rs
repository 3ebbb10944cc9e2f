//! The time as Scribe reads it: the system's, or, in tests, the system's moved forward on
//! demand, so that a reminder due in five days can be tested without waiting five days.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// The system's time plus an offset that only grows ([`Clock::advance`]); clones share
    /// it. Never behind the system clock, so work queued "now" by anything is due at once.
    Shifted(Arc<Mutex<Duration>>),
}

impl Clock {
    /// A clock that reads the system's time until moved forward.
    pub fn shifted() -> Clock {
        Clock::Shifted(Arc::new(Mutex::new(Duration::zero())))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Shifted(offset) => {
                Utc::now() + *offset.lock().unwrap_or_else(PoisonError::into_inner)
            }
        }
    }

    /// Moves a shifted clock forward by `by` (a negative `by` is ignored; the system clock
    /// moves by itself).
    pub fn advance(&self, by: Duration) {
        if let Clock::Shifted(offset) = self
            && by > Duration::zero()
        {
            *offset.lock().unwrap_or_else(PoisonError::into_inner) += by;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_moves_forward_when_told_and_clones_share_it() {
        let clock = Clock::shifted();
        let shared = clock.clone();
        let before = Utc::now();
        shared.advance(Duration::days(5));
        shared.advance(-Duration::days(9));
        let now = clock.now();
        assert!(now >= before + Duration::days(5), "{now}");
        assert!(now < Utc::now() + Duration::days(5) + Duration::minutes(1));
        assert!(Clock::System.now() < now);
    }
}
