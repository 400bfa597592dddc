//! An admin replaces an agent's invitation text (subject and body templates), or with neither restores the
//! bundled ones. The templates are checked (`mail::render::check_invitation`) before anything is written.

use uuid::Uuid;

use crate::app::App;
use crate::domain::model::Invitation;
use crate::domain::settings::FieldErrors;
use crate::mail::render::check_invitation;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum UpdateInvitationError {
    #[error("no such agent")]
    NotFound,
    #[error("invalid invitation: {0}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The agent's own text as saved; None: the bundled templates.
pub async fn update_invitation(
    app: &App,
    agent_id: Uuid,
    subject: Option<&str>,
    body: Option<&str>,
) -> Result<Option<Invitation>, UpdateInvitationError> {
    // Rendering every kind of email is the slow part: done before the write lock is taken.
    let checked = check_invitation(&app.templates, subject, body);
    let mut tx = app.store.begin_write().await?;
    if app.store.agent_in(&mut tx, agent_id).await?.is_none() {
        return Err(UpdateInvitationError::NotFound);
    }
    let invitation = checked.map_err(UpdateInvitationError::Invalid)?;
    app.store
        .set_invitation_in(&mut tx, agent_id, invitation.as_ref())
        .await?;
    app.store.commit(tx).await?;
    Ok(invitation)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{agent, fields, test_app};
    use super::*;

    #[tokio::test]
    async fn a_text_is_saved_checked_and_restored_to_the_defaults() {
        let app = test_app().await;
        let ann = agent(&app, "Ann", &[]).await;
        let saved = update_invitation(
            &app,
            ann.id,
            Some("Hi {{ visitor_name }}"),
            Some("See you."),
        )
        .await
        .unwrap();
        let stored = app.store.agent(ann.id).await.unwrap().unwrap().invitation;
        assert_eq!(stored, saved);
        assert_eq!(stored.unwrap().subject, "Hi {{ visitor_name }}");
        match update_invitation(&app, ann.id, Some("Hi {{ nobody }}"), Some("x")).await {
            Err(UpdateInvitationError::Invalid(e)) => assert_eq!(fields(&e), ["subject"]),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            app.store.agent(ann.id).await.unwrap().unwrap().invitation,
            saved
        );
        assert_eq!(
            update_invitation(&app, ann.id, None, None).await.unwrap(),
            None
        );
        assert_eq!(
            app.store.agent(ann.id).await.unwrap().unwrap().invitation,
            None
        );
        // An unknown agent is not found, whatever the text.
        assert!(matches!(
            update_invitation(&app, Uuid::nil(), Some(""), None).await,
            Err(UpdateInvitationError::NotFound)
        ));
    }
}
