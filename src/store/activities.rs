//! The activity feed: written in the transaction of the meeting change it reports, read in `seq` order.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{sql, Row, Store, StoreError, StoreResult};
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
        let deliveries = sql("DELETE FROM webhook_deliveries WHERE status = 'delivered' \
             AND activity_id IN (SELECT id FROM activities WHERE occurred_at < ?)")
        .bind(before)
        .execute(&mut tx)
        .await?;
        let activities = sql("DELETE FROM activities WHERE occurred_at < ? \
             AND id NOT IN (SELECT activity_id FROM webhook_deliveries)")
        .bind(before)
        .execute(&mut tx)
        .await?;
        let jobs = sql("DELETE FROM jobs WHERE status = 'done' AND updated_at < ?")
            .bind(before)
            .execute(&mut tx)
            .await?;
        self.commit(tx).await?;
        Ok((activities, deliveries, jobs))
    }

    pub async fn activity(&self, id: Uuid) -> StoreResult<Option<ActivityRow>> {
        let r = sql("SELECT seq, id, type, occurred_at, data FROM activities WHERE id = ?")
            .bind(id)
            .fetch_optional(self.reader())
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
        let backend = self.backend();
        let mut text =
            String::from("SELECT seq, id, type, occurred_at, data FROM activities WHERE seq > ?");
        if filter.kind.is_some() {
            text.push_str(" AND type = ?");
        }
        if filter.team.is_some() {
            let team = backend.json_text("data", &["team"]);
            text.push_str(&format!(" AND {team} = ?"));
        }
        if filter.agent.is_some() {
            let agent = backend.json_text("data", &["agent", "id"]);
            text.push_str(&format!(" AND {agent} = ?"));
        }
        if filter.lead_email.is_some() {
            let email = backend.json_text("data", &["visitor", "email"]);
            text.push_str(&format!(" AND lower({email}) = lower(?)"));
        }
        if filter.from.is_some() {
            text.push_str(" AND occurred_at >= ?");
        }
        if filter.to.is_some() {
            text.push_str(" AND occurred_at < ?");
        }
        text.push_str(" ORDER BY seq LIMIT ?");
        let mut q = sql(text).bind(after);
        if let Some(k) = filter.kind {
            q = q.bind(k.as_str());
        }
        if let Some(t) = &filter.team {
            q = q.bind(t);
        }
        if let Some(a) = filter.agent {
            // Compared with the text inside `data`, not with an id column.
            q = q.bind(a.to_string());
        }
        if let Some(e) = &filter.lead_email {
            q = q.bind(e);
        }
        if let Some(f) = filter.from {
            q = q.bind(f);
        }
        if let Some(t) = filter.to {
            q = q.bind(t);
        }
        let all = q.bind(limit).fetch_all(self.reader()).await?;
        all.iter().map(activity).collect()
    }
}

fn activity(r: &Row) -> StoreResult<ActivityRow> {
    let data = r.json_text("data")?;
    Ok(ActivityRow {
        seq: r.int("seq")?,
        id: r.uuid("id")?,
        kind: r.text("type")?,
        occurred_at: r.time("occurred_at")?,
        data: serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}
