//! An admin creates an agent: its settings, the teams whose queues it joins (at the end), and the first
//! connect link, which the admin passes on so the agent can connect a calendar.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{email_taken, team_ids_in};
use crate::app::App;
use crate::config::RunMode;
use crate::domain::model::{Agent, CalendarKind};
use crate::domain::settings::{FieldErrors, NewAgent, NewAgentInput};
use crate::store::StoreError;

#[derive(Debug, Clone, Default)]
pub struct CreateAgentInput {
    pub agent: NewAgentInput,
    /// Team slugs; the agent joins the end of each team's queue.
    pub teams: Vec<String>,
    pub paused: bool,
}

/// The agent as stored, and its connect link.
#[derive(Debug, Clone)]
pub struct CreatedAgent {
    pub agent: Agent,
    pub connect_url: String,
    pub connect_url_expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateAgentError {
    /// Settings at fault, an unknown team, or an email another agent has.
    #[error("invalid agent: {0}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn create_agent(
    app: &App,
    input: CreateAgentInput,
) -> Result<CreatedAgent, CreateAgentError> {
    let (new, mut errors) = match NewAgent::parse(&input.agent) {
        Ok(new) => (Some(new), FieldErrors::default()),
        Err(errors) => (None, errors),
    };
    let mut tx = app.store.begin_write().await?;
    let team_ids = team_ids_in(app, &mut tx, &input.teams, &mut errors).await?;
    let new = match new {
        Some(new) if errors.is_empty() => new,
        _ => return Err(CreateAgentError::Invalid(errors)),
    };
    // Demo calendars only in dev mode and only while no real provider is registered: then `cargo run`
    // works with nothing else; once one is, agents must connect a real calendar.
    let calendar = match app.config.run_mode {
        RunMode::Dev if app.config.google.is_none() && app.config.microsoft.is_none() => {
            CalendarKind::Demo
        }
        _ => CalendarKind::None,
    };
    let agent = new.into_agent(Uuid::now_v7(), input.paused, calendar, app.now());
    match app.store.insert_agent_in(&mut tx, &agent, &team_ids).await {
        Err(StoreError::Duplicate(_)) => return Err(CreateAgentError::Invalid(email_taken())),
        inserted => inserted?,
    }
    app.store.commit(tx).await?;
    let (connect_url, connect_url_expires_at) =
        crate::usecase::connect::connect_url(app, agent.id, 0);
    Ok(CreatedAgent {
        agent,
        connect_url,
        connect_url_expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{agent, fields, team, test_app, weekdays};
    use super::*;
    use crate::domain::settings::SpanMap;

    #[tokio::test]
    async fn an_agent_joins_the_end_of_each_named_queue_with_a_connect_link() {
        let app = test_app().await;
        let sales = team(&app, "sales").await;
        let support = team(&app, "support").await;
        agent(&app, "Bob", &["sales"]).await;
        let created = create_agent(
            &app,
            CreateAgentInput {
                agent: NewAgentInput {
                    name: "Ann".into(),
                    email: "ann@agents.test".into(),
                    timezone: "Europe/London".into(),
                    weekly_hours: weekdays(),
                    date_overrides: SpanMap::new(),
                },
                teams: vec!["sales".into(), "support".into(), "sales".into()],
                paused: true,
            },
        )
        .await
        .unwrap();
        assert!(created
            .connect_url
            .starts_with("http://localhost:8080/connect/"));
        assert!(created.connect_url_expires_at > app.now());
        let stored = app.store.agent(created.agent.id).await.unwrap().unwrap();
        assert_eq!((stored.name.as_str(), stored.paused), ("Ann", true));
        assert_eq!(stored.calendar, CalendarKind::Demo);
        let queue = |id| {
            let app = &app;
            async move {
                let q = app.store.team_queue(id).await.unwrap();
                q.into_iter().map(|a| a.name).collect::<Vec<_>>()
            }
        };
        assert_eq!(queue(sales.id).await, ["Bob", "Ann"]);
        assert_eq!(queue(support.id).await, ["Ann"]);
    }

    #[tokio::test]
    async fn every_problem_is_named_and_nothing_is_stored() {
        let app = test_app().await;
        team(&app, "sales").await;
        let bad = CreateAgentInput {
            agent: NewAgentInput {
                name: " ".into(),
                email: "nope".into(),
                timezone: "Nowhere/Land".into(),
                ..Default::default()
            },
            teams: vec!["sales".into(), "ghosts".into()],
            paused: false,
        };
        match create_agent(&app, bad).await {
            Err(CreateAgentError::Invalid(e)) => {
                assert_eq!(fields(&e), ["name", "email", "timezone", "teams"]);
                assert_eq!(e.iter().last().unwrap().1, "no team `ghosts`");
            }
            other => panic!("{other:?}"),
        }
        agent(&app, "Ann", &["sales"]).await;
        let twin = CreateAgentInput {
            agent: NewAgentInput {
                name: "Ann 2".into(),
                email: "ANN@agents.test".into(),
                timezone: "UTC".into(),
                ..Default::default()
            },
            teams: vec!["sales".into()],
            paused: false,
        };
        match create_agent(&app, twin).await {
            Err(CreateAgentError::Invalid(e)) => {
                assert_eq!(
                    e,
                    FieldErrors::one(
                        crate::domain::settings::Field::Email,
                        "another agent has this email"
                    )
                );
            }
            other => panic!("{other:?}"),
        }
        let all = app.store.list_agents().await.unwrap();
        assert_eq!(all.into_iter().map(|a| a.name).collect::<Vec<_>>(), ["Ann"]);
    }
}
