//! The calendar job: make the agent's calendar match the meeting as it is now. Working from the meeting's
//! current state (not from a list of past changes) keeps retries, reorderings and duplicate runs harmless:
//! a cancelled meeting's event is deleted, a moved one's is moved (or deleted from the old agent's calendar
//! and created in the new one's), and a meeting already in sync is left alone.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::app::App;
use crate::calendar::{CalendarError, EventRequest};
use crate::domain::model::{Agent, CalendarStatus, Meeting, MeetingStatus};

/// How a sync ended, for the job runner.
#[derive(Debug)]
pub enum SyncError {
    Calendar(CalendarError),
    Store(anyhow::Error),
}

impl From<CalendarError> for SyncError {
    fn from(e: CalendarError) -> Self {
        SyncError::Calendar(e)
    }
}

fn store<E: Into<anyhow::Error>>(e: E) -> SyncError {
    SyncError::Store(e.into())
}

/// What the agent's calendar event says about the meeting.
pub fn event_request(m: &Meeting, agent: &Agent) -> EventRequest {
    let who = m
        .visitor
        .name
        .clone()
        .unwrap_or_else(|| m.visitor.email.to_string());
    let mut description = format!("Meeting booked by rondo with {who} <{}>", m.visitor.email);
    if let Some(c) = &m.visitor.company {
        description.push_str(&format!("\nCompany: {c}"));
    }
    if let Some(z) = m.visitor.timezone {
        description.push_str(&format!("\nVisitor's time zone: {z}"));
    }
    EventRequest {
        meeting_id: m.id,
        start: m.start,
        end: m.end,
        summary: format!("Meeting with {who} ({})", agent.name),
        description,
        attendee_email: m.visitor.email.to_string(),
        attendee_name: m.visitor.name.clone(),
    }
}

async fn agent(app: &App, id: Uuid) -> Result<Agent, SyncError> {
    app.store
        .agents_by_ids(&[id])
        .await
        .map_err(store)?
        .pop()
        .ok_or_else(|| SyncError::Store(anyhow::anyhow!("agent {id} not found")))
}

/// How long one sync may hold a meeting's calendar lease: longer than its worst case (a token refresh and
/// a few provider calls, each bounded by a timeout of 10-15 s).
const LOCK_SECONDS: i64 = 300;

/// Brings the meeting's calendar event in line with the meeting. Ok when in sync (or nothing to do). Only
/// one sync per meeting runs at a time; a second one is told to try again shortly.
pub async fn sync_meeting_calendar(app: &App, meeting_id: Uuid) -> Result<(), SyncError> {
    let now = app.now();
    let until = now + chrono::Duration::seconds(LOCK_SECONDS);
    let locked = app
        .store
        .lock_calendar(meeting_id, now, until)
        .await
        .map_err(store)?;
    if !locked {
        return Err(SyncError::Calendar(CalendarError::Transient {
            message: "another calendar sync of this meeting is running".into(),
            retry_after: Some(std::time::Duration::from_secs(5)),
        }));
    }
    sync_leased(app, meeting_id, until, None).await.0
}

/// The lease a new meeting's calendar sync is taken with in the booking's own insert.
pub fn new_lease(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::seconds(LOCK_SECONDS)
}

/// What a sync recorded on the meeting (recording releases the lease).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRecord {
    pub status: CalendarStatus,
    pub video_link: Option<String>,
}

/// `sync_meeting_calendar` for a caller that already holds the meeting's lease (`until`), such as the
/// booking that took it in its insert. `known` is the meeting with its agent as that caller just wrote
/// them (nothing to read again). Answers what was recorded, if the sync got that far.
pub async fn sync_leased(
    app: &App,
    meeting_id: Uuid,
    until: DateTime<Utc>,
    known: Option<(Meeting, Agent)>,
) -> (Result<(), SyncError>, Option<SyncRecord>) {
    let mut record = None;
    let result = sync_locked(app, meeting_id, until, known, &mut record).await;
    // Recording a result releases the lease; anything else releases it here.
    if record.is_none() {
        if let Err(e) = app.store.unlock_calendar(meeting_id, until).await {
            tracing::warn!(meeting = %meeting_id, error = %e, "calendar lease not released; it will expire");
        }
    }
    (result, record)
}

/// The lease ran out under a sync that took too long; another sync has the meeting now.
fn lease_lost() -> SyncError {
    SyncError::Calendar(CalendarError::Transient {
        message: "the meeting's calendar lease ran out during the sync".into(),
        retry_after: None,
    })
}

/// Syncs under the lease `lease`; `recorded` says what was recorded (which releases the lease).
async fn sync_locked(
    app: &App,
    meeting_id: Uuid,
    lease: DateTime<Utc>,
    known: Option<(Meeting, Agent)>,
    recorded: &mut Option<SyncRecord>,
) -> Result<(), SyncError> {
    let (m, known_agent) = match known {
        Some((m, a)) => (m, Some(a)),
        None => match app.store.meeting(meeting_id).await.map_err(store)? {
            Some(m) => (m, None),
            None => return Ok(()),
        },
    };
    if m.calendar_synced >= m.calendar_version && m.calendar_cleanup_agent_id.is_none() {
        return Ok(());
    }
    let mut holder = m.calendar_agent_id;
    let mut cleanup = m.calendar_cleanup_agent_id;
    let mut link = m.video_link.clone();
    let wanted = (m.status == MeetingStatus::Booked).then_some(m.agent_id);
    if let Some(h) = holder.filter(|h| Some(*h) != wanted) {
        // The former holder's event must go. One former holder is remembered at a time: an older one
        // still waiting is dealt with first.
        if let Some(c) = cleanup.filter(|c| *c != h) {
            delete_from(app, c, m.id).await?;
        }
        cleanup = Some(h);
        holder = None;
        link = None;
        if !app
            .store
            .set_calendar_holder(m.id, lease, None, cleanup)
            .await
            .map_err(store)?
        {
            return Err(lease_lost());
        }
    }
    if let Some(a) = wanted {
        let owner = match known_agent.filter(|k| k.id == a) {
            Some(k) => k,
            None => agent(app, a).await?,
        };
        let cal = app.calendars.for_agent(&owner).ok_or_else(|| {
            CalendarError::Disconnected(format!("agent {} has no calendar connected", owner.id))
        })?;
        let request = event_request(&m, &owner);
        let confirmed = holder == Some(a) && m.calendar_status == CalendarStatus::Created;
        if holder != Some(a) {
            if !app
                .store
                .set_calendar_holder(m.id, lease, Some(a), cleanup)
                .await
                .map_err(store)?
            {
                return Err(lease_lost());
            }
            link = None;
        }
        // An event confirmed in this calendar is updated; otherwise it is created — which finds (and
        // brings in line) one an earlier try made but whose answer was lost.
        let made = if confirmed {
            cal.update_event(&owner, &request).await?
        } else {
            cal.create_event(&owner, &request).await?.video_link
        };
        link = made.or(link);
        holder = Some(a);
        app.freebusy.forget(owner.id);
    }
    // The new event exists (or none is wanted): now the former holder's can go. If its calendar cannot be
    // reached (disconnected), the job keeps trying on its schedule; the new event is recorded meanwhile.
    let mut left = None;
    if let Some(c) = cleanup {
        match delete_from(app, c, m.id).await {
            Ok(()) => cleanup = None,
            Err(e) => left = Some(e),
        }
    }
    let status = match (wanted, cleanup) {
        (Some(_), _) => CalendarStatus::Created,
        (None, None) => CalendarStatus::Deleted,
        (None, Some(_)) => CalendarStatus::Pending,
    };
    let (db, id, version) = (app.store.clone(), m.id, m.calendar_version);
    let kept_link = link.clone();
    let record = record_work(db, id, lease, version, holder, cleanup, status, link);
    // Answered after the commit: whoever reads the meeting next (the booking's caller, right after its
    // 201) sees what the answer said.
    let recorded_now = app.store.write_atomic(record).await.map_err(store)?;
    if !recorded_now {
        return Err(lease_lost());
    }
    *recorded = Some(SyncRecord {
        status,
        video_link: kept_link,
    });
    match left {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The write that records a sync's result (and releases its lease).
#[allow(clippy::too_many_arguments)]
fn record_work(
    db: crate::store::Store,
    id: Uuid,
    lease: DateTime<Utc>,
    version: i64,
    holder: Option<Uuid>,
    cleanup: Option<Uuid>,
    status: CalendarStatus,
    link: Option<String>,
) -> impl for<'c> FnOnce(
    &'c mut crate::store::Conn,
) -> futures_util::future::BoxFuture<'c, crate::store::StoreResult<bool>>
       + Send
       + 'static {
    move |c| {
        Box::pin(async move {
            db.record_calendar_sync_in(
                c,
                id,
                lease,
                version,
                holder,
                cleanup,
                status,
                link.as_deref(),
            )
            .await
        })
    }
}

/// Deletes the meeting's event from a (former) holder's calendar. A calendar rondo cannot reach now (the
/// agent is disconnected) is a reason to try again later, not to forget the event.
async fn delete_from(app: &App, holder: Uuid, meeting: Uuid) -> Result<(), SyncError> {
    let old = agent(app, holder).await?;
    let cal = app.calendars.for_agent(&old).ok_or_else(|| {
        CalendarError::Disconnected(format!(
            "agent {holder}'s calendar is disconnected: the meeting's old event is removed once it reconnects"
        ))
    })?;
    cal.delete_event(&old, meeting).await?;
    // The agent's calendar changed: cached free/busy would still show the event.
    app.freebusy.forget(old.id);
    Ok(())
}
