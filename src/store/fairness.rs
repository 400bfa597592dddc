//! What the fairness view counts: the meetings a team routed in a window, with their decision traces.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{sql, Store, StoreError, StoreResult};
use crate::domain::fairness::RoutedMeeting;
use crate::domain::model::MeetingStatus;

/// Most meetings one fairness read returns (a guard, far above a team's month).
const MAX_ROUTED: i64 = 50_000;

impl Store {
    /// The team's meetings booked (routed) in `[from, to]` (`to` is usually now), cancelled ones included,
    /// oldest first. A meeting never starts before it was booked, so the start bound lets the read use the
    /// start index instead of scanning every meeting the team ever had.
    pub async fn routed_meetings(
        &self,
        team_id: Uuid,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<RoutedMeeting>> {
        let found = sql("SELECT agent_id, status, routing FROM meetings \
             WHERE starts_at >= ? AND team_id = ? AND created_at >= ? AND created_at <= ? \
             ORDER BY created_at, id LIMIT ?")
        .bind(from)
        .bind(team_id)
        .bind(from)
        .bind(to)
        .bind(MAX_ROUTED)
        .fetch_all(self.reader())
        .await?;
        found
            .iter()
            .map(|row| {
                let status = row.text("status")?;
                let routing = row.json_text("routing")?;
                Ok(RoutedMeeting {
                    agent_id: row.uuid("agent_id")?,
                    status: MeetingStatus::parse(&status)
                        .ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
                    routing: serde_json::from_str(&routing)
                        .map_err(|e| StoreError::Corrupt(format!("routing: {e}")))?,
                })
            })
            .collect()
    }
}
