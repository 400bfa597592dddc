//! The agent's pages, reached through the connect link an admin gave them: connect Google Calendar or
//! Outlook (the OAuth round trip), and set their time zone, weekly hours, days off and invitation text.
//! Every failure is a page that says what happened and what to do next; none of them stores anything.
//! The link is the agent's secret: every answer here carries the secret-link headers
//! (`http::secret_link_headers`, wrapped around the `/connect` and `/oauth` scopes).

use std::collections::{BTreeMap, HashMap};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use minijinja::{context, Environment};
use serde::Serialize;

use crate::app::App;
use crate::domain::model::{Agent, CalendarKind};
use crate::domain::settings::{AgentPageInput, Field};
use crate::domain::WEEKDAY_KEYS;
use crate::store::ConnectionStatus;
use crate::usecase::admin::{save_agent_settings, AgentPageSettings, SaveAgentSettingsError};
use crate::usecase::connect::{
    finish, open_link, parse_provider, provider_name, start, Callback, ConnectError,
};

const PAGE: &str = include_str!("../../templates/pages/connect.html.j2");
const STATE_COOKIE: &str = "rondo_oauth_state";

fn render(ctx: minijinja::Value, status: StatusCode) -> HttpResponse {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    let body = env
        .template_from_str(PAGE)
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "connect page did not render");
            "Something went wrong.".into()
        });
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn outcome(title: &str, problem: &str, next_step: &str, status: StatusCode) -> HttpResponse {
    render(context! { title, problem, next_step }, status)
}

/// The page for a connect step that could not go on.
fn refused(e: &ConnectError) -> HttpResponse {
    let ask_admin = "Ask your admin for a new connect link.";
    match e {
        ConnectError::BadLink => outcome(
            "Link not valid",
            "This connect link is not valid.",
            ask_admin,
            StatusCode::NOT_FOUND,
        ),
        ConnectError::ExpiredLink(at) => outcome(
            "Link expired",
            &format!("This connect link expired on {}.", at.format("%Y-%m-%d %H:%M UTC")),
            ask_admin,
            StatusCode::GONE,
        ),
        ConnectError::RetiredLink => outcome(
            "Link replaced",
            "This connect link was replaced by a newer one (or your agent account was removed).",
            "Use the newest link your admin sent you, or ask for a new one.",
            StatusCode::GONE,
        ),
        ConnectError::NotConfigured(p) => outcome(
            "Not available",
            &format!("{} is not set up on this rondo.", provider_name(*p)),
            "Choose another calendar, or ask your admin to register rondo with this provider.",
            StatusCode::NOT_FOUND,
        ),
        ConnectError::UnknownState => outcome(
            "Sign-in not recognised",
            "This sign-in answer is unknown or was already used (a reloaded page, or an altered address). Nothing was saved.",
            "Go back to your connect link and start again.",
            StatusCode::BAD_REQUEST,
        ),
        ConnectError::OtherBrowser => outcome(
            "Sign-in not recognised",
            "This sign-in was not started in this browser (or its cookie was blocked). Nothing was saved.",
            "Open your connect link in this browser and start again.",
            StatusCode::BAD_REQUEST,
        ),
        ConnectError::FlowExpired => outcome(
            "Sign-in took too long",
            "The sign-in was not finished in time. Nothing was saved.",
            "Go back to your connect link and start again.",
            StatusCode::BAD_REQUEST,
        ),
        ConnectError::Denied => outcome(
            "Not connected",
            "You declined access, so no calendar was connected. Nothing was saved.",
            "rondo needs to see when you are busy and to add booked meetings to your calendar. To take meetings, go back to your connect link, start again and allow access.",
            StatusCode::OK,
        ),
        ConnectError::Provider(why) => outcome(
            "Not connected",
            &format!("The calendar provider answered with an error: {why}. Nothing was saved."),
            "Go back to your connect link and try again; if it keeps failing, tell your admin.",
            StatusCode::BAD_GATEWAY,
        ),
    }
}

fn internal() -> HttpResponse {
    outcome(
        "Something went wrong",
        "rondo could not finish this step. Nothing was saved.",
        "Try again in a minute; if it keeps failing, tell your admin.",
        StatusCode::INTERNAL_SERVER_ERROR,
    )
}

#[derive(Serialize)]
struct Day {
    key: &'static str,
    label: &'static str,
    value: String,
    errors: Vec<String>,
}

/// "09:00-12:00, 13:00-17:00" for a day's spans.
fn spans_text(spans: &[[String; 2]]) -> String {
    spans
        .iter()
        .map(|[a, b]| format!("{a}-{b}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The form's fields as the agent sees them.
#[derive(Serialize, Default)]
pub(crate) struct Form {
    pub(crate) timezone: String,
    pub(crate) hours: BTreeMap<String, String>,
    pub(crate) days_off: String,
    pub(crate) subject: String,
    pub(crate) body: String,
}

/// The agent's settings in the page's text form (also the admin console's agent page).
pub(crate) fn form_of(agent: &Agent) -> Form {
    let weekly = agent.weekly.to_map();
    Form {
        timezone: agent.zone.name().to_owned(),
        hours: WEEKDAY_KEYS
            .iter()
            .map(|k| {
                (
                    k.to_string(),
                    weekly.get(*k).map(|s| spans_text(s)).unwrap_or_default(),
                )
            })
            .collect(),
        days_off: agent
            .overrides
            .to_map()
            .iter()
            .map(|(d, s)| {
                if s.is_empty() {
                    format!("{d}: off")
                } else {
                    format!("{d}: {}", spans_text(s))
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        subject: agent
            .invitation
            .as_ref()
            .map(|i| i.subject.clone())
            .unwrap_or_default(),
        body: agent
            .invitation
            .as_ref()
            .map(|i| i.body.clone())
            .unwrap_or_default(),
    }
}

async fn agent_page(
    app: &App,
    token: &str,
    agent: &Agent,
    form: Form,
    errors: HashMap<String, Vec<String>>,
    notice: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let connection = match app.store.connection(agent.id).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "connection not readable");
            return internal();
        }
    };
    let connection = connection.map(|c| {
        context! {
            provider => provider_name(c.provider),
            account => c.account_email,
            disconnected => c.status == ConnectionStatus::Disconnected,
            reason => c.reason,
        }
    });
    let providers: Vec<_> = [CalendarKind::Google, CalendarKind::Microsoft]
        .into_iter()
        .filter(|p| app.oauth.configured(*p))
        .map(|p| {
            context! {
                label => format!("Connect {}", provider_name(p)),
                url => format!("{}/oauth/{}/start?connect={token}", app.config.public_url, p.as_str()),
            }
        })
        .collect();
    let days: Vec<Day> = WEEKDAY_KEYS
        .iter()
        .zip(crate::mail::render::DAYS[0])
        .map(|(k, label)| Day {
            key: k,
            label,
            value: form.hours.get(*k).cloned().unwrap_or_default(),
            errors: errors
                .get(&format!("hours_{k}"))
                .cloned()
                .unwrap_or_default(),
        })
        .collect();
    render(
        context! {
            title => format!("{} — your rondo page", agent.name),
            agent => context! { name => agent.name.clone() },
            notice,
            problem => (!errors.is_empty()).then_some("Some fields need another look; nothing was saved."),
            connection,
            providers,
            base => format!("{}/connect/{token}", app.config.public_url),
            form,
            days,
            errors,
            variables => crate::mail::render::VARIABLES.to_vec(),
        },
        status,
    )
}

/// `/connect/{token}` (in the `/connect` scope).
#[get("/{token}")]
pub async fn connect_page(app: web::Data<App>, token: web::Path<String>) -> HttpResponse {
    match open_link(&app, &token).await {
        Ok(Ok((agent, _))) => {
            let form = form_of(&agent);
            agent_page(
                &app,
                &token,
                &agent,
                form,
                HashMap::new(),
                None,
                StatusCode::OK,
            )
            .await
        }
        Ok(Err(e)) => refused(&e),
        Err(_) => internal(),
    }
}

/// Where the page shows a problem, and how it reads there: hours per day (`hours_mon`), days off one
/// field naming the line or date at fault.
pub(crate) fn on_page(field: Field, message: String) -> (String, String) {
    match field {
        Field::WeeklyHours(day) => (format!("hours_{day}"), message),
        Field::DaysOffLine(n) => ("days_off".to_owned(), format!("line {n}: {message}")),
        Field::DateOverrides(date) => ("days_off".to_owned(), format!("{date}: {message}")),
        other => (other.to_string(), message),
    }
}

/// `/connect/{token}/settings` (in the `/connect` scope).
#[post("/{token}/settings")]
pub async fn save_settings(
    app: web::Data<App>,
    token: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let agent = match open_link(&app, &token).await {
        Ok(Ok((agent, _))) => agent,
        Ok(Err(e)) => return refused(&e),
        Err(_) => return internal(),
    };
    let fields: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let form = Form {
        timezone: field("timezone").trim().to_owned(),
        hours: WEEKDAY_KEYS
            .iter()
            .map(|k| (k.to_string(), field(&format!("hours_{k}"))))
            .collect(),
        days_off: field("days_off"),
        subject: field("subject"),
        body: field("body"),
    };
    // An empty subject and body: the bundled invitation.
    let given = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    let input = AgentPageSettings {
        page: AgentPageInput {
            timezone: form.timezone.clone(),
            hours: form.hours.clone(),
            days_off: form.days_off.clone(),
        },
        subject: given(&form.subject),
        body: given(&form.body),
    };
    match save_agent_settings(&app, agent.id, &input).await {
        Ok(saved) => {
            let form = form_of(&saved);
            agent_page(
                &app,
                &token,
                &saved,
                form,
                HashMap::new(),
                Some("Saved."),
                StatusCode::OK,
            )
            .await
        }
        Err(SaveAgentSettingsError::Invalid(problems)) => {
            let mut errors: HashMap<String, Vec<String>> = HashMap::new();
            for (field, message) in problems {
                let (key, message) = on_page(field, message);
                errors.entry(key).or_default().push(message);
            }
            agent_page(
                &app,
                &token,
                &agent,
                form,
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(SaveAgentSettingsError::NotFound) => refused(&ConnectError::RetiredLink),
        Err(SaveAgentSettingsError::Store(e)) => {
            tracing::error!(error = %e, "agent settings not saved");
            internal()
        }
    }
}

#[derive(serde::Deserialize)]
pub struct StartQuery {
    connect: Option<String>,
}

/// The agent's page for a connect token, built by the URL parser as one path segment: a `Location` made from
/// it is always a valid header value (a CR/LF in the caller's `?connect=` once made actix answer a bare 500)
/// and stays on that page.
fn connect_page_url(app: &App, token: &str) -> Option<String> {
    let mut url = reqwest::Url::parse(&app.config.public_url).ok()?;
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .push("connect")
        .push(token);
    Some(url.into())
}

/// `/oauth/{provider}/start` (in the `/oauth` scope).
#[get("/{provider}/start")]
pub async fn oauth_start(
    app: web::Data<App>,
    req: HttpRequest,
    provider: web::Path<String>,
    query: web::Query<StartQuery>,
) -> HttpResponse {
    // Only from rondo's own page (or typed in): another site must not send someone's browser through a
    // consent that a provider may grant silently (Microsoft skips consent already given), binding their
    // calendar to the link's agent. Fetch Metadata says where the navigation came from; browsers without
    // it send nothing and are let through. The agent's page is shown instead, naming whose link it is.
    if matches!(
        req.headers()
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok()),
        Some("cross-site" | "same-site")
    ) {
        if let Some(token) = query.connect.as_deref() {
            // Only a link rondo signed is worth a hop; anything else gets that page's answer right here.
            if app.keys.read_connect_token(token).is_none() {
                return refused(&ConnectError::BadLink);
            }
            return match connect_page_url(&app, token) {
                Some(page) => HttpResponse::SeeOther()
                    .insert_header(("location", page))
                    .finish(),
                None => internal(),
            };
        }
    }
    let Some(kind) = parse_provider(&provider) else {
        return outcome(
            "Not available",
            "rondo connects Google Calendar and Outlook only.",
            "Go back to your connect link.",
            StatusCode::NOT_FOUND,
        );
    };
    let Some(token) = query.connect.as_deref() else {
        return refused(&ConnectError::BadLink);
    };
    match start(&app, token, kind).await {
        Ok(Ok((url, state))) => HttpResponse::Found()
            .insert_header(("location", url))
            .cookie(state_cookie(&app, &state, false))
            .finish(),
        Ok(Err(e)) => refused(&e),
        Err(e) => {
            tracing::error!(error = %e, "oauth start failed");
            internal()
        }
    }
}

/// The browser keeps the round trip's `state`: the callback must come back to the same browser.
fn state_cookie(app: &App, state: &str, clear: bool) -> Cookie<'static> {
    // Under RONDO_PUBLIC_URL's own path, when rondo is served below one.
    let base_path = reqwest::Url::parse(&app.config.public_url)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let mut c = Cookie::build(STATE_COOKIE, state.to_owned())
        .path(format!("{base_path}/oauth"))
        .http_only(true)
        // Lax: the provider's redirect back is a top-level GET navigation, which carries it.
        .same_site(SameSite::Lax)
        .secure(app.config.public_url.starts_with("https://"))
        .max_age(actix_web::cookie::time::Duration::minutes(
            crate::usecase::connect::FLOW_MINUTES,
        ))
        .finish();
    if clear {
        c.make_removal();
    }
    c
}

/// `/oauth/{provider}/callback` (in the `/oauth` scope).
#[get("/{provider}/callback")]
pub async fn oauth_callback(
    app: web::Data<App>,
    req: HttpRequest,
    provider: web::Path<String>,
) -> HttpResponse {
    let Some(kind) = parse_provider(&provider) else {
        return refused(&ConnectError::UnknownState);
    };
    let cb: Callback = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let cookie = req.cookie(STATE_COOKIE).map(|c| c.value().to_owned());
    let finished = finish(&app, kind, &cb, cookie.as_deref()).await;
    let outcome = match &finished {
        Ok(Ok(_)) => "connected",
        _ => "refused",
    };
    app.metrics
        .connects
        .with_label_values(&[kind.as_str(), outcome])
        .inc();
    let mut page = match finished {
        Ok(Ok(done)) => render(
            context! {
                title => "Calendar connected",
                notice => format!(
                    "{} ({}) is connected. You are now in the queue: visitors can book you at your free times.",
                    provider_name(done.provider),
                    done.account
                ),
                next_step => "Your hours, days off and invitation text are on the page your connect link opens.",
            },
            StatusCode::OK,
        ),
        Ok(Err(e)) => refused(&e),
        Err(e) => {
            tracing::error!(error = %e, "oauth callback failed");
            internal()
        }
    };
    // The round trip this browser started is over (used up, one way or the other): forget its state. A
    // callback for another state leaves it alone, so a forged link cannot break a sign-in in progress.
    if cookie.is_some() && cookie == cb.state {
        let _ = page.add_removal_cookie(&state_cookie(&app, "", true));
    }
    page
}
