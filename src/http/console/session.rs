//! Signing in and out of the console, and the session every page and form needs.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use base64::Engine;
use chrono::Duration;
use chrono_tz::Tz;
use minijinja::context;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::{page, see_other, CsrfForm};
use crate::app::App;
use crate::domain::IanaZone;
use crate::http::auth::{hash_token, role_of_token, Role, TokenBook};
use crate::store::AdminSession;

/// The session cookie's name.
pub const COOKIE: &str = "rondo_admin";
/// How long a sign-in lasts.
const SESSION_HOURS: i64 = 12;

/// A signed-in admin: the session's CSRF token and the zone times are shown in.
#[derive(Debug, Clone)]
pub struct Console {
    id_hash: String,
    pub csrf: String,
    pub zone: Tz,
}

/// What every page's layout shows of the session.
#[derive(Debug, Serialize)]
pub struct ConsoleView {
    pub csrf: String,
    pub zone: String,
}

impl Console {
    pub fn view(&self) -> ConsoleView {
        ConsoleView {
            csrf: self.csrf.clone(),
            zone: self.zone.name().to_owned(),
        }
    }

    /// Whether a form's `csrf` field is this session's (compared in constant time).
    pub fn check_csrf(&self, sent: &str) -> Result<(), NotSignedIn> {
        if bool::from(sent.as_bytes().ct_eq(self.csrf.as_bytes())) {
            Ok(())
        } else {
            Err(NotSignedIn::BadForm)
        }
    }
}

/// Why a console request is refused: no session (→ the sign-in page), or a form without this session's
/// CSRF token (→ 403).
#[derive(Debug, thiserror::Error)]
pub enum NotSignedIn {
    #[error("sign in first")]
    NoSession(String),
    #[error("this form is out of date")]
    BadForm,
    #[error("store: {0}")]
    Store(String),
}

impl ResponseError for NotSignedIn {
    fn status_code(&self) -> StatusCode {
        match self {
            NotSignedIn::NoSession(_) => StatusCode::SEE_OTHER,
            NotSignedIn::BadForm => StatusCode::FORBIDDEN,
            NotSignedIn::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn error_response(&self) -> HttpResponse {
        match self {
            NotSignedIn::NoSession(back) => see_other(&format!(
                "/admin/sign-in?next={}",
                url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
            )),
            NotSignedIn::BadForm => page(
                "signin.html",
                context! { problem => "This form is out of date or came from another site. Reload the page and try again." },
                StatusCode::FORBIDDEN,
            ),
            NotSignedIn::Store(e) => {
                tracing::error!(error = %e, "console session lookup failed");
                page(
                    "signin.html",
                    context! { problem => "Something went wrong. Try again." },
                    StatusCode::INTERNAL_SERVER_ERROR,
                )
            }
        }
    }
}

impl FromRequest for Console {
    type Error = NotSignedIn;
    type Future = Pin<Box<dyn Future<Output = Result<Self, NotSignedIn>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let app = req.app_data::<web::Data<App>>().expect("App is registered");
            // Only a GET comes back to where it was; a refused form returns to its page's list.
            let back = if req.method() == actix_web::http::Method::GET {
                req.uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| "/admin".into())
            } else {
                "/admin".into()
            };
            let Some(cookie) = req.cookie(COOKIE) else {
                return Err(NotSignedIn::NoSession(back));
            };
            let id_hash = hash_token(cookie.value());
            let session = app
                .store
                .session(&id_hash, app.now())
                .await
                .map_err(|e| NotSignedIn::Store(e.to_string()))?
                .ok_or(NotSignedIn::NoSession(back))?;
            Ok(Console {
                id_hash,
                csrf: session.csrf,
                zone: session.zone.parse().unwrap_or(chrono_tz::UTC),
            })
        })
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Only paths inside the console are returned to after signing in (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/admin") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => "/admin/meetings".into(),
    }
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[get("/admin/sign-in")]
pub async fn sign_in_page(q: web::Query<NextQuery>) -> HttpResponse {
    page(
        "signin.html",
        context! { next => safe_next(q.next.as_deref()) },
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    token: String,
    /// The browser's zone (filled in by the page's script), for showing times.
    #[serde(default)]
    zone: String,
    #[serde(default)]
    next: Option<String>,
}

#[post("/admin/sign-in")]
pub async fn sign_in(
    app: web::Data<App>,
    book: web::Data<TokenBook>,
    form: web::Form<SignInForm>,
) -> HttpResponse {
    let next = safe_next(form.next.as_deref());
    match role_of_token(&app, &book, form.token.trim()).await {
        Ok(Some(Role::Admin)) => {}
        Ok(_) => {
            return page(
                "signin.html",
                context! { next, problem => "That is not an admin token. Use a token made with `rondo token create --role admin` (or RONDO_ADMIN_TOKEN)." },
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in token lookup failed");
            return page(
                "signin.html",
                context! { next, problem => "Something went wrong. Try again." },
                StatusCode::INTERNAL_SERVER_ERROR,
            );
        }
    }
    let now = app.now();
    let id = random_token();
    let zone = IanaZone::parse(form.zone.trim())
        .map(|z| z.name().to_owned())
        .unwrap_or_else(|_| "UTC".into());
    let session = AdminSession {
        csrf: random_token(),
        zone,
        expires_at: now + Duration::hours(SESSION_HOURS),
    };
    if let Err(e) = app
        .store
        .create_session(&hash_token(&id), &session, now)
        .await
    {
        tracing::error!(error = %e, "could not store a console session");
        return page(
            "signin.html",
            context! { next, problem => "Something went wrong. Try again." },
            StatusCode::INTERNAL_SERVER_ERROR,
        );
    }
    let cookie = Cookie::build(COOKIE, id)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.config.public_url.starts_with("https://"))
        .max_age(actix_web::cookie::time::Duration::hours(SESSION_HOURS))
        .finish();
    let mut r = see_other(&next);
    let _ = r.add_cookie(&cookie);
    r
}

#[post("/admin/sign-out")]
pub async fn sign_out(
    app: web::Data<App>,
    c: Console,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, NotSignedIn> {
    c.check_csrf(&form.csrf)?;
    app.store
        .delete_session(&c.id_hash)
        .await
        .map_err(|e| NotSignedIn::Store(e.to_string()))?;
    let mut r = see_other("/admin/sign-in");
    let mut gone = Cookie::build(COOKIE, "").path("/admin").finish();
    gone.make_removal();
    let _ = r.add_cookie(&gone);
    Ok(r)
}

#[derive(Debug, Deserialize)]
pub struct ZoneForm {
    csrf: String,
    zone: String,
    #[serde(default)]
    next: Option<String>,
}

/// Changes the zone the console shows times in.
#[post("/admin/zone")]
pub async fn set_zone(
    app: web::Data<App>,
    c: Console,
    form: web::Form<ZoneForm>,
) -> Result<HttpResponse, NotSignedIn> {
    c.check_csrf(&form.csrf)?;
    if let Ok(zone) = IanaZone::parse(form.zone.trim()) {
        app.store
            .set_session_zone(&c.id_hash, zone.name())
            .await
            .map_err(|e| NotSignedIn::Store(e.to_string()))?;
    }
    Ok(see_other(&safe_next(form.next.as_deref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_returned_to() {
        assert_eq!(
            safe_next(Some("/admin/routing?team=x")),
            "/admin/routing?team=x"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/admin\\..\\x",
            "/v1/x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/admin/meetings", "{bad}");
        }
        assert_eq!(safe_next(None), "/admin/meetings");
    }
}
