//! OAuth with Google and Microsoft (the `oauth2` crate): the authorization URL with `state` and PKCE (S256),
//! the code exchange, and the token vault that hands adapters a fresh access token — refreshing it before it
//! expires, storing Microsoft's rotated refresh tokens, and marking the connection `disconnected` when the
//! provider answers `invalid_grant`. Tokens are sealed at rest (src/crypto.rs) and never logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::Clock;
use crate::calendar::CalendarError;
use crate::config::{Config, ProviderConfig};
use crate::crypto::Keys;
use crate::domain::model::CalendarKind;
use crate::store::{ConnectionRow, ConnectionStatus, Store};

pub const GOOGLE_SCOPES: [&str; 4] = [
    "openid",
    "email",
    "https://www.googleapis.com/auth/calendar.events",
    "https://www.googleapis.com/auth/calendar.freebusy",
];
pub const MICROSOFT_SCOPES: [&str; 5] = [
    "offline_access",
    "openid",
    "email",
    "User.Read",
    "Calendars.ReadWrite",
];

/// An access token is refreshed when it has less than this left.
const REFRESH_MARGIN_SECONDS: i64 = 120;

/// The token endpoint's answer also carries an OpenID `id_token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

type TokenAnswer = StandardTokenResponse<IdTokenField, BasicTokenType>;
type OClient = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

struct Provider {
    client: OClient,
    scopes: &'static [&'static str],
}

/// Tokens as the provider issued them (in clear: only in memory, on their way to being sealed).
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub id_token: Option<String>,
    /// What the user granted, when the provider says (an omitted scope means "as asked", RFC 6749 §5.1).
    pub scopes: Option<Vec<String>>,
}

impl TokenSet {
    /// The calendar scopes this provider needs that the user did not grant (Google's consent screen lets
    /// the user untick them).
    pub fn missing_scopes(&self, kind: CalendarKind) -> Vec<&'static str> {
        let Some(granted) = &self.scopes else {
            return Vec::new();
        };
        let needed: &[&'static str] = match kind {
            CalendarKind::Google => &GOOGLE_SCOPES[2..],
            _ => &MICROSOFT_SCOPES[4..],
        };
        needed
            .iter()
            .filter(|n| {
                !granted.iter().any(|g| {
                    g.eq_ignore_ascii_case(n)
                        || g.to_ascii_lowercase()
                            .ends_with(&format!("/{}", n.to_ascii_lowercase()))
                })
            })
            .copied()
            .collect()
    }
}

fn header_safe(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 16 * 1024
        && token.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The provider refused the code or the grant (`invalid_grant` and friends), with its words.
    #[error("the provider refused: {0}")]
    Refused(String),
    /// The grant is gone: revoked, expired, or the user changed password.
    #[error("the grant was revoked or expired: {0}")]
    InvalidGrant(String),
    /// Network trouble or a provider fault: try again later.
    #[error("the provider could not be reached: {0}")]
    Unavailable(String),
}

pub struct OAuth {
    google: Option<Provider>,
    microsoft: Option<Provider>,
    http: reqwest::Client,
    keys: Keys,
    store: Store,
    clock: Arc<dyn Clock>,
    metrics: Arc<crate::metrics::Metrics>,
    /// One refresh per agent at a time (others wait and take its result).
    refreshing: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
}

fn provider(
    p: &ProviderConfig,
    redirect: String,
    scopes: &'static [&'static str],
) -> anyhow::Result<Provider> {
    let client = oauth2::Client::new(ClientId::new(p.client_id.clone()))
        .set_client_secret(ClientSecret::new(p.client_secret.clone()))
        .set_auth_uri(AuthUrl::new(p.auth_url.clone())?)
        .set_token_uri(TokenUrl::new(p.token_url.clone())?)
        .set_redirect_uri(RedirectUrl::new(redirect)?)
        // Both providers document the client credentials as form fields of the token request.
        .set_auth_type(AuthType::RequestBody);
    Ok(Provider { client, scopes })
}

/// The account an OpenID `id_token` names (its `email`, else `preferred_username`). The token came straight
/// from the provider's token endpoint over TLS, which OpenID Connect Core §3.1.3.7 accepts in place of
/// checking its signature.
pub fn id_token_email(id_token: &str) -> Option<String> {
    let payload = id_token.split('.').nth(1)?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    ["email", "preferred_username"]
        .iter()
        .find_map(|k| claims.get(*k)?.as_str().map(str::to_owned))
        .filter(|e| e.contains('@'))
}

fn owner(agent: Uuid, what: &str) -> String {
    format!("{agent}:{what}")
}

impl OAuth {
    pub fn new(
        config: &Config,
        store: Store,
        clock: Arc<dyn Clock>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> anyhow::Result<Self> {
        let redirect = |name: &str| format!("{}/oauth/{name}/callback", config.public_url);
        let google = config
            .google
            .as_ref()
            .map(|g| provider(g, redirect("google"), &GOOGLE_SCOPES))
            .transpose()?;
        let microsoft = config
            .microsoft
            .as_ref()
            .map(|m| provider(m, redirect("microsoft"), &MICROSOFT_SCOPES))
            .transpose()?;
        let http = reqwest::Client::builder()
            // Token endpoints must not redirect (the oauth2 crate's advice against SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()?;
        Ok(Self {
            google,
            microsoft,
            http,
            keys: Keys::new(&config.secret_key),
            store,
            clock,
            metrics,
            refreshing: Mutex::default(),
        })
    }

    fn provider(&self, kind: CalendarKind) -> Option<&Provider> {
        match kind {
            CalendarKind::Google => self.google.as_ref(),
            CalendarKind::Microsoft => self.microsoft.as_ref(),
            _ => None,
        }
    }

    /// Whether rondo is registered with this provider (its client id and secret are configured).
    pub fn configured(&self, kind: CalendarKind) -> bool {
        self.provider(kind).is_some()
    }

    /// The provider's consent page for this round trip, and the PKCE verifier to keep for the callback.
    pub fn authorize_url(&self, kind: CalendarKind, state: &str) -> Option<(String, String)> {
        let p = self.provider(kind)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.to_owned();
        let mut req = p
            .client
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(p.scopes.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge);
        req = match kind {
            CalendarKind::Google => req
                .add_extra_param("access_type", "offline")
                .add_extra_param("prompt", "consent")
                .add_extra_param("include_granted_scopes", "true"),
            _ => req.add_extra_param("response_mode", "query"),
        };
        let (url, _) = req.url();
        Some((url.to_string(), verifier.secret().to_owned()))
    }

    fn token_set(&self, answer: TokenAnswer) -> Result<TokenSet, OAuthError> {
        let lifetime = answer
            .expires_in()
            .unwrap_or(Duration::from_secs(3600))
            .min(Duration::from_secs(24 * 3600));
        let access_token = answer.access_token().secret().to_owned();
        let refresh_token = answer.refresh_token().map(|r| r.secret().to_owned());
        // Tokens go into `Authorization` headers (where the clients unwrap a bad value): refuse odd ones.
        if !header_safe(&access_token) || refresh_token.as_deref().is_some_and(|r| !header_safe(r))
        {
            return Err(OAuthError::Refused(
                "the provider issued a malformed token".into(),
            ));
        }
        Ok(TokenSet {
            access_token,
            refresh_token,
            expires_at: self.clock.now()
                + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::hours(1)),
            id_token: answer.extra_fields().id_token.clone(),
            scopes: answer
                .scopes()
                .map(|s| s.iter().map(|s| s.to_string()).collect()),
        })
    }

    /// Exchanges the callback's code (with the round trip's PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        kind: CalendarKind,
        code: &str,
        verifier: &str,
    ) -> Result<TokenSet, OAuthError> {
        let p = self
            .provider(kind)
            .ok_or_else(|| OAuthError::Refused("provider not configured".into()))?;
        let mut req = p
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
        if kind == CalendarKind::Microsoft {
            req = req.add_extra_param("scope", MICROSOFT_SCOPES.join(" "));
        }
        let answer = req.request_async(&self.http).await.map_err(token_error)?;
        self.token_set(answer)
    }

    async fn refresh(&self, kind: CalendarKind, refresh: &str) -> Result<TokenSet, OAuthError> {
        let p = self
            .provider(kind)
            .ok_or_else(|| OAuthError::Refused("provider not configured".into()))?;
        let refresh_token = RefreshToken::new(refresh.to_owned());
        let mut req = p.client.exchange_refresh_token(&refresh_token);
        if kind == CalendarKind::Microsoft {
            req = req.add_scopes(MICROSOFT_SCOPES.iter().map(|s| Scope::new((*s).to_owned())));
        }
        let answer = req.request_async(&self.http).await.map_err(token_error)?;
        self.token_set(answer)
    }

    /// Seals the tokens and stores the connection (a reconnect replaces the old one).
    pub async fn save_connection(
        &self,
        agent: Uuid,
        kind: CalendarKind,
        account_email: &str,
        tokens: &TokenSet,
    ) -> anyhow::Result<()> {
        let refresh = tokens
            .refresh_token
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("the provider issued no refresh token"))?;
        let now = self.clock.now();
        self.store
            .save_connection(&ConnectionRow {
                agent_id: agent,
                provider: kind,
                account_email: account_email.to_owned(),
                status: ConnectionStatus::Connected,
                reason: None,
                access_token: self
                    .keys
                    .seal(&owner(agent, "access"), &tokens.access_token),
                refresh_token: self.keys.seal(&owner(agent, "refresh"), refresh),
                access_expires_at: tokens.expires_at,
                connected_at: now,
                updated_at: now,
            })
            .await?;
        Ok(())
    }

    /// A usable access token and the address of the connected account (Graph's getSchedule names it),
    /// from one read of the connection.
    pub async fn access_token_and_account(
        self: &Arc<Self>,
        agent: Uuid,
    ) -> Result<(String, String), CalendarError> {
        self.token(agent, None).await
    }

    fn lock_for(&self, agent: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.refreshing.lock().expect("refresh map");
        if map.len() > 10_000 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry(agent).or_default().clone()
    }

    /// A usable access token for the agent's connected calendar. `stale` is a token the provider just
    /// refused (401): it is refreshed even if it has not expired yet.
    pub async fn access_token(
        self: &Arc<Self>,
        agent: Uuid,
        stale: Option<&str>,
    ) -> Result<String, CalendarError> {
        Ok(self.token(agent, stale).await?.0)
    }

    /// `access_token`, with the connected account's address.
    async fn token(
        self: &Arc<Self>,
        agent: Uuid,
        stale: Option<&str>,
    ) -> Result<(String, String), CalendarError> {
        let usable =
            |c: &ConnectionRow, now: DateTime<Utc>| -> Result<Option<String>, CalendarError> {
                if c.status == ConnectionStatus::Disconnected {
                    return Err(CalendarError::Disconnected(
                        c.reason.clone().unwrap_or_else(|| "disconnected".into()),
                    ));
                }
                // One that does not open (the key changed) is simply refreshed.
                let Ok(token) = self.keys.open(&owner(agent, "access"), &c.access_token) else {
                    return Ok(None);
                };
                let fresh = (c.access_expires_at - now).num_seconds() > REFRESH_MARGIN_SECONDS;
                Ok((fresh && Some(token.as_str()) != stale).then_some(token))
            };
        let load = || async {
            self.store
                .connection(agent)
                .await
                .map_err(|e| CalendarError::Transient {
                    message: e.to_string(),
                    retry_after: None,
                })?
                .ok_or_else(|| CalendarError::Disconnected("no calendar connected".into()))
        };
        let conn = load().await?;
        if let Some(t) = usable(&conn, self.clock.now())? {
            return Ok((t, conn.account_email));
        }
        let held = self.lock_for(agent).lock_owned().await;
        // Another task may have refreshed while this one waited.
        let conn = load().await?;
        let now = self.clock.now();
        if let Some(t) = usable(&conn, now)? {
            return Ok((t, conn.account_email));
        }
        let Ok(refresh) = self
            .keys
            .open(&owner(agent, "refresh"), &conn.refresh_token)
        else {
            // Sealed under another RONDO_SECRET_KEY: unusable for good, like a revoked grant.
            let reason = "the stored tokens cannot be opened with the current RONDO_SECRET_KEY; the agent must reconnect";
            tracing::warn!(%agent, "{reason}");
            let _ = self
                .store
                .disconnect(agent, conn.connected_at, reason, now)
                .await;
            return Err(CalendarError::Disconnected(reason.into()));
        };
        // The refresh, its saving and the per-agent lock run in their own task, to the end even if the caller
        // stops waiting (availability's deadline): a refresh dropped before it is saved would lose
        // Microsoft's rotated refresh token, and a dropped lock would let a second refresh race it.
        let this = self.clone();
        let account = conn.account_email.clone();
        let token = tokio::spawn(async move {
            let _held = held;
            this.refresh_and_save(agent, conn, refresh, now).await
        })
        .await
        .unwrap_or_else(|e| {
            Err(CalendarError::Transient {
                message: format!("token refresh task failed: {e}"),
                retry_after: None,
            })
        })?;
        Ok((token, account))
    }

    async fn refresh_and_save(
        &self,
        agent: Uuid,
        conn: ConnectionRow,
        refresh: String,
        now: DateTime<Utc>,
    ) -> Result<String, CalendarError> {
        let provider = conn.provider;
        let refreshed = self.refresh(provider, &refresh).await.map(|t| (t, refresh));
        let outcome = match &refreshed {
            Ok(_) => "ok",
            Err(OAuthError::InvalidGrant(_)) => "revoked",
            Err(_) => "failed",
        };
        self.metrics
            .token_refreshes
            .with_label_values(&[provider.as_str(), outcome])
            .inc();
        match refreshed {
            Ok((tokens, refresh)) => {
                // Microsoft rotates refresh tokens (store the new one); Google usually sends none (keep ours).
                let refresh = tokens.refresh_token.as_deref().unwrap_or(&refresh);
                self.store
                    .update_tokens(
                        agent,
                        conn.connected_at,
                        &self
                            .keys
                            .seal(&owner(agent, "access"), &tokens.access_token),
                        &self.keys.seal(&owner(agent, "refresh"), refresh),
                        tokens.expires_at,
                        now,
                    )
                    .await
                    .map_err(|e| CalendarError::Transient {
                        message: e.to_string(),
                        retry_after: None,
                    })?;
                tracing::info!(%agent, provider = provider.as_str(), "access token refreshed");
                Ok(tokens.access_token)
            }
            Err(OAuthError::InvalidGrant(why)) => {
                tracing::warn!(%agent, provider = provider.as_str(), reason = %why, "grant revoked: calendar disconnected");
                let reason =
                    format!("the provider refused the grant ({why}); the agent must reconnect");
                let _ = self
                    .store
                    .disconnect(agent, conn.connected_at, &reason, now)
                    .await;
                Err(CalendarError::Disconnected(reason))
            }
            // `invalid_client` and the like: rondo's registration is wrong (an expired client secret).
            // Nothing the agent did; jobs keep retrying while an operator fixes it.
            Err(OAuthError::Refused(why)) => {
                tracing::error!(%agent, provider = provider.as_str(), reason = %why, "token refresh refused: check the provider registration");
                Err(CalendarError::Transient {
                    message: format!("token refresh refused: {why}"),
                    retry_after: None,
                })
            }
            Err(OAuthError::Unavailable(why)) => Err(CalendarError::Transient {
                message: why,
                retry_after: None,
            }),
        }
    }
}

type TokenRequestError = RequestTokenError<
    oauth2::HttpClientError<reqwest::Error>,
    oauth2::StandardErrorResponse<BasicErrorResponseType>,
>;

fn token_error(e: TokenRequestError) -> OAuthError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let words = r
                .error_description()
                .map(|d| format!("{}: {d}", r.error()))
                .unwrap_or_else(|| r.error().to_string());
            // Decide on `error`, never on the description (Microsoft's AADSTS numbers change).
            match r.error() {
                // The grant itself is gone or no longer covers what rondo asks: only the agent can fix
                // it, by connecting again.
                BasicErrorResponseType::InvalidGrant | BasicErrorResponseType::InvalidScope => {
                    OAuthError::InvalidGrant(words)
                }
                BasicErrorResponseType::Extension(code)
                    if matches!(
                        code.as_str(),
                        "interaction_required" | "consent_required" | "login_required"
                    ) =>
                {
                    OAuthError::InvalidGrant(words)
                }
                BasicErrorResponseType::Extension(code)
                    if code == "temporarily_unavailable" || code == "server_error" =>
                {
                    OAuthError::Unavailable(words)
                }
                _ => OAuthError::Refused(words),
            }
        }
        RequestTokenError::Request(e) => OAuthError::Unavailable(e.to_string()),
        // A body that is not the documented JSON: a proxy's error page, a 5xx.
        RequestTokenError::Parse(_, body) => OAuthError::Unavailable(format!(
            "unexpected token endpoint answer ({} bytes)",
            body.len()
        )),
        RequestTokenError::Other(e) => OAuthError::Unavailable(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_token_email_reads_the_claim() {
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let t = format!(
            "{}.{}.sig",
            enc(r#"{"alg":"RS256"}"#),
            enc(r#"{"email":"ann@example.com","sub":"1"}"#)
        );
        assert_eq!(id_token_email(&t).as_deref(), Some("ann@example.com"));
        let t = format!(
            "{}.{}.sig",
            enc("{}"),
            enc(r#"{"preferred_username":"bo@contoso.com"}"#)
        );
        assert_eq!(id_token_email(&t).as_deref(), Some("bo@contoso.com"));
        assert_eq!(id_token_email("not-a-jwt"), None);
    }
}
