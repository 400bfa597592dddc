//! Agents and their team memberships.

use sqlx::{SqliteConnection, SqliteExecutor};
use uuid::Uuid;

use super::{map_unique, rows, to_secs, Store, StoreResult};
use crate::domain::model::{Agent, Invitation};

impl Store {
    /// Inserts the agent and appends it to the end of each team's queue; an email in use is `Duplicate`.
    pub async fn insert_agent_in(
        &self,
        tx: &mut SqliteConnection,
        agent: &Agent,
        team_ids: &[Uuid],
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO agents (id, name, email, timezone, weekly_hours, date_overrides, paused, calendar, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(agent.id.to_string())
        .bind(&agent.name)
        .bind(&agent.email)
        .bind(agent.zone.name())
        .bind(serde_json::to_string(&agent.weekly.to_map()).expect("map serializes"))
        .bind(serde_json::to_string(&agent.overrides.to_map()).expect("map serializes"))
        .bind(agent.paused as i64)
        .bind(agent.calendar.as_str())
        .bind(to_secs(agent.created_at))
        .execute(&mut *tx)
        .await
        .map_err(map_unique)?;
        self.set_memberships_in(tx, agent.id, team_ids).await
    }

    /// Writes the agent's own fields back (not its calendar: connections own that, nor its invitation
    /// text), and (when given) its team memberships. An email in use is `Duplicate`.
    pub async fn update_agent_in(
        &self,
        tx: &mut SqliteConnection,
        agent: &Agent,
        team_ids: Option<&[Uuid]>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE agents SET name = ?, email = ?, timezone = ?, weekly_hours = ?, date_overrides = ?, \
             paused = ?, daily_limit = ? WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(&agent.name)
        .bind(&agent.email)
        .bind(agent.zone.name())
        .bind(serde_json::to_string(&agent.weekly.to_map()).expect("map serializes"))
        .bind(serde_json::to_string(&agent.overrides.to_map()).expect("map serializes"))
        .bind(agent.paused as i64)
        .bind(agent.daily_limit.map(|l| l.get() as i64))
        .bind(agent.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_unique)?;
        if let Some(team_ids) = team_ids {
            self.set_memberships_in(tx, agent.id, team_ids).await?;
        }
        Ok(())
    }

    /// Before an agent leaves a queue (one team, or all with `None`): where the agent holds the round-robin
    /// pointer, the pointer moves to the live agent before it in the queue (wrapping), so the rotation goes
    /// on with the agent after the one leaving, as if it had never been there.
    async fn hand_back_pointer_in(
        &self,
        tx: &mut SqliteConnection,
        agent: Uuid,
        team: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE teams SET last_agent_id = COALESCE( \
               (SELECT m.agent_id FROM team_members m JOIN agents a ON a.id = m.agent_id \
                 WHERE m.team_id = teams.id AND a.deleted_at IS NULL AND m.agent_id != ? \
                   AND m.position < (SELECT position FROM team_members WHERE team_id = teams.id AND agent_id = ?) \
                 ORDER BY m.position DESC LIMIT 1), \
               (SELECT m.agent_id FROM team_members m JOIN agents a ON a.id = m.agent_id \
                 WHERE m.team_id = teams.id AND a.deleted_at IS NULL AND m.agent_id != ? \
                 ORDER BY m.position DESC LIMIT 1)) \
             WHERE last_agent_id = ? AND (? IS NULL OR id = ?)",
        )
        .bind(agent.to_string())
        .bind(agent.to_string())
        .bind(agent.to_string())
        .bind(agent.to_string())
        .bind(team)
        .bind(team)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// Keeps memberships in teams still listed (and their positions); joins new teams at the queue's end.
    async fn set_memberships_in(
        &self,
        tx: &mut SqliteConnection,
        agent: Uuid,
        team_ids: &[Uuid],
    ) -> StoreResult<()> {
        let agent_s = agent.to_string();
        let current: Vec<String> =
            sqlx::query_scalar("SELECT team_id FROM team_members WHERE agent_id = ?")
                .bind(&agent_s)
                .fetch_all(&mut *tx)
                .await?;
        for team in &current {
            if !team_ids.iter().any(|t| &t.to_string() == team) {
                self.hand_back_pointer_in(tx, agent, Some(team)).await?;
                sqlx::query("DELETE FROM team_members WHERE agent_id = ? AND team_id = ?")
                    .bind(&agent_s)
                    .bind(team)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for team in team_ids {
            let team = team.to_string();
            if current.contains(&team) {
                continue;
            }
            sqlx::query(
                "INSERT INTO team_members (team_id, agent_id, position) \
                 VALUES (?1, ?2, (SELECT COALESCE(MAX(position) + 1, 0) FROM team_members WHERE team_id = ?1))",
            )
            .bind(&team)
            .bind(&agent_s)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }

    pub async fn agent(&self, id: Uuid) -> StoreResult<Option<Agent>> {
        live_agent(&self.read, id).await
    }

    /// The (live) agent as it is inside a write transaction.
    pub async fn agent_in(
        &self,
        tx: &mut SqliteConnection,
        id: Uuid,
    ) -> StoreResult<Option<Agent>> {
        live_agent(&mut *tx, id).await
    }

    /// Sets (or, with None, clears) the agent's own invitation text.
    pub async fn set_invitation_in(
        &self,
        tx: &mut SqliteConnection,
        id: Uuid,
        invitation: Option<&Invitation>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE agents SET invitation_subject = ?, invitation_body = ? WHERE id = ?")
            .bind(invitation.map(|i| i.subject.as_str()))
            .bind(invitation.map(|i| i.body.as_str()))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    /// Any agent by id, deleted ones included (for meeting listings).
    pub async fn agents_by_ids(&self, ids: &[Uuid]) -> StoreResult<Vec<Agent>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; ids.len()].join(",");
        let sql = format!("SELECT * FROM agents WHERE id IN ({marks})");
        let mut q = sqlx::query_as::<_, AgentRow>(&sql);
        for id in ids {
            q = q.bind(id.to_string());
        }
        let all = q.fetch_all(&self.read).await?;
        all.into_iter().map(|r| r.0).collect()
    }

    pub async fn list_agents(&self) -> StoreResult<Vec<Agent>> {
        let all = sqlx::query("SELECT * FROM agents WHERE deleted_at IS NULL ORDER BY name, id")
            .fetch_all(&self.read)
            .await?;
        all.iter().map(rows::agent).collect()
    }

    /// Slugs of the teams the agent belongs to.
    pub async fn agent_team_slugs(&self, id: Uuid) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT t.slug FROM team_members m JOIN teams t ON t.id = m.team_id WHERE m.agent_id = ? ORDER BY t.slug",
        )
        .bind(id.to_string())
        .fetch_all(&self.read)
        .await?)
    }

    /// Marks the agent deleted and takes it out of every queue; its meetings stay for reporting. False: no
    /// such live agent (and nothing changed).
    pub async fn delete_agent_in(
        &self,
        tx: &mut SqliteConnection,
        id: Uuid,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool> {
        self.hand_back_pointer_in(tx, id, None).await?;
        let done =
            sqlx::query("UPDATE agents SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL")
                .bind(to_secs(now))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        sqlx::query("DELETE FROM team_members WHERE agent_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

async fn live_agent<'e>(db: impl SqliteExecutor<'e>, id: Uuid) -> StoreResult<Option<Agent>> {
    let row = sqlx::query("SELECT * FROM agents WHERE id = ? AND deleted_at IS NULL")
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    row.as_ref().map(rows::agent).transpose()
}

struct AgentRow(super::StoreResult<Agent>);

impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for AgentRow {
    fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> Result<Self, sqlx::Error> {
        Ok(AgentRow(rows::agent(row)))
    }
}
