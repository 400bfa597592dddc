//! An admin puts a team's queue in a new order. The order is checked against the members as they are in
//! the transaction that writes it, so an agent who joins or leaves meanwhile cannot be lost or left out.

use super::team_and_members_in;
use crate::app::App;
use crate::domain::model::{Agent, Team};
use crate::domain::settings::{queue_order, Field, FieldErrors};
use crate::store::StoreError;

/// The team and its queue as written.
#[derive(Debug, Clone)]
pub struct ReorderedQueue {
    pub team: Team,
    pub agents: Vec<Agent>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReorderQueueError {
    #[error("no such team")]
    NotFound,
    #[error("invalid order: {0}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reorders the queue; `order` must name each of the team's agents (by id) exactly once.
pub async fn reorder_queue(
    app: &App,
    slug: &str,
    order: &[String],
) -> Result<ReorderedQueue, ReorderQueueError> {
    let mut tx = app.store.begin_write().await?;
    let (team, members) = team_and_members_in(app, &mut tx, slug)
        .await?
        .ok_or(ReorderQueueError::NotFound)?;
    let order = queue_order(order, &members)
        .map_err(|e| ReorderQueueError::Invalid(FieldErrors::one(Field::Order, e.0)))?;
    app.store
        .set_queue_order_in(&mut tx, team.id, &order)
        .await?;
    let agents = app.store.team_queue_in(&mut tx, team.id).await?;
    app.store.commit(tx).await?;
    Ok(ReorderedQueue { team, agents })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{agent, fields, team, test_app};
    use super::*;

    fn names(agents: &[Agent]) -> Vec<&str> {
        agents.iter().map(|a| a.name.as_str()).collect()
    }

    #[tokio::test]
    async fn the_queue_takes_an_order_of_exactly_its_members() {
        let app = test_app().await;
        let sales = team(&app, "sales").await;
        team(&app, "support").await;
        let a = agent(&app, "A", &["sales"]).await;
        let b = agent(&app, "B", &["sales"]).await;
        let c = agent(&app, "C", &["sales", "support"]).await;
        let outsider = agent(&app, "D", &["support"]).await;
        let ids = |v: &[&Agent]| v.iter().map(|a| a.id.to_string()).collect::<Vec<_>>();
        let done = reorder_queue(&app, "sales", &ids(&[&c, &a, &b]))
            .await
            .unwrap();
        assert_eq!(done.team.id, sales.id);
        assert_eq!(names(&done.agents), ["C", "A", "B"]);
        let stored = app.store.team_queue(sales.id).await.unwrap();
        assert_eq!(names(&stored), ["C", "A", "B"]);
        // Another team's agent is no member here; nothing changes.
        match reorder_queue(&app, "sales", &ids(&[&a, &b, &outsider])).await {
            Err(ReorderQueueError::Invalid(e)) => {
                assert_eq!(fields(&e), ["order"]);
                assert_eq!(
                    e.iter().next().unwrap().1,
                    "must name each of the team's 3 agents exactly once"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            names(&app.store.team_queue(sales.id).await.unwrap()),
            ["C", "A", "B"]
        );
        assert!(matches!(
            reorder_queue(&app, "nope", &[]).await,
            Err(ReorderQueueError::NotFound)
        ));
    }
}
