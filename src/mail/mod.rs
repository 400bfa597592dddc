//! Email: invitation rendering (`render`), the ICS writer (`ics`), and the outbound port `MailSender` (beside
//! `calendar::CalendarProvider` and `outbox::webhook_sender::WebhookSender`) with its one adapter,
//! `LettreMailer` — real SMTP (`RONDO_SMTP_URL`: `smtp://` plain, `?tls=required` STARTTLS, `smtps://`
//! implicit TLS, with credentials in the URL) or, when unset, `.eml` files in `RONDO_MAIL_DIR`.

pub mod ics;
pub mod render;
pub mod sandbox;

use async_trait::async_trait;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// The mail port: hands one finished message to whatever delivers it. The outbox's email job is its caller;
/// it retries a `Transient` failure on its schedule and parks a `Permanent` one as dead at once.
#[async_trait]
pub trait MailSender: Send + Sync {
    async fn send(&self, message: Message) -> Result<(), SendError>;
}

/// A send that failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server was unreachable or busy, or the mail directory could not be written: worth trying again.
    #[error("{0}")]
    Transient(String),
    /// The server refused the message for good (a 5xx answer): the same message will fail the same way.
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        matches!(self, SendError::Transient(_))
    }
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>, std::path::PathBuf),
}

/// The `MailSender` of production and dev: lettre over SMTP, or `.eml` files when no SMTP URL is set.
pub struct LettreMailer {
    transport: Transport,
}

impl LettreMailer {
    /// `ca_file`: a PEM file of extra root certificates to trust for the SMTP server's TLS (a private
    /// relay's own CA), besides the usual public roots.
    pub fn new(
        smtp_url: Option<&str>,
        ca_file: Option<&str>,
        mail_dir: &str,
    ) -> Result<Self, String> {
        let transport = match smtp_url {
            Some(url) => {
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("RONDO_SMTP_URL: {e}"))?
                    .timeout(Some(std::time::Duration::from_secs(30)));
                if let Some(ca) = ca_file {
                    builder = builder.tls(tls_with_ca(url, ca)?);
                }
                Transport::Smtp(builder.build())
            }
            None => {
                let dir = std::path::PathBuf::from(mail_dir);
                Transport::Files(AsyncFileTransport::new(&dir), dir)
            }
        };
        Ok(Self { transport })
    }
}

#[async_trait]
impl MailSender for LettreMailer {
    async fn send(&self, message: Message) -> Result<(), SendError> {
        match &self.transport {
            Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| {
                let message = format!("SMTP: {e}");
                if e.is_permanent() {
                    SendError::Permanent(message)
                } else {
                    SendError::Transient(message)
                }
            }),
            Transport::Files(t, dir) => {
                tokio::fs::create_dir_all(dir).await.map_err(|e| {
                    SendError::Transient(format!("mail dir {}: {e}", dir.display()))
                })?;
                t.send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| SendError::Transient(format!("writing .eml: {e}")))
            }
        }
    }
}

/// The TLS mode `RONDO_SMTP_URL` asks for (as lettre reads it: `smtps://` wraps the connection in TLS,
/// `?tls=required` / `?tls=opportunistic` use STARTTLS), trusting the roots in `ca_file` too.
fn tls_with_ca(url: &str, ca_file: &str) -> Result<lettre::transport::smtp::client::Tls, String> {
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let parsed = url::Url::parse(url).map_err(|e| format!("RONDO_SMTP_URL: {e}"))?;
    let host = parsed
        .host_str()
        .ok_or("RONDO_SMTP_URL: no host")?
        .to_owned();
    let pem = std::fs::read(ca_file).map_err(|e| format!("RONDO_SMTP_CA_FILE: {ca_file}: {e}"))?;
    let params = TlsParameters::builder(host)
        .add_root_certificate(
            Certificate::from_pem(&pem).map_err(|e| format!("RONDO_SMTP_CA_FILE: {e}"))?,
        )
        .build()
        .map_err(|e| format!("RONDO_SMTP_CA_FILE: {e}"))?;
    let tls_query = parsed
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    match (parsed.scheme(), tls_query.as_deref()) {
        ("smtps", _) => Ok(Tls::Wrapper(params)),
        (_, Some("required")) => Ok(Tls::Required(params)),
        (_, Some("opportunistic")) => Ok(Tls::Opportunistic(params)),
        _ => Err(
            "RONDO_SMTP_CA_FILE is set but RONDO_SMTP_URL asks for no TLS: use smtps:// or ?tls=required"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_with_a_plain_smtp_url_is_refused() {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, cert.cert.pem()).unwrap();
        let ca = ca.display().to_string();
        let plain = LettreMailer::new(Some("smtp://localhost:2525"), Some(&ca), "mail");
        assert!(plain.err().unwrap().contains("RONDO_SMTP_CA_FILE"));
        assert!(LettreMailer::new(Some("smtps://localhost:465"), Some(&ca), "mail").is_ok());
        assert!(
            LettreMailer::new(Some("smtp://localhost:587?tls=required"), Some(&ca), "mail").is_ok()
        );
    }

    fn message() -> Message {
        Message::builder()
            .from("rondo <no-reply@localhost>".parse().unwrap())
            .to("vera@example.org".parse().unwrap())
            .subject("Your meeting")
            .body("See you then".to_owned())
            .unwrap()
    }

    #[tokio::test]
    async fn without_smtp_a_message_is_filed_and_an_unwritable_directory_is_transient() {
        let dir = tempfile::tempdir().unwrap();
        let mail_dir = dir.path().join("mail");
        let files = LettreMailer::new(None, None, mail_dir.to_str().unwrap()).unwrap();
        files.send(message()).await.unwrap();
        let filed: Vec<_> = std::fs::read_dir(&mail_dir).unwrap().collect();
        assert_eq!(filed.len(), 1);
        let text = std::fs::read_to_string(filed[0].as_ref().unwrap().path()).unwrap();
        assert!(text.contains("Subject: Your meeting"), "{text}");

        // The mail directory's parent is a file: the directory cannot be made (until someone fixes it).
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, "x").unwrap();
        let stuck = LettreMailer::new(None, None, blocker.join("mail").to_str().unwrap()).unwrap();
        let err = stuck.send(message()).await.unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(err.to_string().starts_with("mail dir "), "{err}");
    }
}
