//! What Scribe's clients of other services (Slack's Web API, GitHub, Discord's REST API) share:
//! retrying a call in place, the wait between attempts, and error text that leaves out URLs (an
//! upload URL is a credential of its own).

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use url::Url;

pub mod github;

/// What a failed attempt says about trying again at once, inside the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Again {
    /// Not in place: the failure is for good, or for the caller (the job worker) to schedule.
    No,
    /// After the client's backoff.
    Backoff,
    /// After as long as the service asked.
    After(Duration),
}

/// A client's failure, as [`retry`] reads it.
pub trait Retryable: Display {
    fn again(&self) -> Again;
}

/// How a client retries a call in place.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    /// Attempts per call, the first included.
    pub attempts: u32,
    /// The first back-off (see [`backoff`]).
    pub base: Duration,
    /// The longest wait a service may ask for and still be waited out in place; retrying
    /// early while rate limited can get a client banned, so a longer one ends the call.
    pub max_wait: Duration,
}

/// Runs `attempt` until it succeeds, its failure says not to try again in place, the attempts
/// run out, or the service asks for a wait longer than `retries.max_wait`; then returns the
/// last failure. `call` names the call in the log.
pub async fn retry<T, E, F, Fut>(retries: Retries, call: &str, mut attempt: F) -> Result<T, E>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tries = 1;
    loop {
        let failure = match attempt().await {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        let wait = match failure.again() {
            Again::No => return Err(failure),
            _ if tries >= retries.attempts => return Err(failure),
            Again::After(wait) if wait > retries.max_wait => return Err(failure),
            Again::After(wait) => wait,
            Again::Backoff => backoff(retries.base, tries),
        };
        tracing::warn!(
            call,
            attempt = tries,
            reason = %failure,
            wait_ms = wait.as_millis() as u64,
            "call failed; retrying"
        );
        tokio::time::sleep(wait).await;
        tries += 1;
    }
}

/// The wait before attempt `tries + 1`: half of `base · 2^(tries-1)` plus up to as much again
/// at random, so that clients failing together do not retry together.
pub fn backoff(base: Duration, tries: u32) -> Duration {
    let ceiling = base * 2u32.saturating_pow(tries.saturating_sub(1));
    let half = ceiling / 2;
    half + half.mul_f64(rand::random::<f64>())
}

/// An HTTP client for a service that holds a bearer token: bounded in time, and refusing
/// redirects, which could take the token to another host (neither Slack's Web API nor
/// GitHub's REST API needs them for what Scribe calls).
///
/// # Panics
/// If the TLS backend cannot initialise, which no argument here can cause.
pub fn client(connect_timeout: Duration, request_timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("scribe/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds from static settings")
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

/// `retry-after` in seconds, when the answer has one.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header_str(headers, RETRY_AFTER.as_str())
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// `text` on one line, cut after `max` characters: a service's message, never a whole page.
pub fn bounded(text: &str, max: usize) -> String {
    let joined = text.replace(['\r', '\n'], " ");
    if joined.chars().count() > max {
        let cut: String = joined.chars().take(max).collect();
        format!("{cut}…")
    } else {
        joined
    }
}

/// Checks the REST root of a service that takes a token (`service` names it in the reason),
/// before anything is sent: it must not take the token somewhere else or in the clear (plain
/// `http` is for loopback test servers only), nor carry credentials, a query or a fragment of
/// its own. Returns it with a trailing `/`, so that paths join under it.
pub fn check_base(mut base: Url, service: &str) -> Result<Url, String> {
    let refuse = |why: &str| format!("the {service} API URL {why}");
    let loopback = match base.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match base.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(refuse(
                "must use https, or the token would travel in the clear",
            ));
        }
        _ => return Err(refuse("must be an http(s) URL")),
    }
    if base.cannot_be_a_base() || base.host().is_none() {
        return Err(refuse("must name a host"));
    }
    if !base.username().is_empty() || base.password().is_some() {
        return Err(refuse("must not carry credentials"));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(refuse("must not carry a query or fragment"));
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use tokio::time::Instant;

    use super::*;

    const RETRIES: Retries = Retries {
        attempts: 3,
        base: Duration::from_millis(100),
        max_wait: Duration::from_secs(30),
    };

    #[derive(Debug, PartialEq)]
    struct Failed(Again);

    impl Display for Failed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "failed ({:?})", self.0)
        }
    }

    impl Retryable for Failed {
        fn again(&self) -> Again {
            self.0
        }
    }

    /// Runs [`retry`] over `outcomes`, one per attempt (success after the last): how many
    /// attempts it made, how long it took and what it returned.
    async fn run(outcomes: &[Again]) -> (usize, Duration, Result<usize, Failed>) {
        let made = Cell::new(0);
        let start = Instant::now();
        let result = retry(RETRIES, "test", || {
            let n = made.get();
            made.set(n + 1);
            async move { outcomes.get(n).map_or(Ok(n), |again| Err(Failed(*again))) }
        })
        .await;
        (made.get(), start.elapsed(), result)
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_is_returned_at_once() {
        assert_eq!(run(&[]).await, (1, Duration::ZERO, Ok(0)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_for_good_ends_the_call_at_once() {
        let (made, took, result) = run(&[Again::No, Again::Backoff]).await;
        assert_eq!((made, took), (1, Duration::ZERO));
        assert_eq!(result, Err(Failed(Again::No)));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_tried_again_until_the_attempts_run_out() {
        let (made, took, result) = run(&[Again::Backoff; 5]).await;
        assert_eq!(made, 3);
        assert_eq!(result, Err(Failed(Again::Backoff)));
        // Two back-offs: 50–100 ms, then 100–200 ms.
        assert!(
            (Duration::from_millis(150)..=Duration::from_millis(300)).contains(&took),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_the_service_asks_for_is_honoured() {
        let asked = Duration::from_secs(7);
        let (made, took, result) = run(&[Again::After(asked)]).await;
        assert_eq!((made, took, result), (2, asked, Ok(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_longer_than_the_cap_ends_the_call_at_once() {
        let asked = RETRIES.max_wait + Duration::from_secs(1);
        let (made, took, result) = run(&[Again::After(asked)]).await;
        assert_eq!((made, took), (1, Duration::ZERO));
        assert_eq!(result, Err(Failed(Again::After(asked))));
        let (made, _, result) = run(&[Again::After(RETRIES.max_wait)]).await;
        assert_eq!((made, result), (2, Ok(1)), "the cap itself is waited out");
    }

    #[test]
    fn the_base_url_must_keep_the_token_safe() {
        let base = |url: &str| check_base(url.parse().unwrap(), "GitHub");
        assert!(base("http://api.github.com/").is_err());
        assert!(base("ftp://api.github.com/").is_err());
        assert!(base("https://user:pw@api.github.com/").is_err());
        assert!(base("https://api.github.com/?x=1").is_err());
        assert!(base("http://127.0.0.1:8080/").is_ok());
        assert!(base("http://[::1]:8080/").is_ok());
        let enterprise = base("http://localhost:8080/api/v3").unwrap();
        assert_eq!(enterprise.as_str(), "http://localhost:8080/api/v3/");
        let refused = base("http://api.github.com/").unwrap_err();
        assert!(refused.starts_with("the GitHub API URL"), "{refused}");
    }

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
