//! The rondo binary as its own process, for tests that must see what an attack does to the process itself:
//! whether it is still alive, and how much memory it holds (read from /proc), with nothing else of the test
//! run sharing its address space.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rondo");
pub const ADMIN: &str = "proc-admin-token";
pub const CHAT: &str = "proc-chat-token";

/// A port nothing listens on right now (the OS's pick), for a process or server the test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The rondo binary, to be run with only the `RONDO_*` settings the test gives it (none inherited from
/// the environment the tests run in).
pub fn rondo_command() -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("RONDO_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

pub struct RondoProcess {
    child: Child,
    pub base: String,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl RondoProcess {
    /// Starts rondo on a fresh SQLite database and a free port, with the given extra `RONDO_*` settings,
    /// and waits until it answers `/readyz`.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut cmd = rondo_command();
        cmd.env(
            "RONDO_DATABASE_URL",
            format!("sqlite://{}/rondo.db?mode=rwc", dir.path().display()),
        )
        .env("RONDO_LISTEN", format!("127.0.0.1:{port}"))
        .env("RONDO_PUBLIC_URL", &base)
        .env("RONDO_ADMIN_TOKEN", ADMIN)
        .env("RONDO_CHAT_TOKEN", CHAT)
        .env("RONDO_MAIL_DIR", dir.path().join("mail"))
        .env("RONDO_HTTP_WORKERS", "2");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let me = Self {
            child,
            base,
            client: reqwest::Client::new(),
            _dir: dir,
        };
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = me.client.get(me.url("/readyz")).send().await {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(Instant::now() < until, "rondo did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        me
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// True while the process has not exited.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// A line of /proc/<pid>/status in kB: `VmRSS` (resident now) or `VmHWM` (the peak so far).
    pub fn memory_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let mut r = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(b);
        }
        r.send().await.unwrap()
    }
}

impl RondoProcess {
    /// A team `sales` and these agents in it (Amsterdam, weekdays 09:00–17:00); the agents' JSON.
    pub async fn seed_sales(&self, agents: &[&str]) -> Vec<serde_json::Value> {
        let team = serde_json::json!({"slug": "sales", "name": "Sales"});
        let r = self
            .send(
                reqwest::Method::POST,
                "/admin/api/teams",
                ADMIN,
                Some(&team),
            )
            .await;
        assert_eq!(r.status(), 201);
        let mut made = Vec::new();
        for name in agents {
            let agent = serde_json::json!({"name": name, "email": format!("{name}@agents.test"),
                "timezone": "Europe/Amsterdam", "teams": ["sales"],
                "weekly_hours": super::weekdays("09:00", "17:00")});
            let r = self
                .send(
                    reqwest::Method::POST,
                    "/admin/api/agents",
                    ADMIN,
                    Some(&agent),
                )
                .await;
            assert_eq!(r.status(), 201);
            made.push(r.json().await.unwrap());
        }
        made
    }
}

impl Drop for RondoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
