//! An agent connects a calendar: the admin's signed, expiring connect link opens a page; "Connect Google
//! Calendar" / "Connect Outlook" starts an OAuth round trip whose `state` is bound to that link (and to the
//! browser, by a cookie) and whose code is PKCE-protected; the callback exchanges the code, reads the
//! account's address, and stores the connection — or, on any failure, stores nothing and says why.

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::app::App;
use crate::domain::model::{Agent, CalendarKind};
use crate::error::AppResult;
use crate::store::OAuthFlow;

/// How long a started OAuth round trip may take.
pub const FLOW_MINUTES: i64 = 15;

/// Why a connect step could not go on, in terms the page can explain.
#[derive(Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// Not a link rondo made (or altered).
    BadLink,
    /// The link's time ran out.
    ExpiredLink(DateTime<Utc>),
    /// A newer link was issued for this agent, or the agent was deleted.
    RetiredLink,
    /// rondo is not registered with this provider.
    NotConfigured(CalendarKind),
    /// The callback's `state` is unknown or was already used (a replay, or a tampered URL).
    UnknownState,
    /// The callback arrived in another browser than the one that started it.
    OtherBrowser,
    /// The round trip took longer than `FLOW_MINUTES`.
    FlowExpired,
    /// The agent declined on the provider's consent page.
    Denied,
    /// The provider answered with an error (its words).
    Provider(String),
}

pub fn provider_name(kind: CalendarKind) -> &'static str {
    match kind {
        CalendarKind::Microsoft => "Outlook",
        _ => "Google Calendar",
    }
}

pub fn parse_provider(s: &str) -> Option<CalendarKind> {
    match s {
        "google" => Some(CalendarKind::Google),
        "microsoft" => Some(CalendarKind::Microsoft),
        _ => None,
    }
}

/// The connect URL for an agent's link generation, and when it expires.
pub fn connect_url(app: &App, agent: Uuid, generation: i64) -> (String, DateTime<Utc>) {
    let expires = app.now() + Duration::days(app.config.connect_link_days as i64);
    let token = app
        .keys
        .connect_token(agent, expires.timestamp(), generation);
    (
        format!("{}/connect/{token}", app.config.public_url),
        expires,
    )
}

/// Issues a new connect link for the agent, retiring every older one. None: no such agent.
pub async fn issue_link(app: &App, agent: Uuid) -> AppResult<Option<(String, DateTime<Utc>)>> {
    Ok(app
        .store
        .next_connect_generation(agent)
        .await?
        .map(|g| connect_url(app, agent, g)))
}

/// The agent a connect link stands for, if the link is genuine, unexpired and current.
pub async fn open_link(app: &App, token: &str) -> AppResult<Result<(Agent, i64), ConnectError>> {
    let Some((agent_id, expires, generation)) = app.keys.read_connect_token(token) else {
        return Ok(Err(ConnectError::BadLink));
    };
    let expires_at = Utc
        .timestamp_opt(expires, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    if expires_at <= app.now() {
        return Ok(Err(ConnectError::ExpiredLink(expires_at)));
    }
    if app.store.connect_generation(agent_id).await? != Some(generation) {
        return Ok(Err(ConnectError::RetiredLink));
    }
    Ok(match app.store.agent(agent_id).await? {
        Some(a) => Ok((a, generation)),
        None => Err(ConnectError::RetiredLink),
    })
}

/// Starts a round trip: stores the flow and returns the provider URL to send the browser to, and the state
/// (which the browser also keeps in a cookie).
pub async fn start(
    app: &App,
    token: &str,
    provider: CalendarKind,
) -> AppResult<Result<(String, String), ConnectError>> {
    let (agent, generation) = match open_link(app, token).await? {
        Ok(a) => a,
        Err(e) => return Ok(Err(e)),
    };
    use base64::Engine;
    let state = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let Some((url, verifier)) = app.oauth.authorize_url(provider, &state) else {
        return Ok(Err(ConnectError::NotConfigured(provider)));
    };
    let now = app.now();
    app.store
        .insert_oauth_flow(&OAuthFlow {
            state: state.clone(),
            agent_id: agent.id,
            provider,
            link_generation: generation,
            pkce_verifier: app.keys.seal(&format!("pkce:{state}"), &verifier),
            created_at: now,
            expires_at: now + Duration::minutes(FLOW_MINUTES),
        })
        .await?;
    Ok(Ok((url, state)))
}

/// What the provider's redirect back carried.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// The stored outcome of a successful round trip.
#[derive(Debug)]
pub struct Connected {
    pub agent: Agent,
    pub provider: CalendarKind,
    pub account: String,
}

/// Finishes a round trip. `cookie_state` is the state the browser kept when it started.
pub async fn finish(
    app: &App,
    provider: CalendarKind,
    cb: &Callback,
    cookie_state: Option<&str>,
) -> AppResult<Result<Connected, ConnectError>> {
    let Some(state) = cb
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 200)
    else {
        return Ok(Err(ConnectError::UnknownState));
    };
    if cookie_state != Some(state) {
        // Either a forged callback (login CSRF) or another browser: nothing is used up.
        return Ok(Err(ConnectError::OtherBrowser));
    }
    let now = app.now();
    let Some(flow) = app.store.take_oauth_flow(state, now).await? else {
        return Ok(Err(ConnectError::UnknownState));
    };
    if flow.provider != provider {
        return Ok(Err(ConnectError::UnknownState));
    }
    if flow.expires_at < now {
        return Ok(Err(ConnectError::FlowExpired));
    }
    if app.store.connect_generation(flow.agent_id).await? != Some(flow.link_generation) {
        return Ok(Err(ConnectError::RetiredLink));
    }
    if let Some(error) = &cb.error {
        return Ok(Err(if error == "access_denied" {
            ConnectError::Denied
        } else {
            ConnectError::Provider(error.clone())
        }));
    }
    let Some(code) = cb.code.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(Err(ConnectError::Provider("no code in the answer".into())));
    };
    let Ok(verifier) = app.keys.open(&format!("pkce:{state}"), &flow.pkce_verifier) else {
        return Ok(Err(ConnectError::UnknownState));
    };
    let tokens = match app.oauth.exchange_code(provider, code, &verifier).await {
        Ok(t) => t,
        Err(e) => return Ok(Err(ConnectError::Provider(e.to_string()))),
    };
    let missing = tokens.missing_scopes(provider);
    if !missing.is_empty() {
        return Ok(Err(ConnectError::Provider(format!(
            "access to your calendar was not granted (missing: {}); allow all the permissions rondo asks for",
            missing.join(", ")
        ))));
    }
    if tokens.refresh_token.is_none() {
        return Ok(Err(ConnectError::Provider(
            "no refresh token was issued (offline access not granted)".into(),
        )));
    }
    let account = match provider {
        CalendarKind::Microsoft => {
            let graph = app
                .config
                .microsoft
                .as_ref()
                .ok_or(crate::error::AppError::NotFound("provider"))?;
            let cal = crate::calendar::microsoft::MicrosoftCalendar::new(
                &graph.api_url,
                app.oauth.clone(),
            )
            .map_err(crate::error::AppError::Internal)?;
            match cal.account_email(&tokens.access_token).await {
                Ok(a) => Some(a),
                Err(e) => return Ok(Err(ConnectError::Provider(e.to_string()))),
            }
        }
        _ => tokens
            .id_token
            .as_deref()
            .and_then(crate::oauth::id_token_email),
    };
    let Some(account) = account else {
        return Ok(Err(ConnectError::Provider(
            "the provider did not say which account signed in".into(),
        )));
    };
    let Some(agent) = app.store.agent(flow.agent_id).await? else {
        return Ok(Err(ConnectError::RetiredLink));
    };
    app.oauth
        .save_connection(agent.id, provider, &account, &tokens)
        .await
        .map_err(crate::error::AppError::Internal)?;
    app.freebusy.forget(agent.id);
    tracing::info!(agent = %agent.id, provider = provider.as_str(), "calendar connected");
    Ok(Ok(Connected {
        agent,
        provider,
        account,
    }))
}
