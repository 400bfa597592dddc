//! Agents connect real calendars (against the local Google and Microsoft fakes): the browser flow, what an
//! admin then sees, availability from the provider's free/busy, and the meeting's event in the calendar.

use chrono::Duration;
use serde_json::{json, Value};

use crate::support::browser::{Browser, Page};
use crate::support::google::FakeGoogle;
use crate::support::microsoft::FakeMicrosoft;
use crate::support::*;

async fn with_google() -> (TestApp, FakeGoogle) {
    let google = FakeGoogle::start().await;
    let app = spawn_app_with(Options {
        google: Some([google.auth_url(), google.token_url(), google.api_url()]),
        ..Options::default()
    })
    .await;
    (app, google)
}

async fn with_microsoft() -> (TestApp, FakeMicrosoft) {
    let ms = FakeMicrosoft::start().await;
    let app = spawn_app_with(Options {
        microsoft: Some([ms.authority(), ms.graph_url()]),
        ..Options::default()
    })
    .await;
    (app, ms)
}

async fn agent(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/admin/api/agents/{id}"), ADMIN)
        .await
}

/// A provider fake the browser flow can sign in to.
trait Provider {
    const NAME: &'static str;
    fn consent_as(&self, account: &str);
}

impl Provider for FakeGoogle {
    const NAME: &'static str = "google";
    fn consent_as(&self, account: &str) {
        FakeGoogle::consent_as(self, account)
    }
}

impl Provider for FakeMicrosoft {
    const NAME: &'static str = "microsoft";
    fn consent_as(&self, account: &str) {
        FakeMicrosoft::consent_as(self, account)
    }
}

/// A sales agent (Amsterdam hours) whose calendar `account` at `provider` is connected through the
/// browser flow.
async fn connected<P: Provider>(app: &TestApp, provider: &P, name: &str, account: &str) -> Value {
    let agent = app.create_agent(name, "Europe/Amsterdam", &["sales"]).await;
    provider.consent_as(account);
    let page = connect(
        &Browser::new(),
        agent["connect_url"].as_str().unwrap(),
        P::NAME,
    )
    .await;
    assert!(page.has("Calendar connected"), "{}", page.body);
    agent
}

/// Opens the agent's connect page and clicks the provider's button; returns the page the browser ends on.
async fn connect(browser: &Browser, connect_url: &str, button: &str) -> Page {
    let page = browser.get(connect_url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let start = page
        .link(&format!("/oauth/{button}/start"))
        .unwrap_or_else(|| panic!("no {button} button on {}", page.body));
    browser.get(&start).await
}

#[tokio::test]
async fn an_agent_connects_google_and_gets_meetings_with_a_meet_link_in_its_calendar() {
    let (app, google) = with_google().await;
    app.create_team("sales", json!({})).await;
    let ann = app
        .create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    let id = ann["id"].as_str().unwrap();
    // Not connected yet: in the queue, but not offered.
    assert_eq!(ann["calendar"], "none");
    assert!(ann["connection"].is_null());
    let from = "2026-11-23T08:00:00Z";
    let to = "2026-11-23T16:00:00Z";
    assert!(app.slot_starts("sales", from, to).await.is_empty());

    google.consent_as("ann@company.test");
    let browser = Browser::new();
    let page = browser.get(ann["connect_url"].as_str().unwrap()).await;
    assert!(page.has("Ann"), "{}", page.body);
    assert!(page.has("Connect Google Calendar"));
    assert!(
        !page.has("Connect Outlook"),
        "Outlook is not configured here"
    );
    let done = connect(&browser, ann["connect_url"].as_str().unwrap(), "google").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.has("Calendar connected"), "{}", done.body);
    assert!(done.has("ann@company.test"));
    // The browser went to Google's consent page and came back to rondo's callback.
    let visited = browser.visited.lock().unwrap().clone();
    assert!(visited.iter().any(|u| u.starts_with(&google.auth_url())));
    assert!(visited
        .iter()
        .any(|u| u.contains("/oauth/google/callback?")));

    let seen = agent(&app, id).await;
    assert_eq!(seen["calendar"], "google");
    assert_eq!(seen["connection"]["status"], "connected");
    assert_eq!(seen["connection"]["account"], "ann@company.test");
    assert!(
        !seen.to_string().contains("token"),
        "no token in the admin API: {seen}"
    );

    // Availability follows the Google calendar's busy blocks (10:00-11:00 UTC here).
    google.set_busy(
        "ann@company.test",
        vec![(at("2026-11-23T10:00:00Z"), at("2026-11-23T11:00:00Z"))],
    );
    let starts = app.slot_starts("sales", from, to).await;
    assert!(starts.contains(&at("2026-11-23T09:30:00Z")));
    assert!(!starts.contains(&at("2026-11-23T10:00:00Z")));
    assert!(!starts.contains(&at("2026-11-23T10:30:00Z")));
    assert!(starts.contains(&at("2026-11-23T11:00:00Z")));

    // A booking makes exactly one event, with the visitor and a Meet link (read again when Google
    // answers the insert before the conference is ready).
    google.meet_pending_on_next_insert();
    let b = app
        .book_ok("sales", "2026-11-23T12:00:00Z", "vera@visitor.test")
        .await;
    assert_eq!(b["calendar_event"]["status"], "created", "{b}");
    let link = b["calendar_event"]["video_link"].as_str().unwrap();
    assert!(link.starts_with("https://meet.google.com/"), "{link}");
    let events = google.events("ann@company.test");
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["attendees"][0]["email"], "vera@visitor.test");
    assert!(e["description"]
        .as_str()
        .unwrap()
        .contains("vera@visitor.test"));
    assert!(e["description"].as_str().unwrap().contains("Acme"));
    assert_eq!(e["hangoutLink"], link);
    assert_eq!(
        at(e["start"]["dateTime"].as_str().unwrap()),
        at("2026-11-23T12:00:00Z")
    );
    // Running the outbox later changes nothing.
    app.advance(Duration::minutes(1));
    app.run_jobs().await;
    assert_eq!(google.insert_count(), 1);

    // Reschedule moves the event; cancel deletes it.
    let id = b["id"].as_str().unwrap();
    let r = app.reschedule(id, "2026-11-23T14:00:00Z").await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    app.advance(Duration::minutes(1));
    app.run_jobs().await;
    let events = google.events("ann@company.test");
    assert_eq!(events.len(), 1);
    assert_eq!(
        at(events[0]["start"]["dateTime"].as_str().unwrap()),
        at("2026-11-23T14:00:00Z")
    );
    let r = app
        .post(&format!("/v1/bookings/{id}/cancel"), CHAT, &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    app.advance(Duration::minutes(1));
    app.run_jobs().await;
    assert!(google.events("ann@company.test").is_empty());
    assert_eq!(google.insert_count(), 1);
}

#[tokio::test]
async fn a_google_outage_leaves_the_event_pending_and_it_is_created_once_on_recovery() {
    let (app, google) = with_google().await;
    app.create_team("sales", json!({})).await;
    connected(&app, &google, "Ann", "ann@company.test").await;
    // Inserts answer 503 (with a fractional Retry-After) twice: the inline try and the first job run.
    google.fail_next_inserts(2, 503, Some("1.5"));
    let b = app
        .book_ok("sales", "2026-11-23T12:00:00Z", "vera@visitor.test")
        .await;
    assert_eq!(b["calendar_event"]["status"], "pending", "{b}");
    assert!(b["calendar_event"]["video_link"].is_null());
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    assert!(google.events("ann@company.test").is_empty());
    let pending = app.jobs_of("calendar.sync", "pending").await;
    assert_eq!(pending.len(), 1, "retried later: {pending:?}");
    // The provider is back: the next run creates the event, once, and the booking shows its Meet link.
    app.advance(Duration::minutes(10));
    app.run_jobs().await;
    assert_eq!(google.events("ann@company.test").len(), 1);
    assert_eq!(google.insert_count(), 1);
    let b = app
        .get_json(&format!("/v1/bookings/{}", b["id"].as_str().unwrap()), CHAT)
        .await;
    assert_eq!(b["calendar_event"]["status"], "created", "{b}");
    assert!(b["calendar_event"]["video_link"]
        .as_str()
        .unwrap()
        .starts_with("https://meet.google.com/"));
    // An insert whose answer was lost is found by its id (409 duplicate → read it), not made twice.
    google.lose_next_insert_response();
    let b2 = app
        .book_ok("sales", "2026-11-23T14:00:00Z", "walt@visitor.test")
        .await;
    assert_eq!(b2["calendar_event"]["status"], "pending");
    app.advance(Duration::minutes(1));
    app.run_jobs().await;
    assert_eq!(google.events("ann@company.test").len(), 2);
    let b2 = app
        .get_json(
            &format!("/v1/bookings/{}", b2["id"].as_str().unwrap()),
            CHAT,
        )
        .await;
    assert_eq!(b2["calendar_event"]["status"], "created", "{b2}");
}

#[tokio::test]
async fn a_revoked_google_grant_takes_the_agent_out_of_rotation_until_it_reconnects() {
    let (app, google) = with_google().await;
    app.create_team("sales", json!({})).await;
    let ann = connected(&app, &google, "Ann", "ann@company.test").await;
    connected(&app, &google, "Bob", "bob@company.test").await;

    google.revoke("ann@company.test");
    // Once Ann's access token is due for a refresh, the refresh is refused.
    app.advance(Duration::hours(2));
    let b = app
        .book_ok("sales", "2026-11-23T12:00:00Z", "vera@visitor.test")
        .await;
    assert_eq!(b["agent"]["name"], "Bob");
    let skipped = b["routing"]["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["agent_id"] == ann["id"] && s["reason"] == "disconnected"),
        "{b}"
    );
    let seen = agent(&app, ann["id"].as_str().unwrap()).await;
    assert_eq!(seen["calendar"], "none");
    assert_eq!(seen["connection"]["status"], "disconnected");
    assert!(
        seen["connection"]["reason"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{seen}"
    );
    let queue = app.get_json("/admin/api/teams/sales/queue", ADMIN).await;
    let ann_row = queue["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == ann["id"])
        .unwrap()
        .clone();
    assert_eq!(ann_row["calendar"], "none", "{queue}");
    assert_eq!(ann_row["connection"], "disconnected", "{queue}");
    assert!(
        ann_row["connection_reason"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{queue}"
    );
    assert_eq!(ann_row["active"], false, "{queue}");

    // Reconnecting (with a new link from the admin) brings Ann back.
    let fresh = app
        .post(
            &format!(
                "/admin/api/agents/{}/connect-link",
                ann["id"].as_str().unwrap()
            ),
            ADMIN,
            &json!({}),
        )
        .await;
    assert_eq!(fresh.status(), 200);
    let fresh: Value = fresh.json().await.unwrap();
    let old_link = Browser::new()
        .get(ann["connect_url"].as_str().unwrap())
        .await;
    assert_eq!(old_link.status, 410, "the old link is retired");
    google.consent_as("ann@company.test");
    let page = connect(
        &Browser::new(),
        fresh["connect_url"].as_str().unwrap(),
        "google",
    )
    .await;
    assert!(page.has("Calendar connected"), "{}", page.body);
    let seen = agent(&app, ann["id"].as_str().unwrap()).await;
    assert_eq!(seen["calendar"], "google");
    assert_eq!(seen["connection"]["status"], "connected");
}

#[tokio::test]
async fn denied_consent_tampered_or_replayed_state_and_expired_links_store_nothing() {
    let (app, google) = with_google().await;
    app.create_team("sales", json!({})).await;
    let ann = app
        .create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    let id = ann["id"].as_str().unwrap();
    let url = ann["connect_url"].as_str().unwrap();

    // Denied consent.
    google.deny_next_consent();
    let page = connect(&Browser::new(), url, "google").await;
    assert!(page.has("You declined access"), "{}", page.body);
    assert!(page.has("start again"));
    assert!(agent(&app, id).await["connection"].is_null());

    // Consent given, but without the calendar permission: nothing stored, and the page says why.
    google.untick_on_next_consent(&["https://www.googleapis.com/auth/calendar.events"]);
    let page = connect(&Browser::new(), url, "google").await;
    assert!(page.has("was not granted"), "{}", page.body);
    assert!(page.has("calendar.events"));
    assert!(agent(&app, id).await["connection"].is_null());

    // Another site cannot send a browser straight into the provider's consent with this link: it lands
    // on the agent's page instead, and no round trip is started.
    let start = Browser::new()
        .get(url)
        .await
        .link("/oauth/google/start")
        .unwrap();
    let cross = app
        .client
        .get(&start)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.url().as_str(), url, "redirected to the agent's page");
    assert!(cross.text().await.unwrap().contains("Ann"));
    assert!(agent(&app, id).await["connection"].is_null());

    // Tampered state: the browser's callback carries another state than the one rondo issued.
    let browser = Browser::new();
    let start = browser.get(url).await.link("/oauth/google/start").unwrap();
    let (s, to_google, _) = browser.fetch(&start).await;
    assert_eq!(s, 302);
    assert!(to_google
        .as_deref()
        .unwrap()
        .contains("code_challenge_method=S256"));
    let (s, back, _) = browser.fetch(to_google.as_deref().unwrap()).await;
    assert_eq!(s, 302);
    let back = back.unwrap();
    let tampered = back.replace("state=", "state=x");
    let page = browser.get(&tampered).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.has("Nothing was saved"));
    assert!(agent(&app, id).await["connection"].is_null());

    // A callback from another browser (no state cookie) is refused too.
    let page = Browser::new().get(&back).await;
    assert_eq!(page.status, 400);
    assert!(agent(&app, id).await["connection"].is_null());

    // The genuine callback works once; replaying it is refused.
    let page = browser.get(&back).await;
    assert!(page.has("Calendar connected"), "{}", page.body);
    let replay = browser.fetch(&back).await;
    assert_eq!(replay.0, 400);

    // A link past its 7 days says so.
    app.advance(Duration::days(8));
    let page = Browser::new().get(url).await;
    assert_eq!(page.status, 410);
    assert!(page.has("expired"));
    let forged = url.replace(&url[url.len() - 6..], "AAAAAA");
    let page = Browser::new().get(&forged).await;
    assert_eq!(page.status, 404);
}

#[tokio::test]
async fn refresh_tokens_are_not_readable_in_the_database_file() {
    let (app, google) = with_google().await;
    app.create_team("sales", json!({})).await;
    connected(&app, &google, "Ann", "ann@company.test").await;
    let tokens = google.issued_tokens();
    assert!(
        tokens.len() >= 2,
        "an access and a refresh token were issued"
    );
    for t in tokens {
        assert!(
            !app.stored_anywhere(t.as_bytes()).await,
            "token {t} is readable in the database file"
        );
    }
    // The check can see what is stored in clear: the account's address is.
    assert!(app.stored_anywhere(b"ann@company.test").await);
}

#[tokio::test]
async fn an_agent_connects_outlook_and_its_meetings_get_a_teams_link_exactly_once() {
    let (app, ms) = with_microsoft().await;
    app.create_team("sales", json!({})).await;
    let bo = app.create_agent("Bo", "Europe/Amsterdam", &["sales"]).await;
    ms.consent_as_without_mail("bo@contoso.test");
    let page = connect(
        &Browser::new(),
        bo["connect_url"].as_str().unwrap(),
        "microsoft",
    )
    .await;
    assert!(page.has("Calendar connected"), "{}", page.body);
    assert!(
        page.has("bo@contoso.test"),
        "userPrincipalName when mail is null"
    );
    let seen = agent(&app, bo["id"].as_str().unwrap()).await;
    assert_eq!(seen["calendar"], "microsoft");

    ms.set_busy(
        "bo@contoso.test",
        vec![
            (
                at("2026-11-23T10:00:00Z"),
                at("2026-11-23T11:00:00Z"),
                "busy",
            ),
            (
                at("2026-11-23T13:00:00Z"),
                at("2026-11-23T14:00:00Z"),
                "workingElsewhere",
            ),
        ],
    );
    let starts = app
        .slot_starts("sales", "2026-11-23T08:00:00Z", "2026-11-23T16:00:00Z")
        .await;
    assert!(!starts.contains(&at("2026-11-23T10:00:00Z")));
    assert!(
        starts.contains(&at("2026-11-23T13:00:00Z")),
        "workingElsewhere does not block"
    );

    // The create's answer is lost (stored, then 503): the retry finds it by transactionId.
    ms.lose_next_create_response();
    let b = app
        .book_ok("sales", "2026-11-23T12:00:00Z", "vera@visitor.test")
        .await;
    assert_eq!(b["calendar_event"]["status"], "pending", "{b}");
    app.advance(Duration::minutes(1));
    app.run_jobs().await;
    let b = app
        .get_json(&format!("/v1/bookings/{}", b["id"].as_str().unwrap()), CHAT)
        .await;
    assert_eq!(b["calendar_event"]["status"], "created", "{b}");
    assert!(b["calendar_event"]["video_link"]
        .as_str()
        .unwrap()
        .starts_with("https://teams.microsoft.com/"));
    let events = ms.events("bo@contoso.test");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        events[0]["attendees"][0]["emailAddress"]["address"],
        "vera@visitor.test"
    );

    // Cancel deletes it.
    let id = b["id"].as_str().unwrap();
    app.post(&format!("/v1/bookings/{id}/cancel"), CHAT, &json!({}))
        .await;
    app.advance(Duration::minutes(1));
    app.run_jobs().await;
    assert!(ms.events("bo@contoso.test").is_empty());
}

#[tokio::test]
async fn outlook_throttling_and_an_expired_token_are_ridden_out() {
    let (app, ms) = with_microsoft().await;
    app.create_team("sales", json!({})).await;
    connected(&app, &ms, "Bo", "bo@contoso.test").await;
    // Graph throttles the create (429, Retry-After 2.128 s): the booking stands, the event follows.
    ms.fail_next_creates(2, 429, Some("2.128"));
    let b = app
        .book_ok("sales", "2026-11-23T12:00:00Z", "vera@visitor.test")
        .await;
    assert_eq!(b["calendar_event"]["status"], "pending");
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    let job = &app.jobs_of("calendar.sync", "pending").await[0];
    assert!(job["last_error"].as_str().unwrap().contains("429"), "{job}");
    app.advance(Duration::minutes(1));
    app.run_jobs().await;
    assert_eq!(ms.events("bo@contoso.test").len(), 1);
    assert_eq!(ms.create_count(), 1);
    // An expired access token is refreshed once (401 → refresh → retry), and Microsoft's rotated refresh
    // token is kept.
    ms.expire_access_tokens();
    let id = b["id"].as_str().unwrap();
    let r = app.reschedule(id, "2026-11-23T14:00:00Z").await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    app.advance(Duration::minutes(1));
    app.run_jobs().await;
    let events = ms.events("bo@contoso.test");
    assert_eq!(events.len(), 1);
    assert!(events[0]["start"]["dateTime"]
        .as_str()
        .unwrap()
        .starts_with("2026-11-23T14:00:00"));
    assert!(ms.token_requests().contains(&"refresh_token".to_owned()));
}

#[tokio::test]
async fn the_agent_sets_hours_days_off_and_invitation_on_its_own_page() {
    let (app, _google) = with_google().await;
    app.create_team("sales", json!({})).await;
    let ann = app
        .create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    let url = ann["connect_url"].as_str().unwrap();
    let browser = Browser::new();
    let page = browser.get(url).await;
    assert!(page.has("value=\"09:00-17:00\""), "{}", page.body);
    let settings = format!("{url}/settings");

    let mut fields = vec![
        ("timezone", "Mars/Olympus"),
        ("hours_mon", "09:00-12:00, 13:00-17:00"),
        ("hours_tue", "17:00-09:00"),
        ("days_off", "2026-12-24: off\nnot a date"),
        ("subject", "Meeting {{ visitor_nam }}"),
        ("body", "Hello"),
    ];
    let page = browser.post_form(&settings, &fields).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.has("nothing was saved"));
    for part in ["Mars/Olympus", "17:00-09:00", "line 2", "visitor_nam"] {
        assert!(page.has(part), "{part} in {}", page.body);
    }
    let seen = agent(&app, ann["id"].as_str().unwrap()).await;
    assert_eq!(seen["timezone"], "Europe/Amsterdam", "nothing saved");

    fields = vec![
        ("timezone", "America/New_York"),
        ("hours_mon", "09:00-12:00, 13:00-17:00"),
        ("hours_wed", "10:00-16:00"),
        ("days_off", "2026-12-24: off\n2026-12-31: 09:00-12:00"),
        ("subject", "Our call, {{ visitor_name }}"),
        ("body", "See you {{ date }} at {{ time }}."),
    ];
    let page = browser.post_form(&settings, &fields).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.has("Saved."));
    let seen = agent(&app, ann["id"].as_str().unwrap()).await;
    assert_eq!(seen["timezone"], "America/New_York");
    assert_eq!(
        seen["weekly_hours"],
        json!({"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "wed": [["10:00", "16:00"]]})
    );
    assert_eq!(
        seen["date_overrides"],
        json!({"2026-12-24": [], "2026-12-31": [["09:00", "12:00"]]})
    );
    let inv = app
        .get_json(
            &format!(
                "/admin/api/agents/{}/invitation",
                ann["id"].as_str().unwrap()
            ),
            ADMIN,
        )
        .await;
    assert_eq!(inv["subject"], "Our call, {{ visitor_name }}");
    assert_eq!(inv["is_default"], false);
}

#[tokio::test]
async fn availability_is_served_from_cached_free_busy_and_says_when_it_is_stale() {
    let (app, google) = with_google().await;
    app.create_team("sales", json!({})).await;
    connected(&app, &google, "Ann", "ann@company.test").await;
    google.set_busy(
        "ann@company.test",
        vec![(at("2026-11-23T10:00:00Z"), at("2026-11-23T11:00:00Z"))],
    );
    let query = format!(
        "from={}&to={}&tz=UTC",
        enc("2026-11-23T08:00:00Z"),
        enc("2026-11-23T16:00:00Z")
    );
    let first: Value = app
        .availability("sales", &query)
        .await
        .json()
        .await
        .unwrap();
    assert!(first.get("calendars").is_none(), "{first}");
    assert_eq!(google.freebusy_count(), 1);
    // Within the TTL (60 s) the answer comes from the cache: no provider call.
    app.advance(Duration::seconds(30));
    let again: Value = app
        .availability("sales", &query)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["slots"], first["slots"]);
    assert_eq!(google.freebusy_count(), 1);
    // The background refresh re-reads entries past half their TTL.
    let refreshed = rondo::usecase::availability::refresh_freebusy(&app.app)
        .await
        .unwrap();
    assert_eq!(refreshed, 1);
    assert_eq!(google.freebusy_count(), 2);

    // Google goes down: past the TTL, the last known blocks are served, and the answer says so.
    app.advance(Duration::seconds(61));
    google.fail_next(100, 503, None);
    let stale: Value = app
        .availability("sales", &query)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stale["calendars"], json!({"stale": 1, "unavailable": 0}));
    assert_eq!(stale["slots"], first["slots"]);
    // Past the stale limit (15 min) nothing is offered rather than guessing.
    app.advance(Duration::minutes(16));
    let gone: Value = app
        .availability("sales", &query)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(gone["calendars"], json!({"stale": 0, "unavailable": 1}));
    assert!(gone["slots"].as_array().unwrap().is_empty());
    // Operators see the same in /metrics.
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "rondo_freebusy_reads_total{source=\"provider\"} 1",
        "rondo_freebusy_reads_total{source=\"cache\"} 1",
        "rondo_freebusy_reads_total{source=\"stale\"} 1",
        "rondo_freebusy_reads_total{source=\"unavailable\"} 1",
        "rondo_calendar_connects_total{outcome=\"connected\",provider=\"google\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

fn starts(events: &[Value]) -> Vec<chrono::DateTime<chrono::Utc>> {
    events
        .iter()
        .map(|e| at(e["start"]["dateTime"].as_str().unwrap()))
        .collect()
}

#[tokio::test]
async fn a_meeting_that_leaves_a_google_calendar_and_comes_back_gets_a_live_event_again() {
    let (app, google) = with_google().await;
    app.create_team("sales", json!({})).await;
    connected(&app, &google, "Ann", "ann@company.test").await;
    connected(&app, &google, "Bob", "bob@company.test").await;
    let b = app
        .book_ok("sales", "2026-11-23T10:00:00Z", "vera@visitor.test")
        .await;
    let (first, second) = if b["agent"]["name"] == "Ann" {
        ("ann@company.test", "bob@company.test")
    } else {
        ("bob@company.test", "ann@company.test")
    };
    let id = b["id"].as_str().unwrap();
    // The first agent is busy at 12:00: the meeting moves to the second agent's calendar...
    google.set_busy(
        first,
        vec![(at("2026-11-23T12:00:00Z"), at("2026-11-23T12:30:00Z"))],
    );
    let moved = app.reschedule_ok(id, "2026-11-23T12:00:00Z").await;
    assert_ne!(moved["agent"], b["agent"]);
    assert!(google.events(first).is_empty());
    assert_eq!(starts(&google.events(second)), [at("2026-11-23T12:00:00Z")]);
    // ...and back (the second is busy at 14:00). Google keeps the first event's id as a tombstone.
    google.set_busy(
        second,
        vec![(at("2026-11-23T14:00:00Z"), at("2026-11-23T14:30:00Z"))],
    );
    let back = app.reschedule_ok(id, "2026-11-23T14:00:00Z").await;
    assert_eq!(back["agent"], b["agent"]);
    assert_eq!(back["calendar_event"]["status"], "created", "{back}");
    assert!(google.events(second).is_empty());
    assert_eq!(starts(&google.events(first)), [at("2026-11-23T14:00:00Z")]);
    // Cancelling finds the live event among the meeting's ids.
    app.post(&format!("/v1/bookings/{id}/cancel"), CHAT, &json!({}))
        .await;
    assert!(google.events(first).is_empty());
}

#[tokio::test]
async fn an_event_whose_create_answer_was_lost_follows_a_reschedule() {
    for provider in ["google", "microsoft"] {
        let google = FakeGoogle::start().await;
        let ms = FakeMicrosoft::start().await;
        let app = spawn_app_with(Options {
            google: Some([google.auth_url(), google.token_url(), google.api_url()]),
            microsoft: Some([ms.authority(), ms.graph_url()]),
            ..Options::default()
        })
        .await;
        app.create_team("sales", json!({})).await;
        let ann = app
            .create_agent("Ann", "Europe/Amsterdam", &["sales"])
            .await;
        google.consent_as("ann@company.test");
        ms.consent_as("ann@company.test");
        connect(
            &Browser::new(),
            ann["connect_url"].as_str().unwrap(),
            provider,
        )
        .await;
        match provider {
            "google" => google.lose_next_insert_response(),
            _ => ms.lose_next_create_response(),
        }
        let b = app
            .book_ok("sales", "2026-11-23T10:00:00Z", "vera@visitor.test")
            .await;
        assert_eq!(b["calendar_event"]["status"], "pending");
        // The visitor moves the meeting before any retry: the event made by the lost try follows it.
        let moved = app
            .reschedule_ok(b["id"].as_str().unwrap(), "2026-11-23T13:00:00Z")
            .await;
        assert_eq!(
            moved["calendar_event"]["status"], "created",
            "{provider}: {moved}"
        );
        let events = match provider {
            "google" => google.events("ann@company.test"),
            _ => ms.events("ann@company.test"),
        };
        assert_eq!(events.len(), 1, "{provider}: {events:?}");
        assert!(
            events[0]["start"]["dateTime"]
                .as_str()
                .unwrap()
                .starts_with("2026-11-23T13:00:00"),
            "{provider}: {events:?}"
        );
    }
}

#[tokio::test]
async fn a_revoked_microsoft_grant_disconnects_the_agent_with_the_reason() {
    let (app, ms) = with_microsoft().await;
    app.create_team("sales", json!({})).await;
    let bo = connected(&app, &ms, "Bo", "bo@contoso.test").await;
    assert!(!app
        .slot_starts("sales", "2026-11-23T08:00:00Z", "2026-11-23T16:00:00Z")
        .await
        .is_empty());
    ms.revoke("bo@contoso.test");
    app.advance(Duration::hours(2));
    assert!(app
        .slot_starts("sales", "2026-11-24T08:00:00Z", "2026-11-24T16:00:00Z")
        .await
        .is_empty());
    let seen = agent(&app, bo["id"].as_str().unwrap()).await;
    assert_eq!(seen["calendar"], "none");
    assert_eq!(seen["connection"]["status"], "disconnected");
    let reason = seen["connection"]["reason"].as_str().unwrap();
    assert!(reason.contains("invalid_grant"), "{reason}");
    // The booking API says so too: nobody can take the meeting.
    let r = app
        .book("sales", "2026-11-24T10:00:00Z", "vera@visitor.test")
        .await;
    assert_eq!(r.status(), 409, "{}", r.text().await.unwrap());
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains("rondo_token_refreshes_total{outcome=\"revoked\",provider=\"microsoft\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("rondo_bookings_total{outcome=\"slot_taken\",team=\"sales\"} 1"));
}

#[tokio::test]
async fn a_move_whose_new_create_fails_shows_pending_not_the_old_link_then_the_new_one() {
    let (app, google) = with_google().await;
    app.create_team("sales", json!({})).await;
    connected(&app, &google, "Ann", "ann@company.test").await;
    connected(&app, &google, "Bob", "bob@company.test").await;
    let b = app
        .book_ok("sales", "2026-11-23T10:00:00Z", "vera@visitor.test")
        .await;
    let old_link = b["calendar_event"]["video_link"]
        .as_str()
        .unwrap()
        .to_owned();
    let (first, second) = if b["agent"]["name"] == "Ann" {
        ("ann@company.test", "bob@company.test")
    } else {
        ("bob@company.test", "ann@company.test")
    };
    google.set_busy(
        first,
        vec![(at("2026-11-23T12:00:00Z"), at("2026-11-23T12:30:00Z"))],
    );
    google.fail_next_inserts(1, 503, None);
    let moved = app
        .reschedule_ok(b["id"].as_str().unwrap(), "2026-11-23T12:00:00Z")
        .await;
    assert_ne!(moved["agent"], b["agent"]);
    assert_eq!(moved["calendar_event"]["status"], "pending", "{moved}");
    assert!(moved["calendar_event"]["video_link"].is_null(), "{moved}");
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    let now = app
        .get_json(&format!("/v1/bookings/{}", b["id"].as_str().unwrap()), CHAT)
        .await;
    assert_eq!(now["calendar_event"]["status"], "created", "{now}");
    let link = now["calendar_event"]["video_link"].as_str().unwrap();
    assert_ne!(link, old_link);
    let events = google.events(second);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["hangoutLink"], link);
    assert!(google.events(first).is_empty());
}

#[tokio::test]
async fn an_event_in_a_disconnected_calendar_is_deleted_once_the_agent_reconnects() {
    let (app, google) = with_google().await;
    app.create_team("sales", json!({})).await;
    let ann = connected(&app, &google, "Ann", "ann@company.test").await;
    let b = app
        .book_ok("sales", "2026-11-23T10:00:00Z", "vera@visitor.test")
        .await;
    assert_eq!(google.events("ann@company.test").len(), 1);
    // Ann revokes access (her next token refresh says so), then the visitor cancels.
    google.revoke("ann@company.test");
    app.advance(Duration::hours(2));
    app.slot_starts("sales", "2026-11-24T08:00:00Z", "2026-11-24T16:00:00Z")
        .await;
    assert_eq!(
        agent(&app, ann["id"].as_str().unwrap()).await["calendar"],
        "none"
    );
    let id = b["id"].as_str().unwrap();
    let c: Value = app
        .post(&format!("/v1/bookings/{id}/cancel"), CHAT, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["status"], "cancelled");
    assert_eq!(
        c["calendar_event"]["status"], "pending",
        "removal pending: {c}"
    );
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    let job = &app.jobs_of("calendar.sync", "pending").await[0];
    assert!(
        job["last_error"].as_str().unwrap().contains("disconnected"),
        "{job}"
    );
    // Ann reconnects (a new link from the admin); the next retry removes the event.
    let fresh: Value = app
        .post(
            &format!(
                "/admin/api/agents/{}/connect-link",
                ann["id"].as_str().unwrap()
            ),
            ADMIN,
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    google.consent_as("ann@company.test");
    connect(
        &Browser::new(),
        fresh["connect_url"].as_str().unwrap(),
        "google",
    )
    .await;
    app.advance(Duration::minutes(10));
    app.run_jobs().await;
    assert!(google.events("ann@company.test").is_empty());
    let now = app.get_json(&format!("/v1/bookings/{id}"), CHAT).await;
    assert_eq!(now["calendar_event"]["status"], "deleted", "{now}");
}
