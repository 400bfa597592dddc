//! Teams, their queues (ordered members) and the round-robin pointer.

use uuid::Uuid;

use super::{map_unique, rows, sql, Conn, On, Store, StoreResult};
use crate::domain::model::{Agent, Team};

const TEAM_COLUMNS: &str = "id, slug, name, meeting_minutes, mode, buffer_before, buffer_after, \
     min_notice_minutes, horizon_days, slot_step_minutes, last_agent_id, daily_limit, created_at";

impl Store {
    /// Inserts a new team; a slug in use is `Duplicate`.
    pub async fn insert_team_in(&self, tx: &mut Conn, team: &Team) -> StoreResult<()> {
        sql(
            "INSERT INTO teams (id, slug, name, meeting_minutes, mode, buffer_before, buffer_after, \
             min_notice_minutes, horizon_days, slot_step_minutes, last_agent_id, daily_limit, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)",
        )
        .bind(team.id)
        .bind(team.slug.as_str())
        .bind(&team.name)
        .bind(team.meeting.minutes())
        .bind(team.mode.as_str())
        .bind(team.buffer_before_minutes)
        .bind(team.buffer_after_minutes)
        .bind(team.min_notice_minutes)
        .bind(team.horizon_days)
        .bind(team.slot_step_minutes)
        .bind(team.daily_limit.map(|l| l.get()))
        .bind(team.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_unique)?;
        Ok(())
    }

    /// Writes the team's settings back: not its slug, nor the round-robin pointer (bookings move that).
    pub async fn update_team_in(&self, tx: &mut Conn, team: &Team) -> StoreResult<()> {
        sql(
            "UPDATE teams SET name = ?, meeting_minutes = ?, mode = ?, buffer_before = ?, buffer_after = ?, \
             min_notice_minutes = ?, horizon_days = ?, slot_step_minutes = ?, daily_limit = ? WHERE id = ?",
        )
        .bind(&team.name)
        .bind(team.meeting.minutes())
        .bind(team.mode.as_str())
        .bind(team.buffer_before_minutes)
        .bind(team.buffer_after_minutes)
        .bind(team.min_notice_minutes)
        .bind(team.horizon_days)
        .bind(team.slot_step_minutes)
        .bind(team.daily_limit.map(|l| l.get()))
        .bind(team.id)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    pub async fn team_by_slug(&self, slug: &str) -> StoreResult<Option<Team>> {
        team_by_slug(self.reader(), slug).await
    }

    /// The team as it is inside a write transaction. On PostgreSQL its row is locked to the end of the
    /// transaction (as a booking locks it): admin writes to a team take turns with its bookings and with
    /// each other, so none works from a team another has changed meanwhile.
    pub async fn team_by_slug_in(&self, tx: &mut Conn, slug: &str) -> StoreResult<Option<Team>> {
        let row = sql(format!(
            "SELECT {TEAM_COLUMNS} FROM teams WHERE slug = ?{}",
            tx.backend().for_update()
        ))
        .bind(slug)
        .fetch_optional(&mut *tx)
        .await?;
        row.as_ref().map(rows::team).transpose()
    }

    pub async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        let all = sql(format!("SELECT {TEAM_COLUMNS} FROM teams ORDER BY slug"))
            .fetch_all(self.reader())
            .await?;
        all.iter().map(rows::team).collect()
    }

    /// The team's live agents in queue order.
    pub async fn team_queue(&self, team_id: Uuid) -> StoreResult<Vec<Agent>> {
        team_queue(self.reader(), team_id).await
    }

    /// The team's queue as it is inside a write transaction.
    pub async fn team_queue_in(&self, tx: &mut Conn, team_id: Uuid) -> StoreResult<Vec<Agent>> {
        team_queue(tx.into(), team_id).await
    }

    /// Replaces the team's queue order (the caller checked it names exactly the team's agents).
    pub async fn set_queue_order_in(
        &self,
        tx: &mut Conn,
        team_id: Uuid,
        order: &[Uuid],
    ) -> StoreResult<()> {
        for (pos, agent) in order.iter().enumerate() {
            sql("UPDATE team_members SET position = ? WHERE team_id = ? AND agent_id = ?")
                .bind(pos as i64)
                .bind(team_id)
                .bind(agent)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }

    /// The round-robin pointer as last committed.
    pub async fn team_pointer(&self, team_id: Uuid) -> StoreResult<Option<Uuid>> {
        let row = sql("SELECT last_agent_id FROM teams WHERE id = ?")
            .bind(team_id)
            .fetch_optional(self.reader())
            .await?;
        let v = match row {
            Some(r) => r.opt_text("last_agent_id")?,
            None => None,
        };
        Ok(v.and_then(|s| Uuid::parse_str(&s).ok()))
    }

    pub async fn set_team_pointer_in(
        &self,
        tx: &mut Conn,
        team_id: Uuid,
        agent: Uuid,
    ) -> StoreResult<()> {
        sql("UPDATE teams SET last_agent_id = ? WHERE id = ?")
            .bind(agent)
            .bind(team_id)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

async fn team_by_slug(on: On<'_>, slug: &str) -> StoreResult<Option<Team>> {
    let row = sql(format!("SELECT {TEAM_COLUMNS} FROM teams WHERE slug = ?"))
        .bind(slug)
        .fetch_optional(on)
        .await?;
    row.as_ref().map(rows::team).transpose()
}

async fn team_queue(on: On<'_>, team_id: Uuid) -> StoreResult<Vec<Agent>> {
    let all = sql(
        "SELECT a.* FROM team_members m JOIN agents a ON a.id = m.agent_id \
         WHERE m.team_id = ? AND a.deleted_at IS NULL ORDER BY m.position, a.id",
    )
    .bind(team_id)
    .fetch_all(on)
    .await?;
    all.iter().map(rows::agent).collect()
}
