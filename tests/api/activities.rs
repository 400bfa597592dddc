//! The activity feed's filters, and what an activity carries for marketing automation (Marketo's
//! "Scheduled Meeting": dialogue, page URL, team, status, routing).

use chrono::Duration;
use serde_json::{json, Value};

use crate::support::receiver::Receiver;
use crate::support::*;

/// (type, meeting id) of each activity the feed answers for `query`, in order.
async fn feed(app: &TestApp, query: &str) -> Vec<(String, String)> {
    let page: Value = app
        .get_json(&format!("/v1/activities?{query}"), ADMIN)
        .await;
    page["activities"]
        .as_array()
        .unwrap_or_else(|| panic!("{query}: {page}"))
        .iter()
        .map(|a| {
            (
                a["type"].as_str().unwrap().to_owned(),
                a["data"]["meeting_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn ev(kind: &str, meeting: &Value) -> (String, String) {
    (
        format!("meeting.{kind}"),
        meeting["id"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn the_feed_filters_by_type_team_agent_visitor_and_time() {
    let app = spawn_app().await; // now: 2026-11-23T06:00:00Z
    app.create_team("sales", json!({})).await;
    app.create_team("support", json!({})).await;
    let ann = app
        .create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    let bob = app
        .create_agent("Bob", "Europe/Amsterdam", &["support"])
        .await;
    let (ann, bob) = (ann["id"].as_str().unwrap(), bob["id"].as_str().unwrap());
    // 06:00: two bookings; 07:00: one moved, one cancelled; 08:00: a third booking.
    let a1 = app
        .book_ok("sales", "2026-11-23T09:00:00Z", "a@example.com")
        .await;
    let b1 = app
        .book_ok("support", "2026-11-23T10:00:00Z", "b@example.com")
        .await;
    app.advance(Duration::hours(1));
    app.reschedule_ok(a1["id"].as_str().unwrap(), "2026-11-23T11:00:00Z")
        .await;
    let r = app
        .post(
            &format!("/v1/bookings/{}/cancel", b1["id"].as_str().unwrap()),
            CHAT,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    app.advance(Duration::hours(1));
    let a2 = app
        .book_ok("sales", "2026-11-23T13:00:00Z", "Carla@Example.com")
        .await;

    let all = vec![
        ev("scheduled", &a1),
        ev("scheduled", &b1),
        ev("rescheduled", &a1),
        ev("cancelled", &b1),
        ev("scheduled", &a2),
    ];
    assert_eq!(feed(&app, "").await, all);
    let only = |idx: &[usize]| idx.iter().map(|i| all[*i].clone()).collect::<Vec<_>>();

    // Each filter alone.
    assert_eq!(feed(&app, "type=meeting.scheduled").await, only(&[0, 1, 4]));
    assert_eq!(feed(&app, "type=meeting.rescheduled").await, only(&[2]));
    assert_eq!(feed(&app, "type=meeting.cancelled").await, only(&[3]));
    assert_eq!(feed(&app, "team=sales").await, only(&[0, 2, 4]));
    assert_eq!(feed(&app, "team=support").await, only(&[1, 3]));
    assert_eq!(feed(&app, "team=nobody").await, only(&[]));
    assert_eq!(feed(&app, &format!("agent={ann}")).await, only(&[0, 2, 4]));
    assert_eq!(feed(&app, &format!("agent={bob}")).await, only(&[1, 3]));
    assert_eq!(feed(&app, "lead_email=a@example.com").await, only(&[0, 2]));
    assert_eq!(
        feed(&app, "lead_email=CARLA%40example.COM").await,
        only(&[4]),
        "the visitor's email matches case-insensitively"
    );
    assert_eq!(
        feed(&app, &format!("from={}", enc("2026-11-23T07:00:00Z"))).await,
        only(&[2, 3, 4]),
        "`from` is inclusive"
    );
    assert_eq!(
        feed(&app, &format!("to={}", enc("2026-11-23T08:00:00+01:00"))).await,
        only(&[0, 1]),
        "`to` is exclusive, and any offset reads as its instant"
    );

    // Combined: all must hold.
    assert_eq!(
        feed(&app, "type=meeting.scheduled&team=sales").await,
        only(&[0, 4])
    );
    assert_eq!(
        feed(
            &app,
            &format!(
                "from={}&to={}",
                enc("2026-11-23T07:00:00Z"),
                enc("2026-11-23T08:00:00Z")
            )
        )
        .await,
        only(&[2, 3])
    );
    assert_eq!(
        feed(
            &app,
            &format!("team=sales&agent={ann}&lead_email=A@example.com&type=meeting.rescheduled")
        )
        .await,
        only(&[2])
    );
    assert_eq!(
        feed(
            &app,
            &format!("team=sales&from={}", enc("2026-11-23T07:00:00Z"))
        )
        .await,
        only(&[2, 4])
    );
    assert_eq!(
        feed(&app, &format!("team=sales&agent={bob}")).await,
        only(&[])
    );

    // The cursor pages through the filtered feed.
    let page: Value = app
        .get_json("/v1/activities?team=sales&limit=2", CHAT)
        .await;
    let acts = page["activities"].as_array().unwrap();
    assert_eq!(acts.len(), 2);
    assert_eq!(page["next_cursor"], acts[1]["cursor"]);
    let next = page["next_cursor"].as_str().unwrap();
    assert_eq!(
        feed(&app, &format!("team=sales&limit=2&after={next}")).await,
        only(&[4])
    );
    assert_eq!(
        feed(&app, &format!("team=support&after={next}")).await,
        only(&[3])
    );
    // A filtered page with nothing new keeps the cursor it was given.
    let page: Value = app
        .get_json(&format!("/v1/activities?team=sales&after={next}"), CHAT)
        .await;
    let last = page["next_cursor"].as_str().unwrap();
    let page: Value = app
        .get_json(&format!("/v1/activities?team=support&after={last}"), CHAT)
        .await;
    assert_eq!(page["activities"], json!([]));
    assert_eq!(page["next_cursor"], last);
}

#[tokio::test]
async fn bad_feed_filters_are_named() {
    let app = spawn_app().await;
    let p = expect_problem(
        app.get("/v1/activities?type=meeting.booked", CHAT).await,
        422,
        "validation",
    )
    .await;
    assert!(p["errors"]["type"].is_array(), "{p}");
    let p = expect_problem(
        app.get("/v1/activities?from=yesterday", CHAT).await,
        422,
        "validation",
    )
    .await;
    assert!(p["errors"]["from"].is_array(), "{p}");
    assert!(p["errors"].get("to").is_none(), "{p}");
    let p = expect_problem(
        app.get(
            &format!(
                "/v1/activities?from={}&to={}&agent=ann&type=Meeting.Scheduled",
                enc("2026-11-23T10:00:00Z"),
                enc("2026-11-23T11:00:00+01:00")
            ),
            ADMIN,
        )
        .await,
        422,
        "validation",
    )
    .await;
    for field in ["to", "agent", "type"] {
        assert!(p["errors"][field].is_array(), "{field}: {p}");
    }
    assert!(p["errors"].get("from").is_none(), "{p}");
}

#[tokio::test]
async fn activities_carry_the_dialogue_page_team_status_and_routing() {
    let app = spawn_app().await;
    app.create_team("sales", json!({"name": "Sales EMEA"}))
        .await;
    app.create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    let rx = Receiver::start().await;
    let r = app
        .post(
            "/admin/api/webhooks",
            ADMIN,
            &json!({"url": rx.url, "events": ["meeting.scheduled", "meeting.cancelled"]}),
        )
        .await;
    assert_eq!(r.status(), 201);

    // The new fields are checked like the other free texts, and a page must be an http(s) URL.
    let mut body = booking_body("sales", "2026-11-23T09:00:00Z", "v@example.com");
    body["page_url"] = json!("javascript:alert(1)");
    body["dialogue_name"] = json!("x".repeat(501));
    let p = expect_problem(app.book_with_key("bad", &body).await, 422, "validation").await;
    for field in ["page_url", "dialogue_name"] {
        assert!(p["errors"][field].is_array(), "{field}: {p}");
    }

    let mut body = booking_body("sales", "2026-11-23T09:00:00Z", "v@example.com");
    body["dialogue_name"] = json!("  Pricing page bot ");
    body["page_url"] = json!("https://www.example.com/pricing?plan=pro");
    let r = app.book_with_key("good", &body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let b: Value = r.json().await.unwrap();
    let id = b["id"].as_str().unwrap();
    app.reschedule_ok(id, "2026-11-23T10:00:00Z").await;
    let r = app
        .post(&format!("/v1/bookings/{id}/cancel"), CHAT, &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    app.run_jobs().await;

    let page: Value = app.get_json("/v1/activities", CHAT).await;
    let acts = page["activities"].as_array().unwrap();
    let kinds: Vec<_> = acts.iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "meeting.scheduled",
            "meeting.rescheduled",
            "meeting.cancelled"
        ]
    );
    for (a, status) in acts.iter().zip(["booked", "booked", "cancelled"]) {
        let data = &a["data"];
        assert_eq!(data["meeting_id"], b["id"]);
        assert_eq!(data["dialogue_name"], "Pricing page bot", "{data}");
        assert_eq!(data["page_url"], "https://www.example.com/pricing?plan=pro");
        assert_eq!(data["team"], "sales");
        assert_eq!(data["team_name"], "Sales EMEA");
        assert_eq!(data["status"], status);
        assert_eq!(data["routing"]["step"], "round_robin", "{data}");
        assert_eq!(data["routing"]["skipped"], json!([]));
        // The fields that were there keep their names and values.
        assert_eq!(data["dialogue_id"], "d-1");
        assert_eq!(data["session_id"], "s-1");
        assert_eq!(data["agent"]["name"], "Ann");
        assert_eq!(data["visitor"]["email"], "v@example.com");
    }
    let got = rx.received();
    assert_eq!(got.len(), 2, "scheduled and cancelled are subscribed");
    for ((_, body), a) in got.iter().zip([&acts[0], &acts[2]]) {
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["id"], a["id"]);
        assert_eq!(
            event["data"], a["data"],
            "the webhook carries what the feed does"
        );
    }

    // Without them, the activity says so with nulls.
    app.book_ok("sales", "2026-11-23T11:00:00Z", "w@example.com")
        .await;
    let page: Value = app
        .get_json(
            &format!(
                "/v1/activities?after={}",
                page["next_cursor"].as_str().unwrap()
            ),
            CHAT,
        )
        .await;
    let data = &page["activities"][0]["data"];
    assert_eq!(data["dialogue_name"], Value::Null);
    assert_eq!(data["page_url"], Value::Null);
    assert_eq!(data["team_name"], "Sales EMEA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_an_activity_that_commits_late_is_never_behind_a_cursor_already_handed_out() {
    use sqlx::Connection;
    if !crate::support::postgres::enabled() {
        eprintln!("not run: one SQLite writer commits in the order it numbers (the PostgreSQL run has it)");
        return;
    }
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    app.create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    let booked = app
        .book_ok("sales", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    let meeting = uuid::Uuid::parse_str(booked["id"].as_str().unwrap()).unwrap();
    let page = app.get_json("/v1/activities", CHAT).await;
    assert_eq!(page["activities"].as_array().unwrap().len(), 1, "{page}");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();

    // Two writers (replicas): the first numbers its activity first and commits last.
    let insert = "INSERT INTO activities (id, type, occurred_at, meeting_id, data) \
                  VALUES ($1, 'meeting.scheduled', now(), $2, '{}')";
    let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let mut first = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    let mut second = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut first).await.unwrap();
    sqlx::query(insert)
        .bind(a)
        .bind(meeting)
        .execute(&mut first)
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut second).await.unwrap();
    sqlx::query(insert)
        .bind(b)
        .bind(meeting)
        .execute(&mut second)
        .await
        .unwrap();
    sqlx::query("COMMIT").execute(&mut second).await.unwrap();

    // The second's row is committed, but the first may still commit one numbered before it: a reader that
    // got the second's row now would move its cursor past the first's. Nothing new is listed yet.
    let page = app
        .get_json(&format!("/v1/activities?after={cursor}"), CHAT)
        .await;
    assert_eq!(page["activities"], json!([]), "{page}");
    assert_eq!(page["next_cursor"], cursor.as_str());

    sqlx::query("COMMIT").execute(&mut first).await.unwrap();
    // Both now, the first's first (other tests' transactions on this server may hold the feed a moment).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let page = app
            .get_json(&format!("/v1/activities?after={cursor}"), CHAT)
            .await;
        let ids: Vec<&str> = page["activities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap())
            .collect();
        if ids.len() == 2 {
            assert_eq!(ids, [a.to_string(), b.to_string()], "{page}");
            break;
        }
        // Another transaction of this database still running may hold the second back a moment more.
        assert!(
            ids.is_empty() || ids == [a.to_string()],
            "in order, none skipped: {page}"
        );
        assert!(std::time::Instant::now() < deadline, "never listed: {page}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
