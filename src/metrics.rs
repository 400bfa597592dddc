//! Prometheus metrics, served at `GET /metrics` in the text format. Counts only — no addresses, names or
//! tokens — so the endpoint is open like /healthz unless `RONDO_METRICS_TOKEN` is set (then scrapers send it
//! as a bearer token). Counters live in this process (each replica reports its own); the outbox gauges are
//! read from the database at scrape time, so they are the same everywhere.

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

pub struct Metrics {
    registry: Registry,
    /// Bookings answered: `booked` (a new 201), `slot_taken` (a new 409) or `replayed` (an earlier answer
    /// given again for the same Idempotency-Key and body: nothing was booked).
    pub bookings: IntCounterVec,
    /// Agents' free/busy reads by where the answer came from: `cache`, `provider`, `stale` (the provider
    /// failed and older cached blocks were served), `unavailable` (left out), `disconnected`.
    pub freebusy: IntCounterVec,
    /// Outbox job runs by kind and outcome (`done`, `retry`, `dead`).
    pub jobs: IntCounterVec,
    /// Access-token refreshes by provider and outcome (`ok`, `revoked`, `failed`).
    pub token_refreshes: IntCounterVec,
    /// Connect attempts by provider and outcome (`connected`, `refused`).
    pub connects: IntCounterVec,
    /// Outbox jobs by status, read at scrape time.
    outbox: IntGaugeVec,
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
        Self {
            bookings: counter(
                &registry,
                "bookings_total",
                "Bookings answered, by outcome",
                &["outcome"],
            ),
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
            outbox,
            registry,
        }
    }

    /// The text exposition, with the outbox gauges set from `job_counts` (status, count).
    pub fn render(&self, job_counts: &[(String, i64)]) -> String {
        self.outbox.reset();
        for (status, n) in job_counts {
            self.outbox.with_label_values(&[status.as_str()]).set(*n);
        }
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
