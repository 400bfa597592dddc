//! Email: invitation rendering (`render`), the ICS writer (`ics`) and the transport — real SMTP
//! (`RONDO_SMTP_URL`: `smtp://` plain, `?tls=required` STARTTLS, `smtps://` implicit TLS, with credentials in
//! the URL) or, when unset, `.eml` files in `RONDO_MAIL_DIR`.

pub mod ics;
pub mod render;
pub mod sandbox;

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
    /// `ca_file`: a PEM file of extra root certificates to trust for the SMTP server's TLS (a private
    /// relay's own CA), besides the usual public roots.
    pub fn new(
        smtp_url: Option<&str>,
        ca_file: Option<&str>,
        mail_dir: &str,
        from: &str,
    ) -> Result<Self, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("RONDO_MAIL_FROM: {e}"))?;
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
        let from = "rondo <no-reply@localhost>";
        let plain = Mailer::new(Some("smtp://localhost:2525"), Some(&ca), "mail", from);
        assert!(plain.err().unwrap().contains("RONDO_SMTP_CA_FILE"));
        assert!(Mailer::new(Some("smtps://localhost:465"), Some(&ca), "mail", from).is_ok());
        assert!(Mailer::new(
            Some("smtp://localhost:587?tls=required"),
            Some(&ca),
            "mail",
            from
        )
        .is_ok());
    }
}
