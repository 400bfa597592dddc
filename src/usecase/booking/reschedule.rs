//! Moving a booking to another start (the chat service's `POST /v1/bookings/{id}/reschedule`, and the
//! visitor's page). The meeting stays with its agent when that agent is free then; otherwise it is routed
//! as the booking was, for the same visitor: the account owner, the agents of the rules the visitor's
//! attributes match, then the team's rotation (whose pointer moves as a booking moves it; cal.com #19525
//! is the bug this avoids). The old slot is freed in the same piece of work.

use chrono::Duration;
use uuid::Uuid;

use super::change::{self, Change};
use super::claim::{self, Order, Slot};
use super::request::{check_start, RescheduleRequest};
use super::{alternatives_after, load, visitor_of, Alternatives, Booking};
use crate::app::App;
use crate::domain::model::{ActivityType, Meeting, MeetingStatus};
use crate::domain::MeetingLength;
use crate::error::{AppError, Problems};
use crate::mail::render::MailKind;
use crate::outbox;
use crate::store::{Batch, StoreError};

use super::super::availability::parse_instant;

#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum RescheduleOutcome {
    /// Moved (maybe to another agent).
    Moved(Booking),
    /// It is already at that start (a retry, a double click): nothing changed, nothing is sent again.
    Unchanged(Booking),
    /// Nobody who may take it is free then: the next free slots instead.
    SlotTaken(Alternatives),
}

#[derive(Debug, thiserror::Error)]
pub enum RescheduleError {
    #[error("invalid reschedule")]
    Invalid(Vec<(String, String)>),
    #[error("no such booking")]
    NotFound,
    /// The booking is cancelled (or was cancelled meanwhile).
    #[error("{0}")]
    Cancelled(&'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for RescheduleError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Abandoned(why) => RescheduleError::Cancelled(why),
            other => RescheduleError::Internal(other.into()),
        }
    }
}

impl From<AppError> for RescheduleError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Validation(fields) => RescheduleError::Invalid(fields),
            AppError::NotFound(_) => RescheduleError::NotFound,
            AppError::Internal(e) => RescheduleError::Internal(e),
            other => RescheduleError::Internal(anyhow::anyhow!("{other}")),
        }
    }
}

const CANCELLED: &str = "a cancelled booking cannot be rescheduled";
const CANCELLED_MEANWHILE: &str = "the booking was cancelled meanwhile";

pub async fn reschedule(
    app: &App,
    id: Uuid,
    req: &RescheduleRequest,
) -> Result<RescheduleOutcome, RescheduleError> {
    let now = app.now();
    let Booking {
        meeting: old,
        agent: old_agent,
    } = load(app, id).await?.ok_or(RescheduleError::NotFound)?;
    if old.status != MeetingStatus::Booked {
        return Err(RescheduleError::Cancelled(CANCELLED));
    }
    let snapshot = app
        .store
        .team_snapshot(&old.team_slug)
        .await?
        .ok_or(RescheduleError::NotFound)?;
    let team = snapshot.team.clone();
    let length = MeetingLength::parse((old.end - old.start).num_minutes())
        .map_err(|e| anyhow::anyhow!("stored meeting length: {e}"))?;
    let policy = team.policy(length);
    let mut problems = Problems::default();
    let start = parse_instant("start", &req.start, &mut problems);
    let queue = app.store.team_queue(team.id).await?;
    if let Some(start) = start {
        check_start(&queue, &policy, start, now, &mut problems);
    }
    let Some(start) = start.filter(|_| problems.is_empty()) else {
        return Err(RescheduleError::Invalid(problems.into_pairs()));
    };
    if start == old.start {
        return Ok(RescheduleOutcome::Unchanged(Booking {
            meeting: old,
            agent: old_agent,
        }));
    }
    let end = start + Duration::minutes(length.minutes() as i64);
    let blocked = team.blocked_range(start, length);
    // Everyone who may take it is screened: the same agent first, then whoever routing would ask.
    let verdicts = claim::screen(app, &queue, &policy, start, Some(&old)).await?;
    let slot = Slot {
        team: team.id,
        daily_limit: team.daily_limit,
        queue,
        routing: snapshot.routing.table.clone(),
        verdicts,
        start,
        blocked,
        moving: Some(id),
    };
    let order = Order::AgentFirst {
        agent: old_agent.id,
        then: Some(visitor_of(&old)),
    };
    let db = app.store.clone();
    let moved = app
        .store
        .write(move |c| {
            Box::pin(async move {
                let claimed = claim::claim(c, slot, order, ActivityType::Rescheduled, None).await?;
                let Some(agent) = claimed.agent.clone() else {
                    return Ok(None);
                };
                let current = db
                    .meeting_in(c, id)
                    .await?
                    .ok_or(StoreError::Abandoned("the meeting is gone"))?;
                if current.status != MeetingStatus::Booked {
                    return Err(StoreError::Abandoned(CANCELLED_MEANWHILE));
                }
                // Kept by the same agent, the meeting keeps the trace of how it was first routed.
                let routing = claimed.trace().unwrap_or_else(|| current.routing.clone());
                let mut batch = Batch::default();
                batch.move_meeting(id, agent.id, start, end, blocked, &routing, now);
                claimed.move_pointer(&mut batch, current.team_id);
                // The meeting as the move leaves it (the statement above bumps the calendar's version).
                let moved = Meeting {
                    agent_id: agent.id,
                    start,
                    end,
                    blocked,
                    routing,
                    calendar_version: current.calendar_version + 1,
                    updated_at: now,
                    ..current
                };
                let change = Change {
                    kind: ActivityType::Rescheduled,
                    meeting: &moved,
                    agent: &agent,
                    mail: MailKind::Update,
                    now,
                };
                change::record(&mut batch, change, &claimed.endpoints);
                batch.run(c).await?;
                Ok(Some(()))
            })
        })
        .await;
    // A move refused by PostgreSQL's exclusion constraint is a slot taken (see `book`).
    let moved = match moved {
        Err(StoreError::Overlap) => None,
        other => other?,
    };
    if moved.is_none() {
        let alternatives = alternatives_after(
            app,
            &team,
            length,
            start,
            old.visitor.timezone,
            &visitor_of(&old),
        )
        .await?;
        return Ok(RescheduleOutcome::SlotTaken(alternatives));
    }
    outbox::sync_calendar_inline(app, id).await;
    Ok(RescheduleOutcome::Moved(
        load(app, id).await?.ok_or(RescheduleError::NotFound)?,
    ))
}
