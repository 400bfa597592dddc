//! Bearer-token authentication. A token is known when it is one of the bootstrap tokens from config or its
//! SHA-256 is in the database (`rondo token create`). Chat routes take chat tokens and are rate limited per
//! token; admin routes take admin tokens. Only hashes are compared and kept.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Chat,
}

/// Who is calling: the token's role and hash (the hash scopes idempotency keys and rate limits).
#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    pub token_hash: String,
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The config tokens' hashes, computed once.
pub struct TokenBook {
    admin: Option<String>,
    chat: Option<String>,
}

impl TokenBook {
    pub fn new(admin: Option<&str>, chat: Option<&str>) -> Self {
        Self {
            admin: admin.map(hash_token),
            chat: chat.map(hash_token),
        }
    }
}

/// A fixed-window request counter per token (a cache: losing it on restart only resets the windows).
#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl RateLimiter {
    /// Counts one request at `now_secs`; Err(seconds to wait) when over `per_minute`.
    pub fn hit(&self, key: &str, now_secs: i64, per_minute: u32) -> Result<(), u64> {
        let minute = now_secs.div_euclid(60);
        let mut w = self.windows.lock().expect("rate limiter lock");
        if w.len() > 10_000 {
            w.retain(|_, (m, _)| *m == minute);
        }
        let entry = w.entry(key.to_owned()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= per_minute {
            return Err((60 - now_secs.rem_euclid(60)) as u64);
        }
        entry.1 += 1;
        Ok(())
    }
}

async fn identify(req: &HttpRequest) -> Result<Caller, AppError> {
    let app = req.app_data::<web::Data<App>>().expect("App is registered");
    let book = req
        .app_data::<web::Data<TokenBook>>()
        .expect("TokenBook is registered");
    let token = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token)
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AppError::Unauthorized)?;
    let role = role_of_token(app, book, token)
        .await?
        .ok_or(AppError::Unauthorized)?;
    Ok(Caller {
        role,
        token_hash: hash_token(token),
    })
}

/// The role a bearer token has: a bootstrap token from the configuration, or one made with
/// `rondo token create` (stored hashed); None for any other.
pub async fn role_of_token(
    app: &App,
    book: &TokenBook,
    token: &str,
) -> Result<Option<Role>, crate::store::StoreError> {
    if token.is_empty() {
        return Ok(None);
    }
    let hash = hash_token(token);
    Ok(if book.admin.as_deref() == Some(hash.as_str()) {
        Some(Role::Admin)
    } else if book.chat.as_deref() == Some(hash.as_str()) {
        Some(Role::Chat)
    } else {
        match app.store.token_role(&hash).await?.as_deref() {
            Some("admin") => Some(Role::Admin),
            Some("chat") => Some(Role::Chat),
            _ => None,
        }
    })
}

/// An admin caller.
pub struct Admin(pub Caller);
/// A chat-service caller (rate limited).
pub struct Chat(pub Caller);
/// Either role (the activity feed).
pub struct Reader(pub Caller);

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

impl FromRequest for Admin {
    type Error = AppError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let c = identify(&req).await?;
            match c.role {
                Role::Admin => Ok(Admin(c)),
                Role::Chat => Err(AppError::Forbidden),
            }
        })
    }
}

impl FromRequest for Chat {
    type Error = AppError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let c = identify(&req).await?;
            if c.role != Role::Chat {
                return Err(AppError::Forbidden);
            }
            let app = req.app_data::<web::Data<App>>().expect("App is registered");
            let limiter = req
                .app_data::<web::Data<RateLimiter>>()
                .expect("RateLimiter is registered");
            limiter
                .hit(
                    &c.token_hash,
                    app.now().timestamp(),
                    app.config.chat_rate_per_minute,
                )
                .map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })?;
            Ok(Chat(c))
        })
    }
}

impl FromRequest for Reader {
    type Error = AppError;
    type Future = Fut<Self>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { identify(&req).await.map(Reader) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_per_minute_window() {
        let r = RateLimiter::default();
        for _ in 0..3 {
            assert!(r.hit("t", 120, 3).is_ok());
        }
        assert_eq!(r.hit("t", 130, 3), Err(50));
        assert!(r.hit("other", 130, 3).is_ok());
        assert!(r.hit("t", 180, 3).is_ok());
    }
}
