//! Team availability for the chat service: the free slots of a team's candidates in a window, labelled in
//! the visitor's zone. Also the shared loading of agents' busy blocks used by booking.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::views::SlotList;
use super::App;
use crate::domain::availability::{pooled_slots, strict_slots, SlotPolicy, Span};
use crate::domain::model::{Agent, Team};
use crate::domain::routing::rotation;
use crate::domain::{IanaZone, MeetingLength, TeamMode};
use crate::error::{AppError, AppResult, Problems, SlotView};
use crate::store::TeamSnapshot;

/// Longest window one availability call may span.
pub const MAX_WINDOW_DAYS: i64 = 62;
/// Window used when the caller gives no `to`.
pub const DEFAULT_WINDOW_DAYS: i64 = 14;

/// The raw query, exactly as the chat service sent it.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// Start of the window, RFC 3339 (default: now).
    pub from: Option<String>,
    /// End of the window, RFC 3339 (default: 14 days after `from`; at most 62 days after it).
    pub to: Option<String>,
    /// The visitor's IANA zone, for `local` labels (default UTC).
    pub tz: Option<String>,
    /// Meeting length in minutes (default: the team's); a multiple of the team's step, at most 480.
    pub duration: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AvailabilityAnswer {
    pub team: String,
    pub timezone: String,
    pub duration: u32,
    /// Sorted, distinct, each bookable at the moment of the answer.
    #[schema(value_type = Vec<SlotView>)]
    pub slots: SlotList,
}

pub fn parse_instant(field: &str, s: &str, problems: &mut Problems) -> Option<DateTime<Utc>> {
    problems.check(
        field,
        DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                format!("`{s}` is not an RFC 3339 instant like 2026-11-23T10:00:00+01:00")
            }),
    )
}

/// A meeting length for this team: a whole number of minutes, a multiple of the team's step, ≤ 8 hours.
pub fn parse_duration(
    team: &Team,
    raw: Option<i64>,
    problems: &mut Problems,
) -> Option<MeetingLength> {
    let Some(minutes) = raw else {
        return Some(team.meeting);
    };
    let length = problems.check("duration", MeetingLength::parse(minutes))?;
    if minutes % team.slot_step_minutes as i64 != 0 {
        problems.add(
            "duration",
            format!(
                "must be a multiple of the team's {}-minute step",
                team.slot_step_minutes
            ),
        );
        return None;
    }
    Some(length)
}

pub async fn load_team(app: &App, slug: &str) -> AppResult<Team> {
    app.store
        .team_by_slug(slug)
        .await?
        .ok_or(AppError::NotFound("team"))
}

pub async fn team_availability(
    app: &App,
    slug: &str,
    q: &AvailabilityQuery,
) -> AppResult<AvailabilityAnswer> {
    let snapshot = app
        .store
        .team_snapshot(slug)
        .await?
        .ok_or(AppError::NotFound("team"))?;
    let team = &snapshot.team;
    let now = app.now();
    let mut problems = Problems::default();
    let from = match &q.from {
        Some(s) => parse_instant("from", s, &mut problems),
        None => Some(now),
    };
    let to = match (&q.to, from) {
        (Some(s), _) => parse_instant("to", s, &mut problems),
        (None, Some(f)) => Some(f + Duration::days(DEFAULT_WINDOW_DAYS)),
        (None, None) => None,
    };
    let zone = match &q.tz {
        Some(z) => problems.check("tz", IanaZone::parse(z)),
        None => Some(IanaZone::from(Tz::UTC)),
    };
    let raw_duration = match &q.duration {
        Some(d) => problems.check(
            "duration",
            d.trim()
                .parse::<i64>()
                .map_err(|_| "must be a whole number of minutes"),
        ),
        None => None,
    };
    let meeting = if q.duration.is_some() && raw_duration.is_none() {
        None
    } else {
        parse_duration(team, raw_duration, &mut problems)
    };
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            problems.add("to", "must be after `from`");
        } else if t - f > Duration::days(MAX_WINDOW_DAYS) {
            problems.add(
                "to",
                format!("the window may span at most {MAX_WINDOW_DAYS} days"),
            );
        }
    }
    problems.into_result()?;
    let (from, to, zone, meeting) = (from.unwrap(), to.unwrap(), zone.unwrap(), meeting.unwrap());

    let window = Span {
        start: from,
        end: to,
    };
    let starts = offered_starts(app, &snapshot, meeting, window, now).await?;
    Ok(AvailabilityAnswer {
        team: team.slug.to_string(),
        timezone: zone.name().to_owned(),
        duration: meeting.minutes(),
        slots: SlotList::new(starts, meeting.minutes(), zone.tz()),
    })
}

/// The starts a team offers in `window`: its active candidates' free slots, pooled or strict per the team.
pub async fn offered_starts(
    app: &App,
    snapshot: &TeamSnapshot,
    meeting: MeetingLength,
    window: Span,
    now: DateTime<Utc>,
) -> AppResult<Vec<DateTime<Utc>>> {
    let team = &snapshot.team;
    let policy = team.policy(meeting);
    let candidates: Vec<Agent> = ordered_candidates(team.last_agent_id, snapshot.queue.clone())
        .into_iter()
        .filter(|a| !a.paused && a.connected())
        .collect();
    let busy = busy_blocks(app, &candidates, widen(window, &policy)).await?;
    let calendars: Vec<_> = candidates
        .iter()
        .filter_map(|a| busy.get(&a.id).map(|b| a.calendar_view(b)))
        .collect();
    Ok(match team.mode {
        TeamMode::Pooled => pooled_slots(&calendars, &policy, window, now),
        TeamMode::Strict => strict_slots(&calendars, &policy, window, now)
            .map(|(_, s)| s)
            .unwrap_or_default(),
    })
}

/// The team's queue in rotation order: starting right after the agent who took the last meeting.
pub fn ordered_candidates(pointer: Option<Uuid>, queue: Vec<Agent>) -> Vec<Agent> {
    let ids: Vec<Uuid> = queue.iter().map(|a| a.id).collect();
    let order = rotation(&ids, pointer.as_ref());
    let mut by_id: HashMap<Uuid, Agent> = queue.into_iter().map(|a| (a.id, a)).collect();
    order
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect()
}

/// The range whose busy blocks can matter for slots starting in `window`.
pub fn widen(window: Span, policy: &SlotPolicy) -> Span {
    Span {
        start: window.start - Duration::minutes(policy.buffer_before_minutes as i64),
        end: window.end
            + Duration::minutes((policy.meeting_minutes + policy.buffer_after_minutes) as i64),
    }
}

/// Busy blocks per agent in `range`: the calendar's (read concurrently) plus rondo's own live meetings.
/// An agent whose calendar cannot be read right now is left out (logged), so one provider outage does not
/// take the whole team's availability down.
pub async fn busy_blocks(
    app: &App,
    agents: &[Agent],
    range: Span,
) -> AppResult<HashMap<Uuid, Vec<Span>>> {
    let reads = agents.iter().map(|a| async move {
        let Some(cal) = app.calendars.for_agent(a) else {
            return (a.id, None);
        };
        match cal.free_busy(a, range).await {
            Ok(b) => (a.id, Some(b)),
            Err(e) => {
                tracing::warn!(agent = %a.id, error = %e, "free/busy unavailable; agent left out");
                (a.id, None)
            }
        }
    });
    let from_calendars = futures_util::future::join_all(reads).await;
    let ids: Vec<Uuid> = agents.iter().map(|a| a.id).collect();
    let own = app.store.live_blocks(&ids, range).await?;
    let mut out: HashMap<Uuid, Vec<Span>> = from_calendars
        .into_iter()
        .filter_map(|(id, b)| b.map(|b| (id, b)))
        .collect();
    for (agent, span) in own {
        if let Some(list) = out.get_mut(&agent) {
            list.push(span);
        }
    }
    Ok(out)
}
