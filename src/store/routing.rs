//! What a team routes by before its rotation: account owners and custom rules (with each rule's own
//! round-robin pointer).

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::{Row, SqliteConnection, SqliteExecutor};
use uuid::Uuid;

use super::{rows, Store, StoreError, StoreResult};
use crate::domain::routing::{AccountOwners, Condition, RoutingTable, Rule};

/// A team's routing table and each rule's pointer (by rule name).
#[derive(Debug, Clone, Default)]
pub struct TeamRouting {
    /// Shared, so a booking takes it along without copying a large account list.
    pub table: Arc<RoutingTable>,
    pub rule_pointers: HashMap<String, Uuid>,
}

/// Rows a multi-row insert carries (3 parameters each, well under SQLite's limit).
const ROWS_PER_INSERT: usize = 300;

impl Store {
    /// The team's account owners, sorted by domain.
    pub async fn account_owners(&self, team: Uuid) -> StoreResult<Vec<(String, Uuid)>> {
        account_owners(&self.read, team).await
    }

    /// The team's rules in priority order, as committed.
    pub async fn team_rules(&self, team: Uuid) -> StoreResult<Vec<Rule>> {
        Ok(rules(&self.read, team).await?.0)
    }

    /// The team's routing table as committed.
    pub async fn team_routing(&self, team: Uuid) -> StoreResult<TeamRouting> {
        let accounts = account_owners(&self.read, team).await?;
        let (rules, rule_pointers) = rules(&self.read, team).await?;
        Ok(TeamRouting {
            table: Arc::new(RoutingTable {
                accounts: AccountOwners::new(accounts),
                rules,
            }),
            rule_pointers,
        })
    }

    /// Replaces the team's account owners (the caller checked them).
    pub async fn replace_account_owners_in(
        &self,
        tx: &mut SqliteConnection,
        team: Uuid,
        owners: &[(String, Uuid)],
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM account_owners WHERE team_id = ?")
            .bind(team.to_string())
            .execute(&mut *tx)
            .await?;
        for chunk in owners.chunks(ROWS_PER_INSERT) {
            let values = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let sql =
                format!("INSERT INTO account_owners (team_id, domain, agent_id) VALUES {values}");
            let mut q = sqlx::query(&sql);
            for (domain, agent) in chunk {
                q = q
                    .bind(team.to_string())
                    .bind(domain)
                    .bind(agent.to_string());
            }
            q.execute(&mut *tx).await?;
        }
        Ok(())
    }

    /// Replaces the team's rules (the caller checked them). A rule keeps its round-robin pointer when a rule
    /// of the same name was there before.
    pub async fn replace_rules_in(
        &self,
        tx: &mut SqliteConnection,
        team: Uuid,
        new: &[Rule],
    ) -> StoreResult<()> {
        let (_, pointers) = rules(&mut *tx, team).await?;
        sqlx::query("DELETE FROM routing_rules WHERE team_id = ?")
            .bind(team.to_string())
            .execute(&mut *tx)
            .await?;
        for (position, rule) in new.iter().enumerate() {
            let agents: Vec<String> = rule.agents.iter().map(Uuid::to_string).collect();
            sqlx::query(
                "INSERT INTO routing_rules (team_id, position, name, conditions, agents, last_agent_id) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(team.to_string())
            .bind(position as i64)
            .bind(&rule.name)
            .bind(serde_json::to_string(&rule.when).expect("conditions serialize"))
            .bind(serde_json::to_string(&agents).expect("ids serialize"))
            .bind(
                pointers
                    .get(&rule.name)
                    .filter(|p| rule.agents.contains(p))
                    .map(Uuid::to_string),
            )
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}

async fn account_owners<'e>(
    db: impl SqliteExecutor<'e>,
    team: Uuid,
) -> StoreResult<Vec<(String, Uuid)>> {
    let all = sqlx::query(
        "SELECT domain, agent_id FROM account_owners WHERE team_id = ? ORDER BY domain",
    )
    .bind(team.to_string())
    .fetch_all(db)
    .await?;
    all.iter()
        .map(|r| Ok((r.try_get("domain")?, rows::uuid(r, "agent_id")?)))
        .collect()
}

async fn rules<'e>(
    db: impl SqliteExecutor<'e>,
    team: Uuid,
) -> StoreResult<(Vec<Rule>, HashMap<String, Uuid>)> {
    let all = sqlx::query(
        "SELECT name, conditions, agents, last_agent_id FROM routing_rules WHERE team_id = ? \
         ORDER BY position",
    )
    .bind(team.to_string())
    .fetch_all(db)
    .await?;
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("routing rule: {e}"));
    let mut out = Vec::with_capacity(all.len());
    let mut pointers = HashMap::new();
    for r in &all {
        let name: String = r.try_get("name")?;
        let when: Vec<Condition> =
            serde_json::from_str(&r.try_get::<String, _>("conditions")?).map_err(corrupt)?;
        let agents: Vec<Uuid> =
            serde_json::from_str(&r.try_get::<String, _>("agents")?).map_err(corrupt)?;
        let pointer: Option<String> = r.try_get("last_agent_id")?;
        if let Some(p) = pointer.and_then(|p| Uuid::parse_str(&p).ok()) {
            pointers.insert(name.clone(), p);
        }
        out.push(Rule { name, when, agents });
    }
    Ok((out, pointers))
}
