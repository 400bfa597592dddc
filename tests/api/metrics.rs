//! `/metrics` (issue 16): HTTP requests by route template and status with their durations, bookings by team
//! and outcome, availability latency, the outbox's oldest due job and calendar provider calls by provider,
//! operation and outcome, as a scraper reads them.

use std::collections::BTreeMap;

use chrono::Duration;

use crate::support::browser::Browser;
use crate::support::calendar::Failure;
use crate::support::google::FakeGoogle;
use crate::support::*;

/// One sample line of the text exposition: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().unwrap(),
            }
        })
        .collect()
}

struct Scrape(Vec<Sample>, String);

impl Scrape {
    async fn of(app: &TestApp) -> Self {
        let r = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        Self(samples(&text), text)
    }

    /// The value of the series `name` whose labels include `labels` (0 when there is none yet).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = self
            .0
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        assert!(
            found.len() <= 1,
            "{name} {labels:?} is ambiguous: {found:?}"
        );
        found.first().map_or(0.0, |s| s.value)
    }
}

const AVAILABILITY: &str = "/v1/teams/{team}/availability";

#[tokio::test]
async fn requests_bookings_availability_and_the_outbox_are_measured() {
    let app = spawn_app().await;
    app.create_team("sales", serde_json::json!({})).await;
    app.create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;

    let before = Scrape::of(&app).await;
    assert_eq!(
        before.value("rondo_outbox_oldest_due_seconds", &[]),
        0.0,
        "nothing due yet"
    );
    let ok = [
        ("route", AVAILABILITY),
        ("method", "GET"),
        ("status", "200"),
    ];
    let timed = [("route", AVAILABILITY), ("method", "GET")];
    let requests = before.value("rondo_http_requests_total", &ok);
    let timed_count = before.value("rondo_http_request_duration_seconds_count", &timed);
    let availability_count = before.value("rondo_availability_duration_seconds_count", &[]);
    let booked = [("team", "sales"), ("outcome", "booked")];
    let refused = [("team", "sales"), ("outcome", "refused")];
    let (booked_before, refused_before) = (
        before.value("rondo_bookings_total", &booked),
        before.value("rondo_bookings_total", &refused),
    );

    let window = format!(
        "from={}&to={}&tz=UTC",
        enc("2026-11-23T00:00:00Z"),
        enc("2026-11-24T00:00:00Z")
    );
    for _ in 0..3 {
        assert_eq!(app.availability("sales", &window).await.status(), 200);
    }
    assert_eq!(app.availability("nobody", &window).await.status(), 404);
    app.book_ok("sales", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    // Refused: no such visitor address (422), and no Idempotency-Key (400).
    let bad = app
        .book("sales", "2026-11-23T11:00:00Z", "not an address")
        .await;
    assert_eq!(bad.status(), 422);
    let keyless = app
        .post(
            "/v1/bookings",
            CHAT,
            &booking_body("sales", "2026-11-23T11:00:00Z", "w@example.com"),
        )
        .await;
    assert_eq!(keyless.status(), 400);
    // A team that does not exist is not a label value of its own.
    let ghost = app
        .book("made-up-team-1234", "2026-11-23T11:00:00Z", "w@example.com")
        .await;
    assert!(ghost.status().is_client_error());
    app.advance(Duration::seconds(90));

    let after = Scrape::of(&app).await;
    assert_eq!(
        after.value("rondo_http_requests_total", &ok),
        requests + 3.0
    );
    assert_eq!(
        after.value(
            "rondo_http_requests_total",
            &[
                ("route", AVAILABILITY),
                ("method", "GET"),
                ("status", "404")
            ]
        ),
        1.0
    );
    assert_eq!(
        after.value("rondo_http_request_duration_seconds_count", &timed),
        timed_count + 4.0
    );
    assert_eq!(
        after.value(
            "rondo_http_request_duration_seconds_bucket",
            &[("route", AVAILABILITY), ("method", "GET"), ("le", "+Inf")]
        ),
        timed_count + 4.0
    );
    for le in ["0.001", "0.01", "0.1", "1", "5"] {
        assert!(
            after.value(
                "rondo_http_request_duration_seconds_bucket",
                &[("route", AVAILABILITY), ("method", "GET"), ("le", le)]
            ) <= timed_count + 4.0
        );
        assert!(
            after.1.contains(&format!("le=\"{le}\"")),
            "bucket {le}: {}",
            after.1
        );
    }
    assert_eq!(
        after.value(
            "rondo_http_requests_total",
            &[
                ("route", "/v1/bookings"),
                ("method", "POST"),
                ("status", "201")
            ]
        ),
        1.0
    );
    assert_eq!(
        after.value("rondo_availability_duration_seconds_count", &[]),
        availability_count + 4.0
    );
    assert_eq!(
        after.value("rondo_bookings_total", &booked),
        booked_before + 1.0
    );
    assert_eq!(
        after.value("rondo_bookings_total", &refused),
        refused_before + 2.0
    );
    assert_eq!(
        after.value(
            "rondo_bookings_total",
            &[("team", "unknown"), ("outcome", "refused")]
        ),
        1.0
    );
    assert!(!after.1.contains("made-up-team-1234"), "{}", after.1);
    // The booking's follow-up jobs wait in the outbox (no worker runs here); the oldest became due
    // within the 90 s the clock moved on.
    assert!(after.value("rondo_outbox_jobs", &[("status", "pending")]) >= 1.0);
    let oldest = after.value("rondo_outbox_oldest_due_seconds", &[]);
    assert!(oldest > 0.0 && oldest <= 90.0, "{oldest}");
}

#[tokio::test]
async fn raw_paths_never_become_labels() {
    let app = spawn_app().await;
    let secret = "/m/s3cr3t-visitor-token-do-not-log";
    let r = app.client.get(app.url(secret)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .client
        .get(app.url("/no/such/route/abc123secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let scrape = Scrape::of(&app).await;
    assert!(!scrape.1.contains("s3cr3t"), "{}", scrape.1);
    assert!(!scrape.1.contains("abc123secret"), "{}", scrape.1);
    assert_eq!(
        scrape.value(
            "rondo_http_requests_total",
            &[("route", "unmatched"), ("method", "GET"), ("status", "404")]
        ),
        2.0,
        "both answered by no route"
    );
}

const PROVIDER_CALLS: &str = "rondo_provider_calls_total";
const PROVIDER_BUCKETS: &str = "rondo_provider_call_duration_seconds_bucket";

fn call<'a>(provider: &'a str, operation: &'a str, outcome: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("provider", provider),
        ("operation", operation),
        ("outcome", outcome),
    ]
}

#[tokio::test]
async fn calendar_calls_are_counted_by_provider_operation_and_outcome() {
    let app = spawn_app().await;
    app.create_team("sales", serde_json::json!({})).await;
    let ann = app
        .create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    let before = Scrape::of(&app).await;
    let read_ok = before.value(PROVIDER_CALLS, &call("demo", "free_busy", "ok"));

    let window = format!(
        "from={}&to={}&tz=UTC",
        enc("2026-11-23T00:00:00Z"),
        enc("2026-11-24T00:00:00Z")
    );
    assert_eq!(app.availability("sales", &window).await.status(), 200);
    // The booking's inline calendar write meets an outage; the outbox's retry then gets through.
    app.calendars.fail_next_creates(1, Failure::Unavailable);
    app.book_ok("sales", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    assert_eq!(app.calendars.create_calls(), 2);

    let after = Scrape::of(&app).await;
    assert!(after.value(PROVIDER_CALLS, &call("demo", "free_busy", "ok")) > read_ok);
    assert_eq!(
        after.value(PROVIDER_CALLS, &call("demo", "create_event", "transient")),
        1.0
    );
    assert_eq!(
        after.value(PROVIDER_CALLS, &call("demo", "create_event", "ok")),
        1.0
    );
    assert_eq!(
        after.value(PROVIDER_CALLS, &call("demo", "create_event", "rejected")),
        0.0
    );
    let reads = [("provider", "demo"), ("operation", "free_busy")];
    let count = after.value("rondo_provider_call_duration_seconds_count", &reads);
    assert!(count > 0.0);
    let all = [reads[0], reads[1], ("le", "+Inf")];
    assert_eq!(after.value(PROVIDER_BUCKETS, &all), count);
    for le in ["0.001", "0.01", "0.1", "1", "5"] {
        let bucket = [reads[0], reads[1], ("le", le)];
        assert!(
            after.0.iter().any(|s| s.name == PROVIDER_BUCKETS
                && bucket
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))),
            "bucket {le}: {}",
            after.1
        );
    }
    let writes = [("provider", "demo"), ("operation", "create_event")];
    assert_eq!(
        after.value("rondo_provider_call_duration_seconds_count", &writes),
        2.0
    );
    // Labels are fixed words: no agent id or address.
    assert!(
        !after.1.contains(ann["id"].as_str().unwrap()),
        "{}",
        after.1
    );
    assert!(!after.1.contains("@example"), "{}", after.1);
}

#[tokio::test]
async fn google_calendar_calls_are_labelled_google() {
    let google = FakeGoogle::start().await;
    let app = spawn_app_with(Options {
        google: Some([google.auth_url(), google.token_url(), google.api_url()]),
        ..Options::default()
    })
    .await;
    app.create_team("sales", serde_json::json!({})).await;
    let ann = app
        .create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    google.consent_as("ann@company.test");
    let browser = Browser::new();
    let page = browser.get(ann["connect_url"].as_str().unwrap()).await;
    let start = page.link("/oauth/google/start").unwrap();
    let done = browser.get(&start).await;
    assert!(done.has("Calendar connected"), "{}", done.body);

    let window = format!(
        "from={}&to={}&tz=UTC",
        enc("2026-11-23T08:00:00Z"),
        enc("2026-11-23T16:00:00Z")
    );
    assert_eq!(app.availability("sales", &window).await.status(), 200);
    assert_eq!(google.freebusy_count(), 1);

    let scrape = Scrape::of(&app).await;
    assert_eq!(
        scrape.value(PROVIDER_CALLS, &call("google", "free_busy", "ok")),
        1.0
    );
    assert_eq!(
        scrape.value(
            PROVIDER_BUCKETS,
            &[
                ("provider", "google"),
                ("operation", "free_busy"),
                ("le", "+Inf")
            ]
        ),
        1.0
    );
    assert!(!scrape.1.contains("ann@company.test"), "{}", scrape.1);
    assert!(!scrape.1.contains(&google.api_url()), "{}", scrape.1);
}
