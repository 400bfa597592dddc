//! Agents and their team memberships.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{map_unique, rows, sql, Backend, Conn, Json, On, Store, StoreResult};
use crate::domain::model::{Agent, Invitation};

impl Store {
    /// Inserts the agent and appends it to the end of each team's queue; an email in use is `Duplicate`.
    pub async fn insert_agent_in(
        &self,
        tx: &mut Conn,
        agent: &Agent,
        team_ids: &[Uuid],
    ) -> StoreResult<()> {
        sql(
            "INSERT INTO agents (id, name, email, timezone, weekly_hours, date_overrides, paused, calendar, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(agent.id)
        .bind(&agent.name)
        .bind(&agent.email)
        .bind(agent.zone.name())
        .bind(weekly_json(agent))
        .bind(overrides_json(agent))
        .bind(agent.paused)
        .bind(agent.calendar.as_str())
        .bind(agent.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_unique)?;
        self.set_memberships_in(tx, agent.id, team_ids).await
    }

    /// Writes the agent's own fields back (not its calendar: connections own that, nor its invitation
    /// text), and (when given) its team memberships. An email in use is `Duplicate`.
    pub async fn update_agent_in(
        &self,
        tx: &mut Conn,
        agent: &Agent,
        team_ids: Option<&[Uuid]>,
    ) -> StoreResult<()> {
        sql(
            "UPDATE agents SET name = ?, email = ?, timezone = ?, weekly_hours = ?, date_overrides = ?, \
             paused = ?, daily_limit = ? WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(&agent.name)
        .bind(&agent.email)
        .bind(agent.zone.name())
        .bind(weekly_json(agent))
        .bind(overrides_json(agent))
        .bind(agent.paused)
        .bind(agent.daily_limit.map(|l| l.get()))
        .bind(agent.id)
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
        tx: &mut Conn,
        agent: Uuid,
        team: Option<Uuid>,
    ) -> StoreResult<()> {
        sql(
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
        .bind(agent)
        .bind(agent)
        .bind(agent)
        .bind(agent)
        .bind(team)
        .bind(team)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// Keeps memberships in teams still listed (and their positions); joins new teams at the queue's end.
    async fn set_memberships_in(
        &self,
        tx: &mut Conn,
        agent: Uuid,
        team_ids: &[Uuid],
    ) -> StoreResult<()> {
        let current = sql("SELECT team_id FROM team_members WHERE agent_id = ?")
            .bind(agent)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.uuid("team_id"))
            .collect::<StoreResult<Vec<Uuid>>>()?;
        for &team in &current {
            if !team_ids.contains(&team) {
                self.hand_back_pointer_in(tx, agent, Some(team)).await?;
                sql("DELETE FROM team_members WHERE agent_id = ? AND team_id = ?")
                    .bind(agent)
                    .bind(team)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for &team in team_ids {
            if current.contains(&team) {
                continue;
            }
            sql(
                "INSERT INTO team_members (team_id, agent_id, position) \
                 VALUES (?1, ?2, (SELECT COALESCE(MAX(position) + 1, 0) FROM team_members WHERE team_id = ?1))",
            )
            .bind(team)
            .bind(agent)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }

    pub async fn agent(&self, id: Uuid) -> StoreResult<Option<Agent>> {
        live_agent(self.reader(), id).await
    }

    /// The (live) agent as it is inside a write transaction. On PostgreSQL the rows of its teams and then
    /// its own are locked to the end of the transaction, in the order a booking locks them (team, then
    /// agents), so an admin's change to the agent and a booking wait for each other and never deadlock.
    pub async fn agent_in(&self, tx: &mut Conn, id: Uuid) -> StoreResult<Option<Agent>> {
        lock_agent_in(tx, id).await?;
        live_agent(tx.into(), id).await
    }

    /// Sets (or, with None, clears) the agent's own invitation text.
    pub async fn set_invitation_in(
        &self,
        tx: &mut Conn,
        id: Uuid,
        invitation: Option<&Invitation>,
    ) -> StoreResult<()> {
        sql("UPDATE agents SET invitation_subject = ?, invitation_body = ? WHERE id = ?")
            .bind(invitation.map(|i| i.subject.as_str()))
            .bind(invitation.map(|i| i.body.as_str()))
            .bind(id)
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
        let all = sql(format!("SELECT * FROM agents WHERE id IN ({marks})"))
            .bind_all(ids)
            .fetch_all(self.reader())
            .await?;
        all.iter().map(rows::agent).collect()
    }

    pub async fn list_agents(&self) -> StoreResult<Vec<Agent>> {
        let all = sql("SELECT * FROM agents WHERE deleted_at IS NULL ORDER BY name, id")
            .fetch_all(self.reader())
            .await?;
        all.iter().map(rows::agent).collect()
    }

    /// Slugs of the teams the agent belongs to.
    pub async fn agent_team_slugs(&self, id: Uuid) -> StoreResult<Vec<String>> {
        let all = sql(
            "SELECT t.slug FROM team_members m JOIN teams t ON t.id = m.team_id WHERE m.agent_id = ? ORDER BY t.slug",
        )
        .bind(id)
        .fetch_all(self.reader())
        .await?;
        all.iter().map(|r| r.text("slug")).collect()
    }

    /// Marks the agent deleted and takes it out of every queue; its meetings stay for reporting. False: no
    /// such live agent (and nothing changed).
    pub async fn delete_agent_in(
        &self,
        tx: &mut Conn,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        lock_agent_in(tx, id).await?;
        self.hand_back_pointer_in(tx, id, None).await?;
        let done = sql("UPDATE agents SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sql("DELETE FROM team_members WHERE agent_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Ok(done == 1)
    }
}

/// On PostgreSQL, locks the rows of the agent's teams (by id) and then the agent's own (see `agent_in`).
async fn lock_agent_in(tx: &mut Conn, id: Uuid) -> StoreResult<()> {
    if tx.backend() != Backend::Postgres {
        return Ok(());
    }
    sql(
        "SELECT t.id FROM teams t JOIN team_members m ON m.team_id = t.id WHERE m.agent_id = ? \
         ORDER BY t.id FOR UPDATE OF t",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    sql("SELECT id FROM agents WHERE id = ? FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(())
}

async fn live_agent(on: On<'_>, id: Uuid) -> StoreResult<Option<Agent>> {
    let row = sql("SELECT * FROM agents WHERE id = ? AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(on)
        .await?;
    row.as_ref().map(rows::agent).transpose()
}

/// The agent's weekly hours as the JSON the `weekly_hours` column keeps.
fn weekly_json(agent: &Agent) -> Json {
    Json(serde_json::to_string(&agent.weekly.to_map()).expect("map serializes"))
}

/// The agent's date overrides as the JSON the `date_overrides` column keeps.
fn overrides_json(agent: &Agent) -> Json {
    Json(serde_json::to_string(&agent.overrides.to_map()).expect("map serializes"))
}
