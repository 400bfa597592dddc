//! Operations endpoints, the OpenAPI document and the activity feed.

use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn health_readiness_and_openapi() {
    let app = spawn_app().await;
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/teams/{team}/availability",
        "/v1/bookings",
        "/admin/api/meetings",
        "/admin/api/teams/{team}/queue",
        "/v1/activities",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["BookingView"].is_object());
    assert!(doc["components"]["securitySchemes"]["chat_token"].is_object());
}

#[tokio::test]
async fn activities_are_pulled_in_order_with_a_cursor() {
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    app.create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    let b1 = app
        .book_ok("sales", "2026-11-23T09:00:00Z", "a@example.com")
        .await;
    let b2 = app
        .book_ok("sales", "2026-11-23T10:00:00Z", "b@example.com")
        .await;
    let page: Value = app.get_json("/v1/activities?limit=1", CHAT).await;
    let acts = page["activities"].as_array().unwrap();
    assert_eq!(acts.len(), 1);
    assert_eq!(acts[0]["type"], "meeting.scheduled");
    let data = &acts[0]["data"];
    assert_eq!(data["meeting_id"], b1["id"]);
    assert_eq!(data["visitor"]["email"], "a@example.com");
    assert_eq!(data["agent"]["name"], "Ann");
    assert_eq!(data["team"], "sales");
    assert_eq!(data["session_id"], "s-1");
    assert_eq!(data["dialogue_id"], "d-1");
    assert_eq!(
        at(data["start"].as_str().unwrap()),
        at("2026-11-23T09:00:00Z")
    );
    let cursor = page["next_cursor"].as_str().unwrap();
    let page: Value = app
        .get_json(&format!("/v1/activities?after={cursor}"), ADMIN)
        .await;
    let acts = page["activities"].as_array().unwrap();
    assert_eq!(acts.len(), 1);
    assert_eq!(acts[0]["data"]["meeting_id"], b2["id"]);
    let end = page["next_cursor"].as_str().unwrap();
    let page: Value = app
        .get_json(&format!("/v1/activities?after={end}"), CHAT)
        .await;
    assert_eq!(page["activities"], json!([]));
    assert_eq!(page["next_cursor"], end);
    expect_problem(
        app.get("/v1/activities?after=x", CHAT).await,
        422,
        "validation",
    )
    .await;
}

#[tokio::test]
async fn activities_older_than_the_retention_are_purged() {
    let app = spawn_app().await; // RONDO_RETENTION_DAYS: 90 (the default)
    app.create_team("sales", json!({"horizon_days": 365})).await;
    app.create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    app.book_ok("sales", "2026-11-23T09:00:00Z", "old@example.com")
        .await;
    app.advance(chrono::Duration::days(60));
    app.book_ok("sales", "2027-01-25T09:00:00Z", "newer@example.com")
        .await;
    app.advance(chrono::Duration::days(31)); // the first activity is now 91 days old, the second 31
    app.run_jobs().await;
    let purged = rondo::usecase::retention::purge_expired(&app.app)
        .await
        .unwrap();
    assert_eq!(purged.activities, 1);
    let feed: Value = app.get_json("/v1/activities", ADMIN).await;
    let left = feed["activities"].as_array().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["data"]["visitor"]["email"], "newer@example.com");
    // The meetings report keeps both meetings.
    assert_eq!(
        app.meetings("").await["meetings"].as_array().unwrap().len(),
        2
    );
}
