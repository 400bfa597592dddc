//! Routing before round robin (issue 16): account owners, custom rules and daily limits, for bookings,
//! reschedules and the availability a visitor is offered.

use serde_json::{json, Value};

use crate::support::*;

/// Team `sales` with Ann, Bob and Cat (in that queue order), 09:00–17:00 Amsterdam on weekdays.
async fn three_agents(app: &TestApp, team: Value) -> [String; 3] {
    app.create_team("sales", team).await;
    let mut ids = Vec::new();
    for name in ["Ann", "Bob", "Cat"] {
        let a = app.create_agent(name, "Europe/Amsterdam", &["sales"]).await;
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    ids.try_into().unwrap()
}

fn body(start: &str, email: &str, company: Option<&str>, attributes: Value) -> Value {
    json!({
        "team": "sales",
        "start": start,
        "visitor": {"email": email, "name": "Vera", "company": company, "timezone": "UTC"},
        "attributes": attributes,
    })
}

async fn book(app: &TestApp, body: &Value) -> Value {
    let r = app
        .book_with_key(&uuid::Uuid::now_v7().to_string(), body)
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn put_csv(app: &TestApp, path: &str, csv: &str) -> reqwest::Response {
    app.client
        .put(app.url(path))
        .bearer_auth(ADMIN)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap()
}

fn name(b: &Value) -> &str {
    b["agent"]["name"].as_str().unwrap()
}

#[tokio::test]
async fn the_account_owner_takes_its_visitors_and_routing_falls_through_with_the_reason() {
    let app = spawn_app().await;
    let [_ann, _bob, cat] = three_agents(&app, json!({})).await;
    let r = put_csv(
        &app,
        "/admin/api/teams/sales/accounts",
        "domain,agent_email\nacme.com,CAT@agents.test\n\n",
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let listed: Value = app.get_json("/admin/api/teams/sales/accounts", ADMIN).await;
    assert_eq!(
        listed["accounts"],
        json!([{"domain": "acme.com", "agent_id": cat, "agent_email": "cat@agents.test", "agent_name": "Cat"}])
    );

    // The email's domain (a subdomain counts), or else the company's, names the account.
    let b = book(
        &app,
        &body("2026-11-23T09:00:00Z", "ed@eu.acme.com", None, json!({})),
    )
    .await;
    assert_eq!(name(&b), "Cat");
    assert_eq!(b["routing"]["step"], "account");
    assert_eq!(b["routing"]["account"], "acme.com");
    assert_eq!(b["routing"]["skipped"], json!([]));
    let b = book(
        &app,
        &body(
            "2026-11-23T09:30:00Z",
            "ed@gmail.com",
            Some("https://www.acme.com/about"),
            json!({}),
        ),
    )
    .await;
    assert_eq!(name(&b), "Cat");
    // The owner took them outside the rotation: the next visitor without an account gets Ann, the first.
    let b = book(
        &app,
        &body("2026-11-23T10:00:00Z", "x@other.org", None, json!({})),
    )
    .await;
    assert_eq!(
        (name(&b), &b["routing"]["step"]),
        ("Ann", &json!("round_robin"))
    );

    // Cat busy: the visitor goes to the rotation, and the trace says why the owner did not take it.
    app.busy("cat@agents.test", &[("2026-11-23T11:00:00Z", 30)]);
    let b = book(
        &app,
        &body("2026-11-23T11:00:00Z", "al@acme.com", None, json!({})),
    )
    .await;
    assert_eq!(name(&b), "Bob");
    assert_eq!(b["routing"]["step"], "round_robin");
    assert_eq!(
        b["routing"]["skipped"],
        json!([{"agent_id": cat, "reason": "owner_busy", "step": "account"}])
    );
    // Cat paused: `owner_paused`.
    app.patch(
        &format!("/admin/api/agents/{cat}"),
        ADMIN,
        &json!({"paused": true}),
    )
    .await;
    let b = book(
        &app,
        &body("2026-11-23T12:00:00Z", "al@acme.com", None, json!({})),
    )
    .await;
    assert_eq!(name(&b), "Ann");
    assert_eq!(
        b["routing"]["skipped"],
        json!([{"agent_id": cat, "reason": "owner_paused", "step": "account"}])
    );
    // The webhook/activity carries the same trace.
    let feed: Value = app.get_json("/v1/activities?limit=100", CHAT).await;
    let last = feed["activities"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last["data"]["routing"]["skipped"][0]["reason"],
        "owner_paused"
    );
}

#[tokio::test]
async fn a_bad_account_row_is_named_and_nothing_changes() {
    let app = spawn_app().await;
    let [ann, _bob, _cat] = three_agents(&app, json!({})).await;
    app.create_agent("Outsider", "Europe/Amsterdam", &[]).await;
    let r = app
        .put(
            "/admin/api/teams/sales/accounts",
            ADMIN,
            &json!({"accounts": [{"domain": "acme.com", "agent_id": ann}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = put_csv(
        &app,
        "/admin/api/teams/sales/accounts",
        "domain,agent_email\nglobex.com,bob@agents.test\nnot a domain,ann@agents.test\ninitech.com,outsider@agents.test\nGLOBEX.com.,cat@agents.test\n",
    )
    .await;
    let p = expect_problem(r, 422, "validation").await;
    assert!(p["errors"]["line 3.domain"].is_array(), "{p}");
    assert!(p["errors"]["line 4.agent_email"].is_array(), "{p}");
    assert!(
        p["errors"]["line 5.domain"][0]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{p}"
    );
    let r = put_csv(
        &app,
        "/admin/api/teams/sales/accounts",
        "company,owner\nacme.com,x\n",
    )
    .await;
    let p = expect_problem(r, 422, "validation").await;
    assert!(p["errors"]["line 1"].is_array(), "{p}");
    let r = app
        .put(
            "/admin/api/teams/sales/accounts",
            ADMIN,
            &json!({"accounts": [{"domain": "ok.com", "agent_id": ann}, {"domain": "x", "agent_id": "nobody"}]}),
        )
        .await;
    let p = expect_problem(r, 422, "validation").await;
    assert!(p["errors"]["accounts[1].domain"].is_array(), "{p}");
    assert!(p["errors"]["accounts[1].agent_id"].is_array(), "{p}");
    // Still the list before the refused ones.
    let listed: Value = app.get_json("/admin/api/teams/sales/accounts", ADMIN).await;
    assert_eq!(listed["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(listed["accounts"][0]["domain"], "acme.com");
    // And as CSV for a spreadsheet.
    let csv = app
        .client
        .get(app.url("/admin/api/teams/sales/accounts"))
        .bearer_auth(ADMIN)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv, "domain,agent_email\nacme.com,ann@agents.test\n");
}

#[tokio::test]
async fn the_first_matching_rule_with_a_free_agent_wins_round_robin_inside_it() {
    let app = spawn_app().await;
    let [ann, bob, cat] = three_agents(&app, json!({})).await;
    let rules = json!({"rules": [
        {"name": "Enterprise", "when": [{"attribute": "size", "op": "in", "value": ["1000+"]},
                                         {"attribute": "state", "op": "exists"}], "agents": [ann]},
        {"name": "West coast", "when": [{"attribute": "state", "op": "in", "value": ["CA", "OR", "WA"]}],
         "agents": [bob, cat]},
    ]});
    let r = app.put("/admin/api/teams/sales/rules", ADMIN, &rules).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let stored: Value = app.get_json("/admin/api/teams/sales/rules", ADMIN).await;
    assert_eq!(stored, rules);

    // West coast visitors alternate between Bob and Cat, with the rule's own pointer.
    let mut got = Vec::new();
    for (i, start) in ["09:00", "09:30", "10:00"].iter().enumerate() {
        let b = book(
            &app,
            &body(
                &format!("2026-11-23T{start}:00Z"),
                &format!("w{i}@x.org"),
                None,
                json!({"state": " ca "}),
            ),
        )
        .await;
        assert_eq!(b["routing"]["step"], "rule");
        assert_eq!(b["routing"]["rule"], "West coast");
        got.push(name(&b).to_owned());
    }
    assert_eq!(got, ["Bob", "Cat", "Bob"]);
    // The team's rotation was not moved by them: a visitor no rule matches gets Ann, the first.
    let b = book(
        &app,
        &body(
            "2026-11-23T10:30:00Z",
            "n@x.org",
            None,
            json!({"state": "NY"}),
        ),
    )
    .await;
    assert_eq!(
        (name(&b), &b["routing"]["step"]),
        ("Ann", &json!("round_robin"))
    );
    // All conditions of a rule must hold: size alone matches nothing, size with a state goes to Ann.
    let b = book(
        &app,
        &body(
            "2026-11-23T11:00:00Z",
            "e@x.org",
            None,
            json!({"state": "NY", "size": "1000+"}),
        ),
    )
    .await;
    assert_eq!(
        (name(&b), &b["routing"]["rule"]),
        ("Ann", &json!("Enterprise"))
    );

    // Both West coast agents busy: the rule falls through to the rotation, naming who it asked.
    app.busy("bob@agents.test", &[("2026-11-23T12:00:00Z", 30)]);
    app.busy("cat@agents.test", &[("2026-11-23T12:00:00Z", 30)]);
    let b = book(
        &app,
        &body(
            "2026-11-23T12:00:00Z",
            "w9@x.org",
            None,
            json!({"state": "WA"}),
        ),
    )
    .await;
    assert_eq!(
        (name(&b), &b["routing"]["step"]),
        ("Ann", &json!("round_robin"))
    );
    assert_eq!(
        b["routing"]["skipped"],
        json!([
            {"agent_id": cat, "reason": "busy", "step": "rule", "rule": "West coast"},
            {"agent_id": bob, "reason": "busy", "step": "rule", "rule": "West coast"},
        ])
    );
}

#[tokio::test]
async fn bad_rules_are_named_and_nothing_changes() {
    let app = spawn_app().await;
    let [ann, _bob, _cat] = three_agents(&app, json!({})).await;
    let outsider = app.create_agent("Outsider", "Europe/Amsterdam", &[]).await;
    let good = json!({"rules": [{"name": "A", "when": [{"attribute": "x", "op": "exists"}], "agents": [ann]}]});
    assert_eq!(
        app.put("/admin/api/teams/sales/rules", ADMIN, &good)
            .await
            .status(),
        200
    );
    let bad = json!({"rules": [
        {"name": "B", "when": [], "agents": []},
        {"name": "C", "when": [{"attribute": "x", "op": "like", "value": "y"}], "agents": [outsider["id"]]},
        {"name": "D", "when": [{"attribute": "x", "op": "in", "value": "CA"}], "agents": [ann]},
    ]});
    let r = app.put("/admin/api/teams/sales/rules", ADMIN, &bad).await;
    let p = expect_problem(r, 422, "validation").await;
    for field in [
        "rules[0].when",
        "rules[0].agents",
        "rules[1].when[0].op",
        "rules[1].agents[0]",
        "rules[2].when[0].value",
    ] {
        assert!(p["errors"][field].is_array(), "{field}: {p}");
    }
    let r = app
        .put(
            "/admin/api/teams/sales/rules",
            ADMIN,
            &json!({"rules": [{"name": "E", "agents": [ann]}]}),
        )
        .await;
    let p = expect_problem(r, 422, "validation").await;
    assert!(p["errors"]["rules[0].when"].is_array(), "{p}");
    let stored: Value = app.get_json("/admin/api/teams/sales/rules", ADMIN).await;
    assert_eq!(stored, good);
    let r = app.put("/admin/api/teams/nope/rules", ADMIN, &good).await;
    expect_problem(r, 404, "not-found").await;
}

async fn monday(app: &TestApp) -> Vec<chrono::DateTime<chrono::Utc>> {
    app.slot_starts("solo", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z")
        .await
}

#[tokio::test]
async fn a_full_agent_is_skipped_and_its_slots_leave_availability() {
    let app = spawn_app().await;
    app.create_team("solo", json!({"daily_limit": 2})).await;
    let ann = app.create_agent("Ann", "Europe/Amsterdam", &["solo"]).await;
    let ann = ann["id"].as_str().unwrap();
    let team: Value = app.get_json("/admin/api/teams/solo", ADMIN).await;
    assert_eq!(team["daily_limit"], 2);
    assert!(!monday(&app).await.is_empty());
    for start in ["2026-11-23T09:00:00Z", "2026-11-23T10:00:00Z"] {
        let b = json!({"team": "solo", "start": start, "visitor": {"email": "v@x.org"}});
        book(&app, &b).await;
    }
    // Full on Monday (in Amsterdam): no Monday slots, Tuesday's are still there, and a booking is refused.
    assert!(monday(&app).await.is_empty());
    let tuesday = app
        .slot_starts("solo", "2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z")
        .await;
    assert!(!tuesday.is_empty());
    let r = app.book("solo", "2026-11-23T12:00:00Z", "late@x.org").await;
    assert_eq!(r.status(), 409);
    // The agent's own limit overrides the team's; `null` gives the team's back.
    let r = app
        .patch(
            &format!("/admin/api/agents/{ann}"),
            ADMIN,
            &json!({"daily_limit": 3}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["daily_limit"], 3);
    assert!(!monday(&app).await.is_empty());
    let r = app
        .patch(
            &format!("/admin/api/agents/{ann}"),
            ADMIN,
            &json!({"daily_limit": null}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["daily_limit"], Value::Null);
    assert!(monday(&app).await.is_empty());
    let r = app
        .patch(
            &format!("/admin/api/agents/{ann}"),
            ADMIN,
            &json!({"daily_limit": 0}),
        )
        .await;
    let p = expect_problem(r, 422, "validation").await;
    assert!(p["errors"]["daily_limit"].is_array(), "{p}");
    let r = app
        .patch(
            "/admin/api/teams/solo",
            ADMIN,
            &json!({"daily_limit": null}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(!monday(&app).await.is_empty());
}

#[tokio::test]
async fn a_full_agent_in_a_team_is_skipped_with_its_reason() {
    let app = spawn_app().await;
    let [ann, _bob, _cat] = three_agents(&app, json!({})).await;
    app.patch(
        &format!("/admin/api/agents/{ann}"),
        ADMIN,
        &json!({"daily_limit": 1}),
    )
    .await;
    let b = book(
        &app,
        &body("2026-11-23T09:00:00Z", "a@x.org", None, json!({})),
    )
    .await;
    assert_eq!(name(&b), "Ann");
    for (start, expect) in [("09:30", "Bob"), ("10:00", "Cat")] {
        let b = book(
            &app,
            &body(
                &format!("2026-11-23T{start}:00Z"),
                "b@x.org",
                None,
                json!({}),
            ),
        )
        .await;
        assert_eq!(name(&b), expect);
    }
    let b = book(
        &app,
        &body("2026-11-23T10:30:00Z", "c@x.org", None, json!({})),
    )
    .await;
    assert_eq!(name(&b), "Bob");
    assert_eq!(
        b["routing"]["skipped"],
        json!([{"agent_id": ann, "reason": "daily_limit", "step": "round_robin"}])
    );
    // Tuesday is another day in Ann's zone: Ann takes meetings again.
    let b = book(
        &app,
        &body("2026-11-24T09:00:00Z", "d@x.org", None, json!({})),
    )
    .await;
    assert_eq!(name(&b), "Cat");
    let b = book(
        &app,
        &body("2026-11-24T09:30:00Z", "e@x.org", None, json!({})),
    )
    .await;
    assert_eq!(name(&b), "Ann");
}

#[tokio::test]
async fn a_reschedule_keeps_the_agent_else_routes_like_the_booking() {
    let app = spawn_app().await;
    let [ann, bob, cat] = three_agents(&app, json!({})).await;
    let rules = json!({"rules": [{"name": "West", "when": [{"attribute": "state", "op": "equals", "value": "CA"}],
                                  "agents": [bob, cat]}]});
    app.put("/admin/api/teams/sales/rules", ADMIN, &rules).await;
    app.put(
        "/admin/api/teams/sales/accounts",
        ADMIN,
        &json!({"accounts": [{"domain": "acme.com", "agent_id": ann}]}),
    )
    .await;
    let b = book(
        &app,
        &body(
            "2026-11-23T09:00:00Z",
            "v@x.org",
            None,
            json!({"state": "CA"}),
        ),
    )
    .await;
    assert_eq!(name(&b), "Bob");
    let id = b["id"].as_str().unwrap();
    // Bob is free at 13:00: he keeps it, and so does the trace.
    let moved = app.reschedule_ok(id, "2026-11-23T13:00:00Z").await;
    assert_eq!(name(&moved), "Bob");
    assert_eq!(moved["routing"]["rule"], "West");
    // Bob busy at 14:00: the rule's other agent takes it before the rest of the team (Ann is first in the
    // team's rotation).
    app.busy("bob@agents.test", &[("2026-11-23T14:00:00Z", 30)]);
    let moved = app.reschedule_ok(id, "2026-11-23T14:00:00Z").await;
    assert_eq!(name(&moved), "Cat");
    assert_eq!(moved["routing"]["step"], "rule");
    assert_eq!(
        moved["routing"]["skipped"],
        json!([{"agent_id": bob, "reason": "busy"}])
    );

    // An account's visitor moved to a time its owner is busy: the owner was asked first (as the meeting's
    // agent), then the rotation.
    let b = book(
        &app,
        &body("2026-11-23T10:00:00Z", "al@acme.com", None, json!({})),
    )
    .await;
    assert_eq!(name(&b), "Ann");
    let id = b["id"].as_str().unwrap();
    app.busy("ann@agents.test", &[("2026-11-23T15:00:00Z", 30)]);
    let moved = app.reschedule_ok(id, "2026-11-23T15:00:00Z").await;
    assert_eq!(moved["routing"]["step"], "round_robin");
    assert_eq!(
        moved["routing"]["skipped"],
        json!([{"agent_id": ann, "reason": "busy"}])
    );
}

#[tokio::test]
async fn strict_availability_for_a_visitor_offers_the_agent_routing_would_book() {
    let app = spawn_app().await;
    app.create_team("sales", json!({"mode": "strict"})).await;
    let ann = app
        .create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    let cat = app
        .create_agent_with(json!({
            "name": "Cat", "email": "cat@agents.test", "timezone": "Europe/Amsterdam",
            "weekly_hours": weekdays("14:00", "17:00"), "teams": ["sales"],
        }))
        .await;
    app.put(
        "/admin/api/teams/sales/accounts",
        ADMIN,
        &json!({"accounts": [{"domain": "acme.com", "agent_id": cat["id"]}]}),
    )
    .await;
    let query = |extra: &str| {
        format!(
            "from={}&to={}&tz=UTC{extra}",
            enc("2026-11-23T00:00:00Z"),
            enc("2026-11-24T00:00:00Z")
        )
    };
    let slots = |r: Value| -> Vec<String> {
        r["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["start"].as_str().unwrap().to_owned())
            .collect()
    };
    // Anyone: the rotation's first agent, Ann, from 09:00 Amsterdam.
    let r = app.availability("sales", &query("")).await;
    let anyone = slots(r.json().await.unwrap());
    assert_eq!(anyone.first().unwrap(), "2026-11-23T08:00:00+00:00");
    // Acme's visitor: their owner Cat's afternoon, and the first of those books with Cat.
    let r = app
        .availability("sales", &query("&email=al%40acme.com"))
        .await;
    assert_eq!(r.status(), 200);
    let acme = slots(r.json().await.unwrap());
    assert_eq!(acme.first().unwrap(), "2026-11-23T13:00:00+00:00");
    let b = book(&app, &body(&acme[0], "al@acme.com", None, json!({}))).await;
    assert_eq!(
        (name(&b), &b["routing"]["step"]),
        ("Cat", &json!("account"))
    );
    assert_ne!(ann["id"], b["agent"]["id"]);
    // A company domain and attributes are read too; bad ones are named.
    let r = app
        .availability(
            "sales",
            &query("&company=acme.com&attributes=%7B%22state%22%3A%22CA%22%7D"),
        )
        .await;
    assert_eq!(
        slots(r.json().await.unwrap()).first().unwrap(),
        "2026-11-23T13:30:00+00:00"
    );
    let r = app
        .availability("sales", &query("&email=nope&attributes=%5B1%5D"))
        .await;
    let p = expect_problem(r, 422, "validation").await;
    assert!(p["errors"]["email"].is_array(), "{p}");
    assert!(p["errors"]["attributes"].is_array(), "{p}");
}
