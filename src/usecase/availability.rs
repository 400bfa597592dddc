//! Team availability for the chat service: the free slots of a team's candidates in a window, labelled in
//! the visitor's zone. Also the shared loading of agents' busy blocks used by booking.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde_json::Map;
use uuid::Uuid;

use crate::app::App;
use crate::calendar::cache::{FreeBusyCache, Lookup};
use crate::calendar::CalendarError;
use crate::domain::availability::{bookable_window, pooled_slots, strict_slots, SlotPolicy, Span};
use crate::domain::limits::{self, DailyLimit};
use crate::domain::model::{Agent, Team};
use crate::domain::routing::{self, rotation, VisitorFacts};
use crate::domain::{EmailAddress, IanaZone, MeetingLength, TeamMode};
use crate::error::{AppError, AppResult, Problems};
use crate::store::TeamSnapshot;
use crate::usecase::booking::MAX_ATTRIBUTES_BYTES;

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
    /// The visitor's email: with `company` and `attributes`, the slots are those routing (account owner,
    /// rules, round robin) could book for this visitor.
    pub email: Option<String>,
    /// The visitor's company (a domain such as `acme.com` names an account).
    pub company: Option<String>,
    /// The booking's attributes, as a JSON object (URL-encoded), for the team's rules.
    pub attributes: Option<String>,
}

/// A team's free slots for a visitor: the starts, the meeting's length and the visitor's zone (for labels),
/// and how the calendars could be read.
#[derive(Debug, Clone)]
pub struct Availability {
    pub team: String,
    pub zone: IanaZone,
    pub meeting: MeetingLength,
    /// Sorted, distinct, each bookable at the moment of the answer.
    pub starts: Vec<DateTime<Utc>>,
    /// Only when some calendars could not be read fresh (a provider is down).
    pub calendars: Option<CalendarHealth>,
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
) -> AppResult<Availability> {
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
    let visitor = visitor_facts(q, &mut problems);
    problems.into_result()?;
    let (from, to, zone, meeting) = (from.unwrap(), to.unwrap(), zone.unwrap(), meeting.unwrap());

    let window = Span {
        start: from,
        end: to,
    };
    let (starts, busy) =
        offered_starts_and_health(app, &snapshot, meeting, window, now, &visitor).await?;
    let calendars =
        (!busy.stale.is_empty() || !busy.unavailable.is_empty()).then_some(CalendarHealth {
            stale: busy.stale.len(),
            unavailable: busy.unavailable.len(),
        });
    Ok(Availability {
        team: team.slug.to_string(),
        zone,
        meeting,
        starts,
        calendars,
    })
}

/// The visitor as the query describes it (nothing: a visitor routing knows nothing of).
fn visitor_facts(q: &AvailabilityQuery, problems: &mut Problems) -> VisitorFacts {
    let email = q
        .email
        .as_deref()
        .filter(|e| !e.trim().is_empty())
        .and_then(|e| problems.check("email", EmailAddress::parse(e)));
    let company = q
        .company
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if company.is_some_and(|c| c.chars().count() > 500) {
        problems.add("company", "at most 500 characters");
    }
    let attributes = match q
        .attributes
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        None => Map::new(),
        Some(raw) if raw.len() > MAX_ATTRIBUTES_BYTES => {
            problems.add("attributes", "at most 8 KiB of attributes");
            Map::new()
        }
        Some(raw) => match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                problems.add(
                    "attributes",
                    r#"must be a JSON object, like {"state":"CA"} (URL-encoded)"#,
                );
                Map::new()
            }
        },
    };
    VisitorFacts::new(email.as_ref(), company, attributes)
}

/// Present when some agents' calendars could not be read fresh: how many were answered from free/busy
/// older than the TTL (`stale`), and how many were left out entirely (`unavailable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarHealth {
    pub stale: usize,
    pub unavailable: usize,
}

/// The starts a team offers `visitor` in `window`: the free slots of the active agents routing would ask
/// for that visitor, pooled or strict per the team.
pub async fn offered_starts(
    app: &App,
    snapshot: &TeamSnapshot,
    meeting: MeetingLength,
    window: Span,
    now: DateTime<Utc>,
    visitor: &VisitorFacts,
) -> AppResult<Vec<DateTime<Utc>>> {
    Ok(
        offered_starts_and_health(app, snapshot, meeting, window, now, visitor)
            .await?
            .0,
    )
}

/// `offered_starts`, with what was read of the calendars.
pub async fn offered_starts_and_health(
    app: &App,
    snapshot: &TeamSnapshot,
    meeting: MeetingLength,
    window: Span,
    now: DateTime<Utc>,
    visitor: &VisitorFacts,
) -> AppResult<(Vec<DateTime<Utc>>, Busy)> {
    let team = &snapshot.team;
    let policy = team.policy(meeting);
    // Calendars are read (and cached) only inside the team's bookable range: a window far in the past or
    // future answers at once, with nothing read.
    let Some(window) = bookable_window(&policy, window, now) else {
        return Ok((Vec::new(), Busy::default()));
    };
    // Only strict mode cares who is next; the snapshot's pointer may lag the bookings just made (they do
    // not invalidate it), so it is read as committed.
    let pointer = match team.mode {
        TeamMode::Strict => app.store.team_pointer(team.id).await?,
        TeamMode::Pooled => team.last_agent_id,
    };
    // Everyone routing would ask for this visitor, in the order it would ask them: pooled mode offers any of
    // their free slots (the rotation asks the whole team last, so that is the team's), strict mode only the
    // first one's with any free slot.
    let ids: Vec<Uuid> = snapshot.queue.iter().map(|a| a.id).collect();
    let plan = routing::plan(&snapshot.routing.table, visitor, &ids, pointer, |rule| {
        snapshot.routing.rule_pointers.get(rule).copied()
    });
    let by_id: HashMap<Uuid, &Agent> = snapshot.queue.iter().map(|a| (a.id, a)).collect();
    let candidates: Vec<Agent> = plan
        .asks
        .iter()
        .filter_map(|ask| by_id.get(&ask.agent).copied())
        .filter(|a| !a.paused && a.connected())
        .cloned()
        .collect();
    let mut busy = busy_blocks(app, &candidates, widen(window, &policy), Read::Cached).await?;
    add_full_days(app, &mut busy, &candidates, team.daily_limit, window).await?;
    let calendars: Vec<_> = candidates
        .iter()
        .filter_map(|a| busy.blocks.get(&a.id).map(|b| a.calendar_view(b)))
        .collect();
    let starts = match team.mode {
        TeamMode::Pooled => pooled_slots(&calendars, &policy, window, now),
        TeamMode::Strict => strict_slots(&calendars, &policy, window, now)
            .map(|(_, s)| s)
            .unwrap_or_default(),
    };
    Ok((starts, busy))
}

/// Adds, to the blocks of each candidate with a daily limit, the local days on which it is full.
async fn add_full_days(
    app: &App,
    busy: &mut Busy,
    candidates: &[Agent],
    team_limit: Option<DailyLimit>,
    window: Span,
) -> AppResult<()> {
    let limited: Vec<(&Agent, DailyLimit)> = candidates
        .iter()
        .filter_map(|a| Some((a, limits::effective(a.daily_limit, team_limit)?)))
        .collect();
    if limited.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = limited.iter().map(|(a, _)| a.id).collect();
    let range = Span {
        start: limits::any_zone_day_around(window.start).start,
        end: limits::any_zone_day_around(window.end).end,
    };
    let mut starts: HashMap<Uuid, Vec<DateTime<Utc>>> = HashMap::new();
    for (agent, at) in app.store.live_starts(&ids, range).await? {
        starts.entry(agent).or_default().push(at);
    }
    for (agent, limit) in limited {
        if let (Some(blocks), Some(taken)) = (busy.blocks.get_mut(&agent.id), starts.get(&agent.id))
        {
            blocks.extend(limits::full_days(agent.zone.tz(), limit, taken));
        }
    }
    Ok(())
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

/// How to read agents' calendars: availability may use the free/busy cache; a booking reads live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Cached,
    Live,
}

/// Agents' busy blocks, and what could not be read.
#[derive(Debug, Default)]
pub struct Busy {
    /// Per readable agent: the calendar's blocks plus rondo's own live meetings.
    pub blocks: HashMap<Uuid, Vec<Span>>,
    /// Agents whose grant was refused just now (they leave rotation).
    pub disconnected: Vec<Uuid>,
    /// Agents served from a stale cache entry because their provider did not answer.
    pub stale: Vec<Uuid>,
    /// Agents left out: no calendar answer and nothing recent enough cached.
    pub unavailable: Vec<Uuid>,
}

/// How long availability waits for provider calls before answering with what it has.
const FRESH_READ_DEADLINE: std::time::Duration = std::time::Duration::from_secs(3);

enum One {
    Blocks(Vec<Span>),
    Cached(Vec<Span>),
    Stale(Vec<Span>),
    Disconnected,
    Unavailable,
}

async fn read_one(app: &App, a: &Agent, range: Span, read: Read) -> One {
    let one = read_one_uncounted(app, a, range, read).await;
    let source = match &one {
        One::Cached(_) => "cache",
        One::Blocks(_) => "provider",
        One::Stale(_) => "stale",
        One::Disconnected => "disconnected",
        One::Unavailable => "unavailable",
    };
    app.metrics.freebusy.with_label_values(&[source]).inc();
    match one {
        One::Cached(b) => One::Blocks(b),
        other => other,
    }
}

async fn read_one_uncounted(app: &App, a: &Agent, range: Span, read: Read) -> One {
    let Some(cal) = app.calendars.for_agent(a) else {
        return One::Disconnected;
    };
    let now = app.now();
    let mut stale = None;
    let fetch = match read {
        Read::Live => range,
        Read::Cached => {
            match app.freebusy.get(a.id, range, now) {
                Lookup::Fresh(b) => return One::Cached(clip(&b, range)),
                Lookup::Stale(b) => stale = Some(b),
                Lookup::Missing => {}
            }
            FreeBusyCache::fetch_range(range, now)
        }
    };
    let answer = match read {
        Read::Live => Ok(cal.free_busy(a, fetch).await),
        Read::Cached => tokio::time::timeout(FRESH_READ_DEADLINE, cal.free_busy(a, fetch)).await,
    };
    match answer {
        Ok(Ok(blocks)) => {
            let out = clip(&blocks, range);
            // A live read covers only the slot: it would narrow the cached range, so it is not kept.
            if read == Read::Cached {
                app.freebusy.put(a.id, fetch, blocks, now);
            }
            One::Blocks(out)
        }
        Ok(Err(CalendarError::Disconnected(why))) => {
            tracing::warn!(agent = %a.id, reason = %why, "calendar disconnected; agent left out");
            app.freebusy.forget(a.id);
            One::Disconnected
        }
        failed => {
            let why = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => "no answer in time".to_owned(),
            };
            match stale {
                Some(b) => {
                    tracing::warn!(agent = %a.id, error = %why, "free/busy unavailable; serving the last known blocks");
                    One::Stale(clip(&b, range))
                }
                None => {
                    tracing::warn!(agent = %a.id, error = %why, "free/busy unavailable; agent left out");
                    One::Unavailable
                }
            }
        }
    }
}

/// The blocks that touch `range`.
fn clip(blocks: &[Span], range: Span) -> Vec<Span> {
    blocks
        .iter()
        .filter(|b| b.end > range.start && b.start < range.end)
        .copied()
        .collect()
}

/// Busy blocks per agent in `range`: the calendar's (read concurrently; cached or live per `read`) plus
/// rondo's own live meetings. An agent whose calendar cannot be read right now is left out (and reported),
/// so one provider outage does not take the whole team's availability down.
pub async fn busy_blocks(app: &App, agents: &[Agent], range: Span, read: Read) -> AppResult<Busy> {
    let mut busy = calendar_blocks(app, agents, range, read).await;
    let ids: Vec<Uuid> = agents.iter().map(|a| a.id).collect();
    for (agent, span) in app.store.live_blocks(&ids, range).await? {
        if let Some(list) = busy.blocks.get_mut(&agent) {
            list.push(span);
        }
    }
    Ok(busy)
}

/// `busy_blocks` without rondo's own meetings: for a caller that checks those itself, inside its write.
pub async fn calendar_blocks(app: &App, agents: &[Agent], range: Span, read: Read) -> Busy {
    let reads = agents
        .iter()
        .map(|a| async move { (a.id, read_one(app, a, range, read).await) });
    let from_calendars = futures_util::future::join_all(reads).await;
    let mut out = Busy::default();
    for (id, one) in from_calendars {
        match one {
            One::Blocks(b) | One::Cached(b) => {
                out.blocks.insert(id, b);
            }
            One::Stale(b) => {
                out.blocks.insert(id, b);
                out.stale.push(id);
            }
            One::Disconnected => out.disconnected.push(id),
            One::Unavailable => out.unavailable.push(id),
        }
    }
    out
}

/// Refreshes the cached free/busy of every agent in rotation whose entry is due (concurrently, at most
/// `PARALLEL` at a time), so availability rarely waits on a provider. Returns how many were refreshed.
pub async fn refresh_freebusy(app: &App) -> AppResult<usize> {
    const PARALLEL: usize = 16;
    let now = app.now();
    let agents: Vec<Agent> = app
        .store
        .list_agents()
        .await?
        .into_iter()
        .filter(|a| !a.paused && a.connected() && app.freebusy.due(a.id, now))
        .collect();
    let range = Span {
        start: now,
        end: now + Duration::days(crate::calendar::cache::FETCH_AHEAD_DAYS - 1),
    };
    let mut refreshed = 0;
    for chunk in agents.chunks(PARALLEL) {
        let reads = chunk.iter().map(|a| async move {
            let cal = app.calendars.for_agent(a)?;
            let fetch = FreeBusyCache::fetch_range(range, now);
            match cal.free_busy(a, fetch).await {
                Ok(blocks) => {
                    app.freebusy.put(a.id, fetch, blocks, now);
                    Some(())
                }
                Err(e) => {
                    tracing::debug!(agent = %a.id, error = %e, "background free/busy refresh failed");
                    None
                }
            }
        });
        refreshed += futures_util::future::join_all(reads)
            .await
            .into_iter()
            .flatten()
            .count();
    }
    Ok(refreshed)
}
