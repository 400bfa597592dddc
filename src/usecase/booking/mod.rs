//! The chat service's bookings, one verb a file: `book`, `read`, `cancel`, `reschedule` (also what the
//! visitor's page does). `claim` is the one routine that picks an agent for a slot and `change` the one that
//! records a change with the effects it owes; `request` holds what callers send and its checks.
//!
//! Each verb answers a typed outcome and its own error; status codes and JSON are made in `http/`.

pub mod book;
pub mod cancel;
mod change;
mod claim;
pub mod read;
mod request;
pub mod reschedule;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use uuid::Uuid;

pub use book::{book, BookError, BookOutcome, IdempotencyContext, Replay};
pub use cancel::{cancel, CancelError};
pub use read::{read, ReadError};
pub(crate) use request::MAX_ATTRIBUTES_BYTES;
pub use request::{BookingRequest, CancelRequest, RescheduleRequest, VisitorInput};
pub use reschedule::{reschedule, RescheduleError, RescheduleOutcome};

use super::availability::offered_starts;
use crate::app::App;
use crate::domain::availability::Span;
use crate::domain::model::{Agent, Meeting, Team};
use crate::domain::routing::VisitorFacts;
use crate::domain::{IanaZone, MeetingLength};
use crate::store::StoreResult;

/// How many free slots a refusal offers instead.
const ALTERNATIVES: usize = 5;

/// A meeting with the agent who has it: what the verbs answer.
#[derive(Debug, Clone)]
pub struct Booking {
    pub meeting: Meeting,
    pub agent: Agent,
}

/// The next free slots, offered when the one asked for was taken meanwhile: their starts, the meeting's
/// length, and the visitor's zone to label them in (UTC when unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Alternatives {
    pub starts: Vec<DateTime<Utc>>,
    pub minutes: u32,
    pub zone: Tz,
}

/// What routing knows of a stored meeting's visitor.
pub(crate) fn visitor_of(m: &Meeting) -> VisitorFacts {
    VisitorFacts::new(
        Some(&m.visitor.email),
        m.visitor.company.as_deref(),
        m.attributes.clone(),
    )
}

/// The meeting and its agent, as stored now.
async fn load(app: &App, id: Uuid) -> StoreResult<Option<Booking>> {
    let Some(meeting) = app.store.meeting(id).await? else {
        return Ok(None);
    };
    let agent = app
        .store
        .agents_by_ids(&[meeting.agent_id])
        .await?
        .pop()
        .ok_or_else(|| {
            crate::store::StoreError::Corrupt(format!("meeting {id} has no agent row"))
        })?;
    Ok(Some(Booking { meeting, agent }))
}

/// The team's next free slots for `visitor` from `after` on (never `after` itself), labelled in the
/// visitor's zone.
async fn alternatives_after(
    app: &App,
    team: &Team,
    meeting: MeetingLength,
    after: DateTime<Utc>,
    zone: Option<IanaZone>,
    visitor: &VisitorFacts,
) -> crate::error::AppResult<Alternatives> {
    let now = app.now();
    let window = Span {
        start: after.max(now),
        end: after.max(now) + Duration::days(14),
    };
    let starts = match app.store.team_snapshot(team.slug.as_str()).await? {
        Some(snapshot) => offered_starts(app, &snapshot, meeting, window, now, visitor)
            .await?
            .into_iter()
            .filter(|s| *s != after)
            .take(ALTERNATIVES)
            .collect(),
        None => Vec::new(),
    };
    Ok(Alternatives {
        starts,
        minutes: meeting.minutes(),
        zone: zone.map(IanaZone::tz).unwrap_or(chrono_tz::UTC),
    })
}
