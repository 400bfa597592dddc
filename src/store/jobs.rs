//! Durable jobs (the outbox): inserted inside the transaction of the change they follow up on, claimed by
//! workers with a lease (`locked_until`), never by holding a lock during the provider call.
//!
//! This is the one place that knows how an `outbox::Job` is stored: a `kind` string, a `meeting_id` and a
//! `target` (`encode`, `decode`). The stored forms are those rondo has always written, so existing
//! databases keep working; a row that does not decode is handed to the worker as an `UnreadableJob`, which
//! parks it as dead with the reason.

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::{from_secs, rows, to_secs, Conn, Store, StoreResult};
use crate::mail::render::MailKind;
use crate::outbox::{Job, UnreadableJob};

const CALENDAR_SYNC: &str = "calendar.sync";
const EMAIL_SEND: &str = "email.send";
const WEBHOOK_DELIVER: &str = "webhook.deliver";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub id: Uuid,
    /// What to do, decoded from the row's kind, meeting and target.
    pub job: Result<Job, UnreadableJob>,
    /// The kind as stored (`calendar.sync`, `email.send`, `webhook.deliver`): what admins and metrics see,
    /// for unreadable rows too.
    pub kind: String,
    /// The meeting column as stored, for admins.
    pub meeting_id: Option<Uuid>,
    pub status: String,
    /// The end of the claim this row was read under: settling a job checks the claim is still this one.
    pub locked_until: Option<i64>,
    pub attempts: u32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How a job is stored: its kind, its meeting (when it acts on one) and its target (what else it names).
pub(crate) fn encode(job: &Job) -> (&'static str, Option<Uuid>, Option<String>) {
    match *job {
        Job::CalendarSync { meeting } => (CALENDAR_SYNC, Some(meeting), None),
        Job::Email {
            meeting,
            kind,
            version,
        } => (
            EMAIL_SEND,
            Some(meeting),
            Some(format!("{meeting}:{}:{version}", kind.as_str())),
        ),
        Job::WebhookDelivery { delivery } => (WEBHOOK_DELIVER, None, Some(delivery.to_string())),
    }
}

/// The job a stored row describes. Reads what the worker has always read: a calendar sync's meeting
/// column, an email's target (`{meeting}:{kind}:{version}`), a webhook delivery's target (its id).
fn decode(kind: &str, meeting: Option<&str>, target: Option<&str>) -> Result<Job, UnreadableJob> {
    let unreadable = |column: &str, value: Option<&str>, expected: &str| {
        UnreadableJob(match value {
            None => format!("unreadable `{kind}` job: no {column}"),
            Some(v) => format!("unreadable `{kind}` job: {column} {v:?} is not {expected}"),
        })
    };
    match kind {
        CALENDAR_SYNC => meeting
            .and_then(|m| Uuid::parse_str(m).ok())
            .map(|meeting| Job::CalendarSync { meeting })
            .ok_or_else(|| unreadable("meeting", meeting, "a meeting id")),
        EMAIL_SEND => target
            .and_then(email_target)
            .ok_or_else(|| unreadable("target", target, "`{meeting}:{kind}:{version}`")),
        WEBHOOK_DELIVER => target
            .and_then(|t| Uuid::parse_str(t).ok())
            .map(|delivery| Job::WebhookDelivery { delivery })
            .ok_or_else(|| unreadable("target", target, "a delivery id")),
        other => Err(UnreadableJob(format!("unknown job kind `{other}`"))),
    }
}

/// An email job's target: `{meeting}:{kind}:{version}`, nothing more.
fn email_target(target: &str) -> Option<Job> {
    let mut parts = target.split(':');
    let meeting = Uuid::parse_str(parts.next()?).ok()?;
    let kind = MailKind::parse(parts.next()?)?;
    let version = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some(Job::Email {
        meeting,
        kind,
        version,
    })
}

fn job(r: &sqlx::sqlite::SqliteRow) -> StoreResult<JobRow> {
    let kind: String = r.try_get("kind")?;
    let meeting: Option<String> = r.try_get("meeting_id")?;
    let target: Option<String> = r.try_get("target")?;
    Ok(JobRow {
        id: rows::uuid(r, "id")?,
        job: decode(&kind, meeting.as_deref(), target.as_deref()),
        kind,
        meeting_id: meeting.and_then(|m| Uuid::parse_str(&m).ok()),
        status: r.try_get("status")?,
        locked_until: r.try_get("locked_until")?,
        attempts: r.try_get::<i64, _>("attempts")? as u32,
        run_at: from_secs(r.try_get("run_at")?),
        last_error: r.try_get("last_error")?,
        created_at: from_secs(r.try_get("created_at")?),
        updated_at: from_secs(r.try_get("updated_at")?),
    })
}

impl Store {
    /// Writes `job`, due at `run_at`, in the transaction of the change that owes it.
    pub async fn insert_job_in(
        &self,
        tx: &mut Conn,
        job: &Job,
        run_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Uuid> {
        let (kind, meeting_id, target) = encode(job);
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO jobs (id, kind, meeting_id, target, status, attempts, run_at, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(kind)
        .bind(meeting_id.map(|m| m.to_string()))
        .bind(target)
        .bind(to_secs(run_at))
        .bind(to_secs(now))
        .bind(to_secs(now))
        .execute(&mut *tx)
        .await?;
        Ok(id)
    }

    /// Claims up to `limit` due jobs for `lease`, counting the attempt; oldest due first.
    pub async fn claim_due_jobs(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<JobRow>> {
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(
            "UPDATE jobs SET locked_until = ?, attempts = attempts + 1, updated_at = ? WHERE id IN ( \
               SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ? \
               AND (locked_until IS NULL OR locked_until <= ?) ORDER BY run_at LIMIT ?) \
             RETURNING *",
        )
        .bind(to_secs(now + lease))
        .bind(to_secs(now))
        .bind(to_secs(now))
        .bind(to_secs(now))
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        self.commit(tx).await?;
        let mut jobs = claimed.iter().map(job).collect::<StoreResult<Vec<_>>>()?;
        jobs.sort_by_key(|j| j.run_at);
        Ok(jobs)
    }

    /// Marks the job done, if this worker's claim still holds it (a claim that ran out and was taken over by
    /// another worker leaves the job to that worker).
    pub async fn finish_job(&self, job: &JobRow, now: DateTime<Utc>) -> StoreResult<()> {
        let id = job.id;
        sqlx::query("UPDATE jobs SET status = 'done', locked_until = NULL, last_error = NULL, updated_at = ? WHERE id = ? AND locked_until IS ?")
            .bind(to_secs(now))
            .bind(id.to_string())
            .bind(job.locked_until)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Schedules another try at `run_at`, keeping the error for admins.
    pub async fn retry_job_later(
        &self,
        job: &JobRow,
        run_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let id = job.id;
        sqlx::query("UPDATE jobs SET run_at = ?, locked_until = NULL, last_error = ?, updated_at = ? WHERE id = ? AND locked_until IS ?")
            .bind(to_secs(run_at))
            .bind(error)
            .bind(to_secs(now))
            .bind(id.to_string())
            .bind(job.locked_until)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Parks a job that gave up as `dead`, with its last error.
    pub async fn bury_job(&self, job: &JobRow, error: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let id = job.id;
        sqlx::query("UPDATE jobs SET status = 'dead', locked_until = NULL, last_error = ?, updated_at = ? WHERE id = ? AND locked_until IS ?")
            .bind(error)
            .bind(to_secs(now))
            .bind(id.to_string())
            .bind(job.locked_until)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Gives back claims this process holds but will not run (shutdown): the attempt does not count.
    pub async fn release_jobs(&self, ids: &[Uuid]) -> StoreResult<()> {
        for id in ids {
            sqlx::query("UPDATE jobs SET locked_until = NULL, attempts = MAX(attempts - 1, 0) WHERE id = ? AND status = 'pending'")
                .bind(id.to_string())
                .execute(&self.write)
                .await?;
        }
        Ok(())
    }

    /// A dead job back to pending, due now, with a fresh count of tries. False when it is not dead.
    pub async fn revive_job(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'pending', attempts = 0, run_at = ?, locked_until = NULL, updated_at = ? \
             WHERE id = ? AND status = 'dead'",
        )
        .bind(to_secs(now))
        .bind(to_secs(now))
        .bind(id.to_string())
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn job(&self, id: Uuid) -> StoreResult<Option<JobRow>> {
        let r = sqlx::query("SELECT * FROM jobs WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?;
        r.as_ref().map(job).transpose()
    }

    /// How many jobs are in each status (for the metrics).
    pub async fn job_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status")
                .fetch_all(&self.read)
                .await?,
        )
    }

    /// When the oldest pending job that is due at `now` became due (None: nothing is due). For /metrics.
    pub async fn oldest_due_job(&self, now: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>> {
        let oldest: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(run_at) FROM jobs WHERE status = 'pending' AND run_at <= ?",
        )
        .bind(to_secs(now))
        .fetch_one(&self.read)
        .await?;
        Ok(oldest.map(from_secs))
    }

    /// Jobs in a status, most recently changed first, at most `limit`.
    pub async fn list_jobs(&self, status: Option<&str>, limit: u32) -> StoreResult<Vec<JobRow>> {
        let all = sqlx::query("SELECT * FROM jobs WHERE (? IS NULL OR status = ?) ORDER BY updated_at DESC, id DESC LIMIT ?")
            .bind(status)
            .bind(status)
            .bind(limit as i64)
            .fetch_all(&self.read)
            .await?;
        all.iter().map(job).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Uuid {
        Uuid::parse_str("0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6071").unwrap()
    }

    fn decoded(stored: &(&str, Option<Uuid>, Option<String>)) -> Result<Job, UnreadableJob> {
        let meeting = stored.1.map(|m| m.to_string());
        decode(stored.0, meeting.as_deref(), stored.2.as_deref())
    }

    #[test]
    fn jobs_are_stored_as_rondo_always_stored_them() {
        let delivery = Uuid::from_u128(7);
        assert_eq!(
            encode(&Job::CalendarSync { meeting: m() }),
            ("calendar.sync", Some(m()), None)
        );
        assert_eq!(
            encode(&Job::Email {
                meeting: m(),
                kind: MailKind::Cancellation,
                version: 3
            }),
            (
                "email.send",
                Some(m()),
                Some("0193a3c4-5d6e-7f80-9a1b-2c3d4e5f6071:cancellation:3".to_owned())
            )
        );
        assert_eq!(
            encode(&Job::WebhookDelivery { delivery }),
            (
                "webhook.deliver",
                None,
                Some("00000000-0000-0000-0000-000000000007".to_owned())
            )
        );
    }

    #[test]
    fn every_job_decodes_to_itself() {
        for job in [
            Job::CalendarSync { meeting: m() },
            Job::Email {
                meeting: m(),
                kind: MailKind::Invitation,
                version: 1,
            },
            Job::Email {
                meeting: m(),
                kind: MailKind::Update,
                version: 12,
            },
            Job::WebhookDelivery {
                delivery: Uuid::now_v7(),
            },
        ] {
            assert_eq!(decoded(&encode(&job)), Ok(job));
        }
        // Emails written before email jobs named their meeting in the meeting column too.
        assert_eq!(
            decode("email.send", None, Some(&format!("{}:invitation:1", m()))),
            Ok(Job::Email {
                meeting: m(),
                kind: MailKind::Invitation,
                version: 1
            })
        );
    }

    #[test]
    fn rows_that_name_no_job_say_why() {
        let id = m().to_string();
        let email = "is not `{meeting}:{kind}:{version}`";
        for (kind, meeting, target, why) in [
            (
                "calendar.sync",
                None,
                None,
                "unreadable `calendar.sync` job: no meeting".to_owned(),
            ),
            (
                "calendar.sync",
                Some("nope"),
                None,
                r#"unreadable `calendar.sync` job: meeting "nope" is not a meeting id"#.to_owned(),
            ),
            (
                "email.send",
                Some(id.as_str()),
                None,
                "unreadable `email.send` job: no target".to_owned(),
            ),
            (
                "email.send",
                None,
                Some("x:invitation:1"),
                format!(r#"unreadable `email.send` job: target "x:invitation:1" {email}"#),
            ),
            (
                "email.send",
                None,
                Some(&format!("{id}:reminder:1")),
                format!(r#"unreadable `email.send` job: target "{id}:reminder:1" {email}"#),
            ),
            (
                "email.send",
                None,
                Some(&format!("{id}:update:v2")),
                format!(r#"unreadable `email.send` job: target "{id}:update:v2" {email}"#),
            ),
            (
                "email.send",
                None,
                Some(&format!("{id}:update:2:9")),
                format!(r#"unreadable `email.send` job: target "{id}:update:2:9" {email}"#),
            ),
            (
                "webhook.deliver",
                None,
                Some("17"),
                r#"unreadable `webhook.deliver` job: target "17" is not a delivery id"#.to_owned(),
            ),
            (
                "webhook.deliver",
                Some(id.as_str()),
                None,
                "unreadable `webhook.deliver` job: no target".to_owned(),
            ),
            (
                "calendar.purge",
                Some(id.as_str()),
                None,
                "unknown job kind `calendar.purge`".to_owned(),
            ),
        ] {
            assert_eq!(
                decode(kind, meeting, target),
                Err(UnreadableJob(why)),
                "{kind} {meeting:?} {target:?}"
            );
        }
    }
}
