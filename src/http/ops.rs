//! Operations endpoints (liveness, readiness, the OpenAPI document) and the pull feed of activities.

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::Reader;
use super::extract::ApiQuery;
use crate::app::App;
use crate::domain::model::ActivityType;
use crate::error::{AppError, AppResult, Problems};
use crate::metrics::OutboxSnapshot;
use crate::store::{ActivityFilter, ActivityRow, FeedCursor};
use crate::usecase::availability::parse_instant;

/// What `/healthz` and `/readyz` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OpsStatus {
    /// `ok` (healthz), `ready`, or why the service is not ready (`migrations pending`, `database unreachable`).
    pub status: String,
}

#[utoipa::path(tag = "ops", responses((status = 200, description = "the process is up", body = OpsStatus)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[utoipa::path(
    tag = "ops",
    responses(
        (status = 200, description = "database reachable, migrations applied", body = OpsStatus),
        (status = 503, description = "database unreachable or migrations pending", body = OpsStatus),
    )
)]
#[get("/readyz")]
pub async fn readyz(app: web::Data<App>) -> HttpResponse {
    match app.store.ready().await {
        Ok(true) => HttpResponse::Ok().json(serde_json::json!({"status": "ready"})),
        Ok(false) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "migrations pending"})),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"status": "database unreachable"}))
        }
    }
}

/// Prometheus text format: counters of this process and the outbox's job counts. Open, unless
/// `RONDO_METRICS_TOKEN` is set: then only a request bearing that token gets them.
#[utoipa::path(
    tag = "ops",
    responses(
        (status = 200, description = "Prometheus text exposition", content_type = "text/plain"),
        (status = 401, description = "RONDO_METRICS_TOKEN is set and the request does not bear it", content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
pub async fn metrics(app: web::Data<App>, req: HttpRequest) -> AppResult<HttpResponse> {
    if let Some(expected) = app.config.metrics_token.as_deref() {
        if !bearer_token(&req).is_some_and(|given| same_token(given, expected)) {
            return Err(AppError::Unauthorized);
        }
    }
    let counts = match app.store.job_counts().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "job counts unavailable for /metrics");
            Vec::new()
        }
    };
    let now = app.now();
    let oldest_due_seconds = match app.store.oldest_due_job(now).await {
        Ok(oldest) => oldest.map_or(0, |due| (now - due).num_seconds().max(0)),
        Err(e) => {
            tracing::warn!(error = %e, "oldest due job unavailable for /metrics");
            0
        }
    };
    let outbox = OutboxSnapshot {
        counts,
        oldest_due_seconds,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(app.metrics.render(&outbox)))
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether `given` is the configured token, in time that does not depend on where they differ: the
/// SHA-256 digests (fixed length) are compared in full, so response times cannot spell the token out.
fn same_token(given: &str, expected: &str) -> bool {
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(expected.trim().as_bytes()),
    );
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[get("/openapi.json")]
pub async fn openapi_json(doc: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(doc.get_ref())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivitiesQuery {
    /// Cursor: `next_cursor` of the previous page (default: from the beginning).
    pub after: Option<String>,
    /// At most this many (1-500, default 100).
    pub limit: Option<String>,
    /// Only this kind: `meeting.scheduled`, `meeting.cancelled` or `meeting.rescheduled`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// Only the meetings of this team (slug).
    pub team: Option<String>,
    /// Only the meetings of this agent (id).
    pub agent: Option<String>,
    /// Only the meetings of this visitor (email, case-insensitive).
    pub lead_email: Option<String>,
    /// Only activities that occurred at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Only activities that occurred before this instant (RFC 3339; after `from`).
    pub to: Option<String>,
}

/// Every filter of the feed checked, all bad fields reported at once.
fn filter_of(q: &ActivitiesQuery, problems: &mut Problems) -> ActivityFilter {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let kind = given(&q.kind).and_then(|k| {
        problems.check(
            "type",
            ActivityType::parse(&k)
                .ok_or("must be meeting.scheduled, meeting.cancelled or meeting.rescheduled"),
        )
    });
    let agent = given(&q.agent)
        .and_then(|a| problems.check("agent", Uuid::parse_str(&a).map_err(|_| "not an agent id")));
    let from = given(&q.from).and_then(|s| parse_instant("from", &s, problems));
    let to = given(&q.to).and_then(|s| parse_instant("to", &s, problems));
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            problems.add("to", "must be after `from`");
        }
    }
    ActivityFilter {
        kind,
        team: given(&q.team),
        agent,
        lead_email: given(&q.lead_email),
        from,
        to,
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActivityView {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: uuid::Uuid,
    pub occurred_at: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// Position in the feed; pass as `after` to continue from here.
    pub cursor: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActivityPage {
    pub activities: Vec<ActivityView>,
    /// Cursor of the last activity returned (or the one given, when none is new): poll with it.
    pub next_cursor: String,
}

/// The activities (meeting.scheduled, .cancelled, .rescheduled) in order, for consumers that pull.
#[utoipa::path(
    tag = "activities",
    params(ActivitiesQuery),
    responses((status = 200, body = ActivityPage), (status = 422, content_type = "application/problem+json")),
    security(("chat_token" = []), ("admin_token" = []))
)]
#[get("/v1/activities")]
pub async fn activities(
    app: web::Data<App>,
    _caller: Reader,
    q: ApiQuery<ActivitiesQuery>,
) -> AppResult<web::Json<ActivityPage>> {
    let mut problems = Problems::default();
    let after = match &q.0.after {
        Some(a) => problems.check(
            "after",
            FeedCursor::parse(a).ok_or("not a cursor from this feed"),
        ),
        None => Some(FeedCursor::default()),
    };
    let limit = problems.limit(q.0.limit.as_deref(), 100);
    let filter = filter_of(&q.0, &mut problems);
    problems.into_result()?;
    let (after, limit) = (after.unwrap_or_default(), limit.unwrap_or(100));
    let rows = app
        .store
        .activities_after(after, limit, &filter)
        .await
        .map_err(AppError::from)?;
    let next = rows.last().map(ActivityRow::cursor).unwrap_or(after);
    Ok(web::Json(ActivityPage {
        activities: rows
            .into_iter()
            .map(|r| ActivityView {
                cursor: r.cursor().to_string(),
                kind: r.kind,
                id: r.id,
                occurred_at: r.occurred_at.to_rfc3339(),
                data: r.data,
            })
            .collect(),
        next_cursor: next.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_configured_token_matches() {
        assert!(same_token("scrape-me-please", "scrape-me-please"));
        assert!(same_token("scrape-me-please", " scrape-me-please\n"));
        assert!(!same_token("scrape-me-pleasE", "scrape-me-please"));
        assert!(!same_token("scrape-me", "scrape-me-please"));
        assert!(!same_token("", "scrape-me-please"));
    }

    #[test]
    fn the_bearer_token_is_read_from_authorization() {
        let with = |v: &str| {
            actix_web::test::TestRequest::default()
                .insert_header(("authorization", v))
                .to_http_request()
        };
        assert_eq!(bearer_token(&with("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&with("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&with("Basic abc")), None);
        assert_eq!(bearer_token(&with("Bearer ")), None);
        let none = actix_web::test::TestRequest::default().to_http_request();
        assert_eq!(bearer_token(&none), None);
    }
}
