//! Meetings: the overlap check and insert of a booking, cancel and reschedule, listings for admins.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::sql::Arg;
use super::{rows, sql, Conn, Store, StoreResult};
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
        let done = sql(
            "UPDATE meetings SET status = 'cancelled', cancel_reason = ?, updated_at = ?, calendar_version = calendar_version + 1 \
             WHERE id = ? AND status = 'booked'",
        )
        .bind(reason)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        Ok(done == 1)
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
                let done = sql("UPDATE meetings SET calendar_lock_until = ? WHERE id = ? \
                     AND (calendar_lock_until IS NULL OR calendar_lock_until <= ?)")
                .bind(until)
                .bind(id)
                .bind(now)
                .execute(&mut *c)
                .await?;
                Ok(done == 1)
            })
        })
        .await
    }

    pub async fn unlock_calendar(&self, id: Uuid, until: DateTime<Utc>) -> StoreResult<()> {
        self.write_atomic(move |c| {
            Box::pin(async move {
                sql(
                    "UPDATE meetings SET calendar_lock_until = NULL WHERE id = ? AND calendar_lock_until = ?",
                )
                .bind(id)
                .bind(until)
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
                let done = sql(
                    "UPDATE meetings SET calendar_agent_id = ?, calendar_cleanup_agent_id = ?, \
                     calendar_status = ?, video_link = NULL WHERE id = ? AND calendar_lock_until = ?",
                )
                .bind(holder)
                .bind(cleanup)
                .bind(CalendarStatus::Pending.as_str())
                .bind(id)
                .bind(lease)
                .execute(&mut *c)
                .await?;
                Ok(done == 1)
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
        let synced = tx.backend().greatest(
            "calendar_synced_version",
            "CASE WHEN ? IS NULL THEN ? ELSE 0 END",
        );
        let done = sql(format!(
            "UPDATE meetings SET calendar_agent_id = ?, calendar_cleanup_agent_id = ?, calendar_status = ?, \
             video_link = ?, calendar_synced_version = {synced}, \
             calendar_lock_until = NULL WHERE id = ? AND calendar_lock_until = ?"
        ))
        .bind(holder)
        .bind(cleanup)
        .bind(status.as_str())
        .bind(video_link)
        .bind(cleanup)
        .bind(version)
        .bind(id)
        .bind(lease)
        .execute(&mut *tx)
        .await?;
        Ok(done == 1)
    }

    pub async fn set_took_place(
        &self,
        id: Uuid,
        took_place: Option<bool>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sql("UPDATE meetings SET took_place = ?, updated_at = ? WHERE id = ?")
            .bind(took_place)
            .bind(now)
            .bind(id)
            .execute(self.direct())
            .await?;
        Ok(done == 1)
    }

    pub async fn meeting(&self, id: Uuid) -> StoreResult<Option<Meeting>> {
        let row = sql(format!("{MEETING_SELECT} WHERE m.id = ?"))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(rows::meeting).transpose()
    }

    pub async fn meeting_in(&self, tx: &mut Conn, id: Uuid) -> StoreResult<Option<Meeting>> {
        let row = sql(format!("{MEETING_SELECT} WHERE m.id = ?"))
            .bind(id)
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
        let all = sql(format!(
            "SELECT agent_id, blocked_from, blocked_until FROM meetings WHERE status = 'booked' \
             AND agent_id IN ({marks}) AND blocked_from < ? AND blocked_from > ? AND blocked_until > ?"
        ))
        .bind_all(agents)
        .bind(window.end)
        .bind(window.start - Duration::seconds(MAX_BLOCK_SECONDS))
        .bind(window.start)
        .fetch_all(self.reader())
        .await?;
        all.iter()
            .map(|r| {
                Ok((
                    r.uuid("agent_id")?,
                    Span {
                        start: r.time("blocked_from")?,
                        end: r.time("blocked_until")?,
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
        let all = sql(format!(
            "SELECT agent_id, starts_at FROM meetings WHERE status = 'booked' AND agent_id IN ({marks}) \
             AND blocked_from >= ? AND blocked_from < ? AND starts_at >= ? AND starts_at < ?"
        ))
        .bind_all(agents)
        .bind(range.start - Duration::seconds(MAX_BLOCK_SECONDS))
        .bind(range.end)
        .bind(range.start)
        .bind(range.end)
        .fetch_all(self.reader())
        .await?;
        all.iter()
            .map(|r| Ok((r.uuid("agent_id")?, r.time("starts_at")?)))
            .collect()
    }

    /// Meetings in (start, id) order after the filter's cursor, at most `limit`.
    pub async fn list_meetings(&self, f: &MeetingFilter) -> StoreResult<MeetingPage> {
        let mut text = format!("{MEETING_SELECT} WHERE 1 = 1");
        let mut binds: Vec<Arg> = Vec::new();
        if let Some(t) = f.team_id {
            text.push_str(" AND m.team_id = ?");
            binds.push(t.into());
        }
        if let Some(a) = f.agent_id {
            text.push_str(" AND m.agent_id = ?");
            binds.push(a.into());
        }
        if let Some(s) = f.status {
            text.push_str(" AND m.status = ?");
            binds.push(s.as_str().into());
        }
        if let Some(from) = f.from {
            text.push_str(" AND m.starts_at >= ?");
            binds.push(from.into());
        }
        if let Some(to) = f.to {
            text.push_str(" AND m.starts_at < ?");
            binds.push(to.into());
        }
        if let Some(e) = &f.lead_email {
            text.push_str(" AND lower(m.lead_email) = lower(?)");
            binds.push(e.into());
        }
        if let Some((start, id)) = f.after {
            text.push_str(" AND (m.starts_at > ? OR (m.starts_at = ? AND m.id > ?))");
            binds.push(start.into());
            binds.push(start.into());
            binds.push(id.into());
        }
        text.push_str(" ORDER BY m.starts_at, m.id LIMIT ?");
        binds.push((i64::from(f.limit) + 1).into());
        let all = sql(text).bind_all(binds).fetch_all(self.reader()).await?;
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
