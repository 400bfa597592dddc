//! The chat service asks for a team's free slots.

use serde_json::{json, Value};

use crate::support::*;

#[tokio::test]
async fn slots_are_the_agents_free_hours_labelled_in_the_visitors_zone() {
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    let ann = app
        .create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    // Ann is busy 11:00-12:00 Amsterdam time (10:00-11:00 UTC).
    app.busy(
        ann["email"].as_str().unwrap(),
        &[("2026-11-23T10:00:00Z", 60)],
    );

    let r = app
        .availability(
            "sales",
            "from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z&tz=America/New_York",
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["team"], "sales");
    assert_eq!(body["timezone"], "America/New_York");
    assert_eq!(body["duration"], 30);
    let slots = body["slots"].as_array().unwrap();
    // 09:00-17:00 Amsterdam = 08:00-16:00 UTC: starts 09:00..16:30 local on a 15-minute grid (31),
    // minus the five whose meeting would overlap the busy hour (10:45 .. 11:45 local).
    assert_eq!(slots.len(), 26);
    assert_eq!(slots[0]["start"], "2026-11-23T03:00:00-05:00");
    assert_eq!(slots[0]["end"], "2026-11-23T03:30:00-05:00");
    assert_eq!(slots[0]["local"], "Mon 23 Nov 03:00");
    let starts: Vec<_> = slots
        .iter()
        .map(|s| at(s["start"].as_str().unwrap()))
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]));
    assert!(!starts.contains(&at("2026-11-23T10:00:00Z")));
    assert!(!starts.contains(&at("2026-11-23T09:45:00Z")));
    assert!(starts.contains(&at("2026-11-23T09:30:00Z")));
    assert!(starts.contains(&at("2026-11-23T11:00:00Z")));
}

#[tokio::test]
async fn notice_and_duration_shape_the_slots() {
    let app = spawn_app().await; // now: 06:00 UTC
    app.create_team(
        "sales",
        json!({"min_notice_minutes": 180, "slot_step_minutes": 30, "meeting_minutes": 60}),
    )
    .await;
    app.create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await;
    let starts = app
        .slot_starts("sales", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z")
        .await;
    // Not before 09:00 UTC (06:00 + 3 h notice); the last hour-long meeting starts 15:00 UTC.
    assert_eq!(starts.first().unwrap(), &at("2026-11-23T09:00:00Z"));
    assert_eq!(starts.last().unwrap(), &at("2026-11-23T15:00:00Z"));
    assert_eq!(starts.len(), 13);

    let r = app
        .availability(
            "sales",
            "from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z&duration=120",
        )
        .await;
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["duration"], 120);
    assert_eq!(
        body["slots"].as_array().unwrap().last().unwrap()["start"],
        "2026-11-23T14:00:00+00:00"
    );
}

#[tokio::test]
async fn pooled_offers_the_union_and_strict_only_the_next_agent() {
    let app = spawn_app().await;
    app.create_team("pool", json!({})).await;
    app.create_team("strict", json!({"mode": "strict"})).await;
    // Ann works mornings, Bob afternoons (Amsterdam).
    app.create_agent_with(
        json!({"name": "Ann", "email": "ann@agents.test", "timezone": "Europe/Amsterdam",
        "weekly_hours": weekdays("09:00", "12:00"), "teams": ["pool", "strict"]}),
    )
    .await;
    app.create_agent_with(
        json!({"name": "Bob", "email": "bob@agents.test", "timezone": "Europe/Amsterdam",
        "weekly_hours": weekdays("13:00", "17:00"), "teams": ["pool", "strict"]}),
    )
    .await;
    let day = ("2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z");
    let pooled = app.slot_starts("pool", day.0, day.1).await;
    assert_eq!(pooled.len(), 11 + 15);
    let strict = app.slot_starts("strict", day.0, day.1).await;
    // Nobody took a meeting yet: Ann is first in the queue, so only her mornings are offered.
    assert_eq!(strict.len(), 11);
    assert_eq!(strict.last().unwrap(), &at("2026-11-23T10:30:00Z"));
    // After Ann takes one, Bob is next in strict mode.
    app.book_ok("strict", "2026-11-23T08:00:00Z", "v@example.com")
        .await;
    let strict = app.slot_starts("strict", day.0, day.1).await;
    assert_eq!(strict.first().unwrap(), &at("2026-11-23T12:00:00Z"));
}

#[tokio::test]
async fn days_off_and_paused_agents_offer_nothing() {
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    let ann = app
        .create_agent_with(
            json!({"name": "Ann", "email": "ann@agents.test", "timezone": "Europe/Amsterdam",
            "weekly_hours": weekdays("09:00", "17:00"), "teams": ["sales"],
            "date_overrides": {"2026-11-23": [], "2026-11-24": [["10:00", "11:00"]]}}),
        )
        .await;
    let starts = app
        .slot_starts("sales", "2026-11-23T00:00:00Z", "2026-11-25T00:00:00Z")
        .await;
    assert_eq!(
        starts,
        vec![
            at("2026-11-24T09:00:00Z"),
            at("2026-11-24T09:15:00Z"),
            at("2026-11-24T09:30:00Z")
        ]
    );
    let id = ann["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/admin/api/agents/{id}"),
            ADMIN,
            &json!({"paused": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(app
        .slot_starts("sales", "2026-11-23T00:00:00Z", "2026-11-25T00:00:00Z")
        .await
        .is_empty());
}

/// Local 09:00 maps to the right UTC instant on each side of a DST change.
async fn first_slot_each_day(app: &TestApp, team: &str, days: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for d in days {
        let from = format!("{d}T00:00:00Z");
        let to = at(&from) + chrono::Duration::days(1);
        let starts = app.slot_starts(team, &from, &to.to_rfc3339()).await;
        out.push(
            starts
                .first()
                .map(|s| s.format("%H:%MZ").to_string())
                .unwrap_or_default(),
        );
    }
    out
}

#[tokio::test]
async fn dst_weeks_in_new_york_and_amsterdam() {
    let app = spawn_app_with(Options {
        now: at("2026-10-19T00:00:00Z"),
        ..Default::default()
    })
    .await;
    app.create_team("ny", json!({"horizon_days": 365, "min_notice_minutes": 0}))
        .await;
    app.create_team("ams", json!({"horizon_days": 365, "min_notice_minutes": 0}))
        .await;
    app.create_agent("Nora", "America/New_York", &["ny"]).await;
    app.create_agent("Anke", "Europe/Amsterdam", &["ams"]).await;

    // Autumn: Amsterdam falls back on Sun 25 Oct 2026, New York on Sun 1 Nov 2026.
    assert_eq!(
        first_slot_each_day(&app, "ams", &["2026-10-23", "2026-10-26"]).await,
        ["07:00Z", "08:00Z"]
    );
    assert_eq!(
        first_slot_each_day(&app, "ny", &["2026-10-30", "2026-11-02"]).await,
        ["13:00Z", "14:00Z"]
    );
    // Spring: New York springs forward on Sun 14 Mar 2027, Amsterdam on Sun 28 Mar 2027.
    app.clock.set(at("2027-03-01T00:00:00Z"));
    assert_eq!(
        first_slot_each_day(&app, "ny", &["2027-03-12", "2027-03-15"]).await,
        ["14:00Z", "13:00Z"]
    );
    assert_eq!(
        first_slot_each_day(&app, "ams", &["2027-03-26", "2027-03-29"]).await,
        ["08:00Z", "07:00Z"]
    );
    // Two working weeks across the change keep eight working hours a day: 31 starts daily.
    let weeks = app
        .slot_starts("ny", "2027-03-08T00:00:00Z", "2027-03-20T00:00:00Z")
        .await;
    assert_eq!(weeks.len(), 10 * 31);
}
