//! A fake Google (OAuth web-server flow with PKCE, and the part of Calendar API v3 rondo uses) on a real
//! HTTP port, speaking the wire formats of shared/PROVIDERS.md. Tokens never expire by the clock: a test
//! invalidates them with `expire_access_tokens` or `revoke`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::fake_common::*;

pub const GOOGLE_CLIENT_ID: &str = "google-client-id.apps.googleusercontent.com";
pub const GOOGLE_CLIENT_SECRET: &str = "google-client-secret";

const DEFAULT_ACCOUNT: &str = "agent@example.com";
const SCOPE_EVENTS: &str = "https://www.googleapis.com/auth/calendar.events";
const SCOPE_FREEBUSY: &str = "https://www.googleapis.com/auth/calendar.freebusy";
const SCOPE_USERINFO_EMAIL: &str = "https://www.googleapis.com/auth/userinfo.email";
const API_PREFIX: &str = "/calendar/v3/";
const CALENDAR_JSON: &str = "application/json; charset=UTF-8";
const OAUTH_JSON: &str = "application/json; charset=utf-8";

pub struct FakeGoogle {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    state: Arc<Mutex<State>>,
}

struct Code {
    email: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    used: bool,
}

struct Access {
    email: String,
    valid: bool,
}

struct Refresh {
    email: String,
    scope: String,
    revoked: bool,
}

/// A busy block: [start, end).
type Span = (DateTime<Utc>, DateTime<Utc>);

struct Stored {
    id: String,
    event: Value,
    deleted: bool,
}

struct State {
    consent_email: String,
    deny_next: bool,
    /// The next insert's answer shows the Meet conference still being created (`statusCode: pending`, no
    /// link yet); reading the event afterwards shows it ready.
    meet_pending_next: bool,
    /// The next consent grants only the scopes the user left ticked: these are unticked.
    untick_next: Vec<String>,
    codes: HashMap<String, Code>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    /// Per account (lower-cased email): the primary calendar's events, live and deleted, in insert order.
    calendars: HashMap<String, Vec<Stored>>,
    busy: HashMap<String, Vec<Span>>,
    fail: FailScript,
    fail_inserts: FailScript,
    lose_next_insert: bool,
    /// Access and refresh tokens, in issue order.
    issued: Vec<String>,
    inserts: usize,
    freebusy: usize,
    token_requests: Vec<String>,
}

impl FakeGoogle {
    pub async fn start() -> FakeGoogle {
        let state = Arc::new(Mutex::new(State {
            consent_email: DEFAULT_ACCOUNT.to_string(),
            deny_next: false,
            untick_next: Vec::new(),
            meet_pending_next: false,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            calendars: HashMap::new(),
            busy: HashMap::new(),
            fail: FailScript::default(),
            fail_inserts: FailScript::default(),
            lose_next_insert: false,
            issued: Vec::new(),
            inserts: 0,
            freebusy: 0,
            token_requests: Vec::new(),
        }));
        let base = serve(state.clone(), handle);
        FakeGoogle { base, state }
    }

    pub fn auth_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.base)
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }

    /// With the trailing slash: the `google-calendar3` crate appends `calendars/primary/events`, `freeBusy`.
    pub fn api_url(&self) -> String {
        format!("{}{API_PREFIX}", self.base)
    }

    /// Authorize requests from now on are approved as this Google account (default "agent@example.com").
    pub fn consent_as(&self, email: &str) {
        self.lock().consent_email = email.to_string();
    }

    /// The next authorize request is declined: `redirect_uri?error=access_denied&state=…`.
    pub fn deny_next_consent(&self) {
        self.lock().deny_next = true;
    }

    /// The next insert answers with the Meet link still pending (a later read has it).
    pub fn meet_pending_on_next_insert(&self) {
        self.lock().meet_pending_next = true;
    }

    /// On the next consent the user unticks these scopes (Google's granular consent): the token answer's
    /// `scope` lacks them.
    pub fn untick_on_next_consent(&self, scopes: &[&str]) {
        self.lock().untick_next = scopes.iter().map(|s| s.to_string()).collect();
    }

    /// The account's busy blocks outside the events it holds (replaces earlier ones).
    pub fn set_busy(&self, email: &str, blocks: Vec<(DateTime<Utc>, DateTime<Utc>)>) {
        self.lock().busy.insert(email.to_lowercase(), blocks);
    }

    /// Revokes the account's grant: its refresh tokens now get 400 invalid_grant, its access tokens 401.
    /// A later consent grants fresh tokens.
    pub fn revoke(&self, email: &str) {
        let key = email.to_lowercase();
        let mut s = self.lock();
        for r in s.refresh.values_mut().filter(|r| r.email == key) {
            r.revoked = true;
        }
        for a in s.access.values_mut().filter(|a| a.email == key) {
            a.valid = false;
        }
    }

    /// Every access token issued so far now gets 401 authError (refresh tokens stay valid).
    pub fn expire_access_tokens(&self) {
        for a in self.lock().access.values_mut() {
            a.valid = false;
        }
    }

    /// The next `n` Calendar API calls answer `status` with Google's error body (before any auth check),
    /// with `Retry-After: retry_after` when given.
    pub fn fail_next(&self, n: usize, status: u16, retry_after: Option<&str>) {
        self.lock().fail.push(n, status, retry_after);
    }

    /// The next `n` event inserts (only those) answer `status` with Google's error body, with
    /// `Retry-After: retry_after` when given; nothing is stored.
    pub fn fail_next_inserts(&self, n: usize, status: u16, retry_after: Option<&str>) {
        self.lock().fail_inserts.push(n, status, retry_after);
    }

    /// "Inserted but the answer was lost": the next event insert is stored but answered 503.
    pub fn lose_next_insert_response(&self) {
        self.lock().lose_next_insert = true;
    }

    /// Every access and refresh token issued so far, in issue order.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().issued.clone()
    }

    /// Live (not deleted) events of the account's primary calendar, as the API returns them.
    pub fn events(&self, email: &str) -> Vec<Value> {
        self.lock()
            .calendars
            .get(&email.to_lowercase())
            .map(|c| {
                c.iter()
                    .filter(|e| !e.deleted)
                    .map(|e| e.event.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Event inserts stored, in total: those answered 200 and one whose answer
    /// `lose_next_insert_response` lost.
    pub fn insert_count(&self) -> usize {
        self.lock().inserts
    }

    /// freeBusy calls answered 200, in total.
    pub fn freebusy_count(&self) -> usize {
        self.lock().freebusy
    }

    /// The `grant_type` of each token request, in order ("" when missing).
    pub fn token_requests(&self) -> Vec<String> {
        self.lock().token_requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

fn handle(state: &Mutex<State>, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let mut s = state.lock().unwrap();
    let method = req.method().as_str();
    match req.path() {
        "/o/oauth2/v2/auth" if method == "GET" => authorize(&mut s, req),
        "/token" if method == "POST" => token(&mut s, req, body),
        p if p.starts_with(API_PREFIX) => calendar(&mut s, req, body),
        _ => text_response(404, "Error 404 (Not Found)"),
    }
}

// ---------------------------------------------------------------------------------------------------------
// OAuth

fn authorize(s: &mut State, req: &HttpRequest) -> HttpResponse {
    let q = query(req);
    let bad = |why: &str| text_response(400, &format!("Error 400: invalid_request\n\n{why}"));
    let get = |name: &str| q.get(name).map(String::as_str).filter(|v| !v.is_empty());
    match get("client_id") {
        None => return bad("Missing required parameter: client_id"),
        Some(id) if id != GOOGLE_CLIENT_ID => {
            return text_response(
                400,
                "Error 401: invalid_client\n\nThe OAuth client was not found.",
            )
        }
        _ => {}
    }
    let Some(redirect_uri) = get("redirect_uri") else {
        return bad("Missing required parameter: redirect_uri");
    };
    if get("response_type") != Some("code") {
        return bad("Invalid response_type: only 'code' is supported");
    }
    let Some(scope) = get("scope") else {
        return bad("Missing required parameter: scope");
    };
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let has = |s: &str| scopes.contains(&s);
    if !(has("openid")
        && (has("email") || has(SCOPE_USERINFO_EMAIL))
        && has(SCOPE_EVENTS)
        && has(SCOPE_FREEBUSY))
    {
        return bad(&format!(
            "scope must contain openid, email, {SCOPE_EVENTS} and {SCOPE_FREEBUSY}; got '{scope}'"
        ));
    }
    if get("access_type") != Some("offline") {
        return bad("access_type=offline is required (no refresh token otherwise)");
    }
    let Some(challenge) = get("code_challenge") else {
        return bad("Missing required parameter: code_challenge");
    };
    if get("code_challenge_method") != Some("S256") {
        return bad("code_challenge_method must be S256");
    }
    let Some(state) = get("state") else {
        return bad("Missing required parameter: state");
    };
    if std::mem::take(&mut s.deny_next) {
        return redirect(&with_query(
            redirect_uri,
            &[("error", "access_denied"), ("state", state)],
        ));
    }
    let code = random_token("4/0A", 60);
    let unticked = std::mem::take(&mut s.untick_next);
    let scope = scope
        .split_whitespace()
        .filter(|g| !unticked.iter().any(|u| u == g))
        .collect::<Vec<_>>()
        .join(" ");
    s.codes.insert(
        code.clone(),
        Code {
            email: s.consent_email.clone(),
            client_id: GOOGLE_CLIENT_ID.to_string(),
            redirect_uri: redirect_uri.to_string(),
            challenge: challenge.to_string(),
            scope: scope.to_string(),
            used: false,
        },
    );
    redirect(&with_query(
        redirect_uri,
        &[("code", &code), ("state", state)],
    ))
}

fn oauth_error(status: u16, error: &str, description: &str) -> HttpResponse {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
        OAUTH_JSON,
        None,
    )
}

fn token(s: &mut State, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let form = form_pairs(&String::from_utf8_lossy(body));
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    s.token_requests.push(grant_type.clone());
    match client_credentials(req, &form) {
        Some((id, secret)) if id == GOOGLE_CLIENT_ID && secret == GOOGLE_CLIENT_SECRET => {}
        _ => return oauth_error(401, "invalid_client", "The OAuth client was not found."),
    }
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    match grant_type.as_str() {
        "authorization_code" => {
            let Some(code) = field("code") else {
                return oauth_error(400, "invalid_request", "Missing required parameter: code");
            };
            let bad_grant = || oauth_error(400, "invalid_grant", "Bad Request");
            let Some(grant) = s.codes.get_mut(code) else {
                return bad_grant();
            };
            let verifier_ok =
                field("code_verifier").is_some_and(|v| pkce_matches(v, &grant.challenge));
            if grant.used
                || grant.client_id != GOOGLE_CLIENT_ID
                || field("redirect_uri") != Some(grant.redirect_uri.as_str())
                || !verifier_ok
            {
                return bad_grant();
            }
            grant.used = true;
            let (email, scope) = (grant.email.clone(), grant.scope.clone());
            let refresh_token = random_token("1//0g", 100);
            s.issued.push(refresh_token.clone());
            s.refresh.insert(
                refresh_token.clone(),
                Refresh {
                    email: email.to_lowercase(),
                    scope: scope.clone(),
                    revoked: false,
                },
            );
            let mut answer = token_answer(s, &email, &scope);
            answer["refresh_token"] = json!(refresh_token);
            json_response(200, &answer, OAUTH_JSON, None)
        }
        "refresh_token" => {
            let Some(refresh) = field("refresh_token").and_then(|t| s.refresh.get(t)) else {
                return oauth_error(400, "invalid_grant", "Token has been expired or revoked.");
            };
            if refresh.revoked {
                return oauth_error(400, "invalid_grant", "Token has been expired or revoked.");
            }
            let (email, scope) = (refresh.email.clone(), refresh.scope.clone());
            json_response(200, &token_answer(s, &email, &scope), OAUTH_JSON, None)
        }
        "" => oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: grant_type",
        ),
        other => oauth_error(
            400,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {other}"),
        ),
    }
}

/// A token answer with a new access token (and an id_token: the grant includes `openid`).
fn token_answer(s: &mut State, email: &str, scope: &str) -> Value {
    let access_token = random_token("ya29.a0", 120);
    s.issued.push(access_token.clone());
    s.access.insert(
        access_token.clone(),
        Access {
            email: email.to_lowercase(),
            valid: true,
        },
    );
    json!({
        "access_token": access_token,
        "expires_in": 3599,
        "token_type": "Bearer",
        "scope": scope,
        "id_token": id_token(email),
    })
}

fn id_token(email: &str) -> String {
    let iat = Utc::now().timestamp();
    let digits: String = stable_hex(&email.to_lowercase())
        .bytes()
        .take(20)
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    fake_jwt(
        &json!({"alg": "RS256", "kid": "fake", "typ": "JWT"}),
        &json!({
            "iss": "https://accounts.google.com",
            "azp": GOOGLE_CLIENT_ID,
            "aud": GOOGLE_CLIENT_ID,
            "sub": format!("1{digits}"),
            "email": email,
            "email_verified": true,
            "iat": iat,
            "exp": iat + 3599,
        }),
    )
}

// ---------------------------------------------------------------------------------------------------------
// Calendar API v3

fn api_error(status: u16, reason: &str, message: &str, retry_after: Option<&str>) -> HttpResponse {
    let body = json!({"error": {
        "errors": [{"domain": "global", "reason": reason, "message": message}],
        "code": status,
        "message": message,
    }});
    let mut response = json_response(status, &body, CALENDAR_JSON, retry_after);
    if status == 401 {
        response.headers_mut().insert(
            actix_web::http::header::WWW_AUTHENTICATE,
            actix_web::http::header::HeaderValue::from_static(
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
            ),
        );
    }
    response
}

fn scripted_error(status: u16, retry_after: Option<&str>) -> HttpResponse {
    let (reason, message) = match status {
        400 => ("badRequest", "Bad Request"),
        401 => ("authError", "Invalid Credentials"),
        403 | 429 => ("rateLimitExceeded", "Rate Limit Exceeded"),
        404 => ("notFound", "Not Found"),
        409 => ("conflict", "Conflict"),
        410 => ("deleted", "Resource has been deleted"),
        503 => ("backendError", "The service is currently unavailable."),
        s if s >= 500 => ("backendError", "Backend Error"),
        _ => ("badRequest", "Bad Request"),
    };
    api_error(status, reason, message, retry_after)
}

fn not_found() -> HttpResponse {
    api_error(404, "notFound", "Not Found", None)
}

fn deleted() -> HttpResponse {
    api_error(410, "deleted", "Resource has been deleted", None)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let s = v?.as_str()?;
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn calendar(s: &mut State, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    if let Some((status, retry_after)) = s.fail.next() {
        return scripted_error(status, retry_after.as_deref());
    }
    let segments = segments_after(req, API_PREFIX).unwrap_or_default();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    if req.method().as_str() == "POST" && matches!(segments.as_slice(), ["calendars", _, "events"])
    {
        if let Some((status, retry_after)) = s.fail_inserts.next() {
            return scripted_error(status, retry_after.as_deref());
        }
    }
    let email = match bearer(req).and_then(|t| s.access.get(&t)) {
        Some(a) if a.valid => a.email.clone(),
        _ => return api_error(401, "authError", "Invalid Credentials", None),
    };
    let q = query(req);
    match (req.method().as_str(), segments.as_slice()) {
        ("POST", ["freeBusy"]) => freebusy(s, &email, body),
        (_, ["calendars", calendar, "events", ..]) if *calendar != "primary" => not_found(),
        ("POST", ["calendars", "primary", "events"]) => insert(s, &email, &q, body),
        ("GET", ["calendars", "primary", "events", id]) => {
            match s
                .calendars
                .get(&email)
                .and_then(|c| c.iter().find(|e| e.id == *id))
            {
                None => not_found(),
                Some(e) if e.deleted => deleted(),
                Some(e) => json_response(200, &e.event, CALENDAR_JSON, None),
            }
        }
        ("PATCH", ["calendars", "primary", "events", id]) => patch(s, &email, id, &q, body),
        ("DELETE", ["calendars", "primary", "events", id]) => {
            match s
                .calendars
                .get_mut(&email)
                .and_then(|c| c.iter_mut().find(|e| e.id == *id))
            {
                None => not_found(),
                Some(e) if e.deleted => deleted(),
                Some(e) => {
                    e.deleted = true;
                    e.event["status"] = json!("cancelled");
                    HttpResponse::NoContent().finish()
                }
            }
        }
        _ => not_found(),
    }
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, Box<HttpResponse>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Box::new(api_error(400, "parseError", "Parse Error", None))),
    }
}

fn freebusy(s: &mut State, email: &str, body: &[u8]) -> HttpResponse {
    let body = match parse_body(body) {
        Ok(b) => b,
        Err(e) => return *e,
    };
    let Some(min) = parse_time(body.get("timeMin")) else {
        return api_error(400, "required", "Missing timeMin.", None);
    };
    let Some(max) = parse_time(body.get("timeMax")) else {
        return api_error(400, "required", "Missing timeMax.", None);
    };
    if max <= min {
        return api_error(
            400,
            "timeRangeEmpty",
            "The specified time range is empty.",
            None,
        );
    }
    let mut busy: Vec<Span> = Vec::new();
    let mut add = |start: DateTime<Utc>, end: DateTime<Utc>| {
        if start < max && end > min {
            busy.push((start.max(min), end.min(max)));
        }
    };
    for &(start, end) in s.busy.get(email).into_iter().flatten() {
        add(start, end);
    }
    for e in s.calendars.get(email).into_iter().flatten() {
        if e.deleted || str_field(&e.event, "transparency") == Some("transparent") {
            continue;
        }
        let start = parse_time(e.event.pointer("/start/dateTime"));
        let end = parse_time(e.event.pointer("/end/dateTime"));
        if let (Some(start), Some(end)) = (start, end) {
            add(start, end);
        }
    }
    busy.sort();
    let busy: Vec<Value> = busy
        .into_iter()
        .map(|(start, end)| json!({"start": rfc3339(start), "end": rfc3339(end)}))
        .collect();
    let mut calendars = Map::new();
    let items = body.get("items").and_then(Value::as_array);
    for item in items.into_iter().flatten() {
        let Some(id) = str_field(item, "id") else {
            continue;
        };
        let entry = if id == "primary" {
            json!({"busy": busy})
        } else {
            json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []})
        };
        calendars.insert(id.to_string(), entry);
    }
    s.freebusy += 1;
    let answer = json!({
        "kind": "calendar#freeBusy",
        "timeMin": rfc3339(min),
        "timeMax": rfc3339(max),
        "calendars": calendars,
    });
    json_response(200, &answer, CALENDAR_JSON, None)
}

fn valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b))
}

/// Checks `start`/`end` (when `required`, both must be there) as `{"dateTime": RFC 3339}`.
fn check_times(event: &Map<String, Value>, required: bool) -> Result<(), Box<HttpResponse>> {
    let mut times = [None, None];
    for (i, (field, missing)) in [
        ("start", "Missing start time."),
        ("end", "Missing end time."),
    ]
    .into_iter()
    .enumerate()
    {
        match event.get(field) {
            None if !required => {}
            value => {
                let t = value.and_then(|v| parse_time(v.get("dateTime")));
                if t.is_none() {
                    return Err(Box::new(api_error(400, "required", missing, None)));
                }
                times[i] = t;
            }
        }
    }
    if let [Some(start), Some(end)] = times {
        if end < start {
            return Err(Box::new(api_error(
                400,
                "timeRangeEmpty",
                "The specified time range is empty.",
                None,
            )));
        }
    }
    Ok(())
}

fn meet_code() -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
    format!(
        "{}-{}-{}",
        random_from(LETTERS, 3),
        random_from(LETTERS, 4),
        random_from(LETTERS, 3)
    )
}

/// Applies the fields of an insert or patch body: attendees get a `responseStatus`, and a
/// `conferenceData.createRequest` creates a Meet conference when `conferenceDataVersion=1`.
fn apply_fields(
    event: &mut Map<String, Value>,
    fields: Map<String, Value>,
    q: &HashMap<String, String>,
) {
    const READ_ONLY: &[&str] = &[
        "kind",
        "etag",
        "id",
        "status",
        "htmlLink",
        "created",
        "updated",
        "creator",
        "organizer",
        "iCalUID",
        "sequence",
        "hangoutLink",
    ];
    let conference_version = q.get("conferenceDataVersion").map(String::as_str) == Some("1");
    for (name, mut value) in fields {
        if READ_ONLY.contains(&name.as_str()) {
            continue;
        }
        match name.as_str() {
            "attendees" => {
                for attendee in value.as_array_mut().into_iter().flatten() {
                    if let Some(a) = attendee.as_object_mut() {
                        a.entry("responseStatus").or_insert(json!("needsAction"));
                    }
                }
                event.insert(name, value);
            }
            "conferenceData" => {
                if !conference_version {
                    continue; // Google ignores conference data without conferenceDataVersion=1
                }
                let request = value.get("createRequest").cloned();
                match request {
                    Some(Value::Object(mut request)) if !event.contains_key("hangoutLink") => {
                        request.insert("status".into(), json!({"statusCode": "success"}));
                        let code = meet_code();
                        let link = format!("https://meet.google.com/{code}");
                        event.insert("hangoutLink".into(), json!(link));
                        event.insert(
                            "conferenceData".into(),
                            json!({
                                "createRequest": request,
                                "entryPoints": [{
                                    "entryPointType": "video",
                                    "uri": link,
                                    "label": format!("meet.google.com/{code}"),
                                }],
                                "conferenceSolution": {
                                    "key": {"type": "hangoutsMeet"},
                                    "name": "Google Meet",
                                    "iconUri": "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png",
                                },
                                "conferenceId": code,
                            }),
                        );
                    }
                    Some(_) => {} // a conference exists already
                    None => {
                        event.insert(name, value);
                    }
                }
            }
            _ => {
                event.insert(name, value);
            }
        }
    }
}

fn insert(s: &mut State, email: &str, q: &HashMap<String, String>, body: &[u8]) -> HttpResponse {
    let body = match parse_body(body) {
        Ok(b) => b,
        Err(e) => return *e,
    };
    let id = match body.get("id") {
        None => random_from(b"abcdefghijklmnopqrstuv0123456789", 26),
        Some(Value::String(id)) if valid_event_id(id) => id.clone(),
        Some(_) => return api_error(400, "invalid", "Invalid resource id value.", None),
    };
    let calendar = s.calendars.entry(email.to_string()).or_default();
    if calendar.iter().any(|e| e.id == id) {
        return api_error(
            409,
            "duplicate",
            "The requested identifier already exists.",
            None,
        );
    }
    if let Err(e) = check_times(&body, true) {
        return *e;
    }
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut event = Map::new();
    event.insert("kind".into(), json!("calendar#event"));
    event.insert(
        "etag".into(),
        json!(format!("\"{}\"", random_from(b"0123456789", 16))),
    );
    event.insert("id".into(), json!(id));
    event.insert("status".into(), json!("confirmed"));
    let eid = STANDARD.encode(format!("{id} {email}"));
    event.insert(
        "htmlLink".into(),
        json!(format!(
            "https://www.google.com/calendar/event?eid={}",
            eid.trim_end_matches('=')
        )),
    );
    event.insert("created".into(), json!(now));
    event.insert("updated".into(), json!(now));
    event.insert("creator".into(), json!({"email": email, "self": true}));
    event.insert("organizer".into(), json!({"email": email, "self": true}));
    event.insert("iCalUID".into(), json!(format!("{id}@google.com")));
    event.insert("sequence".into(), json!(0));
    event.insert("reminders".into(), json!({"useDefault": true}));
    event.insert("eventType".into(), json!("default"));
    apply_fields(&mut event, body, q);
    let event = Value::Object(event);
    calendar.push(Stored {
        id,
        event: event.clone(),
        deleted: false,
    });
    s.inserts += 1;
    if std::mem::take(&mut s.lose_next_insert) {
        return scripted_error(503, None);
    }
    let mut answer = event;
    if std::mem::take(&mut s.meet_pending_next) {
        if let Some(e) = answer.as_object_mut() {
            e.remove("hangoutLink");
            if let Some(c) = e.get_mut("conferenceData").and_then(Value::as_object_mut) {
                c.remove("entryPoints");
                c.remove("conferenceId");
                c["createRequest"]["status"] = json!({"statusCode": "pending"});
            }
        }
    }
    json_response(200, &answer, CALENDAR_JSON, None)
}

fn patch(
    s: &mut State,
    email: &str,
    id: &str,
    q: &HashMap<String, String>,
    body: &[u8],
) -> HttpResponse {
    let fields = match parse_body(body) {
        Ok(b) => b,
        Err(e) => return *e,
    };
    let Some(stored) = s
        .calendars
        .get_mut(email)
        .and_then(|c| c.iter_mut().find(|e| e.id == id))
    else {
        return not_found();
    };
    if stored.deleted {
        return deleted();
    }
    if let Err(e) = check_times(&fields, false) {
        return *e;
    }
    let Value::Object(event) = &mut stored.event else {
        unreachable!("events are stored as objects")
    };
    apply_fields(event, fields, q);
    let sequence = event.get("sequence").and_then(Value::as_i64).unwrap_or(0);
    event.insert("sequence".into(), json!(sequence + 1));
    event.insert(
        "updated".into(),
        json!(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)),
    );
    json_response(200, &stored.event, CALENDAR_JSON, None)
}
