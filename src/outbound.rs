//! What Scribe's clients of other services (Slack's Web API, GitHub) share: the wait between
//! attempts, and error text that leaves out URLs (an upload URL is a credential of its own).

use std::time::Duration;

/// The wait before attempt `tries + 1`: half of `base · 2^(tries-1)` plus up to as much again
/// at random, so that clients failing together do not retry together.
pub fn backoff(base: Duration, tries: u32) -> Duration {
    let ceiling = base * 2u32.saturating_pow(tries.saturating_sub(1));
    let half = ceiling / 2;
    half + half.mul_f64(rand::random::<f64>())
}

/// A network error and its causes, without the URL.
pub fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_stays_within_its_jitter() {
        let base = Duration::from_millis(100);
        for tries in 1..=4 {
            let ceiling = base * 2u32.pow(tries - 1);
            for _ in 0..50 {
                let wait = backoff(base, tries);
                assert!(wait >= ceiling / 2 && wait <= ceiling, "{tries}: {wait:?}");
            }
        }
    }
}
