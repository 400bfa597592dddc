//! Agents: create (joining the end of each named team's queue), read, change, pause, delete.

use std::collections::BTreeMap;

use actix_web::{delete, get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::App;
use crate::config::RunMode;
use crate::domain::model::{Agent, CalendarKind};
use crate::domain::{DateOverrides, EmailAddress, IanaZone, WeeklyHours};
use crate::error::{AppError, AppResult, Problems};
use crate::http::auth::Admin;
use crate::http::chat::parse_id;
use crate::http::extract::ApiJson;
use crate::store::StoreError;

type SpanMap = BTreeMap<String, Vec<[String; 2]>>;

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
        calendar: a.calendar.as_str().to_owned(),
        connection,
        teams,
        created_at: a.created_at.to_rfc3339(),
        connect_url: None,
        connect_url_expires_at: None,
    }
}

fn name(field: &str, raw: &str, problems: &mut Problems) -> Option<String> {
    let n = raw.trim();
    if n.is_empty() || n.chars().count() > 200 {
        problems.add(field, "must be 1 to 200 characters");
        return None;
    }
    Some(n.to_owned())
}

/// Team ids for slugs; an unknown slug is a problem on `teams`.
async fn team_ids(app: &App, slugs: &[String], problems: &mut Problems) -> AppResult<Vec<Uuid>> {
    let mut ids = Vec::new();
    for s in slugs {
        match app.store.team_by_slug(s).await? {
            Some(t) if !ids.contains(&t.id) => ids.push(t.id),
            Some(_) => {}
            None => problems.add("teams", format!("no team `{s}`")),
        }
    }
    Ok(ids)
}

fn duplicate_email(e: StoreError) -> AppError {
    match e {
        StoreError::Duplicate(_) => AppError::field("email", "another agent has this email"),
        e => e.into(),
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
    let input = body.value;
    let mut p = Problems::default();
    let name = name("name", &input.name, &mut p);
    let email = p.check("email", EmailAddress::parse(&input.email));
    let zone = p.check("timezone", IanaZone::parse(&input.timezone));
    let weekly = WeeklyHours::parse(&input.weekly_hours)
        .map_err(|(day, e)| p.add(format!("weekly_hours.{day}"), e.to_string()))
        .ok();
    let overrides = DateOverrides::parse(&input.date_overrides)
        .map_err(|(date, e)| p.add(format!("date_overrides.{date}"), e.to_string()))
        .ok();
    let teams = team_ids(&app, &input.teams, &mut p).await?;
    p.into_result()?;
    let agent = Agent {
        id: Uuid::now_v7(),
        name: name.expect("checked"),
        email: email.expect("checked").to_string(),
        zone: zone.expect("checked"),
        weekly: weekly.expect("checked"),
        overrides: overrides.expect("checked"),
        paused: input.paused,
        // Demo calendars only in dev mode and only while no real provider is registered: then `cargo run`
        // works with nothing else; once one is, agents must connect a real calendar.
        calendar: match app.config.run_mode {
            RunMode::Dev if app.config.google.is_none() && app.config.microsoft.is_none() => {
                CalendarKind::Demo
            }
            _ => CalendarKind::None,
        },
        invitation: None,
        created_at: app.now(),
    };
    app.store
        .insert_agent(&agent, &teams)
        .await
        .map_err(duplicate_email)?;
    let mut view = agent_view_of(&app, &agent).await?;
    let (url, expires) = crate::usecase::connect::connect_url(&app, agent.id, 0);
    view.connect_url = Some(url);
    view.connect_url_expires_at = Some(expires.to_rfc3339());
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
    let mut agent = load(&app, &id).await?;
    let patch = body.value;
    let mut p = Problems::default();
    if let Some(n) = &patch.name {
        if let Some(n) = name("name", n, &mut p) {
            agent.name = n;
        }
    }
    if let Some(e) = &patch.email {
        if let Some(e) = p.check("email", EmailAddress::parse(e)) {
            agent.email = e.to_string();
        }
    }
    if let Some(z) = &patch.timezone {
        if let Some(z) = p.check("timezone", IanaZone::parse(z)) {
            agent.zone = z;
        }
    }
    if let Some(w) = &patch.weekly_hours {
        match WeeklyHours::parse(w) {
            Ok(w) => agent.weekly = w,
            Err((day, e)) => p.add(format!("weekly_hours.{day}"), e.to_string()),
        }
    }
    if let Some(o) = &patch.date_overrides {
        match DateOverrides::parse(o) {
            Ok(o) => agent.overrides = o,
            Err((date, e)) => p.add(format!("date_overrides.{date}"), e.to_string()),
        }
    }
    if let Some(paused) = patch.paused {
        agent.paused = paused;
    }
    let teams = match &patch.teams {
        Some(slugs) => Some(team_ids(&app, slugs, &mut p).await?),
        None => None,
    };
    p.into_result()?;
    app.store
        .update_agent(&agent, teams.as_deref())
        .await
        .map_err(duplicate_email)?;
    let agent = load(&app, &agent.id.to_string()).await?;
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
    let agent = load(&app, &id).await?;
    app.store.delete_agent(agent.id, app.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}
