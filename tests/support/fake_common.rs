//! Pieces shared by the fake Google and Microsoft servers: serving a synchronous handler over real HTTP on
//! 127.0.0.1, query/form/path decoding, OAuth client authentication, PKCE, unsigned JWTs, random tokens and
//! the "fail the next n API calls" script.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A fake's request handler: the whole request in, the whole answer out (the state is locked inside).
pub type Handler<S> = fn(&S, &HttpRequest, &[u8]) -> HttpResponse;

/// Serves `handle` for every path on a fresh 127.0.0.1 port; answers the base URL `http://127.0.0.1:PORT`.
pub fn serve<S: Send + Sync + 'static>(state: Arc<S>, handle: Handler<S>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let response = handle(&state, &req, &body);
            async move { response }
        }))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); invalid escapes stay as they are.
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `application/x-www-form-urlencoded` pairs (a query string or a form body); a repeated name keeps its
/// first value.
pub fn form_pairs(s: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        map.entry(percent_decode(name, true))
            .or_insert_with(|| percent_decode(value, true));
    }
    map
}

/// The request's query parameters.
pub fn query(req: &HttpRequest) -> HashMap<String, String> {
    form_pairs(req.query_string())
}

/// The path's segments after `prefix`, percent-decoded (`None` when the path does not start with it).
pub fn segments_after(req: &HttpRequest, prefix: &str) -> Option<Vec<String>> {
    let rest = req.path().strip_prefix(prefix)?;
    Some(rest.split('/').map(|s| percent_decode(s, false)).collect())
}

/// `uri` with `params` appended as a properly encoded query (after `?`, or `&` if it already has a query).
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let encoded = serde_urlencoded::to_string(params).unwrap();
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{encoded}")
}

/// The OAuth client's credentials: HTTP Basic (`client_secret_basic`, each half form-urlencoded as RFC 6749
/// §2.3.1 says) or `client_id`/`client_secret` in the form (`client_secret_post`). Both providers publish
/// both methods. `None` when neither is given or they disagree.
pub fn client_credentials(
    req: &HttpRequest,
    form: &HashMap<String, String>,
) -> Option<(String, String)> {
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
        })
        .and_then(|b64| STANDARD.decode(b64).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            Some((percent_decode(id, true), percent_decode(secret, true)))
        });
    let posted = form.get("client_id").map(|id| {
        (
            id.clone(),
            form.get("client_secret").cloned().unwrap_or_default(),
        )
    });
    match (basic, posted) {
        (Some(b), None) => Some(b),
        (None, Some(p)) => Some(p),
        (Some(b), Some(p)) if b.0 == p.0 && (p.1.is_empty() || p.1 == b.1) => Some(b),
        _ => None,
    }
}

/// The bearer token of the `Authorization` header.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// BASE64URL-NOPAD(SHA256(verifier)) == challenge: PKCE with `S256`.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

/// A JWT the way providers shape it, signed with nothing: `b64url(header).b64url(claims).b64url("fake-signature")`.
pub fn fake_jwt(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode("fake-signature")
    )
}

/// `prefix` followed by `len` random alphanumeric characters.
pub fn random_token(prefix: &str, len: usize) -> String {
    let tail: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect();
    format!("{prefix}{tail}")
}

/// `len` random characters drawn from `alphabet`.
pub fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

/// `len` random bytes, base64url without padding.
pub fn random_b64url(len: usize) -> String {
    let bytes: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `s`, hex: the source of identifiers that must stay stable per account.
pub fn stable_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A UUID-shaped identifier derived from `s` (stable per input).
pub fn stable_uuid(s: &str) -> String {
    let h = stable_hex(s);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A JSON answer with `status`, the given content type and an optional `Retry-After` (sent verbatim).
pub fn json_response(
    status: u16,
    body: &Value,
    content_type: &str,
    retry_after: Option<&str>,
) -> HttpResponse {
    let mut response = HttpResponse::build(StatusCode::from_u16(status).unwrap());
    response.insert_header(("content-type", content_type));
    if let Some(ra) = retry_after {
        response.insert_header(("retry-after", ra));
    }
    response.body(body.to_string())
}

/// A plain-text answer (the providers' error pages for broken authorize requests).
pub fn text_response(status: u16, text: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap())
        .insert_header(("content-type", "text/plain; charset=utf-8"))
        .body(text.to_string())
}

/// `302 Found` to `location`.
pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header(("location", location))
        .finish()
}

/// Scripted failures of the next API calls: (status, Retry-After), in order.
#[derive(Default)]
pub struct FailScript(VecDeque<(u16, Option<String>)>);

impl FailScript {
    pub fn push(&mut self, n: usize, status: u16, retry_after: Option<&str>) {
        for _ in 0..n {
            self.0.push_back((status, retry_after.map(str::to_string)));
        }
    }

    pub fn next(&mut self) -> Option<(u16, Option<String>)> {
        self.0.pop_front()
    }
}

/// A JSON object's field as a string.
pub fn str_field<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

/// A random UUID (version 4 layout), for request, trace and correlation ids.
pub fn random_uuid() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}
