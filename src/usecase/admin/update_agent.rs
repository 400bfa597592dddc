//! An admin changes an agent: some of its settings, its teams (kept places in queues it stays in, the end
//! of new ones), or whether it is paused. Nothing of a refused change is kept.

use uuid::Uuid;

use super::{email_taken, team_ids_in};
use crate::app::App;
use crate::domain::model::Agent;
use crate::domain::settings::{
    changed_daily_limit, AgentSettings, AgentSettingsInput, FieldErrors,
};
use crate::store::StoreError;

#[derive(Debug, Clone, Default)]
pub struct UpdateAgentInput {
    pub settings: AgentSettingsInput,
    /// The agent's teams by slug from now on; None: the same teams.
    pub teams: Option<Vec<String>>,
    /// A paused agent stays in its queues and is skipped.
    pub paused: Option<bool>,
    /// Absent: unchanged; `Some(None)`: the teams' limits; `Some(Some(n))`: its own.
    pub daily_limit: Option<Option<i64>>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateAgentError {
    #[error("no such agent")]
    NotFound,
    /// Settings at fault, an unknown team, or an email another agent has.
    #[error("invalid agent settings: {0}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The agent after the change.
pub async fn update_agent(
    app: &App,
    id: Uuid,
    input: UpdateAgentInput,
) -> Result<Agent, UpdateAgentError> {
    let (settings, mut errors) = match AgentSettings::parse(&input.settings) {
        Ok(settings) => (Some(settings), FieldErrors::default()),
        Err(errors) => (None, errors),
    };
    let mut tx = app.store.begin_write().await?;
    let mut agent = app
        .store
        .agent_in(&mut tx, id)
        .await?
        .ok_or(UpdateAgentError::NotFound)?;
    let team_ids = match &input.teams {
        Some(slugs) => Some(team_ids_in(app, &mut tx, slugs, &mut errors).await?),
        None => None,
    };
    let daily_limit = changed_daily_limit(&mut errors, agent.daily_limit, input.daily_limit);
    let (settings, Some(daily_limit)) = (settings, daily_limit) else {
        return Err(UpdateAgentError::Invalid(errors));
    };
    let settings = match settings {
        Some(settings) if errors.is_empty() => settings,
        _ => return Err(UpdateAgentError::Invalid(errors)),
    };
    settings.apply_to(&mut agent);
    if let Some(paused) = input.paused {
        agent.paused = paused;
    }
    agent.daily_limit = daily_limit;
    match app
        .store
        .update_agent_in(&mut tx, &agent, team_ids.as_deref())
        .await
    {
        Err(StoreError::Duplicate(_)) => return Err(UpdateAgentError::Invalid(email_taken())),
        updated => updated?,
    }
    app.store.commit(tx).await?;
    Ok(agent)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{agent, fields, team, test_app};
    use super::*;

    #[tokio::test]
    async fn a_change_is_written_whole_or_not_at_all() {
        let app = test_app().await;
        let sales = team(&app, "sales").await;
        let support = team(&app, "support").await;
        let ann = agent(&app, "Ann", &["sales"]).await;
        agent(&app, "Bob", &["support"]).await;
        let refused = UpdateAgentInput {
            settings: AgentSettingsInput {
                name: Some("Renamed".into()),
                timezone: Some("Asia/Tokyo".into()),
                ..Default::default()
            },
            teams: Some(vec!["support".into(), "ghosts".into()]),
            paused: Some(true),
            daily_limit: Some(Some(0)),
        };
        match update_agent(&app, ann.id, refused).await {
            Err(UpdateAgentError::Invalid(e)) => assert_eq!(fields(&e), ["teams", "daily_limit"]),
            other => panic!("{other:?}"),
        }
        let taken = UpdateAgentInput {
            settings: AgentSettingsInput {
                name: Some("Renamed".into()),
                email: Some("BOB@agents.test".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        match update_agent(&app, ann.id, taken).await {
            Err(UpdateAgentError::Invalid(e)) => assert_eq!(fields(&e), ["email"]),
            other => panic!("{other:?}"),
        }
        let stored = app.store.agent(ann.id).await.unwrap().unwrap();
        assert_eq!(
            (stored.name.as_str(), stored.zone.name(), stored.paused),
            ("Ann", "Europe/Amsterdam", false)
        );
        let moved = update_agent(
            &app,
            ann.id,
            UpdateAgentInput {
                settings: AgentSettingsInput {
                    timezone: Some("Asia/Tokyo".into()),
                    ..Default::default()
                },
                teams: Some(vec!["support".into()]),
                paused: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!((moved.zone.name(), moved.paused), ("Asia/Tokyo", true));
        assert_eq!(app.store.agent(ann.id).await.unwrap(), Some(moved));
        assert!(app.store.team_queue(sales.id).await.unwrap().is_empty());
        let support_queue = app.store.team_queue(support.id).await.unwrap();
        let names: Vec<_> = support_queue.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Bob", "Ann"]);
        assert!(matches!(
            update_agent(&app, Uuid::nil(), UpdateAgentInput::default()).await,
            Err(UpdateAgentError::NotFound)
        ));
    }
}
