//! The visitor's own links to a booking: `{RONDO_PUBLIC_URL}/m/{meeting}/{token}`, where the token is an
//! HMAC-SHA256 of the meeting id under the visitor-link key derived from `RONDO_SECRET_KEY` (crypto.rs).
//! Whoever holds the link (the visitor, from the email) may cancel or move that one meeting; nothing else is
//! reachable with it. Links sent before the key was derived were signed with `RONDO_SECRET_KEY` itself; they
//! sit in mailboxes, so they are still accepted (and every page hands out the new form).

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::config::Config;
use crate::crypto::{visitor_link_key, Keys};

fn mac(key: &[u8; 32], meeting: Uuid) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(b"rondo visitor link v1:");
    mac.update(meeting.as_bytes());
    mac
}

/// The meeting's link token under `key` (`Keys::visitor_link`; the master key made the old ones).
pub fn token(key: &[u8; 32], meeting: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(mac(key, meeting).finalize().into_bytes())
}

/// Whether `token` was made for this meeting with this key (compared in constant time).
fn signed_with(key: &[u8; 32], meeting: Uuid, token: &str) -> bool {
    match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token) {
        Ok(raw) => mac(key, meeting).verify_slice(&raw).is_ok(),
        Err(_) => false,
    }
}

/// Whether `token` is the meeting's link token: made with the visitor-link key, or with the master key
/// (`RONDO_SECRET_KEY`, links sent before the derived key). Both are checked, each in constant time.
pub fn verify(keys: &Keys, master: &[u8; 32], meeting: Uuid, token: &str) -> bool {
    let current = signed_with(keys.visitor_link(), meeting, token);
    let legacy = signed_with(master, meeting, token);
    current | legacy
}

/// The meeting's page for its visitor (`…/cancel` and `…/reschedule` below it), signed with the
/// visitor-link key (derived here from the configured master key).
pub fn manage_url(config: &Config, meeting: Uuid) -> String {
    format!(
        "{}/m/{}/{}",
        config.public_url,
        meeting,
        token(&visitor_link_key(&config.secret_key), meeting)
    )
}

/// The starts the visitor's reschedule page offers for the next 14 days: those a move could take — the
/// meeting's own agent's free times and, as a move is routed like the booking was, those of whoever
/// routing would ask for this visitor — not counting the meeting's current start.
pub async fn reschedule_starts(
    app: &crate::app::App,
    m: &crate::domain::model::Meeting,
) -> crate::error::AppResult<Vec<chrono::DateTime<chrono::Utc>>> {
    use crate::domain::availability::Span;
    use crate::domain::MeetingLength;
    let Some(snapshot) = app.store.team_snapshot(&m.team_slug).await? else {
        return Ok(Vec::new());
    };
    let now = app.now();
    let window = Span {
        start: now,
        end: now + chrono::Duration::days(14),
    };
    let Ok(length) = MeetingLength::parse((m.end - m.start).num_minutes()) else {
        return Ok(Vec::new());
    };
    let visitor = super::booking::visitor_of(m);
    let starts =
        super::availability::offered_starts(app, &snapshot, length, window, now, &visitor).await?;
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
        assert!(signed_with(&k1, m1, &t));
        assert!(!signed_with(&k1, m2, &t));
        assert!(!signed_with(&k2, m1, &t));
        assert!(!signed_with(&k1, m1, "not-a-token"));
        assert!(!signed_with(&k1, m1, &t[1..]));
    }

    #[test]
    fn new_links_use_the_derived_key_and_old_master_key_links_still_open() {
        let master = [1u8; 32];
        let keys = Keys::new(&master);
        let (m1, m2) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let new = token(keys.visitor_link(), m1);
        let old = token(&master, m1);
        assert_ne!(new, old);
        assert!(verify(&keys, &master, m1, &new));
        assert!(
            verify(&keys, &master, m1, &old),
            "links already in mailboxes"
        );
        // Another meeting's link, either form, opens nothing else.
        assert!(!verify(&keys, &master, m2, &new));
        assert!(!verify(&keys, &master, m2, &old));
        // Made under another secret: neither its derived nor its master key is ours.
        let other = [2u8; 32];
        assert!(!verify(
            &keys,
            &master,
            m1,
            &token(Keys::new(&other).visitor_link(), m1)
        ));
        assert!(!verify(&keys, &master, m1, &token(&other, m1)));
        // Nor is any other key derived from ours.
        assert!(!verify(
            &keys,
            &master,
            m1,
            &token(&visitor_link_key(&other), m1)
        ));
        assert!(!verify(&keys, &master, m1, ""));
    }

    #[test]
    fn the_manage_url_carries_a_derived_key_token() {
        let mut s = crate::config::Settings::defaults();
        s.public_url = "https://rondo.example.com".into();
        s.secret_key = Some(base64::engine::general_purpose::STANDARD.encode([3u8; 32]));
        let config = s.check().unwrap();
        let keys = Keys::new(&config.secret_key);
        let meeting = Uuid::from_u128(9);
        let url = manage_url(&config, meeting);
        let t = url
            .strip_prefix(&format!("https://rondo.example.com/m/{meeting}/"))
            .unwrap();
        assert_eq!(t, token(keys.visitor_link(), meeting));
        assert!(verify(&keys, &config.secret_key, meeting, t));
    }
}
