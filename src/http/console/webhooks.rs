//! Webhook endpoints in the browser: the list with each endpoint's recent deliveries, adding one (its
//! signing secret is shown once, on the page that answers the form), one endpoint's deliveries, and removing
//! one after a confirm step. Adding goes through `admin::webhooks::add_endpoint`, the admin API's own checks
//! (URL shape, SSRF rules, event types); an endpoint's URL is shown as `display_url` (scheme, host, port and
//! path), never with the userinfo or query where receivers keep their tokens.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::session::NotSignedIn;
use super::{failed, local_time, message, page, see_other, trouble, Console, CsrfForm};
use crate::app::App;
use crate::error::AppError;
use crate::http::admin::webhooks::{add_endpoint, delivery_view, EndpointInput, EVENT_TYPES};
use crate::outbox::webhook::display_url;
use crate::store::EndpointRow;

/// Deliveries shown per endpoint on the list; an endpoint's own page shows up to `ALL_DELIVERIES`.
const RECENT_DELIVERIES: u32 = 5;
const ALL_DELIVERIES: u32 = 50;

/// What people call each event type.
fn event_label(kind: &str) -> &'static str {
    match kind {
        "meeting.scheduled" => "Meeting scheduled",
        "meeting.cancelled" => "Meeting cancelled",
        "meeting.rescheduled" => "Meeting rescheduled",
        _ => "Other",
    }
}

#[derive(Debug, Serialize)]
struct DeliveryRowView {
    event: String,
    lead: String,
    /// `delivered`, `pending`, `failed` or `dead` (for the badge's colour).
    status: String,
    /// What the status means, in words.
    status_text: &'static str,
    attempts: u32,
    code: Option<u16>,
    error: String,
    when: String,
}

#[derive(Debug, Serialize)]
struct EndpointView {
    id: String,
    url: String,
    events: Vec<&'static str>,
    created: String,
    disabled_reason: Option<String>,
    deliveries: Vec<DeliveryRowView>,
    /// Whether there are more deliveries than shown.
    more: bool,
}

async fn endpoint_view(app: &App, c: &Console, e: EndpointRow, limit: u32) -> EndpointView {
    // One more than shown: whether to offer the endpoint's page with all of them.
    let rows = app
        .store
        .list_deliveries(e.id, limit + 1)
        .await
        .unwrap_or_else(|err| {
            tracing::error!(error = %err, "webhook deliveries for the console");
            Vec::new()
        });
    let more = rows.len() > limit as usize;
    let mut deliveries = Vec::new();
    for d in rows.into_iter().take(limit as usize) {
        let activity = app.store.activity(d.activity_id).await.ok().flatten();
        let updated = local_time(d.updated_at, c.zone);
        // The API's view of it: `last_error` with the endpoint's URL redacted.
        let v = delivery_view(d, &e.url);
        deliveries.push(DeliveryRowView {
            event: activity
                .as_ref()
                .map(|a| event_label(&a.kind).to_owned())
                .unwrap_or_else(|| "Event".into()),
            lead: activity
                .as_ref()
                .and_then(|a| a.data["visitor"]["email"].as_str().map(str::to_owned))
                .unwrap_or_default(),
            status_text: match v.status.as_str() {
                "delivered" => "Delivered",
                "pending" => "Waiting to send",
                "failed" => "Failed, will retry",
                "dead" => "Gave up",
                _ => "Unknown",
            },
            status: v.status,
            attempts: v.attempts,
            code: v.last_status_code,
            error: v.last_error.unwrap_or_default(),
            when: updated,
        });
    }
    EndpointView {
        id: e.id.to_string(),
        url: display_url(&e.url),
        events: e.events.iter().map(|k| event_label(k)).collect(),
        created: local_time(e.created_at, c.zone),
        disabled_reason: e.disabled_reason,
        deliveries,
        more,
    }
}

/// The add form as typed (kept when it is refused).
#[derive(Debug, Default, Serialize)]
struct AddForm {
    url: String,
    events: Vec<String>,
}

fn event_choices(checked: &[String]) -> Vec<Value> {
    EVENT_TYPES
        .iter()
        .map(|k| {
            context! {
                value => *k,
                label => event_label(k),
                id => format!("ev-{}", k.trim_start_matches("meeting.")),
                checked => checked.iter().any(|c| c == k),
            }
        })
        .collect()
}

/// The list page; `form` and `problems` when an add was refused.
async fn list_page(
    app: &App,
    c: &Console,
    form: AddForm,
    problems: BTreeMap<String, String>,
    notice: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let all = match app.store.list_endpoints().await {
        Ok(all) => all,
        Err(e) => return trouble(c, "Webhooks", "webhooks page", e),
    };
    let mut endpoints = Vec::new();
    for e in all {
        endpoints.push(endpoint_view(app, c, e, RECENT_DELIVERIES).await);
    }
    let choices = event_choices(&form.events);
    page(
        "webhooks.html",
        context! {
            console => c.view(), title => "Webhooks", nav => "webhooks",
            endpoints, form, choices, problems, notice,
        },
        status,
    )
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    removed: Option<String>,
}

#[get("/admin/webhooks")]
pub async fn list(app: web::Data<App>, c: Console, q: web::Query<ListQuery>) -> HttpResponse {
    let notice = q
        .removed
        .is_some()
        .then_some("Webhook removed. rondo sends nothing more to that URL.");
    let form = AddForm {
        url: String::new(),
        // A new endpoint usually wants every event.
        events: EVENT_TYPES.iter().map(|k| (*k).to_owned()).collect(),
    };
    list_page(&app, &c, form, BTreeMap::new(), notice, StatusCode::OK).await
}

/// Adds an endpoint. Refused: the list again with the problem beside its field, nothing stored. Added: a
/// page with the signing secret, the only time it is shown (no-store; its script points the history entry
/// at the endpoint's page, so reloading shows that page and never resends the form).
#[post("/admin/webhooks")]
pub async fn add(
    app: web::Data<App>,
    c: Console,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, NotSignedIn> {
    let mut csrf = String::new();
    let mut typed = AddForm::default();
    for (k, v) in form.into_inner() {
        match k.as_str() {
            "csrf" => csrf = v,
            "url" => typed.url = v,
            "events" => typed.events.push(v),
            _ => {}
        }
    }
    c.check_csrf(&csrf)?;
    let input = EndpointInput {
        url: typed.url.trim().to_owned(),
        events: typed.events.clone(),
    };
    Ok(match add_endpoint(&app, input).await {
        Ok(endpoint) => page(
            "webhooks_created.html",
            context! {
                console => c.view(), title => "Webhook added", nav => "webhooks",
                id => endpoint.id.to_string(),
                url => display_url(&endpoint.url),
                events => endpoint.events.iter().map(|k| event_label(k)).collect::<Vec<_>>(),
                secret => endpoint.secret,
            },
            StatusCode::OK,
        ),
        Err(AppError::Validation(fields)) => {
            let mut problems = BTreeMap::new();
            for (field, why) in fields {
                // Every problem of a field, in one line beside it.
                problems
                    .entry(field)
                    .and_modify(|all: &mut String| {
                        all.push_str("; ");
                        all.push_str(&why)
                    })
                    .or_insert(why);
            }
            list_page(
                &app,
                &c,
                typed,
                problems,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => failed(
            &c,
            "Webhooks",
            "Something went wrong; the webhook was not added. Try again.",
            "adding a webhook from the console",
            e,
        ),
    })
}

/// The live endpoint `id` names, or the page that says there is none.
async fn find(app: &App, c: &Console, id: &str) -> Result<EndpointRow, HttpResponse> {
    let gone = || {
        message(
            c,
            "Webhook",
            "There is no such webhook (it may have been removed).",
            StatusCode::NOT_FOUND,
        )
    };
    let Ok(id) = Uuid::parse_str(id) else {
        return Err(gone());
    };
    match app.store.endpoint(id).await {
        Ok(Some(e)) => Ok(e),
        Ok(None) => Err(gone()),
        Err(e) => Err(trouble(c, "Webhook", "webhook for the console", e)),
    }
}

/// One endpoint and its recent deliveries.
#[get("/admin/webhooks/{id}")]
pub async fn one(app: web::Data<App>, c: Console, id: web::Path<String>) -> HttpResponse {
    let e = match find(&app, &c, &id).await {
        Ok(e) => e,
        Err(r) => return r,
    };
    let endpoint = endpoint_view(&app, &c, e, ALL_DELIVERIES).await;
    page(
        "webhooks_one.html",
        context! { console => c.view(), title => "Webhook", nav => "webhooks", endpoint, limit => ALL_DELIVERIES },
        StatusCode::OK,
    )
}

/// Asks before removing.
#[get("/admin/webhooks/{id}/remove")]
pub async fn confirm_remove(
    app: web::Data<App>,
    c: Console,
    id: web::Path<String>,
) -> HttpResponse {
    match find(&app, &c, &id).await {
        Ok(e) => page(
            "webhooks_remove.html",
            context! {
                console => c.view(), title => "Remove webhook", nav => "webhooks",
                id => e.id.to_string(), url => display_url(&e.url),
            },
            StatusCode::OK,
        ),
        Err(r) => r,
    }
}

/// Removes an endpoint (as `DELETE /admin/api/webhooks/{id}` does).
#[post("/admin/webhooks/{id}/remove")]
pub async fn remove(
    app: web::Data<App>,
    c: Console,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, NotSignedIn> {
    c.check_csrf(&form.csrf)?;
    let e = match find(&app, &c, &id).await {
        Ok(e) => e,
        Err(r) => return Ok(r),
    };
    Ok(match app.store.delete_endpoint(e.id, app.now()).await {
        // Removed now, or a moment ago in another tab: either way it is gone.
        Ok(_) => see_other("/admin/webhooks?removed=1"),
        Err(err) => failed(
            &c,
            "Webhooks",
            "Something went wrong; the webhook was not removed. Try again.",
            "removing a webhook from the console",
            err,
        ),
    })
}
