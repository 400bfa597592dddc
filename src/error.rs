//! The one error type of the use cases. Each variant says what the client did or what failed; `http::problem`
//! turns it into an RFC 7807 answer with a stable `type`.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 422: fields that do not hold what they must; (field, message) pairs.
    #[error("invalid request")]
    Validation(Vec<(String, String)>),
    /// 400: the body is not JSON, or not the JSON object this endpoint takes.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// 404: no such resource.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409: the request conflicts with the resource's state (`kind` is the problem type's last segment).
    #[error("{detail}")]
    Conflict { kind: &'static str, detail: String },
    /// 400: a booking without an Idempotency-Key header.
    #[error("missing idempotency key")]
    MissingIdempotencyKey,
    /// 422: the key was used before with another body.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    /// 409: the first request with this key is still running.
    #[error("idempotency key in flight")]
    IdempotencyKeyInFlight,
    /// 401: no bearer token, or one we do not know.
    #[error("unauthorized")]
    Unauthorized,
    /// 403: a known token of the wrong role.
    #[error("forbidden")]
    Forbidden,
    /// 429: the token's request budget is spent; try again after this many seconds.
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// 405: the path exists but not with this method; the methods it takes.
    #[error("method not allowed")]
    MethodNotAllowed { allow: Vec<&'static str> },
    /// 413: the request body is too large.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 500: our fault; logged with context, shown as a generic message.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(vec![(field.into(), message.into())])
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Db(e) => e.into(),
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        // Text PostgreSQL cannot hold (U+0000) that reached it from an input no extractor checks (a form
        // field, a path segment): the request's fault, and the write was rolled back.
        if let sqlx::Error::Database(db) = &e {
            if matches!(db.code().as_deref(), Some("22021" | "22P05")) {
                return AppError::Malformed(
                    "text must not contain the NUL character (U+0000)".into(),
                );
            }
        }
        AppError::Internal(e.into())
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Collects validation failures so a client sees every bad field at once.
#[derive(Default)]
pub struct Problems(Vec<(String, String)>);

impl Problems {
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }
    /// Runs a parse; on failure records it under `field` and returns None.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }
    /// A page size from a query: 1 to 500, `default` when absent.
    pub fn limit(&mut self, raw: Option<&str>, default: u32) -> Option<u32> {
        match raw {
            None => Some(default),
            Some(l) => self.check(
                "limit",
                l.parse::<u32>()
                    .ok()
                    .filter(|l| (1..=500).contains(l))
                    .ok_or("must be 1 to 500"),
            ),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The (field, message) pairs collected so far.
    pub fn into_pairs(self) -> Vec<(String, String)> {
        self.0
    }

    pub fn into_result(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}
