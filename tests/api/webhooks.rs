//! Marketing automation receives signed webhooks for each activity, retried until delivered.

use chrono::Duration;
use serde_json::{json, Value};

use crate::support::receiver::Receiver;
use crate::support::*;

async fn endpoint(app: &TestApp, url: &str, events: &[&str]) -> Value {
    let r = app
        .post(
            "/admin/api/webhooks",
            ADMIN,
            &json!({"url": url, "events": events}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn deliveries(app: &TestApp, endpoint: &Value) -> Vec<Value> {
    let id = endpoint["id"].as_str().unwrap();
    let r = app
        .get(&format!("/admin/api/webhooks/{id}/deliveries"), ADMIN)
        .await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap().as_array().unwrap().clone()
}

#[tokio::test]
async fn activities_are_delivered_signed_per_standard_webhooks() {
    let app = spawn_app().await;
    app.create_team("solo", json!({})).await;
    app.create_agent("Only", "Europe/Amsterdam", &["solo"])
        .await;
    let rx = Receiver::start().await;
    let ep = endpoint(&app, &rx.url, &["meeting.scheduled", "meeting.cancelled"]).await;
    let secret = ep["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert!(
        !app.stored_anywhere(secret.as_bytes()).await,
        "the secret is sealed at rest"
    );
    let b = app
        .book_ok("solo", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    let id = b["id"].as_str().unwrap();
    app.reschedule(id, "2026-11-23T11:00:00Z").await;
    app.post(&format!("/v1/bookings/{id}/cancel"), CHAT, &json!({}))
        .await;
    app.run_jobs().await;
    let got = rx.received();
    assert_eq!(
        got.len(),
        2,
        "scheduled and cancelled; rescheduled is not subscribed"
    );
    let verifier = standardwebhooks::Webhook::new(secret).unwrap();
    let feed: Value = app.get_json("/v1/activities", ADMIN).await;
    let feed = feed["activities"].as_array().unwrap();
    for ((headers, body), kind) in got.iter().zip(["meeting.scheduled", "meeting.cancelled"]) {
        verifier
            .verify(body, headers)
            .expect("signature verifies with the published library");
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["type"], kind);
        assert_eq!(event["data"]["meeting_id"], b["id"]);
        assert_eq!(event["data"]["visitor"]["email"], "v@example.com");
        assert_eq!(event["data"]["agent"]["name"], "Only");
        let same = feed
            .iter()
            .find(|a| a["id"] == event["id"])
            .expect("the same event is in the pull feed");
        assert_eq!(same["data"], event["data"]);
        let msg = headers["webhook-id"].to_str().unwrap();
        assert_eq!(
            msg,
            format!("msg_{}", event["id"].as_str().unwrap().replace('-', ""))
        );
    }
    // A tampered body does not verify.
    let (headers, body) = &got[0];
    let mut forged = body.clone();
    forged[10] ^= 1;
    assert!(verifier.verify(&forged, headers).is_err());
    let list = deliveries(&app, &ep).await;
    assert_eq!(list.len(), 2);
    assert!(list
        .iter()
        .all(|d| d["status"] == "delivered" && d["last_status_code"] == 200));
    // The secret is shown once.
    let all: Value = app.get_json("/admin/api/webhooks", ADMIN).await;
    assert_eq!(all[0]["id"], ep["id"]);
    assert!(all[0].get("secret").is_none());
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_id_and_410_disables() {
    let app = spawn_app().await;
    app.create_team("solo", json!({})).await;
    app.create_agent("Only", "Europe/Amsterdam", &["solo"])
        .await;
    let rx = Receiver::start().await;
    rx.reply_with(&[(503, Some("7")), (500, None)]);
    let ep = endpoint(&app, &rx.url, &["meeting.scheduled"]).await;
    app.book_ok("solo", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    assert_eq!(app.run_jobs().await, 1);
    let d = &deliveries(&app, &ep).await[0];
    assert_eq!(d["status"], "failed");
    assert_eq!(d["last_status_code"], 503);
    // Retry-After: 7 s is honoured (within 5-10 s for the first retry).
    app.advance(Duration::seconds(6));
    assert_eq!(app.run_jobs().await, 0);
    app.advance(Duration::seconds(2));
    assert_eq!(app.run_jobs().await, 1); // 500: next try in 5 min ± 20 %
    app.advance(Duration::minutes(7));
    app.run_jobs().await;
    let got = rx.received();
    assert_eq!(got.len(), 3);
    let ids: Vec<_> = got
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    let d = &deliveries(&app, &ep).await[0];
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"], 3);

    // An endpoint answering 410 Gone is disabled and gets nothing more.
    let gone = Receiver::start().await;
    gone.reply_with(&[(410, None)]);
    let ep2 = endpoint(&app, &gone.url, &["meeting.scheduled"]).await;
    app.book_ok("solo", "2026-11-23T12:00:00Z", "w@example.com")
        .await;
    app.run_jobs().await;
    let all: Value = app.get_json("/admin/api/webhooks", ADMIN).await;
    let disabled = all
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == ep2["id"])
        .unwrap();
    assert!(disabled["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("410"));
    app.book_ok("solo", "2026-11-23T13:00:00Z", "x@example.com")
        .await;
    app.advance(Duration::hours(1));
    app.run_jobs().await;
    assert_eq!(gone.received().len(), 1);
    assert_eq!(deliveries(&app, &ep2).await.len(), 1);
    assert_eq!(rx.received().len(), 5);
}

#[tokio::test]
async fn webhook_endpoints_are_validated_and_deletable() {
    let app = spawn_app().await;
    for (body, field) in [
        (
            json!({"url": "ftp://x.test/h", "events": ["meeting.scheduled"]}),
            "url",
        ),
        (
            json!({"url": "not a url", "events": ["meeting.scheduled"]}),
            "url",
        ),
        (json!({"url": "https://x.test/h", "events": []}), "events"),
        (
            json!({"url": "https://x.test/h", "events": ["meeting.exploded"]}),
            "events",
        ),
    ] {
        let p = expect_problem(
            app.post("/admin/api/webhooks", ADMIN, &body).await,
            422,
            "validation",
        )
        .await;
        assert!(p["errors"][field].is_array(), "{field}: {p}");
    }
    let ep = endpoint(
        &app,
        "https://hooks.example.com/rondo",
        &["meeting.scheduled"],
    )
    .await;
    let id = ep["id"].as_str().unwrap();
    let r = app
        .client
        .delete(app.url(&format!("/admin/api/webhooks/{id}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .client
        .delete(app.url(&format!("/admin/api/webhooks/{id}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    expect_problem(r, 404, "not-found").await;
    let all: Value = app.get_json("/admin/api/webhooks", ADMIN).await;
    assert!(all.as_array().unwrap().is_empty());
}
