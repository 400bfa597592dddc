//! Loopback load driver (`cargo bench --bench load`): starts the real `rondo` binary (the release build
//! `cargo bench` makes) with demo calendars on a fresh database — SQLite by default, PostgreSQL when
//! LOAD_POSTGRES_URL is set, served by LOAD_REPLICAS processes sharing it — seeds a team of 10 agents, then
//! measures
//!   1. availability over HTTP (14-day window) with many concurrent keep-alive connections,
//!   2. bookings (distinct slots, unique Idempotency-Keys),
//!   3. each server's resident memory after the load (VmRSS / VmHWM from /proc; with several replicas, each
//!      and their sum),
//!   4. where the CPU went during each phase (the rondo processes, all PostgreSQL processes, this driver,
//!      the machine as a whole with niced work and iowait apart; from /proc), and on PostgreSQL what the
//!      database's backends were doing (pg_stat_activity sampled every 10 ms: how many wait on a lock, on
//!      the WAL, on the client, or run, and which statements run), so the bottleneck can be named with its
//!      figure.
//!
//! Requests are bounded in count and time; everything stays on 127.0.0.1. With several replicas, request
//! number i goes to replica i % LOAD_REPLICAS (seeding goes to replica 0). Any answer other than the
//! expected one is counted by status (and the first body of each 5xx printed); each replica's stderr is
//! shown prefixed with its number (the first lines of it) and its WARN/ERROR lines are counted. Figures go
//! to BENCHMARKS.md.
//!
//! The limit beside the bookings, measured in the same run right after them:
//!   - SQLite: ../shared/limits/sqlite_booking_txn.py (a booking-shaped SQLite transaction from Python, the
//!     floor DESIGN.md "Scale" quotes);
//!   - PostgreSQL: a booking-shaped transaction driven from here with sqlx, with the replicas stopped, in a
//!     second fresh database with migrations/postgres applied: the statements rondo's booking runs (the
//!     Idempotency-Key claim committed on its own, then the key locked, team and candidates locked in one
//!     statement, the claim facts read, and meeting, pointer, activity, two jobs and the key's outcome
//!     written in one statement; see `raw_booking`). It also prints how long each transaction held the
//!     team's row (every booking of a team queues on it, so one team's bookings/s cannot pass 1 / that
//!     time) and its COMMIT alone. What rondo does around that transaction is not in it: the reads before
//!     it (the team, the candidates' calendars), the inline calendar sync's writes after the commit, and
//!     the alternatives a 409 answer computes.
//!
//! rondo's bookings/s is printed as a share of it.
//!
//! Knobs (environment): LOAD_SECONDS (default 10), LOAD_CONNECTIONS (default 32), LOAD_SYNCHRONOUS
//! (full|normal, default full; SQLite only), LOAD_RONDO_BIN (another rondo binary to measure, e.g. an older
//! build, so two builds can be compared in one sitting; default: this build's), LOAD_BARE_BIN (the binary of
//! ../shared/limits/bare-availability: when set, it serves the same availability answer right after rondo,
//! and rondo's req/s is printed as a share of it), LOAD_POSTGRES_URL (a PostgreSQL server URL: the driver
//! creates a fresh database `rondo_load_<unix secs>_<random>` on it, runs rondo there with a random shared
//! RONDO_SECRET_KEY, and drops it at the end, with the raw limit's `…_raw` database), LOAD_REPLICAS
//! (default 1: how many rondo processes share the database, each on its own port), LOAD_RAW_CONNECTIONS
//! (PostgreSQL only: the raw transaction's concurrent connections; default LOAD_CONNECTIONS).
//!
//! Commands (`bash .ci/postgres` starts a server on 127.0.0.1:5432 with a database `test`):
//!   cargo bench --bench load
//!   LOAD_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test LOAD_REPLICAS=1 cargo bench --bench load
//!   LOAD_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test LOAD_REPLICAS=3 cargo bench --bench load

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

const ADMIN: &str = "load-admin-token";
const CHAT: &str = "load-chat-token";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A database created for this run on the PostgreSQL server of LOAD_POSTGRES_URL, dropped when this goes.
struct ScratchDb {
    server: String,
    name: String,
    url: String,
}

impl ScratchDb {
    async fn create(server: &str, name: String) -> ScratchDb {
        let mut admin = PgConnection::connect(server)
            .await
            .unwrap_or_else(|e| panic!("LOAD_POSTGRES_URL {server}: {e}"));
        admin
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = admin.close().await;
        let mut url = url::Url::parse(server).expect("LOAD_POSTGRES_URL is a URL");
        url.set_path(&format!("/{name}"));
        ScratchDb {
            server: server.to_owned(),
            name,
            url: url.into(),
        }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        // On a thread of its own: this may run inside the driver's runtime (or while unwinding out of it).
        let (server, name) = (self.server.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut admin = PgConnection::connect(&server).await?;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                    .await?;
                admin.close().await
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => println!("dropped database {}", self.name),
            Ok(Err(e)) => eprintln!("could not drop database {}: {e}", self.name),
            Err(_) => eprintln!("could not drop database {}", self.name),
        }
    }
}

/// The database the replicas share.
enum Database {
    Sqlite(tempfile::TempDir),
    Postgres(ScratchDb),
}

impl Database {
    fn url(&self) -> String {
        match self {
            Database::Sqlite(dir) => format!("sqlite://{}/rondo.db?mode=rwc", dir.path().display()),
            Database::Postgres(db) => db.url.clone(),
        }
    }
}

/// What a replica wrote on stderr.
#[derive(Default)]
struct StderrTally {
    lines: AtomicUsize,
    warn: AtomicUsize,
    error: AtomicUsize,
}

struct Server {
    child: Child,
    base: String,
    stderr: Arc<StderrTally>,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines of a replica's stderr shown as they come; the rest is only counted (ERROR lines: up to 10 more).
const STDERR_SHOWN: usize = 20;

fn start_server(
    replica: usize,
    synchronous: &str,
    database: &Database,
    secret: Option<&str>,
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bin =
        std::env::var("LOAD_RONDO_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_rondo").into());
    let mut command = Command::new(bin);
    command
        .env("RONDO_LISTEN", format!("127.0.0.1:{port}"))
        .env("RONDO_DATABASE_URL", database.url())
        .env("RONDO_ENV", "dev")
        .env("RONDO_ADMIN_TOKEN", ADMIN)
        .env("RONDO_CHAT_TOKEN", CHAT)
        .env("RONDO_CHAT_RATE_PER_MINUTE", "100000000")
        .env("RONDO_SQLITE_SYNCHRONOUS", synchronous)
        .env("RONDO_LOG", "warn")
        .env("RONDO_MAIL_DIR", dir.path().join("mail"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(key) = secret {
        command.env("RONDO_SECRET_KEY", key);
    }
    let mut child = command.spawn().expect("start rondo");
    let stderr = Arc::new(StderrTally::default());
    let (pipe, tally) = (child.stderr.take().unwrap(), stderr.clone());
    std::thread::spawn(move || {
        let mut errors_shown = 0;
        for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
            let n = tally.lines.fetch_add(1, Ordering::Relaxed);
            let error = line.contains("ERROR");
            if error {
                tally.error.fetch_add(1, Ordering::Relaxed);
            } else if line.contains("WARN") {
                tally.warn.fetch_add(1, Ordering::Relaxed);
            }
            if n < STDERR_SHOWN || (error && errors_shown < 10) {
                if n >= STDERR_SHOWN {
                    errors_shown += 1;
                }
                eprintln!("[replica {replica}] {line}");
            }
        }
    });
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        stderr,
        _dir: dir,
    }
}

/// How many lines each replica wrote on stderr so far, and how many of them were ERROR and WARN lines.
fn stderr_summary(servers: &[Server]) {
    for (k, s) in servers.iter().enumerate() {
        let t = &s.stderr;
        println!(
            "replica {k} stderr: {} lines ({} ERROR, {} WARN)",
            t.lines.load(Ordering::Relaxed),
            t.error.load(Ordering::Relaxed),
            t.warn.load(Ordering::Relaxed)
        );
    }
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The servers' resident memory now and at its peak: as "X KB (peak Y KB)" for one, each and the sum for
/// several.
fn memory(servers: &[Server]) -> String {
    let of = |s: &Server| {
        let pid = s.child.id();
        (status_kb(pid, "VmRSS:"), status_kb(pid, "VmHWM:"))
    };
    if let [one] = servers {
        let (rss, hwm) = of(one);
        return format!("{rss} KB (peak {hwm} KB)");
    }
    let (mut sum_rss, mut sum_hwm, mut each) = (0, 0, Vec::new());
    for (k, s) in servers.iter().enumerate() {
        let (rss, hwm) = of(s);
        sum_rss += rss;
        sum_hwm += hwm;
        each.push(format!(
            "replica {k} (pid {}) {rss} KB (peak {hwm} KB)",
            s.child.id()
        ));
    }
    format!(
        "{}; sum {sum_rss} KB (peaks summed {sum_hwm} KB)",
        each.join(", ")
    )
}

/// CPU time used so far (user + system, in clock ticks) by each server, by every process named `postgres`
/// (all the server's backends and helpers, whichever database they serve), by this driver, and by the
/// machine (busy outside niced work, iowait, niced work, all).
struct CpuSnapshot {
    at: Instant,
    servers: Vec<u64>,
    postgres: HashMap<u32, u64>,
    driver: u64,
    machine_busy: u64,
    machine_iowait: u64,
    machine_nice: u64,
    machine_all: u64,
}

fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's closing parenthesis: field 3 (state) onwards; utime and stime are fields 14, 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn cpu_snapshot(servers: &[Server]) -> CpuSnapshot {
    let mut postgres = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(pid) = name.parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            if let Some(t) = process_ticks(&name) {
                postgres.insert(pid, t);
            }
        }
    }
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    // cpu  user nice system idle iowait irq softirq steal
    let cpu: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse().ok())
        .collect();
    let machine_all: u64 = cpu.iter().sum();
    let field = |k: usize| cpu.get(k).copied().unwrap_or(0);
    // Niced work (another build, say) takes only what is left over: counted apart, not as busy.
    let idle = field(1) + field(3) + field(4);
    CpuSnapshot {
        at: Instant::now(),
        servers: servers
            .iter()
            .map(|s| process_ticks(&s.child.id().to_string()).unwrap_or(0))
            .collect(),
        postgres,
        driver: process_ticks("self").unwrap_or(0),
        machine_busy: machine_all - idle,
        machine_iowait: field(4),
        machine_nice: field(1),
        machine_all,
    }
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Prints where the CPU went between two snapshots, in % of one core.
fn report_cpu(phase: &str, before: &CpuSnapshot, after: &CpuSnapshot) {
    let hz = clock_ticks_per_second();
    let secs = after.at.duration_since(before.at).as_secs_f64();
    let pct = |ticks: u64| 100.0 * ticks as f64 / hz / secs;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let (mut parts, mut accounted) = (Vec::new(), 0);
    if !after.servers.is_empty() {
        let each: Vec<u64> = after
            .servers
            .iter()
            .zip(&before.servers)
            .map(|(a, b)| a.saturating_sub(*b))
            .collect();
        let sum: u64 = each.iter().sum();
        accounted += sum;
        let mut text = format!("rondo {:.0} %", pct(sum));
        if each.len() > 1 {
            let list: Vec<String> = each
                .iter()
                .enumerate()
                .map(|(k, t)| format!("replica {k} {:.0} %", pct(*t)))
                .collect();
            text.push_str(&format!(" ({})", list.join(", ")));
        }
        parts.push(text);
    }
    let postgres: u64 = after
        .postgres
        .iter()
        .map(|(pid, t)| t.saturating_sub(before.postgres.get(pid).copied().unwrap_or(0)))
        .sum();
    parts.push(format!("postgres processes {:.0} %", pct(postgres)));
    let driver = after.driver.saturating_sub(before.driver);
    parts.push(format!("driver {:.0} %", pct(driver)));
    accounted += postgres + driver;
    // The machine's counters tick at the same rate per core: as % of one core over the same time.
    let all = after.machine_all.saturating_sub(before.machine_all).max(1);
    let of_machine = |ticks: u64| 100.0 * cores as f64 * ticks as f64 / all as f64;
    let busy = of_machine(after.machine_busy.saturating_sub(before.machine_busy));
    parts.push(format!(
        "other processes {:.0} %",
        (busy - pct(accounted)).max(0.0)
    ));
    parts.push(format!("machine busy {busy:.0} % of {cores}00 %"));
    parts.push(format!(
        "iowait {:.0} %",
        of_machine(after.machine_iowait.saturating_sub(before.machine_iowait))
    ));
    parts.push(format!(
        "niced processes {:.0} %",
        of_machine(after.machine_nice.saturating_sub(before.machine_nice))
    ));
    println!("CPU during {phase} (% of one core): {}", parts.join(", "));
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Prints the phase's figures; returns its `ok` answers per second (`unit`: what one is, per second).
fn report(
    name: &str,
    unit: &str,
    ok: usize,
    other: usize,
    elapsed: Duration,
    mut lat: Vec<Duration>,
) -> f64 {
    lat.sort();
    println!(
        "{name}: {ok} ok, {other} other in {:.1} s = {:.0} {unit}; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    ok as f64 / elapsed.as_secs_f64()
}

async fn seed(client: &reqwest::Client, base: &str) {
    let team = json!({"slug": "load", "name": "Load", "meeting_minutes": 30, "slot_step_minutes": 30,
        "min_notice_minutes": 0, "horizon_days": 365});
    let r = client
        .post(format!("{base}/admin/api/teams"))
        .bearer_auth(ADMIN)
        .json(&team)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let zones = [
        "Europe/Amsterdam",
        "Europe/London",
        "America/New_York",
        "America/Chicago",
        "Asia/Kolkata",
    ];
    for i in 0..10 {
        let hours = json!([["08:00", "18:00"]]);
        let agent = json!({"name": format!("Agent {i}"), "email": format!("agent{i}@load.test"),
            "timezone": zones[i % zones.len()], "teams": ["load"],
            "weekly_hours": {"mon": hours, "tue": hours, "wed": hours, "thu": hours, "fri": hours}});
        let r = client
            .post(format!("{base}/admin/api/agents"))
            .bearer_auth(ADMIN)
            .json(&agent)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
}

/// Drives availability, request i on replica i % replicas; answers its req/s and the answer replica 0
/// served (for the limit beside it).
async fn availability_load(
    client: &reqwest::Client,
    bases: &[String],
    connections: usize,
    seconds: u64,
) -> (f64, Value) {
    let urls: Arc<Vec<String>> = Arc::new(
        bases
            .iter()
            .map(|base| format!("{base}/v1/teams/load/availability?tz=Europe/Amsterdam"))
            .collect(),
    );
    let probe: Value = client
        .get(urls[0].as_str())
        .bearer_auth(CHAT)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let n = probe["slots"].as_array().map(|a| a.len()).unwrap_or(0);
    let bytes = serde_json::to_vec(&probe).unwrap().len();
    println!("availability answer: {n} slots, {bytes} bytes");
    let client = client.clone();
    let rate = drive(
        "availability (10 agents, 14 days)",
        200,
        connections,
        seconds,
        move |i| Some(client.get(urls[i % urls.len()].as_str()).bearer_auth(CHAT)),
    )
    .await;
    (rate, probe)
}

/// The availability limit of ../shared/limits/bare-availability (a handler that only serializes the same
/// answer), driven the same way right after rondo: its req/s, when LOAD_BARE_BIN names its binary.
async fn bare_availability_limit(
    client: &reqwest::Client,
    answer: &Value,
    connections: usize,
    seconds: u64,
) -> Option<f64> {
    let bin = std::env::var("LOAD_BARE_BIN").ok()?;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answer.json");
    std::fs::write(&file, serde_json::to_vec(answer).unwrap()).unwrap();
    let mut child = Command::new(bin)
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let url = Arc::new("http://127.0.0.1:18090/serialize".to_owned());
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.get(url.as_str()).send().await.is_err() {
        assert!(Instant::now() < deadline, "bare-availability did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let c = client.clone();
    let rate = drive(
        "limit: serialize-only handler, same answer",
        200,
        connections,
        seconds,
        move |_| Some(c.get(url.as_str())),
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    Some(rate)
}

/// The bookings to make, read from replica 0: every free start of the next 360 days (enough work for the
/// whole phase), each bookable by up to 10 agents, three times over.
async fn booking_work(client: &reqwest::Client, base: &str) -> Arc<Vec<String>> {
    // Every free start of the next 360 days (enough work for the whole phase), each bookable by up to 10
    // agents: hand them out round robin.
    let from = chrono::Utc::now();
    let mut starts = Vec::new();
    for chunk in 0..12 {
        let f = from + chrono::Duration::days(30 * chunk);
        let t = f + chrono::Duration::days(30);
        let url = format!(
            "{base}/v1/teams/load/availability?from={}&to={}",
            enc(&f),
            enc(&t)
        );
        let body: Value = client
            .get(url)
            .bearer_auth(CHAT)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for s in body["slots"].as_array().unwrap() {
            starts.push(s["start"].as_str().unwrap().to_owned());
        }
    }
    Arc::new(
        starts
            .iter()
            .flat_map(|s| std::iter::repeat_n(s.clone(), 3))
            .collect(),
    )
}

/// Drives the bookings of `work`, request i on replica i % replicas.
async fn booking_load(
    client: &reqwest::Client,
    bases: &[String],
    work: Arc<Vec<String>>,
    connections: usize,
    seconds: u64,
) -> f64 {
    let urls: Vec<String> = bases.iter().map(|b| format!("{b}/v1/bookings")).collect();
    let client = client.clone();
    drive(
        "bookings (201 = booked; other = 409 slot taken)",
        201,
        connections,
        seconds,
        move |i| {
            let start = work.get(i)?;
            let body = json!({"team": "load", "start": start,
            "visitor": {"email": format!("lead{i}@example.com"), "timezone": "Europe/Amsterdam"}});
            Some(
                client
                    .post(&urls[i % urls.len()])
                    .bearer_auth(CHAT)
                    .header("Idempotency-Key", format!("load-{i}"))
                    .json(&body),
            )
        },
    )
    .await
}

/// The answers other than the expected one: how many of each status, the first body of each 5xx, and the
/// transport errors (with the first one's message).
#[derive(Default)]
struct Others {
    statuses: BTreeMap<u16, usize>,
    bodies: BTreeMap<u16, String>,
    errors: usize,
    first_error: Option<String>,
}

impl Others {
    fn print(&self, name: &str) {
        if self.statuses.is_empty() && self.errors == 0 {
            return;
        }
        let mut parts: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s} ×{n}"))
            .collect();
        if self.errors > 0 {
            parts.push(format!(
                "no answer ×{} (first: {})",
                self.errors,
                self.first_error.as_deref().unwrap_or("")
            ));
        }
        println!("  {name}, other answers: {}", parts.join(", "));
        for (status, body) in &self.bodies {
            println!("  first {status} body: {body}");
        }
    }
}

/// Sends requests from `connections` concurrent loops for `seconds` (or until `request` has no more work for
/// the next sequence number), counting answers with status `ok_status`, and prints the figures.
async fn drive<F>(name: &str, ok_status: u16, connections: usize, seconds: u64, request: F) -> f64
where
    F: Fn(usize) -> Option<reqwest::RequestBuilder> + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let others = Arc::new(Mutex::new(Others::default()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (request, next, others) = (request.clone(), next.clone(), others.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut other, mut lat) = (0usize, 0usize, Vec::new());
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(req) = request(i) else { break };
                let t = Instant::now();
                match req.send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body = r.bytes().await;
                        if status == ok_status {
                            ok += 1;
                        } else {
                            other += 1;
                            let mut o = others.lock().unwrap();
                            *o.statuses.entry(status).or_default() += 1;
                            if status >= 500 && !o.bodies.contains_key(&status) {
                                let text = body
                                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                                    .unwrap_or_else(|e| format!("(unreadable: {e})"));
                                o.bodies.insert(status, text);
                            }
                        }
                    }
                    Err(e) => {
                        other += 1;
                        let mut o = others.lock().unwrap();
                        o.errors += 1;
                        o.first_error.get_or_insert_with(|| format!("{e:?}"));
                    }
                }
                lat.push(t.elapsed());
            }
            (ok, other, lat)
        }));
    }
    let (mut ok, mut other, mut lat) = (0, 0, Vec::new());
    for t in tasks {
        let (o, x, l) = t.await.unwrap();
        ok += o;
        other += x;
        lat.extend(l);
    }
    let rate = report(name, "req/s", ok, other, start.elapsed(), lat);
    others.lock().unwrap().print(name);
    rate
}

/// The booking-shaped SQLite transaction of ../shared/limits, measured now: transactions per second.
fn raw_limit(synchronous: &str) -> Option<f64> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/limits/sqlite_booking_txn.py"
    );
    let out = Command::new("python3")
        .args([script, synchronous])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    println!("raw limit ({script}): {text}");
    text.split_whitespace().next()?.parse().ok()
}

// The raw booking-shaped PostgreSQL transaction: rondo's own statements (src/store/idempotency.rs
// `insert_claim`, src/store/batch.rs `ClaimFacts::read` and `Batch`), with `?` numbered as
// `sql::placeholders` numbers them for PostgreSQL.

/// The Idempotency-Key claim (`insert_claim`), committed in a transaction of its own (`Store::write_early`).
const RAW_CLAIM: &str = "INSERT INTO idempotency_keys (scope, key, request_hash, response_status, \
    response_body, locked_until, created_at, claim_token) VALUES ($1, $2, $3, NULL, NULL, $4, $5, $6) \
    ON CONFLICT (scope, key) DO NOTHING";
/// The claim facts for `n` candidates: the key's token, the pointer, the candidates with an overlapping
/// live meeting, the webhook endpoints and the members (no rules, no daily limits: as the load team).
fn raw_facts(n: usize) -> String {
    let marks: Vec<String> = (0..n).map(|k| format!("${}", k + 4)).collect();
    let marks = marks.join(",");
    let p = n + 4;
    format!(
        "SELECT 'key' AS what, claim_token AS v, CAST(NULL AS TEXT) AS events FROM idempotency_keys \
         WHERE scope = $1 AND key = $2\n\
         UNION ALL SELECT 'pointer', CAST(last_agent_id AS TEXT), NULL FROM teams WHERE id = $3\n\
         UNION ALL SELECT DISTINCT 'busy', CAST(agent_id AS TEXT), NULL FROM meetings \
         WHERE agent_id IN ({marks}) AND status = 'booked' AND blocked_from < ${} AND blocked_from > ${} \
         AND blocked_until > ${} AND id != ${}\n\
         UNION ALL SELECT 'endpoint', CAST(id AS TEXT), CAST(events AS TEXT) FROM webhook_endpoints \
         WHERE deleted_at IS NULL AND disabled_at IS NULL\n\
         UNION ALL SELECT 'member', CAST(a.id AS TEXT), CAST(a.paused AS TEXT) FROM team_members m \
         JOIN agents a ON a.id = m.agent_id WHERE m.team_id = ${} AND a.deleted_at IS NULL",
        p,
        p + 1,
        p + 2,
        p + 3,
        p + 4
    )
}
const RAW_INSERT_MEETING: &str = "INSERT INTO meetings (id, team_id, agent_id, starts_at, ends_at, \
    blocked_from, blocked_until, status, lead_email, lead_name, lead_company, lead_timezone, lead_locale, \
    session_id, dialogue_id, attributes, routing, took_place, cancel_reason, calendar_status, video_link, \
    created_at, updated_at, calendar_agent_id, calendar_lock_until, dialogue_name, page_url) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
    $21, $22, $23, $24, $25, $26, $27)";
const RAW_POINTER: &str = "UPDATE teams SET last_agent_id = $1 WHERE id = $2";
const RAW_ACTIVITY: &str =
    "INSERT INTO activities (id, type, occurred_at, meeting_id, data) VALUES ($1, $2, $3, $4, $5)";
const RAW_JOB: &str = "INSERT INTO jobs (id, kind, meeting_id, target, status, attempts, run_at, \
    created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6, $7)";
const RAW_OUTCOME: &str = "UPDATE idempotency_keys SET response_kind = $1, response_body = $2 \
    WHERE scope = $3 AND key = $4 AND claim_token = $5";

/// The booking's writes as rondo sends them (`Batch::run`): one statement, each write a part of a `WITH`,
/// their placeholders numbered on from the one before.
fn raw_write() -> String {
    let parts = [
        RAW_INSERT_MEETING,
        RAW_POINTER,
        RAW_ACTIVITY,
        RAW_JOB,
        RAW_JOB,
        RAW_OUTCOME,
    ];
    let mut offset = 0;
    let mut text = String::from("WITH ");
    for (i, part) in parts.iter().enumerate() {
        let mut renumbered = String::new();
        let mut highest = 0;
        let mut rest = *part;
        while let Some(at) = rest.find('$') {
            renumbered.push_str(&rest[..at]);
            let digits: String = rest[at + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let n: usize = digits.parse().unwrap();
            highest = highest.max(n);
            renumbered.push_str(&format!("${}", n + offset));
            rest = &rest[at + 1 + digits.len()..];
        }
        renumbered.push_str(rest);
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str(&format!("w{i} AS ({renumbered})"));
        offset += highest;
    }
    text.push_str(" SELECT 1");
    text
}

/// How far before a slot a live meeting's blocked range may begin (`meetings::MAX_BLOCK_SECONDS`).
const MAX_BLOCK_SECONDS: i64 = (8 + 4 + 4) * 3600;

/// The scratch database's team and agents.
struct RawSeed {
    team: Uuid,
    agents: Vec<Uuid>,
    facts: String,
    /// The team's row and the candidates' rows, locked in one statement (`ClaimFacts::read`).
    lock: String,
    write: String,
    /// The first meeting's start; meeting i starts 30 minutes after meeting i - 1, so no two overlap and
    /// `meetings_no_overlap` never refuses one.
    first: DateTime<Utc>,
}

/// Applies migrations/postgres (every file, in order) and seeds a team of 10 agents, as the admin API does.
async fn raw_prepare(c: &mut PgConnection) -> RawSeed {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        sqlx::raw_sql(&text)
            .execute(&mut *c)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
    let now = Utc::now().trunc_subsecs(0);
    let team = Uuid::now_v7();
    let hours = json!([["08:00", "18:00"]]);
    let weekly = json!({"mon": hours, "tue": hours, "wed": hours, "thu": hours, "fri": hours});
    let mut agents = Vec::new();
    for i in 0..10 {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO agents (id, name, email, timezone, weekly_hours, date_overrides, paused, calendar, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(format!("Agent {i}"))
        .bind(format!("agent{i}@load.test"))
        .bind("Europe/Amsterdam")
        .bind(sqlx::types::Json(&weekly))
        .bind(sqlx::types::Json(json!({})))
        .bind(false)
        .bind("demo")
        .bind(now)
        .execute(&mut *c)
        .await
        .unwrap();
        agents.push(id);
    }
    sqlx::query(
        "INSERT INTO teams (id, slug, name, meeting_minutes, mode, buffer_before, buffer_after, \
         min_notice_minutes, horizon_days, slot_step_minutes, last_agent_id, daily_limit, created_at) \
         VALUES ($1, 'load', 'Load', 30, 'pooled', 0, 0, 0, 365, 30, NULL, NULL, $2)",
    )
    .bind(team)
    .bind(now)
    .execute(&mut *c)
    .await
    .unwrap();
    for (position, agent) in agents.iter().enumerate() {
        sqlx::query("INSERT INTO team_members (team_id, agent_id, position) VALUES ($1, $2, $3)")
            .bind(team)
            .bind(agent)
            .bind(position as i32)
            .execute(&mut *c)
            .await
            .unwrap();
    }
    let marks: Vec<String> = (1..=agents.len()).map(|k| format!("${k}")).collect();
    RawSeed {
        team,
        facts: raw_facts(agents.len()),
        lock: format!(
            "SELECT t.id FROM teams t JOIN agents a ON a.id IN ({}) WHERE t.id = ${} \
             ORDER BY a.id FOR UPDATE",
            marks.join(","),
            agents.len() + 1
        ),
        write: raw_write(),
        agents,
        first: now + chrono::Duration::days(1),
    }
}

/// Booking number `i`, as rondo runs it on PostgreSQL: the key's claim in its own transaction, then the
/// booking's transaction (every candidate asked, the next agent after the pointer taken).
/// Answers how long the transaction held the team's row (from its lock to the end of the commit) and how
/// long its COMMIT took.
async fn raw_booking(
    c: &mut PgConnection,
    s: &RawSeed,
    i: usize,
) -> Result<(Duration, Duration), String> {
    let now = Utc::now().trunc_subsecs(0);
    let scope = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let key = format!("raw-{i}");
    let token = Uuid::now_v7().to_string();
    let hash = format!("{:064x}", i);
    let e = |what: &'static str| move |err: sqlx::Error| format!("{what}: {err}");

    let mut tx = c.begin().await.map_err(e("BEGIN (claim)"))?;
    let claimed = sqlx::query(RAW_CLAIM)
        .bind(scope)
        .bind(&key)
        .bind(&hash)
        .bind(now + chrono::Duration::seconds(60))
        .bind(now)
        .bind(&token)
        .execute(&mut *tx)
        .await
        .map_err(e("claim"))?;
    tx.commit().await.map_err(e("COMMIT (claim)"))?;
    if claimed.rows_affected() != 1 {
        return Err("claim: key already taken".into());
    }

    let start = s.first + chrono::Duration::minutes(30 * i as i64);
    let end = start + chrono::Duration::minutes(30);
    let mut tx = c.begin().await.map_err(e("BEGIN"))?;
    sqlx::query(
        "SELECT claim_token FROM idempotency_keys WHERE scope = $1 AND key = $2 FOR UPDATE",
    )
    .bind(scope)
    .bind(&key)
    .fetch_optional(&mut *tx)
    .await
    .map_err(e("lock key"))?;
    let mut q = sqlx::query(&s.lock);
    for a in &s.agents {
        q = q.bind(a);
    }
    q.bind(s.team)
        .fetch_all(&mut *tx)
        .await
        .map_err(e("lock team and candidates"))?;
    let locked = Instant::now();
    let mut q = sqlx::query(&s.facts)
        .bind(Some(scope))
        .bind(Some(&key))
        .bind(s.team);
    for a in &s.agents {
        q = q.bind(a);
    }
    let facts = q
        .bind(end)
        .bind(start - chrono::Duration::seconds(MAX_BLOCK_SECONDS))
        .bind(start)
        .bind(Uuid::nil())
        .bind(s.team)
        .fetch_all(&mut *tx)
        .await
        .map_err(e("claim facts"))?;
    use sqlx::Row;
    let mut pointer = None;
    for r in &facts {
        let what: String = r.get("what");
        let v: Option<String> = r.get("v");
        match what.as_str() {
            "key" if v.as_deref() != Some(token.as_str()) => return Err("key not held".into()),
            "busy" => return Err(format!("agent {v:?} busy: meetings overlap")),
            "pointer" => pointer = v.and_then(|v| Uuid::parse_str(&v).ok()),
            _ => {}
        }
    }
    // Round robin: the agent after the one who took the last meeting.
    let next = pointer
        .and_then(|p| s.agents.iter().position(|a| *a == p))
        .map_or(0, |k| (k + 1) % s.agents.len());
    let agent = s.agents[next];
    let meeting = Uuid::now_v7();
    let routing = json!({"step": "round_robin", "skipped": []});
    let email = format!("lead{i}@example.com");
    let q = sqlx::query(&s.write)
        .bind(meeting)
        .bind(s.team)
        .bind(agent)
        .bind(start)
        .bind(end)
        .bind(start)
        .bind(end)
        .bind("booked")
        .bind(&email)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(Some("Europe/Amsterdam"))
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(sqlx::types::Json(json!({})))
        .bind(sqlx::types::Json(&routing))
        .bind(None::<bool>)
        .bind(None::<String>)
        .bind("pending")
        .bind(None::<String>)
        .bind(now)
        .bind(now)
        .bind(agent)
        .bind(now + chrono::Duration::seconds(300))
        .bind(None::<String>)
        .bind(None::<String>);
    let q = q.bind(agent).bind(s.team);
    // `activity_data`: the meeting as marketing automation sees it.
    let data = json!({"meeting_id": meeting,
        "visitor": {"email": email, "name": null, "company": null, "timezone": "Europe/Amsterdam"},
        "session_id": null, "dialogue_id": null, "dialogue_name": null, "page_url": null,
        "agent": {"id": agent, "name": format!("Agent {next}"), "email": format!("agent{next}@load.test")},
        "start": start.to_rfc3339(), "end": end.to_rfc3339(), "team": "load", "team_name": "Load",
        "status": "booked", "routing": routing});
    let q = q
        .bind(Uuid::now_v7())
        .bind("meeting.scheduled")
        .bind(now)
        .bind(meeting)
        .bind(sqlx::types::Json(data));
    // The calendar sync and the invitation, due `FIRST_RUN_DELAY_SECONDS` later.
    let later = now + chrono::Duration::seconds(10);
    let email_target = format!("{meeting}:invitation:1");
    let mut q = q;
    for (kind, target) in [("calendar.sync", None), ("email.send", Some(email_target))] {
        q = q
            .bind(Uuid::now_v7())
            .bind(kind)
            .bind(Some(meeting))
            .bind(target)
            .bind(later)
            .bind(now)
            .bind(now);
    }
    q.bind("booked")
        .bind(meeting.to_string())
        .bind(scope)
        .bind(&key)
        .bind(&token)
        .execute(&mut *tx)
        .await
        .map_err(e("write"))?;
    let committing = Instant::now();
    tx.commit().await.map_err(e("COMMIT"))?;
    Ok((locked.elapsed(), committing.elapsed()))
}

/// The raw booking-shaped PostgreSQL transaction, from `connections` connections for `seconds`, in the
/// scratch database `db`: transactions per second.
async fn pg_raw_limit(db: &ScratchDb, connections: usize, seconds: u64) -> f64 {
    let mut setup = PgConnection::connect(&db.url).await.unwrap();
    let seed = Arc::new(raw_prepare(&mut setup).await);
    let _ = setup.close().await;
    let mut conns = Vec::new();
    for _ in 0..connections {
        conns.push(PgConnection::connect(&db.url).await.unwrap());
    }
    let next = Arc::new(AtomicUsize::new(0));
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let waits = WaitSampler::start(db);
    let before = cpu_snapshot(&[]);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    // Per transaction: (when it started, from `start`; how long it held the team's row), and its COMMIT.
    type Held = (Vec<(Duration, Duration)>, Vec<Duration>);
    let held: Arc<Mutex<Held>> = Arc::default();
    for mut c in conns {
        let (seed, next, first_error) = (seed.clone(), next.clone(), first_error.clone());
        let held = held.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut other, mut lat) = (0usize, 0usize, Vec::new());
            let (mut locks, mut commits) = (Vec::new(), Vec::new());
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                match raw_booking(&mut c, &seed, i).await {
                    Ok((lock, commit)) => {
                        ok += 1;
                        locks.push((t.duration_since(start), lock));
                        commits.push(commit);
                    }
                    Err(e) => {
                        other += 1;
                        first_error.lock().unwrap().get_or_insert(e);
                    }
                }
                lat.push(t.elapsed());
            }
            let mut held = held.lock().unwrap();
            held.0.extend(locks);
            held.1.extend(commits);
            // Closed after the CPU is read: a backend gone takes its CPU time with it.
            (ok, other, lat, c)
        }));
    }
    let (mut ok, mut other, mut lat, mut conns) = (0, 0, Vec::new(), Vec::new());
    for t in tasks {
        let (o, x, l, c) = t.await.unwrap();
        ok += o;
        other += x;
        lat.extend(l);
        conns.push(c);
    }
    let elapsed = start.elapsed();
    let after = cpu_snapshot(&[]);
    let waits = waits.stop().await;
    for c in conns {
        let _ = c.close().await;
    }
    let rate = report(
        &format!("raw booking-shaped PostgreSQL transaction ({connections} connections)"),
        "txn/s",
        ok,
        other,
        elapsed,
        lat,
    );
    if let Some(e) = first_error.lock().unwrap().as_ref() {
        println!("  first failed transaction: {e}");
    }
    report_cpu("the raw transaction", &before, &after);
    waits.print("the raw transaction");
    // Every booking of the team queues on its row: one team's bookings/s cannot pass 1 / (the time one
    // holds it), whatever the connections.
    let (timeline, mut commits) = std::mem::take(&mut *held.lock().unwrap());
    let mut locks: Vec<Duration> = timeline.iter().map(|(_, held)| *held).collect();
    locks.sort();
    commits.sort();
    let mean = |d: &[Duration]| d.iter().sum::<Duration>().as_secs_f64() / d.len().max(1) as f64;
    // The claim facts' read of overlapping meetings finds the candidates' meetings by agent and filters
    // them by time: it grows with the table, under the lock. Its trend over the phase:
    let during = |from: f64, to: f64| {
        let d: Vec<Duration> = timeline
            .iter()
            .filter(|(at, _)| (from..to).contains(&at.as_secs_f64()))
            .map(|(_, held)| *held)
            .collect();
        mean(&d) * 1e3
    };
    let secs = elapsed.as_secs_f64();
    println!(
        "  team row held, as the client sees it, from its lock to the end of the commit: mean {:.2} ms, p50 {:.2} ms, p99 {:.2} ms \
         (COMMIT alone: mean {:.2} ms, p50 {:.2} ms, p99 {:.2} ms) -> at most {:.0} bookings/s for one team; \
         held {:.0} % of the time; mean held in the first second {:.2} ms, in the last {:.2} ms",
        mean(&locks) * 1e3,
        percentile(&locks, 0.5).as_secs_f64() * 1e3,
        percentile(&locks, 0.99).as_secs_f64() * 1e3,
        mean(&commits) * 1e3,
        percentile(&commits, 0.5).as_secs_f64() * 1e3,
        percentile(&commits, 0.99).as_secs_f64() * 1e3,
        1.0 / mean(&locks).max(1e-9),
        100.0 * locks.iter().sum::<Duration>().as_secs_f64() / secs,
        during(0.0, 1.0),
        during(seconds as f64 - 1.0, seconds as f64),
    );
    rate
}

/// Samples what the client backends on a database are doing (`pg_stat_activity`: state and wait event, and
/// the statement of each running on CPU) every 10 ms, from a connection of its own, until stopped.
struct WaitSampler {
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<Waits>,
}

/// What the samples found: how many were taken, each state's backends summed over them, and the
/// statements seen running on CPU (their first characters) with how often.
#[derive(Default)]
struct Waits {
    samples: usize,
    states: BTreeMap<String, usize>,
    on_cpu: BTreeMap<String, usize>,
}

impl WaitSampler {
    fn start(db: &ScratchDb) -> WaitSampler {
        let stop: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let (server, name, flag) = (db.server.clone(), db.name.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut w = Waits::default();
            let Ok(mut c) = PgConnection::connect(&server).await else {
                return w;
            };
            while !flag.load(Ordering::Relaxed) {
                let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(
                    "SELECT COALESCE(state, '?') || ' ' || COALESCE(wait_event_type || ':' || wait_event, \
                     '(on CPU)'), CASE WHEN state = 'active' AND wait_event IS NULL \
                     THEN left(regexp_replace(query, '\\s+', ' ', 'g'), 60) END, COUNT(*) \
                     FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' \
                     GROUP BY 1, 2",
                )
                .bind(&name)
                .fetch_all(&mut c)
                .await
                .unwrap_or_default();
                w.samples += 1;
                for (state, query, n) in rows {
                    *w.states.entry(state).or_default() += n as usize;
                    if let Some(q) = query {
                        *w.on_cpu.entry(q).or_default() += n as usize;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let _ = c.close().await;
            w
        });
        WaitSampler { stop, task }
    }

    async fn stop(self) -> Waits {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

impl Waits {
    /// Prints the mean number of backends in each state (those of at least 0.05), most first, and the
    /// statements most often seen on CPU.
    fn print(&self, phase: &str) {
        let samples = self.samples.max(1) as f64;
        let most = |m: &BTreeMap<String, usize>| {
            let mut all: Vec<(String, usize)> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
            all.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
            all
        };
        let states: Vec<String> = most(&self.states)
            .into_iter()
            .filter(|(_, n)| *n as f64 / samples >= 0.05)
            .map(|(what, n)| format!("{:.2} {what}", n as f64 / samples))
            .collect();
        println!(
            "postgres backends during {phase} (mean of {} samples of pg_stat_activity): {}",
            self.samples,
            states.join(", ")
        );
        let on_cpu: Vec<String> = most(&self.on_cpu)
            .into_iter()
            .take(6)
            .map(|(q, n)| format!("{:.2} `{q}`", n as f64 / samples))
            .collect();
        println!("  running on CPU, by statement: {}", on_cpu.join(", "));
    }
}

fn enc(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339().replace('+', "%2B").replace(':', "%3A")
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes --bench; this driver takes no arguments of its own.
    let seconds: u64 = env_or("LOAD_SECONDS", 10);
    let connections: usize = env_or("LOAD_CONNECTIONS", 32);
    let replicas: usize = env_or("LOAD_REPLICAS", 1usize).max(1);
    // The raw transaction is offered the concurrency the HTTP driver offers rondo (LOAD_CONNECTIONS
    // bookings in flight), not the connections rondo's pools would open (16 per replica): the limit is what
    // the database does for that load at best, and a pool smaller than the load is a cost of rondo's, to
    // be shown by the comparison rather than built into its yardstick. Every booking of the team queues on
    // its row, so connections beyond a few only add waiters, and the waiters cost throughput (each commit
    // wakes them): LOAD_RAW_CONNECTIONS=16 (one replica's pool) or 4 shows by how much.
    let raw_connections: usize = env_or("LOAD_RAW_CONNECTIONS", connections);
    let synchronous = std::env::var("LOAD_SYNCHRONOUS").unwrap_or_else(|_| "full".into());
    let postgres = std::env::var("LOAD_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // Dropped after the servers (declared before them): the databases go once no replica uses them.
    let (database, raw_db) = match &postgres {
        Some(server) => {
            let name = format!(
                "rondo_load_{}_{:08x}",
                Utc::now().timestamp(),
                rand::random::<u32>()
            );
            let (db, raw) = rt.block_on(async {
                let db = ScratchDb::create(server, name.clone()).await;
                let raw = ScratchDb::create(server, format!("{name}_raw")).await;
                (db, raw)
            });
            println!(
                "postgresql: database {} for {replicas} replica(s), {} for the raw transaction",
                db.name, raw.name
            );
            (Database::Postgres(db), Some(raw))
        }
        None => (Database::Sqlite(tempfile::tempdir().unwrap()), None),
    };
    // One key for every replica (links and sealed tokens made by one are read by another); a single SQLite
    // process keeps its dev key as before.
    let secret = (postgres.is_some() || replicas > 1).then(|| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
    });
    let mut servers = Vec::new();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .build()
            .unwrap();
        // Replica 0 first (it applies the migrations), then the others.
        for k in 0..replicas {
            let server = start_server(k, &synchronous, &database, secret.as_deref());
            let deadline = Instant::now() + Duration::from_secs(30);
            while client
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                .map(|r| r.status() != 200)
                .unwrap_or(true)
            {
                assert!(Instant::now() < deadline, "rondo replica {k} did not become ready");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            println!(
                "rondo pid {}: RSS after start {} KB",
                server.child.id(),
                status_kb(server.child.id(), "VmRSS:")
            );
            servers.push(server);
        }
        let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
        seed(&client, &bases[0]).await;
        let before = cpu_snapshot(&servers);
        let (available, answer) = availability_load(&client, &bases, connections, seconds).await;
        report_cpu("availability", &before, &cpu_snapshot(&servers));
        match bare_availability_limit(&client, &answer, connections, seconds).await {
            Some(limit) => println!(
                "availability over HTTP: {available:.0}/s = {:.0} % of the serialize-only handler ({limit:.0}/s)",
                100.0 * available / limit
            ),
            None => println!(
                "availability over HTTP: {available:.0}/s (limit not measured: set LOAD_BARE_BIN to ../shared/limits/bare-availability's binary)"
            ),
        }
        println!("RSS after availability load: {}", memory(&servers));
        let work = booking_work(&client, &bases[0]).await;
        let waits = match &database {
            Database::Postgres(db) => Some(WaitSampler::start(db)),
            Database::Sqlite(_) => None,
        };
        let before = cpu_snapshot(&servers);
        let booked = booking_load(&client, &bases, work, connections, seconds).await;
        report_cpu("bookings", &before, &cpu_snapshot(&servers));
        if let Some(waits) = waits {
            waits.stop().await.print("bookings");
        }
        match &raw_db {
            None => {
                println!(
                    "RSS after booking load: {}; sqlite synchronous={synchronous}",
                    memory(&servers)
                );
                stderr_summary(&servers);
                match raw_limit(&synchronous) {
                    Some(raw) => println!(
                        "bookings over HTTP: {booked:.0}/s = {:.0} % of the raw booking-shaped transaction ({raw:.0}/s)",
                        100.0 * booked / raw
                    ),
                    None => println!("bookings over HTTP: {booked:.0}/s (raw limit not measured: ../shared/limits or python3 missing)"),
                }
            }
            Some(raw_db) => {
                println!(
                    "RSS after booking load: {}; postgresql, {replicas} replica(s)",
                    memory(&servers)
                );
                stderr_summary(&servers);
                // The replicas stop first: their outbox workers would otherwise run the bookings' jobs
                // (due 10 s after each booking) on the same two cores while the limit is measured.
                servers.clear();
                let raw = pg_raw_limit(raw_db, raw_connections, seconds).await;
                println!(
                    "bookings over HTTP: {booked:.0}/s = {:.0} % of the raw booking-shaped PostgreSQL transaction ({raw:.0}/s)",
                    100.0 * booked / raw
                );
            }
        }
    });
    drop(servers);
    drop(raw_db);
    drop(database);
}
