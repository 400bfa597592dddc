//! Failed jobs in the console: each dead job with its error, and Retry putting it back in the queue.

use chrono::Duration;
use serde_json::{json, Value};

use crate::support::calendar::Failure;
use crate::support::console::{assert_to_sign_in, ConsoleHttp};
use crate::support::webdriver::chrome;
use crate::support::*;

/// A calendar that refuses the event twice: the booking's calendar job gives up (dead).
async fn with_a_dead_job(app: &TestApp) -> Value {
    app.create_team("solo", json!({})).await;
    app.create_agent("Only", "Europe/Amsterdam", &["solo"])
        .await;
    app.calendars.fail_next_creates(2, Failure::Refused);
    let b = app
        .book_ok("solo", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    app.advance(Duration::seconds(11));
    assert_eq!(app.run_jobs().await, 2);
    let dead = app.jobs("dead").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["meeting_id"], b["id"]);
    b
}

#[tokio::test]
async fn a_dead_job_is_listed_with_its_error_and_retry_puts_it_back_in_the_queue() {
    let app = spawn_app().await;
    let booking = with_a_dead_job(&app).await;
    let dead = app.jobs("dead").await;
    let job_id = dead[0]["id"].as_str().unwrap().to_owned();
    let error = dead[0]["last_error"].as_str().unwrap().to_owned();
    let Some(b) = chrome(&app).await else { return };
    b.sign_in().await;
    b.open("/admin/jobs").await;
    b.wait_for_text("Calendar event").await;
    let row = b
        .find(&format!("#job-{job_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(row.contains("calendar.sync"), "{row}");
    assert!(row.contains("v@example.com"), "{row}");
    assert!(row.contains(&error), "the last error: {row}");
    assert!(row.contains("400"), "{row}");
    assert!(row.contains("Mon 23 Nov 2026"), "{row}");
    b.screenshot("console-jobs").await;
    b.screenshot_phone("console-jobs-phone", "table").await;

    b.navigate("button[aria-label='Retry the calendar event job for v@example.com']")
        .await;
    b.wait_for_text("queued again").await;
    assert!(b.text().await.contains("No failed jobs"));
    assert!(app.jobs("dead").await.is_empty(), "it left the dead jobs");
    let pending = app.jobs("pending").await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["id"], job_id.as_str());
    assert_eq!(pending[0]["attempts"], 0);
    b.screenshot("console-jobs-retried").await;

    // It runs again, and this time the calendar takes the event.
    assert_eq!(app.run_jobs().await, 1);
    let now: Value = app
        .get_json(
            &format!("/v1/bookings/{}", booking["id"].as_str().unwrap()),
            CHAT,
        )
        .await;
    assert_eq!(now["calendar_event"]["status"], "created");
    b.close().await;
}

#[tokio::test]
async fn retrying_needs_the_csrf_token_and_a_job_that_is_still_dead() {
    let app = spawn_app().await;
    with_a_dead_job(&app).await;
    let job_id = app.jobs("dead").await[0]["id"].as_str().unwrap().to_owned();
    let retry = format!("/admin/jobs/{job_id}/retry");
    let r = ConsoleHttp::signed_out(&app)
        .post_form(&retry, &[("csrf", "x")])
        .await;
    assert_to_sign_in(&r, "no session");
    let console = ConsoleHttp::sign_in(&app).await;
    let csrf = console.csrf.as_str();
    let r = console.post_form(&retry, &[("csrf", "forged")]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        app.jobs("dead").await.len(),
        1,
        "a forged form changes nothing"
    );
    let r = console.post_form(&retry, &[("csrf", csrf)]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/jobs?retried=1");
    assert!(app.jobs("dead").await.is_empty());
    // Again (another tab): nothing to do, and the page says so.
    let r = console.post_form(&retry, &[("csrf", csrf)]).await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("no longer failed"));
    let r = console
        .post_form(
            "/admin/jobs/0190f0b4-0000-7000-8000-000000000000/retry",
            &[("csrf", csrf)],
        )
        .await;
    assert_eq!(r.status(), 404);
}
