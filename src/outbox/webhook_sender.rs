//! The webhook port: POST one signed delivery and report how the endpoint answered. It stands beside
//! `calendar::CalendarProvider` and `mail::MailSender` as an outbound port; `webhook::deliver` decides what
//! an answer means (2xx delivered, 410 disables, anything else retried) and records it.
//!
//! `HttpWebhookSender` is the adapter: reqwest with the client of `webhook::client` (no redirects and, unless
//! `RONDO_WEBHOOK_ALLOW_PRIVATE`, no internal destinations, checked on the addresses actually connected to).

use std::time::Duration;

use async_trait::async_trait;

use super::webhook::{check_literal, client, redact_url, retry_after, send_error, TIMEOUT};

/// One signed delivery, ready to send: the endpoint's URL, the Standard Webhooks headers, the body.
#[derive(Debug, Clone)]
pub struct SignedDelivery {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// The endpoint's answer: its status code and, when it gave one, its `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookAnswer {
    pub status: u16,
    pub retry_after: Option<Duration>,
}

/// No answer: the destination was refused, the connection failed or timed out. The message names the
/// endpoint by `webhook::display_url` at most — never the URL's query or userinfo, where receivers keep
/// their tokens — since it ends up in logs and in the delivery's `last_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WebhookError(String);

impl WebhookError {
    /// `message` about a delivery to `url`, with any quotation of the URL reduced to its display form.
    pub fn new(message: &str, url: &str) -> Self {
        Self(redact_url(message, url))
    }
}

#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs the delivery once; any HTTP answer (whatever its status) is `Ok`.
    async fn post(&self, delivery: SignedDelivery) -> Result<WebhookAnswer, WebhookError>;
}

/// Deliveries over HTTP, under the destination policy of `RONDO_WEBHOOK_ALLOW_PRIVATE`.
pub struct HttpWebhookSender {
    client: reqwest::Client,
    allow_private: bool,
}

impl HttpWebhookSender {
    pub fn new(allow_private: bool) -> reqwest::Result<Self> {
        Ok(Self {
            client: client(allow_private)?,
            allow_private,
        })
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn post(&self, delivery: SignedDelivery) -> Result<WebhookAnswer, WebhookError> {
        // The client's resolver checks names; an IP literal is connected to as is, so it is checked here.
        if !self.allow_private {
            if let Some(refused) = reqwest::Url::parse(&delivery.url)
                .ok()
                .and_then(|url| check_literal(&url).err())
            {
                return Err(WebhookError::new(&refused.to_string(), &delivery.url));
            }
        }
        let mut request = self.client.post(&delivery.url).timeout(TIMEOUT);
        for (name, value) in delivery.headers {
            request = request.header(name, value);
        }
        match request.body(delivery.body).send().await {
            Ok(r) => Ok(WebhookAnswer {
                status: r.status().as_u16(),
                retry_after: retry_after(&r),
            }),
            Err(e) => Err(WebhookError::new(
                &send_error(e, &delivery.url),
                &delivery.url,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::outbox::webhook::DESTINATION_REFUSED;

    fn delivery(url: String) -> SignedDelivery {
        SignedDelivery {
            url,
            headers: vec![
                ("content-type", "application/json".to_owned()),
                ("webhook-id", "msg_1".to_owned()),
            ],
            body: br#"{"type":"Scheduled Meeting"}"#.to_vec(),
        }
    }

    /// Answers one request with `answer` and hands back what it received.
    async fn receiver(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let got = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut received = Vec::new();
            let mut buf = [0u8; 4096];
            // The request is small: read until its body (the JSON) has arrived.
            while !received.ends_with(b"}") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&buf[..n]);
            }
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8(received).unwrap()
        });
        (address, got)
    }

    #[tokio::test]
    async fn a_delivery_is_posted_with_its_headers_and_the_answer_comes_back() {
        let (address, got) = receiver(
            "HTTP/1.1 503 Service Unavailable\r\nretry-after: 7\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        let answer = HttpWebhookSender::new(true)
            .unwrap()
            .post(delivery(format!("{address}/hooks?token=s3cret")))
            .await
            .unwrap();
        assert_eq!(
            answer,
            WebhookAnswer {
                status: 503,
                retry_after: Some(Duration::from_secs(7)),
            }
        );
        let request = got.await.unwrap().to_ascii_lowercase();
        assert!(
            request.starts_with("post /hooks?token=s3cret http/1.1"),
            "{request}"
        );
        assert!(request.contains("webhook-id: msg_1\r\n"), "{request}");
        assert!(
            request.contains("content-type: application/json\r\n"),
            "{request}"
        );
        assert!(
            request.ends_with(r#"{"type":"scheduled meeting"}"#),
            "{request}"
        );
    }

    #[tokio::test]
    async fn an_internal_ip_literal_is_refused_without_connecting_when_private_is_not_allowed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!(
            "http://user:pw@127.0.0.1:{}/hooks?token=s3cret",
            listener.local_addr().unwrap().port()
        );
        let err = HttpWebhookSender::new(false)
            .unwrap()
            .post(delivery(url))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(DESTINATION_REFUSED), "{err}");
        assert!(!err.contains("s3cret") && !err.contains("user:pw"), "{err}");
        assert_eq!(
            listener.accept().unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock,
            "nothing connected"
        );
    }

    #[test]
    fn errors_never_quote_the_url() {
        let url = "https://u:pw@hooks.example.com/in?token=s3cret";
        let e = WebhookError::new(&format!("could not deliver to {url}"), url);
        assert_eq!(
            e.to_string(),
            "could not deliver to https://hooks.example.com/in"
        );
    }
}
