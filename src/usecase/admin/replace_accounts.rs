//! An admin replaces a team's account owners (account routing: a visitor whose email or company domain is
//! listed goes to the owner first). The list comes as JSON or as CSV rows; each row names its owner by id or
//! by email, and must name one of the team's agents. Every row is checked against the team's members in the
//! transaction that writes the list; one bad row and nothing is written.

use std::collections::HashMap;

use serde::Deserialize;
use uuid::Uuid;

use crate::app::App;
use crate::domain::routing::parse_domain;
use crate::domain::settings::{Field, FieldErrors};
use crate::store::StoreError;

/// Most account owners a team may list.
pub const MAX_ACCOUNTS: usize = 20_000;

/// One account as JSON sends it: the owner by `agent_id` or by `agent_email`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    /// The company's domain (`acme.com`); its subdomains match too.
    pub domain: String,
    pub agent_id: Option<String>,
    /// The owner's email, instead of `agent_id`.
    pub agent_email: Option<String>,
}

/// One row to check, and where it came from (`accounts[3]`, `line 4`), to name in problems.
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub at: String,
    pub input: AccountInput,
}

/// An account as stored: the domain and its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountOwner {
    pub domain: String,
    pub agent_id: Uuid,
    pub agent_email: String,
    pub agent_name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplaceAccountsError {
    #[error("no such team")]
    NotFound,
    #[error("invalid accounts: {0}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Replaces the team's account owners with `rows`; the list as written, sorted by domain.
pub async fn replace_accounts(
    app: &App,
    slug: &str,
    rows: Vec<AccountRow>,
) -> Result<Vec<AccountOwner>, ReplaceAccountsError> {
    let mut tx = app.store.begin_write().await?;
    let team = app
        .store
        .team_by_slug_in(&mut tx, slug)
        .await?
        .ok_or(ReplaceAccountsError::NotFound)?;
    let members = app.store.team_queue_in(&mut tx, team.id).await?;
    let mut errors = FieldErrors::default();
    if rows.len() > MAX_ACCOUNTS {
        errors.add(
            Field::Path("accounts".into()),
            format!("at most {MAX_ACCOUNTS} accounts"),
        );
        return Err(ReplaceAccountsError::Invalid(errors));
    }
    let by_email: HashMap<String, Uuid> = members
        .iter()
        .map(|a| (a.email.to_lowercase(), a.id))
        .collect();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut owners = Vec::with_capacity(rows.len());
    for AccountRow { at, input } in rows {
        let field = |part: &str| Field::Path(format!("{at}.{part}"));
        let domain = errors.check(field("domain"), parse_domain(&input.domain));
        if let Some(d) = &domain {
            if let Some(first) = seen.insert(d.clone(), at.clone()) {
                errors.add(
                    field("domain"),
                    format!("`{d}` is listed twice (also at {first})"),
                );
            }
        }
        let agent = match (&input.agent_id, &input.agent_email) {
            (Some(id), None) => match Uuid::parse_str(id.trim()) {
                Ok(id) if members.iter().any(|a| a.id == id) => Some(id),
                _ => {
                    errors.add(
                        field("agent_id"),
                        format!("no agent `{id}` in team `{slug}`"),
                    );
                    None
                }
            },
            (None, Some(email)) => match by_email.get(&email.trim().to_lowercase()) {
                Some(id) => Some(*id),
                None => {
                    errors.add(
                        field("agent_email"),
                        format!("no agent with email `{email}` in team `{slug}`"),
                    );
                    None
                }
            },
            _ => {
                errors.add(
                    field("agent_id"),
                    "give the owner's agent_id or agent_email",
                );
                None
            }
        };
        if let (Some(domain), Some(agent)) = (domain, agent) {
            owners.push((domain, agent));
        }
    }
    if !errors.is_empty() {
        return Err(ReplaceAccountsError::Invalid(errors));
    }
    app.store
        .replace_account_owners_in(&mut tx, team.id, &owners)
        .await?;
    app.store.commit(tx).await?;
    owners.sort();
    Ok(describe(owners, &members))
}

/// The team's account owners as stored, sorted by domain.
pub async fn list_accounts(
    app: &App,
    slug: &str,
) -> Result<Vec<AccountOwner>, ReplaceAccountsError> {
    let team = app
        .store
        .team_by_slug(slug)
        .await?
        .ok_or(ReplaceAccountsError::NotFound)?;
    let owners = app.store.account_owners(team.id).await?;
    let ids: Vec<Uuid> = owners.iter().map(|(_, a)| *a).collect();
    let mut ids_once = ids.clone();
    ids_once.sort();
    ids_once.dedup();
    let agents = app.store.agents_by_ids(&ids_once).await?;
    Ok(describe(owners, &agents))
}

fn describe(
    owners: Vec<(String, Uuid)>,
    agents: &[crate::domain::model::Agent],
) -> Vec<AccountOwner> {
    let by_id: HashMap<Uuid, &crate::domain::model::Agent> =
        agents.iter().map(|a| (a.id, a)).collect();
    owners
        .into_iter()
        .map(|(domain, agent_id)| {
            let agent = by_id.get(&agent_id);
            AccountOwner {
                domain,
                agent_id,
                agent_email: agent.map(|a| a.email.clone()).unwrap_or_default(),
                agent_name: agent.map(|a| a.name.clone()).unwrap_or_default(),
            }
        })
        .collect()
}
