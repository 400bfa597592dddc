//! Webhook deliveries, signed per Standard Webhooks (PROVIDERS.md): `webhook-id` (stable per event, so
//! retries reuse it), `webhook-timestamp`, and `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">` keyed by the base64-decoded part of the endpoint's `whsec_` secret.
//! 2xx is delivered; 410 disables the endpoint; anything else is tried again on the outbox schedule. The
//! POST itself goes through the `WebhookSender` port (`webhook_sender`), whose adapter uses `client` below.
//!
//! Unless `RONDO_WEBHOOK_ALLOW_PRIVATE` is on (dev), a delivery connects only to addresses
//! `domain::destination` allows: an IP-literal host is checked before sending, and names go through
//! `PublicOnlyResolver`, which drops internal addresses from each answer — the check is made on the very
//! addresses connected to, so a name that resolved to a public address at creation and to 127.0.0.1 now
//! (DNS rebinding) is refused. Redirects are not followed (a 3xx is an answer, and would be a way around the
//! check). Receivers often put a token in the URL's query or userinfo: logs and `last_error` name an endpoint
//! by `display_url` (scheme, host, port and path) only.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use super::schedule;
use super::webhook_sender::SignedDelivery;
use crate::app::App;
use crate::domain::destination::is_forbidden_destination;
use crate::store::ActivityRow;

/// A delivery that has not answered by then counts as failed (and is tried again).
pub const TIMEOUT: Duration = Duration::from_secs(15);
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Whose secret a sealed webhook secret is (bound into its encryption).
pub fn secret_owner(endpoint: uuid::Uuid) -> String {
    format!("webhook:{endpoint}")
}

/// A fresh endpoint secret: `whsec_` and 24 random bytes in base64.
pub fn new_secret() -> String {
    format!("whsec_{}", B64.encode(rand::random::<[u8; 24]>()))
}

/// What `last_error` says when a delivery was not made because of where it would have gone.
pub const DESTINATION_REFUSED: &str = "destination address not allowed";
/// How long creating an endpoint waits for its name to resolve; a name still unresolved then is taken as
/// "does not resolve yet" (every delivery checks again anyway).
const CREATE_RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A webhook URL as logs and errors may show it: scheme, host, port and path — never the userinfo or
/// query, where receivers put their tokens. Not a URL: `<invalid url>`.
pub fn display_url(raw: &str) -> String {
    let Ok(url) = reqwest::Url::parse(raw) else {
        return "<invalid url>".to_owned();
    };
    let host = url.host_str().unwrap_or_default();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{host}{port}{}", url.scheme(), url.path())
}

/// The shape every webhook URL must have, whatever the destination policy: absolute http(s) with a host,
/// and no credentials in it (`user:pass@`; a receiver's secret belongs in a header or the query).
pub fn check_url_shape(raw: &str) -> Result<reqwest::Url, &'static str> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|_| "must be an absolute http:// or https:// URL")?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an absolute http:// or https:// URL");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password (user:pass@)");
    }
    Ok(url)
}

/// A destination refused: its host is, or resolves only to, addresses `domain::destination` forbids.
#[derive(Debug, thiserror::Error)]
#[error("{DESTINATION_REFUSED}: {host} is or resolves only to an internal address (RONDO_WEBHOOK_ALLOW_PRIVATE)")]
pub struct DestinationRefused {
    /// The host as named in the URL (never the rest of it).
    pub host: String,
}

/// Names RFC 6761 reserves, answered here without asking DNS: `localhost` (and `*.localhost`) is loopback;
/// `*.invalid` never resolves. None: ask the system resolver.
fn special_use_name(host: &str) -> Option<Vec<IpAddr>> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return Some(vec![
            IpAddr::from([127, 0, 0, 1]),
            IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ]);
    }
    if host == "invalid" || host.ends_with(".invalid") {
        return Some(Vec::new());
    }
    None
}

/// The addresses `host` resolves to now (the system resolver, on tokio's blocking pool, as reqwest's own
/// resolver does). Empty or an error: the name does not resolve.
async fn lookup(host: &str) -> std::io::Result<Vec<IpAddr>> {
    if let Some(ips) = special_use_name(host) {
        return Ok(ips);
    }
    let name = host.to_owned();
    tokio::task::spawn_blocking(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), 0))
            .map(|addrs| addrs.map(|a| a.ip()).collect())
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The webhook client's resolver when internal destinations are refused: resolves as usual, then keeps only
/// allowed addresses, so a connection can only go to one of those. None left: `DestinationRefused`.
#[derive(Debug, Default)]
pub struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let ips = lookup(&host).await?;
            let allowed: Vec<SocketAddr> = ips
                .into_iter()
                .filter(|ip| !is_forbidden_destination(*ip))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(DestinationRefused { host }) as _);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client deliveries are sent with. Redirects are never followed: the receiver gets our POST
/// itself, and a redirect could lead anywhere. With internal destinations refused, names resolve through
/// `PublicOnlyResolver` and no proxy is used (a proxy would connect on our behalf, past the check).
pub fn client(allow_private: bool) -> reqwest::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("rondo/", env!("CARGO_PKG_VERSION")))
        .timeout(TIMEOUT);
    if allow_private {
        builder.build()
    } else {
        builder
            .no_proxy()
            .dns_resolver(Arc::new(PublicOnlyResolver))
            .build()
    }
}

/// Refuses a URL whose host is an internal IP literal. Names are left to the resolver (at delivery) or to
/// `check_destination` (at creation): reqwest connects to an IP literal without resolving it.
pub(super) fn check_literal(url: &reqwest::Url) -> Result<(), DestinationRefused> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        _ => return Ok(()),
    };
    if is_forbidden_destination(ip) {
        return Err(DestinationRefused {
            host: url.host_str().unwrap_or_default().to_owned(),
        });
    }
    Ok(())
}

/// The check at creation, when internal destinations are refused: an internal IP literal, or a name that
/// resolves only to internal addresses, is refused. A name that does not resolve (yet) passes: it may be
/// set up after the endpoint, and every delivery checks the addresses it connects to.
pub async fn check_destination(url: &reqwest::Url) -> Result<(), DestinationRefused> {
    check_literal(url)?;
    let Some(url::Host::Domain(host)) = url.host() else {
        return Ok(());
    };
    let ips = match tokio::time::timeout(CREATE_RESOLVE_TIMEOUT, lookup(host)).await {
        Ok(Ok(ips)) => ips,
        Ok(Err(_)) | Err(_) => return Ok(()),
    };
    if !ips.is_empty() && ips.iter().all(|ip| is_forbidden_destination(*ip)) {
        return Err(DestinationRefused {
            host: host.to_owned(),
        });
    }
    Ok(())
}

/// Why a send failed, in words that never include the URL: reqwest's own message names the full URL
/// (query and userinfo too), so the error is stripped of it and its causes are spelled out instead.
pub(super) fn send_error(e: reqwest::Error, endpoint_url: &str) -> String {
    if e.is_timeout() {
        return "timed out".to_owned();
    }
    let e = e.without_url();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut words = Vec::new();
    while let Some(c) = cause {
        if let Some(refused) = c.downcast_ref::<DestinationRefused>() {
            return refused.to_string();
        }
        words.push(c.to_string());
        cause = c.source();
    }
    // Belt and braces: no cause is known to quote the URL, but none may ever leak it.
    redact_url(
        &format!("could not deliver: {}", words.join(": ")),
        endpoint_url,
    )
}

/// `text` with the endpoint's URL (as stored, and as parsed, which is how reqwest quotes it) replaced by
/// its `display_url`. Errors recorded before URLs were kept out of them are shown this way too.
pub fn redact_url(text: &str, endpoint_url: &str) -> String {
    let shown = display_url(endpoint_url);
    let mut text = text.to_owned();
    if let Ok(parsed) = reqwest::Url::parse(endpoint_url.trim()) {
        text = text.replace(parsed.as_str(), &shown);
    }
    if !endpoint_url.is_empty() {
        text = text.replace(endpoint_url, &shown);
    }
    text
}

/// The stable `webhook-id` of an activity.
pub fn message_id(activity: Uuid) -> String {
    format!("msg_{}", activity.simple())
}

/// `v1,<signature>` for this message; None when the secret is not `whsec_` + base64.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = B64
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// The body marketing automation receives: the activity as the pull feed shows it.
pub fn activity_body(a: &ActivityRow) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": a.kind,
        "id": a.id,
        "occurred_at": a.occurred_at.to_rfc3339(),
        "data": a.data,
    }))
    .expect("json")
}

/// How one delivery attempt ended, for the job runner.
pub enum Delivery {
    Delivered,
    /// Try again (when the schedule allows), after the endpoint's `Retry-After` if it gave one.
    Failed {
        error: String,
        retry_after: Option<Duration>,
    },
    /// No point trying again (endpoint gone or deleted).
    Dropped(String),
}

pub(super) fn retry_after(r: &reqwest::Response) -> Option<Duration> {
    crate::calendar::retry_after_header(
        r.headers()
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?,
    )
}

/// Makes one attempt of the delivery (`attempts`: the job's tries so far, this one included), and records
/// its outcome on the delivery.
pub async fn deliver(app: &App, id: Uuid, attempts: u32) -> anyhow::Result<Delivery> {
    let Some(delivery) = app.store.delivery(id).await? else {
        return Ok(Delivery::Dropped("delivery not found".into()));
    };
    let now = app.now();
    let endpoint = match app.store.endpoint(delivery.endpoint_id).await? {
        Some(e) if e.disabled_reason.is_none() => e,
        Some(_) | None => {
            let why = "endpoint deleted or disabled";
            app.store
                .record_delivery(id, "dead", None, Some(why), now)
                .await?;
            return Ok(Delivery::Dropped(why.into()));
        }
    };
    let activity = app
        .store
        .activity(delivery.activity_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("activity {} not found", delivery.activity_id))?;
    let body = activity_body(&activity);
    let msg_id = message_id(activity.id);
    // The signature's timestamp is the moment of sending, by the wall clock receivers check it against.
    let timestamp = chrono::Utc::now().timestamp();
    let secret = app
        .keys
        .open_text(&secret_owner(endpoint.id), &endpoint.secret)
        .map_err(|e| anyhow::anyhow!("endpoint {}: {e}", endpoint.id))?;
    let signature = sign(&secret, &msg_id, timestamp, &body)
        .ok_or_else(|| anyhow::anyhow!("endpoint {} has an unusable secret", endpoint.id))?;
    let last_try = schedule::next_delay(attempts, None, 0.0).is_none();
    let failed = |code: Option<u16>, error: String, after: Option<Duration>| async move {
        let status = if last_try { "dead" } else { "failed" };
        app.store
            .record_delivery(id, status, code, Some(&error), now)
            .await?;
        Ok::<_, anyhow::Error>(Delivery::Failed {
            error,
            retry_after: after,
        })
    };
    // A refused destination fails like an unreachable one and is retried on the schedule: the endpoint's
    // name may come to resolve elsewhere, or an operator may allow private destinations.
    let sent = app
        .webhooks
        .post(SignedDelivery {
            url: endpoint.url.clone(),
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("webhook-id", msg_id),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", signature),
            ],
            body,
        })
        .await;
    match sent {
        Ok(answer) if (200..300).contains(&answer.status) => {
            app.store
                .record_delivery(id, "delivered", Some(answer.status), None, now)
                .await?;
            Ok(Delivery::Delivered)
        }
        Ok(answer) if answer.status == 410 => {
            let why = "the endpoint answered 410 Gone: disabled";
            app.store.disable_endpoint(endpoint.id, why, now).await?;
            app.store
                .record_delivery(id, "dead", Some(410), Some(why), now)
                .await?;
            Ok(Delivery::Dropped(why.into()))
        }
        Ok(answer) => {
            let code = answer.status;
            failed(
                Some(code),
                format!("the endpoint answered {code}"),
                answer.retry_after,
            )
            .await
        }
        Err(e) => failed(None, e.to_string(), None).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_retry_after_values_do_not_panic() {
        for v in [
            "1e20",
            "99999999999999999999999",
            "inf",
            "-3",
            "2.128",
            "abc",
        ] {
            let resp = http_response_with_retry_after(v);
            let got = retry_after(&resp);
            assert!(
                got.is_none_or(|d| d <= Duration::from_secs(86_400)),
                "{v}: {got:?}"
            );
        }
        assert_eq!(
            retry_after(&http_response_with_retry_after("2.128")),
            Some(Duration::from_millis(2128))
        );
    }

    fn http_response_with_retry_after(v: &str) -> reqwest::Response {
        reqwest::Response::from(
            http::Response::builder()
                .status(503)
                .header("retry-after", v)
                .body("")
                .unwrap(),
        )
    }

    #[test]
    fn urls_are_shown_without_userinfo_or_query() {
        assert_eq!(
            display_url("https://u:pw@hooks.example.com:8443/in/x?token=s3cret#frag"),
            "https://hooks.example.com:8443/in/x"
        );
        assert_eq!(
            display_url("http://[::ffff:127.0.0.1]/h?k=v"),
            "http://[::ffff:7f00:1]/h"
        );
        assert_eq!(display_url("not a url?token=s3cret"), "<invalid url>");
    }

    #[test]
    fn recorded_errors_lose_the_url_they_quote() {
        let raw = "https://Hooks.example.com/in?token=s3cret";
        let old = "could not deliver: error sending request for url (https://hooks.example.com/in?token=s3cret)";
        assert_eq!(
            redact_url(old, raw),
            "could not deliver: error sending request for url (https://hooks.example.com/in)"
        );
        assert_eq!(
            redact_url("the endpoint answered 500", raw),
            "the endpoint answered 500"
        );
    }

    #[test]
    fn webhook_urls_must_be_http_without_credentials() {
        assert!(check_url_shape(" https://hooks.example.com/x?token=t ").is_ok());
        assert!(
            check_url_shape("http://10.0.0.1/").is_ok(),
            "policy is separate"
        );
        for bad in [
            "ftp://hooks.example.com/x",
            "file:///etc/passwd",
            "gopher://127.0.0.1:6379/_INFO",
            "https://user@hooks.example.com/x",
            "https://user:pw@hooks.example.com/x",
            "https://:pw@hooks.example.com/x",
            "hooks.example.com/x",
            "not a url",
        ] {
            assert!(check_url_shape(bad).is_err(), "{bad}");
        }
    }

    fn url(s: &str) -> reqwest::Url {
        reqwest::Url::parse(s).unwrap()
    }

    #[tokio::test]
    async fn internal_destinations_are_refused_at_creation() {
        for bad in [
            "http://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:9/",
            "http://10.0.0.1/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::1]/",
            "http://0x7f.1/",
            "http://2130706433/",
            "http://localhost:1/",
            "http://LOCALHOST./",
            "http://api.localhost/",
        ] {
            let refused = check_destination(&url(bad)).await.unwrap_err();
            assert!(
                refused.to_string().starts_with(DESTINATION_REFUSED),
                "{bad}"
            );
        }
        // Reserved never to resolve (RFC 6761): accepted as "not resolving yet", without asking DNS.
        assert!(check_destination(&url("https://hooks.invalid/x"))
            .await
            .is_ok());
        assert!(check_destination(&url("https://93.184.216.34/x"))
            .await
            .is_ok());
        assert!(check_destination(&url("https://[2606:4700::1]/x"))
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn the_resolver_drops_internal_addresses_and_fails_when_none_are_left() {
        use reqwest::dns::Resolve;
        let err = PublicOnlyResolver
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("localhost is refused");
        let refused = err.downcast_ref::<DestinationRefused>().expect("typed");
        assert_eq!(refused.host, "localhost");
        assert!(PublicOnlyResolver
            .resolve("hooks.invalid".parse().unwrap())
            .await
            .is_err());
    }

    #[tokio::test]
    async fn a_refused_destination_is_reported_as_such_and_never_connected() {
        let err = client(false)
            .unwrap()
            .post("http://localhost:9/hooks?token=s3cret")
            .send()
            .await
            .unwrap_err();
        let message = send_error(err, "http://localhost:9/hooks?token=s3cret");
        assert!(message.starts_with(DESTINATION_REFUSED), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[tokio::test]
    async fn send_errors_do_not_show_the_query_or_userinfo() {
        // A closed port on loopback: the connection is refused at once, and nothing leaves the machine.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let raw = format!("http://user:pw@127.0.0.1:{port}/hooks?token=s3cret");
        let err = client(true).unwrap().post(&raw).send().await.unwrap_err();
        assert!(err.to_string().contains("s3cret"), "reqwest names the URL");
        let message = send_error(err, &raw);
        assert!(message.starts_with("could not deliver: "), "{message}");
        assert!(
            !message.contains("s3cret") && !message.contains("user:pw"),
            "{message}"
        );
    }

    #[test]
    fn standard_webhooks_test_vector() {
        let sig = sign(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(
            sig.as_deref(),
            Some("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=")
        );
    }

    #[test]
    fn secrets_are_fresh_and_usable() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"));
        assert!(sign(&a, "msg_x", 1, b"{}").is_some());
    }
}
