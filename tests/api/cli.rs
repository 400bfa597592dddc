//! The binary as an operator runs it: help lists the settings, bad settings name their variable, SIGTERM
//! stops it cleanly, and `token create` makes a token the API accepts.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rondo");

fn clean_env(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars() {
        if k.starts_with("RONDO_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

#[test]
fn help_lists_every_setting_with_its_default() {
    let out = clean_env(&mut Command::new(BIN))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for var in [
        "RONDO_LISTEN",
        "RONDO_PUBLIC_URL",
        "RONDO_DATABASE_URL",
        "RONDO_ENV",
        "RONDO_SECRET_KEY",
        "RONDO_ADMIN_TOKEN",
        "RONDO_CHAT_TOKEN",
        "RONDO_FREEBUSY_TTL_SECONDS",
        "RONDO_RETENTION_DAYS",
        "RONDO_CHAT_RATE_PER_MINUTE",
    ] {
        assert!(help.contains(var), "{var} missing from --help");
    }
    assert!(help.contains("127.0.0.1:8080"));
}

#[test]
fn an_invalid_setting_stops_start_up_naming_the_variable() {
    for (var, value) in [
        ("RONDO_LISTEN", "not-an-address"),
        ("RONDO_SECRET_KEY", "c2hvcnQ="),
        ("RONDO_ENV", "staging"),
    ] {
        let out = clean_env(&mut Command::new(BIN))
            .env(var, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(var), "{var}: {err}");
    }
    let out = clean_env(&mut Command::new(BIN))
        .env("RONDO_ENV", "prod")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("RONDO_SECRET_KEY"));
}

fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        assert!(Instant::now() < deadline, "rondo did not become ready");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn get_status(port: u16, path: &str, token: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    buf.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn token_create_then_serve_then_sigterm_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/rondo.db?mode=rwc", dir.path().display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = clean_env(&mut Command::new(BIN))
        .env("RONDO_DATABASE_URL", &db)
        .args(["token", "create", "--role", "admin"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("rondo_admin_"));
    let mut child = clean_env(&mut Command::new(BIN))
        .env("RONDO_DATABASE_URL", &db)
        .env("RONDO_LISTEN", format!("127.0.0.1:{port}"))
        .env("RONDO_ENV", "prod")
        .env(
            "RONDO_SECRET_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(port);
    assert!(get_status(port, "/admin/api/teams", &token).contains("200"));
    // In prod there are no dev tokens.
    assert!(get_status(port, "/admin/api/teams", "dev-admin-token").contains("401"));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "rondo did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
}
