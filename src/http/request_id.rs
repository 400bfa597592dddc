//! `x-request-id` on every answer: the caller's when it sent one (sane length and characters), else a new
//! UUIDv7. The id is scoped to the request's task so problem bodies and logs can repeat it, and each request
//! runs inside a `request` tracing span carrying `request_id`, so every log line it writes names it (JSON
//! logs: `"span":{"request_id":…}`). One line per request, `request served`, gives method, route pattern
//! (never the raw path: links carry signed tokens), status and duration; probes and scrapes at debug level.
//! The same place counts the request in `rondo_http_requests_total` and times it in
//! `rondo_http_request_duration_seconds`, labelled by that route pattern (`unmatched` when none matched).

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, Error};
use tracing::Instrument;

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
    let span = tracing::info_span!("request", request_id = %id);
    async move {
        let started = std::time::Instant::now();
        let mut res = match REQUEST_ID.scope(id.clone(), inner).await {
            Ok(res) => res,
            Err(e) => {
                tracing::warn!(error = %e, "request failed before an answer");
                return Err(e);
            }
        };
        log_served(&res, started.elapsed());
        if let Ok(v) = HeaderValue::from_str(&id) {
            res.headers_mut().insert(HeaderName::from_static(HEADER), v);
        }
        Ok(res)
    }
    .instrument(span)
    .await
}

fn log_served(res: &ServiceResponse, elapsed: std::time::Duration) {
    let req = res.request();
    let pattern = req.match_pattern();
    let method = req.method().as_str();
    let status = res.status().as_u16();
    if let Some(app) = req.app_data::<web::Data<crate::app::App>>() {
        app.metrics
            .observe_http(pattern.as_deref(), method, status, elapsed);
    }
    let route = pattern.as_deref().unwrap_or("-");
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    if matches!(route, "/healthz" | "/readyz" | "/metrics") {
        tracing::debug!(method, route, status, elapsed_ms, "request served");
    } else {
        tracing::info!(method, route, status, elapsed_ms, "request served");
    }
}
