//! Teams, their queues (ordered members) and the round-robin pointer.

use sqlx::Row;
use uuid::Uuid;

use super::{map_unique, rows, to_secs, Conn, Store, StoreResult};
use crate::domain::model::{Agent, Team};

const TEAM_COLUMNS: &str = "id, slug, name, meeting_minutes, mode, buffer_before, buffer_after, \
     min_notice_minutes, horizon_days, slot_step_minutes, last_agent_id, created_at";

/// The settable fields of a team, already validated.
#[derive(Debug, Clone)]
pub struct TeamPatch {
    pub name: String,
    pub meeting_minutes: u32,
    pub mode: &'static str,
    pub buffer_before: u32,
    pub buffer_after: u32,
    pub min_notice_minutes: u32,
    pub horizon_days: u32,
    pub slot_step_minutes: u32,
}

impl Store {
    pub async fn insert_team(&self, team: &Team) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO teams (id, slug, name, meeting_minutes, mode, buffer_before, buffer_after, \
             min_notice_minutes, horizon_days, slot_step_minutes, last_agent_id, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
        )
        .bind(team.id.to_string())
        .bind(team.slug.as_str())
        .bind(&team.name)
        .bind(team.meeting.minutes() as i64)
        .bind(team.mode.as_str())
        .bind(team.buffer_before_minutes as i64)
        .bind(team.buffer_after_minutes as i64)
        .bind(team.min_notice_minutes as i64)
        .bind(team.horizon_days as i64)
        .bind(team.slot_step_minutes as i64)
        .bind(to_secs(team.created_at))
        .execute(&self.write)
        .await
        .map_err(map_unique)?;
        self.written();
        Ok(())
    }

    pub async fn update_team(&self, id: Uuid, p: &TeamPatch) -> StoreResult<()> {
        sqlx::query(
            "UPDATE teams SET name = ?, meeting_minutes = ?, mode = ?, buffer_before = ?, buffer_after = ?, \
             min_notice_minutes = ?, horizon_days = ?, slot_step_minutes = ? WHERE id = ?",
        )
        .bind(&p.name)
        .bind(p.meeting_minutes as i64)
        .bind(p.mode)
        .bind(p.buffer_before as i64)
        .bind(p.buffer_after as i64)
        .bind(p.min_notice_minutes as i64)
        .bind(p.horizon_days as i64)
        .bind(p.slot_step_minutes as i64)
        .bind(id.to_string())
        .execute(&self.write)
        .await?;
        self.written();
        Ok(())
    }

    pub async fn team_by_slug(&self, slug: &str) -> StoreResult<Option<Team>> {
        let row = sqlx::query(&format!("SELECT {TEAM_COLUMNS} FROM teams WHERE slug = ?"))
            .bind(slug)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(rows::team).transpose()
    }

    pub async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        let all = sqlx::query(&format!("SELECT {TEAM_COLUMNS} FROM teams ORDER BY slug"))
            .fetch_all(&self.read)
            .await?;
        all.iter().map(rows::team).collect()
    }

    /// The team's live agents in queue order.
    pub async fn team_queue(&self, team_id: Uuid) -> StoreResult<Vec<Agent>> {
        let all = sqlx::query(
            "SELECT a.* FROM team_members m JOIN agents a ON a.id = m.agent_id \
             WHERE m.team_id = ? AND a.deleted_at IS NULL ORDER BY m.position, a.id",
        )
        .bind(team_id.to_string())
        .fetch_all(&self.read)
        .await?;
        all.iter().map(rows::agent).collect()
    }

    /// Replaces the team's queue order (the caller checked it names exactly the team's agents).
    pub async fn set_queue_order(&self, team_id: Uuid, order: &[Uuid]) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        for (pos, agent) in order.iter().enumerate() {
            sqlx::query("UPDATE team_members SET position = ? WHERE team_id = ? AND agent_id = ?")
                .bind(pos as i64)
                .bind(team_id.to_string())
                .bind(agent.to_string())
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    /// The round-robin pointer as it is inside a write transaction.
    pub async fn team_pointer_in(&self, tx: &mut Conn, team_id: Uuid) -> StoreResult<Option<Uuid>> {
        let row = sqlx::query("SELECT last_agent_id FROM teams WHERE id = ?")
            .bind(team_id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let v: Option<String> = row.try_get("last_agent_id")?;
        Ok(v.and_then(|s| Uuid::parse_str(&s).ok()))
    }

    pub async fn set_team_pointer_in(
        &self,
        tx: &mut Conn,
        team_id: Uuid,
        agent: Uuid,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE teams SET last_agent_id = ? WHERE id = ?")
            .bind(agent.to_string())
            .bind(team_id.to_string())
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}
