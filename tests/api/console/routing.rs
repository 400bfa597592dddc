//! The routing page: a team's queue in order with who is next, moving and pausing agents, a disconnected
//! calendar flagged with its reason, and fairness (meetings per agent as a bar chart, skips by reason).

use chrono::Duration;
use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::console::{assert_to_sign_in, ConsoleHttp};
use crate::support::google::FakeGoogle;
use crate::support::webdriver::{chrome, Chrome};
use crate::support::*;

/// Team `sales` ("Sales") with Ann Smith, Bob Jones and Cat Brown in that queue order (demo calendars).
async fn sales_team(app: &TestApp) -> Vec<Value> {
    app.create_team("sales", json!({"name": "Sales"})).await;
    let mut agents = Vec::new();
    for name in ["Ann Smith", "Bob Jones", "Cat Brown"] {
        agents.push(app.create_agent(name, "Europe/Amsterdam", &["sales"]).await);
    }
    agents
}

/// The queue table as shown: (agent name, its rotation flags), top to bottom.
async fn queue_rows(b: &Chrome) -> Vec<(String, String)> {
    let v = b
        .client
        .execute(
            "return Array.from(document.querySelectorAll('#queue tbody tr')).map(r => \
             [r.querySelector('td.agent').innerText.trim(), r.querySelector('.flags').innerText.trim()])",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

/// The row of `name` in the queue table.
async fn row_of(b: &Chrome, name: &str) -> String {
    let v = b
        .client
        .execute(
            "return Array.from(document.querySelectorAll('#queue tbody tr'))\
             .filter(r => r.querySelector('td.agent').innerText.trim() === arguments[0])\
             .map(r => r.innerText)[0] || ''",
            vec![json!(name)],
        )
        .await
        .unwrap();
    v.as_str().unwrap_or_default().to_owned()
}

fn names(rows: &[(String, String)]) -> Vec<&str> {
    rows.iter().map(|(n, _)| n.as_str()).collect()
}

fn next_of(rows: &[(String, String)]) -> Vec<&str> {
    rows.iter()
        .filter(|(_, flags)| flags.split_whitespace().any(|w| w == "Next"))
        .map(|(n, _)| n.as_str())
        .collect()
}

/// The JSON queue: (name, next, paused) in order.
async fn api_queue(app: &TestApp) -> Vec<(String, bool, bool)> {
    let q = app.get_json("/admin/api/teams/sales/queue", ADMIN).await;
    q["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["next"].as_bool().unwrap(),
                a["paused"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn routing_forms_refuse_without_a_session_or_the_csrf_token() {
    let app = spawn_app().await;
    let agents = sales_team(&app).await;
    let cat = agents[2]["id"].as_str().unwrap();
    let signed_out = ConsoleHttp::signed_out(&app);
    let r = signed_out.get("/admin/routing?team=sales").await;
    assert_to_sign_in(&r, "the routing page");
    let r = signed_out
        .post_form(
            "/admin/routing/sales/pause",
            &[("csrf", "x"), ("agent", cat), ("paused", "true")],
        )
        .await;
    assert_to_sign_in(&r, "the pause form");
    let console = ConsoleHttp::sign_in(&app).await;
    for (path, form) in [
        (
            "/admin/routing/sales/pause",
            vec![("csrf", "forged"), ("agent", cat), ("paused", "true")],
        ),
        (
            "/admin/routing/sales/move",
            vec![("csrf", "forged"), ("agent", cat), ("direction", "up")],
        ),
    ] {
        let r = console.post_form(path, &form).await;
        assert_eq!(r.status(), 403, "{path}");
    }
    // Nothing changed.
    let q = api_queue(&app).await;
    assert_eq!(
        q.iter()
            .map(|(n, _, p)| (n.as_str(), *p))
            .collect::<Vec<_>>(),
        [
            ("Ann Smith", false),
            ("Bob Jones", false),
            ("Cat Brown", false)
        ]
    );
    // An unknown team is a 404 page, not a 500.
    let r = console.get("/admin/routing?team=nope").await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn an_admin_sees_the_queue_with_who_is_next_moves_an_agent_up_and_pauses_one() {
    let app = spawn_app().await;
    sales_team(&app).await;
    // A second team, so the picker has a choice; `sales` is listed first.
    app.create_team("support", json!({"name": "Support"})).await;
    // Ann takes the first meeting: Bob is next.
    let b1 = app
        .book_ok("sales", "2026-11-23T09:00:00Z", "vera@acme.com")
        .await;
    assert_eq!(b1["agent"]["name"], "Ann Smith");
    let Some(b) = chrome(&app).await else { return };
    b.sign_in().await;
    b.navigate("nav a[href='/admin/routing']").await;
    b.wait_for_text("Took the last meeting").await;
    let rows = queue_rows(&b).await;
    assert_eq!(names(&rows), ["Ann Smith", "Bob Jones", "Cat Brown"]);
    assert_eq!(next_of(&rows), ["Bob Jones"]);
    assert!(rows[0].1.contains("Took the last meeting"), "{rows:?}");
    assert_eq!(b.find("#next-up").await.text().await.unwrap(), "Bob Jones");
    let text = b.text().await;
    assert!(text.contains("Demo calendar"), "{text}");
    assert!(text.contains("3 of 3 agents"), "{text}");
    b.screenshot("console-routing").await;

    // Cat moves up past Bob: Cat is asked right after Ann now.
    b.navigate("button[aria-label='Move Cat Brown up']").await;
    b.wait_for_text("Cat Brown moved up the queue.").await;
    let rows = queue_rows(&b).await;
    assert_eq!(names(&rows), ["Ann Smith", "Cat Brown", "Bob Jones"]);
    assert_eq!(next_of(&rows), ["Cat Brown"]);
    assert_eq!(b.find("#next-up").await.text().await.unwrap(), "Cat Brown");
    assert!(b.url().await.contains("/admin/routing?team=sales&done=up"));
    // The admin API agrees.
    assert_eq!(
        api_queue(&app).await,
        [
            ("Ann Smith".to_owned(), false, false),
            ("Cat Brown".to_owned(), true, false),
            ("Bob Jones".to_owned(), false, false),
        ]
    );
    // The first agent cannot move up, the last cannot move down.
    assert!(b
        .find("button[aria-label='Move Ann Smith up']")
        .await
        .attr("disabled")
        .await
        .unwrap()
        .is_some());
    assert!(b
        .find("button[aria-label='Move Bob Jones down']")
        .await
        .attr("disabled")
        .await
        .unwrap()
        .is_some());

    // Pausing Cat: still in the queue, flagged, and Bob is next.
    b.navigate("button[aria-label='Pause Cat Brown']").await;
    b.wait_for_text("Cat Brown is paused").await;
    let rows = queue_rows(&b).await;
    assert_eq!(names(&rows), ["Ann Smith", "Cat Brown", "Bob Jones"]);
    assert!(rows[1].1.contains("Paused"), "{rows:?}");
    assert_eq!(next_of(&rows), ["Bob Jones"]);
    assert!(b.text().await.contains("2 of 3 agents"));
    assert_eq!(
        api_queue(&app).await,
        [
            ("Ann Smith".to_owned(), false, false),
            ("Cat Brown".to_owned(), false, true),
            ("Bob Jones".to_owned(), true, false),
        ]
    );
    // And the rotation does what the page says.
    let b2 = app
        .book_ok("sales", "2026-11-23T10:00:00Z", "walt@globex.com")
        .await;
    assert_eq!(b2["agent"]["name"], "Bob Jones");
    b.open("/admin/routing?team=sales").await;
    b.wait_for_text("Took the last meeting").await;
    b.screenshot("console-routing-paused").await;

    // Resuming brings Cat back: after Bob comes Ann, so Ann is next.
    b.navigate("button[aria-label='Resume Cat Brown']").await;
    b.wait_for_text("Cat Brown is back in the rotation.").await;
    assert!(!row_of(&b, "Cat Brown").await.contains("Paused"));
    assert_eq!(next_of(&queue_rows(&b).await), ["Ann Smith"]);

    // On a phone the page fits the screen (the tables scroll inside their frames).
    b.client.set_window_size(390, 1700).await.unwrap();
    b.open("/admin/routing?team=sales").await;
    b.wait_for_text("Took the last meeting").await;
    let overflow = b
        .client
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "wider than the screen by {overflow}px"
    );
    b.screenshot("console-routing-phone").await;
    b.client.set_window_size(1280, 900).await.unwrap();

    // The picker shows the other team.
    b.select("#team-pick", "Support").await;
    b.wait_for_text("Nobody is in this team's queue yet").await;
    assert!(b.url().await.contains("team=support"));
    b.close().await;
}

/// Connects `name`'s calendar at the fake Google as `account`, through the agent's connect link.
async fn connect_google(app: &TestApp, google: &FakeGoogle, name: &str, account: &str) -> Value {
    let agent = app.create_agent(name, "Europe/Amsterdam", &["sales"]).await;
    google.consent_as(account);
    let browser = Browser::new();
    let page = browser.get(agent["connect_url"].as_str().unwrap()).await;
    let start = page
        .link("/oauth/google/start")
        .unwrap_or_else(|| panic!("no Google button on {}", page.body));
    let done = browser.get(&start).await;
    assert!(done.has("Calendar connected"), "{}", done.body);
    agent
}

#[tokio::test]
async fn a_disconnected_calendar_is_flagged_with_the_providers_reason() {
    let google = FakeGoogle::start().await;
    let app = spawn_app_with(Options {
        google: Some([google.auth_url(), google.token_url(), google.api_url()]),
        ..Options::default()
    })
    .await;
    app.create_team("sales", json!({"name": "Sales"})).await;
    connect_google(&app, &google, "Ann Smith", "ann@company.test").await;
    connect_google(&app, &google, "Bob Jones", "bob@company.test").await;
    // Cat never connects a calendar.
    app.create_agent("Cat Brown", "Europe/Amsterdam", &["sales"])
        .await;
    // Ann's grant is revoked; her next token refresh is refused and the booking goes to Bob.
    google.revoke("ann@company.test");
    app.advance(Duration::hours(2));
    let booked = app
        .book_ok("sales", "2026-11-23T12:00:00Z", "vera@acme.com")
        .await;
    assert_eq!(booked["agent"]["name"], "Bob Jones");

    let Some(b) = chrome(&app).await else { return };
    b.sign_in().await;
    b.open("/admin/routing").await;
    b.wait_for_text("Disconnected").await;
    let ann = row_of(&b, "Ann Smith").await;
    assert!(
        ann.contains("Google") && ann.contains("Disconnected"),
        "{ann}"
    );
    assert!(ann.contains("invalid_grant"), "the provider's words: {ann}");
    assert!(ann.contains("Out of rotation"), "{ann}");
    let bob = row_of(&b, "Bob Jones").await;
    assert!(bob.contains("Connected") && bob.contains("Google"), "{bob}");
    let cat = row_of(&b, "Cat Brown").await;
    assert!(cat.contains("Never connected"), "{cat}");
    // Bob took the last meeting and is the only one in rotation: the rotation wraps around to him.
    let rows = queue_rows(&b).await;
    assert_eq!(next_of(&rows), ["Bob Jones"]);
    assert!(b.text().await.contains("1 of 3 agents"));
    // The JSON queue says the same.
    let q = app.get_json("/admin/api/teams/sales/queue", ADMIN).await;
    let ann = &q["agents"][0];
    assert_eq!(ann["connection"], "disconnected", "{q}");
    assert!(ann["connection_reason"]
        .as_str()
        .unwrap()
        .contains("invalid_grant"));
    assert_eq!(q["agents"][1]["calendar"], "google");
    assert_eq!(q["agents"][1]["connection"], "connected");
    assert!(q["agents"][1]["connection_reason"].is_null());
    assert_eq!(q["agents"][2]["calendar"], "none");
    assert_eq!(q["agents"][2]["connection"], "none");
    // Ann's skip shows in fairness too.
    let skipped = b
        .find("#skips td[data-reason='disconnected']")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(skipped, "1");
    b.screenshot("console-routing-disconnected").await;
    b.close().await;
}

/// The fairness chart's bars: (agent name and count as labelled, count, width).
async fn bars(b: &Chrome) -> Vec<(String, String, String)> {
    let v = b
        .client
        .execute(
            "return Array.from(document.querySelectorAll('#fairness-chart rect.bar')).map(r => \
             [r.getAttribute('aria-label'), r.getAttribute('data-count'), r.getAttribute('width')])",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

/// Books `start` in `sales` for `who`@visitor.test; the name of the agent who got it.
async fn agent_for(app: &TestApp, start: &str, who: &str) -> String {
    app.book_ok("sales", start, &format!("{who}@visitor.test"))
        .await["agent"]["name"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn fairness_shows_meetings_per_agent_as_bars_and_skips_by_reason() {
    let app = spawn_app().await;
    let agents = sales_team(&app).await;
    let cat = agents[2]["id"].as_str().unwrap();
    let book = |start, who| agent_for(&app, start, who);
    assert_eq!(book("2026-11-23T09:00:00Z", "v1").await, "Ann Smith");
    assert_eq!(book("2026-11-23T10:00:00Z", "v2").await, "Bob Jones");
    // Cat is busy at 11:00: skipped (busy), Ann takes it.
    app.busy("cat.brown@agents.test", &[("2026-11-23T11:00:00Z", 60)]);
    assert_eq!(book("2026-11-23T11:00:00Z", "v3").await, "Ann Smith");
    assert_eq!(book("2026-11-23T13:00:00Z", "v4").await, "Bob Jones");
    // Cat is paused: skipped (paused), Ann takes it.
    let r = app
        .patch(
            &format!("/admin/api/agents/{cat}"),
            ADMIN,
            &json!({"paused": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(book("2026-11-23T14:00:00Z", "v5").await, "Ann Smith");
    // One of Bob's meetings is cancelled: it leaves the bars.
    let bobs = app
        .meetings(&format!(
            "agent={}&status=booked",
            agents[1]["id"].as_str().unwrap()
        ))
        .await;
    let id = bobs["meetings"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .post(&format!("/v1/bookings/{id}/cancel"), CHAT, &json!({}))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let Some(b) = chrome(&app).await else { return };
    b.sign_in().await;
    b.open("/admin/routing?team=sales").await;
    b.click("a[href='#fairness']").await;
    b.wait_for_text("Fairness, last 30 days").await;
    let title = b
        .client
        .execute(
            "return document.querySelector('#fairness-chart > title').textContent",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(title, "Meetings per agent, last 30 days");
    let found = bars(&b).await;
    let labelled: Vec<_> = found
        .iter()
        .map(|(label, count, _)| (label.as_str(), count.as_str()))
        .collect();
    assert_eq!(
        labelled,
        [
            ("Ann Smith: 3", "3"),
            ("Bob Jones: 1", "1"),
            ("Cat Brown: 0", "0")
        ]
    );
    // Scaled to the busiest agent.
    let widths: Vec<_> = found.iter().map(|(_, _, w)| w.as_str()).collect();
    assert_eq!(widths, ["88.00%", "29.33%", "0.00%"]);
    // Every bar carries its count as text too.
    let counts = b
        .client
        .execute(
            "return Array.from(document.querySelectorAll('#fairness-chart .bar-count'))\
             .map(t => t.textContent)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(counts, json!(["3", "1", "0"]));
    // Skips by reason: Cat was passed over once busy and once paused.
    let cell = |reason: &str| format!("#skips-{cat} td[data-reason='{reason}']");
    assert_eq!(b.find(&cell("busy")).await.text().await.unwrap(), "1");
    assert_eq!(b.find(&cell("paused")).await.text().await.unwrap(), "1");
    let headers = b.find("#skips thead").await.text().await.unwrap();
    assert!(
        headers.contains("BUSY") || headers.contains("Busy"),
        "{headers}"
    );
    let text = b.text().await;
    assert!(text.contains("An even share: 1.3 each"), "{text}");
    b.screenshot("console-routing-fairness").await;

    // A month later those bookings are out of the window.
    app.advance(Duration::days(31));
    b.sign_in().await; // the session has expired meanwhile
    b.open("/admin/routing?team=sales").await;
    b.wait_for_text("Nobody was skipped").await;
    let counts: Vec<_> = bars(&b).await.into_iter().map(|(_, c, _)| c).collect();
    assert_eq!(counts, ["0", "0", "0"]);
    b.close().await;
}
