//! Admins manage agents, teams and queues, and read the meetings report.

use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn agents_can_be_created_read_changed_and_deleted() {
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    let a = app
        .create_agent("Ann Smith", "Europe/Amsterdam", &["sales"])
        .await;
    assert_eq!(a["email"], "ann.smith@agents.test");
    assert_eq!(a["teams"], json!(["sales"]));
    assert_eq!(a["calendar"], "demo");
    assert_eq!(a["weekly_hours"]["mon"], json!([["09:00", "17:00"]]));
    let id = a["id"].as_str().unwrap();
    let got: Value = app
        .get_json(&format!("/admin/api/agents/{id}"), ADMIN)
        .await;
    // The connect link is shown once, at creation (and when an admin issues a new one).
    let mut created = a.clone();
    let link = created
        .as_object_mut()
        .unwrap()
        .remove("connect_url")
        .unwrap();
    assert!(link.as_str().unwrap().contains("/connect/"));
    created
        .as_object_mut()
        .unwrap()
        .remove("connect_url_expires_at")
        .unwrap();
    assert_eq!(got, created);
    let r = app
        .patch(
            &format!("/admin/api/agents/{id}"),
            ADMIN,
            &json!({"timezone": "Asia/Tokyo", "name": "Ann S"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let changed: Value = r.json().await.unwrap();
    assert_eq!(changed["timezone"], "Asia/Tokyo");
    assert_eq!(changed["name"], "Ann S");
    let all: Value = app.get_json("/admin/api/agents", ADMIN).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let r = app
        .client
        .delete(app.url(&format!("/admin/api/agents/{id}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    expect_problem(
        app.get(&format!("/admin/api/agents/{id}"), ADMIN).await,
        404,
        "not-found",
    )
    .await;
    let q: Value = app.get_json("/admin/api/teams/sales/queue", ADMIN).await;
    assert!(q["agents"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_agents_are_refused_naming_the_field() {
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    let cases = [
        (
            json!({"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}),
            "weekly_hours.mon",
        ),
        (json!({"tue": [["17:00", "09:00"]]}), "weekly_hours.tue"),
        (
            json!({"funday": [["09:00", "17:00"]]}),
            "weekly_hours.funday",
        ),
        (json!({"wed": [["9am", "5pm"]]}), "weekly_hours.wed"),
    ];
    for (hours, field) in cases {
        let body = json!({"name": "X", "email": "x@agents.test", "timezone": "Europe/Amsterdam", "weekly_hours": hours});
        let p = expect_problem(
            app.post("/admin/api/agents", ADMIN, &body).await,
            422,
            "validation",
        )
        .await;
        assert!(p["errors"][field].is_array(), "{field}: {p}");
    }
    let body = json!({"name": "", "email": "nope", "timezone": "Nowhere/Land", "weekly_hours": {}, "teams": ["ghosts"]});
    let p = expect_problem(
        app.post("/admin/api/agents", ADMIN, &body).await,
        422,
        "validation",
    )
    .await;
    for field in ["name", "email", "timezone", "teams"] {
        assert!(p["errors"][field].is_array(), "{field}: {p}");
    }
    app.create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    let dup = json!({"name": "Ann 2", "email": "ANN@agents.test", "timezone": "Europe/Amsterdam", "weekly_hours": {}});
    let p = expect_problem(
        app.post("/admin/api/agents", ADMIN, &dup).await,
        422,
        "validation",
    )
    .await;
    assert!(p["errors"]["email"].is_array());
    let all: Value = app.get_json("/admin/api/agents", ADMIN).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn teams_are_validated_and_patched() {
    let app = spawn_app().await;
    let t = app
        .create_team("sales", json!({"mode": "strict", "buffer_after": 10}))
        .await;
    assert_eq!(t["meeting_minutes"], 30);
    assert_eq!(t["mode"], "strict");
    assert_eq!(t["buffer_after"], 10);
    assert_eq!(t["horizon_days"], 30);
    let bad = json!({"slug": "Bad Slug", "name": "x", "mode": "random", "meeting_minutes": 40, "slot_step_minutes": 15,
        "horizon_days": 0});
    let p = expect_problem(
        app.post("/admin/api/teams", ADMIN, &bad).await,
        422,
        "validation",
    )
    .await;
    for field in ["slug", "mode", "meeting_minutes", "horizon_days"] {
        assert!(p["errors"][field].is_array(), "{field}: {p}");
    }
    let r = app
        .post(
            "/admin/api/teams",
            ADMIN,
            &json!({"slug": "sales", "name": "again"}),
        )
        .await;
    expect_problem(r, 409, "duplicate").await;
    let r = app
        .patch(
            "/admin/api/teams/sales",
            ADMIN,
            &json!({"meeting_minutes": 45}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .patch(
            "/admin/api/teams/sales",
            ADMIN,
            &json!({"meeting_minutes": 50}),
        )
        .await;
    expect_problem(r, 422, "validation").await;
    let got: Value = app.get_json("/admin/api/teams/sales", ADMIN).await;
    assert_eq!(got["meeting_minutes"], 45);
    expect_problem(
        app.get("/admin/api/teams/nope", ADMIN).await,
        404,
        "not-found",
    )
    .await;
    let list: Value = app.get_json("/admin/api/teams", ADMIN).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_queue_can_be_seen_and_reordered() {
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    let ids: Vec<String> = {
        let mut v = Vec::new();
        for n in ["A", "B", "C"] {
            v.push(
                app.create_agent(n, "Europe/Amsterdam", &["sales"]).await["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        v
    };
    let q: Value = app.get_json("/admin/api/teams/sales/queue", ADMIN).await;
    let names: Vec<_> = q["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(names, [json!("A"), json!("B"), json!("C")]);
    assert_eq!(q["agents"][0]["position"], 1);
    assert_eq!(q["agents"][0]["active"], true);
    assert_eq!(q["agents"][0]["calendar"], "demo");
    // A demo calendar is no connection: never connected (API.md).
    assert_eq!(q["agents"][0]["connection"], "none");
    assert!(q["agents"][0]["connection_reason"].is_null());
    // Nobody took a meeting yet: the first in the queue is next.
    assert_eq!(q["agents"][0]["next"], true);
    assert_eq!(q["agents"][1]["next"], false);
    let r = app
        .put(
            "/admin/api/teams/sales/queue",
            ADMIN,
            &json!({"order": [ids[2], ids[0], ids[1]]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let q: Value = r.json().await.unwrap();
    let names: Vec<_> = q["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(names, [json!("C"), json!("A"), json!("B")]);
    // The next booking follows the new order.
    let b = app
        .book_ok("sales", "2026-11-23T09:00:00Z", "v@example.com")
        .await;
    assert_eq!(b["agent"]["name"], "C");
    for bad in [
        json!({"order": [ids[0], ids[1]]}),
        json!({"order": [ids[0], ids[1], ids[1]]}),
        json!({"order": [ids[0], ids[1], ids[2], "0190f0b4-0000-7000-8000-000000000000"]}),
        json!({"order": [ids[0], ids[1], "junk"]}),
    ] {
        let p = expect_problem(
            app.put("/admin/api/teams/sales/queue", ADMIN, &bad).await,
            422,
            "validation",
        )
        .await;
        assert!(p["errors"]["order"].is_array());
    }
}

#[tokio::test]
async fn meetings_are_listed_filtered_paginated_exported_and_marked() {
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    app.create_team("support", json!({})).await;
    let ann = app
        .create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    app.create_agent("Bob", "Europe/Amsterdam", &["sales", "support"])
        .await;
    let mut ids = Vec::new();
    for (i, start) in ["08:00", "09:00", "10:00", "11:00", "12:00"]
        .iter()
        .enumerate()
    {
        let b = app
            .book_ok(
                "sales",
                &format!("2026-11-24T{start}:00Z"),
                &format!("lead{i}@example.com"),
            )
            .await;
        ids.push(b["id"].as_str().unwrap().to_owned());
    }
    app.book_ok("support", "2026-11-23T08:00:00Z", "lead9@example.com")
        .await;
    // Pages of two, in start order, across all teams.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("limit=2&cursor={c}"),
            None => "limit=2".into(),
        };
        let page = app.meetings(&q).await;
        for m in page["meetings"].as_array().unwrap() {
            seen.push(m["lead_email"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "lead9@example.com",
            "lead0@example.com",
            "lead1@example.com",
            "lead2@example.com",
            "lead3@example.com",
            "lead4@example.com"
        ]
    );
    assert_eq!(
        app.meetings("team=support").await["meetings"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let ann_id = ann["id"].as_str().unwrap();
    let by_ann = app.meetings(&format!("agent={ann_id}")).await;
    assert_eq!(by_ann["meetings"].as_array().unwrap().len(), 3);
    let window = app
        .meetings(&format!(
            "from={}&to={}",
            enc("2026-11-24T09:00:00Z"),
            enc("2026-11-24T11:00:00Z")
        ))
        .await;
    assert_eq!(window["meetings"].as_array().unwrap().len(), 2);
    let lead = app.meetings("lead_email=LEAD3@example.com").await;
    assert_eq!(lead["meetings"][0]["id"], ids[3].as_str());
    assert_eq!(lead["meetings"][0]["agent"]["name"], "Bob");
    assert_eq!(lead["meetings"][0]["took_place"], Value::Null);
    // Cancel one; status filter.
    app.post(&format!("/v1/bookings/{}/cancel", ids[0]), CHAT, &json!({}))
        .await;
    assert_eq!(
        app.meetings("status=cancelled").await["meetings"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.meetings("status=booked").await["meetings"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    // Whether a meeting took place can be marked once it has ended; before, it is unknown.
    let r = app
        .patch(
            &format!("/admin/api/meetings/{}", ids[1]),
            ADMIN,
            &json!({"took_place": false}),
        )
        .await;
    let p = expect_problem(r, 422, "validation").await;
    assert!(p["errors"]["took_place"].is_array(), "{p}");
    app.clock.set(at("2026-11-28T00:00:00Z"));
    let ended = app.meetings("status=booked").await;
    assert!(ended["meetings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["took_place"] == true));
    let cancelled = app.meetings("status=cancelled").await;
    assert_eq!(cancelled["meetings"][0]["took_place"], false);
    let r = app
        .patch(
            &format!("/admin/api/meetings/{}", ids[1]),
            ADMIN,
            &json!({"took_place": false}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["took_place"], false);
    // CSV with the same filters.
    let r = app.get("/admin/api/meetings.csv?team=sales", ADMIN).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<_> = csv.lines().collect();
    assert_eq!(lines.len(), 6);
    assert!(lines[0].starts_with("id,team,lead_email,lead_name,lead_company,agent_id,agent_name,agent_email,start,end,status,took_place"));
    let row1: Vec<_> = lines[2].split(',').collect();
    assert_eq!(row1[2], "lead1@example.com");
    assert_eq!(row1[10], "booked");
    assert_eq!(row1[11], "false");
    assert_eq!(lines[1].split(',').nth(10), Some("cancelled"));
    // Bad filters are named.
    for (q, field) in [
        ("status=gone", "status"),
        ("from=yesterday", "from"),
        ("limit=0", "limit"),
        ("cursor=zzz", "cursor"),
        ("team=ghosts", "team"),
    ] {
        let p = expect_problem(
            app.get(&format!("/admin/api/meetings?{q}"), ADMIN).await,
            422,
            "validation",
        )
        .await;
        assert!(p["errors"][field].is_array(), "{q}: {p}");
    }
}
