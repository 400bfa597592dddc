//! Header-breaking input: a CR/LF in `?connect=` on a cross-site `GET /oauth/{provider}/start` went into the
//! `Location` header and answered a plain-text 500. Whatever a caller sends that reaches an answer's headers
//! (the connect token, `x-request-id`) now gets a 4xx or a redirect whose address carries it encoded, never a
//! 500 and never a header of the caller's making.

use reqwest::header::HeaderValue;
use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::support::google::FakeGoogle;
use crate::support::*;

const INJECTED: &str = "abc%0D%0ASet-Cookie:%20x=1";

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// No header the caller wrote: no cookie `x`, and no CR or LF left in any value.
fn assert_no_injected_header(r: &reqwest::Response, what: &str) {
    for (name, value) in r.headers() {
        let v = value.as_bytes();
        assert!(
            !v.contains(&b'\r') && !v.contains(&b'\n'),
            "{what}: {name} = {value:?}"
        );
        if name == "set-cookie" {
            assert!(!v.starts_with(b"x="), "{what}: injected cookie {value:?}");
        }
    }
}

#[tokio::test]
async fn crlf_in_a_connect_token_never_breaks_a_header() {
    let google = FakeGoogle::start().await;
    let app = spawn_app_with(Options {
        google: Some([google.auth_url(), google.token_url(), google.api_url()]),
        ..Options::default()
    })
    .await;
    app.create_team("sales", json!({})).await;
    let ann = app
        .create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    let genuine = ann["connect_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let client = no_redirects();
    for connect in [
        INJECTED.to_owned(),
        format!("{genuine}%0D%0ASet-Cookie:%20x=1"),
        "%0D%0A".to_owned(),
        "a%0Ab/..%2F..%2Fadmin%3Fx=%FF".to_owned(),
    ] {
        // Cross-site and same-site navigations are sent to the agent's page; same-origin ones and browsers
        // without Fetch Metadata start the round trip.
        for fetch_site in [
            Some("cross-site"),
            Some("same-site"),
            Some("same-origin"),
            None,
        ] {
            let what = format!("connect={connect} sec-fetch-site={fetch_site:?}");
            let mut req = client.get(app.url(&format!("/oauth/google/start?connect={connect}")));
            if let Some(site) = fetch_site {
                req = req.header("sec-fetch-site", site);
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            assert!((300..500).contains(&status), "{what}: {status}");
            assert_no_injected_header(&r, &what);
            let page = if r.status().is_redirection() {
                assert_eq!(status, 303, "{what}");
                let location = r.headers()["location"].to_str().unwrap().to_owned();
                assert!(
                    location.starts_with(&format!("{}/connect/", app.address)),
                    "{what}: {location}"
                );
                let token_part = &location[app.address.len() + "/connect/".len()..];
                assert!(
                    !token_part.contains(['/', '?', '#']),
                    "{what}: one path segment: {location}"
                );
                // The agent's page for that token: an altered token is not a link.
                client.get(&location).send().await.unwrap()
            } else {
                r
            };
            assert_eq!(page.status(), 404, "{what}");
            let ct = page.headers()["content-type"].to_str().unwrap().to_owned();
            assert!(ct.starts_with("text/html"), "{what}: {ct}");
            let body = page.text().await.unwrap();
            assert!(body.contains("not valid"), "{what}: {body}");
        }
    }
    // The genuine link, sent from another site, still lands on the agent's page.
    let r = client
        .get(app.url(&format!("/oauth/google/start?connect={genuine}")))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        ann["connect_url"].as_str().unwrap()
    );
    // None of them connected anything.
    let seen: Value = app
        .get_json(
            &format!("/admin/api/agents/{}", ann["id"].as_str().unwrap()),
            ADMIN,
        )
        .await;
    assert!(seen["connection"].is_null());

    // The same bytes in the paths of the secret-link pages themselves.
    for path in [
        format!("/connect/{INJECTED}"),
        format!("/m/{}/{INJECTED}", uuid::Uuid::now_v7()),
        format!("/oauth/google/callback?code={INJECTED}&state={INJECTED}"),
    ] {
        let r = client.get(app.url(&path)).send().await.unwrap();
        let status = r.status().as_u16();
        assert!((400..500).contains(&status), "{path}: {status}");
        assert_no_injected_header(&r, &path);
    }
}

#[tokio::test]
async fn odd_request_ids_are_replaced_never_echoed_and_never_a_500() {
    let app = spawn_app().await;
    let odd: Vec<HeaderValue> = vec![
        HeaderValue::from_bytes(b"abc\xff\xfe").unwrap(),
        HeaderValue::from_bytes(b"id\twith\ttabs").unwrap(),
        HeaderValue::from_static("has spaces in it"),
        HeaderValue::from_static("abc%0D%0ASet-Cookie:%20x=1"),
        HeaderValue::from_static("<script>alert(1)</script>"),
        HeaderValue::from_str(&"x".repeat(300)).unwrap(),
        HeaderValue::from_static(""),
    ];
    let client = no_redirects();
    for id in &odd {
        for (path, token, status) in [
            ("/healthz", None, 200),
            ("/v1/bookings/not-an-id", Some(CHAT), 404),
            ("/v1/bookings/not-an-id", None, 401),
        ] {
            let what = format!("{path} with x-request-id {id:?}");
            let mut req = client.get(app.url(path)).header("x-request-id", id.clone());
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status().as_u16(), status, "{what}");
            assert_no_injected_header(&r, &what);
            let answered = r.headers()["x-request-id"].to_str().unwrap().to_owned();
            assert_ne!(answered.as_bytes(), id.as_bytes(), "{what}");
            assert!(
                uuid::Uuid::parse_str(&answered).is_ok(),
                "{what}: {answered}"
            );
            if status >= 400 {
                let body: Value = r.json().await.unwrap();
                assert_eq!(body["request_id"], answered.as_str(), "{what}");
            }
        }
    }
    // A sane one is echoed, as API.md promises.
    let r = client
        .get(app.url("/healthz"))
        .header("x-request-id", "chat-7f3a:42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "chat-7f3a:42");

    // An Idempotency-Key that is not text: a problem naming it, not a 500.
    let r = client
        .post(app.url("/v1/bookings"))
        .bearer_auth(CHAT)
        .header(
            "idempotency-key",
            HeaderValue::from_bytes(b"k\xff").unwrap(),
        )
        .json(&booking_body(
            "sales",
            "2026-11-23T10:00:00Z",
            "vera@example.com",
        ))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(r, 422, "validation").await;
    assert!(problem["errors"]["Idempotency-Key"].is_array(), "{problem}");
}
