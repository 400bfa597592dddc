//! Secrets at rest and signed links, all keyed by `RONDO_SECRET_KEY` through per-purpose sub-keys (an HMAC
//! of the purpose under the master key), so a key used to sign links never also encrypts tokens.
//!
//! Sealed values are `nonce (12 bytes) || AES-256-GCM ciphertext+tag`, with the purpose and the owner's id
//! as associated data: a sealed refresh token copied onto another agent's row does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SEALED_PREFIX: &str = "sealed:v1:";

/// The keys rondo derives from its one configured secret.
#[derive(Clone)]
pub struct Keys {
    seal: Aes256Gcm,
    connect: [u8; 32],
    visitor_link: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

fn derive(master: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).expect("any key length");
    mac.update(b"rondo key derivation v1:");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The key that signs visitor links (`usecase::visitor`), for code that has the master key but no `Keys`.
pub fn visitor_link_key(master: &[u8; 32]) -> [u8; 32] {
    derive(master, "visitor-link")
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed secret did not open (wrong RONDO_SECRET_KEY, or the value was altered)")]
pub struct OpenError;

impl Keys {
    pub fn new(master: &[u8; 32]) -> Self {
        let seal_key = derive(master, "seal");
        Self {
            seal: Aes256Gcm::new_from_slice(&seal_key).expect("32-byte key"),
            connect: derive(master, "connect-link"),
            visitor_link: visitor_link_key(master),
        }
    }

    /// The key that signs visitor links (`usecase::visitor`).
    pub fn visitor_link(&self) -> &[u8; 32] {
        &self.visitor_link
    }

    /// Encrypts `plain` for `owner` (an id the value belongs to, bound as associated data).
    pub fn seal(&self, owner: &str, plain: &str) -> Vec<u8> {
        let nonce: [u8; 12] = rand::random();
        let ct = self
            .seal
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: owner.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail for in-memory sizes");
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, owner: &str, sealed: &[u8]) -> Result<String, OpenError> {
        if sealed.len() < 12 + 16 {
            return Err(OpenError);
        }
        let (nonce, ct) = sealed.split_at(12);
        let plain = self
            .seal
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| OpenError)?;
        String::from_utf8(plain).map_err(|_| OpenError)
    }

    /// A secret as text for a TEXT column: `sealed:v1:` and the sealed bytes in base64.
    pub fn seal_text(&self, owner: &str, plain: &str) -> String {
        format!(
            "{SEALED_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(self.seal(owner, plain))
        )
    }

    /// Opens what `seal_text` made; a value without the prefix is a secret stored before sealing
    /// existed and is returned as it is.
    pub fn open_text(&self, owner: &str, stored: &str) -> Result<String, OpenError> {
        match stored.strip_prefix(SEALED_PREFIX) {
            Some(b64) => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| OpenError)?;
                self.open(owner, &raw)
            }
            None => Ok(stored.to_owned()),
        }
    }

    fn connect_mac(&self, body: &str) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.connect).expect("any key length");
        mac.update(body.as_bytes());
        mac
    }

    /// A connect-link token: `{agent}.{expires unix}.{generation}.{mac}`. The generation is the agent's
    /// link counter: issuing a new link raises it, which retires every older link.
    pub fn connect_token(&self, agent: uuid::Uuid, expires_at: i64, generation: i64) -> String {
        let body = format!("{}.{expires_at}.{generation}", agent.simple());
        let mac = self.connect_mac(&body).finalize().into_bytes();
        format!(
            "{body}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac[..20])
        )
    }

    /// The (agent, expires_at, generation) a well-signed token names; None for anything altered.
    pub fn read_connect_token(&self, token: &str) -> Option<(uuid::Uuid, i64, i64)> {
        let (body, mac) = token.rsplit_once('.')?;
        let mac = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(mac)
            .ok()?;
        if mac.len() != 20 {
            return None;
        }
        self.connect_mac(body).verify_truncated_left(&mac).ok()?;
        let mut parts = body.split('.');
        let agent = uuid::Uuid::parse_str(parts.next()?).ok()?;
        let expires = parts.next()?.parse().ok()?;
        let generation = parts.next()?.parse().ok()?;
        parts
            .next()
            .is_none()
            .then_some((agent, expires, generation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_purpose_has_its_own_key() {
        let master = [7u8; 32];
        let k = Keys::new(&master);
        assert_eq!(k.visitor_link(), &visitor_link_key(&master));
        assert_ne!(k.visitor_link(), &master);
        assert_ne!(k.visitor_link(), &k.connect);
        assert_ne!(k.visitor_link(), Keys::new(&[8; 32]).visitor_link());
    }

    #[test]
    fn sealed_values_open_only_for_their_owner_and_key() {
        let k = Keys::new(&[7; 32]);
        let sealed = k.seal("agent-1", "1//refresh-token");
        assert_eq!(k.open("agent-1", &sealed).unwrap(), "1//refresh-token");
        assert!(k.open("agent-2", &sealed).is_err());
        assert!(Keys::new(&[8; 32]).open("agent-1", &sealed).is_err());
        let mut bent = sealed.clone();
        *bent.last_mut().unwrap() ^= 1;
        assert!(k.open("agent-1", &bent).is_err());
        assert!(!sealed.windows(b"refresh".len()).any(|w| w == b"refresh"));
        assert_ne!(sealed, k.seal("agent-1", "1//refresh-token"), "fresh nonce");
    }

    #[test]
    fn sealed_text_opens_and_legacy_text_passes_through() {
        let k = Keys::new(&[7; 32]);
        let t = k.seal_text("webhook:1", "whsec_abc");
        assert!(t.starts_with("sealed:v1:") && !t.contains("whsec_abc"));
        assert_eq!(k.open_text("webhook:1", &t).unwrap(), "whsec_abc");
        assert!(k.open_text("webhook:2", &t).is_err());
        assert_eq!(
            k.open_text("webhook:1", "whsec_plain").unwrap(),
            "whsec_plain"
        );
    }

    #[test]
    fn connect_tokens_round_trip_and_refuse_tampering() {
        let k = Keys::new(&[7; 32]);
        let id = uuid::Uuid::now_v7();
        let t = k.connect_token(id, 1_800_000_000, 3);
        assert_eq!(k.read_connect_token(&t), Some((id, 1_800_000_000, 3)));
        let later = t.replace(".1800000000.", ".1900000000.");
        assert_eq!(k.read_connect_token(&later), None);
        assert_eq!(Keys::new(&[9; 32]).read_connect_token(&t), None);
        assert_eq!(k.read_connect_token("garbage"), None);
    }
}
