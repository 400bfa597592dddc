//! `spawn_app`: the real rondo on 127.0.0.1:0 with a fresh database (a SQLite file, or a PostgreSQL database
//! of its own when `RONDO_TEST_POSTGRES_URL` is set: see `postgres`), a clock the test sets, and the scripted
//! calendars; `TestApp` wraps the calls a chat service or an admin makes.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use reqwest::{Client, Response};
use rondo::app::Clock;
use rondo::calendar::Calendars;
use rondo::config::Settings;
use rondo::domain::availability::Span;
use rondo::Application;
use serde_json::{json, Value};

use super::calendar::ScriptedCalendars;

pub const ADMIN: &str = "test-admin-token";
pub const CHAT: &str = "test-chat-token";

/// A clock the test moves by hand.
pub struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub clock: Arc<TestClock>,
    pub calendars: Arc<ScriptedCalendars>,
    pub app: rondo::app::App,
    /// The database the app runs on.
    pub database_url: String,
    _dir: tempfile::TempDir,
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Monday 23 November 2026, 06:00 UTC: the default "now" of tests.
pub fn default_now() -> DateTime<Utc> {
    at("2026-11-23T06:00:00Z")
}

pub struct Options {
    pub now: DateTime<Utc>,
    pub rate_per_minute: u32,
    /// Send email over SMTP here (else .eml files in `TestApp::mail_dir()`).
    pub smtp_url: Option<String>,
    /// Extra root certificates (PEM file) for the SMTP server's TLS.
    pub smtp_ca_file: Option<String>,
    /// Register rondo with this (fake) Google: authorize URL, token URL, Calendar API base.
    pub google: Option<[String; 3]>,
    /// Register rondo with this (fake) Microsoft: authority, Graph base.
    pub microsoft: Option<[String; 2]>,
    /// `RONDO_WEBHOOK_ALLOW_PRIVATE` (None: the dev default, allowed).
    pub webhook_allow_private: Option<bool>,
    /// `RONDO_METRICS_TOKEN`.
    pub metrics_token: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            now: default_now(),
            rate_per_minute: 100_000,
            smtp_url: None,
            smtp_ca_file: None,
            google: None,
            microsoft: None,
            webhook_allow_private: None,
            metrics_token: None,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(o: Options) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings::defaults();
    s.listen = "127.0.0.1:0".into();
    s.database_url = if super::postgres::enabled() {
        // Replicas share one key; the tests' is fixed.
        s.secret_key = Some(TEST_SECRET_KEY.into());
        super::postgres::fresh_database().await
    } else {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("rondo.db").display()
        )
    };
    let database_url = s.database_url.clone();
    s.run_mode = "dev".into();
    s.admin_token = Some(ADMIN.into());
    s.chat_token = Some(CHAT.into());
    s.chat_rate_per_minute = o.rate_per_minute;
    s.http_workers = 2;
    s.smtp_url = o.smtp_url.clone();
    s.smtp_ca_file = o.smtp_ca_file.clone();
    s.mail_dir = dir.path().join("mail").display().to_string();
    s.webhook_allow_private = o.webhook_allow_private;
    s.metrics_token = o.metrics_token.clone();
    if let Some([auth, token, api]) = o.google.clone() {
        s.google_client_id = Some(super::google::GOOGLE_CLIENT_ID.into());
        s.google_client_secret = Some(super::google::GOOGLE_CLIENT_SECRET.into());
        s.google_auth_url = auth;
        s.google_token_url = token;
        s.google_api_url = api;
    }
    if let Some([authority, graph]) = o.microsoft.clone() {
        s.microsoft_client_id = Some(super::microsoft::MICROSOFT_CLIENT_ID.into());
        s.microsoft_client_secret = Some(super::microsoft::MICROSOFT_CLIENT_SECRET.into());
        s.microsoft_authority = authority;
        s.microsoft_graph_url = graph;
    }
    // Bound first, so links and OAuth redirect URIs name the real port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    s.public_url = address.clone();
    let config = s.check().unwrap();
    let clock = Arc::new(TestClock(Mutex::new(o.now)));
    let calendars = Arc::new(ScriptedCalendars::default());
    let application = Application::build_on(
        config,
        listener,
        clock.clone(),
        Calendars::new(calendars.clone()),
    )
    .await
    .unwrap();
    let app = application.app.clone();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: Client::new(),
        clock,
        calendars,
        app,
        database_url,
        _dir: dir,
    }
}

/// The key tests on PostgreSQL run with (base64 of 32 bytes).
pub const TEST_SECRET_KEY: &str = "cm9uZG8tdGVzdHMtc2VjcmV0LWtleS0zMi1ieXRlcyE=";

/// Weekly hours for every weekday.
pub fn weekdays(from: &str, to: &str) -> Value {
    json!({"mon": [[from, to]], "tue": [[from, to]], "wed": [[from, to]], "thu": [[from, to]], "fri": [[from, to]]})
}

impl TestApp {
    /// The database file (to look at what is stored at rest), on SQLite.
    pub fn db_path(&self) -> std::path::PathBuf {
        self._dir.path().join("rondo.db")
    }

    /// Whether these bytes appear anywhere in what the database keeps: SQLite's files (the database and
    /// its WAL), or every row of every table on PostgreSQL (as text, or hex as `bytea` is written out).
    pub async fn stored_anywhere(&self, needle: &[u8]) -> bool {
        if super::postgres::enabled() {
            let stored = super::postgres::everything_stored(&self.database_url).await;
            assert!(!stored.is_empty(), "the rows were read");
            let hex: String = needle.iter().map(|b| format!("{b:02x}")).collect();
            return stored.contains(&*String::from_utf8_lossy(needle)) || stored.contains(&hex);
        }
        let mut stored = Vec::new();
        for suffix in ["", "-wal"] {
            let p = format!("{}{suffix}", self.db_path().display());
            stored.extend(std::fs::read(&p).unwrap_or_default());
        }
        assert!(stored.len() > 4096, "the database files were found");
        stored.windows(needle.len()).any(|w| w == needle)
    }

    /// Runs `sql` (a statement with one placeholder, `$1`, for a row's id) as it is written, bypassing the
    /// store: rows as an older release or a hand edit left them.
    pub async fn edit_row(&self, sql: &str, id: uuid::Uuid) {
        let store = &self.app.store;
        let mut tx = store.begin_write().await.unwrap();
        match &mut tx {
            rondo::store::Conn::Sqlite(tx) => sqlx::query(sql)
                .bind(id.to_string())
                .execute(&mut **tx)
                .await
                .map(drop),
            rondo::store::Conn::Postgres(tx) => {
                sqlx::query(sql).bind(id).execute(&mut **tx).await.map(drop)
            }
        }
        .unwrap();
        store.commit(tx).await.unwrap();
    }

    /// Where emails are filed when no SMTP server is configured.
    pub fn mail_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("mail")
    }

    /// The .eml files written so far.
    pub fn emails(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.mail_dir()) else {
            return Vec::new();
        };
        let mut files: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// Jobs of one kind in one status.
    pub async fn jobs_of(&self, kind: &str, status: &str) -> Vec<Value> {
        self.jobs(status)
            .await
            .into_iter()
            .filter(|j| j["kind"] == kind)
            .collect()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// GET and parse the JSON answer (whatever its status).
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        self.get(path, token).await.json().await.unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .put(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a team with these settings over the defaults; panics unless 201.
    pub async fn create_team(&self, slug: &str, extra: Value) -> Value {
        let mut body = json!({"slug": slug, "name": slug.to_uppercase()});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        let r = self.post("/admin/api/teams", ADMIN, &body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    /// Creates an agent in these teams working 09:00-17:00 on weekdays in `zone`; returns its JSON.
    pub async fn create_agent(&self, name: &str, zone: &str, teams: &[&str]) -> Value {
        self.create_agent_with(json!({
            "name": name,
            "email": format!("{}@agents.test", name.to_lowercase().replace(' ', ".")),
            "timezone": zone,
            "weekly_hours": weekdays("09:00", "17:00"),
            "teams": teams,
        }))
        .await
    }

    pub async fn create_agent_with(&self, body: Value) -> Value {
        let r = self.post("/admin/api/agents", ADMIN, &body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub async fn availability(&self, team: &str, query: &str) -> Response {
        self.get(&format!("/v1/teams/{team}/availability?{query}"), CHAT)
            .await
    }

    /// Slot starts (as UTC instants) from an availability answer.
    pub async fn slot_starts(&self, team: &str, from: &str, to: &str) -> Vec<DateTime<Utc>> {
        let r = self
            .availability(team, &format!("from={}&to={}&tz=UTC", enc(from), enc(to)))
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let body: Value = r.json().await.unwrap();
        body["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| at(s["start"].as_str().unwrap()))
            .collect()
    }

    pub async fn book_with_key(&self, key: &str, body: &Value) -> Response {
        self.client
            .post(self.url("/v1/bookings"))
            .bearer_auth(CHAT)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Books `start` in `team` for a visitor; returns the response.
    pub async fn book(&self, team: &str, start: &str, email: &str) -> Response {
        let body = booking_body(team, start, email);
        self.book_with_key(&uuid::Uuid::now_v7().to_string(), &body)
            .await
    }

    /// Books and expects 201; returns the booking.
    pub async fn book_ok(&self, team: &str, start: &str, email: &str) -> Value {
        let r = self.book(team, start, email).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    /// Asks to move the booking to `start`, as the chat service does.
    pub async fn reschedule(&self, id: &str, start: &str) -> Response {
        self.post(
            &format!("/v1/bookings/{id}/reschedule"),
            CHAT,
            &json!({ "start": start }),
        )
        .await
    }

    /// Moves the booking and expects 200; returns the booking.
    pub async fn reschedule_ok(&self, id: &str, start: &str) -> Value {
        let r = self.reschedule(id, start).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub async fn meetings(&self, query: &str) -> Value {
        let r = self
            .get(&format!("/admin/api/meetings?{query}"), ADMIN)
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    /// Runs the outbox jobs due at the test clock's "now"; returns how many ran.
    pub async fn run_jobs(&self) -> usize {
        rondo::outbox::run_due_jobs(&self.app).await.unwrap()
    }

    /// Moves the test clock forward.
    pub fn advance(&self, d: Duration) {
        self.clock.set(self.clock.now() + d);
    }

    pub async fn jobs(&self, status: &str) -> Vec<Value> {
        let r = self
            .get(&format!("/admin/api/jobs?status={status}"), ADMIN)
            .await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["jobs"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Marks an agent busy in its calendar for [start, start + minutes).
    pub fn busy(&self, email: &str, blocks: &[(&str, i64)]) {
        self.calendars.set_busy(
            email,
            blocks
                .iter()
                .map(|(s, m)| Span {
                    start: at(s),
                    end: at(s) + Duration::minutes(*m),
                })
                .collect(),
        );
    }
}

pub fn booking_body(team: &str, start: &str, email: &str) -> Value {
    json!({
        "team": team,
        "start": start,
        "visitor": {"email": email, "name": "Vera Visitor", "company": "Acme", "timezone": "Europe/Amsterdam"},
        "session_id": "s-1",
        "dialogue_id": "d-1",
        "attributes": {"state": "CA"},
    })
}

/// Percent-encodes what an RFC 3339 instant needs in a query string.
pub fn enc(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// Asserts a problem+json answer with this status and type suffix; returns the body.
pub async fn expect_problem(r: Response, status: u16, kind: &str) -> Value {
    assert_eq!(r.status().as_u16(), status);
    let ct = r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    assert!(r.headers().get("x-request-id").is_some());
    let body: Value = r.json().await.unwrap();
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{kind}")),
        "{body}"
    );
    assert_eq!(body["status"], status);
    assert!(body["request_id"].is_string(), "{body}");
    body
}
