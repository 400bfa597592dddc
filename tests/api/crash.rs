//! A crash right after a booking is acknowledged loses nothing: the rondo binary is killed with SIGKILL
//! right after its 201, started again on the same database (SQLite, or PostgreSQL when the suite runs
//! there), and the calendar event (in the fake Google Calendar the agent connected), the invitation email
//! and the webhook each arrive once.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::google::{FakeGoogle, GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET};
use crate::support::process::rondo_command;
use crate::support::receiver::Receiver;
use crate::support::smtp::SmtpServer;

/// The key must stay the same across the restart: the agent's Google tokens are sealed under it.
const SECRET_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

fn start(db: &str, port: u16, smtp: &str, google: &FakeGoogle) -> Child {
    let mut cmd = rondo_command();
    cmd.env("RONDO_DATABASE_URL", db)
        .env("RONDO_LISTEN", format!("127.0.0.1:{port}"))
        .env("RONDO_SMTP_URL", smtp)
        .env("RONDO_JOB_LEASE_SECONDS", "2")
        .env("RONDO_ADMIN_TOKEN", "crash-admin-token")
        .env("RONDO_CHAT_TOKEN", "crash-chat-token")
        .env("RONDO_SECRET_KEY", SECRET_KEY)
        .env("RONDO_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("RONDO_GOOGLE_CLIENT_ID", GOOGLE_CLIENT_ID)
        .env("RONDO_GOOGLE_CLIENT_SECRET", GOOGLE_CLIENT_SECRET)
        .env("RONDO_GOOGLE_AUTH_URL", google.auth_url())
        .env("RONDO_GOOGLE_TOKEN_URL", google.token_url())
        .env("RONDO_GOOGLE_API_URL", google.api_url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_until<F: FnMut() -> bool>(what: &str, deadline: Duration, mut done: F) {
    let until = Instant::now() + deadline;
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// GET `url` with a bearer token; the answer's JSON.
async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Value {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn ready(client: &reqwest::Client, base: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < until, "rondo did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_right_after_a_201_loses_no_event_no_email_and_no_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let db = if crate::support::postgres::enabled() {
        crate::support::postgres::fresh_database().await
    } else {
        format!("sqlite://{}/rondo.db?mode=rwc", dir.path().display())
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let smtp = SmtpServer::start().await;
    let rx = Receiver::start().await;
    let client = reqwest::Client::new();
    let google = FakeGoogle::start().await;
    google.consent_as("ann@example.com");

    let mut rondo = start(&db, port, &smtp.url, &google);
    ready(&client, &base).await;
    let admin = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth("crash-admin-token")
            .json(&body)
            .send()
    };
    assert_eq!(
        admin(
            "/admin/api/teams",
            json!({"slug": "s", "name": "S", "min_notice_minutes": 0})
        )
        .await
        .unwrap()
        .status(),
        201
    );
    let day = json!([["00:00", "24:00"]]);
    let agent = json!({"name": "Ann", "email": "ann@example.com", "timezone": "UTC", "teams": ["s"],
        "weekly_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}});
    let created = admin("/admin/api/agents", agent).await.unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let browser = Browser::new();
    let page = browser.get(created["connect_url"].as_str().unwrap()).await;
    let page = browser
        .get(&page.link("/oauth/google/start").unwrap())
        .await;
    assert!(page.has("Calendar connected"), "{}", page.body);
    assert_eq!(
        admin(
            "/admin/api/webhooks",
            json!({"url": rx.url, "events": ["meeting.scheduled"]})
        )
        .await
        .unwrap()
        .status(),
        201
    );
    let slots: Value = get_json(
        &client,
        &format!("{base}/v1/teams/s/availability"),
        "crash-chat-token",
    )
    .await;
    let start_at = slots["slots"][1]["start"].as_str().unwrap().to_owned();
    // Google stores the inline insert but its answer is lost: the booking is acknowledged as pending.
    google.lose_next_insert_response();
    let r = client
        .post(format!("{base}/v1/bookings"))
        .bearer_auth("crash-chat-token")
        .header("Idempotency-Key", "crash-1")
        .json(&json!({"team": "s", "start": start_at, "visitor": {"email": "vera@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let booked: Value = r.json().await.unwrap();
    assert_eq!(booked["calendar_event"]["status"], "pending");
    rondo.kill().unwrap(); // SIGKILL
    rondo.wait().unwrap();

    let mut rondo = start(&db, port, &smtp.url, &google);
    ready(&client, &base).await;
    wait_until("the invitation", Duration::from_secs(60), || {
        !smtp.messages().is_empty()
    })
    .await;
    wait_until("the webhook", Duration::from_secs(60), || {
        !rx.received().is_empty()
    })
    .await;
    // Let every job finish, then count.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let pending: Value = get_json(
            &client,
            &format!("{base}/admin/api/jobs?status=pending"),
            "crash-admin-token",
        )
        .await;
        if pending["jobs"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < until, "jobs still pending: {pending}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(google.events("ann@example.com").len(), 1);
    let booking: Value = get_json(
        &client,
        &format!("{base}/v1/bookings/{}", booked["id"].as_str().unwrap()),
        "crash-chat-token",
    )
    .await;
    assert_eq!(booking["calendar_event"]["status"], "created", "{booking}");
    assert!(booking["calendar_event"]["video_link"]
        .as_str()
        .unwrap()
        .starts_with("https://meet.google.com/"));
    // Webhooks are at-least-once by design; the same event always carries the same webhook-id.
    let mut ids: Vec<_> = rx
        .received()
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 1);
    rondo.kill().unwrap();
    rondo.wait().unwrap();
}
