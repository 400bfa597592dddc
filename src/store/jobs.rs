//! Durable jobs (the outbox): inserted inside the transaction of the change they follow up on, claimed by
//! workers with a lease (`locked_until`), never by holding a lock during the provider call.

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::{from_secs, rows, to_secs, Conn, Store, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub id: Uuid,
    pub kind: String,
    pub meeting_id: Option<Uuid>,
    /// What the job acts on when it is not a meeting (a webhook delivery's id).
    pub target: Option<String>,
    pub status: String,
    /// The end of the claim this row was read under: settling a job checks the claim is still this one.
    pub locked_until: Option<i64>,
    pub attempts: u32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn job(r: &sqlx::sqlite::SqliteRow) -> StoreResult<JobRow> {
    let meeting: Option<String> = r.try_get("meeting_id")?;
    Ok(JobRow {
        id: rows::uuid(r, "id")?,
        kind: r.try_get("kind")?,
        meeting_id: meeting.and_then(|m| Uuid::parse_str(&m).ok()),
        target: r.try_get("target")?,
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
    /// A job acting on a meeting, or on some other `target` (a webhook delivery, an email's meeting version).
    pub async fn insert_job_in(
        &self,
        tx: &mut Conn,
        kind: &str,
        meeting_id: Option<Uuid>,
        target: Option<&str>,
        run_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Uuid> {
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
