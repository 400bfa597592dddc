//! Teams in the browser: the list with a form to create one, and a team's page to change its settings
//! (everything but the slug, which links and the chat service name it by). The settings are parsed by the
//! same rules as the admin API's (`domain::settings`) and written by its use cases (`create_team`,
//! `update_team`); a form with any problem saves nothing and shows each problem beside its field.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::session::NotSignedIn;
use super::{message, page, see_other, Console, SavedQuery};
use crate::app::App;
use crate::domain::model::Team;
use crate::domain::settings::{FieldErrors, NewTeam, TeamSettings, TeamSettingsInput};
use crate::usecase::admin::{
    create_team, update_team, CreateTeamError, CreateTeamInput, UpdateTeamError,
};

/// Problems by the form field they are shown beside (the admin API's names: `slot_step_minutes`, …).
type Errors = BTreeMap<String, Vec<String>>;

fn add(errors: &mut Errors, key: &str, message: String) {
    let message = if key == "daily_limit" {
        message.replace("or null for no limit", "or empty for no limit")
    } else {
        message
    };
    let found = errors.entry(key.to_owned()).or_default();
    if !found.contains(&message) {
        found.push(message);
    }
}

fn add_all(errors: &mut Errors, found: FieldErrors) {
    for (field, message) in found {
        add(errors, &field.to_string(), message);
    }
}

/// The team form as the admin sees it (and sent it): every value as typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TeamForm {
    #[serde(skip_serializing)]
    csrf: String,
    slug: String,
    name: String,
    meeting_minutes: String,
    mode: String,
    buffer_before: String,
    buffer_after: String,
    min_notice_minutes: String,
    horizon_days: String,
    slot_step_minutes: String,
    /// Empty: no limit.
    daily_limit: String,
}

impl TeamForm {
    fn of(t: &Team) -> Self {
        Self {
            csrf: String::new(),
            slug: t.slug.to_string(),
            name: t.name.clone(),
            meeting_minutes: t.meeting.minutes().to_string(),
            mode: t.mode.as_str().to_owned(),
            buffer_before: t.buffer_before_minutes.to_string(),
            buffer_after: t.buffer_after_minutes.to_string(),
            min_notice_minutes: t.min_notice_minutes.to_string(),
            horizon_days: t.horizon_days.to_string(),
            slot_step_minutes: t.slot_step_minutes.to_string(),
            daily_limit: t
                .daily_limit
                .map(|l| l.get().to_string())
                .unwrap_or_default(),
        }
    }

    /// The settings as the use cases take them; a number field that holds no whole number is a problem
    /// on that field (an empty one keeps the current value, a new team's default).
    fn input(&self, errors: &mut Errors) -> TeamSettingsInput {
        let mut number = |key: &str, text: &str| -> Option<i64> {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            text.parse::<i64>()
                .map_err(|_| add(errors, key, "must be a whole number".into()))
                .ok()
        };
        let meeting_minutes = number("meeting_minutes", &self.meeting_minutes);
        let buffer_before = number("buffer_before", &self.buffer_before);
        let buffer_after = number("buffer_after", &self.buffer_after);
        let min_notice_minutes = number("min_notice_minutes", &self.min_notice_minutes);
        let horizon_days = number("horizon_days", &self.horizon_days);
        let slot_step_minutes = number("slot_step_minutes", &self.slot_step_minutes);
        let daily_limit = number("daily_limit", &self.daily_limit);
        TeamSettingsInput {
            name: Some(self.name.clone()),
            meeting_minutes,
            mode: Some(self.mode.trim().to_owned()).filter(|m| !m.is_empty()),
            buffer_before,
            buffer_after,
            min_notice_minutes,
            horizon_days,
            slot_step_minutes,
            daily_limit: if self.daily_limit.trim().is_empty() {
                Some(None)
            } else {
                daily_limit.map(Some)
            },
        }
    }
}

#[derive(Debug, Serialize)]
struct Row {
    slug: String,
    name: String,
    meeting_minutes: u32,
    mode: &'static str,
    slot_step_minutes: u32,
    min_notice_minutes: u32,
    horizon_days: u32,
    buffer_before: u32,
    buffer_after: u32,
    daily_limit: Option<u32>,
    agents: usize,
}

fn trouble(c: &Console, title: &str, e: impl std::fmt::Display) -> HttpResponse {
    super::trouble(c, title, "console teams page", e)
}

/// The list, and the form for a new team (`form`, with `errors` from a refused one).
async fn list_page(
    app: &App,
    c: &Console,
    form: TeamForm,
    errors: Errors,
    status: StatusCode,
) -> HttpResponse {
    let teams = match app.store.list_teams().await {
        Ok(t) => t,
        Err(e) => return trouble(c, "Teams", e),
    };
    let mut rows = Vec::new();
    for t in &teams {
        let agents = match app.store.team_queue(t.id).await {
            Ok(q) => q.len(),
            Err(e) => return trouble(c, "Teams", e),
        };
        rows.push(Row {
            slug: t.slug.to_string(),
            name: t.name.clone(),
            meeting_minutes: t.meeting.minutes(),
            mode: t.mode.as_str(),
            slot_step_minutes: t.slot_step_minutes,
            min_notice_minutes: t.min_notice_minutes,
            horizon_days: t.horizon_days,
            buffer_before: t.buffer_before_minutes,
            buffer_after: t.buffer_after_minutes,
            daily_limit: t.daily_limit.map(|l| l.get()),
            agents,
        });
    }
    page(
        "teams.html",
        context! { console => c.view(), title => "Teams", nav => "teams", rows, form, errors },
        status,
    )
}

#[get("/admin/teams")]
pub async fn list(app: web::Data<App>, c: Console) -> HttpResponse {
    // A new team's defaults, as the API's.
    let form = TeamForm {
        meeting_minutes: "30".into(),
        mode: "pooled".into(),
        buffer_before: "0".into(),
        buffer_after: "0".into(),
        min_notice_minutes: "60".into(),
        horizon_days: "30".into(),
        slot_step_minutes: "15".into(),
        ..Default::default()
    };
    list_page(&app, &c, form, Errors::new(), StatusCode::OK).await
}

#[post("/admin/teams")]
pub async fn create(
    app: web::Data<App>,
    c: Console,
    form: web::Form<TeamForm>,
) -> Result<HttpResponse, NotSignedIn> {
    let form = form.into_inner();
    c.check_csrf(&form.csrf)?;
    let mut errors = Errors::new();
    let settings = form.input(&mut errors);
    let slug = form.slug.trim().to_owned();
    if errors.is_empty() {
        match create_team(
            &app,
            CreateTeamInput {
                slug: slug.clone(),
                settings,
            },
        )
        .await
        {
            Ok(team) => {
                return Ok(see_other(&format!(
                    "/admin/teams/{}?saved=created",
                    team.slug
                )))
            }
            Err(CreateTeamError::Invalid(e)) => add_all(&mut errors, e),
            Err(CreateTeamError::SlugTaken(slug)) => add(
                &mut errors,
                "slug",
                format!("a team with slug `{slug}` exists"),
            ),
            Err(CreateTeamError::Store(e)) => return Ok(trouble(&c, "Teams", e)),
        }
    } else if let Err(e) = NewTeam::parse(&slug, &settings) {
        // Every other problem too, so each is shown at once (nothing is saved).
        add_all(&mut errors, e);
    }
    Ok(list_page(&app, &c, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await)
}

async fn edit_page(
    app: &App,
    c: &Console,
    team: &Team,
    form: TeamForm,
    errors: Errors,
    notice: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let agents: Vec<_> = match app.store.team_queue(team.id).await {
        Ok(q) => q
            .iter()
            .map(
                |a| context! { id => a.id.to_string(), name => a.name.clone(), paused => a.paused },
            )
            .collect(),
        Err(e) => return trouble(c, "Team", e),
    };
    page(
        "teams-edit.html",
        context! {
            console => c.view(), title => team.name.clone(), nav => "teams",
            slug => team.slug.to_string(), form, errors, notice, agents,
        },
        status,
    )
}

async fn load(app: &App, c: &Console, slug: &str) -> Result<Team, HttpResponse> {
    match app.store.team_by_slug(slug).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(message(c, "Team", "No such team.", StatusCode::NOT_FOUND)),
        Err(e) => Err(trouble(c, "Team", e)),
    }
}

#[get("/admin/teams/{slug}")]
pub async fn edit(
    app: web::Data<App>,
    c: Console,
    slug: web::Path<String>,
    q: web::Query<SavedQuery>,
) -> HttpResponse {
    let team = match load(&app, &c, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let notice = match q.saved.as_str() {
        "created" => Some("Team created. Add agents to it on their pages."),
        "settings" => Some("Settings saved."),
        _ => None,
    };
    let form = TeamForm::of(&team);
    edit_page(&app, &c, &team, form, Errors::new(), notice, StatusCode::OK).await
}

#[post("/admin/teams/{slug}")]
pub async fn save(
    app: web::Data<App>,
    c: Console,
    slug: web::Path<String>,
    form: web::Form<TeamForm>,
) -> Result<HttpResponse, NotSignedIn> {
    let mut form = form.into_inner();
    c.check_csrf(&form.csrf)?;
    let team = match load(&app, &c, &slug).await {
        Ok(t) => t,
        Err(r) => return Ok(r),
    };
    // The slug is not changed here, whatever was sent.
    form.slug = team.slug.to_string();
    let mut errors = Errors::new();
    let changes = form.input(&mut errors);
    if errors.is_empty() {
        match update_team(&app, team.slug.as_str(), changes).await {
            Ok(t) => {
                return Ok(see_other(&format!(
                    "/admin/teams/{}?saved=settings",
                    t.slug
                )))
            }
            Err(UpdateTeamError::Invalid(e)) => add_all(&mut errors, e),
            Err(UpdateTeamError::NotFound) => {
                return Ok(message(&c, "Team", "No such team.", StatusCode::NOT_FOUND))
            }
            Err(UpdateTeamError::Store(e)) => return Ok(trouble(&c, "Team", e)),
        }
    } else if let Err(e) = TeamSettings::parse_changes(&team, &changes) {
        add_all(&mut errors, e);
    }
    Ok(edit_page(
        &app,
        &c,
        &team,
        form,
        errors,
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await)
}
