//! Teams (slot rules and mode) and their round-robin queues.

use std::collections::HashSet;

use actix_web::{get, patch, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::App;
use crate::domain::model::Team;
use crate::domain::{MeetingLength, TeamMode, TeamSlug};
use crate::error::{AppError, AppResult, Problems};
use crate::http::auth::Admin;
use crate::http::extract::ApiJson;
use crate::store::{StoreError, TeamPatch};
use crate::usecase::availability::load_team;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    pub slug: String,
    pub name: String,
    /// Default meeting length, minutes (30); a multiple of the step.
    pub meeting_minutes: Option<i64>,
    /// `pooled` (default) or `strict`.
    pub mode: Option<String>,
    pub buffer_before: Option<i64>,
    pub buffer_after: Option<i64>,
    /// Minutes between now and the first bookable start (60).
    pub min_notice_minutes: Option<i64>,
    /// How many days ahead visitors may book (30).
    pub horizon_days: Option<i64>,
    /// Slot starts lie this many minutes apart (15).
    pub slot_step_minutes: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TeamChanges {
    pub name: Option<String>,
    pub meeting_minutes: Option<i64>,
    pub mode: Option<String>,
    pub buffer_before: Option<i64>,
    pub buffer_after: Option<i64>,
    pub min_notice_minutes: Option<i64>,
    pub horizon_days: Option<i64>,
    pub slot_step_minutes: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TeamView {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub meeting_minutes: u32,
    pub mode: String,
    pub buffer_before: u32,
    pub buffer_after: u32,
    pub min_notice_minutes: u32,
    pub horizon_days: u32,
    pub slot_step_minutes: u32,
    /// The agent who took the team's last meeting: the rotation continues after it.
    pub last_agent_id: Option<Uuid>,
    pub created_at: String,
}

fn team_view(t: &Team) -> TeamView {
    TeamView {
        id: t.id,
        slug: t.slug.to_string(),
        name: t.name.clone(),
        meeting_minutes: t.meeting.minutes(),
        mode: t.mode.as_str().to_owned(),
        buffer_before: t.buffer_before_minutes,
        buffer_after: t.buffer_after_minutes,
        min_notice_minutes: t.min_notice_minutes,
        horizon_days: t.horizon_days,
        slot_step_minutes: t.slot_step_minutes,
        last_agent_id: t.last_agent_id,
        created_at: t.created_at.to_rfc3339(),
    }
}

fn ranged(p: &mut Problems, field: &str, v: i64, lo: i64, hi: i64) -> Option<u32> {
    if (lo..=hi).contains(&v) {
        Some(v as u32)
    } else {
        p.add(field, format!("must be between {lo} and {hi}"));
        None
    }
}

/// Checks every setting of a team (current values where the change leaves one out).
fn settings(base: &TeamPatch, c: &TeamChanges, p: &mut Problems) -> Option<TeamPatch> {
    let name = match &c.name {
        Some(n) if n.trim().is_empty() || n.chars().count() > 200 => {
            p.add("name", "must be 1 to 200 characters");
            None
        }
        Some(n) => Some(n.trim().to_owned()),
        None => Some(base.name.clone()),
    };
    let mode = match &c.mode {
        Some(m) => p.check("mode", TeamMode::parse(m)).map(TeamMode::as_str),
        None => Some(base.mode),
    };
    let pick = |v: Option<i64>, cur: u32| v.unwrap_or(cur as i64);
    let step = ranged(
        p,
        "slot_step_minutes",
        pick(c.slot_step_minutes, base.slot_step_minutes),
        5,
        240,
    );
    let meeting = p
        .check(
            "meeting_minutes",
            MeetingLength::parse(pick(c.meeting_minutes, base.meeting_minutes)),
        )
        .map(MeetingLength::minutes);
    if let (Some(step), Some(meeting)) = (step, meeting) {
        if meeting % step != 0 {
            p.add(
                "meeting_minutes",
                format!("must be a multiple of the {step}-minute step"),
            );
        }
    }
    let buffer_before = ranged(
        p,
        "buffer_before",
        pick(c.buffer_before, base.buffer_before),
        0,
        240,
    );
    let buffer_after = ranged(
        p,
        "buffer_after",
        pick(c.buffer_after, base.buffer_after),
        0,
        240,
    );
    let notice = ranged(
        p,
        "min_notice_minutes",
        pick(c.min_notice_minutes, base.min_notice_minutes),
        0,
        43_200,
    );
    let horizon = ranged(
        p,
        "horizon_days",
        pick(c.horizon_days, base.horizon_days),
        1,
        365,
    );
    Some(TeamPatch {
        name: name?,
        meeting_minutes: meeting?,
        mode: mode?,
        buffer_before: buffer_before?,
        buffer_after: buffer_after?,
        min_notice_minutes: notice?,
        horizon_days: horizon?,
        slot_step_minutes: step?,
    })
}

fn defaults() -> TeamPatch {
    TeamPatch {
        name: String::new(),
        meeting_minutes: 30,
        mode: "pooled",
        buffer_before: 0,
        buffer_after: 0,
        min_notice_minutes: 60,
        horizon_days: 30,
        slot_step_minutes: 15,
    }
}

fn current(t: &Team) -> TeamPatch {
    TeamPatch {
        name: t.name.clone(),
        meeting_minutes: t.meeting.minutes(),
        mode: t.mode.as_str(),
        buffer_before: t.buffer_before_minutes,
        buffer_after: t.buffer_after_minutes,
        min_notice_minutes: t.min_notice_minutes,
        horizon_days: t.horizon_days,
        slot_step_minutes: t.slot_step_minutes,
    }
}

fn apply(t: &mut Team, s: TeamPatch) {
    t.name = s.name;
    t.meeting = MeetingLength::parse(s.meeting_minutes as i64).expect("checked");
    t.mode = TeamMode::parse(s.mode).expect("checked");
    t.buffer_before_minutes = s.buffer_before;
    t.buffer_after_minutes = s.buffer_after;
    t.min_notice_minutes = s.min_notice_minutes;
    t.horizon_days = s.horizon_days;
    t.slot_step_minutes = s.slot_step_minutes;
}

#[utoipa::path(
    tag = "admin",
    request_body = TeamInput,
    responses((status = 201, body = TeamView), (status = 409, description = "slug taken", content_type = "application/problem+json"), (status = 422, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[post("/admin/api/teams")]
pub async fn create_team(
    app: web::Data<App>,
    _a: Admin,
    body: ApiJson<TeamInput>,
) -> AppResult<HttpResponse> {
    let i = body.value;
    let mut p = Problems::default();
    let slug = p.check("slug", TeamSlug::parse(&i.slug));
    let changes = TeamChanges {
        name: Some(i.name),
        meeting_minutes: i.meeting_minutes,
        mode: i.mode,
        buffer_before: i.buffer_before,
        buffer_after: i.buffer_after,
        min_notice_minutes: i.min_notice_minutes,
        horizon_days: i.horizon_days,
        slot_step_minutes: i.slot_step_minutes,
    };
    let s = settings(&defaults(), &changes, &mut p);
    p.into_result()?;
    let s = s.expect("checked");
    let mut team = Team {
        id: Uuid::now_v7(),
        slug: slug.expect("checked"),
        name: String::new(),
        meeting: MeetingLength::parse(30).expect("valid"),
        mode: TeamMode::Pooled,
        buffer_before_minutes: 0,
        buffer_after_minutes: 0,
        min_notice_minutes: 0,
        horizon_days: 1,
        slot_step_minutes: 15,
        last_agent_id: None,
        created_at: app.now(),
    };
    apply(&mut team, s);
    app.store.insert_team(&team).await.map_err(|e| match e {
        StoreError::Duplicate(_) => AppError::Conflict {
            kind: "duplicate",
            detail: format!("a team with slug `{}` exists", team.slug),
        },
        e => e.into(),
    })?;
    Ok(HttpResponse::Created().json(team_view(&team)))
}

#[utoipa::path(tag = "admin", responses((status = 200, body = [TeamView])), security(("admin_token" = [])))]
#[get("/admin/api/teams")]
pub async fn list_teams(app: web::Data<App>, _a: Admin) -> AppResult<web::Json<Vec<TeamView>>> {
    Ok(web::Json(
        app.store
            .list_teams()
            .await?
            .iter()
            .map(team_view)
            .collect(),
    ))
}

#[utoipa::path(
    tag = "admin",
    params(("team" = String, Path)),
    responses((status = 200, body = TeamView), (status = 404, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[get("/admin/api/teams/{team}")]
pub async fn get_team(
    app: web::Data<App>,
    _a: Admin,
    team: web::Path<String>,
) -> AppResult<web::Json<TeamView>> {
    Ok(web::Json(team_view(&load_team(&app, &team).await?)))
}

#[utoipa::path(
    tag = "admin",
    params(("team" = String, Path)),
    request_body = TeamChanges,
    responses((status = 200, body = TeamView), (status = 404, content_type = "application/problem+json"), (status = 422, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[patch("/admin/api/teams/{team}")]
pub async fn patch_team(
    app: web::Data<App>,
    _a: Admin,
    team: web::Path<String>,
    body: ApiJson<TeamChanges>,
) -> AppResult<web::Json<TeamView>> {
    let mut t = load_team(&app, &team).await?;
    let mut p = Problems::default();
    let s = settings(&current(&t), &body.value, &mut p);
    p.into_result()?;
    let s = s.expect("checked");
    app.store.update_team(t.id, &s).await?;
    apply(&mut t, s);
    Ok(web::Json(team_view(&t)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueEntry {
    pub id: Uuid,
    pub name: String,
    /// 1-based place in the queue.
    pub position: usize,
    /// In rotation: not paused and with a calendar.
    pub active: bool,
    pub paused: bool,
    /// `demo` or `none`.
    pub connection: String,
    /// Took the team's last meeting: the next one goes to the agent after it.
    pub last_assigned: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueView {
    pub team: String,
    pub agents: Vec<QueueEntry>,
}

async fn queue_view(app: &App, t: &Team) -> AppResult<QueueView> {
    let agents = app.store.team_queue(t.id).await?;
    Ok(QueueView {
        team: t.slug.to_string(),
        agents: agents
            .iter()
            .enumerate()
            .map(|(i, a)| QueueEntry {
                id: a.id,
                name: a.name.clone(),
                position: i + 1,
                active: !a.paused && a.connected(),
                paused: a.paused,
                connection: a.calendar.as_str().to_owned(),
                last_assigned: t.last_agent_id == Some(a.id),
            })
            .collect(),
    })
}

#[utoipa::path(
    tag = "admin",
    params(("team" = String, Path)),
    responses((status = 200, body = QueueView), (status = 404, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[get("/admin/api/teams/{team}/queue")]
pub async fn get_queue(
    app: web::Data<App>,
    _a: Admin,
    team: web::Path<String>,
) -> AppResult<web::Json<QueueView>> {
    let t = load_team(&app, &team).await?;
    Ok(web::Json(queue_view(&app, &t).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueOrder {
    /// Every agent id of the team, each once, in the new order.
    pub order: Vec<String>,
}

/// Reorders the queue; the order must name exactly the team's agents.
#[utoipa::path(
    tag = "admin",
    params(("team" = String, Path)),
    request_body = QueueOrder,
    responses((status = 200, body = QueueView), (status = 404, content_type = "application/problem+json"), (status = 422, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[put("/admin/api/teams/{team}/queue")]
pub async fn put_queue(
    app: web::Data<App>,
    _a: Admin,
    team: web::Path<String>,
    body: ApiJson<QueueOrder>,
) -> AppResult<web::Json<QueueView>> {
    let t = load_team(&app, &team).await?;
    let members: HashSet<Uuid> = app
        .store
        .team_queue(t.id)
        .await?
        .iter()
        .map(|a| a.id)
        .collect();
    let order: Vec<Option<Uuid>> = body
        .value
        .order
        .iter()
        .map(|s| Uuid::parse_str(s).ok())
        .collect();
    let ids: Vec<Uuid> = order.iter().flatten().copied().collect();
    let distinct: HashSet<Uuid> = ids.iter().copied().collect();
    if order.iter().any(Option::is_none) || distinct.len() != ids.len() || distinct != members {
        return Err(AppError::field(
            "order",
            format!(
                "must name each of the team's {} agents exactly once",
                members.len()
            ),
        ));
    }
    app.store.set_queue_order(t.id, &ids).await?;
    Ok(web::Json(queue_view(&app, &t).await?))
}
