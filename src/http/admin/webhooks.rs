//! Webhook endpoints of marketing automation: create (the secret is shown once), list, delete, and each
//! endpoint's recent deliveries with their outcomes.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::App;
use crate::error::{AppError, AppResult, Problems};
use crate::http::auth::Admin;
use crate::http::chat::parse_id;
use crate::http::extract::ApiJson;
use crate::outbox::webhook::{self, new_secret};
use crate::store::{DeliveryRow, EndpointRow};

/// The event types an endpoint can subscribe to.
pub(crate) const EVENT_TYPES: [&str; 3] = [
    "meeting.scheduled",
    "meeting.cancelled",
    "meeting.rescheduled",
];

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    /// Where deliveries are POSTed (http or https, no `user:pass@`). Unless the service allows private
    /// destinations, a host that is or resolves only to a loopback, private, link-local, CGNAT, multicast
    /// or unspecified address is refused.
    pub url: String,
    /// Any of `meeting.scheduled`, `meeting.cancelled`, `meeting.rescheduled`.
    pub events: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndpointView {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    /// Set when deliveries stopped (the endpoint answered 410 Gone).
    pub disabled_reason: Option<String>,
    pub created_at: String,
    /// The signing secret (`whsec_…`): only in the answer that created the endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    pub activity_id: Uuid,
    /// `pending`, `delivered`, `failed` (will be tried again) or `dead`.
    pub status: String,
    pub attempts: u32,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn view(e: EndpointRow, with_secret: bool) -> EndpointView {
    EndpointView {
        id: e.id,
        url: e.url,
        events: e.events,
        disabled_reason: e.disabled_reason,
        created_at: e.created_at.to_rfc3339(),
        secret: with_secret.then_some(e.secret),
    }
}

/// One delivery as admins see it; `endpoint_url` is the endpoint's, kept out of `last_error`.
pub(crate) fn delivery_view(d: DeliveryRow, endpoint_url: &str) -> DeliveryView {
    DeliveryView {
        id: d.id,
        activity_id: d.activity_id,
        status: d.status,
        attempts: d.attempts,
        last_status_code: d.last_status_code,
        last_error: d.last_error.map(|e| webhook::redact_url(&e, endpoint_url)),
        created_at: d.created_at.to_rfc3339(),
        updated_at: d.updated_at.to_rfc3339(),
    }
}

#[utoipa::path(
    tag = "admin",
    request_body = EndpointInput,
    responses((status = 201, body = EndpointView), (status = 422, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[post("/admin/api/webhooks")]
pub async fn create_endpoint(
    app: web::Data<App>,
    _a: Admin,
    body: ApiJson<EndpointInput>,
) -> AppResult<HttpResponse> {
    let endpoint = add_endpoint(&app, body.value).await?;
    Ok(HttpResponse::Created().json(view(endpoint, true)))
}

/// Checks and stores a new endpoint (the API and the console both add endpoints here): the URL's shape,
/// and unless private destinations are allowed, where it points (the SSRF rules); at least one known event
/// type. Refused: 422 naming `url` or `events`, nothing stored. Stored: the endpoint with its secret in
/// clear, to be shown this once (it is kept sealed).
pub(crate) async fn add_endpoint(app: &App, input: EndpointInput) -> AppResult<EndpointRow> {
    let mut p = Problems::default();
    if let Some(url) = p.check("url", webhook::check_url_shape(&input.url)) {
        // Deliveries check again at every connection; this only spares the admin an endpoint that
        // could never receive anything.
        if !app.config.webhook_allow_private {
            p.check("url", webhook::check_destination(&url).await);
        }
    }
    if input.events.is_empty() {
        p.add("events", "name at least one event type");
    }
    for e in &input.events {
        if !EVENT_TYPES.contains(&e.as_str()) {
            p.add(
                "events",
                format!("`{e}` is not one of {}", EVENT_TYPES.join(", ")),
            );
        }
    }
    p.into_result()?;
    let mut events = input.events;
    events.sort();
    events.dedup();
    let id = Uuid::now_v7();
    let secret = new_secret();
    // Stored sealed (like OAuth tokens); shown in clear only in this answer.
    let mut endpoint = EndpointRow {
        id,
        url: input.url.trim().to_owned(),
        events,
        secret: app.keys.seal_text(&webhook::secret_owner(id), &secret),
        disabled_reason: None,
        created_at: app.now(),
    };
    app.store.insert_endpoint(&endpoint).await?;
    endpoint.secret = secret;
    Ok(endpoint)
}

#[utoipa::path(tag = "admin", responses((status = 200, body = [EndpointView])), security(("admin_token" = [])))]
#[get("/admin/api/webhooks")]
pub async fn list_endpoints(
    app: web::Data<App>,
    _a: Admin,
) -> AppResult<web::Json<Vec<EndpointView>>> {
    let all = app.store.list_endpoints().await?;
    Ok(web::Json(all.into_iter().map(|e| view(e, false)).collect()))
}

#[utoipa::path(
    tag = "admin",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[delete("/admin/api/webhooks/{id}")]
pub async fn delete_endpoint(
    app: web::Data<App>,
    _a: Admin,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    if !app
        .store
        .delete_endpoint(parse_id(&id, "webhook")?, app.now())
        .await?
    {
        return Err(AppError::NotFound("webhook"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The endpoint's most recent deliveries (newest first) and how each went.
#[utoipa::path(
    tag = "admin",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = [DeliveryView]), (status = 404, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[get("/admin/api/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    app: web::Data<App>,
    _a: Admin,
    id: web::Path<String>,
) -> AppResult<web::Json<Vec<DeliveryView>>> {
    let id = parse_id(&id, "webhook")?;
    let Some(endpoint) = app.store.endpoint(id).await? else {
        return Err(AppError::NotFound("webhook"));
    };
    let all = app.store.list_deliveries(id, 100).await?;
    Ok(web::Json(
        all.into_iter()
            .map(|d| delivery_view(d, &endpoint.url))
            .collect(),
    ))
}
