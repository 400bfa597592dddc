//! Email: invitation rendering (`render`), the ICS writer (`ics`) and the transport — real SMTP
//! (`RONDO_SMTP_URL`: `smtp://` plain, `?tls=required` STARTTLS, `smtps://` implicit TLS, with credentials in
//! the URL) or, when unset, `.eml` files in `RONDO_MAIL_DIR`.

pub mod ics;
pub mod render;

use lettre::message::Mailbox;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>, std::path::PathBuf),
}

pub struct Mailer {
    transport: Transport,
    pub from: Mailbox,
    pub templates: minijinja::Environment<'static>,
}

/// A send that failed: `transient` ones are worth trying again.
#[derive(Debug)]
pub struct SendError {
    pub transient: bool,
    pub message: String,
}

impl Mailer {
    pub fn new(smtp_url: Option<&str>, mail_dir: &str, from: &str) -> Result<Self, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("RONDO_MAIL_FROM: {e}"))?;
        let transport = match smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("RONDO_SMTP_URL: {e}"))?
                    .timeout(Some(std::time::Duration::from_secs(30)))
                    .build(),
            ),
            None => {
                let dir = std::path::PathBuf::from(mail_dir);
                Transport::Files(AsyncFileTransport::new(&dir), dir)
            }
        };
        Ok(Self {
            transport,
            from,
            templates: render::environment(),
        })
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match &self.transport {
            Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| SendError {
                transient: !e.is_permanent(),
                message: format!("SMTP: {e}"),
            }),
            Transport::Files(t, dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| SendError {
                        transient: true,
                        message: format!("mail dir {}: {e}", dir.display()),
                    })?;
                t.send(message).await.map(|_| ()).map_err(|e| SendError {
                    transient: true,
                    message: format!("writing .eml: {e}"),
                })
            }
        }
    }
}
