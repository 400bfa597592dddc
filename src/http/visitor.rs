//! The visitor's pages, reached by the signed link in their email: see the meeting, cancel it (with a
//! reason), or move it to another free time of the same agent. Plain HTML forms; the link is the capability.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::{context, Environment};
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::model::{Agent, Meeting, MeetingStatus};
use crate::error::AppError;
use crate::usecase::booking::{cancel_booking, move_booking, CancelRequest, RescheduleRequest};
use crate::usecase::visitor::{same_agent_starts, verify};
use crate::usecase::App;

const PAGE: &str = include_str!("../../templates/pages/booking.html.j2");

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("booking.html", PAGE)
        .expect("page template parses");
    env
}

fn html(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn render(ctx: minijinja::Value, status: actix_web::http::StatusCode) -> HttpResponse {
    match env()
        .get_template("booking.html")
        .and_then(|t| t.render(ctx))
    {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "visitor page did not render");
            html(
                actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong.".into(),
            )
        }
    }
}

fn not_found() -> HttpResponse {
    render(
        context! { title => "Link not valid", problem => "This link is not valid (any more). Use the link in your latest email, or contact us." },
        actix_web::http::StatusCode::NOT_FOUND,
    )
}

/// The meeting and its agent, when the link is genuine.
async fn open(app: &App, id: &str, token: &str) -> Option<(Meeting, Agent)> {
    let id = Uuid::parse_str(id).ok()?;
    if !verify(&app.config.secret_key, id, token) {
        return None;
    }
    let m = app.store.meeting(id).await.ok()??;
    let agent = app.store.agents_by_ids(&[m.agent_id]).await.ok()?.pop()?;
    Some((m, agent))
}

fn zone(m: &Meeting, agent: &Agent) -> Tz {
    m.visitor
        .timezone
        .as_deref()
        .and_then(|z| z.parse().ok())
        .unwrap_or(agent.zone.tz())
}

fn label(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%a %d %b %Y %H:%M").to_string()
}

async fn page(
    app: &App,
    m: &Meeting,
    agent: &Agent,
    notice: Option<String>,
    problem: Option<String>,
) -> HttpResponse {
    let tz = zone(m, agent);
    let booked = m.status == MeetingStatus::Booked;
    let slots = if booked {
        same_agent_starts(app, m).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let slots: Vec<_> = slots
        .into_iter()
        .take(40)
        .map(|s| context! { start => s.to_rfc3339(), label => label(s, tz) })
        .collect();
    let ctx = context! {
        title => if booked { "Your meeting" } else { "Meeting cancelled" },
        notice => notice,
        problem => problem,
        base => format!("/m/{}/{}", m.id, crate::usecase::visitor::token(&app.config.secret_key, m.id)),
        meeting => context! {
            agent_name => agent.name,
            when => label(m.start, tz),
            timezone => tz.name(),
            cancelled => !booked,
            video_link => m.video_link,
        },
        show_cancel => booked,
        show_reschedule => booked,
        slots => slots,
    };
    render(ctx, actix_web::http::StatusCode::OK)
}

#[get("/m/{id}/{token}")]
pub async fn manage(app: web::Data<App>, path: web::Path<(String, String)>) -> HttpResponse {
    match open(&app, &path.0, &path.1).await {
        Some((m, agent)) => page(&app, &m, &agent, None, None).await,
        None => not_found(),
    }
}

#[get("/m/{id}/{token}/{action:cancel|reschedule}")]
pub async fn manage_action(
    app: web::Data<App>,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    match open(&app, &path.0, &path.1).await {
        Some((m, agent)) => page(&app, &m, &agent, None, None).await,
        None => not_found(),
    }
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    pub reason: Option<String>,
}

#[post("/m/{id}/{token}/cancel")]
pub async fn cancel(
    app: web::Data<App>,
    path: web::Path<(String, String)>,
    form: web::Form<CancelForm>,
) -> HttpResponse {
    let Some((m, _)) = open(&app, &path.0, &path.1).await else {
        return not_found();
    };
    if let Some(past) = started(&app, &m) {
        return past;
    }
    let reason = form.into_inner().reason.filter(|r| !r.trim().is_empty());
    match cancel_booking(&app, m.id, &CancelRequest { reason }).await {
        Ok(_) => match open(&app, &path.0, &path.1).await {
            Some((m, agent)) => {
                page(
                    &app,
                    &m,
                    &agent,
                    Some("Your meeting is cancelled. We sent you a confirmation.".into()),
                    None,
                )
                .await
            }
            None => not_found(),
        },
        Err(e) => failed(&app, &path, e).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct RescheduleForm {
    pub start: String,
}

#[post("/m/{id}/{token}/reschedule")]
pub async fn reschedule(
    app: web::Data<App>,
    path: web::Path<(String, String)>,
    form: web::Form<RescheduleForm>,
) -> HttpResponse {
    let Some((m, _)) = open(&app, &path.0, &path.1).await else {
        return not_found();
    };
    if let Some(past) = started(&app, &m) {
        return past;
    }
    // The page offers the same agent's times: the meeting stays with that agent or does not move.
    match move_booking(
        &app,
        m.id,
        &RescheduleRequest {
            start: form.into_inner().start,
        },
        true,
    )
    .await
    {
        Ok(_) => match open(&app, &path.0, &path.1).await {
            Some((m, agent)) => {
                let notice = format!(
                    "Done: your meeting is now with {} at {}. We sent you the new invitation.",
                    agent.name,
                    label(m.start, zone(&m, &agent))
                );
                page(&app, &m, &agent, Some(notice), None).await
            }
            None => not_found(),
        },
        Err(e) => failed(&app, &path, e).await,
    }
}

/// A meeting that has begun can no longer be changed from the visitor's link.
fn started(app: &App, m: &Meeting) -> Option<HttpResponse> {
    (m.start <= app.now()).then(|| {
        render(
            context! {
                title => "Too late to change",
                problem => "This meeting has already started or taken place, so it can no longer be changed here.",
            },
            actix_web::http::StatusCode::CONFLICT,
        )
    })
}

/// The page again, saying why the change did not happen.
async fn failed(app: &App, path: &(String, String), e: AppError) -> HttpResponse {
    let why = match &e {
        AppError::SlotTaken { .. } => {
            "That time was just taken. Please pick another one.".to_owned()
        }
        AppError::Validation(fields) => fields
            .iter()
            .map(|(_, m)| format!("That time {m}"))
            .collect::<Vec<_>>()
            .join(" "),
        AppError::Conflict { detail, .. } => detail.clone(),
        other => {
            tracing::error!(error = %other, "visitor change failed");
            "Something went wrong on our side. Please try again.".to_owned()
        }
    };
    match open(app, &path.0, &path.1).await {
        Some((m, agent)) => {
            let mut resp = page(app, &m, &agent, None, Some(why)).await;
            *resp.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
            resp
        }
        None => not_found(),
    }
}
