//! Booking a meeting (the chat service's `POST /v1/bookings`), safe to retry with the same
//! Idempotency-Key: the key is claimed first, and a retry is answered with what the first request did.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::change::{self, Change};
use super::claim::{self, Order, Slot};
use super::request::{self, BookingRequest, ValidBooking};
use super::{alternatives_after, load, Alternatives, Booking};
use crate::app::App;
use crate::domain::model::{ActivityType, CalendarStatus, Meeting, MeetingStatus, RoutingTrace};
use crate::domain::routing::{RoutingStep, VisitorFacts};
use crate::error::AppError;
use crate::mail::render::MailKind;
use crate::outbox;
use crate::store::{Batch, Claim, ClaimedKey, Recorded, StoreError};

/// Who is asking, for idempotency keys: keys are per token.
pub struct IdempotencyContext<'a> {
    pub scope: &'a str,
    pub key: Option<&'a str>,
    /// The request body exactly as received.
    pub body: &'a [u8],
}

// Built once per request and matched at once: boxing the booking would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum BookOutcome {
    /// A meeting was booked now.
    Booked(Booking),
    /// The key was used before with this body: what that request did (nothing happened now).
    Replayed(Replay),
    /// No candidate is free for the slot any more: the next free slots instead (a final answer for the key,
    /// as Stripe does it: a retry gets the same).
    SlotTaken(Alternatives),
}

/// What the first request with a key did, as a retry is told.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Replay {
    /// It booked this meeting (shown as it is now).
    Booked(Booking),
    SlotTaken(Alternatives),
    /// Recorded by an earlier version as the answer's JSON: whether it booked, and the body as sent.
    Legacy {
        booked: bool,
        body: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    /// Fields that do not hold what they must; (field, message) pairs.
    #[error("invalid booking request")]
    Invalid(Vec<(String, String)>),
    #[error("no Idempotency-Key")]
    MissingKey,
    /// The key was used before with another body.
    #[error("Idempotency-Key reused with another body")]
    KeyReused,
    /// The first request with this key is still running (or took the key over from this one).
    #[error("Idempotency-Key in flight")]
    KeyInFlight,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for BookError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Abandoned(_) => BookError::KeyInFlight,
            other => BookError::Internal(other.into()),
        }
    }
}

impl From<AppError> for BookError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Validation(fields) => BookError::Invalid(fields),
            AppError::Internal(e) => BookError::Internal(e),
            other => BookError::Internal(anyhow::anyhow!("{other}")),
        }
    }
}

/// SHA-256 of the body's canonical JSON (keys sorted), so whitespace and key order do not matter.
fn request_hash(body: &[u8]) -> String {
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_else(|_| body.to_vec());
    hex::encode(Sha256::digest(&canonical))
}

/// Books a meeting, honouring the Idempotency-Key.
pub async fn book(
    app: &App,
    req: &BookingRequest,
    idem: IdempotencyContext<'_>,
) -> Result<BookOutcome, BookError> {
    let key = idem.key.ok_or(BookError::MissingKey)?;
    let now = app.now();
    // The key is looked up before anything else: a retry gets the first answer even when the request,
    // checked again now, would no longer pass (its slot is now inside the notice, say).
    let hash = request_hash(idem.body);
    let claim = match app
        .store
        .claim_idempotency_key(idem.scope, key, &hash, now)
        .await?
    {
        Claim::Started(claim) => claim,
        Claim::Replay(done) => return Ok(BookOutcome::Replayed(replay(app, done).await?)),
        Claim::Mismatch => return Err(BookError::KeyReused),
        Claim::InFlight => return Err(BookError::KeyInFlight),
    };
    let outcome = match request::validate(app, req, now).await {
        Ok(valid) => {
            // In a task of its own: once the write is under way, the booking, its answer under the key and
            // the calendar sync after it (which uses and releases the lease the insert took) all finish
            // even if the caller stops waiting.
            let (app, held) = (app.clone(), claim.clone());
            tokio::spawn(async move { book_claimed(&app, valid, &held, now).await })
                .await
                .unwrap_or_else(|e| Err(anyhow::anyhow!("booking task failed: {e}").into()))
        }
        Err(e) => Err(e.into()),
    };
    if outcome.is_err() {
        // Bad input and faults are not recorded: the client may fix the request and retry with the key.
        if let Err(release) = app.store.release_idempotency_key(&claim).await {
            tracing::error!(error = %release, "could not release idempotency key");
        }
    }
    outcome
}

async fn replay(app: &App, done: Recorded) -> Result<Replay, BookError> {
    Ok(match done {
        Recorded::Booked { meeting } => {
            Replay::Booked(load(app, meeting).await?.ok_or_else(|| {
                anyhow::anyhow!("meeting {meeting} of a recorded booking is gone")
            })?)
        }
        Recorded::SlotTaken {
            starts,
            minutes,
            timezone,
        } => Replay::SlotTaken(Alternatives {
            starts,
            minutes,
            zone: timezone
                .and_then(|z| z.parse().ok())
                .unwrap_or(chrono_tz::UTC),
        }),
        Recorded::Legacy { booked, body } => Replay::Legacy { booked, body },
    })
}

/// Books after the key was claimed: screens every candidate, then claims the slot, writes the meeting, moves
/// the pointer, records the change with its effects and the key's outcome — all in one piece of work of the
/// group commit — and syncs the calendar inline.
async fn book_claimed(
    app: &App,
    b: ValidBooking,
    key: &ClaimedKey,
    now: DateTime<Utc>,
) -> Result<BookOutcome, BookError> {
    // Instants are stored in whole seconds: the answer shows them as a retry will.
    let now = now.trunc_subsecs(0);
    let policy = b.team.policy(b.meeting);
    let verdicts = claim::screen(app, &b.queue, &policy, b.start, None).await?;
    let zone = b.visitor.timezone;
    let lease = outbox::calendar::new_lease(now);
    let slot = Slot {
        team: b.team.id,
        daily_limit: b.team.daily_limit,
        queue: b.queue,
        routing: b.routing,
        verdicts,
        start: b.start,
        blocked: b.team.blocked_range(b.start, b.meeting),
        moving: None,
    };
    let visitor = VisitorFacts::new(
        Some(&b.visitor.email),
        b.visitor.company.as_deref(),
        b.attributes.clone(),
    );
    let visitor_facts = visitor.clone();
    let mut meeting = Meeting {
        id: Uuid::now_v7(),
        team_id: b.team.id,
        team_slug: b.team.slug.to_string(),
        team_name: b.team.name.clone(),
        agent_id: Uuid::nil(),
        start: b.start,
        end: b.start + Duration::minutes(b.meeting.minutes() as i64),
        blocked: slot.blocked,
        status: MeetingStatus::Booked,
        visitor: b.visitor,
        session_id: b.session_id,
        dialogue_id: b.dialogue_id,
        dialogue_name: b.dialogue_name,
        page_url: b.page_url,
        attributes: b.attributes,
        routing: RoutingTrace {
            step: RoutingStep::RoundRobin,
            rule: None,
            account: None,
            skipped: Vec::new(),
        },
        took_place: None,
        cancel_reason: None,
        calendar_status: CalendarStatus::Pending,
        video_link: None,
        calendar_agent_id: None,
        calendar_cleanup_agent_id: None,
        calendar_version: 1,
        calendar_synced: 0,
        created_at: now,
        updated_at: now,
    };
    let key_held = key.clone();
    // One atomic step: reads, then one `Batch` (see `Store::write_atomic`).
    let booked = app
        .store
        .write_atomic(move |c| {
            Box::pin(async move {
                let claimed = claim::claim(
                    c,
                    slot,
                    Order::Route(visitor_facts),
                    ActivityType::Scheduled,
                    Some(&key_held),
                )
                .await?;
                let (Some(agent), Some(trace)) = (claimed.agent.clone(), claimed.trace()) else {
                    return Ok(None);
                };
                meeting.agent_id = agent.id;
                meeting.calendar_agent_id = Some(agent.id);
                meeting.routing = trace;
                let mut batch = Batch::default();
                batch.insert_meeting(&meeting, Some(lease));
                claimed.move_pointer(&mut batch, meeting.team_id);
                let change = Change {
                    kind: ActivityType::Scheduled,
                    meeting: &meeting,
                    agent: &agent,
                    mail: MailKind::Invitation,
                    now,
                };
                change::record(&mut batch, change, &claimed.endpoints);
                let outcome = Recorded::Booked {
                    meeting: meeting.id,
                };
                batch.save_outcome(&key_held, &outcome);
                batch.run(c).await?;
                Ok(Some(Booking { meeting, agent }))
            })
        })
        .await;
    // On PostgreSQL the exclusion constraint may refuse the meeting (the agent took an overlapping one in
    // a transaction this one could not see): that is a slot taken, answered with alternatives.
    let booked = match booked {
        Err(StoreError::Overlap) => None,
        other => other?,
    };
    let Some(Booking { meeting, agent }) = booked else {
        let alternatives =
            alternatives_after(app, &b.team, b.meeting, b.start, zone, &visitor).await?;
        let outcome = Recorded::SlotTaken {
            starts: alternatives.starts.clone(),
            minutes: alternatives.minutes,
            timezone: zone.map(|z| z.name().to_owned()),
        };
        if !app.store.save_outcome(key, outcome).await? {
            return Err(BookError::KeyInFlight);
        }
        return Ok(BookOutcome::SlotTaken(alternatives));
    };
    // The answer shows the calendar event as the inline sync left it (a retry shows it as it is then).
    let synced = outbox::sync_new_calendar_inline(app, meeting.clone(), agent.clone(), lease).await;
    let meeting = match synced {
        Some(record) => Meeting {
            calendar_status: record.status,
            video_link: record.video_link,
            calendar_synced: meeting.calendar_version,
            ..meeting
        },
        None => app.store.meeting(meeting.id).await?.unwrap_or(meeting),
    };
    Ok(BookOutcome::Booked(Booking { meeting, agent }))
}
