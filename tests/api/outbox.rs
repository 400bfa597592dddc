//! Effects owed by a booking are durable jobs: a calendar that is down delays the event, never loses it.

use chrono::Duration;
use serde_json::{json, Value};

use rondo::app::Clock;

use crate::support::calendar::Failure;
use crate::support::*;

async fn solo(app: &TestApp) {
    app.create_team("solo", json!({})).await;
    app.create_agent("Only", "Europe/Amsterdam", &["solo"])
        .await;
}

async fn booking(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/v1/bookings/{id}"), CHAT).await
}

#[tokio::test]
async fn a_calendar_outage_leaves_the_event_pending_until_it_recovers() {
    let app = spawn_app().await;
    solo(&app).await;
    app.calendars.fail_next_creates(2, Failure::Unavailable);
    let b = app
        .book_ok("solo", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    assert_eq!(b["status"], "booked");
    assert_eq!(b["calendar_event"]["status"], "pending");
    assert_eq!(b["calendar_event"]["video_link"], Value::Null);
    let id = b["id"].as_str().unwrap();
    let pending = app.jobs_of("calendar.sync", "pending").await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["meeting_id"], b["id"]);
    // Not due yet: the inline attempt had its chance first.
    assert_eq!(app.run_jobs().await, 0);
    app.advance(Duration::seconds(11));
    assert_eq!(app.run_jobs().await, 2); // the email goes out; the calendar is still down: retry in 5 s ± 20 %
    assert_eq!(
        booking(&app, id).await["calendar_event"]["status"],
        "pending"
    );
    let job = &app.jobs_of("calendar.sync", "pending").await[0];
    assert_eq!(job["attempts"], 1);
    assert!(job["last_error"].as_str().unwrap().contains("503"));
    app.advance(Duration::seconds(3));
    assert_eq!(app.run_jobs().await, 0);
    app.advance(Duration::seconds(4));
    assert_eq!(app.run_jobs().await, 1);
    let now = booking(&app, id).await;
    assert_eq!(now["calendar_event"]["status"], "created");
    assert_eq!(
        now["calendar_event"]["video_link"],
        format!("https://video.test/{}", id.replace('-', ""))
    );
    assert_eq!(app.calendars.events().len(), 1);
    assert_eq!(app.calendars.create_calls(), 3);
    assert!(app.jobs("pending").await.is_empty());
    assert_eq!(app.jobs_of("calendar.sync", "done").await.len(), 1);
}

#[tokio::test]
async fn a_refused_event_is_parked_dead_and_an_admin_can_retry_it() {
    let app = spawn_app().await;
    solo(&app).await;
    app.calendars.fail_next_creates(2, Failure::Refused);
    let b = app
        .book_ok("solo", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    app.advance(Duration::seconds(11));
    assert_eq!(app.run_jobs().await, 2);
    let dead = app.jobs("dead").await;
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]["last_error"].as_str().unwrap().contains("400"),
        "{}",
        dead[0]
    );
    // More time changes nothing for a dead job.
    app.advance(Duration::hours(1));
    assert_eq!(app.run_jobs().await, 0);
    let job_id = dead[0]["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/admin/api/jobs/{job_id}/retry"),
            ADMIN,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "pending");
    assert_eq!(app.run_jobs().await, 1);
    let id = b["id"].as_str().unwrap();
    assert_eq!(
        booking(&app, id).await["calendar_event"]["status"],
        "created"
    );
    assert_eq!(app.calendars.events().len(), 1);
    let r = app
        .post(
            &format!("/admin/api/jobs/{job_id}/retry"),
            ADMIN,
            &json!({}),
        )
        .await;
    expect_problem(r, 409, "job-not-dead").await;
    let r = app
        .post(
            "/admin/api/jobs/0190f0b4-0000-7000-8000-000000000000/retry",
            ADMIN,
            &json!({}),
        )
        .await;
    expect_problem(r, 404, "not-found").await;
    expect_problem(
        app.get("/admin/api/jobs?status=lost", ADMIN).await,
        422,
        "validation",
    )
    .await;
}

#[tokio::test]
async fn a_meeting_cancelled_before_its_event_existed_never_gets_one() {
    let app = spawn_app().await;
    solo(&app).await;
    app.calendars.fail_next_creates(1, Failure::Unavailable);
    let b = app
        .book_ok("solo", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    assert_eq!(b["calendar_event"]["status"], "pending");
    let id = b["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/v1/bookings/{id}/cancel"),
            CHAT,
            &json!({"reason": "changed plans"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    app.advance(Duration::minutes(1));
    // The create's calendar job and the cancel's both find nothing to do; of the two emails only the
    // cancellation goes out (the invitation was superseded before it was sent).
    assert_eq!(app.run_jobs().await, 4);
    assert!(app.calendars.events().is_empty());
    assert_eq!(app.calendars.create_calls(), 1);
    assert_eq!(app.jobs_of("calendar.sync", "done").await.len(), 2);
    let emails = app.emails();
    assert_eq!(emails.len(), 1);
    assert!(emails[0].contains("METHOD:CANCEL"));
    assert_eq!(
        booking(&app, id).await["calendar_event"]["status"],
        "deleted"
    );
}

#[tokio::test]
async fn one_calendar_sync_per_meeting_at_a_time() {
    let app = spawn_app().await;
    solo(&app).await;
    let b = app
        .book_ok("solo", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    let id: uuid::Uuid = b["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(app.calendars.events().len(), 1);
    // Another sync of this meeting holds the lease (say a slow worker still creating the event)...
    let now = app.clock.now();
    assert!(app
        .app
        .store
        .lock_calendar(id, now, now + Duration::seconds(60))
        .await
        .unwrap());
    assert!(!app
        .app
        .store
        .lock_calendar(id, now, now + Duration::seconds(60))
        .await
        .unwrap());
    // ...so the cancel's inline sync leaves the event alone rather than racing it,
    app.post(&format!("/v1/bookings/{id}/cancel"), CHAT, &json!({}))
        .await;
    assert_eq!(app.calendars.events().len(), 1);
    assert_eq!(
        booking(&app, &id.to_string()).await["calendar_event"]["status"],
        "created"
    );
    // and its job deletes the event once the lease is free.
    app.app
        .store
        .unlock_calendar(id, now + Duration::seconds(60))
        .await
        .unwrap();
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    assert!(app.calendars.events().is_empty());
    assert_eq!(
        booking(&app, &id.to_string()).await["calendar_event"]["status"],
        "deleted"
    );
}

/// Writes a job row as it lies in the database, bypassing the typed insert (rows of older releases,
/// or damaged ones).
async fn insert_stored_job(app: &TestApp, kind: &str, meeting: Option<&str>, target: Option<&str>) {
    let now = app.clock.now();
    let sql = "INSERT INTO jobs (id, kind, meeting_id, target, status, attempts, run_at, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5)";
    let id = uuid::Uuid::now_v7();
    let mut tx = app.app.store.begin_write().await.unwrap();
    match &mut tx {
        rondo::store::Conn::Sqlite(tx) => sqlx::query(sql)
            .bind(id.to_string())
            .bind(kind)
            .bind(meeting)
            .bind(target)
            .bind(now.timestamp())
            .execute(&mut **tx)
            .await
            .map(drop),
        rondo::store::Conn::Postgres(tx) => sqlx::query(sql)
            .bind(id)
            .bind(kind)
            .bind(meeting.map(|m| uuid::Uuid::parse_str(m).unwrap()))
            .bind(target)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map(drop),
    }
    .unwrap();
    app.app.store.commit(tx).await.unwrap();
}

#[tokio::test]
async fn jobs_stored_by_older_releases_run_and_unreadable_ones_are_parked_dead() {
    let app = spawn_app().await;
    solo(&app).await;
    let b = app
        .book_ok("solo", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    let id = b["id"].as_str().unwrap();
    app.advance(Duration::seconds(11));
    assert_eq!(app.run_jobs().await, 2);
    assert_eq!(app.emails().len(), 1);
    // An email job as the first email release wrote it (no meeting column), and three rows that name no
    // job this build knows.
    let old_email = format!("{id}:update:1");
    insert_stored_job(&app, "email.send", None, Some(&old_email)).await;
    insert_stored_job(&app, "calendar.sync", None, None).await;
    insert_stored_job(&app, "webhook.deliver", None, Some("17")).await;
    insert_stored_job(&app, "calendar.purge", Some(id), None).await;
    assert_eq!(app.run_jobs().await, 4);
    let emails = app.emails();
    assert_eq!(emails.len(), 2, "the old email job sent its email");
    let sent = app.jobs_of("email.send", "done").await;
    assert_eq!(sent.len(), 2);
    assert!(
        sent.iter().any(|j| j["meeting_id"].is_null()),
        "shown as stored"
    );
    let dead = app.jobs("dead").await;
    let error_of = |kind: &str| {
        let job = dead.iter().find(|j| j["kind"] == kind).unwrap();
        assert_eq!(job["attempts"], 1, "parked at once: {job}");
        job["last_error"].as_str().unwrap().to_owned()
    };
    assert_eq!(dead.len(), 3);
    assert_eq!(
        error_of("calendar.sync"),
        "unreadable `calendar.sync` job: no meeting"
    );
    assert_eq!(
        error_of("webhook.deliver"),
        "unreadable `webhook.deliver` job: target \"17\" is not a delivery id"
    );
    assert_eq!(
        error_of("calendar.purge"),
        "unknown job kind `calendar.purge`"
    );
    // Nothing else was disturbed: the meeting's own jobs are done, and the worker carries on.
    assert!(app.jobs("pending").await.is_empty());
    app.advance(Duration::hours(1));
    assert_eq!(app.run_jobs().await, 0);
}
