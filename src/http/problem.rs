//! RFC 7807 answers. Every `AppError` variant maps to one status and one stable `type` URI; validation
//! problems list the fields at fault under `errors`; server faults are logged with their cause and shown as
//! a generic message. Every problem repeats the request id.

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, ObjectBuilder, OpenApi, Ref, RefOr, ResponseBuilder, Schema, Type};
use utoipa::{Modify, ToSchema};

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

// The schema of every problem response in the OpenAPI document; `AppError::body` and `slot_taken` write it
// (the test below holds them to it).
/// An RFC 7807 problem: how every error of the API is answered (`application/problem+json`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    /// Stable URI of the kind of problem, e.g. `https://rondo.dev/problems/validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The answer's `x-request-id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// 422: the messages for each field at fault, by the field's name (`visitor.email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
    /// 409 `slot-taken`: the next free slots (never the one asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternatives: Option<Vec<SlotView>>,
}

/// Documents, on every operation of the OpenAPI document, the problems the shared extractors can answer
/// whatever the handler declares, and gives every problem response the `Problem` schema:
/// - a bearer-token operation: 401 (no or unknown token) and 403 (a token of another role); chat-only
///   operations are rate limited too: 429 with `Retry-After` (`http::auth`);
/// - a JSON request body: 400 (not a JSON object), 413 (over 64 KiB) and 422 (a field of the wrong type,
///   an unknown field) (`http::extract::ApiJson`);
/// - query parameters: 422 (a query that does not fit them) (`http::extract::ApiQuery`).
pub struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                document_common_problems(op);
            }
        }
    }
}

fn document_common_problems(op: &mut Operation) {
    let schemes: Vec<String> = op
        .security
        .iter()
        .flatten()
        .filter_map(|r| serde_json::to_value(r).ok())
        .filter_map(|v| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()))
        .flatten()
        .collect();
    let responses = &mut op.responses.responses;
    let mut add = |status: &str, description: &str, header: Option<(&str, &str)>| {
        responses.entry(status.to_owned()).or_insert_with(|| {
            let mut r = ResponseBuilder::new()
                .description(description)
                .content(PROBLEM_JSON, Content::new(None::<RefOr<Schema>>));
            if let Some((name, text)) = header {
                r = r.header(
                    name,
                    HeaderBuilder::new()
                        .schema(ObjectBuilder::new().schema_type(Type::String))
                        .description(Some(text))
                        .build(),
                );
            }
            r.build().into()
        });
    };
    if !schemes.is_empty() {
        add(
            "401",
            "missing or unknown bearer token",
            Some(("WWW-Authenticate", "`Bearer`")),
        );
        // An operation open to every role (the activity feed) has no wrong role.
        let every_role = ["chat_token", "admin_token"]
            .iter()
            .all(|r| schemes.iter().any(|s| s == r));
        if !every_role {
            add("403", "a known token of another role", None);
        }
    }
    if !schemes.is_empty() && schemes.iter().all(|s| s == "chat_token") {
        add(
            "429",
            "over the chat token's requests per minute",
            Some(("Retry-After", "seconds to wait")),
        );
    }
    if op.request_body.is_some() {
        add(
            "400",
            "the body is malformed (JSON bodies: not a JSON object)",
            None,
        );
        add(
            "413",
            "the body is too large (JSON bodies: over 64 KiB)",
            None,
        );
        add("422", "invalid fields, named", None);
    }
    let has_query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Query);
    if has_query {
        add("422", "invalid query parameters, named", None);
    }
    let problem = RefOr::Ref(Ref::from_schema_name("Problem"));
    for response in op.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            if let Some(content) = response.content.get_mut(PROBLEM_JSON) {
                content.schema.get_or_insert_with(|| problem.clone());
            }
        }
    }
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
            MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "This path does not take this method",
            ),
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
        if let AppError::MethodNotAllowed { allow } = self {
            resp.insert_header((header::ALLOW, allow.join(", ")));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every problem body the service writes is a `Problem` (unknown fields refused): the schema the
    /// OpenAPI document gives problem responses lists every field they carry.
    #[test]
    fn every_problem_body_fits_the_problem_schema() {
        let errors = [
            AppError::Validation(vec![
                ("visitor.email".into(), "not an address".into()),
                ("start".into(), "off the step".into()),
            ]),
            AppError::Malformed("invalid JSON".into()),
            AppError::NotFound("booking"),
            AppError::Conflict {
                kind: "duplicate",
                detail: "a team with slug `sales` exists".into(),
            },
            AppError::MissingIdempotencyKey,
            AppError::IdempotencyKeyReused,
            AppError::IdempotencyKeyInFlight,
            AppError::Unauthorized,
            AppError::Forbidden,
            AppError::RateLimited {
                retry_after_secs: 7,
            },
            AppError::PayloadTooLarge,
            AppError::Internal(anyhow::anyhow!("boom")),
        ];
        for e in errors {
            let p: Problem = serde_json::from_value(e.body()).unwrap();
            assert_eq!(p.status, e.status_code().as_u16());
            assert!(p.kind.starts_with(TYPE_BASE), "{}", p.kind);
        }
        let taken = slot_taken(&[SlotView {
            start: "2026-11-23T10:00:00+01:00".into(),
            end: "2026-11-23T10:30:00+01:00".into(),
            local: "Mon 23 Nov 10:00".into(),
        }]);
        let body = actix_web::rt::System::new()
            .block_on(actix_web::body::to_bytes(taken.into_body()))
            .unwrap();
        let p: Problem = serde_json::from_slice(&body).unwrap();
        assert_eq!(p.status, 409);
        assert_eq!(p.alternatives.unwrap().len(), 1);
    }
}
