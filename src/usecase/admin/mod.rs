//! Settings of teams and agents, one verb a file: what admins change through the admin API (teams, their
//! queues, agents, invitation texts) and what agents change on their own page. Each use case takes the
//! caller's input as plain data, parses it with `domain::settings` (so a rule is the same on every edge),
//! and writes in one transaction: what it checks against the stored state (the team's members, the slugs
//! named, the current settings) is read inside that transaction too. Each returns what it wrote, or its own
//! error; the HTTP edge turns those into answers.

mod create_agent;
mod create_team;
mod delete_agent;
mod reorder_queue;
mod replace_accounts;
mod replace_rules;
mod save_agent_settings;
mod update_agent;
mod update_invitation;
mod update_team;

pub use create_agent::{create_agent, CreateAgentError, CreateAgentInput, CreatedAgent};
pub use create_team::{create_team, CreateTeamError, CreateTeamInput};
pub use delete_agent::{delete_agent, DeleteAgentError};
pub use reorder_queue::{reorder_queue, ReorderQueueError, ReorderedQueue};
pub use replace_accounts::{
    list_accounts, replace_accounts, AccountInput, AccountOwner, AccountRow, ReplaceAccountsError,
    MAX_ACCOUNTS,
};
pub use replace_rules::{list_rules, replace_rules, ConditionInput, ReplaceRulesError, RuleInput};
pub use save_agent_settings::{save_agent_settings, AgentPageSettings, SaveAgentSettingsError};
pub use update_agent::{update_agent, UpdateAgentError, UpdateAgentInput};
pub use update_invitation::{update_invitation, UpdateInvitationError};
pub use update_team::{update_team, UpdateTeamError};

use uuid::Uuid;

use crate::app::App;
use crate::domain::settings::{Field, FieldErrors};
use crate::store::{Conn, StoreResult};

/// The ids of the teams named by slug, each once; an unknown slug is a problem on `teams`.
async fn team_ids_in(
    app: &App,
    tx: &mut Conn,
    slugs: &[String],
    errors: &mut FieldErrors,
) -> StoreResult<Vec<Uuid>> {
    let mut ids = Vec::new();
    for slug in slugs {
        match app.store.team_by_slug_in(tx, slug).await? {
            Some(team) if !ids.contains(&team.id) => ids.push(team.id),
            Some(_) => {}
            None => errors.add(Field::Teams, format!("no team `{slug}`")),
        }
    }
    Ok(ids)
}

/// The team named by `slug` and its members' ids in queue order, as they are inside `tx`.
async fn team_and_members_in(
    app: &App,
    tx: &mut Conn,
    slug: &str,
) -> StoreResult<Option<(crate::domain::model::Team, Vec<Uuid>)>> {
    let Some(team) = app.store.team_by_slug_in(tx, slug).await? else {
        return Ok(None);
    };
    let members = app.store.team_queue_in(tx, team.id).await?;
    Ok(Some((team, members.iter().map(|a| a.id).collect())))
}

/// The problem of an email another agent has (the store's unique index says so).
fn email_taken() -> FieldErrors {
    FieldErrors::one(Field::Email, "another agent has this email")
}

#[cfg(test)]
pub(crate) mod testing {
    //! A real `App` over a fresh database for the use cases' tests (its HTTP server is never started).

    use std::sync::Arc;

    use crate::app::{App, SystemClock};
    use crate::calendar::demo::DemoCalendars;
    use crate::calendar::Calendars;
    use crate::config::Settings;
    use crate::domain::model::{Agent, Team};
    use crate::domain::settings::{NewAgentInput, SpanMap, TeamSettingsInput};

    use super::*;

    pub struct TestApp {
        pub app: App,
        _dir: tempfile::TempDir,
    }

    impl std::ops::Deref for TestApp {
        type Target = App;
        fn deref(&self) -> &App {
            &self.app
        }
    }

    pub async fn test_app() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::defaults();
        s.run_mode = "dev".into();
        s.listen = "127.0.0.1:0".into();
        s.public_url = "http://localhost:8080".into();
        s.database_url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("rondo.db").display()
        );
        s.mail_dir = dir.path().join("mail").display().to_string();
        s.http_workers = 1;
        s.google_client_id = None;
        s.google_client_secret = None;
        s.microsoft_client_id = None;
        s.microsoft_client_secret = None;
        let config = s.check().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let calendars = Calendars::new(Arc::new(DemoCalendars::new(&config.public_url)));
        let app = crate::Application::build_on(config, listener, Arc::new(SystemClock), calendars)
            .await
            .unwrap()
            .app;
        TestApp { app, _dir: dir }
    }

    pub async fn team(app: &App, slug: &str) -> Team {
        create_team(
            app,
            CreateTeamInput {
                slug: slug.into(),
                settings: TeamSettingsInput {
                    name: Some(slug.to_uppercase()),
                    ..Default::default()
                },
            },
        )
        .await
        .unwrap()
    }

    pub fn weekdays() -> SpanMap {
        ["mon", "tue", "wed", "thu", "fri"]
            .into_iter()
            .map(|d| (d.to_owned(), vec![["09:00".to_owned(), "17:00".to_owned()]]))
            .collect()
    }

    pub async fn agent(app: &App, name: &str, teams: &[&str]) -> Agent {
        create_agent(
            app,
            CreateAgentInput {
                agent: NewAgentInput {
                    name: name.into(),
                    email: format!("{}@agents.test", name.to_lowercase()),
                    timezone: "Europe/Amsterdam".into(),
                    weekly_hours: weekdays(),
                    date_overrides: SpanMap::new(),
                },
                teams: teams.iter().map(|t| t.to_string()).collect(),
                paused: false,
            },
        )
        .await
        .unwrap()
        .agent
    }

    /// The fields at fault, as the admin API names them.
    pub fn fields(errors: &FieldErrors) -> Vec<String> {
        errors.iter().map(|(f, _)| f.to_string()).collect()
    }
}
