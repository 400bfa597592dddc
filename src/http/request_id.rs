//! `x-request-id` on every answer: the caller's when it sent one (sane length and characters), else a new
//! UUIDv7. The id is scoped to the request's task so problem bodies and logs can repeat it.

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::Error;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The id for this request: the caller's `x-request-id` when acceptable, else a new one.
pub fn request_id_of(req: &ServiceRequest) -> String {
    req.headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// Runs the rest of the request with its id in scope, and puts the id on the answer.
pub async fn scoped<F>(id: String, inner: F) -> Result<ServiceResponse, Error>
where
    F: std::future::Future<Output = Result<ServiceResponse, Error>>,
{
    let mut res = REQUEST_ID.scope(id.clone(), inner).await?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static(HEADER), v);
    }
    Ok(res)
}
