//! The visitor's pages, reached by the signed link in their email: see the meeting, cancel it (with a
//! reason), or move it to another free time of the same agent. Plain HTML forms; the link is the capability,
//! so it stops working `LINK_DAYS_AFTER_END` days after the meeting, and every answer carries the secret-link
//! headers (`http::secret_link_headers`, wrapped around the `/m` scope).

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use minijinja::{context, Environment};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use uuid::Uuid;

use crate::app::App;
use crate::domain::model::{Agent, Meeting, MeetingStatus};
use crate::error::AppError;
use crate::usecase::booking::{self, CancelRequest, RescheduleOutcome, RescheduleRequest};
use crate::usecase::visitor::{reschedule_starts, verify};

const PAGE: &str = include_str!("../../templates/pages/booking.html.j2");

/// Days after the meeting's end that its visitor link keeps working (API.md). The link sits in mailboxes and
/// browser histories for years; long after the meeting there is nothing left to do with it, so it no longer
/// shows who met whom, nor changes anything.
pub const LINK_DAYS_AFTER_END: i64 = 30;

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

/// Why a link opens nothing.
enum Closed {
    /// Not a link rondo made for an existing meeting.
    NotValid,
    /// Genuine, but more than `LINK_DAYS_AFTER_END` days past the meeting's end.
    Expired,
}

/// The page a closed link shows: nothing about the meeting, and no form.
fn closed(why: Closed) -> HttpResponse {
    match why {
        Closed::NotValid => render(
            context! { title => "Link not valid", problem => "This link is not valid (any more). Use the link in your latest email, or contact us." },
            actix_web::http::StatusCode::NOT_FOUND,
        ),
        Closed::Expired => render(
            context! {
                title => "Link expired",
                problem => format!("This link has expired: links to a meeting stop working {LINK_DAYS_AFTER_END} days after it. Nothing can be seen or changed here any more; if you need something, contact us."),
            },
            actix_web::http::StatusCode::GONE,
        ),
    }
}

/// Whether the visitor link of a meeting ending at `end` has stopped working at `now`.
fn expired(end: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now >= end + Duration::days(LINK_DAYS_AFTER_END)
}

/// The meeting and its agent, when the link is genuine and still within its time. The signature is checked
/// first: a forged link learns nothing, not even whether its meeting is long over.
async fn open(app: &App, id: &str, token: &str) -> Result<(Meeting, Agent), Closed> {
    let id = Uuid::parse_str(id).map_err(|_| Closed::NotValid)?;
    if !verify(&app.keys, &app.config.secret_key, id, token) {
        return Err(Closed::NotValid);
    }
    let m = app
        .store
        .meeting(id)
        .await
        .ok()
        .flatten()
        .ok_or(Closed::NotValid)?;
    if expired(m.end, app.now()) {
        return Err(Closed::Expired);
    }
    let agent = app
        .store
        .agents_by_ids(&[m.agent_id])
        .await
        .ok()
        .and_then(|mut a| a.pop())
        .ok_or(Closed::NotValid)?;
    Ok((m, agent))
}

/// A submitted form; the link is checked before the form is read, so a closed link answers its own page
/// whatever was posted. None: not the form the page sends.
fn form<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_urlencoded::from_bytes(body).ok()
}

/// The page again, saying the form it got was not one it sent; nothing changed.
async fn bad_form(app: &App, m: &Meeting, agent: &Agent) -> HttpResponse {
    let mut resp = page(
        app,
        m,
        agent,
        None,
        Some("That form was incomplete, so nothing was changed. Please use the buttons on this page.".into()),
    )
    .await;
    *resp.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
    resp
}

fn zone(m: &Meeting, agent: &Agent) -> Tz {
    m.visitor.timezone.unwrap_or(agent.zone).tz()
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
        reschedule_starts(app, m).await.unwrap_or_default()
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
        base => format!("/m/{}/{}", m.id, crate::usecase::visitor::token(app.keys.visitor_link(), m.id)),
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

/// `/m/{id}/{token}` (in the `/m` scope).
#[get("/{id}/{token}")]
pub async fn manage(app: web::Data<App>, path: web::Path<(String, String)>) -> HttpResponse {
    match open(&app, &path.0, &path.1).await {
        Ok((m, agent)) => page(&app, &m, &agent, None, None).await,
        Err(why) => closed(why),
    }
}

/// `/m/{id}/{token}/cancel` and `…/reschedule`, the links in the email (in the `/m` scope).
#[get("/{id}/{token}/{action:cancel|reschedule}")]
pub async fn manage_action(
    app: web::Data<App>,
    path: web::Path<(String, String, String)>,
) -> HttpResponse {
    match open(&app, &path.0, &path.1).await {
        Ok((m, agent)) => page(&app, &m, &agent, None, None).await,
        Err(why) => closed(why),
    }
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    pub reason: Option<String>,
}

/// `/m/{id}/{token}/cancel` (in the `/m` scope).
#[post("/{id}/{token}/cancel")]
pub async fn cancel(
    app: web::Data<App>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (m, agent) = match open(&app, &path.0, &path.1).await {
        Ok(opened) => opened,
        Err(why) => return closed(why),
    };
    if let Some(past) = started(&app, &m) {
        return past;
    }
    let Some(CancelForm { reason }) = form(&body) else {
        return bad_form(&app, &m, &agent).await;
    };
    let reason = reason.filter(|r| !r.trim().is_empty());
    match booking::cancel(&app, m.id, &CancelRequest { reason }).await {
        Ok(_) => match open(&app, &path.0, &path.1).await {
            Ok((m, agent)) => {
                page(
                    &app,
                    &m,
                    &agent,
                    Some("Your meeting is cancelled. We sent you a confirmation.".into()),
                    None,
                )
                .await
            }
            Err(why) => closed(why),
        },
        Err(e) => failed(&app, &path, Failure::Error(e.into())).await,
    }
}

#[derive(Debug, Deserialize)]
pub struct RescheduleForm {
    pub start: String,
}

/// `/m/{id}/{token}/reschedule` (in the `/m` scope).
#[post("/{id}/{token}/reschedule")]
pub async fn reschedule(
    app: web::Data<App>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let (m, agent) = match open(&app, &path.0, &path.1).await {
        Ok(opened) => opened,
        Err(why) => return closed(why),
    };
    if let Some(past) = started(&app, &m) {
        return past;
    }
    let Some(RescheduleForm { start }) = form(&body) else {
        return bad_form(&app, &m, &agent).await;
    };
    // The page offers the same agent's times: the meeting stays with that agent or does not move.
    let moved = booking::reschedule(&app, m.id, &RescheduleRequest { start }).await;
    match moved {
        Ok(RescheduleOutcome::SlotTaken(_)) => failed(&app, &path, Failure::Taken).await,
        Ok(RescheduleOutcome::Moved(_) | RescheduleOutcome::Unchanged(_)) => {
            match open(&app, &path.0, &path.1).await {
                Ok((m, agent)) => {
                    let notice = format!(
                        "Done: your meeting is now with {} at {}. We sent you the new invitation.",
                        agent.name,
                        label(m.start, zone(&m, &agent))
                    );
                    page(&app, &m, &agent, Some(notice), None).await
                }
                Err(why) => closed(why),
            }
        }
        Err(e) => failed(&app, &path, Failure::Error(e.into())).await,
    }
}

/// Why a change from the visitor's page did not happen.
enum Failure {
    /// The time was taken meanwhile.
    Taken,
    Error(AppError),
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
async fn failed(app: &App, path: &(String, String), e: Failure) -> HttpResponse {
    let why = match e {
        Failure::Taken => "That time was just taken. Please pick another one.".to_owned(),
        Failure::Error(e) => match e {
            AppError::Validation(fields) => fields
                .iter()
                .map(|(_, m)| format!("That time {m}"))
                .collect::<Vec<_>>()
                .join(" "),
            AppError::Conflict { detail, .. } => detail,
            other => {
                tracing::error!(error = %other, "visitor change failed");
                "Something went wrong on our side. Please try again.".to_owned()
            }
        },
    };
    match open(app, &path.0, &path.1).await {
        Ok((m, agent)) => {
            let mut resp = page(app, &m, &agent, None, Some(why)).await;
            *resp.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
            resp
        }
        Err(why) => closed(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_expires_thirty_days_after_the_meeting_ends() {
        let end: DateTime<Utc> = "2026-11-23T10:30:00Z".parse().unwrap();
        assert!(!expired(end, end - Duration::days(3)));
        assert!(!expired(end, end));
        assert!(!expired(
            end,
            end + Duration::days(30) - Duration::seconds(1)
        ));
        assert!(expired(end, end + Duration::days(30)));
    }
}
