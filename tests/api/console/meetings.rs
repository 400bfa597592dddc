//! Signing in, the meetings report, marking a no-show, the CSV of the current filter, a person's page.

use serde_json::json;

use crate::support::console::{assert_to_sign_in, session_cookie, ConsoleHttp};
use crate::support::webdriver::chrome;
use crate::support::*;

async fn with_meetings(app: &TestApp) {
    app.create_team("sales", json!({"name": "Sales"})).await;
    app.create_agent("Ann Smith", "Europe/Amsterdam", &["sales"])
        .await;
    app.create_agent("Bob Jones", "Europe/Amsterdam", &["sales"])
        .await;
    app.book_ok("sales", "2026-11-23T09:00:00Z", "vera@acme.com")
        .await;
    app.book_ok("sales", "2026-11-23T10:00:00Z", "walt@globex.com")
        .await;
    app.book_ok("sales", "2026-11-24T09:00:00Z", "vera@acme.com")
        .await;
}

#[tokio::test]
async fn pages_and_forms_refuse_without_a_session() {
    let app = spawn_app().await;
    let signed_out = ConsoleHttp::signed_out(&app);
    for path in [
        "/admin",
        "/admin/meetings",
        "/admin/meetings.csv",
        "/admin/people?email=a@b.co",
    ] {
        assert_to_sign_in(&signed_out.get(path).await, path);
    }
    let r = signed_out
        .post_form("/admin/sign-out", &[("csrf", "x")])
        .await;
    assert_to_sign_in(&r, "signing out");
    // A wrong token shows the sign-in page again, with no cookie.
    let r = signed_out
        .post_form("/admin/sign-in", &[("token", CHAT), ("zone", "UTC")])
        .await;
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());
    // The right one: an HttpOnly, SameSite=Lax session cookie, and back to where the admin was going.
    let r = signed_out
        .post_form(
            "/admin/sign-in",
            &[
                ("token", ADMIN),
                ("zone", "UTC"),
                ("next", "/admin/people?email=a@b.co"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/people?email=a@b.co");
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let console = ConsoleHttp::with_cookie(&app, session_cookie(&r));
    // A form without the session's CSRF token is refused and changes nothing.
    let r = console
        .post_form("/admin/sign-out", &[("csrf", "forged")])
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(console.get("/admin/meetings").await.status(), 200);
    // Never to another site after signing in.
    let r = signed_out
        .post_form(
            "/admin/sign-in",
            &[("token", ADMIN), ("next", "https://evil.example/")],
        )
        .await;
    assert_eq!(r.headers()["location"], "/admin/meetings");
}

#[tokio::test]
async fn an_admin_signs_in_sees_the_meetings_marks_a_no_show_and_downloads_the_csv() {
    let app = spawn_app().await;
    with_meetings(&app).await;
    let Some(b) = chrome(&app).await else { return };
    b.sign_in().await;
    b.open("/admin/meetings").await;
    b.wait_for_text("vera@acme.com").await;
    let text = b.text().await;
    assert!(text.contains("walt@globex.com"), "{text}");
    assert!(
        text.contains("Ann Smith") && text.contains("Bob Jones"),
        "{text}"
    );
    b.screenshot("console-meetings").await;

    // After Monday's meetings ended they count as taken place; one is marked a no-show.
    app.clock.set(at("2026-11-23T12:00:00Z"));
    b.fill("#f-lead", "walt@globex.com").await;
    b.navigate("form.filters button[type=submit]").await;
    b.wait_for_text("Mark no-show").await;
    let text = b.text().await;
    assert!(!text.contains("vera@acme.com"), "filtered: {text}");
    b.navigate("button[aria-label^='Mark the meeting with walt@globex.com as a no-show']")
        .await;
    b.wait_for_text("No-show").await;
    assert!(
        b.url().await.contains("lead_email=walt"),
        "back to the same filter"
    );
    let list = app.meetings("lead_email=walt@globex.com").await;
    assert_eq!(list["meetings"][0]["took_place"], false);
    b.screenshot("console-no-show").await;

    // The CSV link downloads the current filter.
    let href = b.find("#csv").await.attr("href").await.unwrap().unwrap();
    let csv = app
        .client
        .get(app.url(&href))
        .header("cookie", b.cookie_header().await)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(
        csv.contains("walt@globex.com") && csv.contains(",false,"),
        "{csv}"
    );
    b.close().await;
}

#[tokio::test]
async fn a_persons_page_shows_every_meeting_and_activity_of_the_lead() {
    let app = spawn_app().await;
    with_meetings(&app).await;
    let Some(b) = chrome(&app).await else { return };
    b.sign_in().await;
    b.open("/admin/meetings").await;
    b.navigate("a[href='/admin/people?email=vera%40acme.com']")
        .await;
    b.wait_for_text("Activity log").await;
    let text = b.text().await;
    assert!(text.contains("vera@acme.com"), "{text}");
    assert_eq!(text.matches("Scheduled").count(), 2, "{text}");
    assert!(!text.contains("walt@globex.com"), "{text}");
    b.screenshot("console-person").await;
    b.close().await;
}
