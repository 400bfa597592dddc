//! An admin deletes an agent: it leaves every queue (a round-robin pointer it held passes to the agent
//! before it, so the rotation goes on as if it had never been there); its meetings stay in the report.

use uuid::Uuid;

use crate::app::App;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DeleteAgentError {
    #[error("no such agent")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn delete_agent(app: &App, id: Uuid) -> Result<(), DeleteAgentError> {
    let mut tx = app.store.begin_write().await?;
    if !app.store.delete_agent_in(&mut tx, id, app.now()).await? {
        return Err(DeleteAgentError::NotFound);
    }
    app.store.commit(tx).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{agent, team, test_app};
    use super::*;

    #[tokio::test]
    async fn a_deleted_agent_leaves_its_queues_and_hands_the_turn_back() {
        let app = test_app().await;
        let sales = team(&app, "sales").await;
        let ann = agent(&app, "Ann", &["sales"]).await;
        let bob = agent(&app, "Bob", &["sales"]).await;
        agent(&app, "Cy", &["sales"]).await;
        // Bob took the last meeting: Cy is next.
        let mut tx = app.store.begin_write().await.unwrap();
        app.store
            .set_team_pointer_in(&mut tx, sales.id, bob.id)
            .await
            .unwrap();
        app.store.commit(tx).await.unwrap();
        delete_agent(&app, bob.id).await.unwrap();
        assert_eq!(app.store.agent(bob.id).await.unwrap(), None);
        let queue = app.store.team_queue(sales.id).await.unwrap();
        let names: Vec<_> = queue.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Ann", "Cy"]);
        // Cy is still next: the pointer now rests on Ann.
        let stored = app.store.team_by_slug("sales").await.unwrap().unwrap();
        assert_eq!(stored.last_agent_id, Some(ann.id));
        assert!(matches!(
            delete_agent(&app, bob.id).await,
            Err(DeleteAgentError::NotFound)
        ));
    }
}
