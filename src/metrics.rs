//! Prometheus metrics, served as OpenMetrics text on `GET /metrics`.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Log lines that could not be written. Global because logging starts before any [`Metrics`]
/// exists; every [`Metrics`] serves it.
pub static LOG_LINES_DROPPED: LazyLock<Counter> = LazyLock::new(Counter::default);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: &'static str,
}

pub struct Metrics {
    registry: Registry,
    /// Set from the store when scraped: `overdue` depends on the day.
    pub postmortems: Family<StateLabels, Gauge>,
    pub requests: Family<RequestLabels, Counter>,
    pub events_stored: Counter,
    pub incidents_open: Gauge,
    pub job_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("scribe");
        let requests = Family::<RequestLabels, Counter>::default();
        let events_stored = Counter::default();
        let incidents_open = Gauge::default();
        let job_failures = Counter::default();
        let postmortems = Family::<StateLabels, Gauge>::default();
        registry.register(
            "postmortems",
            "Postmortems of closed incidents by state (draft, in_review, published, overdue)",
            postmortems.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "events_stored",
            "Chat events stored (redeliveries excluded)",
            events_stored.clone(),
        );
        registry.register(
            "incidents_open",
            "Incidents not closed yet",
            incidents_open.clone(),
        );
        registry.register(
            "job_failures",
            "Jobs (posts, uploads, publishing) given up after a permanent error or their last retry",
            job_failures.clone(),
        );
        registry.register(
            "log_lines_dropped",
            "Log lines dropped because standard error could not take them (a full disk, a closed pipe)",
            LOG_LINES_DROPPED.clone(),
        );
        Metrics {
            registry,
            postmortems,
            requests,
            events_stored,
            incidents_open,
            job_failures,
        }
    }
}

impl Metrics {
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
