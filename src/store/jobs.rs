//! Durable jobs (the outbox): inserted inside the transaction of the change they follow up on, claimed by
//! workers with a lease (`locked_until`), never by holding a lock during the provider call.
//!
//! This is the one place that knows how an `outbox::Job` is stored: a `kind` string, a `meeting_id` and a
//! `target` (`encode`, `decode`). The stored forms are those rondo has always written, so existing
//! databases keep working; a row that does not decode is handed to the worker as an `UnreadableJob`, which
//! parks it as dead with the reason.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{from_secs, sql, Conn, Row, Store, StoreResult};
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

fn job(r: &Row) -> StoreResult<JobRow> {
    let kind = r.text("kind")?;
    let meeting = r.opt_text("meeting_id")?;
    let target = r.opt_text("target")?;
    Ok(JobRow {
        id: r.uuid("id")?,
        job: decode(&kind, meeting.as_deref(), target.as_deref()),
        kind,
        meeting_id: meeting.and_then(|m| Uuid::parse_str(&m).ok()),
        status: r.text("status")?,
        locked_until: r.opt_int("locked_until")?,
        attempts: r.int("attempts")? as u32,
        run_at: r.time("run_at")?,
        last_error: r.opt_text("last_error")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
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
        sql(
            "INSERT INTO jobs (id, kind, meeting_id, target, status, attempts, run_at, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
        )
        .bind(id)
        .bind(kind)
        .bind(meeting_id)
        .bind(target)
        .bind(run_at)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Ok(id)
    }

    /// Claims up to `limit` due jobs for `lease`, counting the attempt; oldest due first, and jobs due at the
    /// same time in the order they were written (their ids are UUIDv7, made as they are written). On
    /// PostgreSQL the jobs are picked with `FOR UPDATE SKIP LOCKED`: workers of several replicas claiming at
    /// once each take other jobs, none waits for another's claim.
    pub async fn claim_due_jobs(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<JobRow>> {
        let mut tx = self.begin_write().await?;
        let claimed = sql(format!(
            "UPDATE jobs SET locked_until = ?, attempts = attempts + 1, updated_at = ? WHERE id IN ( \
               SELECT id FROM jobs WHERE status = 'pending' AND run_at <= ? \
               AND (locked_until IS NULL OR locked_until <= ?) ORDER BY run_at LIMIT ?{}) \
             RETURNING *",
            self.backend().skip_locked()
        ))
        .bind(now + lease)
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut tx)
        .await?;
        self.commit(tx).await?;
        let mut jobs = claimed.iter().map(job).collect::<StoreResult<Vec<_>>>()?;
        // The rows come back in whatever order the update visited them (SQLite: as written; PostgreSQL: any).
        jobs.sort_by_key(|j| (j.run_at, j.id));
        Ok(jobs)
    }

    /// Marks the job done, if this worker's claim still holds it (a claim that ran out and was taken over by
    /// another worker leaves the job to that worker).
    pub async fn finish_job(&self, job: &JobRow, now: DateTime<Utc>) -> StoreResult<()> {
        sql("UPDATE jobs SET status = 'done', locked_until = NULL, last_error = NULL, updated_at = ? \
             WHERE id = ? AND locked_until IS NOT DISTINCT FROM ?")
            .bind(now)
            .bind(job.id)
            .bind(claim(job))
            .execute(self.direct())
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
        sql(
            "UPDATE jobs SET run_at = ?, locked_until = NULL, last_error = ?, updated_at = ? \
             WHERE id = ? AND locked_until IS NOT DISTINCT FROM ?",
        )
        .bind(run_at)
        .bind(error)
        .bind(now)
        .bind(job.id)
        .bind(claim(job))
        .execute(self.direct())
        .await?;
        Ok(())
    }

    /// Parks a job that gave up as `dead`, with its last error.
    pub async fn bury_job(&self, job: &JobRow, error: &str, now: DateTime<Utc>) -> StoreResult<()> {
        sql(
            "UPDATE jobs SET status = 'dead', locked_until = NULL, last_error = ?, updated_at = ? \
             WHERE id = ? AND locked_until IS NOT DISTINCT FROM ?",
        )
        .bind(error)
        .bind(now)
        .bind(job.id)
        .bind(claim(job))
        .execute(self.direct())
        .await?;
        Ok(())
    }

    /// Gives back claims this process holds but will not run (shutdown): the attempt does not count.
    pub async fn release_jobs(&self, ids: &[Uuid]) -> StoreResult<()> {
        let release = format!(
            "UPDATE jobs SET locked_until = NULL, attempts = {} WHERE id = ? AND status = 'pending'",
            self.backend().greatest("attempts - 1", "0")
        );
        for id in ids {
            sql(release.clone()).bind(id).execute(self.direct()).await?;
        }
        Ok(())
    }

    /// A dead job back to pending, due now, with a fresh count of tries. False when it is not dead.
    pub async fn revive_job(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let done = sql(
            "UPDATE jobs SET status = 'pending', attempts = 0, run_at = ?, locked_until = NULL, updated_at = ? \
             WHERE id = ? AND status = 'dead'",
        )
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(self.direct())
        .await?;
        Ok(done == 1)
    }

    pub async fn job(&self, id: Uuid) -> StoreResult<Option<JobRow>> {
        let r = sql("SELECT * FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(job).transpose()
    }

    /// How many jobs are in each status (for the metrics).
    pub async fn job_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        sql("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
            .fetch_all(self.reader())
            .await?
            .iter()
            .map(|r| Ok((r.text("status")?, r.int("n")?)))
            .collect()
    }

    /// When the oldest pending job that is due at `now` became due (None: nothing is due). For /metrics.
    pub async fn oldest_due_job(&self, now: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>> {
        sql("SELECT MIN(run_at) AS t FROM jobs WHERE status = 'pending' AND run_at <= ?")
            .bind(now)
            .fetch_one(self.reader())
            .await?
            .opt_time("t")
    }

    /// Jobs in a status, most recently changed first, at most `limit`.
    pub async fn list_jobs(&self, status: Option<&str>, limit: u32) -> StoreResult<Vec<JobRow>> {
        let all = sql("SELECT * FROM jobs WHERE (? IS NULL OR status = ?) ORDER BY updated_at DESC, id DESC LIMIT ?")
            .bind(status)
            .bind(status)
            .bind(limit)
            .fetch_all(self.reader())
            .await?;
        all.iter().map(job).collect()
    }
}

/// The claim `job` was read under, as the instant it ends (what settling it compares `locked_until` with).
fn claim(job: &JobRow) -> Option<DateTime<Utc>> {
    job.locked_until.map(from_secs)
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
