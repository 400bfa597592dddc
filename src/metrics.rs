//! Prometheus metrics, served at `GET /metrics` in the text format. Counts only — no addresses, names or
//! tokens — so the endpoint is open like /healthz unless `RONDO_METRICS_TOKEN` is set (then scrapers send it
//! as a bearer token). Counters live in this process (each replica reports its own); the outbox gauges are
//! read from the database at scrape time, so they are the same everywhere.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Buckets for request and use-case latencies: 1 ms to 5 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The `route` label of requests no route matched (their raw paths are never labels).
pub const UNMATCHED_ROUTE: &str = "unmatched";

pub struct Metrics {
    registry: Registry,
    /// HTTP answers by route template (`match_pattern`, or `unmatched`), method and status.
    pub http_requests: IntCounterVec,
    /// HTTP request durations by route template and method.
    pub http_duration: HistogramVec,
    /// Bookings answered, by team (the request's slug when that team exists, else `unknown`) and outcome:
    /// `booked` (a new 201), `slot_taken` (a new 409), `replayed` (an earlier answer given again for the
    /// same Idempotency-Key and body: nothing was booked) or `refused` (a 4xx refusal of the request).
    pub bookings: IntCounterVec,
    /// How long the availability use case took (every answer, refusals included).
    pub availability_duration: Histogram,
    /// Agents' free/busy reads by where the answer came from: `cache`, `provider`, `stale` (the provider
    /// failed and older cached blocks were served), `unavailable` (left out), `disconnected`.
    pub freebusy: IntCounterVec,
    /// Outbox job runs by kind and outcome (`done`, `retry`, `dead`).
    pub jobs: IntCounterVec,
    /// Access-token refreshes by provider and outcome (`ok`, `revoked`, `failed`).
    pub token_refreshes: IntCounterVec,
    /// Connect attempts by provider and outcome (`connected`, `refused`).
    pub connects: IntCounterVec,
    /// Calendar provider calls by provider (`google`, `microsoft`, `demo`), operation (`free_busy`,
    /// `create_event`, `update_event`, `delete_event`) and outcome (`ok`, `transient`, `disconnected`,
    /// `rejected`); a call its caller stopped waiting for (a deadline) counts as `transient`.
    pub provider_calls: IntCounterVec,
    /// Calendar provider call durations by provider and operation (every call, failures included).
    pub provider_call_duration: HistogramVec,
    /// Outbox jobs by status, read at scrape time.
    outbox: IntGaugeVec,
    /// Age of the oldest due pending job in seconds (0 when none), read at scrape time.
    outbox_oldest_due: IntGauge,
}

/// What the outbox looks like at scrape time.
#[derive(Debug, Clone, Default)]
pub struct OutboxSnapshot {
    /// (status, count)
    pub counts: Vec<(String, i64)>,
    /// Seconds since the oldest due pending job became due; 0 when none is due.
    pub oldest_due_seconds: i64,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("rondo".into()), None).expect("valid prefix");
        let outbox = IntGaugeVec::new(
            Opts::new(
                "outbox_jobs",
                "Outbox jobs by status (pending, running, done, dead)",
            ),
            &["status"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(outbox.clone()))
            .expect("metric registered once");
        let outbox_oldest_due = IntGauge::new(
            "outbox_oldest_due_seconds",
            "Age in seconds of the oldest due pending outbox job (0 when none)",
        )
        .expect("valid metric");
        registry
            .register(Box::new(outbox_oldest_due.clone()))
            .expect("metric registered once");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request durations, by route template and method",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "method"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(http_duration.clone()))
            .expect("metric registered once");
        let provider_call_duration = HistogramVec::new(
            HistogramOpts::new(
                "provider_call_duration_seconds",
                "Calendar provider call durations, by provider and operation",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["provider", "operation"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(provider_call_duration.clone()))
            .expect("metric registered once");
        let availability_duration = Histogram::with_opts(
            HistogramOpts::new(
                "availability_duration_seconds",
                "Time taken to answer a team's availability",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        registry
            .register(Box::new(availability_duration.clone()))
            .expect("metric registered once");
        Self {
            http_requests: counter(
                &registry,
                "http_requests_total",
                "HTTP requests answered, by route template, method and status",
                &["route", "method", "status"],
            ),
            http_duration,
            bookings: counter(
                &registry,
                "bookings_total",
                "Bookings answered, by team and outcome",
                &["team", "outcome"],
            ),
            availability_duration,
            freebusy: counter(
                &registry,
                "freebusy_reads_total",
                "Agents' free/busy reads, by source",
                &["source"],
            ),
            jobs: counter(
                &registry,
                "job_runs_total",
                "Outbox job runs, by kind and outcome",
                &["kind", "outcome"],
            ),
            token_refreshes: counter(
                &registry,
                "token_refreshes_total",
                "OAuth access-token refreshes, by provider and outcome",
                &["provider", "outcome"],
            ),
            connects: counter(
                &registry,
                "calendar_connects_total",
                "Calendar connect attempts, by provider and outcome",
                &["provider", "outcome"],
            ),
            provider_calls: counter(
                &registry,
                "provider_calls_total",
                "Calendar provider calls, by provider, operation and outcome",
                &["provider", "operation", "outcome"],
            ),
            provider_call_duration,
            outbox,
            outbox_oldest_due,
            registry,
        }
    }

    /// Counts one answered HTTP request. `route` is the matched route template (`None`: `unmatched`).
    pub fn observe_http(
        &self,
        route: Option<&str>,
        method: &str,
        status: u16,
        elapsed: std::time::Duration,
    ) {
        let route = route.unwrap_or(UNMATCHED_ROUTE);
        // Callers can send any method token: only the standard ones become label values.
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
            _ => "other",
        };
        self.http_requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[route, method])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts and times one calendar provider call. All three are fixed words (see `provider_calls`), never
    /// an agent's id, address or a URL.
    pub fn observe_provider_call(
        &self,
        provider: &str,
        operation: &str,
        outcome: &str,
        elapsed: std::time::Duration,
    ) {
        self.provider_calls
            .with_label_values(&[provider, operation, outcome])
            .inc();
        self.provider_call_duration
            .with_label_values(&[provider, operation])
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition, with the outbox gauges set from `outbox` (read at scrape time).
    pub fn render(&self, outbox: &OutboxSnapshot) -> String {
        self.outbox.reset();
        for (status, n) in &outbox.counts {
            self.outbox.with_label_values(&[status.as_str()]).set(*n);
        }
        self.outbox_oldest_due.set(outbox.oldest_due_seconds.max(0));
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
