//! The chat service books, reads, cancels and reschedules meetings; round robin decides who gets them.

use serde_json::{json, Value};

use crate::support::*;

async fn five_agents(app: &TestApp) -> Vec<Value> {
    app.create_team("sales", json!({})).await;
    let mut agents = Vec::new();
    for name in ["One", "Two", "Three", "Four", "Five"] {
        agents.push(app.create_agent(name, "Europe/Amsterdam", &["sales"]).await);
    }
    agents
}

fn agent_name(booking: &Value) -> &str {
    booking["agent"]["name"].as_str().unwrap()
}

#[tokio::test]
async fn round_robin_continues_after_the_agent_who_took_the_last_meeting() {
    let app = spawn_app().await;
    five_agents(&app).await;
    let mut got = Vec::new();
    for (i, start) in [
        "08:00", "08:30", "09:00", "09:30", "10:00", "10:30", "11:00",
    ]
    .iter()
    .enumerate()
    {
        let b = app
            .book_ok(
                "sales",
                &format!("2026-11-23T{start}:00Z"),
                &format!("v{i}@example.com"),
            )
            .await;
        got.push(agent_name(&b).to_owned());
    }
    // Three took the third meeting: Four gets the next, then Five, then One.
    assert_eq!(got, ["One", "Two", "Three", "Four", "Five", "One", "Two"]);
    let queue: Value = app.get_json("/admin/api/teams/sales/queue", ADMIN).await;
    let last: Vec<_> = queue["agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["last_assigned"] == true)
        .collect();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0]["name"], "Two");
}

#[tokio::test]
async fn a_booking_answers_with_agent_trace_event_and_links() {
    let app = spawn_app().await;
    five_agents(&app).await;
    let b = app
        .book_ok("sales", "2026-11-23T09:00:00Z", "Vera@Example.com")
        .await;
    assert_eq!(b["status"], "booked");
    assert_eq!(b["start"], "2026-11-23T10:00:00+01:00"); // the visitor's zone
    assert_eq!(b["end"], "2026-11-23T10:30:00+01:00");
    assert_eq!(b["visitor"]["email"], "Vera@example.com");
    assert_eq!(b["agent"]["name"], "One");
    assert_eq!(b["agent"]["email"], "one@agents.test");
    assert_eq!(b["routing"]["step"], "round_robin");
    assert_eq!(b["routing"]["skipped"], json!([]));
    assert_eq!(b["calendar_event"]["status"], "created");
    let id = b["id"].as_str().unwrap();
    assert_eq!(
        b["calendar_event"]["video_link"],
        format!("https://video.test/{}", id.replace('-', ""))
    );
    let cancel_link = b["links"]["cancel"].as_str().unwrap();
    assert!(
        cancel_link.contains(&format!("/m/{id}/")) && cancel_link.ends_with("/cancel"),
        "{cancel_link}"
    );
    assert_eq!(app.calendars.events().len(), 1);
    // Reading it back gives the same booking.
    let r = app.get(&format!("/v1/bookings/{id}"), CHAT).await;
    assert_eq!(r.status(), 200);
    let read: Value = r.json().await.unwrap();
    assert_eq!(read, b);
    // The slot is no longer offered by One, but still by the others (pooled).
    let starts = app
        .slot_starts("sales", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z")
        .await;
    assert!(starts.contains(&at("2026-11-23T09:00:00Z")));
}

#[tokio::test]
async fn busy_paused_and_out_of_hours_agents_are_skipped_and_named() {
    let app = spawn_app().await;
    let agents = five_agents(&app).await;
    for start in ["08:00", "08:30", "09:00"] {
        app.book_ok("sales", &format!("2026-11-23T{start}:00Z"), "v@example.com")
            .await;
    }
    // Four is busy in its calendar at 12:00 UTC; Five is paused; One works only mornings.
    app.busy("four@agents.test", &[("2026-11-23T11:45:00Z", 60)]);
    let five = agents[4]["id"].as_str().unwrap();
    app.patch(
        &format!("/admin/api/agents/{five}"),
        ADMIN,
        &json!({"paused": true}),
    )
    .await;
    let one = agents[0]["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/admin/api/agents/{one}"),
            ADMIN,
            &json!({"weekly_hours": weekdays("08:00", "12:00")}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let b = app
        .book_ok("sales", "2026-11-23T12:00:00Z", "w@example.com")
        .await;
    assert_eq!(agent_name(&b), "Two");
    let id = |i: usize| agents[i]["id"].clone();
    assert_eq!(
        b["routing"]["skipped"],
        json!([
            {"agent_id": id(3), "reason": "busy", "step": "round_robin"},
            {"agent_id": id(4), "reason": "paused", "step": "round_robin"},
            {"agent_id": id(0), "reason": "outside_hours", "step": "round_robin"},
        ])
    );
    // The trace is stored with the meeting for admins too.
    let list = app.meetings("").await;
    let m = list["meetings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == b["id"])
        .unwrap()
        .clone();
    assert_eq!(m["routing"], b["routing"]);
}

#[tokio::test]
async fn fifty_concurrent_bookings_of_one_slot_book_it_once() {
    let app = spawn_app().await;
    app.create_team("solo", json!({})).await;
    app.create_agent("Only", "Europe/Amsterdam", &["solo"])
        .await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = app.client.clone();
        let url = app.url("/v1/bookings");
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(CHAT)
                .header("Idempotency-Key", format!("k-{i}"))
                .json(&booking_body(
                    "solo",
                    "2026-11-23T10:00:00Z",
                    &format!("v{i}@example.com"),
                ))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }));
    }
    let mut created = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            201 => created += 1,
            409 => {
                assert!(body["type"].as_str().unwrap().ends_with("/slot-taken"));
                let alts = body["alternatives"].as_array().unwrap();
                assert!(!alts.is_empty());
                assert!(alts
                    .iter()
                    .all(|a| at(a["start"].as_str().unwrap()) != at("2026-11-23T10:00:00Z")));
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created, 1);
    let list = app.meetings("team=solo").await;
    assert_eq!(list["meetings"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_idempotent_retry_returns_the_same_answer_and_books_nothing_twice() {
    let app = spawn_app().await;
    five_agents(&app).await;
    let body = booking_body("sales", "2026-11-23T09:00:00Z", "v@example.com");
    let first = app.book_with_key("retry-1", &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    // The same body again, even with keys reordered and other whitespace.
    let raw = serde_json::to_string_pretty(&body).unwrap();
    let again = app
        .client
        .post(app.url("/v1/bookings"))
        .bearer_auth(CHAT)
        .header("Idempotency-Key", "\"retry-1\"")
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(
        app.meetings("").await["meetings"].as_array().unwrap().len(),
        1
    );
    assert_eq!(app.calendars.create_calls(), 1);
    // A retry much later, when the slot is inside the notice (even past), still gets the stored answer.
    app.clock.set(at("2026-11-23T09:30:00Z"));
    let late = app.book_with_key("retry-1", &body).await;
    assert_eq!(late.status(), 201);
    assert_eq!(late.json::<Value>().await.unwrap(), first);
    app.clock.set(default_now());
    // The same key with another body is refused, and changes nothing.
    let other = booking_body("sales", "2026-11-23T09:30:00Z", "v@example.com");
    expect_problem(
        app.book_with_key("retry-1", &other).await,
        422,
        "idempotency-key-reused",
    )
    .await;
    assert_eq!(
        app.meetings("").await["meetings"].as_array().unwrap().len(),
        1
    );
    // No key at all: 400.
    let r = app.post("/v1/bookings", CHAT, &body).await;
    expect_problem(r, 400, "idempotency-key-missing").await;
}

#[tokio::test]
async fn cancel_frees_the_slot_and_reports_it() {
    let app = spawn_app().await;
    app.create_team("solo", json!({})).await;
    app.create_agent("Only", "Europe/Amsterdam", &["solo"])
        .await;
    let b = app
        .book_ok("solo", "2026-11-23T10:00:00Z", "v@example.com")
        .await;
    let day = ("2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z");
    assert!(!app
        .slot_starts("solo", day.0, day.1)
        .await
        .contains(&at("2026-11-23T10:00:00Z")));
    let id = b["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/v1/bookings/{id}/cancel"),
            CHAT,
            &json!({"reason": "visitor asked"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["status"], "cancelled");
    assert_eq!(c["cancel_reason"], "visitor asked");
    assert!(app
        .slot_starts("solo", day.0, day.1)
        .await
        .contains(&at("2026-11-23T10:00:00Z")));
    assert!(app.calendars.events().is_empty());
    // Cancelling again is harmless.
    let r = app
        .post(&format!("/v1/bookings/{id}/cancel"), CHAT, &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let feed: Value = app.get_json("/v1/activities", CHAT).await;
    let kinds: Vec<_> = feed["activities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].clone())
        .collect();
    assert_eq!(
        kinds,
        [json!("meeting.scheduled"), json!("meeting.cancelled")]
    );
    // A cancelled booking cannot be moved.
    let r = app.reschedule(id, "2026-11-23T11:00:00Z").await;
    expect_problem(r, 409, "booking-cancelled").await;
}

#[tokio::test]
async fn reschedule_keeps_the_agent_when_free_else_rotates() {
    let app = spawn_app().await;
    five_agents(&app).await;
    let b = app
        .book_ok("sales", "2026-11-23T09:00:00Z", "v@example.com")
        .await;
    assert_eq!(agent_name(&b), "One");
    let id = b["id"].as_str().unwrap();
    // Fifteen minutes later overlaps the old slot: the old slot must not stand in its own way.
    let r = app.reschedule(id, "2026-11-23T09:15:00Z").await;
    assert_eq!(r.status(), 200);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(moved["id"], b["id"]);
    // The same move again (a retry) changes nothing and reports nothing new.
    let again = app.reschedule(id, "2026-11-23T09:15:00Z").await;
    assert_eq!(again.status(), 200);
    let feed: Value = app.get_json("/v1/activities", ADMIN).await;
    assert_eq!(
        feed["activities"].as_array().unwrap().len(),
        2,
        "scheduled + one rescheduled"
    );
    assert_eq!(agent_name(&moved), "One");
    assert_eq!(
        at(moved["start"].as_str().unwrap()),
        at("2026-11-23T09:15:00Z")
    );
    let events = app.calendars.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].2, at("2026-11-23T09:15:00Z"));
    // One is busy at 13:00: the rotation picks the next agent after the pointer (One), i.e. Two.
    app.busy("one@agents.test", &[("2026-11-23T13:00:00Z", 60)]);
    let r = app.reschedule(id, "2026-11-23T13:00:00Z").await;
    assert_eq!(r.status(), 200);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(agent_name(&moved), "Two");
    assert_eq!(moved["routing"]["skipped"][0]["reason"], "busy");
    let events = app.calendars.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, "two@agents.test");
    // The old slot is free again for One.
    let m = app.meetings("status=booked").await;
    assert_eq!(m["meetings"].as_array().unwrap().len(), 1);
    let feed: Value = app.get_json("/v1/activities", ADMIN).await;
    assert_eq!(
        feed["activities"].as_array().unwrap().last().unwrap()["type"],
        "meeting.rescheduled"
    );
}

#[tokio::test]
async fn a_start_that_availability_would_never_offer_is_422_naming_start() {
    let app = spawn_app().await; // now 06:00 UTC, notice 60 min, horizon 30 days
    app.create_team("sales", json!({})).await;
    app.create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    for start in [
        "2026-11-23T09:07:00Z", // off the step
        "2026-11-23T20:00:00Z", // outside every agent's hours
        "2026-11-23T06:30:00Z", // inside the notice (and outside hours)
        "2026-11-23T05:00:00Z", // in the past
        "2027-01-04T09:00:00Z", // past the horizon
        "2026-11-23T15:45:00Z", // the meeting would end after hours
        "not a time",
    ] {
        let body = expect_problem(
            app.book("sales", start, "v@example.com").await,
            422,
            "validation",
        )
        .await;
        assert!(body["errors"]["start"].is_array(), "{start}: {body}");
    }
    assert!(app.meetings("").await["meetings"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn booking_body_mistakes_are_named() {
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    app.create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    let mut body = booking_body("sales", "2026-11-23T09:00:00Z", "not-an-email");
    body["visitor"]["timezone"] = json!("Mars/Base");
    body["duration"] = json!(20);
    let p = expect_problem(app.book_with_key("k", &body).await, 422, "validation").await;
    for field in ["visitor.email", "visitor.timezone", "duration"] {
        assert!(p["errors"][field].is_array(), "{field}: {p}");
    }
    let mut body = booking_body("sales", "2026-11-23T09:00:00Z", "v@example.com");
    body["duration"] = json!(495);
    let p = expect_problem(app.book_with_key("k2", &body).await, 422, "validation").await;
    assert!(p["errors"]["duration"].is_array());
    let mut body = booking_body("nope", "2026-11-23T09:00:00Z", "v@example.com");
    body["visitor"]["favourite_colour"] = json!("blue");
    let p = expect_problem(app.book_with_key("k3", &body).await, 422, "validation").await;
    assert!(p["errors"]["visitor.favourite_colour"].is_array(), "{p}");
    let body = booking_body("nope", "2026-11-23T09:00:00Z", "v@example.com");
    let p = expect_problem(app.book_with_key("k4", &body).await, 422, "validation").await;
    assert!(p["errors"]["team"].is_array(), "{p}");
    assert!(app.meetings("").await["meetings"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn unknown_bookings_are_404() {
    let app = spawn_app().await;
    for path in [
        "/v1/bookings/0190f0b4-0000-7000-8000-000000000000",
        "/v1/bookings/not-a-uuid",
    ] {
        expect_problem(app.get(path, CHAT).await, 404, "not-found").await;
    }
}

#[tokio::test]
async fn an_agent_in_two_teams_is_never_double_booked() {
    let app = spawn_app().await;
    app.create_team("a", json!({})).await;
    app.create_team("b", json!({})).await;
    app.create_agent("Shared", "Europe/Amsterdam", &["a", "b"])
        .await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let client = app.client.clone();
        let url = app.url("/v1/bookings");
        // Overlapping but different slots, in both teams at once.
        let team = if i % 2 == 0 { "a" } else { "b" };
        let start = if i % 4 < 2 {
            "2026-11-23T10:00:00Z"
        } else {
            "2026-11-23T10:15:00Z"
        };
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(CHAT)
                .header("Idempotency-Key", format!("k-{i}"))
                .json(&booking_body(team, start, &format!("v{i}@example.com")))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409));
    assert_eq!(
        app.meetings("status=booked").await["meetings"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_refused_request_does_not_use_up_its_key() {
    let app = spawn_app().await;
    five_agents(&app).await;
    let mut bad = booking_body("sales", "2026-11-23T09:00:00Z", "v@example.com");
    bad["visitor"]["email"] = json!("nope");
    expect_problem(app.book_with_key("fix-me", &bad).await, 422, "validation").await;
    // The client fixes the body and retries with the same key.
    let good = booking_body("sales", "2026-11-23T09:00:00Z", "v@example.com");
    assert_eq!(app.book_with_key("fix-me", &good).await.status(), 201);
}

#[tokio::test]
async fn the_rotation_goes_on_after_the_last_assigned_agent_leaves() {
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    let mut ids = Vec::new();
    for n in ["A", "B", "C"] {
        ids.push(
            app.create_agent(n, "Europe/Amsterdam", &["sales"]).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        agent_name(
            &app.book_ok("sales", "2026-11-23T08:00:00Z", "a@example.com")
                .await
        ),
        "A"
    );
    let b = app
        .book_ok("sales", "2026-11-23T09:00:00Z", "b@example.com")
        .await;
    assert_eq!(agent_name(&b), "B");
    // B, who took the last meeting, leaves: C is next, as it would have been.
    let r = app
        .client
        .delete(app.url(&format!("/admin/api/agents/{}", ids[1])))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        agent_name(
            &app.book_ok("sales", "2026-11-23T10:00:00Z", "c@example.com")
                .await
        ),
        "C"
    );
    assert_eq!(
        agent_name(
            &app.book_ok("sales", "2026-11-23T11:00:00Z", "d@example.com")
                .await
        ),
        "A"
    );
    // Moving B's old meeting never lands on B again: the rotation picks among the agents still queued.
    let id = b["id"].as_str().unwrap();
    let r = app.reschedule(id, "2026-11-23T12:00:00Z").await;
    assert_eq!(r.status(), 200);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(agent_name(&moved), "C");
    // Leaving a team (not deleted) hands the pointer back the same way.
    let r = app
        .patch(
            &format!("/admin/api/agents/{}", ids[2]),
            ADMIN,
            &json!({"teams": []}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        agent_name(
            &app.book_ok("sales", "2026-11-23T13:00:00Z", "e@example.com")
                .await
        ),
        "A"
    );
}

#[tokio::test]
async fn a_same_agent_reschedule_keeps_the_original_trace() {
    let app = spawn_app().await;
    five_agents(&app).await;
    app.busy("one@agents.test", &[("2026-11-23T09:00:00Z", 30)]);
    let b = app
        .book_ok("sales", "2026-11-23T09:00:00Z", "v@example.com")
        .await;
    assert_eq!(agent_name(&b), "Two");
    assert_eq!(b["routing"]["skipped"][0]["reason"], "busy");
    let id = b["id"].as_str().unwrap();
    let r = app.reschedule(id, "2026-11-23T10:00:00Z").await;
    let moved: Value = r.json().await.unwrap();
    assert_eq!(agent_name(&moved), "Two");
    assert_eq!(moved["routing"], b["routing"]);
}
