//! An admin changes some of a team's settings; the rest keep their values, and the result is checked as a
//! whole (a new meeting length against the current step, say), against the team as it is when written.

use crate::app::App;
use crate::domain::model::Team;
use crate::domain::settings::{FieldErrors, TeamSettings, TeamSettingsInput};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum UpdateTeamError {
    #[error("no such team")]
    NotFound,
    #[error("invalid team settings: {0}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The team after the change.
pub async fn update_team(
    app: &App,
    slug: &str,
    changes: TeamSettingsInput,
) -> Result<Team, UpdateTeamError> {
    let mut tx = app.store.begin_write().await?;
    let mut team = app
        .store
        .team_by_slug_in(&mut tx, slug)
        .await?
        .ok_or(UpdateTeamError::NotFound)?;
    TeamSettings::parse_changes(&team, &changes)
        .map_err(UpdateTeamError::Invalid)?
        .apply_to(&mut team);
    app.store.update_team_in(&mut tx, &team).await?;
    app.store.commit(tx).await?;
    Ok(team)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{fields, team, test_app};
    use super::*;

    #[tokio::test]
    async fn a_change_is_checked_against_the_stored_settings() {
        let app = test_app().await;
        team(&app, "sales").await;
        let t = update_team(
            &app,
            "sales",
            TeamSettingsInput {
                meeting_minutes: Some(45),
                buffer_after: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!((t.meeting.minutes(), t.buffer_after_minutes), (45, 10));
        // 50 minutes is not a whole number of the stored 15-minute steps: refused, nothing written.
        let fifty = TeamSettingsInput {
            meeting_minutes: Some(50),
            buffer_after: Some(0),
            ..Default::default()
        };
        match update_team(&app, "sales", fifty).await {
            Err(UpdateTeamError::Invalid(e)) => assert_eq!(fields(&e), ["meeting_minutes"]),
            other => panic!("{other:?}"),
        }
        let stored = app.store.team_by_slug("sales").await.unwrap().unwrap();
        assert_eq!(
            (stored.meeting.minutes(), stored.buffer_after_minutes),
            (45, 10)
        );
        assert!(matches!(
            update_team(&app, "nope", TeamSettingsInput::default()).await,
            Err(UpdateTeamError::NotFound)
        ));
    }
}
