//! The chat service's API: team availability, and booking, reading, cancelling and rescheduling meetings.

use actix_web::http::header::ContentType;
use actix_web::{get, post, web, HttpRequest, HttpResponse, ResponseError};
use uuid::Uuid;

use super::auth::Chat;
use super::extract::{ApiJson, ApiQuery, OptionalJson};
use super::problem::{slot_taken, PROBLEM_JSON};
use super::views::{alternative_views, booking_view, AvailabilityAnswer, BookingView};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::usecase::availability::{team_availability, AvailabilityQuery};
use crate::usecase::booking::{
    self, book, BookOutcome, BookingRequest, CancelRequest, IdempotencyContext, Replay,
    RescheduleOutcome, RescheduleRequest,
};

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
    let timer = app.metrics.availability_duration.start_timer();
    let answer = team_availability(&app, &team, &query.0).await;
    timer.observe_duration();
    Ok(web::Json(answer?.into()))
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
    let outcome = match idempotency_key(&req) {
        Ok(key) => {
            let ctx = IdempotencyContext {
                scope: &caller.0.token_hash,
                key: key.as_deref(),
                body: &body.raw,
            };
            book(&app, &body.value, ctx).await.map_err(AppError::from)
        }
        Err(e) => Err(e),
    };
    let counted = match &outcome {
        // The same key again: an answer from storage, not a new booking (nor a new lost race).
        Ok(BookOutcome::Replayed(_)) => Some("replayed"),
        Ok(BookOutcome::Booked(_)) => Some("booked"),
        Ok(BookOutcome::SlotTaken(_)) => Some("slot_taken"),
        Err(e) if e.status_code().is_client_error() => Some("refused"),
        Err(_) => None,
    };
    if let Some(outcome) = counted {
        let team = booking_team_label(&app, &body.value.team, outcome).await;
        app.metrics
            .bookings
            .with_label_values(&[team.as_str(), outcome])
            .inc();
    }
    Ok(match outcome? {
        BookOutcome::Booked(b) | BookOutcome::Replayed(Replay::Booked(b)) => {
            HttpResponse::Created().json(booking_view(&b, &app.config))
        }
        BookOutcome::SlotTaken(a) | BookOutcome::Replayed(Replay::SlotTaken(a)) => {
            slot_taken(&alternative_views(&a))
        }
        // Recorded by an earlier version as the bytes it answered.
        BookOutcome::Replayed(Replay::Legacy { booked, body }) => {
            let (mut answer, content_type) = if booked {
                (HttpResponse::Created(), ContentType::json().to_string())
            } else {
                (HttpResponse::Conflict(), PROBLEM_JSON.to_owned())
            };
            answer
                .insert_header(("content-type", content_type))
                .body(body)
        }
    })
}

/// The `team` label of a counted booking: the request's slug when that team exists, else `unknown`, so
/// callers cannot grow the label's values. A new booking or lost race was checked against the team already.
async fn booking_team_label(app: &App, slug: &str, outcome: &str) -> String {
    const UNKNOWN: &str = "unknown";
    let slug = slug.trim();
    if matches!(outcome, "booked" | "slot_taken") {
        return slug.to_owned();
    }
    // The team snapshot (cached) rather than a read of its own: replays come in bursts of retries.
    match app.store.team_snapshot(slug).await {
        Ok(Some(snapshot)) => snapshot.team.slug.to_string(),
        Ok(None) => UNKNOWN.to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "team unknown for the bookings metric");
            UNKNOWN.to_owned()
        }
    }
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
    let b = booking::read(&app, parse_id(&id, "booking")?).await?;
    Ok(web::Json(booking_view(&b, &app.config)))
}

/// Cancels the booking and frees its slot (a second cancel answers the cancelled booking).
#[utoipa::path(
    tag = "chat",
    params(("id" = Uuid, Path)),
    request_body = Option<CancelRequest>,
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
    let b = booking::cancel(&app, parse_id(&id, "booking")?, &body.0).await?;
    Ok(web::Json(booking_view(&b, &app.config)))
}

/// Moves the booking to another slot: the same agent when free then, else the rotation picks.
#[utoipa::path(
    tag = "chat",
    params(("id" = Uuid, Path)),
    request_body = RescheduleRequest,
    responses(
        (status = 200, body = BookingView),
        (status = 404, description = "unknown booking", content_type = "application/problem+json"),
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
) -> AppResult<HttpResponse> {
    let id = parse_id(&id, "booking")?;
    Ok(match booking::reschedule(&app, id, &body.value).await? {
        RescheduleOutcome::Moved(b) | RescheduleOutcome::Unchanged(b) => {
            HttpResponse::Ok().json(booking_view(&b, &app.config))
        }
        RescheduleOutcome::SlotTaken(a) => slot_taken(&alternative_views(&a)),
    })
}
