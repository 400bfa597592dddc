//! Agents in the console: adding one and opening its connect link, editing its settings (a bad field is
//! shown beside itself and nothing is saved), a new connect link, and the invitation's live preview.

use serde_json::{json, Value};

use crate::support::console::{assert_to_sign_in, ConsoleHttp};
use crate::support::webdriver::chrome;
use crate::support::*;

async fn agent_json(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/admin/api/agents/{id}"), ADMIN)
        .await
}

#[tokio::test]
async fn agent_and_team_pages_need_a_session_and_forms_their_csrf_token() {
    let app = spawn_app().await;
    let ann = app.create_agent("Ann Smith", "Europe/Amsterdam", &[]).await;
    let id = ann["id"].as_str().unwrap();
    let signed_out = ConsoleHttp::signed_out(&app);
    for path in [
        "/admin/agents".to_owned(),
        "/admin/agents/new".to_owned(),
        format!("/admin/agents/{id}"),
        "/admin/teams".to_owned(),
        "/admin/teams/sales".to_owned(),
    ] {
        assert_to_sign_in(&signed_out.get(&path).await, &path);
    }
    let console = ConsoleHttp::sign_in(&app).await;
    // A form without the session's CSRF token changes nothing.
    for (path, form) in [
        (
            "/admin/agents".to_owned(),
            vec![("csrf", "forged"), ("name", "Eve"), ("email", "eve@x.test")],
        ),
        (
            format!("/admin/agents/{id}"),
            vec![("csrf", "forged"), ("name", "Renamed")],
        ),
        (
            format!("/admin/agents/{id}/invitation"),
            vec![("csrf", "forged"), ("subject", "x"), ("body", "y")],
        ),
        (format!("/admin/agents/{id}/connect-link"), vec![]),
        (
            "/admin/teams".to_owned(),
            vec![("csrf", "forged"), ("slug", "evil"), ("name", "Evil")],
        ),
    ] {
        let r = console.post_form(&path, &form).await;
        assert_eq!(r.status(), 403, "{path}");
    }
    assert_eq!(agent_json(&app, id).await["name"], "Ann Smith");
    let agents = app.get_json("/admin/api/agents", ADMIN).await;
    assert_eq!(agents.as_array().unwrap().len(), 1);
    let teams = app.get_json("/admin/api/teams", ADMIN).await;
    assert_eq!(teams, json!([]));
    let invitation = app
        .get_json(&format!("/admin/api/agents/{id}/invitation"), ADMIN)
        .await;
    assert_eq!(invitation["is_default"], true);
}

#[tokio::test]
async fn an_admin_adds_an_agent_and_its_connect_link_opens_the_agents_page() {
    let app = spawn_app().await;
    app.create_team("sales", json!({"name": "Sales"})).await;
    app.create_team("support", json!({"name": "Support"})).await;
    let Some(b) = chrome(&app).await else { return };
    b.sign_in().await;
    b.open("/admin/agents").await;
    b.wait_for_text("No agents yet").await;
    b.navigate("a[href='/admin/agents/new']").await;
    b.wait_for_text("Add an agent").await;
    // Weekdays 09:00-17:00 are filled in; the zone is the admin's.
    assert_eq!(b.value("#hours_mon").await, "09:00-17:00");
    assert_eq!(b.value("#hours_sat").await, "");
    b.fill("#name", "Ann Smith").await;
    b.fill("#email", "ann@agents.test").await;
    b.fill("#timezone", "Europe/Amsterdam").await;
    b.fill("#hours_fri", "09:00-12:00, 13:00-15:00").await;
    b.click("label[for='team-sales']").await;
    b.navigate("form[action='/admin/agents'] button[type=submit]")
        .await;
    b.wait_for_text("Ann Smith was added").await;
    let link = b.value("#connect-url").await;
    assert!(
        link.starts_with(&format!("{}/connect/", app.address)),
        "{link}"
    );
    let text = b.text().await;
    assert!(
        text.contains("It expires on") && text.contains("7 days from now"),
        "{text}"
    );
    // Copy puts the link on the clipboard, or (where the browser refuses) selects it for Ctrl+C.
    b.click("#copy").await;
    b.wait_for_element_text("#copy-status", |t| !t.is_empty())
        .await;
    b.screenshot("console-agent-link").await;

    // Stored as typed, in the team ticked.
    let agents = app.get_json("/admin/api/agents", ADMIN).await;
    let ann = &agents[0];
    assert_eq!(ann["name"], "Ann Smith");
    assert_eq!(ann["timezone"], "Europe/Amsterdam");
    assert_eq!(ann["teams"], json!(["sales"]));
    assert_eq!(
        ann["weekly_hours"]["fri"],
        json!([["09:00", "12:00"], ["13:00", "15:00"]])
    );
    assert_eq!(ann["weekly_hours"]["mon"], json!([["09:00", "17:00"]]));
    assert!(ann["weekly_hours"].get("sat").is_none());

    // The list shows the agent.
    b.navigate("a[href='/admin/agents']").await;
    b.wait_for_text("ann@agents.test").await;
    let text = b.text().await;
    assert!(
        text.contains("Europe/Amsterdam") && text.contains("sales"),
        "{text}"
    );
    b.screenshot("console-agents").await;

    // The link is the agent's own page, naming them.
    b.open(&link).await;
    b.wait_for_text("Hello Ann Smith").await;
    assert!(b.text().await.contains("Your hours and invitation"));
    b.screenshot("console-agent-connect-page").await;
    b.close().await;
}

#[tokio::test]
async fn a_bad_field_is_shown_beside_itself_and_nothing_is_saved_until_it_is_fixed() {
    let app = spawn_app().await;
    app.create_team("sales", json!({"name": "Sales"})).await;
    let ann = app
        .create_agent("Ann Smith", "Europe/Amsterdam", &["sales"])
        .await;
    let id = ann["id"].as_str().unwrap().to_owned();
    let before = agent_json(&app, &id).await;
    let Some(b) = chrome(&app).await else { return };
    b.sign_in().await;
    b.open(&format!("/admin/agents/{id}")).await;
    b.wait_for_text("Weekly hours").await;
    assert_eq!(b.value("#hours_mon").await, "09:00-17:00");
    b.fill("#timezone", "America/New_York").await;
    b.fill("#hours_mon", "09:00-12:00, 13:00-17:00").await;
    b.fill("#hours_tue", "9am").await;
    b.fill("#days_off", "2026-12-24: off\n2026-12-31: 09:00-12:00")
        .await;
    b.fill("#daily_limit", "4").await;
    b.click("label[for='paused']").await;
    b.navigate("#settings button[type=submit]").await;
    b.wait_for_text("nothing was saved").await;
    let why = b.find("#hours_tue-error").await.text().await.unwrap();
    assert_eq!(why, "`9am` is not a span like 09:00-17:00");
    assert_eq!(
        b.find("#hours_tue")
            .await
            .attr("aria-invalid")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    // Only that field is at fault; what was typed is still there.
    assert_eq!(b.find("#timezone-error").await.text().await.unwrap(), "");
    assert_eq!(b.value("#timezone").await, "America/New_York");
    assert_eq!(b.value("#hours_tue").await, "9am");
    assert_eq!(b.value("#daily_limit").await, "4");
    assert_eq!(agent_json(&app, &id).await, before, "nothing saved");
    b.screenshot("console-agent-error").await;

    // Out-of-range limit and a bad days-off line are named beside theirs too.
    b.fill("#hours_tue", "10:00-16:00").await;
    b.fill("#daily_limit", "0").await;
    b.fill("#days_off", "2026-12-24 off").await;
    b.navigate("#settings button[type=submit]").await;
    b.wait_for_text("nothing was saved").await;
    let limit = b.find("#daily_limit-error").await.text().await.unwrap();
    assert!(limit.contains("between 1 and 100"), "{limit}");
    let line = b.find("#days_off-error").await.text().await.unwrap();
    assert!(line.starts_with("line 1:"), "{line}");
    assert_eq!(agent_json(&app, &id).await, before, "nothing saved");

    // Fixed: all of it is saved.
    b.fill("#daily_limit", "4").await;
    b.fill("#days_off", "2026-12-24: off\n2026-12-31: 09:00-12:00")
        .await;
    b.navigate("#settings button[type=submit]").await;
    b.wait_for_text("Settings saved.").await;
    let after = agent_json(&app, &id).await;
    assert_eq!(after["timezone"], "America/New_York");
    assert_eq!(
        after["weekly_hours"]["mon"],
        json!([["09:00", "12:00"], ["13:00", "17:00"]])
    );
    assert_eq!(after["weekly_hours"]["tue"], json!([["10:00", "16:00"]]));
    assert_eq!(
        after["date_overrides"],
        json!({"2026-12-24": [], "2026-12-31": [["09:00", "12:00"]]})
    );
    assert_eq!(after["daily_limit"], 4);
    assert_eq!(after["paused"], true);
    assert_eq!(after["teams"], json!(["sales"]), "teams kept");
    assert_eq!(after["name"], "Ann Smith");
    // The page shows what was saved.
    assert_eq!(
        b.value("#days_off").await,
        "2026-12-24: off\n2026-12-31: 09:00-12:00"
    );
    b.screenshot("console-agent-saved").await;

    // On a phone the page still reads top to bottom.
    b.client.set_window_size(390, 844).await.unwrap();
    b.open(&format!("/admin/agents/{id}")).await;
    b.wait_for_text("Weekly hours").await;
    b.screenshot("console-agent-phone").await;

    // A new connect link, from the agent's page.
    b.client.set_window_size(1280, 900).await.unwrap();
    b.navigate("#new-link").await;
    b.wait_for_text("New connect link for Ann Smith").await;
    let link = b.value("#connect-url").await;
    assert!(link.contains("/connect/"), "{link}");
    b.close().await;
}

#[tokio::test]
async fn the_invitation_preview_follows_the_text_as_it_is_typed() {
    let app = spawn_app().await;
    let ann = app.create_agent("Ann Smith", "Europe/Amsterdam", &[]).await;
    let id = ann["id"].as_str().unwrap().to_owned();
    let Some(b) = chrome(&app).await else { return };
    b.sign_in().await;
    let page = format!("/admin/agents/{id}");
    b.open(&page).await;
    // The standard invitation is previewed to begin with.
    let standard = b.find("#preview-subject").await.text().await.unwrap();
    assert!(!standard.is_empty());

    b.fill(
        "#body",
        "Hello {{ visitor_name }}, talk soon.\n{{ agent_name }}",
    )
    .await;
    b.fill("#subject", "Meeting with {{ visitor_name }}").await;
    b.wait_for_element_text("#preview-subject", |t| t == "Meeting with Vera Visitor")
        .await;
    b.wait_for_element_text("#preview-text", |t| {
        t.contains("Hello Vera Visitor, talk soon.")
    })
    .await;
    assert!(b.url().await.ends_with(&page), "no page was loaded");
    b.screenshot("console-invitation-preview").await;

    // A variable that does not exist is named beside the subject as it is typed.
    b.fill("#subject", "Meeting with {{ visiter_name }}").await;
    let why = b
        .wait_for_element_text("#subject-error", |t| !t.is_empty())
        .await;
    assert!(why.contains("visiter_name"), "{why}");
    b.fill("#subject", "Meeting with {{ visitor_name }}").await;
    b.wait_for_element_text("#subject-error", str::is_empty)
        .await;

    // Without the script, the Preview button does the same on the server.
    b.click("#preview-button").await;
    b.wait_for_text("Preview").await;
    b.wait_for_element_text("#preview-subject", |t| t == "Meeting with Vera Visitor")
        .await;
    assert!(b.url().await.ends_with("/invitation/preview"));
    assert_eq!(b.value("#subject").await, "Meeting with {{ visitor_name }}");
    let invitation = app
        .get_json(&format!("/admin/api/agents/{id}/invitation"), ADMIN)
        .await;
    assert_eq!(invitation["is_default"], true, "a preview saves nothing");

    b.navigate("#invitation button[type=submit]:not([formaction])")
        .await;
    b.wait_for_text("Invitation saved.").await;
    let invitation = app
        .get_json(&format!("/admin/api/agents/{id}/invitation"), ADMIN)
        .await;
    assert_eq!(invitation["is_default"], false);
    assert_eq!(invitation["subject"], "Meeting with {{ visitor_name }}");
    assert_eq!(
        invitation["body"],
        "Hello {{ visitor_name }}, talk soon.\n{{ agent_name }}"
    );
    b.close().await;
}
