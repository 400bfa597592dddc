//! Webhook deliveries, signed per Standard Webhooks (PROVIDERS.md): `webhook-id` (stable per event, so
//! retries reuse it), `webhook-timestamp`, and `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">` keyed by the base64-decoded part of the endpoint's `whsec_` secret.
//! 2xx is delivered; 410 disables the endpoint; anything else is tried again on the outbox schedule.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use super::schedule;
use crate::store::{ActivityRow, JobRow};
use crate::usecase::App;

/// The job that delivers one activity to one endpoint.
pub const WEBHOOK_DELIVER: &str = "webhook.deliver";
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

fn retry_after(r: &reqwest::Response) -> Option<Duration> {
    crate::calendar::retry_after_header(
        r.headers()
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?,
    )
}

/// Makes one attempt of the delivery the job names, and records its outcome on the delivery.
pub async fn deliver(app: &App, job: &JobRow) -> anyhow::Result<Delivery> {
    let id = job
        .target
        .as_deref()
        .and_then(|t| Uuid::parse_str(t).ok())
        .ok_or_else(|| anyhow::anyhow!("webhook job without a delivery id"))?;
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
    let sent = app
        .http
        .post(&endpoint.url)
        .timeout(TIMEOUT)
        .header("content-type", "application/json")
        .header("webhook-id", &msg_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let last_try = schedule::next_delay(job.attempts, None, 0.0).is_none();
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
    match sent {
        Ok(r) if r.status().is_success() => {
            app.store
                .record_delivery(id, "delivered", Some(r.status().as_u16()), None, now)
                .await?;
            Ok(Delivery::Delivered)
        }
        Ok(r) if r.status() == reqwest::StatusCode::GONE => {
            let why = "the endpoint answered 410 Gone: disabled";
            app.store.disable_endpoint(endpoint.id, why, now).await?;
            app.store
                .record_delivery(id, "dead", Some(410), Some(why), now)
                .await?;
            Ok(Delivery::Dropped(why.into()))
        }
        Ok(r) => {
            let code = r.status().as_u16();
            failed(
                Some(code),
                format!("the endpoint answered {code}"),
                retry_after(&r),
            )
            .await
        }
        Err(e) => {
            let error = if e.is_timeout() {
                "timed out".to_owned()
            } else {
                format!("could not deliver: {e}")
            };
            failed(None, error, None).await
        }
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
