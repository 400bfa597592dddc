//! Webhook endpoints in the console: adding one (the secret shown once), a refused URL explained beside its
//! field, removing one after a confirm step, and each endpoint's recent deliveries.

use reqwest::Response;
use serde_json::{json, Value};

use crate::support::console::{assert_to_sign_in, ConsoleHttp};
use crate::support::receiver::Receiver;
use crate::support::webdriver::chrome;
use crate::support::*;

async fn endpoints(app: &TestApp) -> Vec<Value> {
    let r = app.get("/admin/api/webhooks", ADMIN).await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap().as_array().unwrap().clone()
}

/// The add form sent for `url` with two event types, carrying `csrf`.
async fn add(console: &ConsoleHttp, url: &str, csrf: &str) -> Response {
    console
        .post_form(
            "/admin/webhooks",
            &[
                ("csrf", csrf),
                ("url", url),
                ("events", "meeting.scheduled"),
                ("events", "meeting.cancelled"),
            ],
        )
        .await
}

#[tokio::test]
async fn an_admin_adds_a_webhook_sees_its_secret_once_and_removes_it() {
    let app = spawn_app().await;
    let Some(b) = chrome(&app).await else { return };
    b.sign_in().await;
    b.open("/admin/webhooks").await;
    b.wait_for_text("No webhooks yet").await;

    // A URL with a user name and password is refused beside the field (sent with the keyboard's Enter),
    // and nothing is stored.
    b.fill("#wh-url", "https://user:hunter2@hooks.example.com/rondo")
        .await;
    b.find("#wh-url").await.send_keys("\u{E007}").await.unwrap();
    let error = b.find("#wh-url-error").await.text().await.unwrap();
    assert!(
        error.contains("must not carry a user name or password"),
        "{error}"
    );
    assert_eq!(
        b.find("#wh-url").await.attr("aria-invalid").await.unwrap(),
        Some("true".into())
    );
    assert!(
        endpoints(&app).await.is_empty(),
        "a refused URL stores nothing"
    );
    b.screenshot("console-webhook-refused").await;

    // Fixed, and without "rescheduled": added, and the next page shows the secret once.
    b.fill("#wh-url", "https://hooks.example.com/rondo?token=t0ps3cret")
        .await;
    b.click("#ev-rescheduled").await;
    b.navigate("#add button[type=submit]").await;
    b.wait_for_text("Copy it now, it will not be shown again")
        .await;
    let secret = b.value("#secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let stored = endpoints(&app).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0]["events"],
        json!(["meeting.cancelled", "meeting.scheduled"])
    );
    assert!(stored[0].get("secret").is_none());
    let id = stored[0]["id"].as_str().unwrap().to_owned();
    // The Copy button answers (copied, or how to copy by hand where the clipboard is not allowed).
    b.click("#copy").await;
    b.wait_for_element_text("#copied", |t| !t.is_empty()).await;
    b.screenshot("console-webhook-secret").await;

    // Reloading shows the endpoint's page (no secret) and adds nothing again.
    b.client.refresh().await.unwrap();
    b.wait_for_text("shown once, when the webhook was added")
        .await;
    assert!(b.url().await.ends_with(&format!("/admin/webhooks/{id}")));
    assert!(!b.client.source().await.unwrap().contains(&secret));
    assert_eq!(endpoints(&app).await.len(), 1, "a reload adds nothing");

    // The list: the URL without its query, the events, active, no secret.
    b.open("/admin/webhooks").await;
    b.wait_for_text("https://hooks.example.com/rondo").await;
    let text = b.text().await;
    assert!(
        text.contains("Meeting cancelled, Meeting scheduled"),
        "{text}"
    );
    assert!(text.contains("Active") && text.contains("No deliveries yet"));
    let source = b.client.source().await.unwrap();
    assert!(
        !source.contains("t0ps3cret"),
        "the URL's query is not shown"
    );
    assert!(!source.contains(&secret), "the secret is not shown again");
    b.screenshot("console-webhooks-list").await;

    // Removing asks first; then it is gone.
    b.navigate("a[aria-label='Remove the webhook to https://hooks.example.com/rondo']")
        .await;
    b.wait_for_text("Remove this webhook?").await;
    assert_eq!(endpoints(&app).await.len(), 1, "not before confirming");
    b.screenshot("console-webhook-remove").await;
    b.navigate("#confirm-remove").await;
    b.wait_for_text("Webhook removed").await;
    assert!(b.text().await.contains("No webhooks yet"));
    assert!(endpoints(&app).await.is_empty());
    b.close().await;
}

#[tokio::test]
async fn the_consoles_forms_apply_the_apis_url_rules_and_need_the_csrf_token() {
    // As in prod: internal destinations are refused, by the same check as the API's.
    let app = spawn_app_with(Options {
        webhook_allow_private: Some(false),
        ..Default::default()
    })
    .await;
    let console = ConsoleHttp::sign_in(&app).await;
    let csrf = console.csrf.as_str();
    for url in ["http://127.0.0.1:9/hook", "http://10.0.0.5/hook"] {
        let r = add(&console, url, csrf).await;
        assert_eq!(r.status(), 422, "{url}");
        let page = r.text().await.unwrap();
        assert!(
            page.contains("wh-url-error") && page.contains("destination address not allowed"),
            "{url}: {page}"
        );
    }
    // The API refuses it the same way.
    let r = app
        .post(
            "/admin/api/webhooks",
            ADMIN,
            &json!({"url": "http://127.0.0.1:9/hook", "events": ["meeting.scheduled"]}),
        )
        .await;
    assert_eq!(r.status(), 422);
    // No event type: refused beside the events.
    let r = console
        .post_form(
            "/admin/webhooks",
            &[("csrf", csrf), ("url", "https://hooks.example.com/x")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("wh-events-error"));
    // A form without the session's token changes nothing.
    let r = add(&console, "https://hooks.example.com/x", "forged").await;
    assert_eq!(r.status(), 403);
    assert!(endpoints(&app).await.is_empty());
    let r = add(&console, "https://hooks.example.com/x", csrf).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("whsec_"));
    let id = endpoints(&app).await[0]["id"].as_str().unwrap().to_owned();
    let r = console
        .post_form(
            &format!("/admin/webhooks/{id}/remove"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(endpoints(&app).await.len(), 1);
    // Without a session: to the sign-in page.
    let signed_out = ConsoleHttp::signed_out(&app);
    for path in ["/admin/webhooks", &format!("/admin/webhooks/{id}")] {
        assert_to_sign_in(&signed_out.get(path).await, path);
    }
}

#[tokio::test]
async fn an_endpoints_recent_deliveries_show_how_each_went_in_the_admins_zone() {
    let app = spawn_app().await;
    app.create_team("solo", json!({})).await;
    app.create_agent("Only", "Europe/Amsterdam", &["solo"])
        .await;
    let rx = Receiver::start().await;
    rx.reply_with(&[(503, None)]);
    let Some(b) = chrome(&app).await else { return };
    b.sign_in().await;
    b.open("/admin/webhooks").await;
    b.fill("#wh-url", &rx.url).await;
    b.navigate("#add button[type=submit]").await;
    b.wait_for_text("Copy it now").await;
    // Times in New York.
    b.fill("#zone-pick", "America/New_York").await;
    b.navigate("form[action='/admin/zone'] button[type=submit]")
        .await;
    b.wait_for_text("Webhooks").await;

    // The first booking's delivery is answered 503 (tried again later); the second's is delivered.
    app.book_ok("solo", "2026-11-23T10:00:00Z", "vera@acme.com")
        .await;
    assert_eq!(app.run_jobs().await, 1);
    app.book_ok("solo", "2026-11-23T11:00:00Z", "walt@globex.com")
        .await;
    assert_eq!(app.run_jobs().await, 1);
    assert_eq!(rx.received().len(), 2);

    b.open("/admin/webhooks").await;
    b.wait_for_text("Delivered").await;
    let text = b.find("section.endpoint").await.text().await.unwrap();
    assert!(text.contains("Failed, will retry"), "{text}");
    assert!(
        text.contains("HTTP 503") && text.contains("HTTP 200"),
        "{text}"
    );
    assert!(
        text.contains("vera@acme.com") && text.contains("walt@globex.com"),
        "{text}"
    );
    // The endpoint's events, then one row per delivery.
    assert_eq!(text.matches("Meeting scheduled").count(), 3, "{text}");
    // 06:00 UTC is 01:00 in New York.
    assert!(text.contains("Mon 23 Nov 2026, 01:00"), "{text}");
    assert!(text.contains("Times in America/New_York"), "{text}");
    b.screenshot("console-webhook-deliveries").await;
    // Readable on a phone.
    b.screenshot_phone("console-webhook-deliveries-phone", "table")
        .await;

    // The endpoint's own page lists them too.
    b.navigate("section.endpoint a[href^='/admin/webhooks/']")
        .await;
    b.wait_for_text("Recent deliveries").await;
    let text = b.text().await;
    assert!(
        text.contains("Failed, will retry") && text.contains("Delivered"),
        "{text}"
    );
    b.close().await;
}
