//! Item 2: availability windows far outside the team's bookable range. The attacker asked for one day in
//! year 9999 (and in year 0001) with a chat token: 3–5 s of CPU each, and the free/busy cache grew rondo
//! from 24 MB to 474 MB for good. Against the binary in its own process: the answer is an empty list at
//! once, no calendar is read (the free/busy read counter in /metrics stays put), and peak memory is flat.

use reqwest::Method;
use serde_json::Value;

use crate::support::process::{RondoProcess, CHAT};

/// All free/busy reads so far, whatever their source (cache, provider, …), from `/metrics`.
async fn freebusy_reads(rondo: &RondoProcess) -> f64 {
    let text = rondo
        .send(Method::GET, "/metrics", "", None)
        .await
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("rondo_freebusy_reads_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn slots(rondo: &RondoProcess, query: &str) -> Vec<Value> {
    let r = rondo
        .send(
            Method::GET,
            &format!("/v1/teams/sales/availability?{query}"),
            CHAT,
            None,
        )
        .await;
    assert_eq!(r.status(), 200, "{query}");
    let body: Value = r.json().await.unwrap();
    body["slots"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_outside_the_bookable_range_read_nothing_and_cost_nothing() {
    let mut rondo = RondoProcess::start(&[]).await;
    rondo.seed_sales(&["ann", "bob", "cem"]).await;
    // An ordinary request reads the three (demo) calendars and offers slots.
    assert!(!slots(&rondo, "tz=Europe/Amsterdam").await.is_empty());
    let reads = freebusy_reads(&rondo).await;
    assert!(reads >= 3.0, "{reads}");
    let peak_before = rondo.memory_kb("VmHWM");

    for (from, to) in [
        ("9999-12-30T00:00:00Z", "9999-12-31T00:00:00Z"),
        ("0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z"),
        ("9999-11-01T00:00:00Z", "9999-12-31T23:59:59Z"),
        ("1970-01-01T00:00:00Z", "1970-03-03T00:00:00Z"),
    ] {
        for _ in 0..3 {
            let got = slots(
                &rondo,
                &format!("from={from}&to={to}&tz=Pacific/Kiritimati"),
            )
            .await;
            assert!(got.is_empty(), "{from}..{to}: {got:?}");
        }
    }
    assert!(rondo.alive());
    assert_eq!(freebusy_reads(&rondo).await, reads, "no calendar was read");
    let grown = rondo.memory_kb("VmHWM") - peak_before;
    assert!(grown < 16 * 1024, "peak memory grew by {grown} kB");

    // A window that is not a real one is still a 422 naming the field.
    let r = rondo
        .send(
            Method::GET,
            "/v1/teams/sales/availability?from=9999-12-31T00:00:00Z&to=0001-01-01T00:00:00Z",
            CHAT,
            None,
        )
        .await;
    assert_eq!(r.status(), 422);
    let p: Value = r.json().await.unwrap();
    assert!(p["errors"]["to"][0].is_string(), "{p}");
    // And ordinary requests go on as before.
    assert!(!slots(&rondo, "tz=Europe/Amsterdam").await.is_empty());
}
