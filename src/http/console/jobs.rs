//! Failed jobs in the browser: the outbox jobs that gave up (what, for which meeting, how many tries, the
//! last error, when) and a Retry button each, which does what `POST /admin/api/jobs/{id}/retry` does
//! (`admin::jobs::retry`).

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use minijinja::context;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::session::NotSignedIn;
use super::{failed, local_time, message, page, see_other, trouble, Console, CsrfForm};
use crate::app::App;
use crate::error::AppError;
use crate::http::admin::jobs::retry;

/// Dead jobs a page shows (most recently failed first).
const PAGE_SIZE: u32 = 100;

/// What people call each kind of job.
fn kind_label(kind: &str) -> &'static str {
    match kind {
        "calendar.sync" => "Calendar event",
        "email.send" => "Email to the visitor",
        "webhook.deliver" => "Webhook delivery",
        _ => "Job",
    }
}

#[derive(Debug, Serialize)]
struct JobRowView {
    id: String,
    kind: String,
    kind_label: &'static str,
    meeting_id: String,
    lead_email: String,
    lead_q: String,
    meeting_time: String,
    attempts: u32,
    error: String,
    when: String,
}

async fn list_page(
    app: &App,
    c: &Console,
    notice: Option<&str>,
    problem: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let jobs = match app.store.list_jobs(Some("dead"), PAGE_SIZE).await {
        Ok(jobs) => jobs,
        Err(e) => return trouble(c, "Failed jobs", "failed jobs page", e),
    };
    let mut rows = Vec::new();
    for j in jobs {
        let meeting = match j.meeting_id {
            Some(id) => app.store.meeting(id).await.ok().flatten(),
            None => None,
        };
        let lead_email = meeting
            .as_ref()
            .map(|m| m.visitor.email.to_string())
            .unwrap_or_default();
        rows.push(JobRowView {
            id: j.id.to_string(),
            kind_label: kind_label(&j.kind),
            kind: j.kind,
            meeting_id: j.meeting_id.map(|m| m.to_string()).unwrap_or_default(),
            lead_q: url::form_urlencoded::byte_serialize(lead_email.as_bytes()).collect(),
            lead_email,
            meeting_time: meeting
                .as_ref()
                .map(|m| local_time(m.start, c.zone))
                .unwrap_or_default(),
            attempts: j.attempts,
            error: j.last_error.unwrap_or_default(),
            when: local_time(j.updated_at, c.zone),
        });
    }
    page(
        "jobs.html",
        context! {
            console => c.view(), title => "Failed jobs", nav => "jobs",
            rows, notice, problem, limit => PAGE_SIZE,
        },
        status,
    )
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    retried: Option<String>,
}

#[get("/admin/jobs")]
pub async fn list(app: web::Data<App>, c: Console, q: web::Query<ListQuery>) -> HttpResponse {
    let notice = q.retried.is_some().then_some(
        "The job is queued again and runs shortly. If it fails again for good, it comes back to this list.",
    );
    list_page(&app, &c, notice, None, StatusCode::OK).await
}

/// Puts a dead job back in the queue, due now.
#[post("/admin/jobs/{id}/retry")]
pub async fn retry_job(
    app: web::Data<App>,
    c: Console,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, NotSignedIn> {
    c.check_csrf(&form.csrf)?;
    let Ok(id) = Uuid::parse_str(&id) else {
        return Ok(message(
            &c,
            "Failed jobs",
            "No such job.",
            StatusCode::NOT_FOUND,
        ));
    };
    Ok(match retry(&app, id).await {
        Ok(_) => see_other("/admin/jobs?retried=1"),
        Err(AppError::NotFound(_)) => {
            message(&c, "Failed jobs", "No such job.", StatusCode::NOT_FOUND)
        }
        // Retried a moment ago (another tab, another admin): the list as it is now says so.
        Err(AppError::Conflict { .. }) => {
            list_page(
                &app,
                &c,
                None,
                Some("That job is no longer failed (it was retried already), so nothing was done."),
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => failed(
            &c,
            "Failed jobs",
            "Something went wrong; the job was not retried. Try again.",
            "retrying a job from the console",
            e,
        ),
    })
}
