//! The visitor's own links to a booking: `{RONDO_PUBLIC_URL}/m/{meeting}/{token}`, where the token is an
//! HMAC-SHA256 of the meeting id under `RONDO_SECRET_KEY`. Whoever holds the link (the visitor, from the
//! email) may cancel or move that one meeting; nothing else is reachable with it.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::config::Config;

fn mac(key: &[u8; 32], meeting: Uuid) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(b"rondo visitor link v1:");
    mac.update(meeting.as_bytes());
    mac
}

pub fn token(key: &[u8; 32], meeting: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(mac(key, meeting).finalize().into_bytes())
}

/// Whether `token` was made for this meeting with this key (compared in constant time).
pub fn verify(key: &[u8; 32], meeting: Uuid, token: &str) -> bool {
    match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token) {
        Ok(raw) => mac(key, meeting).verify_slice(&raw).is_ok(),
        Err(_) => false,
    }
}

pub fn manage_url(config: &Config, meeting: Uuid) -> String {
    format!(
        "{}/m/{}/{}",
        config.public_url,
        meeting,
        token(&config.secret_key, meeting)
    )
}

/// The free starts of the meeting's own agent for the next 14 days (for the visitor's reschedule page),
/// not counting the meeting's current start.
pub async fn same_agent_starts(
    app: &crate::app::App,
    m: &crate::domain::model::Meeting,
) -> crate::error::AppResult<Vec<chrono::DateTime<chrono::Utc>>> {
    use crate::domain::availability::Span;
    use crate::domain::MeetingLength;
    let Some(snapshot) = app.store.team_snapshot(&m.team_slug).await? else {
        return Ok(Vec::new());
    };
    let queue: Vec<_> = snapshot
        .queue
        .iter()
        .filter(|a| a.id == m.agent_id)
        .cloned()
        .collect();
    let only = crate::store::TeamSnapshot {
        team: snapshot.team.clone(),
        queue,
    };
    let now = app.now();
    let window = Span {
        start: now,
        end: now + chrono::Duration::days(14),
    };
    let Ok(length) = MeetingLength::parse((m.end - m.start).num_minutes()) else {
        return Ok(Vec::new());
    };
    let starts = super::availability::offered_starts(app, &only, length, window, now).await?;
    Ok(starts.into_iter().filter(|s| *s != m.start).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_meeting_and_key() {
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        let (m1, m2) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let t = token(&k1, m1);
        assert!(verify(&k1, m1, &t));
        assert!(!verify(&k1, m2, &t));
        assert!(!verify(&k2, m1, &t));
        assert!(!verify(&k1, m1, "not-a-token"));
        assert!(!verify(&k1, m1, &t[1..]));
    }
}
