//! RFC 7807 answers. Every `AppError` variant maps to one status and one stable `type` URI; validation
//! problems list the fields at fault under `errors`; server faults are logged with their cause and shown as
//! a generic message. Every problem repeats the request id.

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use super::request_id::current_request_id;
use super::views::SlotView;
use crate::error::AppError;

pub const PROBLEM_JSON: &str = "application/problem+json";
const TYPE_BASE: &str = "https://rondo.dev/problems/";

/// The 409 for a slot taken meanwhile: the next free slots instead.
pub fn slot_taken(alternatives: &[SlotView]) -> HttpResponse {
    let mut body = json!({
        "type": format!("{TYPE_BASE}slot-taken"),
        "title": "The slot is no longer free",
        "status": 409,
        "detail": "No agent of the team is free for this slot any more; pick one of the alternatives.",
        "alternatives": alternatives,
    });
    if let Some(id) = current_request_id() {
        body["request_id"] = json!(id);
    }
    HttpResponse::build(StatusCode::CONFLICT)
        .insert_header((header::CONTENT_TYPE, PROBLEM_JSON))
        .body(body.to_string())
}

impl AppError {
    fn kind(&self) -> (StatusCode, &'static str, &'static str) {
        use AppError::*;
        match self {
            Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "The request has invalid fields",
            ),
            Malformed(_) => (
                StatusCode::BAD_REQUEST,
                "malformed-request",
                "The request body is not valid JSON",
            ),
            NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Conflict { kind, .. } => (StatusCode::CONFLICT, kind, "Conflict"),
            MissingIdempotencyKey => (
                StatusCode::BAD_REQUEST,
                "idempotency-key-missing",
                "Idempotency-Key header required",
            ),
            IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key already used with another request body",
            ),
            IdempotencyKeyInFlight => (
                StatusCode::CONFLICT,
                "idempotency-key-in-flight",
                "A request with this Idempotency-Key is still being processed",
            ),
            Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Missing or unknown bearer token",
            ),
            Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "This token may not use this endpoint",
            ),
            RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    fn body(&self) -> serde_json::Value {
        let (status, kind, title) = self.kind();
        let mut body = json!({"type": format!("{TYPE_BASE}{kind}"), "title": title, "status": status.as_u16()});
        let detail = match self {
            AppError::Validation(fields) => {
                let mut errors: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for (f, m) in fields {
                    errors.entry(f.as_str()).or_default().push(m.as_str());
                }
                body["errors"] = json!(errors);
                Some(
                    fields
                        .iter()
                        .map(|(f, m)| format!("{f}: {m}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            }
            AppError::Malformed(d) => Some(d.clone()),
            AppError::NotFound(what) => Some(format!("No such {what}.")),
            AppError::Conflict { detail, .. } => Some(detail.clone()),
            AppError::RateLimited { retry_after_secs } => {
                Some(format!("Try again in {retry_after_secs} s."))
            }
            AppError::Internal(_) => {
                Some("Something went wrong on our side; it has been logged.".into())
            }
            _ => None,
        };
        if let Some(d) = detail {
            body["detail"] = json!(d);
        }
        if let Some(id) = current_request_id() {
            body["request_id"] = json!(id);
        }
        body
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.kind().0
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(e) = self {
            tracing::error!(error = ?e, request_id = current_request_id().as_deref().unwrap_or("-"), "request failed");
        }
        let mut resp = HttpResponse::build(self.status_code());
        resp.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if let AppError::RateLimited { retry_after_secs } = self {
            resp.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        if let AppError::Unauthorized = self {
            resp.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        resp.body(self.body().to_string())
    }
}

/// The booking verbs' errors as problems.
mod from_booking {
    use crate::error::AppError;
    use crate::usecase::booking::{BookError, CancelError, ReadError, RescheduleError};

    impl From<BookError> for AppError {
        fn from(e: BookError) -> Self {
            match e {
                BookError::Invalid(fields) => AppError::Validation(fields),
                BookError::MissingKey => AppError::MissingIdempotencyKey,
                BookError::KeyReused => AppError::IdempotencyKeyReused,
                BookError::KeyInFlight => AppError::IdempotencyKeyInFlight,
                BookError::Internal(e) => AppError::Internal(e),
            }
        }
    }

    impl From<ReadError> for AppError {
        fn from(e: ReadError) -> Self {
            match e {
                ReadError::NotFound => AppError::NotFound("booking"),
                ReadError::Internal(e) => AppError::Internal(e),
            }
        }
    }

    impl From<CancelError> for AppError {
        fn from(e: CancelError) -> Self {
            match e {
                CancelError::Invalid(fields) => AppError::Validation(fields),
                CancelError::NotFound => AppError::NotFound("booking"),
                CancelError::Internal(e) => AppError::Internal(e),
            }
        }
    }

    impl From<RescheduleError> for AppError {
        fn from(e: RescheduleError) -> Self {
            match e {
                RescheduleError::Invalid(fields) => AppError::Validation(fields),
                RescheduleError::NotFound => AppError::NotFound("booking"),
                RescheduleError::Cancelled(detail) => AppError::Conflict {
                    kind: "booking-cancelled",
                    detail: detail.to_owned(),
                },
                RescheduleError::Internal(e) => AppError::Internal(e),
            }
        }
    }
}
