//! Request extractors that answer mistakes in our problem format: `ApiJson` (JSON body with the path of the
//! field at fault, unknown fields refused by the types themselves, 64 KiB at most) and `ApiQuery`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Largest request body accepted (API.md "Operations").
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON body, parsed, with the raw bytes kept (for idempotency hashing).
pub struct ApiJson<T> {
    pub value: T,
    pub raw: Bytes,
}

/// Turns a serde error with its path into the field name a client can act on.
fn field_of(path: &str, message: &str) -> String {
    let base = if path == "." || path.is_empty() {
        String::new()
    } else {
        path.to_owned()
    };
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    match (base.is_empty(), named) {
        (true, Some(n)) => n.to_owned(),
        (false, Some(n)) if base == n || base.ends_with(&format!(".{n}")) => base,
        (false, Some(n)) => format!("{base}.{n}"),
        (true, None) => "body".to_owned(),
        (false, None) => base,
    }
}

pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, AppError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(AppError::Malformed("the request needs a JSON body".into()));
    }
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(AppError::Malformed("the body must be a JSON object".into()));
    }
    let mut de = serde_json::Deserializer::from_slice(raw);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            AppError::Malformed(format!("invalid JSON: {inner}"))
        } else {
            let message = inner.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            AppError::Validation(vec![(field_of(&path, &message), message)])
        }
    })?;
    de.end()
        .map_err(|e| AppError::Malformed(format!("invalid JSON: {e}")))?;
    // Text with U+0000 in it cannot be stored (PostgreSQL's text refuses it) nor shown: refused up front,
    // naming the field. Only a body with the escape in it is looked at again.
    if raw.windows(6).any(|w| w == b"\\u0000") {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(raw) {
            if let Some(field) = nul_in(&v, String::new()) {
                return Err(AppError::Validation(vec![(field, NUL.into())]));
            }
        }
    }
    Ok(value)
}

const NUL: &str = "must not contain the NUL character (U+0000)";

/// The path of the first string (or key) in `v` holding U+0000.
fn nul_in(v: &serde_json::Value, path: String) -> Option<String> {
    let at = |p: &str| {
        if p.is_empty() {
            "body".to_owned()
        } else {
            p.to_owned()
        }
    };
    match v {
        serde_json::Value::String(s) if s.contains('\0') => Some(at(&path)),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_in(item, format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, item)| {
            let inner = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(at(&path))
            } else {
                nul_in(item, inner)
            }
        }),
        _ => None,
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = Bytes::from_request(req, payload);
        Box::pin(async move {
            let raw = bytes.await.map_err(read_error)?;
            let value = parse_json(&raw)?;
            Ok(ApiJson { value, raw })
        })
    }
}

/// A JSON body that may be left out entirely (then the type's default), for requests whose fields are all
/// optional, like a cancel without a reason.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = Bytes::from_request(req, payload);
        Box::pin(async move {
            let raw = bytes.await.map_err(read_error)?;
            if raw.iter().all(|b| b.is_ascii_whitespace()) {
                return Ok(OptionalJson(T::default()));
            }
            parse_json(&raw).map(OptionalJson)
        })
    }
}

fn read_error(e: actix_web::Error) -> AppError {
    if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge
    } else {
        AppError::Malformed(format!("could not read the body: {e}"))
    }
}

/// Query parameters; a query that does not fit the type is a 422 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiQuery<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let query = req.query_string();
        if query.contains("%00") {
            let named = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
                .ok()
                .and_then(|pairs| {
                    pairs
                        .into_iter()
                        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
                })
                .map(|(k, _)| k.replace('\0', ""));
            if let Some(name) = named {
                return std::future::ready(Err(AppError::Validation(vec![(name, NUL.into())])));
            }
        }
        let parsed = serde_urlencoded::from_str::<T>(query).map_err(|e| {
            let message = e.to_string();
            AppError::Validation(vec![(field_of("", &message), message)])
        });
        std::future::ready(parsed.map(ApiQuery))
    }
}

/// For a PATCH field where `null` means something (clear it): absent → None, `null` → Some(None), a value →
/// Some(Some(v)). Use with `#[serde(default, deserialize_with = "present")]`.
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}

/// Reads a whole body of at most `limit` bytes (for the few routes that take more than `MAX_BODY`).
pub async fn read_body(mut body: actix_web::web::Payload, limit: usize) -> Result<Bytes, AppError> {
    use futures_util::StreamExt;
    let mut out = actix_web::web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| AppError::Malformed(format!("could not read the body: {e}")))?;
        if out.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        email: String,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        visitor: Inner,
        n: Option<u32>,
    }

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::Validation(v) => v.into_iter().map(|(f, _)| f).collect(),
            other => vec![format!("not validation: {other}")],
        }
    }

    #[test]
    fn names_the_field_at_fault() {
        assert_eq!(
            fields(parse_json::<Outer>(br#"{"visitor":{"email":"a","x":1}}"#).unwrap_err()),
            ["visitor.x"]
        );
        assert_eq!(
            fields(parse_json::<Outer>(br#"{"visitor":{}}"#).unwrap_err()),
            ["visitor.email"]
        );
        assert_eq!(
            fields(parse_json::<Outer>(br#"{"visitor":{"email":"a"},"n":"7"}"#).unwrap_err()),
            ["n"]
        );
        assert_eq!(
            fields(parse_json::<Outer>(br#"{}"#).unwrap_err()),
            ["visitor"]
        );
        assert!(matches!(
            parse_json::<Outer>(b"{").unwrap_err(),
            AppError::Malformed(_)
        ));
        assert!(matches!(
            parse_json::<Outer>(br#"{"visitor":{"email":"a"}} x"#).unwrap_err(),
            AppError::Malformed(_)
        ));
        assert!(matches!(
            parse_json::<Outer>(b" [] ").unwrap_err(),
            AppError::Malformed(_)
        ));
        assert!(matches!(
            parse_json::<Outer>(b"").unwrap_err(),
            AppError::Malformed(_)
        ));
    }
}
