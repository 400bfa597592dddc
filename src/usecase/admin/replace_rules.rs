//! An admin replaces a team's custom routing rules: ordered, each with conditions on the booking's
//! attributes (all must hold) and the agents it routes to (round robin among them, with the rule's own
//! pointer, which a rule keeps across replacements by its name). Checked against the team's members in the
//! transaction that writes them; one problem and nothing is written.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::team_and_members_in;
use crate::app::App;
use crate::domain::routing::{Condition, Rule, MAX_NAME};
use crate::domain::settings::{Field, FieldErrors};
use crate::store::StoreError;

/// Most rules a team may have, and conditions a rule may have.
pub const MAX_RULES: usize = 100;
pub const MAX_CONDITIONS: usize = 20;

/// A condition as sent: `{"attribute":"state","op":"in","value":["CA","OR"]}`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionInput {
    pub attribute: String,
    /// `equals` (a string, number or boolean `value`), `in` (an array of those) or `exists` (no `value`).
    pub op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub value: Option<serde_json::Value>,
}

/// A rule as sent (and shown).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    /// Every condition must hold.
    pub when: Vec<ConditionInput>,
    /// Agent ids of the team; the meeting goes to the first free one in the rule's rotation.
    pub agents: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplaceRulesError {
    #[error("no such team")]
    NotFound,
    #[error("invalid rules: {0}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Replaces the team's rules; the rules as written.
pub async fn replace_rules(
    app: &App,
    slug: &str,
    input: &[RuleInput],
) -> Result<Vec<Rule>, ReplaceRulesError> {
    let mut tx = app.store.begin_write().await?;
    let (team, members) = team_and_members_in(app, &mut tx, slug)
        .await?
        .ok_or(ReplaceRulesError::NotFound)?;
    let rules = parse_rules(input, &members, slug).map_err(ReplaceRulesError::Invalid)?;
    app.store.replace_rules_in(&mut tx, team.id, &rules).await?;
    app.store.commit(tx).await?;
    Ok(rules)
}

/// The team's rules as stored.
pub async fn list_rules(app: &App, slug: &str) -> Result<Vec<Rule>, ReplaceRulesError> {
    let team = app
        .store
        .team_by_slug(slug)
        .await?
        .ok_or(ReplaceRulesError::NotFound)?;
    Ok(app.store.team_rules(team.id).await?)
}

/// Checks every rule, naming each problem by its place (`rules[0].agents[1]`).
fn parse_rules(
    input: &[RuleInput],
    members: &[Uuid],
    slug: &str,
) -> Result<Vec<Rule>, FieldErrors> {
    let mut errors = FieldErrors::default();
    let at = |path: String| Field::Path(path);
    if input.len() > MAX_RULES {
        errors.add(at("rules".into()), format!("at most {MAX_RULES} rules"));
        return Err(errors);
    }
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut rules = Vec::with_capacity(input.len());
    for (i, r) in input.iter().enumerate() {
        let name = r.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            errors.add(
                at(format!("rules[{i}].name")),
                format!("must be 1 to {MAX_NAME} characters"),
            );
        } else if let Some(first) = names.insert(name.to_lowercase(), i) {
            errors.add(
                at(format!("rules[{i}].name")),
                format!("rules[{first}] has this name already"),
            );
        }
        if r.when.is_empty() {
            errors.add(
                at(format!("rules[{i}].when")),
                "needs at least one condition",
            );
        } else if r.when.len() > MAX_CONDITIONS {
            errors.add(
                at(format!("rules[{i}].when")),
                format!("at most {MAX_CONDITIONS} conditions"),
            );
        }
        let mut when = Vec::with_capacity(r.when.len());
        for (j, c) in r.when.iter().enumerate() {
            match Condition::parse(&c.attribute, &c.op, c.value.as_ref()) {
                Ok(c) => when.push(c),
                Err((part, why)) => errors.add(at(format!("rules[{i}].when[{j}].{part}")), why),
            }
        }
        if r.agents.is_empty() {
            errors.add(at(format!("rules[{i}].agents")), "needs at least one agent");
        }
        let mut agents = Vec::with_capacity(r.agents.len());
        for (k, raw) in r.agents.iter().enumerate() {
            match Uuid::parse_str(raw.trim()) {
                Ok(id) if agents.contains(&id) => {
                    errors.add(at(format!("rules[{i}].agents[{k}]")), "listed twice")
                }
                Ok(id) if members.contains(&id) => agents.push(id),
                _ => errors.add(
                    at(format!("rules[{i}].agents[{k}]")),
                    format!("no agent `{raw}` in team `{slug}`"),
                ),
            }
        }
        rules.push(Rule {
            name: name.to_owned(),
            when,
            agents,
        });
    }
    errors.or_ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(name: &str, when: serde_json::Value, agents: &[&str]) -> RuleInput {
        RuleInput {
            name: name.into(),
            when: serde_json::from_value(when).unwrap(),
            agents: agents.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn fields(e: FieldErrors) -> Vec<String> {
        e.into_iter().map(|(f, _)| f.to_string()).collect()
    }

    #[test]
    fn every_problem_is_named_by_its_place() {
        let ann = Uuid::from_u128(1);
        let members = [ann];
        let good = rule(
            "West",
            serde_json::json!([{"attribute":"state","op":"in","value":["CA","OR"]}]),
            &[&ann.to_string()],
        );
        let parsed = parse_rules(std::slice::from_ref(&good), &members, "sales").unwrap();
        assert_eq!(parsed[0].agents, [ann]);
        let bad = [
            good.clone(),
            rule(" west ", serde_json::json!([]), &[]),
            rule(
                "Big",
                serde_json::json!([
                    {"attribute":"size","op":"gt","value":5},
                    {"attribute":"","op":"exists"},
                    {"attribute":"x","op":"in","value":[]},
                    {"attribute":"x","op":"equals","value":{"a":1}},
                    {"attribute":"x","op":"exists","value":"y"}
                ]),
                &[&ann.to_string(), &ann.to_string(), "nobody"],
            ),
        ];
        assert_eq!(
            fields(parse_rules(&bad, &members, "sales").unwrap_err()),
            [
                "rules[1].name",
                "rules[1].when",
                "rules[1].agents",
                "rules[2].when[0].op",
                "rules[2].when[1].attribute",
                "rules[2].when[2].value",
                "rules[2].when[3].value",
                "rules[2].when[4].value",
                "rules[2].agents[1]",
                "rules[2].agents[2]",
            ]
        );
    }
}
