//! What a team routes by before its rotation: account owners and custom rules (with each rule's own
//! round-robin pointer).

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use super::{sql, Conn, Json, On, Store, StoreError, StoreResult};
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
        account_owners(self.reader(), team).await
    }

    /// The team's rules in priority order, as committed.
    pub async fn team_rules(&self, team: Uuid) -> StoreResult<Vec<Rule>> {
        Ok(rules(self.reader(), team).await?.0)
    }

    /// The team's routing table as committed.
    pub async fn team_routing(&self, team: Uuid) -> StoreResult<TeamRouting> {
        let accounts = account_owners(self.reader(), team).await?;
        let (rules, rule_pointers) = rules(self.reader(), team).await?;
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
        tx: &mut Conn,
        team: Uuid,
        owners: &[(String, Uuid)],
    ) -> StoreResult<()> {
        sql("DELETE FROM account_owners WHERE team_id = ?")
            .bind(team)
            .execute(&mut *tx)
            .await?;
        for chunk in owners.chunks(ROWS_PER_INSERT) {
            let values = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let mut q = sql(format!(
                "INSERT INTO account_owners (team_id, domain, agent_id) VALUES {values}"
            ));
            for (domain, agent) in chunk {
                q = q.bind(team).bind(domain).bind(agent);
            }
            q.execute(&mut *tx).await?;
        }
        Ok(())
    }

    /// Replaces the team's rules (the caller checked them). A rule keeps its round-robin pointer when a rule
    /// of the same name was there before.
    pub async fn replace_rules_in(
        &self,
        tx: &mut Conn,
        team: Uuid,
        new: &[Rule],
    ) -> StoreResult<()> {
        let (_, pointers) = rules((&mut *tx).into(), team).await?;
        sql("DELETE FROM routing_rules WHERE team_id = ?")
            .bind(team)
            .execute(&mut *tx)
            .await?;
        for (position, rule) in new.iter().enumerate() {
            let agents: Vec<String> = rule.agents.iter().map(Uuid::to_string).collect();
            sql(
                "INSERT INTO routing_rules (team_id, position, name, conditions, agents, last_agent_id) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(team)
            .bind(position as i64)
            .bind(&rule.name)
            .bind(Json(
                serde_json::to_string(&rule.when).expect("conditions serialize"),
            ))
            .bind(Json(serde_json::to_string(&agents).expect("ids serialize")))
            .bind(
                pointers
                    .get(&rule.name)
                    .filter(|p| rule.agents.contains(p)),
            )
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}

async fn account_owners(on: On<'_>, team: Uuid) -> StoreResult<Vec<(String, Uuid)>> {
    let all = sql("SELECT domain, agent_id FROM account_owners WHERE team_id = ? ORDER BY domain")
        .bind(team)
        .fetch_all(on)
        .await?;
    all.iter()
        .map(|r| Ok((r.text("domain")?, r.uuid("agent_id")?)))
        .collect()
}

async fn rules(on: On<'_>, team: Uuid) -> StoreResult<(Vec<Rule>, HashMap<String, Uuid>)> {
    let all = sql(
        "SELECT name, conditions, agents, last_agent_id FROM routing_rules WHERE team_id = ? \
         ORDER BY position",
    )
    .bind(team)
    .fetch_all(on)
    .await?;
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("routing rule: {e}"));
    let mut out = Vec::with_capacity(all.len());
    let mut pointers = HashMap::new();
    for r in &all {
        let name = r.text("name")?;
        let when: Vec<Condition> =
            serde_json::from_str(&r.json_text("conditions")?).map_err(corrupt)?;
        let agents: Vec<Uuid> = serde_json::from_str(&r.json_text("agents")?).map_err(corrupt)?;
        let pointer = r.opt_text("last_agent_id")?;
        if let Some(p) = pointer.and_then(|p| Uuid::parse_str(&p).ok()) {
            pointers.insert(name.clone(), p);
        }
        out.push(Rule { name, when, agents });
    }
    Ok((out, pointers))
}
