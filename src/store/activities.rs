//! The activity feed: written in the transaction of the meeting change it reports, read in `seq` order.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::{from_secs, to_secs, Store, StoreError, StoreResult};
use crate::domain::model::ActivityType;

pub struct NewActivity {
    pub id: Uuid,
    pub kind: ActivityType,
    pub occurred_at: DateTime<Utc>,
    pub meeting_id: Uuid,
    pub data: serde_json::Value,
}

/// Filters of the pull feed; every field set narrows it (all must hold).
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub kind: Option<ActivityType>,
    /// The team's slug as the activity recorded it.
    pub team: Option<String>,
    pub agent: Option<Uuid>,
    /// The visitor's email, compared case-insensitively.
    pub lead_email: Option<String>,
    /// Occurred at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Occurred before this instant.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct ActivityRow {
    pub seq: i64,
    pub id: Uuid,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

impl Store {
    /// Forgets activities that occurred before `before`, with their delivered webhooks (a dead delivery stays,
    /// with its activity, while an admin may still retry it), and finished jobs
    /// last touched before it; returns (activities, deliveries, jobs) removed.
    pub async fn purge_before(&self, before: DateTime<Utc>) -> StoreResult<(u64, u64, u64)> {
        let mut tx = self.begin_write().await?;
        let deliveries = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE status = 'delivered' \
             AND activity_id IN (SELECT id FROM activities WHERE occurred_at < ?)",
        )
        .bind(to_secs(before))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let activities = sqlx::query(
            "DELETE FROM activities WHERE occurred_at < ? \
             AND id NOT IN (SELECT activity_id FROM webhook_deliveries)",
        )
        .bind(to_secs(before))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let jobs = sqlx::query("DELETE FROM jobs WHERE status = 'done' AND updated_at < ?")
            .bind(to_secs(before))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        self.commit(tx).await?;
        Ok((activities, deliveries, jobs))
    }

    pub async fn activity(&self, id: Uuid) -> StoreResult<Option<ActivityRow>> {
        let r = sqlx::query("SELECT seq, id, type, occurred_at, data FROM activities WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?;
        r.as_ref().map(activity).transpose()
    }

    /// Activities after `after` (a `seq`) that pass `filter`, oldest first, at most `limit`. The team, agent
    /// and visitor are matched in the activity's `data` (what the event said when it happened).
    pub async fn activities_after(
        &self,
        after: i64,
        limit: u32,
        filter: &ActivityFilter,
    ) -> StoreResult<Vec<ActivityRow>> {
        let mut sql =
            String::from("SELECT seq, id, type, occurred_at, data FROM activities WHERE seq > ?");
        if filter.kind.is_some() {
            sql.push_str(" AND type = ?");
        }
        if filter.team.is_some() {
            sql.push_str(" AND json_extract(data, '$.team') = ?");
        }
        if filter.agent.is_some() {
            sql.push_str(" AND json_extract(data, '$.agent.id') = ?");
        }
        if filter.lead_email.is_some() {
            sql.push_str(" AND lower(json_extract(data, '$.visitor.email')) = lower(?)");
        }
        if filter.from.is_some() {
            sql.push_str(" AND occurred_at >= ?");
        }
        if filter.to.is_some() {
            sql.push_str(" AND occurred_at < ?");
        }
        sql.push_str(" ORDER BY seq LIMIT ?");
        let mut q = sqlx::query(&sql).bind(after);
        if let Some(k) = filter.kind {
            q = q.bind(k.as_str());
        }
        if let Some(t) = &filter.team {
            q = q.bind(t.clone());
        }
        if let Some(a) = filter.agent {
            q = q.bind(a.to_string());
        }
        if let Some(e) = &filter.lead_email {
            q = q.bind(e.clone());
        }
        if let Some(f) = filter.from {
            q = q.bind(to_secs(f));
        }
        if let Some(t) = filter.to {
            q = q.bind(to_secs(t));
        }
        let all = q.bind(limit as i64).fetch_all(&self.read).await?;
        all.iter().map(activity).collect()
    }
}

fn activity(r: &sqlx::sqlite::SqliteRow) -> StoreResult<ActivityRow> {
    let data: String = r.try_get("data")?;
    Ok(ActivityRow {
        seq: r.try_get("seq")?,
        id: super::rows::uuid(r, "id")?,
        kind: r.try_get("type")?,
        occurred_at: from_secs(r.try_get("occurred_at")?),
        data: serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}
