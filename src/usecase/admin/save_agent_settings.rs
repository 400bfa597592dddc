//! An agent saves its own page: time zone, weekly hours, days off and invitation text, written together in
//! one transaction (all of it, or with any problem none of it). The settings are read by the same parser as
//! the admin API's (`domain::settings`), from the page's text form.

use uuid::Uuid;

use crate::app::App;
use crate::domain::model::Agent;
use crate::domain::settings::{AgentPageInput, AgentSettings, FieldErrors};
use crate::mail::render::check_invitation;
use crate::store::StoreError;

/// What the page sends.
#[derive(Debug, Clone, Default)]
pub struct AgentPageSettings {
    pub page: AgentPageInput,
    /// The invitation's subject and body templates; neither: the bundled ones.
    pub subject: Option<String>,
    pub body: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SaveAgentSettingsError {
    /// The agent was deleted meanwhile.
    #[error("no such agent")]
    NotFound,
    #[error("invalid settings: {0}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The agent as saved.
pub async fn save_agent_settings(
    app: &App,
    agent_id: Uuid,
    input: &AgentPageSettings,
) -> Result<Agent, SaveAgentSettingsError> {
    let mut errors = FieldErrors::default();
    let settings = AgentSettings::parse_page(&input.page)
        .map_err(|e| errors.append(e))
        .ok();
    let invitation = check_invitation(
        &app.templates,
        input.subject.as_deref(),
        input.body.as_deref(),
    )
    .map_err(|e| errors.append(e))
    .ok();
    let (Some(settings), Some(invitation)) = (settings, invitation) else {
        return Err(SaveAgentSettingsError::Invalid(errors));
    };
    let mut tx = app.store.begin_write().await?;
    let mut agent = app
        .store
        .agent_in(&mut tx, agent_id)
        .await?
        .ok_or(SaveAgentSettingsError::NotFound)?;
    settings.apply_to(&mut agent);
    app.store.update_agent_in(&mut tx, &agent, None).await?;
    app.store
        .set_invitation_in(&mut tx, agent.id, invitation.as_ref())
        .await?;
    app.store.commit(tx).await?;
    agent.invitation = invitation;
    Ok(agent)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{agent, test_app};
    use super::*;
    use crate::domain::settings::Field;

    fn page(timezone: &str, mon: &str, days_off: &str) -> AgentPageInput {
        AgentPageInput {
            timezone: timezone.into(),
            hours: [("mon".to_owned(), mon.to_owned())].into(),
            days_off: days_off.into(),
        }
    }

    #[tokio::test]
    async fn the_page_saves_everything_or_nothing() {
        let app = test_app().await;
        let ann = agent(&app, "Ann", &[]).await;
        let before = app.store.agent(ann.id).await.unwrap();
        let refused = AgentPageSettings {
            page: page("America/New_York", "09:00-17:00", "2026-12-24 off"),
            subject: Some("Our call".into()),
            body: Some("{{ visitor_nam }}".into()),
        };
        match save_agent_settings(&app, ann.id, &refused).await {
            Err(SaveAgentSettingsError::Invalid(e)) => {
                let fields: Vec<_> = e.iter().map(|(f, _)| f.clone()).collect();
                assert_eq!(fields, [Field::DaysOffLine(1), Field::Body]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(app.store.agent(ann.id).await.unwrap(), before);
        let good = AgentPageSettings {
            page: page(
                "America/New_York",
                "09:00-12:00, 13:00-17:00",
                "2026-12-24: off",
            ),
            subject: Some("Our call".into()),
            body: Some("Hello {{ visitor_name }}".into()),
        };
        let saved = save_agent_settings(&app, ann.id, &good).await.unwrap();
        let stored = app.store.agent(ann.id).await.unwrap().unwrap();
        assert_eq!(stored, saved);
        assert_eq!(stored.zone.name(), "America/New_York");
        assert_eq!(
            stored.weekly.to_map().len(),
            1,
            "only Monday is a working day now"
        );
        assert!(!stored.overrides.is_empty());
        assert_eq!(stored.invitation.unwrap().subject, "Our call");
        assert_eq!((stored.name, stored.email), (ann.name, ann.email));
        assert!(matches!(
            save_agent_settings(&app, Uuid::nil(), &good).await,
            Err(SaveAgentSettingsError::NotFound)
        ));
    }
}
