//! The outbox worker (DESIGN.md "Source of truth and effects"). Effects a change owes are written as jobs in
//! the change's own transaction; this module runs them at least once: claim due jobs with a lease, run each,
//! then mark it done, schedule the next try (with backoff and jitter), or park it as dead for an admin.
//! Every effect is idempotent, so a job run twice does its work once.

pub mod calendar;
pub mod email;
pub mod schedule;
pub mod webhook;
pub mod webhook_sender;

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::app::App;
use crate::calendar::CalendarError;
use crate::domain::model::{Agent, Meeting};
use crate::mail::render::MailKind;
use crate::store::JobRow;
use calendar::{sync_meeting_calendar, SyncError};

/// An effect a change owes, as the worker runs it. Only `store/jobs.rs` knows how a job is stored (its
/// `kind`, `meeting_id` and `target` columns); everything else speaks `Job`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Bring the meeting's calendar event in line with the meeting as it is when the job runs.
    CalendarSync { meeting: Uuid },
    /// Send the visitor the email of this kind for this calendar version of the meeting (the version keeps
    /// the Message-ID and the ICS SEQUENCE the same on every retry).
    Email {
        meeting: Uuid,
        kind: MailKind,
        version: i64,
    },
    /// Make one attempt at this webhook delivery (`webhook_deliveries.id`).
    WebhookDelivery { delivery: Uuid },
}

/// A stored job this build cannot read (an unknown kind, or a meeting or target that does not parse): the
/// worker parks it as dead with this message instead of running it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnreadableJob(pub String);

/// Jobs claimed per round: few, so a round of slow jobs ends well inside its claim.
const BATCH: u32 = 4;
/// How long the inline attempt of a change gets before the job is left to the worker, and how long after
/// the change the worker first looks at the job (so the inline attempt usually does it alone).
pub const INLINE_DEADLINE: StdDuration = StdDuration::from_secs(3);
pub const FIRST_RUN_DELAY_SECONDS: i64 = 10;

enum Outcome {
    Done,
    Retry {
        error: String,
        retry_after: Option<StdDuration>,
    },
    GiveUp(String),
}

async fn run_job(app: &App, row: &JobRow) -> Outcome {
    let job = match &row.job {
        Ok(job) => *job,
        Err(unreadable) => return Outcome::GiveUp(unreadable.to_string()),
    };
    match job {
        Job::CalendarSync { meeting } => match sync_meeting_calendar(app, meeting).await {
            Ok(()) => Outcome::Done,
            Err(SyncError::Calendar(CalendarError::Transient {
                message,
                retry_after,
            })) => Outcome::Retry {
                error: message,
                retry_after,
            },
            // The agent may reconnect (or an admin hand the meeting to another agent): keep trying on the
            // schedule; dead (and retryable) after it.
            Err(SyncError::Calendar(CalendarError::Disconnected(why))) => Outcome::Retry {
                error: format!("calendar disconnected: {why}"),
                retry_after: None,
            },
            Err(SyncError::Calendar(e)) => Outcome::GiveUp(e.to_string()),
            Err(SyncError::Store(e)) => Outcome::Retry {
                error: format!("database: {e}"),
                retry_after: None,
            },
        },
        Job::WebhookDelivery { delivery } => {
            match webhook::deliver(app, delivery, row.attempts).await {
                Ok(webhook::Delivery::Delivered) => Outcome::Done,
                // Nothing left to try (endpoint gone): the delivery row says why.
                Ok(webhook::Delivery::Dropped(_)) => Outcome::Done,
                Ok(webhook::Delivery::Failed { error, retry_after }) => {
                    Outcome::Retry { error, retry_after }
                }
                Err(e) => Outcome::Retry {
                    error: e.to_string(),
                    retry_after: None,
                },
            }
        }
        Job::Email {
            meeting,
            kind,
            version,
        } => match email::send(app, meeting, kind, version).await {
            Ok(email::Sent::Sent | email::Sent::Superseded) => Outcome::Done,
            Ok(email::Sent::Failed(e)) if e.is_transient() => Outcome::Retry {
                error: e.to_string(),
                retry_after: None,
            },
            Ok(email::Sent::Failed(e)) => Outcome::GiveUp(e.to_string()),
            // A database hiccup: try again.
            Err(e) => Outcome::Retry {
                error: e.to_string(),
                retry_after: None,
            },
        },
    }
}

/// Runs every job due now once (claiming them first); returns how many ran. Tests call this to drain the
/// outbox deterministically; the background worker calls it in a loop.
pub async fn run_due_jobs(app: &App) -> anyhow::Result<usize> {
    run_batch(app, None).await
}

async fn run_batch(
    app: &App,
    stop: Option<&tokio::sync::watch::Receiver<bool>>,
) -> anyhow::Result<usize> {
    let now = app.now();
    let jobs = app
        .store
        .claim_due_jobs(
            now,
            Duration::seconds(app.config.job_lease_seconds as i64),
            BATCH,
        )
        .await?;
    for (i, job) in jobs.iter().enumerate() {
        // Shutting down, or this round's claim is about to run out (slow jobs before this one): hand back
        // what was claimed but not started, without counting the attempt.
        let margin = (app.config.job_lease_seconds as i64 / 4).min(20);
        let claim_ending = job
            .locked_until
            .is_some_and(|until| app.now().timestamp() + margin >= until);
        if stop.is_some_and(|s| *s.borrow()) || claim_ending {
            let rest: Vec<Uuid> = jobs[i..].iter().map(|j| j.id).collect();
            app.store.release_jobs(&rest).await?;
            return Ok(i);
        }
        let outcome = run_job(app, job).await;
        settle(app, job, outcome).await?;
    }
    Ok(jobs.len())
}

async fn settle(app: &App, job: &JobRow, outcome: Outcome) -> anyhow::Result<()> {
    let now = app.now();
    let count = |outcome: &str| {
        app.metrics
            .jobs
            .with_label_values(&[job.kind.as_str(), outcome])
            .inc()
    };
    match outcome {
        Outcome::Done => {
            count("done");
            app.store.finish_job(job, now).await?
        }
        Outcome::Retry { error, retry_after } => {
            let jitter = rand::random::<f64>() * 2.0 - 1.0;
            match schedule::next_delay(job.attempts, retry_after, jitter) {
                Some(delay) => {
                    count("retry");
                    let at = now + Duration::from_std(delay).unwrap_or(Duration::hours(10));
                    tracing::warn!(job = %job.id, attempts = job.attempts, %error, retry_at = %at, "job failed; will retry");
                    app.store.retry_job_later(job, at, &error, now).await?;
                }
                None => {
                    count("dead");
                    tracing::error!(job = %job.id, %error, "job failed for the last time; parked as dead");
                    app.store.bury_job(job, &error, now).await?;
                }
            }
        }
        Outcome::GiveUp(error) => {
            count("dead");
            tracing::error!(job = %job.id, %error, "job cannot succeed; parked as dead");
            app.store.bury_job(job, &error, now).await?;
        }
    }
    Ok(())
}

/// Tries a meeting's calendar sync right away, within `INLINE_DEADLINE`, so an answer can carry the video
/// link; the job written with the change stays the path of record and finds nothing left to do.
pub async fn sync_calendar_inline(app: &App, meeting_id: Uuid) {
    let background = app.clone();
    let sync = async move { sync_meeting_calendar(&background, meeting_id).await };
    let _ = within_deadline(meeting_id, sync).await;
}

/// `sync_calendar_inline` for a new meeting whose insert took its calendar lease (`lease`), with the
/// meeting and agent as written. Answers what the sync recorded when it finished in time.
pub async fn sync_new_calendar_inline(
    app: &App,
    meeting: Meeting,
    agent: Agent,
    lease: DateTime<Utc>,
) -> Option<calendar::SyncRecord> {
    let (background, id) = (app.clone(), meeting.id);
    let sync = async move {
        let (result, record) =
            calendar::sync_leased(&background, id, lease, Some((meeting, agent))).await;
        result.map(|()| record)
    };
    within_deadline(id, sync).await.flatten()
}

/// Runs a sync in its own task: when the answer cannot wait any longer, the sync still finishes (and
/// records its result and releases the meeting's calendar lease) instead of being dropped halfway.
async fn within_deadline<T: Send + 'static>(
    meeting_id: Uuid,
    sync: impl std::future::Future<Output = Result<T, SyncError>> + Send + 'static,
) -> Option<T> {
    match tokio::time::timeout(INLINE_DEADLINE, tokio::spawn(sync)).await {
        Ok(Ok(Ok(done))) => Some(done),
        Ok(Ok(Err(e))) => {
            tracing::warn!(meeting = %meeting_id, error = ?e, "calendar not updated yet; the outbox will retry");
            None
        }
        Ok(Err(e)) => {
            tracing::error!(meeting = %meeting_id, error = %e, "calendar sync task failed");
            None
        }
        Err(_) => {
            tracing::warn!(
                meeting = %meeting_id,
                "calendar still busy after the inline deadline; answering without waiting"
            );
            None
        }
    }
}

/// The background worker: runs due jobs until `stop` says so, then returns (any job it had claimed but not
/// started is handed back). Polls every `idle` when there is nothing to do.
pub async fn work_until_stopped(
    app: App,
    mut stop: tokio::sync::watch::Receiver<bool>,
    idle: StdDuration,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let ran = match run_batch(&app, Some(&stop)).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "outbox worker round failed");
                0
            }
        };
        if ran == 0 {
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
