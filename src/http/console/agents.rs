//! Agents in the browser: the list, adding one (and handing over its connect link), and an agent's page —
//! its settings, a new connect link, and its invitation text with a live preview.
//!
//! The hours are typed as on the agent's own page (`09:00-12:00, 13:00-17:00` a day, days off one a line)
//! and read by that page's parser (`AgentSettings::parse_page`); what it reads is handed to the admin API's
//! use cases (`create_agent`, `update_agent`, `update_invitation`), which write a form whole or, with any
//! problem, not at all. Each problem is shown beside its field.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use minijinja::context;
use serde::Serialize;
use uuid::Uuid;

use super::session::NotSignedIn;
use super::{local_time, message, page, see_other, Console, SavedQuery};
use crate::app::App;
use crate::domain::limits::DailyLimit;
use crate::domain::model::{Agent, CalendarKind};
use crate::domain::settings::{
    AgentPageInput, AgentSettings, AgentSettingsInput, Field, FieldErrors, NewAgentInput, SpanMap,
};
use crate::domain::{IanaZone, WEEKDAY_KEYS};
use crate::error::AppError;
use crate::http::admin::agents::{agent_view_of, AgentView};
use crate::http::admin::invitation::{render_preview, view as invitation_view, PreviewInput};
use crate::http::connect::{form_of, on_page};
use crate::mail::render::VARIABLES;
use crate::usecase::admin::{
    create_agent, update_agent, update_invitation, CreateAgentError, CreateAgentInput,
    UpdateAgentError, UpdateAgentInput, UpdateInvitationError,
};

/// Problems by the form field they are shown beside (`name`, `hours_mon`, `days_off`, …).
type Errors = BTreeMap<String, Vec<String>>;

fn add(errors: &mut Errors, key: String, message: String) {
    let found = errors.entry(key).or_default();
    if !found.contains(&message) {
        found.push(message);
    }
}

/// Records each problem beside its field, named as the agent's own page names them.
fn add_all(errors: &mut Errors, found: FieldErrors) {
    for (field, message) in found {
        let (key, message) = on_page(field, message);
        let message = if key == "daily_limit" {
            message.replace("or null for no limit", "or empty for the team's limit")
        } else {
            message
        };
        add(errors, key, message);
    }
}

/// A form body as its fields, in order (a checkbox list repeats its name).
struct Fields(Vec<(String, String)>);

impl Fields {
    fn read(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }
    fn one(&self, key: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
    /// A textarea's text, its lines ending as typed (`\n`; browsers send `\r\n`).
    fn text(&self, key: &str) -> String {
        self.one(key).replace("\r\n", "\n")
    }
    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The settings form as the admin sees it (and sent it).
#[derive(Debug, Clone, Default, Serialize)]
struct AgentForm {
    name: String,
    email: String,
    timezone: String,
    /// Hours as text by day key.
    hours: BTreeMap<String, String>,
    days_off: String,
    /// Empty: each team's limit.
    daily_limit: String,
    paused: bool,
    teams: Vec<String>,
}

impl AgentForm {
    fn read(f: &Fields) -> Self {
        Self {
            name: f.one("name"),
            email: f.one("email"),
            timezone: f.one("timezone").trim().to_owned(),
            hours: WEEKDAY_KEYS
                .iter()
                .map(|k| (k.to_string(), f.one(&format!("hours_{k}"))))
                .collect(),
            days_off: f.text("days_off"),
            daily_limit: f.one("daily_limit").trim().to_owned(),
            paused: f.one("paused") == "yes",
            teams: f.all("teams"),
        }
    }

    fn of(agent: &Agent, teams: Vec<String>) -> Self {
        let page = form_of(agent);
        Self {
            name: agent.name.clone(),
            email: agent.email.clone(),
            timezone: page.timezone,
            hours: page.hours,
            days_off: page.days_off,
            daily_limit: agent
                .daily_limit
                .map(|l| l.get().to_string())
                .unwrap_or_default(),
            paused: agent.paused,
            teams,
        }
    }

    fn page_input(&self) -> AgentPageInput {
        AgentPageInput {
            timezone: self.timezone.clone(),
            hours: self.hours.clone(),
            days_off: self.days_off.clone(),
        }
    }

    /// The weekly hours and days off as the admin API takes them, read by the agent page's parser.
    fn spans(&self) -> Result<(SpanMap, SpanMap), FieldErrors> {
        let parsed = AgentSettings::parse_page(&self.page_input())?;
        let mut read = Agent {
            id: Uuid::nil(),
            name: String::new(),
            email: String::new(),
            zone: IanaZone::parse("UTC").expect("UTC is a zone"),
            weekly: Default::default(),
            overrides: Default::default(),
            paused: false,
            calendar: CalendarKind::None,
            invitation: None,
            daily_limit: None,
            created_at: DateTime::<Utc>::MIN_UTC,
        };
        parsed.apply_to(&mut read);
        Ok((read.weekly.to_map(), read.overrides.to_map()))
    }

    /// The name and email checked as the use cases check them (when the hours already failed, so every
    /// problem is shown at once).
    fn check_rest(&self, errors: &mut Errors) {
        if let Err(e) = AgentSettings::parse(&AgentSettingsInput {
            name: Some(self.name.clone()),
            email: Some(self.email.clone()),
            ..Default::default()
        }) {
            add_all(errors, e);
        }
    }
}

/// The daily-limit field: empty is the teams' limit (None); else a whole number, checked as the API does.
fn daily_limit_of(text: &str, errors: &mut Errors) -> Option<Option<i64>> {
    if text.is_empty() {
        return Some(None);
    }
    match text.parse::<i64>() {
        Ok(n) => Some(Some(n)),
        Err(_) => {
            add(
                errors,
                "daily_limit".into(),
                "must be a whole number (or empty for the team's limit)".into(),
            );
            None
        }
    }
}

/// Every IANA zone name, for the time-zone fields' suggestions.
fn zones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect()
}

/// The days of the week with their form keys and labels.
fn days(form: &AgentForm, errors: &Errors) -> Vec<minijinja::Value> {
    WEEKDAY_KEYS
        .iter()
        .zip(crate::mail::render::DAYS[0])
        .map(|(k, label)| {
            let key = format!("hours_{k}");
            context! {
                key,
                label,
                value => form.hours.get(*k).cloned().unwrap_or_default(),
                errors => errors.get(&key).cloned().unwrap_or_default(),
            }
        })
        .collect()
}

/// Every team, each with whether the form has it ticked.
async fn team_choices(app: &App, ticked: &[String]) -> Vec<minijinja::Value> {
    app.store
        .list_teams()
        .await
        .unwrap_or_default()
        .iter()
        .map(|t| {
            let slug = t.slug.to_string();
            context! { checked => ticked.contains(&slug), slug, name => t.name.clone() }
        })
        .collect()
}

/// How the agent's calendar stands, in words, and whether that is good (`ok`), needs action (`warn`), or
/// neither (``).
fn calendar_state(v: &AgentView) -> (String, &'static str) {
    let provider = |p: &str| {
        match p {
            "google" => "Google Calendar",
            "microsoft" => "Outlook",
            other => other,
        }
        .to_owned()
    };
    match &v.connection {
        Some(c) if c.status == "disconnected" => (
            format!(
                "{} disconnected{} — send a new connect link",
                provider(&c.provider),
                c.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            "warn",
        ),
        Some(c) => (
            format!("{} connected ({})", provider(&c.provider), c.account),
            "ok",
        ),
        None if v.calendar == "demo" => ("Demo calendar (dev mode)".into(), ""),
        None => ("Not connected".into(), "warn"),
    }
}

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    name: String,
    email: String,
    timezone: String,
    teams: Vec<String>,
    calendar: String,
    calendar_class: &'static str,
    paused: bool,
    daily_limit: Option<u32>,
}

fn trouble(c: &Console, title: &str, e: impl std::fmt::Display) -> HttpResponse {
    super::trouble(c, title, "console agents page", e)
}

/// The page for an agent that is not there (any more).
fn gone(c: &Console) -> HttpResponse {
    message(
        c,
        "Agent",
        "No such agent (it may have been deleted).",
        StatusCode::NOT_FOUND,
    )
}

#[get("/admin/agents")]
pub async fn list(app: web::Data<App>, c: Console) -> HttpResponse {
    let agents = match app.store.list_agents().await {
        Ok(a) => a,
        Err(e) => return trouble(&c, "Agents", e),
    };
    let mut rows = Vec::new();
    for a in &agents {
        let v = match agent_view_of(&app, a).await {
            Ok(v) => v,
            Err(e) => return trouble(&c, "Agents", e),
        };
        let (calendar, calendar_class) = calendar_state(&v);
        rows.push(Row {
            id: a.id.to_string(),
            name: v.name,
            email: v.email,
            timezone: v.timezone,
            teams: v.teams,
            calendar,
            calendar_class,
            paused: v.paused,
            daily_limit: v.daily_limit,
        });
    }
    page(
        "agents.html",
        context! { console => c.view(), title => "Agents", nav => "agents", rows },
        StatusCode::OK,
    )
}

async fn new_page(
    app: &App,
    c: &Console,
    form: AgentForm,
    errors: Errors,
    status: StatusCode,
) -> HttpResponse {
    let teams = team_choices(app, &form.teams).await;
    page(
        "agents-new.html",
        context! {
            console => c.view(), title => "Add an agent", nav => "agents",
            days => days(&form, &errors), form, errors, teams, zones => zones(),
        },
        status,
    )
}

/// The empty form: weekdays 09:00-17:00 in the admin's own zone.
#[get("/admin/agents/new")]
pub async fn new_form(app: web::Data<App>, c: Console) -> HttpResponse {
    let form = AgentForm {
        timezone: c.zone.name().to_owned(),
        hours: WEEKDAY_KEYS
            .iter()
            .map(|k| {
                let hours = if matches!(*k, "sat" | "sun") {
                    ""
                } else {
                    "09:00-17:00"
                };
                (k.to_string(), hours.to_owned())
            })
            .collect(),
        ..Default::default()
    };
    new_page(&app, &c, form, Errors::new(), StatusCode::OK).await
}

/// The page that hands over a connect link (after adding an agent, or a new link for one).
fn link_page(
    app: &App,
    c: &Console,
    agent: &Agent,
    url: &str,
    expires: DateTime<Utc>,
    created: bool,
) -> HttpResponse {
    page(
        "agents-link.html",
        context! {
            console => c.view(),
            title => if created { format!("{} was added", agent.name) } else { format!("New connect link for {}", agent.name) },
            nav => "agents",
            created,
            agent => context! { id => agent.id.to_string(), name => agent.name.clone(), email => agent.email.clone() },
            url,
            expires => local_time(expires, c.zone),
            days => app.config.connect_link_days,
        },
        StatusCode::OK,
    )
}

#[post("/admin/agents")]
pub async fn create(
    app: web::Data<App>,
    c: Console,
    body: web::Bytes,
) -> Result<HttpResponse, NotSignedIn> {
    let fields = Fields::read(&body);
    c.check_csrf(&fields.one("csrf"))?;
    let form = AgentForm::read(&fields);
    let mut errors = Errors::new();
    match form.spans() {
        Ok((weekly_hours, date_overrides)) => {
            let input = CreateAgentInput {
                agent: NewAgentInput {
                    name: form.name.clone(),
                    email: form.email.clone(),
                    timezone: form.timezone.clone(),
                    weekly_hours,
                    date_overrides,
                },
                teams: form.teams.clone(),
                paused: false,
            };
            match create_agent(&app, input).await {
                Ok(created) => {
                    return Ok(link_page(
                        &app,
                        &c,
                        &created.agent,
                        &created.connect_url,
                        created.connect_url_expires_at,
                        true,
                    ))
                }
                Err(CreateAgentError::Invalid(e)) => add_all(&mut errors, e),
                Err(CreateAgentError::Store(e)) => return Ok(trouble(&c, "Add an agent", e)),
            }
        }
        Err(e) => {
            add_all(&mut errors, e);
            form.check_rest(&mut errors);
        }
    }
    Ok(new_page(&app, &c, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await)
}

/// The invitation form and its rendered preview.
#[derive(Debug, Default, Serialize)]
struct InvitationForm {
    subject: String,
    body: String,
    errors: Errors,
    preview_subject: String,
    preview_text: String,
}

impl InvitationForm {
    /// The draft rendered with sample data (empty subject and body: the standard invitation); a problem
    /// with the draft is shown beside its field instead.
    fn preview(app: &App, subject: String, body: String) -> Self {
        let given = |t: &str| Some(t.trim().to_owned()).filter(|t| !t.is_empty());
        let input = PreviewInput {
            subject: given(&subject),
            body: given(&body),
            ..Default::default()
        };
        let mut out = Self {
            subject,
            body,
            ..Default::default()
        };
        match render_preview(app, None, input) {
            Ok(r) => {
                out.preview_subject = r.subject;
                out.preview_text = r.text;
            }
            Err(AppError::Validation(problems)) => {
                for (field, message) in problems {
                    add(&mut out.errors, field, message);
                }
            }
            Err(e) => add(&mut out.errors, "body".into(), e.to_string()),
        }
        out
    }
}

async fn load(app: &App, c: &Console, raw: &str) -> Result<Agent, HttpResponse> {
    let Ok(id) = Uuid::parse_str(raw) else {
        return Err(message(c, "Agent", "No such agent.", StatusCode::NOT_FOUND));
    };
    match app.store.agent(id).await {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(gone(c)),
        Err(e) => Err(trouble(c, "Agent", e)),
    }
}

/// A form posted on an agent's page with the agent it is for, or the page that says that agent is not there.
type Posted = Result<(Fields, Agent), HttpResponse>;

/// Reads a form posted on the page of agent `id`: refused unless it carries the session's CSRF token, then
/// its fields and the agent.
async fn posted(app: &App, c: &Console, id: &str, body: &[u8]) -> Result<Posted, NotSignedIn> {
    let fields = Fields::read(body);
    c.check_csrf(&fields.one("csrf"))?;
    Ok(load(app, c, id).await.map(|agent| (fields, agent)))
}

/// The agent's page: `form` and `errors` are the settings form's, `invitation` the invitation form's.
#[allow(clippy::too_many_arguments)]
async fn edit_page(
    app: &App,
    c: &Console,
    agent: &Agent,
    form: Option<AgentForm>,
    errors: Errors,
    invitation: Option<InvitationForm>,
    notice: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let view = match agent_view_of(app, agent).await {
        Ok(v) => v,
        Err(e) => return trouble(c, "Agent", e),
    };
    let (calendar, calendar_class) = calendar_state(&view);
    let form = form.unwrap_or_else(|| AgentForm::of(agent, view.teams.clone()));
    let invitation = invitation.unwrap_or_else(|| {
        let saved = form_of(agent);
        InvitationForm::preview(app, saved.subject, saved.body)
    });
    let standard = invitation_view(None);
    let teams = team_choices(app, &form.teams).await;
    let id = agent.id.to_string();
    page(
        "agents-edit.html",
        context! {
            console => c.view(),
            title => agent.name.clone(),
            nav => "agents",
            notice,
            problem => (!errors.is_empty() || !invitation.errors.is_empty())
                .then_some("Some fields need another look; nothing was saved."),
            agent => context! { id, name => agent.name.clone(), email => agent.email.clone(), paused => agent.paused },
            calendar, calendar_class,
            days => days(&form, &errors),
            form, errors, teams, invitation, zones => zones(),
            standard_subject => standard.subject,
            standard_body => standard.body,
            variables => VARIABLES.to_vec(),
        },
        status,
    )
}

/// The agent's page with the invitation form as sent (and its preview or its problems).
async fn invitation_page(
    app: &App,
    c: &Console,
    agent: &Agent,
    invitation: InvitationForm,
    status: StatusCode,
) -> HttpResponse {
    edit_page(
        app,
        c,
        agent,
        None,
        Errors::new(),
        Some(invitation),
        None,
        status,
    )
    .await
}

#[get("/admin/agents/{id}")]
pub async fn edit(
    app: web::Data<App>,
    c: Console,
    id: web::Path<String>,
    q: web::Query<SavedQuery>,
) -> HttpResponse {
    let agent = match load(&app, &c, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let notice = match q.saved.as_str() {
        "settings" => Some("Settings saved."),
        "invitation" => Some("Invitation saved."),
        _ => None,
    };
    edit_page(
        &app,
        &c,
        &agent,
        None,
        Errors::new(),
        None,
        notice,
        StatusCode::OK,
    )
    .await
}

#[post("/admin/agents/{id}")]
pub async fn save(
    app: web::Data<App>,
    c: Console,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, NotSignedIn> {
    let (fields, agent) = match posted(&app, &c, &id, &body).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let form = AgentForm::read(&fields);
    let mut errors = Errors::new();
    let daily_limit = daily_limit_of(&form.daily_limit, &mut errors);
    match (form.spans(), daily_limit) {
        (Ok((weekly_hours, date_overrides)), Some(daily_limit)) => {
            let input = UpdateAgentInput {
                settings: AgentSettingsInput {
                    name: Some(form.name.clone()),
                    email: Some(form.email.clone()),
                    timezone: Some(form.timezone.clone()),
                    weekly_hours: Some(weekly_hours),
                    date_overrides: Some(date_overrides),
                },
                teams: Some(form.teams.clone()),
                paused: Some(form.paused),
                daily_limit: Some(daily_limit),
            };
            match update_agent(&app, agent.id, input).await {
                Ok(saved) => {
                    return Ok(see_other(&format!(
                        "/admin/agents/{}?saved=settings",
                        saved.id
                    )))
                }
                Err(UpdateAgentError::Invalid(e)) => add_all(&mut errors, e),
                Err(UpdateAgentError::NotFound) => return Ok(gone(&c)),
                Err(UpdateAgentError::Store(e)) => return Ok(trouble(&c, "Agent", e)),
            }
        }
        (spans, daily_limit) => {
            if let Err(e) = spans {
                add_all(&mut errors, e);
            }
            form.check_rest(&mut errors);
            if let Some(Some(n)) = daily_limit {
                if let Err(e) = DailyLimit::parse(n) {
                    add_all(&mut errors, FieldErrors::one(Field::DailyLimit, e.0));
                }
            }
        }
    }
    Ok(edit_page(
        &app,
        &c,
        &agent,
        Some(form),
        errors,
        None,
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await)
}

/// A new connect link; every older one stops working.
#[post("/admin/agents/{id}/connect-link")]
pub async fn new_link(
    app: web::Data<App>,
    c: Console,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, NotSignedIn> {
    let (_, agent) = match posted(&app, &c, &id, &body).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    Ok(
        match crate::usecase::connect::issue_link(&app, agent.id).await {
            Ok(Some((url, expires))) => link_page(&app, &c, &agent, &url, expires, false),
            Ok(None) => gone(&c),
            Err(e) => trouble(&c, "Agent", e),
        },
    )
}

#[post("/admin/agents/{id}/invitation")]
pub async fn save_invitation(
    app: web::Data<App>,
    c: Console,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, NotSignedIn> {
    let (fields, agent) = match posted(&app, &c, &id, &body).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let (subject, text) = (fields.text("subject"), fields.text("body"));
    // Both empty: the standard invitation (as on the agent's own page).
    let given = |t: &str| Some(t.trim().to_owned()).filter(|t| !t.is_empty());
    let (s, b) = (given(&subject), given(&text));
    Ok(
        match update_invitation(&app, agent.id, s.as_deref(), b.as_deref()).await {
            Ok(_) => see_other(&format!("/admin/agents/{}?saved=invitation", agent.id)),
            Err(UpdateInvitationError::Invalid(e)) => {
                let mut invitation = InvitationForm::preview(&app, subject, text);
                add_all(&mut invitation.errors, e);
                invitation_page(
                    &app,
                    &c,
                    &agent,
                    invitation,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            Err(UpdateInvitationError::NotFound) => gone(&c),
            Err(UpdateInvitationError::Store(e)) => trouble(&c, "Agent", e),
        },
    )
}

/// The draft invitation rendered with sample data, saving nothing: JSON for the page's script (which asks
/// with `Accept: application/json`), else the agent's page with the preview filled in (the Preview button
/// without JavaScript).
#[post("/admin/agents/{id}/invitation/preview")]
pub async fn preview(
    app: web::Data<App>,
    c: Console,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, NotSignedIn> {
    let (fields, agent) = match posted(&app, &c, &id, &body).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let invitation = InvitationForm::preview(&app, fields.text("subject"), fields.text("body"));
    let wants_json = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return Ok(HttpResponse::Ok()
            .insert_header(("cache-control", "no-store"))
            .json(serde_json::json!({
                "subject": invitation.preview_subject,
                "text": invitation.preview_text,
                "errors": invitation.errors,
            })));
    }
    let status = if invitation.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(invitation_page(&app, &c, &agent, invitation, status).await)
}
