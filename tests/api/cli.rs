//! The binary as an operator runs it: help lists the settings, bad settings name their variable, SIGTERM
//! stops it cleanly, `token create` makes a token the API accepts, `token list` shows stored tokens without
//! their secrets, `token revoke` shuts one out at once, and `RONDO_LOG_FORMAT=json` writes JSON lines that
//! carry each request's id.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::process::{free_port, rondo_command};

#[test]
fn help_lists_every_setting_with_its_default() {
    let out = rondo_command().arg("--help").output().unwrap();
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
        "RONDO_LOG_FORMAT",
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
        ("RONDO_LOG_FORMAT", "xml"),
    ] {
        let out = rondo_command().env(var, value).output().unwrap();
        assert!(!out.status.success(), "{var}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(var), "{var}: {err}");
    }
    let out = rondo_command().env("RONDO_ENV", "prod").output().unwrap();
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
    let out = rondo_command()
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
    let child = rondo_command()
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
    stop(child);
}

const PROD_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Runs `rondo <args>` against this database; the output, whatever the exit.
fn rondo(db: &str, args: &[&str]) -> std::process::Output {
    rondo_command()
        .env("RONDO_DATABASE_URL", db)
        .args(args)
        .output()
        .unwrap()
}

fn create_token(db: &str, role: &str) -> String {
    let out = rondo(db, &["token", "create", "--role", role]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `token list` as (id, role, created_at) rows, after checking it exits 0.
fn list_tokens(db: &str) -> (String, Vec<(String, String, String)>) {
    let out = rondo(db, &["token", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows = text
        .lines()
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 3, "line `{l}`");
            (cols[0].to_owned(), cols[1].to_owned(), cols[2].to_owned())
        })
        .collect();
    (text, rows)
}

/// The service in prod mode (no dev tokens) on this database and port, ready.
fn serve(db: &str, port: u16, extra: &[(&str, &str)], output: Stdio) -> std::process::Child {
    let mut cmd = rondo_command();
    cmd.env("RONDO_DATABASE_URL", db)
        .env("RONDO_LISTEN", format!("127.0.0.1:{port}"))
        .env("RONDO_ENV", "prod")
        .env("RONDO_SECRET_KEY", PROD_KEY)
        .stdout(output)
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    wait_ready(port);
    child
}

fn stop(mut child: std::process::Child) {
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

#[test]
fn token_list_shows_ids_and_roles_and_revoke_shuts_a_token_out_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/rondo.db?mode=rwc", dir.path().display());
    let admin = create_token(&db, "admin");
    let chat = create_token(&db, "chat");
    let (text, rows) = list_tokens(&db);
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0].1, "admin");
    assert_eq!(rows[1].1, "chat");
    for (id, _, created_at) in &rows {
        assert!(uuid::Uuid::parse_str(id).is_ok(), "id `{id}`");
        assert!(
            chrono::DateTime::parse_from_rfc3339(created_at).is_ok(),
            "created_at `{created_at}`"
        );
    }
    for secret in [&admin, &chat] {
        assert!(!text.contains(secret.as_str()), "a token is listed");
        assert!(
            !text.contains(&rondo::http::auth::hash_token(secret)),
            "a token's hash is listed"
        );
    }
    let admin_id = rows[0].0.clone();

    let port = free_port();
    let child = serve(&db, port, &[], Stdio::null());
    assert!(get_status(port, "/admin/api/teams", &admin).contains("200"));
    assert!(get_status(port, "/v1/activities", &chat).contains("200"));

    let out = rondo(&db, &["token", "revoke", &admin_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8(out.stdout).unwrap().contains(&admin_id));
    // The running service looks tokens up per request: refused from the very next one.
    assert!(get_status(port, "/admin/api/teams", &admin).contains("401"));
    assert!(get_status(port, "/v1/activities", &chat).contains("200"));
    let (_, rows) = list_tokens(&db);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, "chat");
    stop(child);
}

#[test]
fn revoking_an_unknown_token_id_fails_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/rondo.db?mode=rwc", dir.path().display());
    create_token(&db, "chat");
    let (before, _) = list_tokens(&db);
    for id in [uuid::Uuid::now_v7().to_string(), "not-an-id".to_owned()] {
        let out = rondo(&db, &["token", "revoke", &id]);
        assert!(!out.status.success(), "revoke {id} succeeded");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(&id), "{err}");
    }
    let (after, _) = list_tokens(&db);
    assert_eq!(before, after);
}

#[test]
fn json_logs_are_json_lines_carrying_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/rondo.db?mode=rwc", dir.path().display());
    let token = create_token(&db, "admin");
    let port = free_port();
    let mut child = serve(&db, port, &[("RONDO_LOG_FORMAT", "json")], Stdio::piped());
    // Drained on a thread so the service never blocks on a full pipe.
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let request_id = format!("cli-json-{}", uuid::Uuid::now_v7());
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET /admin/api/teams HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\nx-request-id: {request_id}\r\nconnection: close\r\n\r\n").unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        assert!(buf.starts_with("HTTP/1.1 200"), "{buf}");
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let carrying = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match lines.recv_timeout(left) {
            Ok(line) => line,
            Err(_) => panic!("no log line carries {request_id}; lines: {seen:#?}"),
        };
        let value: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        if line.contains(&request_id) {
            break value;
        }
        seen.push(line);
    };
    assert_eq!(
        carrying["span"]["request_id"],
        request_id.as_str(),
        "{carrying}"
    );
    assert_eq!(carrying["fields"]["status"], 200, "{carrying}");
    stop(child);
    // Everything written up to the exit is JSON too.
    for line in lines.iter() {
        assert!(
            serde_json::from_str::<serde_json::Value>(&line).is_ok(),
            "log line is not JSON: {line}"
        );
    }
    reader.join().unwrap();
}
