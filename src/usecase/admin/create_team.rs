//! An admin creates a team: a free slug and its settings, the defaults where none are given.

use uuid::Uuid;

use crate::app::App;
use crate::domain::model::Team;
use crate::domain::settings::{FieldErrors, NewTeam, TeamSettingsInput};
use crate::domain::TeamSlug;
use crate::store::StoreError;

#[derive(Debug, Clone, Default)]
pub struct CreateTeamInput {
    pub slug: String,
    pub settings: TeamSettingsInput,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateTeamError {
    #[error("invalid team: {0}")]
    Invalid(FieldErrors),
    #[error("a team with slug `{0}` exists")]
    SlugTaken(TeamSlug),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates the team, with an empty queue.
pub async fn create_team(app: &App, input: CreateTeamInput) -> Result<Team, CreateTeamError> {
    let team = NewTeam::parse(&input.slug, &input.settings)
        .map_err(CreateTeamError::Invalid)?
        .into_team(Uuid::now_v7(), app.now());
    let mut tx = app.store.begin_write().await?;
    match app.store.insert_team_in(&mut tx, &team).await {
        Err(StoreError::Duplicate(_)) => return Err(CreateTeamError::SlugTaken(team.slug)),
        inserted => inserted?,
    }
    app.store.commit(tx).await?;
    Ok(team)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fields, team, test_app};
    use super::*;

    #[tokio::test]
    async fn a_team_is_created_once_per_slug() {
        let app = test_app().await;
        let sales = team(&app, "sales").await;
        let stored = app.store.team_by_slug("sales").await.unwrap().unwrap();
        assert_eq!((stored.id, stored.name), (sales.id, "SALES".to_owned()));
        let again = CreateTeamInput {
            slug: "sales".into(),
            settings: TeamSettingsInput {
                name: Some("Sales again".into()),
                ..Default::default()
            },
        };
        match create_team(&app, again).await {
            Err(CreateTeamError::SlugTaken(slug)) => assert_eq!(slug.as_str(), "sales"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            app.store.team_by_slug("sales").await.unwrap().unwrap().name,
            "SALES"
        );
    }

    #[tokio::test]
    async fn an_invalid_team_is_not_stored() {
        let app = test_app().await;
        let bad = CreateTeamInput {
            slug: "support".into(),
            settings: TeamSettingsInput {
                name: Some("Support".into()),
                horizon_days: Some(366),
                ..Default::default()
            },
        };
        match create_team(&app, bad).await {
            Err(CreateTeamError::Invalid(e)) => assert_eq!(fields(&e), ["horizon_days"]),
            other => panic!("{other:?}"),
        }
        assert!(app.store.list_teams().await.unwrap().is_empty());
    }
}
