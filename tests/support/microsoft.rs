//! A fake Microsoft identity platform (authorization code flow with PKCE, rotating refresh tokens) and the
//! part of Graph v1.0 rondo uses, on a real HTTP port, speaking the wire formats of shared/PROVIDERS.md.
//! Tokens never expire by the clock: a test invalidates them with `expire_access_tokens` or `revoke`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde_json::{json, Map, Value};

use super::fake_common::*;

pub const MICROSOFT_CLIENT_ID: &str = "00000000-0000-0000-0000-00000000c11e";
pub const MICROSOFT_CLIENT_SECRET: &str = "microsoft-client-secret";

const DEFAULT_ACCOUNT: &str = "agent@contoso.com";
const TENANT_ID: &str = "6b1f3c2e-8d4a-4e5f-9a7b-1c2d3e4f5a6b";
const REQUIRED_SCOPES: &[&str] = &[
    "offline_access",
    "openid",
    "email",
    "User.Read",
    "Calendars.ReadWrite",
];
const GRAPH_PREFIX: &str = "/v1.0/";
const GRAPH_JSON: &str = "application/json";
const OAUTH_JSON: &str = "application/json; charset=utf-8";

pub struct FakeMicrosoft {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    state: Arc<Mutex<State>>,
}

#[derive(Clone)]
struct User {
    mail: Option<String>,
    upn: String,
}

impl User {
    /// The key of the account's data: the lower-cased userPrincipalName.
    fn key(&self) -> String {
        self.upn.to_lowercase()
    }

    fn owns(&self, address: &str) -> bool {
        self.upn.eq_ignore_ascii_case(address)
            || self
                .mail
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(address))
    }

    fn address(&self) -> &str {
        self.mail.as_deref().unwrap_or(&self.upn)
    }

    fn display_name(&self) -> String {
        let local = self.upn.split('@').next().unwrap_or(&self.upn);
        let mut chars = local.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    }
}

struct Code {
    user: String,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    used: bool,
}

struct Access {
    user: String,
    valid: bool,
}

struct Refresh {
    user: String,
    revoked: bool,
}

struct Stored {
    event: Value,
    deleted: bool,
}

type Block = (DateTime<Utc>, DateTime<Utc>, &'static str);

struct State {
    consent: User,
    deny_next: bool,
    /// Every account that ever consented, by key.
    users: HashMap<String, User>,
    codes: HashMap<String, Code>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    /// Per account key: its calendar's events, live and deleted, in create order.
    events: HashMap<String, Vec<Stored>>,
    /// Per lower-cased address.
    busy: HashMap<String, Vec<Block>>,
    fail: FailScript,
    fail_creates: FailScript,
    /// Access and refresh tokens, in issue order.
    issued: Vec<String>,
    lose_next_create: bool,
    creates: usize,
    schedules: usize,
    token_requests: Vec<String>,
}

impl FakeMicrosoft {
    pub async fn start() -> FakeMicrosoft {
        let state = Arc::new(Mutex::new(State {
            consent: User {
                mail: Some(DEFAULT_ACCOUNT.to_string()),
                upn: DEFAULT_ACCOUNT.to_string(),
            },
            deny_next: false,
            users: HashMap::new(),
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            events: HashMap::new(),
            busy: HashMap::new(),
            fail: FailScript::default(),
            fail_creates: FailScript::default(),
            issued: Vec::new(),
            lose_next_create: false,
            creates: 0,
            schedules: 0,
            token_requests: Vec::new(),
        }));
        let base = serve(state.clone(), handle);
        FakeMicrosoft { base, state }
    }

    /// `{base}/common`: authorize is `{authority}/oauth2/v2.0/authorize`, token `{authority}/oauth2/v2.0/token`.
    pub fn authority(&self) -> String {
        format!("{}/common", self.base)
    }

    /// `{base}/v1.0`, without a trailing slash.
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.base)
    }

    /// Authorize requests from now on are approved as this user (`mail` and `userPrincipalName` both this
    /// address; default "agent@contoso.com").
    pub fn consent_as(&self, email: &str) {
        self.lock().consent = User {
            mail: Some(email.to_string()),
            upn: email.to_string(),
        };
    }

    /// Authorize requests from now on are approved as a user whose `mail` is null.
    pub fn consent_as_without_mail(&self, upn: &str) {
        self.lock().consent = User {
            mail: None,
            upn: upn.to_string(),
        };
    }

    /// The next authorize request is declined: `redirect_uri?error=access_denied&error_description=…&state=…`.
    pub fn deny_next_consent(&self) {
        self.lock().deny_next = true;
    }

    /// The address's schedule items outside the events it holds (replaces earlier ones); status is one of
    /// `busy|tentative|oof|free|workingElsewhere`.
    pub fn set_busy(&self, email: &str, blocks: Vec<Block>) {
        self.lock().busy.insert(email.to_lowercase(), blocks);
    }

    /// Revokes the user's grant: refresh → 400 invalid_grant (AADSTS70008), access tokens → 401. A later
    /// consent grants fresh tokens.
    pub fn revoke(&self, email: &str) {
        let mut s = self.lock();
        let Some(key) = s.user_key(email) else {
            return;
        };
        for r in s.refresh.values_mut().filter(|r| r.user == key) {
            r.revoked = true;
        }
        for a in s.access.values_mut().filter(|a| a.user == key) {
            a.valid = false;
        }
    }

    /// Every access token issued so far now gets 401 InvalidAuthenticationToken (refresh tokens stay valid).
    pub fn expire_access_tokens(&self) {
        for a in self.lock().access.values_mut() {
            a.valid = false;
        }
    }

    /// The next `n` Graph calls answer `status` with Graph's error body (before any auth check), with
    /// `Retry-After: retry_after` when given.
    pub fn fail_next(&self, n: usize, status: u16, retry_after: Option<&str>) {
        self.lock().fail.push(n, status, retry_after);
    }

    /// The next `n` event creates (only those) answer `status` with Graph's error body, with
    /// `Retry-After: retry_after` when given; nothing is stored.
    pub fn fail_next_creates(&self, n: usize, status: u16, retry_after: Option<&str>) {
        self.lock().fail_creates.push(n, status, retry_after);
    }

    /// Every access and refresh token issued so far, in issue order.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().issued.clone()
    }

    /// Live (not deleted) events of the user (by `mail` or `userPrincipalName`), as Graph returns them.
    pub fn events(&self, email: &str) -> Vec<Value> {
        let s = self.lock();
        let key = s.user_key(email).unwrap_or_else(|| email.to_lowercase());
        s.events
            .get(&key)
            .map(|c| {
                c.iter()
                    .filter(|e| !e.deleted)
                    .map(|e| e.event.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Events created (stored), in total — including one whose answer `lose_next_create_response` lost.
    pub fn create_count(&self) -> usize {
        self.lock().creates
    }

    /// getSchedule calls answered 200, in total.
    pub fn schedule_count(&self) -> usize {
        self.lock().schedules
    }

    /// The `grant_type` of each token request, in order ("" when missing).
    pub fn token_requests(&self) -> Vec<String> {
        self.lock().token_requests.clone()
    }

    /// "Created but the answer was lost": the next event create is stored but answered 503.
    pub fn lose_next_create_response(&self) {
        self.lock().lose_next_create = true;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

impl State {
    fn user_key(&self, address: &str) -> Option<String> {
        self.users.values().find(|u| u.owns(address)).map(User::key)
    }
}

fn handle(state: &Mutex<State>, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let mut s = state.lock().unwrap();
    if req.path().starts_with(GRAPH_PREFIX) {
        return graph(&mut s, req, body);
    }
    let segments = segments_after(req, "/").unwrap_or_default();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (req.method().as_str(), segments.as_slice()) {
        ("GET", [_tenant, "oauth2", "v2.0", "authorize"]) => authorize(&mut s, req),
        ("POST", [_tenant, "oauth2", "v2.0", "token"]) => token(&mut s, req, body),
        _ => text_response(404, "Not Found"),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Identity platform

/// A scope without Graph's resource prefix, lower-cased (`https://graph.microsoft.com/User.Read` = `user.read`).
fn normalize_scope(scope: &str) -> String {
    scope
        .strip_prefix("https://graph.microsoft.com/")
        .unwrap_or(scope)
        .to_lowercase()
}

fn authorize(s: &mut State, req: &HttpRequest) -> HttpResponse {
    let q = query(req);
    let bad = |code: &str, why: &str| {
        text_response(
            400,
            &format!("Sorry, but we're having trouble signing you in.\n\n{code}: {why}"),
        )
    };
    let get = |name: &str| q.get(name).map(String::as_str).filter(|v| !v.is_empty());
    match get("client_id") {
        None => {
            return bad(
                "AADSTS900144",
                "The request body must contain the following parameter: 'client_id'.",
            )
        }
        Some(id) if id != MICROSOFT_CLIENT_ID => {
            return bad(
                "AADSTS700016",
                &format!("Application with identifier '{id}' was not found in the directory."),
            )
        }
        _ => {}
    }
    let Some(redirect_uri) = get("redirect_uri") else {
        return bad(
            "AADSTS900144",
            "The request body must contain the following parameter: 'redirect_uri'.",
        );
    };
    if get("response_type") != Some("code") {
        return bad("AADSTS700054", "response_type must be 'code'.");
    }
    if get("response_mode").is_some_and(|m| m != "query") {
        return bad(
            "AADSTS900144",
            "this fake supports response_mode=query only.",
        );
    }
    let Some(scope) = get("scope") else {
        return bad(
            "AADSTS900144",
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    let granted: Vec<String> = scope.split_whitespace().map(normalize_scope).collect();
    let missing: Vec<&str> = REQUIRED_SCOPES
        .iter()
        .copied()
        .filter(|r| !granted.contains(&r.to_lowercase()))
        .collect();
    if !missing.is_empty() {
        return bad(
            "AADSTS70011",
            &format!("The provided value for the input parameter 'scope' lacks {missing:?}."),
        );
    }
    let Some(challenge) = get("code_challenge") else {
        return bad("AADSTS501491", "Invalid size of Code_Challenge parameter.");
    };
    if get("code_challenge_method") != Some("S256") {
        return bad("AADSTS501481", "code_challenge_method must be S256.");
    }
    let Some(state) = get("state") else {
        return bad("AADSTS900144", "this fake requires 'state'.");
    };
    if std::mem::take(&mut s.deny_next) {
        return redirect(&with_query(
            redirect_uri,
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    "AADSTS65004: User declined to consent to access the app.",
                ),
                ("state", state),
            ],
        ));
    }
    let user = s.consent.clone();
    s.users.insert(user.key(), user.clone());
    let code = random_token("M.C5_BAY.2.U.", 80);
    s.codes.insert(
        code.clone(),
        Code {
            user: user.key(),
            client_id: MICROSOFT_CLIENT_ID.to_string(),
            redirect_uri: redirect_uri.to_string(),
            challenge: challenge.to_string(),
            used: false,
        },
    );
    redirect(&with_query(
        redirect_uri,
        &[("code", &code), ("state", state)],
    ))
}

fn aad_error(status: u16, error: &str, code: u32, description: &str) -> HttpResponse {
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {description} Trace ID: {} Correlation ID: {} Timestamp: {}",
            random_uuid(),
            random_uuid(),
            Utc::now().format("%Y-%m-%d %H:%M:%SZ")
        ),
        "error_codes": [code],
        "timestamp": Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string(),
        "trace_id": random_uuid(),
        "correlation_id": random_uuid(),
        "error_uri": "https://login.microsoftonline.com/error?code=".to_string() + &code.to_string(),
    });
    json_response(status, &body, OAUTH_JSON, None)
}

fn token(s: &mut State, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let form = form_pairs(&String::from_utf8_lossy(body));
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    s.token_requests.push(grant_type.clone());
    match client_credentials(req, &form) {
        Some((id, secret)) if id == MICROSOFT_CLIENT_ID && secret == MICROSOFT_CLIENT_SECRET => {}
        Some((id, _)) if id == MICROSOFT_CLIENT_ID => {
            return aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            )
        }
        _ => {
            return aad_error(
                401,
                "invalid_client",
                700016,
                "Application was not found in the directory.",
            )
        }
    }
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let Some(scope) = field("scope") else {
        return aad_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    match grant_type.as_str() {
        "authorization_code" => {
            let Some(code) = field("code") else {
                return aad_error(
                    400,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'code'.",
                );
            };
            let Some(grant) = s.codes.get_mut(code) else {
                return aad_error(
                    400,
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid.",
                );
            };
            if grant.used {
                return aad_error(
                    400,
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                );
            }
            if grant.client_id != MICROSOFT_CLIENT_ID
                || field("redirect_uri") != Some(grant.redirect_uri.as_str())
            {
                return aad_error(
                    400,
                    "invalid_grant",
                    50148,
                    "The redirect_uri does not match the redirect URI used when requesting the authorization code.",
                );
            }
            if !field("code_verifier").is_some_and(|v| pkce_matches(v, &grant.challenge)) {
                return aad_error(
                    400,
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                );
            }
            grant.used = true;
            let user = grant.user.clone();
            json_response(200, &token_answer(s, &user, scope), OAUTH_JSON, None)
        }
        "refresh_token" => {
            let Some(refresh) = field("refresh_token").and_then(|t| s.refresh.get(t)) else {
                return aad_error(
                    400,
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid.",
                );
            };
            if refresh.revoked {
                return aad_error(
                    400,
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
                );
            }
            let user = refresh.user.clone();
            json_response(200, &token_answer(s, &user, scope), OAUTH_JSON, None)
        }
        "" => aad_error(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ),
        other => aad_error(
            400,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

/// A token answer with a new access token and a NEW refresh token (earlier ones stay valid).
fn token_answer(s: &mut State, user_key: &str, scope: &str) -> Value {
    let user = s.users[user_key].clone();
    let access_token = random_token("EwBIA8l6BAAU", 120);
    let refresh_token = random_token("M.C5_BAY.0.U.-", 120);
    s.issued.push(access_token.clone());
    s.issued.push(refresh_token.clone());
    s.access.insert(
        access_token.clone(),
        Access {
            user: user_key.to_string(),
            valid: true,
        },
    );
    s.refresh.insert(
        refresh_token.clone(),
        Refresh {
            user: user_key.to_string(),
            revoked: false,
        },
    );
    let iat = Utc::now().timestamp();
    let oid = stable_uuid(&user.key());
    let mut claims = json!({
        "ver": "2.0",
        "iss": format!("https://login.microsoftonline.com/{TENANT_ID}/v2.0"),
        "sub": stable_hex(&format!("sub:{}", user.key()))[..43].to_string(),
        "aud": MICROSOFT_CLIENT_ID,
        "iat": iat,
        "nbf": iat,
        "exp": iat + 3599,
        "name": user.display_name(),
        "preferred_username": user.upn,
        "oid": oid,
        "tid": TENANT_ID,
    });
    if let Some(mail) = &user.mail {
        claims["email"] = json!(mail);
    }
    let id_token = fake_jwt(
        &json!({"typ": "JWT", "alg": "RS256", "kid": "fake"}),
        &claims,
    );
    json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": access_token,
        "refresh_token": refresh_token,
        "id_token": id_token,
    })
}

// ---------------------------------------------------------------------------------------------------------
// Graph v1.0

fn graph_error(
    req: &HttpRequest,
    status: u16,
    code: &str,
    message: &str,
    retry_after: Option<&str>,
) -> HttpResponse {
    let request_id = random_uuid();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| request_id.clone());
    let body = json!({"error": {
        "code": code,
        "message": message,
        "innerError": {
            "date": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
            "request-id": request_id,
            "client-request-id": client_request_id,
        },
    }});
    json_response(status, &body, GRAPH_JSON, retry_after)
}

fn scripted_error(req: &HttpRequest, status: u16, retry_after: Option<&str>) -> HttpResponse {
    let (code, message) = match status {
        400 => ("BadRequest", "Bad request."),
        401 => (
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        ),
        403 => ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
        404 => ("ErrorItemNotFound", "The specified object was not found in the store."),
        409 => ("ErrorIrresolvableConflict", "The change key passed in the request does not match the current change key of the item."),
        429 => ("TooManyRequests", "Too many requests. Please retry after the time in the Retry-After header."),
        503 => ("ServiceNotAvailable", "The service is temporarily unavailable. Please retry later."),
        s if s >= 500 => ("generalException", "An unspecified error has occurred."),
        _ => ("BadRequest", "Bad request."),
    };
    graph_error(req, status, code, message, retry_after)
}

fn item_not_found(req: &HttpRequest) -> HttpResponse {
    graph_error(
        req,
        404,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
        None,
    )
}

fn graph(s: &mut State, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    if let Some((status, retry_after)) = s.fail.next() {
        return scripted_error(req, status, retry_after.as_deref());
    }
    if req.method().as_str() == "POST" && req.path() == "/v1.0/me/events" {
        if let Some((status, retry_after)) = s.fail_creates.next() {
            return scripted_error(req, status, retry_after.as_deref());
        }
    }
    let user = match bearer(req).and_then(|t| s.access.get(&t)) {
        Some(a) if a.valid => s.users[&a.user].clone(),
        _ => {
            return graph_error(
                req,
                401,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
                None,
            )
        }
    };
    let segments = segments_after(req, GRAPH_PREFIX).unwrap_or_default();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (req.method().as_str(), segments.as_slice()) {
        ("GET", ["me"]) => {
            let me = json!({
                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
                "businessPhones": [],
                "displayName": user.display_name(),
                "givenName": user.display_name(),
                "surname": null,
                "jobTitle": null,
                "mail": user.mail,
                "mobilePhone": null,
                "officeLocation": null,
                "preferredLanguage": "en-US",
                "userPrincipalName": user.upn,
                "id": stable_uuid(&user.key()),
            });
            json_response(200, &me, GRAPH_JSON, None)
        }
        ("POST", ["me", "calendar", "getSchedule"]) => get_schedule(s, req, &user, body),
        ("POST", ["me", "events"]) => create_event(s, req, &user, body),
        ("GET", ["me", "events"]) => list_events(s, req, &user),
        ("GET", ["me", "events", id]) => match find_live(s, &user, id) {
            Some(e) => json_response(200, &e.event, GRAPH_JSON, None),
            None => item_not_found(req),
        },
        ("PATCH", ["me", "events", id]) => patch_event(s, req, &user, id, body),
        ("DELETE", ["me", "events", id]) => match find_live(s, &user, id) {
            Some(e) => {
                e.deleted = true;
                HttpResponse::NoContent().finish()
            }
            None => item_not_found(req),
        },
        _ => graph_error(
            req,
            400,
            "BadRequest",
            &format!(
                "Resource not found for the segment '{}'.",
                segments.last().copied().unwrap_or_default()
            ),
            None,
        ),
    }
}

fn find_live<'a>(s: &'a mut State, user: &User, id: &str) -> Option<&'a mut Stored> {
    s.events
        .get_mut(&user.key())?
        .iter_mut()
        .find(|e| !e.deleted && e.event["id"] == id)
}

/// Graph's `dateTimeTimeZone` time: seven fraction digits, no offset.
fn graph_time(t: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

enum TimeError {
    Missing,
    Zone(String),
}

/// A `{"dateTime","timeZone"}` as UTC: dateTime with or without fraction digits and without offset (an
/// offset is tolerated), timeZone "UTC" or an IANA name.
fn parse_graph_time(v: Option<&Value>) -> Result<DateTime<Utc>, TimeError> {
    let v = v.ok_or(TimeError::Missing)?;
    let date_time = str_field(v, "dateTime").ok_or(TimeError::Missing)?;
    let zone = str_field(v, "timeZone").ok_or(TimeError::Missing)?;
    if let Ok(t) = DateTime::parse_from_rfc3339(date_time) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(date_time, "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|_| TimeError::Missing)?;
    if zone.eq_ignore_ascii_case("UTC") {
        return Ok(Utc.from_utc_datetime(&naive));
    }
    let tz: chrono_tz::Tz = zone
        .parse()
        .map_err(|_| TimeError::Zone(zone.to_string()))?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or(TimeError::Missing)
}

fn parse_body(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, Box<HttpResponse>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(Box::new(graph_error(
            req,
            400,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            None,
        ))),
    }
}

fn availability_digit(status: &str) -> u8 {
    match status {
        "tentative" => 1,
        "busy" => 2,
        "oof" => 3,
        "workingElsewhere" => 4,
        _ => 0,
    }
}

/// Which status wins when items overlap a slot.
fn availability_rank(digit: u8) -> u8 {
    match digit {
        3 => 4,
        2 => 3,
        1 => 2,
        4 => 1,
        _ => 0,
    }
}

fn get_schedule(s: &mut State, req: &HttpRequest, user: &User, body: &[u8]) -> HttpResponse {
    let body = match parse_body(req, body) {
        Ok(b) => b,
        Err(e) => return *e,
    };
    let bad = |message: &str| graph_error(req, 400, "ErrorInvalidParameter", message, None);
    let window = |name: &str| match parse_graph_time(body.get(name)) {
        Ok(t) => Ok(t),
        Err(TimeError::Zone(z)) => Err(Box::new(graph_error(
            req,
            400,
            "ErrorInvalidTimeZone",
            &format!("The time zone '{z}' is not supported."),
            None,
        ))),
        Err(TimeError::Missing) => Err(Box::new(bad(&format!("{name} is missing or invalid.")))),
    };
    let (start, end) = match (window("startTime"), window("endTime")) {
        (Ok(start), Ok(end)) => (start, end),
        (Err(e), _) | (_, Err(e)) => return *e,
    };
    if end <= start {
        return bad("endTime must be after startTime.");
    }
    let interval = match body.get("availabilityViewInterval") {
        None => 30,
        Some(v) => match v.as_i64() {
            Some(i) if (5..=1440).contains(&i) => i,
            _ => return bad("availabilityViewInterval must be between 5 and 1440."),
        },
    };
    let Some(schedules) = body.get("schedules").and_then(Value::as_array) else {
        return bad("schedules is required.");
    };
    // The account's items: set_busy blocks of its addresses, then its live events.
    let mut items: Vec<(DateTime<Utc>, DateTime<Utc>, String, String)> = Vec::new();
    for (address, blocks) in &s.busy {
        if user.owns(address) {
            for &(from, to, status) in blocks {
                items.push((from, to, status.to_string(), String::new()));
            }
        }
    }
    for e in s.events.get(&user.key()).into_iter().flatten() {
        if e.deleted {
            continue;
        }
        let from = parse_graph_time(e.event.get("start"));
        let to = parse_graph_time(e.event.get("end"));
        if let (Ok(from), Ok(to)) = (from, to) {
            let status = str_field(&e.event, "showAs").unwrap_or("busy").to_string();
            let subject = str_field(&e.event, "subject")
                .unwrap_or_default()
                .to_string();
            items.push((from, to, status, subject));
        }
    }
    items.retain(|(from, to, _, _)| *from < end && *to > start);
    items.sort_by_key(|a| (a.0, a.1));

    let step = Duration::minutes(interval);
    let mut view = String::new();
    let mut slot = start;
    while slot < end {
        let slot_end = slot + step;
        let digit = items
            .iter()
            .filter(|(from, to, _, _)| *from < slot_end && *to > slot)
            .map(|(_, _, status, _)| availability_digit(status))
            .max_by_key(|d| availability_rank(*d))
            .unwrap_or(0);
        view.push(char::from(b'0' + digit));
        slot = slot_end;
    }
    let schedule_items: Vec<Value> = items
        .iter()
        .map(|(from, to, status, subject)| {
            json!({
                "isPrivate": false,
                "status": status,
                "subject": subject,
                "location": "",
                "isMeeting": !subject.is_empty(),
                "isRecurring": false,
                "isException": false,
                "isReminderSet": false,
                "start": {"dateTime": graph_time(*from), "timeZone": "UTC"},
                "end": {"dateTime": graph_time(*to), "timeZone": "UTC"},
            })
        })
        .collect();
    let value: Vec<Value> = schedules
        .iter()
        .map(|id| {
            let address = id.as_str().unwrap_or_default();
            if user.owns(address) {
                json!({
                    "scheduleId": address,
                    "availabilityView": view,
                    "scheduleItems": schedule_items,
                })
            } else {
                json!({
                    "scheduleId": address,
                    "error": {
                        "message": format!("The mailbox '{address}' was not found or is not accessible."),
                        "responseCode": "ErrorMailboxNotFound",
                    },
                })
            }
        })
        .collect();
    s.schedules += 1;
    let answer = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)",
        "value": value,
    });
    json_response(200, &answer, GRAPH_JSON, None)
}

/// Applies the fields of a create or patch body: times to UTC with seven fraction digits, attendees with a
/// response status, and a Teams meeting when `isOnlineMeeting` is true.
fn apply_fields(
    req: &HttpRequest,
    event: &mut Map<String, Value>,
    fields: Map<String, Value>,
) -> Result<(), Box<HttpResponse>> {
    const READ_ONLY: &[&str] = &[
        "id",
        "@odata.etag",
        "createdDateTime",
        "lastModifiedDateTime",
        "changeKey",
        "iCalUId",
        "webLink",
        "onlineMeeting",
        "organizer",
        "isOrganizer",
    ];
    for (name, mut value) in fields {
        if READ_ONLY.contains(&name.as_str()) {
            continue;
        }
        match name.as_str() {
            "start" | "end" => {
                let t = match parse_graph_time(Some(&value)) {
                    Ok(t) => t,
                    Err(TimeError::Zone(z)) => {
                        return Err(Box::new(graph_error(
                            req,
                            400,
                            "TimeZoneNotSupportedException",
                            &format!("A valid TimeZone value must be specified. The following TimeZone value is not supported: '{z}'."),
                            None,
                        )))
                    }
                    Err(TimeError::Missing) => {
                        return Err(Box::new(graph_error(
                            req,
                            400,
                            "ErrorInvalidRequest",
                            &format!("The event's '{name}' must have a dateTime and a timeZone."),
                            None,
                        )))
                    }
                };
                let zone = str_field(&value, "timeZone").unwrap_or("UTC").to_string();
                let original = if name == "start" {
                    "originalStartTimeZone"
                } else {
                    "originalEndTimeZone"
                };
                event.insert(original.into(), json!(zone));
                event.insert(name, json!({"dateTime": graph_time(t), "timeZone": "UTC"}));
            }
            "attendees" => {
                for attendee in value.as_array_mut().into_iter().flatten() {
                    if let Some(a) = attendee.as_object_mut() {
                        a.entry("type").or_insert(json!("required"));
                        a.entry("status")
                            .or_insert(json!({"response": "none", "time": "0001-01-01T00:00:00Z"}));
                    }
                }
                event.insert(name, value);
            }
            "body" => {
                let content = str_field(&value, "content").unwrap_or_default().to_string();
                let preview: String = content.chars().take(255).collect();
                event.insert("bodyPreview".into(), json!(preview));
                event.insert(name, value);
            }
            _ => {
                event.insert(name, value);
            }
        }
    }
    let online = event.get("isOnlineMeeting").and_then(Value::as_bool) == Some(true);
    if online && event.get("onlineMeeting").is_none_or(Value::is_null) {
        let thread = random_from(b"abcdefghijklmnopqrstuvwxyz0123456789", 32);
        let join_url = format!(
            "https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0?context=%7b%22Tid%22%3a%22{TENANT_ID}%22%7d"
        );
        event.insert("onlineMeeting".into(), json!({"joinUrl": join_url}));
        event.insert("onlineMeetingUrl".into(), Value::Null);
        let provider = event
            .get("onlineMeetingProvider")
            .and_then(Value::as_str)
            .filter(|p| *p != "unknown")
            .unwrap_or("teamsForBusiness")
            .to_string();
        event.insert("onlineMeetingProvider".into(), json!(provider));
    }
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    let change_key = random_b64url(21);
    event.insert("lastModifiedDateTime".into(), json!(now));
    event.insert("@odata.etag".into(), json!(format!("W/\"{change_key}\"")));
    event.insert("changeKey".into(), json!(change_key));
    Ok(())
}

fn create_event(s: &mut State, req: &HttpRequest, user: &User, body: &[u8]) -> HttpResponse {
    let body = match parse_body(req, body) {
        Ok(b) => b,
        Err(e) => return *e,
    };
    for required in ["subject", "start", "end"] {
        if !body.contains_key(required) {
            return graph_error(
                req,
                400,
                "ErrorInvalidRequest",
                &format!("The event's '{required}' is required."),
                None,
            );
        }
    }
    let id = format!("AAMkAG{}", random_b64url(105));
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    let address = user.address().to_string();
    let mut event = Map::new();
    event.insert("id".into(), json!(id));
    event.insert("createdDateTime".into(), json!(now));
    event.insert("categories".into(), json!([]));
    event.insert("transactionId".into(), Value::Null);
    event.insert(
        "iCalUId".into(),
        json!(format!(
            "040000008200E00074C5B7101A82E008{}",
            stable_hex(&id)[..48].to_uppercase()
        )),
    );
    event.insert("reminderMinutesBeforeStart".into(), json!(15));
    event.insert("isReminderOn".into(), json!(true));
    event.insert("hasAttachments".into(), json!(false));
    event.insert("importance".into(), json!("normal"));
    event.insert("sensitivity".into(), json!("normal"));
    event.insert("isAllDay".into(), json!(false));
    event.insert("isCancelled".into(), json!(false));
    event.insert("isOrganizer".into(), json!(true));
    event.insert("responseRequested".into(), json!(true));
    event.insert("showAs".into(), json!("busy"));
    event.insert("type".into(), json!("singleInstance"));
    event.insert(
        "webLink".into(),
        json!(format!(
            "https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item",
            id.replace('-', "%2F").replace('_', "%2B")
        )),
    );
    event.insert("isOnlineMeeting".into(), json!(false));
    event.insert("onlineMeetingProvider".into(), json!("unknown"));
    event.insert("onlineMeeting".into(), Value::Null);
    event.insert("isDraft".into(), json!(false));
    event.insert("body".into(), json!({"contentType": "text", "content": ""}));
    event.insert("bodyPreview".into(), json!(""));
    event.insert("attendees".into(), json!([]));
    event.insert(
        "location".into(),
        json!({"displayName": "", "locationType": "default", "uniqueIdType": "unknown"}),
    );
    event.insert(
        "organizer".into(),
        json!({"emailAddress": {"name": user.display_name(), "address": address}}),
    );
    if let Err(e) = apply_fields(req, &mut event, body) {
        return *e;
    }
    let event = Value::Object(event);
    s.events.entry(user.key()).or_default().push(Stored {
        event: event.clone(),
        deleted: false,
    });
    s.creates += 1;
    if std::mem::take(&mut s.lose_next_create) {
        return scripted_error(req, 503, None);
    }
    json_response(201, &event, GRAPH_JSON, None)
}

/// `transactionId eq 'X'` → X (OData: `''` inside the quotes is one `'`).
fn transaction_filter(filter: &str) -> Option<String> {
    let mut words = filter.trim().splitn(3, char::is_whitespace);
    let property = words.next()?;
    let op = words.next()?;
    let literal = words.next()?.trim();
    if !property.eq_ignore_ascii_case("transactionId") || !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    let inner = literal.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

fn list_events(s: &mut State, req: &HttpRequest, user: &User) -> HttpResponse {
    let q = query(req);
    let wanted = match q.get("$filter") {
        None => None,
        Some(filter) => match transaction_filter(filter) {
            Some(t) => Some(t),
            None => {
                return graph_error(
                    req,
                    400,
                    "BadRequest",
                    &format!("Invalid filter clause: this fake supports only transactionId eq '…', got '{filter}'."),
                    None,
                )
            }
        },
    };
    let value: Vec<Value> = s
        .events
        .get(&user.key())
        .into_iter()
        .flatten()
        .filter(|e| !e.deleted)
        .filter(|e| {
            wanted
                .as_deref()
                .is_none_or(|t| str_field(&e.event, "transactionId") == Some(t))
        })
        .map(|e| e.event.clone())
        .collect();
    let answer = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('me')/events",
        "value": value,
    });
    json_response(200, &answer, GRAPH_JSON, None)
}

fn patch_event(
    s: &mut State,
    req: &HttpRequest,
    user: &User,
    id: &str,
    body: &[u8],
) -> HttpResponse {
    let fields = match parse_body(req, body) {
        Ok(b) => b,
        Err(e) => return *e,
    };
    let Some(stored) = find_live(s, user, id) else {
        return item_not_found(req);
    };
    let Value::Object(event) = &stored.event else {
        unreachable!("events are stored as objects")
    };
    let mut event = event.clone();
    if let Err(e) = apply_fields(req, &mut event, fields) {
        return *e;
    }
    stored.event = Value::Object(event);
    json_response(200, &stored.event, GRAPH_JSON, None)
}
