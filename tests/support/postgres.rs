//! The suite on PostgreSQL: with `RONDO_TEST_POSTGRES_URL` set (a server and a database to connect to,
//! `postgres://postgres@127.0.0.1:5432/test` in CI), every `spawn_app` gets a database of its own, made on
//! that server. Without it the suite runs on SQLite; under `CI=true` an unreachable server fails the test,
//! never skips it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, PgConnection, Row};

/// The server the suite runs on, when it runs on PostgreSQL.
pub fn server_url() -> Option<String> {
    std::env::var("RONDO_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// Whether this run of the suite is on PostgreSQL.
pub fn enabled() -> bool {
    server_url().is_some()
}

/// The server for a test that needs PostgreSQL whichever backend the suite runs on (several replicas):
/// `RONDO_TEST_POSTGRES_URL`, else under `CI=true` CI's server (unreachable: the test fails). `None` only
/// outside CI with no server configured: the caller says it did not run.
pub fn server_for_replicas() -> Option<String> {
    server_url().or_else(|| {
        (std::env::var("CI").as_deref() == Ok("true"))
            .then(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    })
}

/// Databases are named `rondo_t_{unix seconds}_{random}`: those left by runs more than a day old are
/// dropped the first time a test process makes one.
const PREFIX: &str = "rondo_t_";
static SWEPT: AtomicBool = AtomicBool::new(false);

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let base = base.trim_end_matches('/');
    // postgres://user@host:port/db → replace the path's database.
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    format!("{root}/{db}{query}")
}

async fn connect(url: &str) -> PgConnection {
    match PgConnection::connect(url).await {
        Ok(c) => c,
        Err(e) => panic!(
            "PostgreSQL at {url} cannot be reached ({e}): start it (.ci/postgres), or outside CI \
             unset RONDO_TEST_POSTGRES_URL to run on SQLite"
        ),
    }
}

/// A new, empty database on the test server; its URL.
pub async fn fresh_database() -> String {
    fresh_database_on(&server_url().expect("RONDO_TEST_POSTGRES_URL is set")).await
}

/// A new, empty database on `server`; its URL.
pub async fn fresh_database_on(server: &str) -> String {
    let mut admin = connect(server).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if !SWEPT.swap(true, Ordering::SeqCst) {
        let old: Vec<String> =
            sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE 'rondo\\_t\\_%'")
                .fetch_all(&mut admin)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>(0))
                .collect();
        for name in old {
            let made: u64 = name[PREFIX.len()..]
                .split('_')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(u64::MAX);
            if made + 86_400 < now {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            }
        }
    }
    let name = format!("{PREFIX}{now}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .unwrap();
    with_database(server, &name)
}

/// The text of every row of every table in the database at `url`, as PostgreSQL writes rows out
/// (`bytea` in hex): what is stored at rest.
pub async fn everything_stored(url: &str) -> String {
    let mut c = connect(url).await;
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    let mut all = String::new();
    for t in tables {
        let rows = sqlx::query(&format!("SELECT CAST(t AS text) FROM \"{t}\" t"))
            .fetch_all(&mut c)
            .await
            .unwrap();
        for r in rows {
            all.push_str(&r.get::<String, _>(0));
            all.push('\n');
        }
    }
    all
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_in_a_url_is_replaced_and_its_options_kept() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://h:1", "x"),
            "postgres://h:1/x"
        );
    }
}
