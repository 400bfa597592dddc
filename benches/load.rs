//! Loopback load driver (`cargo bench --bench load`): starts the real `rondo` binary on a fresh SQLite
//! database with demo calendars, seeds a team of 10 agents, then measures
//!   1. availability over HTTP (14-day window) with many concurrent keep-alive connections,
//!   2. bookings (distinct slots, unique Idempotency-Keys),
//!   3. the server's resident memory after the load (VmRSS / VmHWM from /proc).
//!
//! Requests are bounded in count and time; everything stays on 127.0.0.1. Figures go to BENCHMARKS.md.
//!
//! Then it runs ../shared/limits/sqlite_booking_txn.py (a booking-shaped SQLite transaction from Python, the
//! floor DESIGN.md "Scale" quotes) on the same machine in the same minute and prints rondo's bookings/s as a
//! share of it.
//!
//! Knobs (environment): LOAD_SECONDS (default 10), LOAD_CONNECTIONS (default 32), LOAD_SYNCHRONOUS
//! (full|normal, default full), LOAD_RONDO_BIN (another rondo binary to measure, e.g. an older build, so
//! two builds can be compared in one sitting; default: this build's), LOAD_BARE_BIN (the binary of
//! ../shared/limits/bare-availability: when set, it serves the same availability answer right after rondo,
//! and rondo's req/s is printed as a share of it).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ADMIN: &str = "load-admin-token";
const CHAT: &str = "load-chat-token";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(synchronous: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bin =
        std::env::var("LOAD_RONDO_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_rondo").into());
    let child = Command::new(bin)
        .env("RONDO_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "RONDO_DATABASE_URL",
            format!("sqlite://{}/rondo.db?mode=rwc", dir.path().display()),
        )
        .env("RONDO_ENV", "dev")
        .env("RONDO_ADMIN_TOKEN", ADMIN)
        .env("RONDO_CHAT_TOKEN", CHAT)
        .env("RONDO_CHAT_RATE_PER_MINUTE", "100000000")
        .env("RONDO_SQLITE_SYNCHRONOUS", synchronous)
        .env("RONDO_LOG", "warn")
        .env("RONDO_MAIL_DIR", dir.path().join("mail"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start rondo");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Prints the phase's figures; returns its `ok` answers per second.
fn report(name: &str, ok: usize, other: usize, elapsed: Duration, mut lat: Vec<Duration>) -> f64 {
    lat.sort();
    println!(
        "{name}: {ok} ok, {other} other in {:.1} s = {:.0} req/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
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

/// Drives availability; answers its req/s and the answer it served (for the limit beside it).
async fn availability_load(
    client: &reqwest::Client,
    base: &str,
    connections: usize,
    seconds: u64,
) -> (f64, Value) {
    let url = Arc::new(format!(
        "{base}/v1/teams/load/availability?tz=Europe/Amsterdam"
    ));
    let probe: Value = client
        .get(url.as_str())
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
        move |_| Some(client.get(url.as_str()).bearer_auth(CHAT)),
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

async fn booking_load(
    client: &reqwest::Client,
    base: &str,
    connections: usize,
    seconds: u64,
) -> f64 {
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
    let work: Arc<Vec<String>> = Arc::new(
        starts
            .iter()
            .flat_map(|s| std::iter::repeat_n(s.clone(), 3))
            .collect(),
    );
    let (client, url) = (client.clone(), format!("{base}/v1/bookings"));
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
                    .post(&url)
                    .bearer_auth(CHAT)
                    .header("Idempotency-Key", format!("load-{i}"))
                    .json(&body),
            )
        },
    )
    .await
}

/// Sends requests from `connections` concurrent loops for `seconds` (or until `request` has no more work for
/// the next sequence number), counting answers with status `ok_status`, and prints the figures.
async fn drive<F>(name: &str, ok_status: u16, connections: usize, seconds: u64, request: F) -> f64
where
    F: Fn(usize) -> Option<reqwest::RequestBuilder> + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (request, next) = (request.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut other, mut lat) = (0usize, 0usize, Vec::new());
            while Instant::now() < deadline {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(req) = request(i) else { break };
                let t = Instant::now();
                match req.send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let _ = r.bytes().await;
                        if status == ok_status {
                            ok += 1;
                        } else {
                            other += 1;
                        }
                    }
                    Err(_) => other += 1,
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
    report(name, ok, other, start.elapsed(), lat)
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

fn enc(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339().replace('+', "%2B").replace(':', "%3A")
}

fn main() {
    // `cargo bench` passes --bench; this driver takes no arguments of its own.
    let seconds: u64 = std::env::var("LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let connections: usize = std::env::var("LOAD_CONNECTIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let synchronous = std::env::var("LOAD_SYNCHRONOUS").unwrap_or_else(|_| "full".into());
    let server = start_server(&synchronous);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "rondo did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let pid = server.child.id();
        println!(
            "rondo pid {pid}: RSS after start {} KB",
            status_kb(pid, "VmRSS:")
        );
        seed(&client, &server.base).await;
        let (available, answer) =
            availability_load(&client, &server.base, connections, seconds).await;
        match bare_availability_limit(&client, &answer, connections, seconds).await {
            Some(limit) => println!(
                "availability over HTTP: {available:.0}/s = {:.0} % of the serialize-only handler ({limit:.0}/s)",
                100.0 * available / limit
            ),
            None => println!(
                "availability over HTTP: {available:.0}/s (limit not measured: set LOAD_BARE_BIN to ../shared/limits/bare-availability's binary)"
            ),
        }
        println!(
            "RSS after availability load: {} KB (peak {} KB)",
            status_kb(pid, "VmRSS:"),
            status_kb(pid, "VmHWM:")
        );
        let booked = booking_load(&client, &server.base, connections, seconds).await;
        println!(
            "RSS after booking load: {} KB (peak {} KB); sqlite synchronous={synchronous}",
            status_kb(pid, "VmRSS:"),
            status_kb(pid, "VmHWM:")
        );
        match raw_limit(&synchronous) {
            Some(raw) => println!(
                "bookings over HTTP: {booked:.0}/s = {:.0} % of the raw booking-shaped transaction ({raw:.0}/s)",
                100.0 * booked / raw
            ),
            None => println!("bookings over HTTP: {booked:.0}/s (raw limit not measured: ../shared/limits or python3 missing)"),
        }
    });
}
