//! Prometheus metrics, served as OpenMetrics text on `GET /metrics`.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
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
pub struct SeverityLabels {
    /// `sev1` … `sev4`, or `none`.
    pub severity: &'static str,
}

/// Buckets for time to resolve, in seconds: 5 minutes to 2 days.
const RESOLVE_BUCKETS: [f64; 10] = [
    300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 43200.0, 86400.0, 172800.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: &'static str,
}

/// How a request to the language model ended: `ok`, `timeout`, `busy`, `unavailable`,
/// `refused`, `malformed`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

/// Tokens sent (`input`) and received (`output`), as the server counted them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub direction: &'static str,
}

pub struct Metrics {
    registry: Registry,
    /// Incidents opened here, by their severity at the start.
    pub incidents_started: Family<SeverityLabels, Counter>,
    /// Start to resolve of the incidents resolved here, by severity at the resolve.
    pub time_to_resolve: Family<SeverityLabels, Histogram>,
    /// Set from the store when scraped: `overdue` depends on the day.
    pub postmortems: Family<StateLabels, Gauge>,
    pub requests: Family<RequestLabels, Counter>,
    pub events_stored: Counter,
    pub incidents_open: Gauge,
    pub job_failures: Counter,
    /// Requests to the language model of `[assist]`, by how they ended.
    pub assist_requests: Family<OutcomeLabels, Counter>,
    pub assist_tokens: Family<TokenLabels, Counter>,
    /// Suggestions kept and dropped by the checks.
    pub assist_suggestions: Family<OutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("scribe");
        let requests = Family::<RequestLabels, Counter>::default();
        let events_stored = Counter::default();
        let incidents_open = Gauge::default();
        let job_failures = Counter::default();
        let postmortems = Family::<StateLabels, Gauge>::default();
        let incidents_started = Family::<SeverityLabels, Counter>::default();
        let time_to_resolve =
            Family::<SeverityLabels, Histogram>::new_with_constructor(|| -> Histogram {
                Histogram::new(RESOLVE_BUCKETS)
            });
        registry.register(
            "incidents_started",
            "Incidents started, by their severity at the start (none: not set yet)",
            incidents_started.clone(),
        );
        registry.register_with_unit(
            "time_to_resolve",
            "Start to resolve of resolved incidents, by severity",
            prometheus_client::registry::Unit::Seconds,
            time_to_resolve.clone(),
        );
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
        let assist_requests = Family::<OutcomeLabels, Counter>::default();
        let assist_tokens = Family::<TokenLabels, Counter>::default();
        let assist_suggestions = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "assist_requests",
            "Requests to the language model, by outcome (ok, timeout, busy, unavailable, refused, malformed)",
            assist_requests.clone(),
        );
        registry.register(
            "assist_tokens",
            "Tokens of the requests to the language model, as the server counted them, by direction (input, output)",
            assist_tokens.clone(),
        );
        registry.register(
            "assist_suggestions",
            "Suggestions of the language model, by outcome (kept, dropped by the checks)",
            assist_suggestions.clone(),
        );
        Metrics {
            registry,
            assist_requests,
            assist_tokens,
            assist_suggestions,
            incidents_started,
            time_to_resolve,
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
