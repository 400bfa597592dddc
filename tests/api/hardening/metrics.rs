//! `/metrics` (issue 13): behind `RONDO_METRICS_TOKEN` when one is set, and a booking retried with its
//! Idempotency-Key is counted as a replay, not as a second booking.

use serde_json::Value;

use crate::support::*;

const METRICS_TOKEN: &str = "scrape-token-1234";

async fn scrape(app: &TestApp, authorization: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url("/metrics"));
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    req.send().await.unwrap()
}

/// `rondo_bookings_total{outcome="…",team="solo"}` as scraped now (0 before the first of its kind).
async fn bookings_total(app: &TestApp, outcome: &str) -> u64 {
    let r = scrape(app, None).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let series = format!("rondo_bookings_total{{outcome=\"{outcome}\",team=\"solo\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .map(|n| n.trim().parse().unwrap())
        .unwrap_or(0)
}

#[tokio::test]
async fn metrics_require_the_metrics_token_when_one_is_set() {
    let app = spawn_app_with(Options {
        metrics_token: Some(METRICS_TOKEN.into()),
        ..Default::default()
    })
    .await;
    // Something to show: a fresh process has no samples yet.
    app.app
        .metrics
        .bookings
        .with_label_values(&["solo", "booked"])
        .inc();
    let wrong = format!("Bearer {METRICS_TOKEN}x");
    let admin = format!("Bearer {ADMIN}");
    let basic = format!("Basic {METRICS_TOKEN}");
    for auth in [
        None,
        Some(wrong.as_str()),
        Some("Bearer scrape-token-123"),
        Some(admin.as_str()),
        Some(basic.as_str()),
        Some("Bearer "),
    ] {
        let r = scrape(&app, auth).await;
        assert_eq!(
            r.headers().get("www-authenticate").unwrap(),
            "Bearer",
            "{auth:?}"
        );
        let p = expect_problem(r, 401, "unauthorized").await;
        assert!(!p.to_string().contains("rondo_"), "{p}");
    }
    let r = scrape(&app, Some(&format!("Bearer {METRICS_TOKEN}"))).await;
    assert_eq!(r.status(), 200);
    assert!(r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("rondo_bookings_total{outcome=\"booked\",team=\"solo\"} 1"));

    // Unset (the default): open, as before.
    let open = spawn_app().await;
    open.app
        .metrics
        .bookings
        .with_label_values(&["solo", "booked"])
        .inc();
    let r = scrape(&open, None).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("rondo_bookings_total"));
}

#[tokio::test]
async fn a_replayed_booking_is_counted_apart_from_new_bookings() {
    let app = spawn_app().await;
    app.create_team("solo", serde_json::json!({})).await;
    app.create_agent("Only", "Europe/Amsterdam", &["solo"])
        .await;
    let (booked, replayed) = (
        bookings_total(&app, "booked").await,
        bookings_total(&app, "replayed").await,
    );
    let body = booking_body("solo", "2026-11-23T10:00:00Z", "v@example.com");
    let first = app.book_with_key("key-1", &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(bookings_total(&app, "booked").await, booked + 1);
    assert_eq!(bookings_total(&app, "replayed").await, replayed);

    let again = app.book_with_key("key-1", &body).await;
    assert_eq!(again.status(), 201);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"], "the stored answer");
    assert_eq!(bookings_total(&app, "booked").await, booked + 1);
    assert_eq!(bookings_total(&app, "replayed").await, replayed + 1);
    assert_eq!(
        app.meetings("").await["meetings"].as_array().unwrap().len(),
        1
    );
}
