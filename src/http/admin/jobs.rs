//! The outbox as admins see it: jobs by status (the dead ones with their last error) and retrying a dead job.

use actix_web::{get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::App;
use crate::error::{AppError, AppResult, Problems};
use crate::http::auth::Admin;
use crate::http::chat::parse_id;
use crate::http::extract::ApiQuery;
use crate::store::JobRow;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// `pending`, `done` or `dead` (default: all).
    pub status: Option<String>,
    /// 1-500 (default 100), most recently changed first.
    pub limit: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    pub id: Uuid,
    /// `calendar.sync`: make the agent's calendar match the meeting.
    pub kind: String,
    pub meeting_id: Option<Uuid>,
    pub status: String,
    pub attempts: u32,
    /// When it runs next (pending jobs).
    pub run_at: String,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
}

fn job_view(j: JobRow) -> JobView {
    JobView {
        id: j.id,
        kind: j.kind,
        meeting_id: j.meeting_id,
        status: j.status,
        attempts: j.attempts,
        run_at: j.run_at.to_rfc3339(),
        last_error: j.last_error,
        created_at: j.created_at.to_rfc3339(),
        updated_at: j.updated_at.to_rfc3339(),
    }
}

#[utoipa::path(
    tag = "admin",
    params(JobsQuery),
    responses((status = 200, body = JobList), (status = 422, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[get("/admin/api/jobs")]
pub async fn list_jobs(
    app: web::Data<App>,
    _a: Admin,
    q: ApiQuery<JobsQuery>,
) -> AppResult<web::Json<JobList>> {
    let mut p = Problems::default();
    let status = match q.0.status.as_deref() {
        None => None,
        Some(s @ ("pending" | "done" | "dead")) => Some(s.to_owned()),
        Some(_) => {
            p.add("status", "must be `pending`, `done` or `dead`");
            None
        }
    };
    let limit = p.limit(q.0.limit.as_deref(), 100);
    p.into_result()?;
    let jobs = app
        .store
        .list_jobs(status.as_deref(), limit.unwrap_or(100))
        .await?;
    Ok(web::Json(JobList {
        jobs: jobs.into_iter().map(job_view).collect(),
    }))
}

/// Puts a dead job back in the queue, due now, with a fresh count of tries.
#[utoipa::path(
    tag = "admin",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = JobView),
        (status = 404, content_type = "application/problem+json"),
        (status = 409, description = "the job is not dead", content_type = "application/problem+json"),
    ),
    security(("admin_token" = []))
)]
#[post("/admin/api/jobs/{id}/retry")]
pub async fn retry_job(
    app: web::Data<App>,
    _a: Admin,
    id: web::Path<String>,
) -> AppResult<web::Json<JobView>> {
    let id = parse_id(&id, "job")?;
    Ok(web::Json(job_view(retry(&app, id).await?)))
}

/// Puts the dead job `id` back in the queue (the API and the console both retry here): 404 if there is no
/// such job, 409 `job-not-dead` unless it is dead. Answers the job as it is now (pending).
pub(crate) async fn retry(app: &App, id: Uuid) -> AppResult<JobRow> {
    if app.store.job(id).await?.is_none() {
        return Err(AppError::NotFound("job"));
    }
    if !app.store.revive_job(id, app.now()).await? {
        return Err(AppError::Conflict {
            kind: "job-not-dead",
            detail: "only a dead job can be retried".into(),
        });
    }
    app.store.job(id).await?.ok_or(AppError::NotFound("job"))
}
