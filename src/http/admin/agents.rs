//! Agents: create (joining the end of each named team's queue), read, change, pause, delete.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::App;
use crate::domain::model::Agent;
use crate::domain::settings::{AgentSettingsInput, NewAgentInput, SpanMap};
use crate::error::{AppError, AppResult};
use crate::http::auth::Admin;
use crate::http::chat::parse_id;
use crate::http::extract::{present, ApiJson};
use crate::usecase::admin::{
    self, CreateAgentError, CreateAgentInput, DeleteAgentError, UpdateAgentError, UpdateAgentInput,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    pub name: String,
    pub email: String,
    /// IANA zone the weekly hours are in.
    pub timezone: String,
    /// `{"mon":[["09:00","17:00"]],…}`; days left out are days off.
    #[schema(value_type = Object)]
    pub weekly_hours: SpanMap,
    /// `{"2026-12-24":[]}` (a day off) or other hours on a date.
    #[schema(value_type = Object)]
    #[serde(default)]
    pub date_overrides: SpanMap,
    /// Team slugs; the agent joins the end of each team's queue.
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub paused: bool,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    pub name: Option<String>,
    pub email: Option<String>,
    pub timezone: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub weekly_hours: Option<SpanMap>,
    #[schema(value_type = Option<Object>)]
    pub date_overrides: Option<SpanMap>,
    pub teams: Option<Vec<String>>,
    /// A paused agent stays in its queues and is skipped with reason `paused`.
    pub paused: Option<bool>,
    /// Meetings a day this agent takes (1–100), overriding its teams' limit; `null`: the team's limit.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable, value_type = Option<i64>)]
    pub daily_limit: Option<Option<i64>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AgentView {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub timezone: String,
    #[schema(value_type = Object)]
    pub weekly_hours: SpanMap,
    #[schema(value_type = Object)]
    pub date_overrides: SpanMap,
    pub paused: bool,
    /// The agent's own daily limit (null: each team's).
    pub daily_limit: Option<u32>,
    /// `google` or `microsoft` (a connected calendar), `demo` (simulated calendar, dev mode) or `none`
    /// (no calendar connected, or the grant was revoked: not in rotation).
    pub calendar: String,
    /// The agent's Google / Outlook connection, if it ever connected one (tokens are never shown).
    pub connection: Option<ConnectionView>,
    pub teams: Vec<String>,
    pub created_at: String,
    /// Only when the agent is created or a new link is issued: the agent's connect page (signed; it
    /// expires, and issuing a new one retires it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_url_expires_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConnectionView {
    /// `google` or `microsoft`.
    pub provider: String,
    /// The calendar account the agent signed in with.
    pub account: String,
    /// `connected`, or `disconnected` (the provider refused the grant: the agent must reconnect).
    pub status: String,
    /// Why it is disconnected, in the provider's words.
    pub reason: Option<String>,
    pub connected_at: String,
}

/// The agent as admins see it, with its connection read from the store.
pub async fn agent_view_of(app: &App, a: &Agent) -> AppResult<AgentView> {
    let teams = app.store.agent_team_slugs(a.id).await?;
    let connection = app.store.connection(a.id).await?.map(|c| ConnectionView {
        provider: c.provider.as_str().to_owned(),
        account: c.account_email,
        status: c.status.as_str().to_owned(),
        reason: c.reason,
        connected_at: c.connected_at.to_rfc3339(),
    });
    Ok(agent_view(a, teams, connection))
}

pub fn agent_view(a: &Agent, teams: Vec<String>, connection: Option<ConnectionView>) -> AgentView {
    AgentView {
        id: a.id,
        name: a.name.clone(),
        email: a.email.clone(),
        timezone: a.zone.name().to_owned(),
        weekly_hours: a.weekly.to_map(),
        date_overrides: a.overrides.to_map(),
        paused: a.paused,
        daily_limit: a.daily_limit.map(|l| l.get()),
        calendar: a.calendar.as_str().to_owned(),
        connection,
        teams,
        created_at: a.created_at.to_rfc3339(),
        connect_url: None,
        connect_url_expires_at: None,
    }
}

impl From<CreateAgentError> for AppError {
    fn from(e: CreateAgentError) -> Self {
        match e {
            CreateAgentError::Invalid(errors) => errors.into(),
            CreateAgentError::Store(e) => e.into(),
        }
    }
}

impl From<UpdateAgentError> for AppError {
    fn from(e: UpdateAgentError) -> Self {
        match e {
            UpdateAgentError::NotFound => AppError::NotFound("agent"),
            UpdateAgentError::Invalid(errors) => errors.into(),
            UpdateAgentError::Store(e) => e.into(),
        }
    }
}

impl From<DeleteAgentError> for AppError {
    fn from(e: DeleteAgentError) -> Self {
        match e {
            DeleteAgentError::NotFound => AppError::NotFound("agent"),
            DeleteAgentError::Store(e) => e.into(),
        }
    }
}

#[utoipa::path(
    tag = "admin",
    request_body = AgentInput,
    responses((status = 201, body = AgentView), (status = 422, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[post("/admin/api/agents")]
pub async fn create_agent(
    app: web::Data<App>,
    _a: Admin,
    body: ApiJson<AgentInput>,
) -> AppResult<HttpResponse> {
    let i = body.value;
    let input = CreateAgentInput {
        agent: NewAgentInput {
            name: i.name,
            email: i.email,
            timezone: i.timezone,
            weekly_hours: i.weekly_hours,
            date_overrides: i.date_overrides,
        },
        teams: i.teams,
        paused: i.paused,
    };
    let created = admin::create_agent(&app, input).await?;
    let mut view = agent_view_of(&app, &created.agent).await?;
    view.connect_url = Some(created.connect_url);
    view.connect_url_expires_at = Some(created.connect_url_expires_at.to_rfc3339());
    Ok(HttpResponse::Created().json(view))
}

/// Issues a new connect link for the agent (for a lost or expired one); every older link stops working.
#[utoipa::path(
    tag = "admin",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AgentView), (status = 404, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[post("/admin/api/agents/{id}/connect-link")]
pub async fn new_connect_link(
    app: web::Data<App>,
    _a: Admin,
    id: web::Path<String>,
) -> AppResult<web::Json<AgentView>> {
    let agent = load(&app, &id).await?;
    let (url, expires) = crate::usecase::connect::issue_link(&app, agent.id)
        .await?
        .ok_or(AppError::NotFound("agent"))?;
    let mut view = agent_view_of(&app, &agent).await?;
    view.connect_url = Some(url);
    view.connect_url_expires_at = Some(expires.to_rfc3339());
    Ok(web::Json(view))
}

#[utoipa::path(tag = "admin", responses((status = 200, body = [AgentView])), security(("admin_token" = [])))]
#[get("/admin/api/agents")]
pub async fn list_agents(app: web::Data<App>, _a: Admin) -> AppResult<web::Json<Vec<AgentView>>> {
    let mut out = Vec::new();
    for a in app.store.list_agents().await? {
        out.push(agent_view_of(&app, &a).await?);
    }
    Ok(web::Json(out))
}

async fn load(app: &App, raw: &str) -> AppResult<Agent> {
    app.store
        .agent(parse_id(raw, "agent")?)
        .await?
        .ok_or(AppError::NotFound("agent"))
}

#[utoipa::path(
    tag = "admin",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AgentView), (status = 404, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[get("/admin/api/agents/{id}")]
pub async fn get_agent(
    app: web::Data<App>,
    _a: Admin,
    id: web::Path<String>,
) -> AppResult<web::Json<AgentView>> {
    let agent = load(&app, &id).await?;
    Ok(web::Json(agent_view_of(&app, &agent).await?))
}

#[utoipa::path(
    tag = "admin",
    params(("id" = Uuid, Path)),
    request_body = AgentPatch,
    responses((status = 200, body = AgentView), (status = 404, content_type = "application/problem+json"), (status = 422, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[patch("/admin/api/agents/{id}")]
pub async fn patch_agent(
    app: web::Data<App>,
    _a: Admin,
    id: web::Path<String>,
    body: ApiJson<AgentPatch>,
) -> AppResult<web::Json<AgentView>> {
    let patch = body.value;
    let input = UpdateAgentInput {
        settings: AgentSettingsInput {
            name: patch.name,
            email: patch.email,
            timezone: patch.timezone,
            weekly_hours: patch.weekly_hours,
            date_overrides: patch.date_overrides,
        },
        teams: patch.teams,
        paused: patch.paused,
        daily_limit: patch.daily_limit,
    };
    let agent = admin::update_agent(&app, parse_id(&id, "agent")?, input).await?;
    Ok(web::Json(agent_view_of(&app, &agent).await?))
}

/// Deletes the agent: it leaves every queue; its past and future meetings stay in the report.
#[utoipa::path(
    tag = "admin",
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[delete("/admin/api/agents/{id}")]
pub async fn delete_agent(
    app: web::Data<App>,
    _a: Admin,
    id: web::Path<String>,
) -> AppResult<HttpResponse> {
    admin::delete_agent(&app, parse_id(&id, "agent")?).await?;
    Ok(HttpResponse::NoContent().finish())
}
