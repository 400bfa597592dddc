//! Teams in the console: creating one (a bad slug refused beside its field) and changing its settings (a
//! bad value refused beside its field, nothing saved, then saved once fixed).

use serde_json::json;

use crate::support::webdriver::chrome;
use crate::support::*;

#[tokio::test]
async fn an_admin_creates_a_team_and_changes_its_settings() {
    let app = spawn_app().await;
    let Some(b) = chrome(&app).await else { return };
    b.sign_in().await;
    b.open("/admin/teams").await;
    b.wait_for_text("No teams yet").await;
    // A new team's defaults are filled in.
    assert_eq!(b.value("#meeting_minutes").await, "30");

    b.fill("#slug", "Customer Success").await;
    b.fill("#name", "Customer success").await;
    b.navigate("#new-team button[type=submit]").await;
    b.wait_for_text("nothing was saved").await;
    let why = b.find("#slug-error").await.text().await.unwrap();
    assert!(!why.is_empty(), "the slug is named");
    assert_eq!(b.find("#name-error").await.text().await.unwrap(), "");
    assert_eq!(app.get_json("/admin/api/teams", ADMIN).await, json!([]));
    b.screenshot("console-team-create-error").await;

    b.fill("#slug", "success").await;
    b.navigate("#new-team button[type=submit]").await;
    b.wait_for_text("Team created.").await;
    assert!(b.url().await.contains("/admin/teams/success"));
    let team = app.get_json("/admin/api/teams/success", ADMIN).await;
    assert_eq!(team["name"], "Customer success");
    assert_eq!(team["meeting_minutes"], 30);

    // 45-minute meetings on a 15-minute grid, at most 4 a day; a horizon out of range is refused.
    b.fill("#meeting_minutes", "45").await;
    b.fill("#slot_step_minutes", "15").await;
    b.fill("#daily_limit", "4").await;
    b.select("#mode", "Strict").await;
    b.fill("#horizon_days", "400").await;
    b.navigate("main form button[type=submit]").await;
    b.wait_for_text("nothing was saved").await;
    assert_eq!(
        b.find("#horizon_days-error").await.text().await.unwrap(),
        "must be between 1 and 365"
    );
    assert_eq!(
        b.find("#meeting_minutes-error").await.text().await.unwrap(),
        ""
    );
    assert_eq!(
        b.value("#meeting_minutes").await,
        "45",
        "what was typed stays"
    );
    assert_eq!(
        app.get_json("/admin/api/teams/success", ADMIN).await,
        team,
        "nothing saved"
    );
    b.screenshot("console-team-error").await;

    b.fill("#horizon_days", "60").await;
    b.navigate("main form button[type=submit]").await;
    b.wait_for_text("Settings saved.").await;
    let saved = app.get_json("/admin/api/teams/success", ADMIN).await;
    assert_eq!(saved["meeting_minutes"], 45);
    assert_eq!(saved["slot_step_minutes"], 15);
    assert_eq!(saved["daily_limit"], 4);
    assert_eq!(saved["horizon_days"], 60);
    assert_eq!(saved["mode"], "strict");
    assert_eq!(saved["slug"], "success");
    b.screenshot("console-team").await;

    // An empty limit is no limit.
    b.fill("#daily_limit", "").await;
    b.navigate("main form button[type=submit]").await;
    b.wait_for_text("Settings saved.").await;
    let saved = app.get_json("/admin/api/teams/success", ADMIN).await;
    assert_eq!(saved["daily_limit"], json!(null));

    b.navigate("a[href='/admin/teams']").await;
    b.wait_for_text("every 15 min").await;
    let text = b.text().await;
    assert!(text.contains("45 min") && text.contains("strict"), "{text}");
    b.screenshot("console-teams").await;
    b.close().await;
}
