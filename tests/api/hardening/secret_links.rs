//! Pages reached through a secret link (the visitor's `/m/…`, the agent's `/connect/…` and its OAuth round
//! trip) sent no Referrer-Policy, Cache-Control or framing rule, and visitor links never expired. Every
//! answer of those pages now carries all four headers, and a visitor link stops working 30 days after the
//! meeting's end.

use chrono::Duration;
use serde_json::{json, Value};

use crate::support::google::FakeGoogle;
use crate::support::*;

fn assert_secret_link_headers(r: &reqwest::Response, what: &str) {
    let h = r.headers();
    let one = |name: &str| -> String {
        let all: Vec<_> = h.get_all(name).iter().collect();
        assert_eq!(all.len(), 1, "{what}: one {name}, got {all:?}");
        all[0].to_str().unwrap().to_owned()
    };
    assert_eq!(one("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(one("cache-control"), "no-store", "{what}");
    assert_eq!(one("x-frame-options"), "DENY", "{what}");
    assert_eq!(
        one("content-security-policy"),
        "frame-ancestors 'none'",
        "{what}"
    );
}

/// A client that shows redirects instead of following them (each answer is checked on its own).
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A meeting of Ann's, 10:00-10:30 UTC on the default day; returns the booking.
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

#[tokio::test]
async fn every_answer_of_the_visitor_pages_forbids_referrer_caching_and_framing() {
    let app = spawn_app().await;
    let b = booked(&app).await;
    let client = no_redirects();
    let page = page_url(&b);
    let forged = format!("{}x", &page[..page.len() - 1]);

    // The visitor's pages: the page, its links from the email, both forms, a forged link.
    for (what, r) in [
        ("visitor page", client.get(&page).send().await.unwrap()),
        (
            "visitor reschedule link",
            client
                .get(format!("{page}/reschedule"))
                .send()
                .await
                .unwrap(),
        ),
        (
            "visitor reschedule refused",
            client
                .post(format!("{page}/reschedule"))
                .form(&[("start", "2026-11-23T20:00:00+00:00")])
                .send()
                .await
                .unwrap(),
        ),
        (
            "visitor form incomplete",
            client
                .post(format!("{page}/reschedule"))
                .form(&[("when", "later")])
                .send()
                .await
                .unwrap(),
        ),
        (
            "visitor cancel",
            client
                .post(format!("{page}/cancel"))
                .form(&[("reason", "changed plans")])
                .send()
                .await
                .unwrap(),
        ),
        (
            "forged visitor link",
            client.get(&forged).send().await.unwrap(),
        ),
    ] {
        assert!(
            [200, 400, 404, 422].contains(&r.status().as_u16()),
            "{what}: {}",
            r.status()
        );
        assert_secret_link_headers(&r, what);
    }
    let r = client.get(&page).send().await.unwrap();
    assert!(r.text().await.unwrap().contains("cancelled"));

    // The API is not a page: its answers keep their own rules.
    let r = app.get("/admin/api/agents", ADMIN).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-frame-options").is_none());
}

#[tokio::test]
async fn every_answer_of_the_connect_pages_forbids_referrer_caching_and_framing() {
    let google = FakeGoogle::start().await;
    let app = spawn_app_with(Options {
        google: Some([google.auth_url(), google.token_url(), google.api_url()]),
        ..Options::default()
    })
    .await;
    app.create_team("sales", json!({})).await;
    let ann = app
        .create_agent("Ann Smith", "Europe/Amsterdam", &["sales"])
        .await;
    let connect_url = ann["connect_url"].as_str().unwrap().to_owned();
    let client = no_redirects();
    let token = connect_url.rsplit('/').next().unwrap().to_owned();
    let start = app.url(&format!("/oauth/google/start?connect={token}"));
    let google_start = client.get(&start).send().await.unwrap();
    assert_eq!(google_start.status(), 302);
    assert_secret_link_headers(&google_start, "oauth start");
    // The round trip to the end: Google's consent sends the browser back to the callback, whose
    // "connected" page is a secret-link page too.
    google.consent_as("ann@company.test");
    let state_cookie = google_start.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let to_google = google_start.headers()["location"].to_str().unwrap();
    let back = client.get(to_google).send().await.unwrap();
    assert_eq!(back.status(), 302);
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&app.url("/oauth/google/callback?")));
    let done = client
        .get(&callback)
        .header("cookie", state_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert_secret_link_headers(&done, "oauth callback, connected");
    assert!(done.text().await.unwrap().contains("Calendar connected"));
    for (what, r) in [
        (
            "connect page",
            client.get(&connect_url).send().await.unwrap(),
        ),
        (
            "connect settings",
            client
                .post(format!("{connect_url}/settings"))
                .form(&[("timezone", "Mars/Olympus")])
                .send()
                .await
                .unwrap(),
        ),
        (
            "forged connect link",
            client.get(format!("{connect_url}x")).send().await.unwrap(),
        ),
        (
            "cross-site oauth start",
            client
                .get(&start)
                .header("sec-fetch-site", "cross-site")
                .send()
                .await
                .unwrap(),
        ),
        (
            "oauth start, provider unknown",
            client
                .get(app.url(&format!("/oauth/yahoo/start?connect={token}")))
                .send()
                .await
                .unwrap(),
        ),
        (
            "oauth callback from another browser",
            client
                .get(app.url("/oauth/google/callback?code=c&state=s"))
                .send()
                .await
                .unwrap(),
        ),
    ] {
        assert!(
            [200, 303, 400, 404, 422].contains(&r.status().as_u16()),
            "{what}: {}",
            r.status()
        );
        assert_secret_link_headers(&r, what);
    }
}

#[tokio::test]
async fn a_visitor_link_stops_working_30_days_after_the_meeting() {
    let app = spawn_app().await;
    let b = booked(&app).await;
    let id = b["id"].as_str().unwrap();
    let end = at(b["end"].as_str().unwrap());
    assert_eq!(end, at("2026-11-23T10:30:00Z"));
    let page = page_url(&b);

    // 29 days after the end: the link still shows the meeting.
    app.clock.set(end + Duration::days(29));
    let r = app.client.get(&page).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Ann Smith"), "{html}");
    assert!(html.contains("<form"), "{html}");

    // 31 days after: expired, showing nothing of the meeting and offering nothing.
    app.clock.set(end + Duration::days(31));
    for url in [
        page.clone(),
        format!("{page}/cancel"),
        format!("{page}/reschedule"),
    ] {
        let r = app.client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 410, "{url}");
        assert_secret_link_headers(&r, &url);
        let html = r.text().await.unwrap();
        assert!(html.contains("expired"), "{html}");
        assert!(!html.contains("<form"), "{html}");
        assert!(!html.contains("Ann Smith"), "{html}");
    }
    let cancel = app
        .client
        .post(format!("{page}/cancel"))
        .form(&[("reason", "too late")])
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 410);
    let html = cancel.text().await.unwrap();
    assert!(
        html.contains("expired") && !html.contains("<form"),
        "{html}"
    );
    let reschedule = app
        .client
        .post(format!("{page}/reschedule"))
        .form(&[("start", "2027-01-04T10:00:00+00:00")])
        .send()
        .await
        .unwrap();
    assert_eq!(reschedule.status(), 410);
    let now: Value = app.get_json(&format!("/v1/bookings/{id}"), CHAT).await;
    assert_eq!(now["status"], "booked");
    assert_eq!(now["start"], b["start"]);
    assert!(now["cancel_reason"].is_null());

    // A forged link is still only "not valid": it does not learn that the meeting is long over.
    let forged = format!("{}x", &page[..page.len() - 1]);
    assert_eq!(app.client.get(&forged).send().await.unwrap().status(), 404);
}
