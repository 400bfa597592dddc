//! A real SMTP server on 127.0.0.1 for the tests (RFC 5321's dialogue: EHLO/HELO, MAIL, RCPT, DATA, RSET,
//! NOOP, QUIT), optionally behind TLS — implicit (RFC 8314, `smtps://`) or STARTTLS (RFC 3207) — with a
//! self-signed certificate for `localhost`, and optionally requiring AUTH PLAIN (RFC 4954). It keeps every
//! message it accepts, with whether it came over TLS and as whom; switched "down", it greets with 421 and
//! hangs up, as a server that is unavailable does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Plain,
    /// TLS from the first byte (`smtps://`, port 465 style).
    Implicit,
    /// Plain, upgraded by STARTTLS (port 587 style); mail is refused before the upgrade.
    StartTls,
}

/// A message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub raw: String,
    pub over_tls: bool,
    pub user: Option<String>,
}

#[derive(Default)]
struct State {
    down: AtomicBool,
    messages: Mutex<Vec<Received>>,
}

struct Conf {
    security: Security,
    tls: Option<TlsAcceptor>,
    /// (user, password) AUTH PLAIN must name before MAIL.
    auth: Option<(String, String)>,
}

pub struct SmtpServer {
    pub url: String,
    /// PEM of the server's self-signed certificate (trust it with RONDO_SMTP_CA_FILE).
    pub ca_pem: Option<String>,
    state: Arc<State>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        Self::start_with(Security::Plain, None).await
    }

    pub async fn start_with(security: Security, auth: Option<(&str, &str)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tls, ca_pem) = match security {
            Security::Plain => (None, None),
            _ => {
                let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
                let key =
                    rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
                let config = rustls::ServerConfig::builder()
                    .with_no_client_auth()
                    .with_single_cert(vec![cert.cert.der().clone()], key)
                    .unwrap();
                (
                    Some(TlsAcceptor::from(Arc::new(config))),
                    Some(cert.cert.pem()),
                )
            }
        };
        let conf = Arc::new(Conf {
            security,
            tls,
            auth: auth.map(|(u, p)| (u.to_owned(), p.to_owned())),
        });
        let state = Arc::new(State::default());
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (state, conf) = (shared.clone(), conf.clone());
                tokio::spawn(async move {
                    let _ = connection(socket, state, conf).await;
                });
            }
        });
        let credentials = auth.map(|(u, p)| format!("{u}:{p}@")).unwrap_or_default();
        let url = match security {
            Security::Plain => format!("smtp://{credentials}127.0.0.1:{port}"),
            Security::Implicit => format!("smtps://{credentials}localhost:{port}"),
            Security::StartTls => format!("smtp://{credentials}localhost:{port}?tls=required"),
        };
        Self { url, ca_pem, state }
    }

    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Every accepted message, raw (headers and body, dot-unstuffed).
    pub fn messages(&self) -> Vec<String> {
        self.received().into_iter().map(|m| m.raw).collect()
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.messages.lock().unwrap().clone()
    }
}

async fn connection(
    mut socket: tokio::net::TcpStream,
    state: Arc<State>,
    conf: Arc<Conf>,
) -> std::io::Result<()> {
    if state.down.load(Ordering::SeqCst) {
        socket
            .write_all(b"421 4.3.2 Service not available, closing channel\r\n")
            .await?;
        return Ok(());
    }
    if conf.security == Security::Implicit {
        let tls = conf.tls.as_ref().unwrap().accept(socket).await?;
        dialogue(tls, &state, &conf, true, true).await?;
        return Ok(());
    }
    if let Some(plain) = dialogue(socket, &state, &conf, false, true).await? {
        // STARTTLS: the same connection, now encrypted; the client starts over with EHLO.
        let tls = conf.tls.as_ref().unwrap().accept(plain).await?;
        dialogue(tls, &state, &conf, true, false).await?;
    }
    Ok(())
}

/// One SMTP dialogue on `stream`. Returns the stream when the client asked for STARTTLS.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    state: &State,
    conf: &Conf,
    secure: bool,
    greet: bool,
) -> std::io::Result<Option<S>> {
    let mut io = BufReader::new(stream);
    if greet {
        io.get_mut()
            .write_all(b"220 localhost ESMTP ready\r\n")
            .await?;
    }
    let mut user: Option<String> = None;
    let offer_starttls = conf.security == Security::StartTls && !secure;
    let mut line = String::new();
    loop {
        line.clear();
        if io.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let text = line.trim_end().to_owned();
        let mut words = text.split_whitespace();
        let verb = words.next().unwrap_or("").to_ascii_uppercase();
        let reply: String = match verb.as_str() {
            "EHLO" => {
                let mut r = String::from("250-localhost\r\n");
                if offer_starttls {
                    r.push_str("250-STARTTLS\r\n");
                }
                if conf.auth.is_some() && secure {
                    r.push_str("250-AUTH PLAIN\r\n");
                }
                r.push_str("250 8BITMIME\r\n");
                r
            }
            "STARTTLS" if offer_starttls => {
                io.get_mut()
                    .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                    .await?;
                return Ok(Some(io.into_inner()));
            }
            "AUTH" if secure && conf.auth.is_some() => {
                let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
                let answer = words.next().map(str::to_owned);
                let given = match (mechanism.as_str(), answer) {
                    ("PLAIN", Some(a)) => Some(a),
                    ("PLAIN", None) => {
                        io.get_mut().write_all(b"334 \r\n").await?;
                        line.clear();
                        io.read_line(&mut line).await?;
                        Some(line.trim_end().to_owned())
                    }
                    _ => None,
                };
                let decoded = given
                    .and_then(|g| base64::engine::general_purpose::STANDARD.decode(g).ok())
                    .and_then(|b| String::from_utf8(b).ok());
                let (u, p) = conf.auth.as_ref().unwrap();
                match decoded {
                    Some(d) if d == format!("\0{u}\0{p}") => {
                        user = Some(u.clone());
                        "235 2.7.0 Authentication successful\r\n".into()
                    }
                    _ => "535 5.7.8 Authentication credentials invalid\r\n".into(),
                }
            }
            "MAIL" if conf.security == Security::StartTls && !secure => {
                "530 5.7.0 Must issue a STARTTLS command first\r\n".into()
            }
            "MAIL" if conf.auth.is_some() && user.is_none() => {
                "530 5.7.0 Authentication required\r\n".into()
            }
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => "250 2.0.0 OK\r\n".into(),
            "DATA" => {
                io.get_mut()
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut message = String::new();
                loop {
                    line.clear();
                    if io.read_line(&mut line).await? == 0 {
                        return Ok(None);
                    }
                    let l = line.trim_end_matches(['\r', '\n']);
                    if l == "." {
                        break;
                    }
                    message.push_str(l.strip_prefix('.').unwrap_or(l));
                    message.push_str("\r\n");
                }
                state.messages.lock().unwrap().push(Received {
                    raw: message,
                    over_tls: secure,
                    user: user.clone(),
                });
                "250 2.0.0 Queued\r\n".into()
            }
            "QUIT" => {
                io.get_mut().write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(None);
            }
            _ => "502 5.5.2 Command not recognized\r\n".into(),
        };
        io.get_mut().write_all(reply.as_bytes()).await?;
    }
}
