//! Booking, reading, cancelling and rescheduling a meeting for the chat service.
//!
//! A booking walks the team's candidates in rotation order; for each it re-reads the agent's calendar live
//! (DESIGN.md "Double booking") and then, in one `BEGIN IMMEDIATE` transaction, re-checks the agent's live
//! meetings for overlap, inserts the meeting, moves the round-robin pointer, writes the activity and saves
//! the idempotent response. A candidate lost to a concurrent booking is skipped as `busy`; when none is
//! left the client gets 409 with the next free slots.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::availability::{
    busy_blocks, load_team, offered_starts, ordered_candidates, parse_duration, parse_instant,
    widen, Read,
};
use super::views::{booking_view, slot_view, visitor_tz, BookingView};
use crate::app::App;
use crate::domain::availability::{check_slot, check_timing, SlotCheck, SlotPolicy, Span, Timing};
use crate::domain::model::{
    activity_data, ActivityType, Agent, Meeting, MeetingStatus, RoutingTrace, SkippedAgent, Team,
    Visitor,
};
use crate::domain::routing::{classify, CandidateState, RoutingStep, SkipReason};
use crate::domain::{EmailAddress, IanaZone, MeetingLength};
use crate::error::{AppError, AppResult, Problems, SlotView};
use crate::mail::render::MailKind;
use crate::outbox;
use crate::store::{Claim, ClaimedKey, NewActivity, StoredResponse, Tx};

/// How many free slots a 409 offers instead.
const ALTERNATIVES: usize = 5;
/// Longest free-text field we keep (names, reasons, ids).
const MAX_TEXT: usize = 500;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorInput {
    pub email: String,
    pub name: Option<String>,
    pub company: Option<String>,
    /// IANA zone; times in answers are given in it.
    pub timezone: Option<String>,
    /// BCP 47 tag (`nl`, `en-GB`): the language of the emails (Dutch or English; English by default).
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    pub team: String,
    /// RFC 3339 start of a slot that availability offered.
    pub start: String,
    /// Minutes (default: the team's meeting length).
    pub duration: Option<i64>,
    pub visitor: VisitorInput,
    pub session_id: Option<String>,
    pub dialogue_id: Option<String>,
    /// Free-form facts about the visitor, for routing rules and reporting.
    #[schema(value_type = Object)]
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    pub start: String,
}

/// A booking request that passed validation.
struct ValidBooking {
    team: Team,
    start: DateTime<Utc>,
    meeting: MeetingLength,
    visitor: Visitor,
    session_id: Option<String>,
    dialogue_id: Option<String>,
    attributes: serde_json::Map<String, serde_json::Value>,
}

/// Who is asking, for idempotency keys: keys are per token.
pub struct IdempotencyContext<'a> {
    pub scope: &'a str,
    pub key: Option<&'a str>,
    /// The request body exactly as received.
    pub body: &'a [u8],
}

fn text(field: &str, v: &Option<String>, problems: &mut Problems) -> Option<String> {
    let v = v.as_ref().map(|s| s.trim()).filter(|s| !s.is_empty())?;
    if v.chars().count() > MAX_TEXT {
        problems.add(field, format!("at most {MAX_TEXT} characters"));
        return None;
    }
    Some(v.to_owned())
}

fn parse_visitor(v: &VisitorInput, problems: &mut Problems) -> Option<Visitor> {
    let email = problems.check("visitor.email", EmailAddress::parse(&v.email));
    let zone = match &v.timezone {
        Some(z) => problems
            .check("visitor.timezone", IanaZone::parse(z))
            .map(Some),
        None => Some(None),
    };
    let name = text("visitor.name", &v.name, problems);
    let locale = match v.locale.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        Some(l)
            if l.len() <= 35
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            Some(l.to_owned())
        }
        Some(_) => {
            problems.add("visitor.locale", "must be a language tag like en or nl-NL");
            None
        }
        None => None,
    };
    let company = text("visitor.company", &v.company, problems);
    Some(Visitor {
        email: email?.to_string(),
        name,
        company,
        timezone: zone?.map(|z| z.name().to_owned()),
        locale,
    })
}

/// Whether `start` lies on some queue agent's working grid: availability could offer it.
fn on_some_grid(queue: &[Agent], policy: &SlotPolicy, start: DateTime<Utc>) -> bool {
    queue
        .iter()
        .any(|a| check_slot(&a.calendar_view(&[]), policy, start) != SlotCheck::OutsideHours)
}

fn timing_problem(t: Timing) -> String {
    match t {
        Timing::TooSoon => {
            "is inside the team's minimum notice; ask availability for bookable slots".into()
        }
        Timing::BeyondHorizon => {
            "is beyond the team's booking horizon; ask availability for bookable slots".into()
        }
    }
}

async fn validate_booking(
    app: &App,
    req: &BookingRequest,
    now: DateTime<Utc>,
) -> AppResult<(ValidBooking, Vec<Agent>)> {
    let mut problems = Problems::default();
    let team = match app.store.team_by_slug(req.team.trim()).await? {
        Some(t) => Some(t),
        None => {
            problems.add("team", format!("no team `{}`", req.team));
            None
        }
    };
    let start = parse_instant("start", &req.start, &mut problems);
    let visitor = parse_visitor(&req.visitor, &mut problems);
    let session_id = text("session_id", &req.session_id, &mut problems);
    let dialogue_id = text("dialogue_id", &req.dialogue_id, &mut problems);
    if serde_json::to_string(&req.attributes)
        .map(|s| s.len())
        .unwrap_or(0)
        > 8 * 1024
    {
        problems.add("attributes", "at most 8 KiB of attributes");
    }
    let Some(team) = team else {
        problems.into_result()?;
        unreachable!("a missing team is a problem");
    };
    let meeting = parse_duration(&team, req.duration, &mut problems);
    let queue = app.store.team_queue(team.id).await?;
    if let (Some(start), Some(meeting)) = (start, meeting) {
        let policy = team.policy(meeting);
        if let Err(t) = check_timing(&policy, start, now) {
            problems.add("start", timing_problem(t));
        } else if !on_some_grid(&queue, &policy, start) {
            problems.add(
                "start",
                "is not a slot this team offers (off the step or outside every agent's hours); ask availability",
            );
        }
    }
    problems.into_result()?;
    Ok((
        ValidBooking {
            team,
            start: start.expect("checked"),
            meeting: meeting.expect("checked"),
            visitor: visitor.expect("checked"),
            session_id,
            dialogue_id,
            attributes: req.attributes.clone(),
        },
        queue,
    ))
}

/// SHA-256 of the body's canonical JSON (keys sorted), so whitespace and key order do not matter.
fn request_hash(body: &[u8]) -> String {
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_else(|_| body.to_vec());
    hex::encode(Sha256::digest(&canonical))
}

/// The outcome of a booking call: the status and JSON body to answer with.
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// The answer was stored under this Idempotency-Key by an earlier request: nothing happened now
    /// (metrics count it apart from new bookings).
    pub replayed: bool,
}

/// Books a meeting (POST /v1/bookings), honouring the Idempotency-Key.
pub async fn book(
    app: &App,
    req: &BookingRequest,
    idem: IdempotencyContext<'_>,
) -> AppResult<Answer> {
    let key = idem.key.ok_or(AppError::MissingIdempotencyKey)?;
    let now = app.now();
    // The key is looked up before anything else: a retry gets the stored answer even when the request,
    // checked again now, would no longer pass (its slot is now inside the notice, say).
    let hash = request_hash(idem.body);
    let claim = match app
        .store
        .claim_idempotency_key(idem.scope, key, &hash, now)
        .await?
    {
        Claim::Started(claim) => claim,
        Claim::Replay(r) => {
            return Ok(Answer {
                status: r.status,
                body: r.body,
                replayed: true,
            })
        }
        Claim::Mismatch => return Err(AppError::IdempotencyKeyReused),
        Claim::InFlight => return Err(AppError::IdempotencyKeyInFlight),
    };
    let outcome = match validate_booking(app, req, now).await {
        Ok((valid, queue)) => book_claimed(app, valid, queue, &claim).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(answer) => Ok(answer),
        Err(AppError::SlotTaken { alternatives }) => {
            // A lost race is a final answer for this key, as Stripe does: a retry gets the same 409.
            let body = serde_json::to_string(&crate::http::problem::slot_taken_body(&alternatives))
                .expect("json");
            let stored = StoredResponse { status: 409, body };
            if !app.store.save_idempotent_response(&claim, &stored).await? {
                return Err(AppError::IdempotencyKeyInFlight);
            }
            Err(AppError::SlotTaken { alternatives })
        }
        Err(e) => {
            // Bad input and faults are not saved: the client may fix the request and retry with the key.
            if let Err(release) = app.store.release_idempotency_key(&claim).await {
                tracing::error!(error = %release, "could not release idempotency key");
            }
            Err(e)
        }
    }
}

/// Screens candidates for a slot: paused, disconnected, outside hours, or busy. Calendars of the agents
/// still in the running are read live and concurrently, together with rondo's own live meetings.
async fn screen_all(
    app: &App,
    agents: &[Agent],
    policy: &SlotPolicy,
    start: DateTime<Utc>,
    ignore: Option<&Meeting>,
) -> AppResult<HashMap<Uuid, Result<(), SkipReason>>> {
    let mut verdicts = HashMap::new();
    let mut still_in = Vec::new();
    for agent in agents {
        let static_state = CandidateState {
            paused: agent.paused,
            connected: agent.connected(),
            slot: check_slot(&agent.calendar_view(&[]), policy, start),
        };
        match classify(&static_state) {
            Err(reason) => {
                verdicts.insert(agent.id, Err(reason));
            }
            Ok(()) => still_in.push(agent.clone()),
        }
    }
    let slot_span = Span {
        start,
        end: start + Duration::minutes(policy.meeting_minutes as i64),
    };
    let mut busy = busy_blocks(app, &still_in, widen(slot_span, policy), Read::Live).await?;
    for agent in still_in {
        // A calendar that could not be read counts as busy: never book blind.
        let verdict = match busy.blocks.remove(&agent.id) {
            None if busy.disconnected.contains(&agent.id) => Err(SkipReason::Disconnected),
            None => Err(SkipReason::Busy),
            Some(mut blocks) => {
                if let Some(m) = ignore.filter(|m| m.agent_id == agent.id) {
                    // The meeting being moved is not in its own way: drop its event and its blocked range.
                    let own_event = Span {
                        start: m.start,
                        end: m.end,
                    };
                    blocks.retain(|b| *b != own_event && *b != m.blocked);
                }
                match check_slot(&agent.calendar_view(&blocks), policy, start) {
                    SlotCheck::Free => Ok(()),
                    SlotCheck::Busy => Err(SkipReason::Busy),
                    SlotCheck::OutsideHours => Err(SkipReason::OutsideHours),
                }
            }
        };
        verdicts.insert(agent.id, verdict);
    }
    Ok(verdicts)
}

/// Books after the key was claimed. Every candidate is screened first (outside the write lock); then, in
/// one write transaction, the rotation is computed from the pointer as it is now and the first screened-free
/// candidate without an overlapping meeting takes the slot.
async fn book_claimed(
    app: &App,
    b: ValidBooking,
    queue: Vec<Agent>,
    claim: &ClaimedKey,
) -> AppResult<Answer> {
    let policy = b.team.policy(b.meeting);
    let end = b.start + Duration::minutes(b.meeting.minutes() as i64);
    let blocked = b.team.blocked_range(b.start, b.meeting);
    let verdicts = screen_all(app, &queue, &policy, b.start, None).await?;

    let mut tx = app.store.begin_write().await?;
    let pointer = app.store.team_pointer_in(&mut tx, b.team.id).await?;
    let mut skipped = Vec::new();
    let mut chosen = None;
    for agent in ordered_candidates(pointer, queue) {
        let verdict = match verdicts.get(&agent.id) {
            Some(Ok(()))
                if app
                    .store
                    .agent_has_overlap_in(&mut tx, agent.id, blocked, None)
                    .await? =>
            {
                Err(SkipReason::Busy)
            }
            Some(v) => *v,
            None => Err(SkipReason::Busy),
        };
        match verdict {
            Ok(()) => {
                chosen = Some(agent);
                break;
            }
            Err(reason) => skipped.push(SkippedAgent {
                agent_id: agent.id,
                reason,
            }),
        }
    }
    let Some(agent) = chosen else {
        tx.rollback().await?;
        let alternatives =
            alternatives_after(app, &b.team, b.meeting, b.start, visitor_tz(&b.visitor)).await?;
        return Err(AppError::SlotTaken { alternatives });
    };
    let now = app.now();
    let meeting = Meeting {
        id: Uuid::now_v7(),
        team_id: b.team.id,
        team_slug: b.team.slug.to_string(),
        agent_id: agent.id,
        start: b.start,
        end,
        blocked,
        status: MeetingStatus::Booked,
        visitor: b.visitor,
        session_id: b.session_id,
        dialogue_id: b.dialogue_id,
        attributes: b.attributes,
        routing: RoutingTrace {
            step: RoutingStep::RoundRobin,
            skipped,
        },
        took_place: None,
        cancel_reason: None,
        calendar_status: "pending".into(),
        video_link: None,
        calendar_agent_id: Some(agent.id),
        calendar_cleanup_agent_id: None,
        calendar_version: 1,
        calendar_synced: 0,
        created_at: now,
        updated_at: now,
    };
    app.store.insert_meeting_in(&mut tx, &meeting).await?;
    app.store
        .set_team_pointer_in(&mut tx, b.team.id, agent.id)
        .await?;
    record_activity(app, &mut tx, ActivityType::Scheduled, &meeting, &agent, now).await?;
    enqueue_effects(
        app,
        &mut tx,
        meeting.id,
        MailKind::Invitation,
        meeting.calendar_version,
        now,
    )
    .await?;
    let body = serde_json::to_string(&booking_view(&meeting, &agent, &app.config)).expect("json");
    let stored = StoredResponse {
        status: 201,
        body: body.clone(),
    };
    if !app
        .store
        .save_idempotent_response_in(&mut tx, claim, &stored)
        .await?
    {
        // Our lease ran out and a retry took the key over: it books, we do not.
        tx.rollback().await?;
        return Err(AppError::IdempotencyKeyInFlight);
    }
    app.store.commit(tx).await?;

    outbox::sync_calendar_inline(app, meeting.id).await;
    let synced = app
        .store
        .meeting(meeting.id)
        .await?
        .ok_or(AppError::NotFound("booking"))?;
    if synced.calendar_status == meeting.calendar_status {
        return Ok(Answer {
            status: 201,
            body,
            replayed: false,
        });
    }
    // The answer now carries the event: keep the replayed answer the same as this one.
    let body = serde_json::to_string(&booking_view(&synced, &agent, &app.config)).expect("json");
    let stored = StoredResponse {
        status: 201,
        body: body.clone(),
    };
    let mut tx = app.store.begin_write().await?;
    app.store
        .save_idempotent_response_in(&mut tx, claim, &stored)
        .await?;
    app.store.commit(tx).await?;
    Ok(Answer {
        status: 201,
        body,
        replayed: false,
    })
}

/// Writes the jobs a meeting change owes, in the change's transaction: the calendar sync (tried inline
/// right after the commit) and the visitor's email for this version of the meeting (sent by the worker a
/// few seconds later, so it usually carries the video link).
async fn enqueue_effects(
    app: &App,
    tx: &mut Tx,
    meeting: Uuid,
    mail: MailKind,
    version: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let later = now + Duration::seconds(outbox::FIRST_RUN_DELAY_SECONDS);
    app.store
        .insert_job_in(tx, outbox::CALENDAR_SYNC, Some(meeting), None, later, now)
        .await?;
    let target = outbox::email::target(meeting, mail, version);
    app.store
        .insert_job_in(
            tx,
            outbox::email::EMAIL_SEND,
            Some(meeting),
            Some(&target),
            later,
            now,
        )
        .await?;
    Ok(())
}

async fn record_activity(
    app: &App,
    tx: &mut Tx,
    kind: ActivityType,
    m: &Meeting,
    agent: &Agent,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let activity = NewActivity {
        id: Uuid::now_v7(),
        kind,
        occurred_at: now,
        meeting_id: m.id,
        data: activity_data(m, agent),
    };
    app.store.insert_activity_in(tx, &activity).await?;
    // One delivery per subscribed endpoint, committed with the activity (the outbox delivers it).
    for endpoint in app.store.endpoints_for_in(tx, kind.as_str()).await? {
        let delivery = app
            .store
            .insert_delivery_in(tx, endpoint, activity.id, now)
            .await?;
        app.store
            .insert_job_in(
                tx,
                outbox::webhook::WEBHOOK_DELIVER,
                None,
                Some(&delivery.to_string()),
                now,
                now,
            )
            .await?;
    }
    Ok(())
}

/// The next free slots of the team from `after` on (never `after` itself), in the visitor's zone.
async fn alternatives_after(
    app: &App,
    team: &Team,
    meeting: MeetingLength,
    after: DateTime<Utc>,
    tz: Option<chrono_tz::Tz>,
) -> AppResult<Vec<SlotView>> {
    let now = app.now();
    let window = Span {
        start: after.max(now),
        end: after.max(now) + Duration::days(14),
    };
    let Some(snapshot) = app.store.team_snapshot(team.slug.as_str()).await? else {
        return Ok(Vec::new());
    };
    Ok(offered_starts(app, &snapshot, meeting, window, now)
        .await?
        .into_iter()
        .filter(|s| *s != after)
        .take(ALTERNATIVES)
        .map(|s| slot_view(s, meeting.minutes(), tz.unwrap_or(chrono_tz::UTC)))
        .collect())
}

async fn meeting_with_agent(app: &App, id: Uuid) -> AppResult<(Meeting, Agent)> {
    let m = app
        .store
        .meeting(id)
        .await?
        .ok_or(AppError::NotFound("booking"))?;
    let agent = app
        .store
        .agents_by_ids(&[m.agent_id])
        .await?
        .pop()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("meeting {id} has no agent row")))?;
    Ok((m, agent))
}

pub async fn get_booking(app: &App, id: Uuid) -> AppResult<BookingView> {
    let (m, agent) = meeting_with_agent(app, id).await?;
    Ok(booking_view(&m, &agent, &app.config))
}

/// Cancels a booking; cancelling a cancelled booking answers it as it is.
pub async fn cancel_booking(app: &App, id: Uuid, req: &CancelRequest) -> AppResult<BookingView> {
    let mut problems = Problems::default();
    let reason = text("reason", &req.reason, &mut problems);
    problems.into_result()?;
    let (_, agent) = meeting_with_agent(app, id).await?;
    let now = app.now();
    let mut tx = app.store.begin_write().await?;
    let changed = app
        .store
        .cancel_meeting_in(&mut tx, id, reason.as_deref(), now)
        .await?;
    let meeting = app
        .store
        .meeting_in(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound("booking"))?;
    if changed {
        record_activity(app, &mut tx, ActivityType::Cancelled, &meeting, &agent, now).await?;
        enqueue_effects(
            app,
            &mut tx,
            id,
            MailKind::Cancellation,
            meeting.calendar_version,
            now,
        )
        .await?;
    }
    app.store.commit(tx).await?;
    if changed {
        outbox::sync_calendar_inline(app, id).await;
    }
    let (fresh, fresh_agent) = meeting_with_agent(app, id).await?;
    Ok(booking_view(&fresh, &fresh_agent, &app.config))
}

/// Moves a booking: the same agent when free at the new time, else the rotation picks (and the pointer
/// moves to whoever it picks); the old slot is freed in the same transaction.
pub async fn reschedule_booking(
    app: &App,
    id: Uuid,
    req: &RescheduleRequest,
) -> AppResult<BookingView> {
    move_booking(app, id, req, false).await
}

/// Moves a booking; with `same_agent_only` (the visitor's page) it stays with its agent or does not move.
pub async fn move_booking(
    app: &App,
    id: Uuid,
    req: &RescheduleRequest,
    same_agent_only: bool,
) -> AppResult<BookingView> {
    let now = app.now();
    let (old, old_agent) = meeting_with_agent(app, id).await?;
    if old.status != MeetingStatus::Booked {
        return Err(AppError::Conflict {
            kind: "booking-cancelled",
            detail: "a cancelled booking cannot be rescheduled".into(),
        });
    }
    let team = load_team(app, &old.team_slug).await?;
    let meeting_len = MeetingLength::parse((old.end - old.start).num_minutes())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored meeting length: {e}")))?;
    let policy = team.policy(meeting_len);
    let mut problems = Problems::default();
    let start = parse_instant("start", &req.start, &mut problems);
    let queue = app.store.team_queue(team.id).await?;
    if let Some(start) = start {
        if let Err(t) = check_timing(&policy, start, now) {
            problems.add("start", timing_problem(t));
        } else if !on_some_grid(&queue, &policy, start) {
            problems.add("start", "is not a slot this team offers (off the step or outside every agent's hours); ask availability");
        }
    }
    problems.into_result()?;
    let start = start.expect("checked");
    if start == old.start {
        // Already there (a retry, a double click): nothing changes, nothing is sent again.
        return Ok(booking_view(&old, &old_agent, &app.config));
    }
    let end = start + Duration::minutes(meeting_len.minutes() as i64);
    let blocked = team.blocked_range(start, meeting_len);

    let mut skipped = Vec::new();
    // The same agent first, while it is still in the team's queue; then the rotation, in order.
    let still_queued = queue.iter().any(|a| a.id == old_agent.id);
    let mut tries: Vec<(Agent, bool)> = Vec::new();
    if still_queued {
        tries.push((old_agent.clone(), false));
    }
    if !same_agent_only {
        tries.extend(
            ordered_candidates(team.last_agent_id, queue)
                .into_iter()
                .filter(|a| a.id != old_agent.id)
                .map(|a| (a, true)),
        );
    }
    for (agent, by_rotation) in tries {
        let verdict = screen_all(
            app,
            std::slice::from_ref(&agent),
            &policy,
            start,
            Some(&old),
        )
        .await?;
        if let Some(Err(reason)) = verdict.get(&agent.id).copied() {
            skipped.push(SkippedAgent {
                agent_id: agent.id,
                reason,
            });
            continue;
        }
        let mut tx = app.store.begin_write().await?;
        if app
            .store
            .agent_has_overlap_in(&mut tx, agent.id, blocked, Some(id))
            .await?
        {
            tx.rollback().await?;
            skipped.push(SkippedAgent {
                agent_id: agent.id,
                reason: SkipReason::Busy,
            });
            continue;
        }
        let current = app
            .store
            .meeting_in(&mut tx, id)
            .await?
            .ok_or(AppError::NotFound("booking"))?;
        if current.status != MeetingStatus::Booked {
            tx.rollback().await?;
            return Err(AppError::Conflict {
                kind: "booking-cancelled",
                detail: "the booking was cancelled meanwhile".into(),
            });
        }
        // Kept by the same agent, the meeting keeps the trace of how it was first routed.
        let routing = if by_rotation {
            RoutingTrace {
                step: RoutingStep::RoundRobin,
                skipped: skipped.clone(),
            }
        } else {
            current.routing.clone()
        };
        app.store
            .reschedule_meeting_in(&mut tx, id, agent.id, start, end, blocked, &routing, now)
            .await?;
        if by_rotation {
            app.store
                .set_team_pointer_in(&mut tx, team.id, agent.id)
                .await?;
        }
        let updated = app
            .store
            .meeting_in(&mut tx, id)
            .await?
            .ok_or(AppError::NotFound("booking"))?;
        record_activity(
            app,
            &mut tx,
            ActivityType::Rescheduled,
            &updated,
            &agent,
            now,
        )
        .await?;
        enqueue_effects(
            app,
            &mut tx,
            id,
            MailKind::Update,
            updated.calendar_version,
            now,
        )
        .await?;
        app.store.commit(tx).await?;
        outbox::sync_calendar_inline(app, id).await;
        let (fresh, fresh_agent) = meeting_with_agent(app, id).await?;
        return Ok(booking_view(&fresh, &fresh_agent, &app.config));
    }
    let alternatives =
        alternatives_after(app, &team, meeting_len, start, visitor_tz(&old.visitor)).await?;
    Err(AppError::SlotTaken { alternatives })
}
