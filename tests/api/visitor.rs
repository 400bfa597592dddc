//! The visitor follows the link from their email to cancel or move the meeting.

use chrono::Duration;
use serde_json::{json, Value};

use crate::support::*;

async fn booked(app: &TestApp) -> Value {
    app.create_team("solo", json!({})).await;
    app.create_agent("Ann Smith", "Europe/Amsterdam", &["solo"])
        .await;
    app.book_ok("solo", "2026-11-23T10:00:00Z", "vera@example.com")
        .await
}

fn page_url(b: &Value) -> String {
    b["links"]["cancel"]
        .as_str()
        .unwrap()
        .trim_end_matches("/cancel")
        .to_owned()
}

/// The path part of a public link (tests talk to the random port, links name the public URL).
fn local(app: &TestApp, link: &str) -> String {
    let path = &link[link.find("/m/").unwrap()..];
    app.url(path)
}

/// Submits the page's form at `link` (a public link) with one field, as the browser does.
async fn submit(app: &TestApp, link: &str, field: &str, value: &str) -> reqwest::Response {
    app.client
        .post(local(app, link))
        .form(&[(field, value)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_visitor_moves_the_meeting_to_another_time_of_the_same_agent() {
    let app = spawn_app().await;
    let b = booked(&app).await;
    let page = app
        .client
        .get(local(&app, &page_url(&b)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("Ann Smith"));
    assert!(html.contains("Mon 23 Nov 2026 11:00")); // 10:00 UTC in the visitor's zone
    assert!(
        html.contains("value=\"2026-11-23T13:00:00+00:00\""),
        "slots of the same agent are offered"
    );
    let r = submit(
        &app,
        &format!("{}/reschedule", page_url(&b)),
        "start",
        "2026-11-23T13:00:00+00:00",
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Done: your meeting is now with Ann Smith at Mon 23 Nov 2026 14:00"));
    let id = b["id"].as_str().unwrap();
    let now: Value = app.get_json(&format!("/v1/bookings/{id}"), CHAT).await;
    assert_eq!(
        at(now["start"].as_str().unwrap()),
        at("2026-11-23T13:00:00Z")
    );
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    assert!(app
        .emails()
        .iter()
        .any(|e| e.contains("Subject: Moved: your meeting with Ann Smith")));
    let feed: Value = app.get_json("/v1/activities", CHAT).await;
    assert_eq!(
        feed["activities"].as_array().unwrap().last().unwrap()["type"],
        "meeting.rescheduled"
    );
    // A time that is not free is refused on the page, and nothing changes.
    let r = submit(
        &app,
        &format!("{}/reschedule", page_url(&b)),
        "start",
        "2026-11-23T20:00:00+00:00",
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("class=\"problem\""));
    let still: Value = app.get_json(&format!("/v1/bookings/{id}"), CHAT).await;
    assert_eq!(still["start"], now["start"]);
}

#[tokio::test]
async fn the_visitor_cancels_with_a_reason() {
    let app = spawn_app().await;
    let b = booked(&app).await;
    let r = submit(
        &app,
        b["links"]["cancel"].as_str().unwrap(),
        "reason",
        "Found another date <b>",
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Your meeting is cancelled"));
    assert!(
        !html.contains("Cancel the meeting"),
        "no second cancel button"
    );
    let id = b["id"].as_str().unwrap();
    let now: Value = app.get_json(&format!("/v1/bookings/{id}"), CHAT).await;
    assert_eq!(now["status"], "cancelled");
    assert_eq!(now["cancel_reason"], "Found another date <b>");
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    assert!(app.emails().iter().any(|e| e.contains("METHOD:CANCEL")));
}

#[tokio::test]
async fn a_tampered_link_shows_nothing_and_changes_nothing() {
    let app = spawn_app().await;
    let b = booked(&app).await;
    let url = page_url(&b);
    let forged = format!("{}x", &url[..url.len() - 1]);
    let r = app.client.get(local(&app, &forged)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(!r.text().await.unwrap().contains("Ann Smith"));
    let r = submit(&app, &format!("{forged}/cancel"), "reason", "x").await;
    assert_eq!(r.status(), 404);
    let id = b["id"].as_str().unwrap();
    let other = format!(
        "{}/m/{}/{}",
        app.address,
        uuid::Uuid::now_v7(),
        url.rsplit('/').next().unwrap()
    );
    assert_eq!(app.client.get(other).send().await.unwrap().status(), 404);
    let now: Value = app.get_json(&format!("/v1/bookings/{id}"), CHAT).await;
    assert_eq!(now["status"], "booked");
}

#[tokio::test]
async fn the_page_moves_the_meeting_as_routing_would_and_closes_when_it_starts() {
    let app = spawn_app().await;
    let b = booked(&app).await;
    let bob = app
        .create_agent("Bob Jones", "Europe/Amsterdam", &["solo"])
        .await;
    app.busy("ann.smith@agents.test", &[("2026-11-23T13:00:00Z", 60)]);
    // Ann is busy then, Bob is not: the page offers the time, and the move is routed like the booking
    // (issue 16: the same agent when free, else the rotation), so Bob takes it.
    let page = app
        .client
        .get(local(&app, &page_url(&b)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("2026-11-23T13:00:00+00:00"), "{page}");
    let r = submit(
        &app,
        &format!("{}/reschedule", page_url(&b)),
        "start",
        "2026-11-23T13:00:00+00:00",
    )
    .await;
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let id = b["id"].as_str().unwrap();
    let now: Value = app.get_json(&format!("/v1/bookings/{id}"), CHAT).await;
    assert_eq!(now["agent"]["name"], "Bob Jones");
    assert_eq!(now["start"], "2026-11-23T14:00:00+01:00");
    assert_eq!(now["routing"]["step"], "round_robin");
    assert_eq!(
        now["routing"]["skipped"],
        json!([{"agent_id": b["agent"]["id"], "reason": "busy"}])
    );
    assert_eq!(bob["id"], now["agent"]["id"]);
    // Once the meeting has begun, the link shows it but changes nothing.
    app.clock.set(at("2026-11-23T13:05:00Z"));
    let r = submit(
        &app,
        b["links"]["cancel"].as_str().unwrap(),
        "reason",
        "late",
    )
    .await;
    assert_eq!(r.status(), 409);
    let now: Value = app.get_json(&format!("/v1/bookings/{id}"), CHAT).await;
    assert_eq!(now["status"], "booked");
}

#[tokio::test]
async fn links_signed_before_the_derived_key_still_open_and_no_other_key_does() {
    let app = spawn_app().await;
    let b = booked(&app).await;
    let id: uuid::Uuid = b["id"].as_str().unwrap().parse().unwrap();
    let master = app.app.config.secret_key;
    let old = rondo::usecase::visitor::token(&master, id);
    let new = page_url(&b).rsplit('/').next().unwrap().to_owned();
    assert_ne!(old, new, "new links are signed with the derived key");
    // Another installation's keys, derived or master: nothing opens.
    let other = [0x5a; 32];
    for forged in [
        rondo::usecase::visitor::token(&other, id),
        rondo::usecase::visitor::token(&rondo::crypto::visitor_link_key(&other), id),
    ] {
        let r = app
            .client
            .get(app.url(&format!("/m/{id}/{forged}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let r = submit(
            &app,
            &format!("{}/m/{id}/{forged}/cancel", app.address),
            "reason",
            "x",
        )
        .await;
        assert_eq!(r.status(), 404);
    }
    // The link in an email sent before: the page opens, and the visitor can still cancel.
    let page = app
        .client
        .get(app.url(&format!("/m/{id}/{old}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Ann Smith"));
    let r = submit(
        &app,
        &format!("{}/m/{id}/{old}/cancel", app.address),
        "reason",
        "Old email",
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Your meeting is cancelled"));
    let now: Value = app.get_json(&format!("/v1/bookings/{id}"), CHAT).await;
    assert_eq!(now["status"], "cancelled");
    assert_eq!(now["cancel_reason"], "Old email");
}
