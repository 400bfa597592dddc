//! Teams (slot rules and mode) and their round-robin queues.

use std::collections::HashMap;

use actix_web::{get, patch, post, put, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::App;
use crate::domain::model::{Agent, Team};
use crate::domain::routing::rotation;
use crate::domain::settings::TeamSettingsInput;
use crate::error::{AppError, AppResult};
use crate::http::auth::Admin;
use crate::http::extract::{present, ApiJson};
use crate::store::{ConnectionRow, ConnectionStatus};
use crate::usecase::admin::{
    self, CreateTeamError, CreateTeamInput, ReorderQueueError, UpdateTeamError,
};
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
    /// Meetings a day per agent, counted in each agent's own day (1–100; null or absent: no limit). An
    /// agent's own `daily_limit` overrides it.
    #[schema(nullable, value_type = Option<i64>)]
    pub daily_limit: Option<i64>,
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
    /// Meetings a day per agent (1–100); `null` removes the limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable, value_type = Option<i64>)]
    pub daily_limit: Option<Option<i64>>,
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
    /// Meetings a day per agent, in each agent's own day (null: no limit).
    pub daily_limit: Option<u32>,
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
        daily_limit: t.daily_limit.map(|l| l.get()),
        last_agent_id: t.last_agent_id,
        created_at: t.created_at.to_rfc3339(),
    }
}

impl From<TeamChanges> for TeamSettingsInput {
    fn from(c: TeamChanges) -> Self {
        TeamSettingsInput {
            name: c.name,
            meeting_minutes: c.meeting_minutes,
            mode: c.mode,
            buffer_before: c.buffer_before,
            buffer_after: c.buffer_after,
            min_notice_minutes: c.min_notice_minutes,
            horizon_days: c.horizon_days,
            slot_step_minutes: c.slot_step_minutes,
            daily_limit: c.daily_limit,
        }
    }
}

impl From<CreateTeamError> for AppError {
    fn from(e: CreateTeamError) -> Self {
        match e {
            CreateTeamError::Invalid(errors) => errors.into(),
            CreateTeamError::SlugTaken(slug) => AppError::Conflict {
                kind: "duplicate",
                detail: format!("a team with slug `{slug}` exists"),
            },
            CreateTeamError::Store(e) => e.into(),
        }
    }
}

impl From<UpdateTeamError> for AppError {
    fn from(e: UpdateTeamError) -> Self {
        match e {
            UpdateTeamError::NotFound => AppError::NotFound("team"),
            UpdateTeamError::Invalid(errors) => errors.into(),
            UpdateTeamError::Store(e) => e.into(),
        }
    }
}

impl From<ReorderQueueError> for AppError {
    fn from(e: ReorderQueueError) -> Self {
        match e {
            ReorderQueueError::NotFound => AppError::NotFound("team"),
            ReorderQueueError::Invalid(errors) => errors.into(),
            ReorderQueueError::Store(e) => e.into(),
        }
    }
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
    let input = CreateTeamInput {
        slug: i.slug,
        settings: TeamSettingsInput {
            name: Some(i.name),
            meeting_minutes: i.meeting_minutes,
            mode: i.mode,
            buffer_before: i.buffer_before,
            buffer_after: i.buffer_after,
            min_notice_minutes: i.min_notice_minutes,
            horizon_days: i.horizon_days,
            slot_step_minutes: i.slot_step_minutes,
            daily_limit: i.daily_limit.map(Some),
        },
    };
    let team = admin::create_team(&app, input).await?;
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
    let t = admin::update_team(&app, &team, body.value.into()).await?;
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
    /// `google`, `microsoft`, `demo` or `none`.
    pub calendar: String,
    /// `connected`, `disconnected` (the provider refused the grant: the agent must reconnect) or `none`
    /// (never connected a Google or Microsoft calendar).
    pub connection: String,
    /// Why the connection is disconnected, in the provider's words.
    pub connection_reason: Option<String>,
    /// Took the team's last meeting: the next one goes to the agent after it.
    pub last_assigned: bool,
    /// The agent the rotation would try first now: the first active agent after the one who took the last
    /// meeting, wrapping around.
    pub next: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueView {
    pub team: String,
    pub agents: Vec<QueueEntry>,
}

/// The agent the team's rotation would try first now (DESIGN.md "Round robin"): the first active (not
/// paused, connected) agent in queue order right after `pointer`, wrapping around; None when nobody is
/// active.
pub(crate) fn next_in_rotation(pointer: Option<Uuid>, agents: &[Agent]) -> Option<Uuid> {
    let ids: Vec<Uuid> = agents.iter().map(|a| a.id).collect();
    rotation(&ids, pointer.as_ref()).into_iter().find(|id| {
        agents
            .iter()
            .any(|a| a.id == *id && !a.paused && a.connected())
    })
}

/// The queue as admins see it; `connections` holds the stored calendar connection of each agent that ever
/// connected one.
pub(crate) fn queue_view(
    t: &Team,
    agents: &[Agent],
    connections: &HashMap<Uuid, ConnectionRow>,
) -> QueueView {
    let next = next_in_rotation(t.last_agent_id, agents);
    QueueView {
        team: t.slug.to_string(),
        agents: agents
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let c = connections.get(&a.id);
                QueueEntry {
                    id: a.id,
                    name: a.name.clone(),
                    position: i + 1,
                    active: !a.paused && a.connected(),
                    paused: a.paused,
                    calendar: a.calendar.as_str().to_owned(),
                    connection: c.map_or("none", |c| c.status.as_str()).to_owned(),
                    connection_reason: c
                        .filter(|c| c.status == ConnectionStatus::Disconnected)
                        .and_then(|c| c.reason.clone()),
                    last_assigned: t.last_agent_id == Some(a.id),
                    next: next == Some(a.id),
                }
            })
            .collect(),
    }
}

/// The stored calendar connections of these agents (an agent that never connected one has none).
pub(crate) async fn connections_of(
    app: &App,
    agents: &[Agent],
) -> AppResult<HashMap<Uuid, ConnectionRow>> {
    let mut found = HashMap::new();
    for a in agents {
        if let Some(c) = app.store.connection(a.id).await? {
            found.insert(a.id, c);
        }
    }
    Ok(found)
}

/// The team's queue as `GET /admin/api/teams/{team}/queue` shows it.
pub(crate) async fn load_queue(app: &App, t: &Team) -> AppResult<QueueView> {
    let agents = app.store.team_queue(t.id).await?;
    let connections = connections_of(app, &agents).await?;
    Ok(queue_view(t, &agents, &connections))
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
    Ok(web::Json(load_queue(&app, &t).await?))
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
    let queue = admin::reorder_queue(&app, &team, &body.value.order).await?;
    let connections = connections_of(&app, &queue.agents).await?;
    Ok(web::Json(queue_view(
        &queue.team,
        &queue.agents,
        &connections,
    )))
}
