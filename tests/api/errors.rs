//! Mistakes get RFC 7807 answers, and never a 500.

use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn tokens_are_required_and_roles_respected() {
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    let r = app
        .client
        .get(app.url("/v1/teams/sales/availability"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    expect_problem(r, 401, "unauthorized").await;
    expect_problem(
        app.get("/v1/teams/sales/availability", "wrong-token").await,
        401,
        "unauthorized",
    )
    .await;
    expect_problem(app.get("/admin/api/agents", CHAT).await, 403, "forbidden").await;
    expect_problem(
        app.get("/v1/teams/sales/availability", ADMIN).await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn availability_query_mistakes_are_named() {
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    let cases = [
        ("from=2026-11-25T00:00:00Z&to=2026-11-24T00:00:00Z", "to"),
        ("from=2026-11-23T00:00:00Z&to=2027-01-25T00:00:00Z", "to"),
        ("tz=Europe/Atlantis", "tz"),
        ("duration=20", "duration"),
        ("duration=495", "duration"),
        ("duration=abc", "duration"),
        ("from=monday", "from"),
    ];
    for (q, field) in cases {
        let p = expect_problem(app.availability("sales", q).await, 422, "validation").await;
        assert!(p["errors"][field].is_array(), "{q}: {p}");
    }
    expect_problem(app.availability("ghosts", "").await, 404, "not-found").await;
    // exactly 62 days is fine
    let r = app
        .availability("sales", "from=2026-11-23T00:00:00Z&to=2027-01-24T00:00:00Z")
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn malformed_and_oversized_bodies() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(app.url("/admin/api/teams"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{\"slug\": \"sales\",")
        .send()
        .await
        .unwrap();
    expect_problem(r, 400, "malformed-request").await;
    // A JSON array is not the object an endpoint takes, even one that serde could read as a struct.
    let r = app
        .post("/admin/api/teams", ADMIN, &json!(["sales", "Sales"]))
        .await;
    expect_problem(r, 400, "malformed-request").await;
    let p = expect_problem(
        app.post(
            "/admin/api/teams",
            ADMIN,
            &json!({"slug": "sales", "name": "S", "colour": "red"}),
        )
        .await,
        422,
        "validation",
    )
    .await;
    assert!(p["errors"]["colour"].is_array(), "{p}");
    let p = expect_problem(
        app.post("/admin/api/teams", ADMIN, &json!({"slug": "sales"}))
            .await,
        422,
        "validation",
    )
    .await;
    assert!(p["errors"]["name"].is_array(), "{p}");
    let big = json!({"slug": "sales", "name": "x".repeat(70 * 1024)});
    expect_problem(
        app.post("/admin/api/teams", ADMIN, &big).await,
        413,
        "payload-too-large",
    )
    .await;
    let list: Value = app.get_json("/admin/api/teams", ADMIN).await;
    assert!(list.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_routes_are_problems_and_request_ids_are_echoed() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let p = expect_problem(r, 404, "not-found").await;
    assert_eq!(p["request_id"], "abc-123");
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(r.headers().get("x-request-id").is_some());
}

#[tokio::test]
async fn the_chat_api_is_rate_limited_per_token() {
    let app = spawn_app_with(Options {
        rate_per_minute: 3,
        ..Default::default()
    })
    .await;
    app.create_team("sales", json!({})).await;
    for _ in 0..3 {
        assert_eq!(app.availability("sales", "").await.status(), 200);
    }
    let r = app.availability("sales", "").await;
    assert!(r.headers().get("retry-after").is_some());
    expect_problem(r, 429, "rate-limited").await;
    // Admin calls are not counted against the chat token.
    assert_eq!(app.get("/admin/api/teams", ADMIN).await.status(), 200);
}

#[tokio::test]
async fn text_with_a_nul_character_is_refused_wherever_it_comes_from_on_either_backend() {
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    // PostgreSQL's text cannot hold U+0000: in a path, a query or a body it is the request's fault (4xx,
    // problem+json), never a 500, and nothing is written.
    for (path, token) in [
        ("/v1/teams/sa%00les/availability", CHAT),
        ("/admin/api/teams/sa%00les", ADMIN),
        ("/admin/api/meetings?lead_email=a%00b%40example.com", ADMIN),
        (
            "/v1/teams/sales/availability?email=a%00b%40example.com",
            CHAT,
        ),
    ] {
        let r = app.get(path, token).await;
        let status = r.status().as_u16();
        assert!((400..500).contains(&status), "{status} for {path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
    }
    let r = app
        .post(
            "/admin/api/teams",
            ADMIN,
            &json!({"slug": "x", "name": "Nul\u{0}name"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert!(body["errors"]["name"].is_array(), "{body}");
    assert_eq!(
        app.get_json("/admin/api/teams", ADMIN)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
