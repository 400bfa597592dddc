//! The fake Google and Microsoft servers speak the wire of shared/PROVIDERS.md: driven here directly over
//! HTTP, the way rondo's adapters (and the real providers' clients) talk to them.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{Client, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::at;
use crate::support::google::*;
use crate::support::microsoft::*;

const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";
const GOOGLE_SCOPE: &str = "openid email https://www.googleapis.com/auth/calendar.events https://www.googleapis.com/auth/calendar.freebusy";
const MICROSOFT_SCOPE: &str = "offline_access openid email User.Read Calendars.ReadWrite";

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

const VERIFIER: &str = "a-pkce-code-verifier-of-at-least-43-characters-0123456789";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The query of a redirect's `Location`, decoded.
fn location_query(r: &Response) -> (String, HashMap<String, String>) {
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let (base, q) = location.split_once('?').unwrap();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap();
    (base.to_string(), pairs.into_iter().collect())
}

fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn google_authorize(g: &FakeGoogle, scope: &str) -> Response {
    client()
        .get(g.auth_url())
        .query(&[
            ("client_id", GOOGLE_CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", scope),
            ("state", "st/ate=1"),
            ("access_type", "offline"),
            ("prompt", "consent"),
            ("include_granted_scopes", "true"),
            ("code_challenge", &challenge(VERIFIER)),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap()
}

async fn google_exchange(g: &FakeGoogle, code: &str, verifier: &str) -> Response {
    client()
        .post(g.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", GOOGLE_CLIENT_ID),
            ("client_secret", GOOGLE_CLIENT_SECRET),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

async fn google_refresh(g: &FakeGoogle, refresh_token: &str) -> Response {
    client()
        .post(g.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", GOOGLE_CLIENT_ID),
            ("client_secret", GOOGLE_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
}

/// Consent and code exchange: the token answer.
async fn google_connect(g: &FakeGoogle) -> Value {
    let (_, q) = location_query(&google_authorize(g, GOOGLE_SCOPE).await);
    let r = google_exchange(g, &q["code"], VERIFIER).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn google_api(
    g: &FakeGoogle,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let url = format!("{}{path}", g.api_url());
    let mut request = client()
        .request(method.parse().unwrap(), url)
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn google_authorize_exchange_and_refresh() {
    let g = FakeGoogle::start().await;
    g.consent_as("ann@example.com");
    let r = google_authorize(&g, GOOGLE_SCOPE).await;
    let (base, q) = location_query(&r);
    assert_eq!(base, REDIRECT);
    assert_eq!(q["state"], "st/ate=1");
    let code = &q["code"];

    let r = google_exchange(
        &g,
        code,
        "a-wrong-verifier-a-wrong-verifier-a-wrong-verifier",
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "invalid_grant", "error_description": "Bad Request"})
    );

    let r = google_exchange(&g, code, VERIFIER).await;
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    assert_eq!(tokens["expires_in"], 3599);
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string());
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["email"], "ann@example.com");
    assert_eq!(claims["aud"], GOOGLE_CLIENT_ID);
    assert_eq!(claims["iss"], "https://accounts.google.com");

    let r = google_exchange(&g, code, VERIFIER).await;
    assert_eq!(r.status(), 400, "a code works once");
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let r = google_refresh(&g, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
    let refreshed: Value = r.json().await.unwrap();
    assert!(refreshed.get("refresh_token").is_none());
    assert_ne!(refreshed["access_token"], tokens["access_token"]);

    let r = client()
        .post(g.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", GOOGLE_CLIENT_ID),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    assert_eq!(
        g.token_requests(),
        [
            "authorization_code",
            "authorization_code",
            "authorization_code",
            "refresh_token",
            "refresh_token"
        ]
    );
}

#[tokio::test]
async fn google_rejects_a_malformed_authorize_and_reports_a_declined_one() {
    let g = FakeGoogle::start().await;
    let r = google_authorize(&g, "openid email").await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());

    g.deny_next_consent();
    let (_, q) = location_query(&google_authorize(&g, GOOGLE_SCOPE).await);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st/ate=1");
    assert!(!q.contains_key("code"));
}

#[tokio::test]
async fn google_revoke_and_expiry() {
    let g = FakeGoogle::start().await;
    let tokens = google_connect(&g).await;
    let access = tokens["access_token"].as_str().unwrap();
    let body = json!({"timeMin": "2026-11-23T00:00:00Z", "timeMax": "2026-11-24T00:00:00Z", "items": [{"id": "primary"}]});
    assert_eq!(
        google_api(&g, "POST", "freeBusy", access, Some(body.clone()))
            .await
            .status(),
        200
    );

    g.expire_access_tokens();
    let r = google_api(&g, "POST", "freeBusy", access, Some(body.clone())).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["errors"][0]["reason"],
        "authError"
    );
    let r = google_refresh(&g, tokens["refresh_token"].as_str().unwrap()).await;
    let access: Value = r.json().await.unwrap();
    let access = access["access_token"].as_str().unwrap();
    assert_eq!(
        google_api(&g, "POST", "freeBusy", access, Some(body.clone()))
            .await
            .status(),
        200
    );

    g.revoke("agent@example.com");
    let r = google_refresh(&g, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );
    assert_eq!(
        google_api(&g, "POST", "freeBusy", access, Some(body))
            .await
            .status(),
        401
    );
    assert_eq!(g.freebusy_count(), 2);
}

#[tokio::test]
async fn google_events_freebusy_and_scripted_failures() {
    let g = FakeGoogle::start().await;
    let tokens = google_connect(&g).await;
    let access = tokens["access_token"].as_str().unwrap();
    let id = "0f8e3c2a9b1d4e5f8a7b6c5d4e3f2a1b";
    let event = json!({
        "id": id,
        "start": {"dateTime": "2026-11-23T14:00:00Z", "timeZone": "UTC"},
        "end": {"dateTime": "2026-11-23T14:30:00Z", "timeZone": "UTC"},
        "summary": "Meeting with Vera",
        "description": "Booked by rondo",
        "attendees": [{"email": "vera@example.org"}],
        "conferenceData": {"createRequest": {"requestId": id, "conferenceSolutionKey": {"type": "hangoutsMeet"}}},
    });
    let insert = "calendars/primary/events?conferenceDataVersion=1&sendUpdates=none";

    let r = google_api(&g, "POST", insert, access, Some(event.clone())).await;
    assert_eq!(r.status(), 200);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["id"], id);
    assert_eq!(created["status"], "confirmed");
    assert_eq!(created["attendees"][0]["responseStatus"], "needsAction");
    let link = created["hangoutLink"].as_str().unwrap();
    assert!(link.starts_with("https://meet.google.com/"));
    assert_eq!(created["conferenceData"]["entryPoints"][0]["uri"], link);
    assert_eq!(
        created["conferenceData"]["createRequest"]["status"]["statusCode"],
        "success"
    );

    let duplicate = json!({"error": {
        "errors": [{"domain": "global", "reason": "duplicate", "message": "The requested identifier already exists."}],
        "code": 409,
        "message": "The requested identifier already exists.",
    }});
    let r = google_api(&g, "POST", insert, access, Some(event.clone())).await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().await.unwrap(), duplicate);

    let r = google_api(
        &g,
        "POST",
        insert,
        access,
        Some(json!({"id": "UPPER-case", "start": event["start"], "end": event["end"]})),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["message"],
        "Invalid resource id value."
    );

    g.set_busy(
        "agent@example.com",
        vec![
            (at("2026-11-22T23:00:00Z"), at("2026-11-23T09:00:00Z")),
            (at("2026-11-25T09:00:00Z"), at("2026-11-25T10:00:00Z")),
        ],
    );
    let window = json!({"timeMin": "2026-11-23T00:00:00Z", "timeMax": "2026-11-24T00:00:00Z", "timeZone": "UTC", "items": [{"id": "primary"}, {"id": "someone@else.com"}]});
    let r = google_api(&g, "POST", "freeBusy", access, Some(window)).await;
    assert_eq!(r.status(), 200);
    let fb: Value = r.json().await.unwrap();
    assert_eq!(fb["kind"], "calendar#freeBusy");
    assert_eq!(
        fb["calendars"]["primary"]["busy"],
        json!([
            {"start": "2026-11-23T00:00:00Z", "end": "2026-11-23T09:00:00Z"},
            {"start": "2026-11-23T14:00:00Z", "end": "2026-11-23T14:30:00Z"},
        ])
    );
    assert_eq!(
        fb["calendars"]["someone@else.com"]["errors"][0]["reason"],
        "notFound"
    );

    let one = format!("calendars/primary/events/{id}");
    let r = google_api(&g, "PATCH", &one, access, Some(json!({"summary": "Moved"}))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["summary"], "Moved");
    assert_eq!(g.events("agent@example.com")[0]["summary"], "Moved");

    let r = google_api(&g, "DELETE", &one, access, None).await;
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = google_api(&g, "DELETE", &one, access, None).await;
    assert_eq!(r.status(), 410);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["errors"][0]["reason"],
        "deleted"
    );
    assert_eq!(
        google_api(&g, "GET", &one, access, None).await.status(),
        410
    );
    let r = google_api(
        &g,
        "GET",
        "calendars/primary/events/abcdef12345",
        access,
        None,
    )
    .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["errors"][0]["reason"],
        "notFound"
    );
    let r = google_api(&g, "POST", insert, access, Some(event)).await;
    assert_eq!(r.status(), 409, "a deleted id stays taken");
    assert!(g.events("agent@example.com").is_empty());

    g.fail_next(1, 503, Some("1.5"));
    let r = google_api(&g, "GET", &one, "not-even-a-token", None).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1.5");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], 503);
    assert_eq!(body["error"]["errors"][0]["reason"], "backendError");
    assert_eq!(
        google_api(&g, "GET", &one, access, None).await.status(),
        410
    );
    assert_eq!(g.insert_count(), 1);
}

async fn microsoft_authorize(m: &FakeMicrosoft) -> Response {
    client()
        .get(format!("{}/oauth2/v2.0/authorize", m.authority()))
        .query(&[
            ("client_id", MICROSOFT_CLIENT_ID),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("response_mode", "query"),
            ("scope", MICROSOFT_SCOPE),
            ("state", "xyz"),
            ("code_challenge", &challenge(VERIFIER)),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap()
}

async fn microsoft_token(m: &FakeMicrosoft, form: &[(&str, &str)]) -> Response {
    let mut form = form.to_vec();
    form.extend([
        ("client_id", MICROSOFT_CLIENT_ID),
        ("client_secret", MICROSOFT_CLIENT_SECRET),
        ("scope", MICROSOFT_SCOPE),
    ]);
    client()
        .post(format!("{}/oauth2/v2.0/token", m.authority()))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn microsoft_connect(m: &FakeMicrosoft) -> Value {
    let (_, q) = location_query(&microsoft_authorize(m).await);
    let r = microsoft_token(
        m,
        &[
            ("grant_type", "authorization_code"),
            ("code", &q["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn graph(
    m: &FakeMicrosoft,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let mut request = client()
        .request(method.parse().unwrap(), format!("{}{path}", m.graph_url()))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn microsoft_authorize_exchange_rotating_refresh_and_revoke() {
    let m = FakeMicrosoft::start().await;
    let (base, q) = location_query(&microsoft_authorize(&m).await);
    assert_eq!(base, REDIRECT);
    assert_eq!(q["state"], "xyz");
    let code = &q["code"];
    let exchange = |verifier: &'static str| {
        let code = code.clone();
        let m = &m;
        async move {
            microsoft_token(
                m,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", verifier),
                ],
            )
            .await
        }
    };
    let r = exchange("a-wrong-verifier-a-wrong-verifier-a-wrong-verifier").await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let r = exchange(VERIFIER).await;
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3599);
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["preferred_username"], "agent@contoso.com");
    assert_eq!(claims["email"], "agent@contoso.com");
    assert!(claims["iss"]
        .as_str()
        .unwrap()
        .starts_with("https://login.microsoftonline.com/"));
    let r = exchange(VERIFIER).await;
    assert_eq!(r.status(), 400, "a code works once");
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let first = tokens["refresh_token"].as_str().unwrap();
    let r = microsoft_token(
        &m,
        &[("grant_type", "refresh_token"), ("refresh_token", first)],
    )
    .await;
    assert_eq!(r.status(), 200);
    let rotated: Value = r.json().await.unwrap();
    let second = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);
    let r = microsoft_token(
        &m,
        &[("grant_type", "refresh_token"), ("refresh_token", first)],
    )
    .await;
    assert_eq!(r.status(), 200, "the old refresh token stays valid a while");

    let me: Value = graph(
        &m,
        "GET",
        "/me",
        rotated["access_token"].as_str().unwrap(),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(me["mail"], "agent@contoso.com");
    assert_eq!(me["userPrincipalName"], "agent@contoso.com");

    m.revoke("agent@contoso.com");
    let r = microsoft_token(
        &m,
        &[("grant_type", "refresh_token"), ("refresh_token", second)],
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS70008: "));
    assert_eq!(body["error_codes"], json!([70008]));
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[field].is_string(), "{field}");
    }
    let r = graph(
        &m,
        "GET",
        "/me",
        rotated["access_token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert!(body["error"]["innerError"]["request-id"].is_string());
    assert_eq!(
        m.token_requests(),
        [
            "authorization_code",
            "authorization_code",
            "authorization_code",
            "refresh_token",
            "refresh_token",
            "refresh_token"
        ]
    );
}

#[tokio::test]
async fn microsoft_user_without_mail_and_declined_consent() {
    let m = FakeMicrosoft::start().await;
    m.consent_as_without_mail("nomail@contoso.onmicrosoft.com");
    let tokens = microsoft_connect(&m).await;
    let me: Value = graph(
        &m,
        "GET",
        "/me",
        tokens["access_token"].as_str().unwrap(),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(me["mail"].is_null());
    assert_eq!(me["userPrincipalName"], "nomail@contoso.onmicrosoft.com");

    m.deny_next_consent();
    let (_, q) = location_query(&microsoft_authorize(&m).await);
    assert_eq!(q["error"], "access_denied");
    assert!(q.contains_key("error_description"));
    assert_eq!(q["state"], "xyz");
}

#[tokio::test]
async fn microsoft_get_schedule() {
    let m = FakeMicrosoft::start().await;
    m.consent_as("ann@contoso.com");
    let tokens = microsoft_connect(&m).await;
    let access = tokens["access_token"].as_str().unwrap();
    m.set_busy(
        "ann@contoso.com",
        vec![
            (
                at("2026-11-23T12:00:00Z"),
                at("2026-11-23T12:30:00Z"),
                "busy",
            ),
            (
                at("2026-11-23T13:00:00Z"),
                at("2026-11-23T13:15:00Z"),
                "tentative",
            ),
        ],
    );
    let r = graph(&m, "POST", "/me/events", access, Some(json!({
        "subject": "Meeting", "start": {"dateTime": "2026-11-23T13:30:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-11-23T14:00:00", "timeZone": "UTC"},
    }))).await;
    assert_eq!(r.status(), 201);

    let r = graph(
        &m,
        "POST",
        "/me/calendar/getSchedule",
        access,
        Some(json!({
            "schedules": ["ann@contoso.com", "bob@contoso.com"],
            "startTime": {"dateTime": "2026-11-23T12:00:00", "timeZone": "UTC"},
            "endTime": {"dateTime": "2026-11-23T14:00:00.000", "timeZone": "UTC"},
            "availabilityViewInterval": 15,
        })),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let ann = &body["value"][0];
    assert_eq!(ann["scheduleId"], "ann@contoso.com");
    assert_eq!(ann["availabilityView"], "22001022");
    let items = ann["scheduleItems"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["status"], "busy");
    assert_eq!(
        items[0]["start"],
        json!({"dateTime": "2026-11-23T12:00:00.0000000", "timeZone": "UTC"})
    );
    assert_eq!(items[0]["end"]["dateTime"], "2026-11-23T12:30:00.0000000");
    assert_eq!(items[1]["status"], "tentative");
    assert_eq!(items[2]["subject"], "Meeting");
    assert_eq!(
        body["value"][1]["error"]["responseCode"],
        "ErrorMailboxNotFound"
    );
    assert!(body["value"][1].get("scheduleItems").is_none());
    assert_eq!(m.schedule_count(), 1);
}

#[tokio::test]
async fn microsoft_events_lookup_by_transaction_id_and_failures() {
    let m = FakeMicrosoft::start().await;
    let tokens = microsoft_connect(&m).await;
    let access = tokens["access_token"].as_str().unwrap();
    let event = json!({
        "subject": "Meeting with Vera",
        "body": {"contentType": "HTML", "content": "<p>Booked by rondo</p>"},
        "start": {"dateTime": "2026-11-23T14:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-11-23T14:30:00", "timeZone": "UTC"},
        "attendees": [{"emailAddress": {"address": "vera@example.org", "name": "Vera"}, "type": "required"}],
        "isOnlineMeeting": true,
        "onlineMeetingProvider": "teamsForBusiness",
        "transactionId": "0190f1e2-aaaa-7bbb-8ccc-0123456789ab",
    });

    m.lose_next_create_response();
    let r = graph(&m, "POST", "/me/events", access, Some(event.clone())).await;
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "ServiceNotAvailable"
    );
    let r = client()
        .get(format!("{}/me/events", m.graph_url()))
        .query(&[(
            "$filter",
            "transactionId eq '0190f1e2-aaaa-7bbb-8ccc-0123456789ab'",
        )])
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let found: Value = r.json().await.unwrap();
    let found = found["value"].as_array().unwrap();
    assert_eq!(found.len(), 1, "the lost create was stored");
    let id = found[0]["id"].as_str().unwrap();
    assert!(found[0]["onlineMeeting"]["joinUrl"]
        .as_str()
        .unwrap()
        .starts_with("https://teams.microsoft.com/l/meetup-join/"));
    assert_eq!(
        found[0]["start"],
        json!({"dateTime": "2026-11-23T14:00:00.0000000", "timeZone": "UTC"})
    );

    let r = graph(&m, "POST", "/me/events", access, Some(event)).await;
    assert_eq!(r.status(), 201, "no deduplication by transactionId");
    let second: Value = r.json().await.unwrap();
    assert!(second["webLink"].is_string());
    assert_ne!(second["id"], id);
    assert_eq!(m.create_count(), 2);
    let r = graph(
        &m,
        "GET",
        "/me/events?%24filter=transactionId%20eq%20%27other%27",
        access,
        None,
    )
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["value"], json!([]));
    let r = graph(&m, "GET", "/me/events?$filter=subject eq 'x'", access, None).await;
    assert_eq!(r.status(), 400);

    let r = graph(
        &m,
        "PATCH",
        &format!("/me/events/{id}"),
        access,
        Some(json!({"subject": "Moved"})),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["subject"], "Moved");
    let r = graph(&m, "DELETE", &format!("/me/events/{id}"), access, None).await;
    assert_eq!(r.status(), 204);
    let r = graph(&m, "DELETE", &format!("/me/events/{id}"), access, None).await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "ErrorItemNotFound"
    );
    assert_eq!(m.events("agent@contoso.com").len(), 1);

    m.fail_next(1, 429, Some("2.128"));
    let r = graph(&m, "GET", "/me", access, None).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "2.128");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "TooManyRequests"
    );
    assert_eq!(graph(&m, "GET", "/me", access, None).await.status(), 200);
}

#[tokio::test]
async fn google_insert_only_failures_and_a_lost_insert_answer() {
    let g = FakeGoogle::start().await;
    let tokens = google_connect(&g).await;
    let access = tokens["access_token"].as_str().unwrap();
    let issued = g.issued_tokens();
    assert!(issued.contains(&tokens["access_token"].as_str().unwrap().to_owned()));
    assert!(issued.contains(&tokens["refresh_token"].as_str().unwrap().to_owned()));
    let insert = "calendars/primary/events?conferenceDataVersion=1&sendUpdates=none";
    let event = json!({
        "id": "abcdef0123456789",
        "start": {"dateTime": "2026-11-23T14:00:00Z"},
        "end": {"dateTime": "2026-11-23T14:30:00Z"},
    });
    let window = json!({"timeMin": "2026-11-23T00:00:00Z", "timeMax": "2026-11-24T00:00:00Z", "items": [{"id": "primary"}]});

    g.fail_next_inserts(1, 429, Some("2"));
    assert_eq!(
        google_api(&g, "POST", "freeBusy", access, Some(window))
            .await
            .status(),
        200
    );
    let r = google_api(&g, "POST", insert, access, Some(event.clone())).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["errors"][0]["reason"],
        "rateLimitExceeded"
    );
    assert!(g.events("agent@example.com").is_empty());

    g.lose_next_insert_response();
    let r = google_api(&g, "POST", insert, access, Some(event.clone())).await;
    assert_eq!(r.status(), 503);
    assert_eq!(
        google_api(&g, "POST", insert, access, Some(event))
            .await
            .status(),
        409
    );
    let r = google_api(
        &g,
        "GET",
        "calendars/primary/events/abcdef0123456789",
        access,
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(g.events("agent@example.com").len(), 1);
}
