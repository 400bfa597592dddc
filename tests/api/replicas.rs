//! Several replicas on one PostgreSQL (DESIGN.md "Scale"): three rondo processes share a database behind
//! no load balancer but the test's own round robin. Under 200 concurrent bookings for a handful of slots no
//! agent gets two overlapping meetings, every 201 is stored once and every 409 has alternatives; with every
//! agent free the rotation stays fair; a key retried on another replica replays; and a replica killed with
//! SIGKILL while the outbox runs loses no email, webhook or calendar event and sends none twice. And when
//! a writer rondo cannot see commits an overlapping meeting first, PostgreSQL's exclusion constraint refuses
//! the booking, which the chat service sees as the usual 409 with alternatives.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveTime, Utc};
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::google::{FakeGoogle, GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET};
use crate::support::postgres;
use crate::support::process::{free_port, rondo_command};
use crate::support::receiver::Receiver;
use crate::support::smtp::SmtpServer;
use crate::support::{spawn_app, CHAT as TEST_CHAT};

const ADMIN: &str = "replica-admin-token";
const CHAT: &str = "replica-chat-token";
const SECRET_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

struct Replica {
    child: Child,
    base: String,
    port: u16,
}

impl Replica {
    fn spawn(db: &str, port: u16, smtp: &str, google: &FakeGoogle) -> Self {
        let mut cmd = rondo_command();
        let base = format!("http://127.0.0.1:{port}");
        let child = cmd
            .env("RONDO_DATABASE_URL", db)
            .env("RONDO_LISTEN", format!("127.0.0.1:{port}"))
            .env("RONDO_PUBLIC_URL", &base)
            .env("RONDO_SMTP_URL", smtp)
            .env("RONDO_JOB_LEASE_SECONDS", "2")
            .env("RONDO_CHAT_RATE_PER_MINUTE", "100000")
            .env("RONDO_HTTP_WORKERS", "2")
            .env("RONDO_ADMIN_TOKEN", ADMIN)
            .env("RONDO_CHAT_TOKEN", CHAT)
            .env("RONDO_SECRET_KEY", SECRET_KEY)
            .env("RONDO_GOOGLE_CLIENT_ID", GOOGLE_CLIENT_ID)
            .env("RONDO_GOOGLE_CLIENT_SECRET", GOOGLE_CLIENT_SECRET)
            .env("RONDO_GOOGLE_AUTH_URL", google.auth_url())
            .env("RONDO_GOOGLE_TOKEN_URL", google.token_url())
            .env("RONDO_GOOGLE_API_URL", google.api_url())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self { child, base, port }
    }

    async fn ready(&self, client: &reqwest::Client) {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < until, "replica {} never ready", self.base);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill(&mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = client.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Every meeting of the team, through the admin API (all pages).
async fn all_meetings(client: &reqwest::Client, base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = format!("{base}/admin/api/meetings?team=sales&limit=100{cursor}");
        let (status, page) = send(client, reqwest::Method::GET, url, ADMIN, None).await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["meetings"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

/// Books `start` with a key of its own on `base`.
async fn book(client: &reqwest::Client, base: &str, start: String, n: usize) -> (u16, Value) {
    let r = client
        .post(format!("{base}/v1/bookings"))
        .bearer_auth(CHAT)
        .header("Idempotency-Key", format!("replicas-{n}"))
        .json(&json!({"team": "sales", "start": start,
            "visitor": {"email": format!("visitor{n}@example.com")}}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_never_double_book_rotate_fairly_and_lose_nothing_when_one_is_killed() {
    let Some(server) = postgres::server_for_replicas() else {
        eprintln!("not run: needs PostgreSQL (set RONDO_TEST_POSTGRES_URL; CI always runs it)");
        return;
    };
    let db = postgres::fresh_database_on(&server).await;
    let smtp = SmtpServer::start().await;
    let rx = Receiver::start().await;
    let google = FakeGoogle::start().await;
    let client = reqwest::Client::new();

    // Three replicas started together: the migrations run once, under the advisory lock.
    let mut replicas: Vec<Replica> = (0..3)
        .map(|_| Replica::spawn(&db, free_port(), &smtp.url, &google))
        .collect();
    for r in &replicas {
        r.ready(&client).await;
    }
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    let admin = |i: usize, path: &str, body: Value| {
        send(
            &client,
            reqwest::Method::POST,
            format!("{}{path}", bases[i % 3]),
            ADMIN,
            Some(body),
        )
    };

    // A team of three agents, each with a connected (fake) Google calendar that is free all day, every
    // day. Each is made on a different replica.
    let (status, team) = admin(
        0,
        "/admin/api/teams",
        json!({"slug": "sales", "name": "Sales", "min_notice_minutes": 0, "slot_step_minutes": 30}),
    )
    .await;
    assert_eq!(status, 201, "{team}");
    let day = json!([["00:00", "24:00"]]);
    let hours =
        json!({"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day});
    let browser = Browser::new();
    let mut agents = Vec::new();
    for (i, name) in ["ann", "bob", "cat"].iter().enumerate() {
        let email = format!("{name}@agents.test");
        let (status, agent) = admin(
            i,
            "/admin/api/agents",
            json!({"name": name, "email": email, "timezone": "UTC", "teams": ["sales"],
                "weekly_hours": hours}),
        )
        .await;
        assert_eq!(status, 201, "{agent}");
        google.consent_as(&email);
        let page = browser.get(agent["connect_url"].as_str().unwrap()).await;
        let page = browser
            .get(&page.link("/oauth/google/start").unwrap())
            .await;
        assert!(page.has("Calendar connected"), "{}", page.body);
        agents.push((agent["id"].as_str().unwrap().to_owned(), email));
    }
    let (status, hook) = admin(
        2,
        "/admin/api/webhooks",
        json!({"url": rx.url, "events": ["meeting.scheduled"]}),
    )
    .await;
    assert_eq!(status, 201, "{hook}");

    // 200 concurrent bookings over four slots, spread over the replicas: three agents × four slots fit.
    let first_day = Utc::now().date_naive() + Days::days(3);
    let at = |date: chrono::NaiveDate, h: u32, m: u32| {
        date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap())
            .and_utc()
            .to_rfc3339()
    };
    let slots: Vec<String> = [(10, 0), (10, 30), (11, 0), (11, 30)]
        .iter()
        .map(|&(h, m)| at(first_day, h, m))
        .collect();
    let answers =
        join_all((0..200).map(|n| book(&client, &bases[n % 3], slots[n % 4].clone(), n))).await;
    let booked: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    for (status, body) in &answers {
        match status {
            201 => {}
            409 => assert!(
                !body["alternatives"].as_array().unwrap().is_empty(),
                "a 409 offers alternatives: {body}"
            ),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(booked.len(), 12, "three agents × four slots, no more");
    let ids: HashSet<&str> = booked.iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 12);
    let stored = all_meetings(&client, &bases[1]).await;
    assert_eq!(stored.len(), 12, "every 201 stored once, nothing else");
    for m in &stored {
        assert!(ids.contains(m["id"].as_str().unwrap()));
    }
    no_overlaps(&stored);

    // A key retried on another replica replays its booking.
    let (n, first) = answers
        .iter()
        .enumerate()
        .find(|(_, (s, _))| *s == 201)
        .map(|(n, (_, b))| (n, b.clone()))
        .unwrap();
    let (status, again) = book(&client, &bases[(n + 1) % 3], slots[n % 4].clone(), n).await;
    assert_eq!((status, &again["id"]), (201, &first["id"]), "{again}");

    // With every agent free, 30 concurrent bookings at 30 different times: the rotation stays fair.
    let second_day = first_day + Days::days(1);
    let times: Vec<String> = (0..30)
        .map(|i| at(second_day, 6 + i / 2, (i % 2) * 30))
        .collect();
    let answers =
        join_all((0..30).map(|i| book(&client, &bases[i % 3], times[i].clone(), 1000 + i))).await;
    assert!(answers.iter().all(|(s, _)| *s == 201), "{answers:?}");

    // Right away, while the outbox sends those emails and webhooks, replica 1 is killed, then started again.
    replicas[1].kill();
    let port = replicas[1].port;
    replicas[1] = Replica::spawn(&db, port, &smtp.url, &google);
    replicas[1].ready(&client).await;

    let stored = all_meetings(&client, &bases[2]).await;
    assert_eq!(stored.len(), 42);
    no_overlaps(&stored);
    let mut per_agent: HashMap<&str, usize> = HashMap::new();
    for m in stored
        .iter()
        .filter(|m| m["start"].as_str().unwrap() >= times[0].as_str())
    {
        *per_agent
            .entry(m["agent"]["id"].as_str().unwrap())
            .or_default() += 1;
    }
    let counts: Vec<usize> = per_agent.values().copied().collect();
    assert_eq!(counts.len(), 3, "{per_agent:?}");
    assert!(
        counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1,
        "fair: {per_agent:?}"
    );

    // Every job settles; then each meeting has one calendar event, one invitation, one webhook event.
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, pending) = send(
            &client,
            reqwest::Method::GET,
            format!("{}/admin/api/jobs?status=pending", bases[0]),
            ADMIN,
            None,
        )
        .await;
        if pending["jobs"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < until, "jobs still pending: {pending}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, dead) = send(
        &client,
        reqwest::Method::GET,
        format!("{}/admin/api/jobs?status=dead", bases[0]),
        ADMIN,
        None,
    )
    .await;
    assert_eq!(dead["jobs"], json!([]), "no job gave up");
    for (id, email) in &agents {
        let theirs = stored.iter().filter(|m| m["agent"]["id"] == *id).count();
        assert_eq!(google.events(email).len(), theirs, "{email}'s calendar");
    }
    // Emails carry a Message-ID per meeting and version: one each, none twice.
    let ids: Vec<String> = smtp
        .messages()
        .iter()
        .map(|m| {
            m.lines()
                .find_map(|l| {
                    l.strip_prefix("Message-ID: ")
                        .or(l.strip_prefix("Message-Id: "))
                })
                .unwrap_or_else(|| panic!("no Message-ID in {m}"))
                .to_owned()
        })
        .collect();
    // Delivery is at least once: a replica killed between the SMTP server's "250" and recording it sends
    // that email again after the lease, under the same Message-ID, which mail systems treat as one message
    // (likewise a webhook keeps its `webhook-id`, which receivers dedupe on: Standard Webhooks). So each
    // meeting's email and event arrive exactly once as their receivers count them.
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 42, "one invitation per meeting: {ids:?}");
    let hooks: Vec<String> = rx
        .received()
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    let distinct: HashSet<&String> = hooks.iter().collect();
    assert_eq!(distinct.len(), 42, "one scheduled event per meeting");
    eprintln!(
        "after the kill: {} emails and {} webhook deliveries for 42 meetings",
        ids.len(),
        hooks.len()
    );
}

/// No agent holds two live meetings that overlap.
fn no_overlaps(meetings: &[Value]) {
    let mut by_agent: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    for m in meetings.iter().filter(|m| m["status"] == "booked") {
        by_agent
            .entry(m["agent"]["id"].as_str().unwrap())
            .or_default()
            .push((m["start"].as_str().unwrap(), m["end"].as_str().unwrap()));
    }
    for (agent, mut spans) in by_agent {
        spans.sort();
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0, "{agent} holds {:?} and {:?}", w[0], w[1]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlap_only_the_exclusion_constraint_sees_is_a_409_with_alternatives() {
    use sqlx::Connection;
    if !postgres::enabled() {
        eprintln!(
            "not run: the exclusion constraint is PostgreSQL's (the suite's PostgreSQL run has it)"
        );
        return;
    }
    let app = spawn_app().await;
    let team = app.create_team("solo", json!({})).await;
    let ann = app.create_agent("Ann", "Europe/Amsterdam", &["solo"]).await;
    // Another writer, one that takes none of rondo's row locks (not even the foreign keys' share locks on
    // the team and the agent: replication role), has written a meeting of Ann's that overlaps 10:00 and
    // not committed it yet.
    let mut other = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut other)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    // Watched from a connection of its own: statistics read inside a transaction stay as first read.
    let mut watch = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    let (from, until) = (
        crate::support::at("2026-11-23T09:45:00Z"),
        crate::support::at("2026-11-23T10:15:00Z"),
    );
    sqlx::query(
        "INSERT INTO meetings (id, team_id, agent_id, starts_at, ends_at, blocked_from, blocked_until, \
         status, lead_email, routing, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $4, $5, 'booked', 'first@example.com', '{\"step\": \"round_robin\", \"skipped\": []}', $4, $4)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(uuid::Uuid::parse_str(team["id"].as_str().unwrap()).unwrap())
    .bind(uuid::Uuid::parse_str(ann["id"].as_str().unwrap()).unwrap())
    .bind(from)
    .bind(until)
    .execute(&mut other)
    .await
    .unwrap();

    // The booking reads Ann free (the other meeting is not committed), so its insert waits on the
    // constraint for the other transaction.
    let request = app
        .client
        .post(app.url("/v1/bookings"))
        .bearer_auth(TEST_CHAT)
        .header("Idempotency-Key", "overlap-1")
        .json(&json!({"team": "solo", "start": "2026-11-23T10:00:00Z",
            "visitor": {"email": "second@example.com"}}));
    let booking = tokio::spawn(async move { request.send().await.unwrap() });
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut watch)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        if booking.is_finished() {
            let r = booking.await.unwrap();
            let status = r.status();
            panic!(
                "the booking did not wait on the other meeting: {status} {}",
                r.text().await.unwrap()
            );
        }
        assert!(
            Instant::now() < until,
            "the booking never waited on the other meeting"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();

    let r = booking.await.unwrap();
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["type"], "https://rondo.dev/problems/slot-taken",
        "{body}"
    );
    let alternatives = body["alternatives"].as_array().unwrap();
    assert!(!alternatives.is_empty(), "{body}");
    assert!(
        alternatives
            .iter()
            .all(|a| a["start"].as_str().unwrap() >= "2026-11-23T10:15:00"),
        "none overlaps the meeting that won: {body}"
    );
    let meetings = app
        .get_json("/admin/api/meetings", crate::support::ADMIN)
        .await;
    let leads: Vec<&str> = meetings["meetings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["lead_email"].as_str().unwrap())
        .collect();
    assert_eq!(leads, ["first@example.com"]);
}
