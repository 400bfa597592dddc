//! The chat service's API: team availability, and booking, reading, cancelling and rescheduling meetings.

use actix_web::http::header::ContentType;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use super::auth::Chat;
use super::extract::{ApiJson, ApiQuery, OptionalJson};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::usecase::availability::{team_availability, AvailabilityAnswer, AvailabilityQuery};
use crate::usecase::booking::{
    book, cancel_booking, get_booking, reschedule_booking, BookingRequest, CancelRequest,
    IdempotencyContext, RescheduleRequest,
};
use crate::usecase::views::BookingView;

/// Free slots of a team, labelled in the visitor's zone.
#[utoipa::path(
    tag = "chat",
    params(("team" = String, Path, description = "team slug"), AvailabilityQuery),
    responses(
        (status = 200, body = AvailabilityAnswer),
        (status = 404, description = "unknown team", content_type = "application/problem+json"),
        (status = 422, description = "bad window, zone or duration", content_type = "application/problem+json"),
    ),
    security(("chat_token" = []))
)]
#[get("/v1/teams/{team}/availability")]
pub async fn availability(
    app: web::Data<App>,
    _caller: Chat,
    team: web::Path<String>,
    query: ApiQuery<AvailabilityQuery>,
) -> AppResult<web::Json<AvailabilityAnswer>> {
    Ok(web::Json(team_availability(&app, &team, &query.0).await?))
}

/// The Idempotency-Key header: bare, or a quoted string, at most 255 characters.
fn idempotency_key(req: &HttpRequest) -> AppResult<Option<String>> {
    let Some(raw) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let raw = raw
        .to_str()
        .map_err(|_| AppError::field("Idempotency-Key", "must be printable ASCII"))?
        .trim();
    let key = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(raw);
    if key.is_empty() || key.len() > 255 {
        return Err(AppError::field(
            "Idempotency-Key",
            "must be 1 to 255 characters",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// Books the slot with the next free agent in round-robin order.
#[utoipa::path(
    tag = "chat",
    request_body = BookingRequest,
    params(("Idempotency-Key" = String, Header, description = "client key; retries with the same key and body are safe")),
    responses(
        (status = 201, body = BookingView),
        (status = 400, description = "missing Idempotency-Key or malformed JSON", content_type = "application/problem+json"),
        (status = 409, description = "slot taken (with `alternatives`), or the key is in flight", content_type = "application/problem+json"),
        (status = 422, description = "invalid field, or key reused with another body", content_type = "application/problem+json"),
    ),
    security(("chat_token" = []))
)]
#[post("/v1/bookings")]
pub async fn create_booking(
    app: web::Data<App>,
    caller: Chat,
    req: HttpRequest,
    body: ApiJson<BookingRequest>,
) -> AppResult<HttpResponse> {
    let key = idempotency_key(&req)?;
    let ctx = IdempotencyContext {
        scope: &caller.0.token_hash,
        key: key.as_deref(),
        body: &body.raw,
    };
    let answer = book(&app, &body.value, ctx).await;
    let outcome = match &answer {
        // The same key again: an answer from storage, not a new booking (nor a new lost race).
        Ok(a) if a.replayed => Some("replayed"),
        Ok(a) if a.status == 201 => Some("booked"),
        Ok(a) if a.status == 409 => Some("slot_taken"),
        Err(AppError::SlotTaken { .. }) => Some("slot_taken"),
        _ => None,
    };
    if let Some(outcome) = outcome {
        app.metrics.bookings.with_label_values(&[outcome]).inc();
    }
    let answer = answer?;
    let status = actix_web::http::StatusCode::from_u16(answer.status)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored status: {e}")))?;
    let content_type = if answer.status >= 400 {
        super::problem::PROBLEM_JSON.to_owned()
    } else {
        ContentType::json().to_string()
    };
    Ok(HttpResponse::build(status)
        .insert_header(("content-type", content_type))
        .body(answer.body))
}

pub fn parse_id(raw: &str, what: &'static str) -> AppResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| AppError::NotFound(what))
}

#[utoipa::path(
    tag = "chat",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = BookingView), (status = 404, content_type = "application/problem+json")),
    security(("chat_token" = []))
)]
#[get("/v1/bookings/{id}")]
pub async fn read_booking(
    app: web::Data<App>,
    _caller: Chat,
    id: web::Path<String>,
) -> AppResult<web::Json<BookingView>> {
    Ok(web::Json(
        get_booking(&app, parse_id(&id, "booking")?).await?,
    ))
}

/// Cancels the booking and frees its slot (a second cancel answers the cancelled booking).
#[utoipa::path(
    tag = "chat",
    params(("id" = Uuid, Path)),
    request_body = CancelRequest,
    responses((status = 200, body = BookingView), (status = 404, content_type = "application/problem+json")),
    security(("chat_token" = []))
)]
#[post("/v1/bookings/{id}/cancel")]
pub async fn cancel(
    app: web::Data<App>,
    _caller: Chat,
    id: web::Path<String>,
    body: OptionalJson<CancelRequest>,
) -> AppResult<web::Json<BookingView>> {
    Ok(web::Json(
        cancel_booking(&app, parse_id(&id, "booking")?, &body.0).await?,
    ))
}

/// Moves the booking to another slot: the same agent when free then, else the rotation picks.
#[utoipa::path(
    tag = "chat",
    params(("id" = Uuid, Path)),
    request_body = RescheduleRequest,
    responses(
        (status = 200, body = BookingView),
        (status = 409, description = "slot taken (with `alternatives`) or booking cancelled", content_type = "application/problem+json"),
        (status = 422, content_type = "application/problem+json"),
    ),
    security(("chat_token" = []))
)]
#[post("/v1/bookings/{id}/reschedule")]
pub async fn reschedule(
    app: web::Data<App>,
    _caller: Chat,
    id: web::Path<String>,
    body: ApiJson<RescheduleRequest>,
) -> AppResult<web::Json<BookingView>> {
    Ok(web::Json(
        reschedule_booking(&app, parse_id(&id, "booking")?, &body.value).await?,
    ))
}
