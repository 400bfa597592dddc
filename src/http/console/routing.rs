//! The routing page (issue 15, parts 3 and 4): a team's round-robin queue in order — each agent's calendar
//! and connection, who is paused, who took the last meeting and who is next — with forms to move an agent
//! up or down and to pause or resume one; below it, fairness at a glance: meetings per agent over the last
//! 30 days as a bar chart, and who was skipped why.
//!
//! The queue is the admin API's (`GET /admin/api/teams/{team}/queue`, same `next` rule); the forms call
//! the same use cases as `PUT …/queue` and `PATCH /admin/api/agents/{id}`. Fairness counts the meetings the
//! team booked in the window (by when they were booked, not when they take place: routing fairness is
//! about the decisions made lately, and most of a month's bookings are still ahead); the bars count those
//! still booked, the skips come from every one of their routing traces.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use chrono::Duration;
use minijinja::context;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::session::NotSignedIn;
use super::{local_time, message, page, see_other, trouble, Console};
use crate::app::App;
use crate::domain::fairness::{self, reason_label, reason_name, Fairness};
use crate::domain::model::{Agent, CalendarKind, Team};
use crate::error::AppError;
use crate::http::admin::teams::{connections_of, queue_view, QueueEntry};
use crate::store::ConnectionRow;
use crate::usecase::admin::{self, UpdateAgentInput};

/// The fairness window, days back from now.
const FAIRNESS_DAYS: i64 = 30;

/// The chart's geometry, in CSS pixels: one row per agent (its name above its bar).
const ROW_HEIGHT: u32 = 44;
const BAR_HEIGHT: u32 = 16;
const NAME_BASELINE: u32 = 14;
const BAR_TOP: u32 = 20;
/// The widest bar, as a share of the chart's width (the rest keeps room for the count after it).
const BAR_SPAN_PERCENT: f64 = 88.0;

#[derive(Debug, Default, Deserialize)]
pub struct RoutingQuery {
    #[serde(default)]
    team: String,
    /// What the last form did (`up`, `down`, `paused`, `resumed`), to say so.
    #[serde(default)]
    done: String,
    #[serde(default)]
    agent: String,
}

/// One queue row as the page shows it.
#[derive(Debug, Serialize)]
struct Row {
    id: String,
    name: String,
    position: usize,
    /// `Google`, `Microsoft`, `Demo calendar` or `None`.
    calendar: &'static str,
    /// `connected`, `disconnected` or `none`.
    connection: String,
    reason: String,
    demo: bool,
    paused: bool,
    active: bool,
    last_assigned: bool,
    next: bool,
    first: bool,
    last: bool,
}

fn calendar_label(kind: &str) -> &'static str {
    match CalendarKind::parse(kind) {
        Some(CalendarKind::Google) => "Google",
        Some(CalendarKind::Microsoft) => "Microsoft",
        Some(CalendarKind::Demo) => "Demo calendar",
        _ => "None",
    }
}

fn rows_of(entries: &[QueueEntry], connections: &HashMap<Uuid, ConnectionRow>) -> Vec<Row> {
    let n = entries.len();
    entries
        .iter()
        .map(|e| {
            let provider = connections
                .get(&e.id)
                .map_or("", |c| calendar_label(c.provider.as_str()));
            Row {
                id: e.id.to_string(),
                name: e.name.clone(),
                position: e.position,
                // A disconnected calendar is still the agent's Google or Outlook one, waiting to reconnect.
                calendar: if e.calendar == "none" && !provider.is_empty() {
                    provider
                } else {
                    calendar_label(&e.calendar)
                },
                connection: e.connection.clone(),
                reason: e.connection_reason.clone().unwrap_or_default(),
                demo: e.calendar == "demo",
                paused: e.paused,
                active: e.active,
                last_assigned: e.last_assigned,
                next: e.next,
                first: e.position == 1,
                last: e.position == n,
            }
        })
        .collect()
}

/// One bar of the chart, placed.
#[derive(Debug, Serialize)]
struct Bar {
    agent_id: String,
    name: String,
    count: u32,
    cancelled: u32,
    /// Width, percent of the chart.
    width: String,
    name_y: u32,
    bar_y: u32,
    count_y: u32,
    /// Still in the team's queue (others are drawn muted).
    in_queue: bool,
}

/// The chart: bars scaled to the agent with the most meetings, and an even-share line.
#[derive(Debug, Serialize)]
struct Chart {
    bars: Vec<Bar>,
    height: u32,
    /// Where an even share of the meetings among the queue's agents falls, percent of the width.
    even_x: String,
    even_share: String,
    summary: String,
}

fn percent(count: u32, most: u32) -> f64 {
    if most == 0 {
        0.0
    } else {
        count as f64 / most as f64 * BAR_SPAN_PERCENT
    }
}

fn chart(f: &Fairness, names: &HashMap<Uuid, String>, queue: &[Uuid]) -> Chart {
    let bars: Vec<Bar> = f
        .agents
        .iter()
        .filter(|a| queue.contains(&a.agent_id) || a.meetings > 0 || a.cancelled > 0)
        .enumerate()
        .map(|(i, a)| {
            let top = i as u32 * ROW_HEIGHT;
            Bar {
                agent_id: a.agent_id.to_string(),
                name: name_of(names, a.agent_id),
                count: a.meetings,
                cancelled: a.cancelled,
                width: format!("{:.2}%", percent(a.meetings, f.most_meetings)),
                name_y: top + NAME_BASELINE,
                bar_y: top + BAR_TOP,
                count_y: top + BAR_TOP + BAR_HEIGHT - 3,
                in_queue: queue.contains(&a.agent_id),
            }
        })
        .collect();
    let even = if queue.is_empty() {
        0.0
    } else {
        f.total_meetings as f64 / queue.len() as f64
    };
    let summary = bars
        .iter()
        .map(|b| {
            format!(
                "{}: {} meeting{}",
                b.name,
                b.count,
                if b.count == 1 { "" } else { "s" }
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Chart {
        height: (bars.len() as u32 * ROW_HEIGHT).max(ROW_HEIGHT),
        even_x: format!(
            "{:.2}%",
            if f.most_meetings == 0 {
                0.0
            } else {
                even / f.most_meetings as f64 * BAR_SPAN_PERCENT
            }
        ),
        even_share: format!("{even:.1}"),
        bars,
        summary,
    }
}

fn name_of(names: &HashMap<Uuid, String>, id: Uuid) -> String {
    names
        .get(&id)
        .cloned()
        .unwrap_or_else(|| "Former agent".into())
}

/// The skips table: one row per agent that holds a meeting or was skipped, one column per reason seen.
fn skip_rows(f: &Fairness, names: &HashMap<Uuid, String>) -> Vec<minijinja::Value> {
    f.agents
        .iter()
        .filter(|a| a.skipped_total() > 0 || a.meetings > 0 || a.cancelled > 0)
        .map(|a| {
            let counts: Vec<u32> = f.reasons.iter().map(|r| a.skipped(*r)).collect();
            context! {
                agent_id => a.agent_id.to_string(),
                name => name_of(names, a.agent_id),
                meetings => a.meetings,
                cancelled => a.cancelled,
                counts,
                total => a.skipped_total(),
            }
        })
        .collect()
}

fn notice(q: &RoutingQuery, rows: &[Row]) -> Option<String> {
    let name = rows
        .iter()
        .find(|r| r.id == q.agent)
        .map(|r| r.name.as_str())?;
    Some(match q.done.as_str() {
        "up" => format!("{name} moved up the queue."),
        "down" => format!("{name} moved down the queue."),
        "paused" => format!("{name} is paused: the rotation skips them until resumed."),
        "resumed" => format!("{name} is back in the rotation."),
        _ => return None,
    })
}

fn oops(c: &Console, e: impl std::fmt::Display) -> HttpResponse {
    trouble(c, "Routing", "routing page", e)
}

/// The routing page of one team (the first team by default).
#[get("/admin/routing")]
pub async fn show(app: web::Data<App>, c: Console, q: web::Query<RoutingQuery>) -> HttpResponse {
    let q = q.into_inner();
    let teams = match app.store.list_teams().await {
        Ok(t) => t,
        Err(e) => return oops(&c, e),
    };
    let team_options: Vec<_> = teams
        .iter()
        .map(|t| context! { value => t.slug.to_string(), label => t.name.clone() })
        .collect();
    let team: Option<&Team> = if q.team.is_empty() {
        teams.first()
    } else {
        match teams.iter().find(|t| t.slug.as_str() == q.team) {
            Some(t) => Some(t),
            None => {
                return message(
                    &c,
                    "Routing",
                    "No such team. Pick one from the routing page.",
                    StatusCode::NOT_FOUND,
                )
            }
        }
    };
    let Some(team) = team else {
        return page(
            "routing.html",
            context! { console => c.view(), title => "Routing", nav => "routing", team_options },
            StatusCode::OK,
        );
    };
    let agents = match app.store.team_queue(team.id).await {
        Ok(a) => a,
        Err(e) => return oops(&c, e),
    };
    let connections = match connections_of(&app, &agents).await {
        Ok(found) => found,
        Err(e) => return oops(&c, e),
    };
    let queue = queue_view(team, &agents, &connections);
    let rows = rows_of(&queue.agents, &connections);

    let now = app.now();
    let since = now - Duration::days(FAIRNESS_DAYS);
    let routed = match app.store.routed_meetings(team.id, since, now).await {
        Ok(m) => m,
        Err(e) => return oops(&c, e),
    };
    let queue_ids: Vec<Uuid> = agents.iter().map(|a| a.id).collect();
    let f = fairness::tally(&queue_ids, &routed);
    let mut names: HashMap<Uuid, String> = agents.iter().map(|a| (a.id, a.name.clone())).collect();
    if f.agents.iter().any(|a| !names.contains_key(&a.agent_id)) {
        // Agents who left the queue since: their names, if they still exist.
        let all: Vec<Agent> = app.store.list_agents().await.unwrap_or_default();
        for a in all {
            names.entry(a.id).or_insert(a.name);
        }
    }
    let reasons: Vec<_> = f
        .reasons
        .iter()
        .map(|r| context! { name => reason_name(*r), label => reason_label(*r) })
        .collect();
    let next = rows.iter().find(|r| r.next).map(|r| r.name.clone());
    let last = rows
        .iter()
        .find(|r| r.last_assigned)
        .map(|r| r.name.clone());
    let in_rotation = rows.iter().filter(|r| r.active).count();
    let notice = notice(&q, &rows);
    page(
        "routing.html",
        context! {
            console => c.view(),
            title => format!("Routing · {}", team.name),
            nav => "routing",
            team_options,
            team => context! {
                slug => team.slug.to_string(),
                name => team.name.clone(),
                mode => team.mode.as_str(),
                daily_limit => team.daily_limit.map(|l| l.get()),
            },
            rows, next, last, in_rotation, notice,
            chart => chart(&f, &names, &queue_ids),
            skips => skip_rows(&f, &names),
            reasons,
            total_meetings => f.total_meetings,
            days => FAIRNESS_DAYS,
            since => local_time(since, c.zone),
        },
        StatusCode::OK,
    )
}

/// Where a form on the routing page returns to.
fn back_to(team: &str, done: &str, agent: Uuid) -> HttpResponse {
    let q = serde_urlencoded::to_string([
        ("team", team),
        ("done", done),
        ("agent", &agent.to_string()),
    ])
    .unwrap_or_default();
    see_other(&format!("/admin/routing?{q}"))
}

#[derive(Debug, Deserialize)]
pub struct MoveForm {
    csrf: String,
    agent: String,
    /// `up` (earlier in the queue) or `down`.
    direction: String,
}

/// Moves an agent one place up or down the team's queue.
#[post("/admin/routing/{team}/move")]
pub async fn move_agent(
    app: web::Data<App>,
    c: Console,
    team: web::Path<String>,
    form: web::Form<MoveForm>,
) -> Result<HttpResponse, NotSignedIn> {
    c.check_csrf(&form.csrf)?;
    let t = match app.store.team_by_slug(&team).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Ok(message(
                &c,
                "Routing",
                "No such team.",
                StatusCode::NOT_FOUND,
            ))
        }
        Err(e) => return Ok(oops(&c, e)),
    };
    let agents = match app.store.team_queue(t.id).await {
        Ok(a) => a,
        Err(e) => return Ok(oops(&c, e)),
    };
    let mut order: Vec<Uuid> = agents.iter().map(|a| a.id).collect();
    let Some(at) = Uuid::parse_str(&form.agent)
        .ok()
        .and_then(|id| order.iter().position(|a| *a == id))
    else {
        return Ok(message(
            &c,
            "Routing",
            "That agent is not in this team's queue any more. Reload the routing page.",
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    };
    let agent = order[at];
    let to = match form.direction.as_str() {
        "up" => at.checked_sub(1),
        "down" => Some(at + 1).filter(|i| *i < order.len()),
        _ => None,
    };
    if let Some(to) = to {
        order.swap(at, to);
        let order: Vec<String> = order.iter().map(Uuid::to_string).collect();
        if let Err(e) = admin::reorder_queue(&app, t.slug.as_str(), &order).await {
            return Ok(match AppError::from(e) {
                AppError::Validation(_) => message(
                    &c,
                    "Routing",
                    "The queue changed meanwhile. Reload the routing page and try again.",
                    StatusCode::CONFLICT,
                ),
                e => oops(&c, e),
            });
        }
    }
    Ok(back_to(t.slug.as_str(), &form.direction, agent))
}

#[derive(Debug, Deserialize)]
pub struct PauseForm {
    csrf: String,
    agent: String,
    /// `true` to pause, `false` to resume.
    paused: String,
}

/// Pauses an agent (it stays in the queue and is skipped with reason `paused`) or resumes it.
#[post("/admin/routing/{team}/pause")]
pub async fn pause_agent(
    app: web::Data<App>,
    c: Console,
    team: web::Path<String>,
    form: web::Form<PauseForm>,
) -> Result<HttpResponse, NotSignedIn> {
    c.check_csrf(&form.csrf)?;
    let Ok(id) = Uuid::parse_str(&form.agent) else {
        return Ok(message(
            &c,
            "Routing",
            "No such agent.",
            StatusCode::NOT_FOUND,
        ));
    };
    let paused = form.paused == "true";
    let input = UpdateAgentInput {
        paused: Some(paused),
        ..Default::default()
    };
    Ok(match admin::update_agent(&app, id, input).await {
        Ok(_) => back_to(&team, if paused { "paused" } else { "resumed" }, id),
        Err(admin::UpdateAgentError::NotFound) => {
            message(&c, "Routing", "No such agent.", StatusCode::NOT_FOUND)
        }
        Err(e) => oops(&c, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fairness::{tally, RoutedMeeting};
    use crate::domain::model::{MeetingStatus, RoutingTrace};
    use crate::domain::routing::RoutingStep;

    fn booked(agent: Uuid) -> RoutedMeeting {
        RoutedMeeting {
            agent_id: agent,
            status: MeetingStatus::Booked,
            routing: RoutingTrace {
                step: RoutingStep::RoundRobin,
                rule: None,
                account: None,
                skipped: vec![],
            },
        }
    }

    #[test]
    fn bars_are_scaled_to_the_busiest_agent_with_an_even_share_line() {
        let (a, b, gone) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let names = HashMap::from([(a, "Ann".to_owned()), (b, "Bob".to_owned())]);
        let f = tally(&[a, b], &[booked(a), booked(a), booked(gone)]);
        let c = chart(&f, &names, &[a, b]);
        let widths: Vec<_> = c.bars.iter().map(|b| b.width.as_str()).collect();
        assert_eq!(widths, ["88.00%", "0.00%", "44.00%"]);
        assert_eq!(c.bars[2].name, "Former agent");
        assert!(!c.bars[2].in_queue);
        assert_eq!(c.height, 3 * ROW_HEIGHT);
        // Three meetings among two queued agents: 1.5 each.
        assert_eq!(c.even_share, "1.5");
        assert_eq!(c.even_x, "66.00%");
        assert_eq!(
            c.summary,
            "Ann: 2 meetings; Bob: 0 meetings; Former agent: 1 meeting"
        );
    }

    #[test]
    fn an_empty_window_draws_empty_bars() {
        let a = Uuid::from_u128(1);
        let c = chart(&tally(&[a], &[]), &HashMap::new(), &[a]);
        assert_eq!(c.bars.len(), 1);
        assert_eq!(c.bars[0].width, "0.00%");
        assert_eq!(c.even_x, "0.00%");
    }
}
