//! Webhook URLs as a way inside (issue 13): an admin token named the cloud metadata service, loopback and
//! private addresses as "receivers", and read the status codes back from the deliveries list. With private
//! destinations not allowed (prod), such URLs are refused at creation, and a delivery whose destination is
//! internal anyway (stored earlier, or a name that resolves there now) is never sent. Tokens that receivers
//! put in the URL's query never show in errors.
//!
//! Only loopback is ever connected to here: the 10.x and 169.254.x URLs are refused before any connection.

use chrono::Duration;
use rondo::outbox::webhook::{new_secret, secret_owner};
use rondo::store::EndpointRow;
use serde_json::{json, Value};

use crate::support::receiver::Receiver;
use crate::support::*;

async fn prod_like() -> TestApp {
    spawn_app_with(Options {
        webhook_allow_private: Some(false),
        ..Default::default()
    })
    .await
}

async fn create(app: &TestApp, url: &str) -> reqwest::Response {
    app.post(
        "/admin/api/webhooks",
        ADMIN,
        &json!({"url": url, "events": ["meeting.scheduled"]}),
    )
    .await
}

async fn endpoints(app: &TestApp) -> Vec<Value> {
    let all: Value = app.get_json("/admin/api/webhooks", ADMIN).await;
    all.as_array().unwrap().clone()
}

async fn deliveries(app: &TestApp, endpoint_id: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/admin/api/webhooks/{endpoint_id}/deliveries"),
            ADMIN,
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap().as_array().unwrap().clone()
}

/// Stores an endpoint as an earlier version (or an earlier setting) could have: no check at all.
async fn store_endpoint(app: &TestApp, url: &str) -> String {
    let id = uuid::Uuid::now_v7();
    app.app
        .store
        .insert_endpoint(&EndpointRow {
            id,
            url: url.to_owned(),
            events: vec!["meeting.scheduled".into()],
            secret: app.app.keys.seal_text(&secret_owner(id), &new_secret()),
            disabled_reason: None,
            created_at: app.app.now(),
        })
        .await
        .unwrap();
    id.to_string()
}

async fn book_one(app: &TestApp) {
    app.create_team("solo", json!({})).await;
    app.create_agent("Only", "Europe/Amsterdam", &["solo"])
        .await;
    app.book_ok("solo", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
}

/// A loopback port nothing listens on: connecting is refused at once.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn internal_webhook_destinations_are_refused_and_nothing_is_stored() {
    let app = prod_like().await;
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:9/",
        "http://10.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost:1/",
        "http://[::1]:8080/admin",
        "http://0x7f000001/",
        "http://100.64.0.1/",
        "http://[fd00::1]/",
    ] {
        let p = expect_problem(create(&app, url).await, 422, "validation").await;
        let why = p["errors"]["url"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{url}: {p}"));
        assert!(why.contains("not allowed"), "{url}: {why}");
    }
    // Whatever the policy: only http(s), and no credentials in the URL.
    for url in [
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "file:///etc/passwd",
        "https://user:pw@hooks.invalid/x",
    ] {
        let p = expect_problem(create(&app, url).await, 422, "validation").await;
        assert!(p["errors"]["url"].is_array(), "{url}: {p}");
    }
    assert!(endpoints(&app).await.is_empty(), "nothing stored");

    // A name that does not resolve (yet) is accepted: deliveries check it when they happen.
    let r = create(&app, "https://hooks.invalid/x").await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let all = endpoints(&app).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["url"], "https://hooks.invalid/x");
}

#[tokio::test]
async fn private_destinations_are_accepted_where_allowed() {
    // The dev default: a developer's receiver is local.
    let app = spawn_app().await;
    for url in ["http://127.0.0.1:9/", "http://localhost:1/"] {
        assert_eq!(create(&app, url).await.status(), 201, "{url}");
    }
    let p = expect_problem(
        create(&app, "https://user:pw@hooks.invalid/x").await,
        422,
        "validation",
    )
    .await;
    assert!(p["errors"]["url"].is_array(), "{p}");
    assert_eq!(endpoints(&app).await.len(), 2);
}

#[tokio::test]
async fn a_delivery_to_an_internal_address_is_never_sent() {
    let app = prod_like().await;
    let rx = Receiver::start().await;
    // Both reach the live receiver on loopback: one by IP literal, one by a name resolving to 127.0.0.1.
    let literal = store_endpoint(&app, &rx.url).await;
    let by_name = store_endpoint(&app, &rx.url.replace("127.0.0.1", "localhost")).await;
    book_one(&app).await;
    assert_eq!(app.run_jobs().await, 2);
    for id in [&literal, &by_name] {
        let d = &deliveries(&app, id).await[0];
        assert_eq!(d["status"], "failed", "{d}");
        assert!(d["last_status_code"].is_null(), "{d}");
        let error = d["last_error"].as_str().unwrap();
        assert!(
            error.starts_with("destination address not allowed"),
            "{error}"
        );
    }
    // Retried on the schedule, refused again each time.
    app.advance(Duration::seconds(10));
    assert!(app.run_jobs().await >= 2);
    for id in [&literal, &by_name] {
        let d = &deliveries(&app, id).await[0];
        assert_eq!(d["attempts"], 2, "{d}");
        assert_eq!(d["status"], "failed", "{d}");
    }
    assert!(rx.received().is_empty(), "the receiver got nothing");
}

#[tokio::test]
async fn the_same_stored_endpoints_are_delivered_to_where_private_is_allowed() {
    // The control for the test above: the same rows, the same receiver, the dev setting.
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    store_endpoint(&app, &rx.url).await;
    store_endpoint(&app, &rx.url.replace("127.0.0.1", "localhost")).await;
    book_one(&app).await;
    assert_eq!(app.run_jobs().await, 2);
    assert_eq!(rx.received().len(), 2);
}

#[tokio::test]
async fn tokens_in_a_webhook_url_never_show_in_errors() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.reply_with(&[(500, None)]);
    let answering = create(&app, &format!("{}?token=s3cret", rx.url)).await;
    assert_eq!(answering.status(), 201);
    let answering: Value = answering.json().await.unwrap();
    let unreachable = create(
        &app,
        &format!("http://127.0.0.1:{}/hooks?token=s3cret", closed_port()),
    )
    .await;
    assert_eq!(unreachable.status(), 201);
    let unreachable: Value = unreachable.json().await.unwrap();
    book_one(&app).await;
    assert_eq!(app.run_jobs().await, 2);
    assert_eq!(rx.received().len(), 1, "the 500 was a real answer");

    let d = deliveries(&app, answering["id"].as_str().unwrap()).await;
    assert_eq!(d[0]["last_status_code"], 500);
    let d = deliveries(&app, unreachable["id"].as_str().unwrap()).await;
    let error = d[0]["last_error"].as_str().unwrap();
    assert!(error.starts_with("could not deliver"), "{error}");
    for id in [&answering["id"], &unreachable["id"]] {
        let shown = serde_json::to_string(&deliveries(&app, id.as_str().unwrap()).await).unwrap();
        assert!(shown.contains("last_error"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
    }
    for status in ["pending", "dead", "done"] {
        let jobs = serde_json::to_string(&app.jobs(status).await).unwrap();
        assert!(!jobs.contains("s3cret"), "{status}: {jobs}");
    }
}
