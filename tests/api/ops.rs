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

/// The OpenAPI document names every status an operation can answer, with its content type and schema
/// (what `.ci/schemathesis` holds the running service to): the bearer-token, body and query problems that
/// the shared extractors answer whatever the handler, and problem bodies as `Problem`.
#[tokio::test]
async fn openapi_documents_every_status_the_service_answers() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses = |path: &str, method: &str| -> Vec<String> {
        let responses = doc["paths"][path][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} has no responses"));
        responses.keys().cloned().collect()
    };
    let has = |path: &str, method: &str, expected: &[&str]| {
        let got = statuses(path, method);
        for s in expected {
            assert!(
                got.iter().any(|g| g == s),
                "{method} {path}: {s} not in {got:?}"
            );
        }
    };
    // Chat: a token (401), of the chat role (403), within its rate (429).
    has(
        "/v1/teams/{team}/availability",
        "get",
        &["200", "401", "403", "404", "422", "429"],
    );
    // A JSON body: malformed (400), too large (413), a field of the wrong type (422).
    has(
        "/v1/bookings",
        "post",
        &["201", "400", "401", "403", "409", "413", "422", "429"],
    );
    has(
        "/v1/bookings/{id}/reschedule",
        "post",
        &["200", "400", "404", "409", "413", "422"],
    );
    has(
        "/v1/bookings/{id}/cancel",
        "post",
        &["200", "400", "404", "413", "422"],
    );
    has(
        "/admin/api/meetings/{id}",
        "patch",
        &["200", "400", "401", "403", "404", "413", "422"],
    );
    // Admin operations are not rate limited; the feed takes either token, so no token is of a wrong role.
    assert!(!statuses("/admin/api/agents", "post").contains(&"429".to_owned()));
    has("/v1/activities", "get", &["200", "401", "422"]);
    assert!(!statuses("/v1/activities", "get").contains(&"403".to_owned()));
    // Problems have the problem schema; the operational answers are JSON.
    let problem = &doc["paths"]["/v1/bookings"]["post"]["responses"]["401"]["content"]
        ["application/problem+json"]["schema"]["$ref"];
    assert_eq!(problem, "#/components/schemas/Problem");
    let rate = &doc["paths"]["/v1/bookings"]["post"]["responses"]["429"]["headers"];
    assert!(rate["Retry-After"].is_object(), "{rate}");
    let schema = &doc["components"]["schemas"]["Problem"];
    assert_eq!(schema["required"], json!(["type", "title", "status"]));
    for path in ["/healthz", "/readyz"] {
        let ok = &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"];
        assert!(ok["schema"].is_object(), "{path}: {ok}");
    }
    let not_ready =
        &doc["paths"]["/readyz"]["get"]["responses"]["503"]["content"]["application/json"];
    assert!(not_ready["schema"].is_object());
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

#[tokio::test]
async fn bodies_that_may_be_left_out_are_documented_as_optional() {
    let app = spawn_app().await;
    let doc: serde_json::Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // OpenAPI: a request body is optional unless `required` is true.
    let required = |path: &str| {
        doc["paths"][path]["post"]["requestBody"]["required"]
            .as_bool()
            .unwrap_or(false)
    };
    assert!(!required("/v1/bookings/{id}/cancel"));
    assert!(!required("/admin/api/agents/{id}/invitation/preview"));
    assert!(required("/v1/bookings"));
}

#[tokio::test]
async fn a_known_path_with_another_method_is_405_with_allow() {
    let app = spawn_app().await;
    for (method, path, token, allow) in [
        (reqwest::Method::DELETE, "/v1/bookings", CHAT, "POST"),
        (
            reqwest::Method::POST,
            "/admin/api/teams/sales/accounts",
            ADMIN,
            "GET, PUT",
        ),
    ] {
        let r = app
            .client
            .request(method, app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["allow"], allow, "{path}");
        expect_problem(r, 405, "method-not-allowed").await;
    }
    // An unknown path is still 404.
    let r = app
        .client
        .get(app.url("/v1/nothing/here"))
        .send()
        .await
        .unwrap();
    expect_problem(r, 404, "not-found").await;
}
