//! A real SMTP server on 127.0.0.1 for the tests (RFC 5321's plain dialogue: EHLO/HELO, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT). It keeps every message it accepts; switched "down", it greets with 421 and hangs up,
//! as a server that is unavailable does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Default)]
struct State {
    down: AtomicBool,
    messages: Mutex<Vec<String>>,
}

pub struct SmtpServer {
    pub url: String,
    state: Arc<State>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let _ = session(socket, state).await;
                });
            }
        });
        Self {
            url: format!("smtp://127.0.0.1:{port}"),
            state,
        }
    }

    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Every accepted message, raw (headers and body, dot-unstuffed).
    pub fn messages(&self) -> Vec<String> {
        self.state.messages.lock().unwrap().clone()
    }
}

async fn session(socket: tokio::net::TcpStream, state: Arc<State>) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    if state.down.load(Ordering::SeqCst) {
        write
            .write_all(b"421 4.3.2 Service not available, closing channel\r\n")
            .await?;
        return Ok(());
    }
    write.write_all(b"220 test.smtp ESMTP ready\r\n").await?;
    while let Some(line) = lines.next_line().await? {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-test.smtp\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 2.0.0 OK\r\n",
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut message = String::new();
                while let Some(l) = lines.next_line().await? {
                    if l == "." {
                        break;
                    }
                    message.push_str(l.strip_prefix('.').unwrap_or(&l));
                    message.push_str("\r\n");
                }
                state.messages.lock().unwrap().push(message);
                b"250 2.0.0 Queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 Command not recognized\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
