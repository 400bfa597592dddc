//! Meetings: the overlap check and insert of a booking, cancel and reschedule, listings for admins.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use super::{from_secs, rows, to_secs, Conn, Store, StoreResult};
use crate::domain::availability::Span;
use crate::domain::model::{CalendarStatus, Meeting, MeetingStatus};

/// The longest a meeting's blocked range can be (8 h meeting, 4 h buffers each side): lets overlap queries
/// seek from `start - MAX_BLOCK` in the index instead of scanning an agent's whole history.
pub(super) const MAX_BLOCK_SECONDS: i64 = (8 + 4 + 4) * 3600;

const MEETING_SELECT: &str =
    "SELECT m.*, t.slug AS team_slug, t.name AS team_name FROM meetings m JOIN teams t ON t.id = m.team_id";

/// A meeting about to be written; the same shape as a stored one.
pub type NewMeeting = Meeting;

/// Filters of the admins' meeting list; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct MeetingFilter {
    pub team_id: Option<Uuid>,
    pub agent_id: Option<Uuid>,
    pub status: Option<MeetingStatus>,
    /// Meetings starting at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Meetings starting before this instant.
    pub to: Option<DateTime<Utc>>,
    pub lead_email: Option<String>,
    /// Continue after this (start, id), exclusive.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: u32,
}

pub struct MeetingPage {
    pub meetings: Vec<Meeting>,
    /// Set when more meetings follow the last one returned.
    pub next: Option<(DateTime<Utc>, Uuid)>,
}

impl Store {
    /// Cancels a live meeting; false when it was not live (already cancelled).
    pub async fn cancel_meeting_in(
        &self,
        tx: &mut Conn,
        id: Uuid,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE meetings SET status = 'cancelled', cancel_reason = ?, updated_at = ?, calendar_version = calendar_version + 1 \
             WHERE id = ? AND status = 'booked'",
        )
        .bind(reason)
        .bind(to_secs(now))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Takes the meeting's calendar lease until `until`; false while another sync holds it.
    pub async fn lock_calendar(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.write_atomic(move |c| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE meetings SET calendar_lock_until = ? WHERE id = ? \
                     AND (calendar_lock_until IS NULL OR calendar_lock_until <= ?)",
                )
                .bind(to_secs(until))
                .bind(id.to_string())
                .bind(to_secs(now))
                .execute(&mut *c)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }

    pub async fn unlock_calendar(&self, id: Uuid, until: DateTime<Utc>) -> StoreResult<()> {
        self.write_atomic(move |c| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE meetings SET calendar_lock_until = NULL WHERE id = ? AND calendar_lock_until = ?",
                )
                .bind(id.to_string())
                .bind(to_secs(until))
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })
        .await
    }

    pub async fn set_calendar_holder(
        &self,
        id: Uuid,
        lease: DateTime<Utc>,
        holder: Option<Uuid>,
        cleanup: Option<Uuid>,
    ) -> StoreResult<bool> {
        self.write_atomic(move |c| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE meetings SET calendar_agent_id = ?, calendar_cleanup_agent_id = ?, \
                     calendar_status = ?, video_link = NULL WHERE id = ? AND calendar_lock_until = ?",
                )
                .bind(holder.map(|h| h.to_string()))
                .bind(cleanup.map(|h| h.to_string()))
                .bind(CalendarStatus::Pending.as_str())
                .bind(id.to_string())
                .bind(to_secs(lease))
                .execute(&mut *c)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn record_calendar_sync_in(
        &self,
        tx: &mut Conn,
        id: Uuid,
        lease: DateTime<Utc>,
        version: i64,
        holder: Option<Uuid>,
        cleanup: Option<Uuid>,
        status: CalendarStatus,
        video_link: Option<&str>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE meetings SET calendar_agent_id = ?, calendar_cleanup_agent_id = ?, calendar_status = ?, \
             video_link = ?, calendar_synced_version = MAX(calendar_synced_version, CASE WHEN ? IS NULL THEN ? ELSE 0 END), \
             calendar_lock_until = NULL WHERE id = ? AND calendar_lock_until = ?",
        )
        .bind(holder.map(|h| h.to_string()))
        .bind(cleanup.map(|h| h.to_string()))
        .bind(status.as_str())
        .bind(video_link)
        .bind(cleanup.map(|h| h.to_string()))
        .bind(version)
        .bind(id.to_string())
        .bind(to_secs(lease))
        .execute(&mut *tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_took_place(
        &self,
        id: Uuid,
        took_place: Option<bool>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE meetings SET took_place = ?, updated_at = ? WHERE id = ?")
            .bind(took_place.map(|b| b as i64))
            .bind(to_secs(now))
            .bind(id.to_string())
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn meeting(&self, id: Uuid) -> StoreResult<Option<Meeting>> {
        let row = sqlx::query(&format!("{MEETING_SELECT} WHERE m.id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(rows::meeting).transpose()
    }

    pub async fn meeting_in(&self, tx: &mut Conn, id: Uuid) -> StoreResult<Option<Meeting>> {
        let row = sqlx::query(&format!("{MEETING_SELECT} WHERE m.id = ?"))
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        row.as_ref().map(rows::meeting).transpose()
    }

    /// Blocked ranges of the live meetings of these agents that touch the window, as (agent, range).
    pub async fn live_blocks(
        &self,
        agents: &[Uuid],
        window: Span,
    ) -> StoreResult<Vec<(Uuid, Span)>> {
        if agents.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; agents.len()].join(",");
        let sql = format!(
            "SELECT agent_id, blocked_from, blocked_until FROM meetings WHERE status = 'booked' \
             AND agent_id IN ({marks}) AND blocked_from < ? AND blocked_from > ? AND blocked_until > ?"
        );
        let mut q = sqlx::query(&sql);
        for a in agents {
            q = q.bind(a.to_string());
        }
        let all = q
            .bind(to_secs(window.end))
            .bind(to_secs(window.start) - MAX_BLOCK_SECONDS)
            .bind(to_secs(window.start))
            .fetch_all(&self.read)
            .await?;
        all.iter()
            .map(|r| {
                Ok((
                    rows::uuid(r, "agent_id")?,
                    Span {
                        start: from_secs(r.try_get("blocked_from")?),
                        end: from_secs(r.try_get("blocked_until")?),
                    },
                ))
            })
            .collect()
    }

    /// Starts of the live meetings of these agents that start inside `range`, as (agent, start).
    pub async fn live_starts(
        &self,
        agents: &[Uuid],
        range: Span,
    ) -> StoreResult<Vec<(Uuid, DateTime<Utc>)>> {
        if agents.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; agents.len()].join(",");
        let sql = format!(
            "SELECT agent_id, starts_at FROM meetings WHERE status = 'booked' AND agent_id IN ({marks}) \
             AND blocked_from >= ? AND blocked_from < ? AND starts_at >= ? AND starts_at < ?"
        );
        let mut q = sqlx::query(&sql);
        for a in agents {
            q = q.bind(a.to_string());
        }
        let all = q
            .bind(to_secs(range.start) - MAX_BLOCK_SECONDS)
            .bind(to_secs(range.end))
            .bind(to_secs(range.start))
            .bind(to_secs(range.end))
            .fetch_all(&self.read)
            .await?;
        all.iter()
            .map(|r| {
                Ok((
                    rows::uuid(r, "agent_id")?,
                    from_secs(r.try_get("starts_at")?),
                ))
            })
            .collect()
    }

    /// Meetings in (start, id) order after the filter's cursor, at most `limit`.
    pub async fn list_meetings(&self, f: &MeetingFilter) -> StoreResult<MeetingPage> {
        let mut sql = format!("{MEETING_SELECT} WHERE 1 = 1");
        let mut binds: Vec<Bind> = Vec::new();
        if let Some(t) = f.team_id {
            sql.push_str(" AND m.team_id = ?");
            binds.push(Bind::Text(t.to_string()));
        }
        if let Some(a) = f.agent_id {
            sql.push_str(" AND m.agent_id = ?");
            binds.push(Bind::Text(a.to_string()));
        }
        if let Some(s) = f.status {
            sql.push_str(" AND m.status = ?");
            binds.push(Bind::Text(s.as_str().to_owned()));
        }
        if let Some(from) = f.from {
            sql.push_str(" AND m.starts_at >= ?");
            binds.push(Bind::Int(to_secs(from)));
        }
        if let Some(to) = f.to {
            sql.push_str(" AND m.starts_at < ?");
            binds.push(Bind::Int(to_secs(to)));
        }
        if let Some(e) = &f.lead_email {
            sql.push_str(" AND lower(m.lead_email) = lower(?)");
            binds.push(Bind::Text(e.clone()));
        }
        if let Some((start, id)) = f.after {
            sql.push_str(" AND (m.starts_at > ? OR (m.starts_at = ? AND m.id > ?))");
            binds.push(Bind::Int(to_secs(start)));
            binds.push(Bind::Int(to_secs(start)));
            binds.push(Bind::Text(id.to_string()));
        }
        sql.push_str(" ORDER BY m.starts_at, m.id LIMIT ?");
        binds.push(Bind::Int(f.limit as i64 + 1));
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = match b {
                Bind::Text(s) => q.bind(s),
                Bind::Int(i) => q.bind(i),
            };
        }
        let all = q.fetch_all(&self.read).await?;
        let mut meetings = all
            .iter()
            .map(rows::meeting)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = if meetings.len() > f.limit as usize {
            meetings.truncate(f.limit as usize);
            meetings.last().map(|m| (m.start, m.id))
        } else {
            None
        };
        Ok(MeetingPage { meetings, next })
    }
}

enum Bind {
    Text(String),
    Int(i64),
}
