//! Team availability on the fixed fixture `benches/data/bench-team.json` (a copy of shared/fixtures): 50 agents
//! in six zones over 60 days, so figures stay comparable over time (DESIGN.md "Scale").

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rondo::domain::availability::{free_slots, pooled_slots, AgentCalendar, SlotPolicy, Span};
use rondo::domain::{DateOverrides, IanaZone, WeeklyHours};
use serde_json::Value;

/// The pooled slot count the fixture promises once the notice applies.
const EXPECTED_POOLED: usize = 4_307;

struct Agent {
    zone: IanaZone,
    weekly: WeeklyHours,
    overrides: DateOverrides,
    busy: Vec<Span>,
}

struct Fixture {
    policy: SlotPolicy,
    window: Span,
    now: DateTime<Utc>,
    agents: Vec<Agent>,
}

fn instant(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().expect("an RFC 3339 string"))
        .expect("an RFC 3339 instant")
        .with_timezone(&Utc)
}

fn minutes(team: &Value, key: &str) -> u32 {
    team[key].as_u64().map_or(0, |m| m as u32)
}

fn load() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/bench-team.json");
    let text = std::fs::read_to_string(path).expect("benches/data/bench-team.json is readable");
    let json: Value = serde_json::from_str(&text).expect("the fixture is JSON");
    let team = &json["team"];
    let policy = SlotPolicy {
        meeting_minutes: minutes(team, "meeting_minutes"),
        step_minutes: minutes(team, "slot_step_minutes"),
        buffer_before_minutes: minutes(team, "buffer_before"),
        buffer_after_minutes: minutes(team, "buffer_after"),
        min_notice_minutes: minutes(team, "min_notice_minutes"),
        // The fixture sets no horizon; 60 days covers its whole window.
        horizon_days: 60,
    };
    let agents = json["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .map(|a| {
            let weekly: BTreeMap<String, Vec<[String; 2]>> =
                serde_json::from_value(a["weekly_hours"].clone()).expect("weekly_hours");
            let days_off: Vec<String> =
                serde_json::from_value(a["days_off"].clone()).expect("days_off");
            let overrides: BTreeMap<String, Vec<[String; 2]>> =
                days_off.into_iter().map(|d| (d, Vec::new())).collect();
            Agent {
                zone: IanaZone::parse(a["timezone"].as_str().expect("timezone"))
                    .expect("an IANA zone"),
                weekly: WeeklyHours::parse(&weekly).expect("valid weekly hours"),
                overrides: DateOverrides::parse(&overrides).expect("valid days off"),
                busy: a["busy"]
                    .as_array()
                    .expect("busy")
                    .iter()
                    .map(|b| Span {
                        start: instant(&b[0]),
                        end: instant(&b[1]),
                    })
                    .collect(),
            }
        })
        .collect();
    Fixture {
        policy,
        window: Span {
            start: instant(&json["window"]["from"]),
            end: instant(&json["window"]["to"]),
        },
        now: instant(&json["now"]),
        agents,
    }
}

fn team_availability(c: &mut Criterion) {
    let fixture = load();
    let calendars: Vec<AgentCalendar> = fixture
        .agents
        .iter()
        .map(|a| AgentCalendar {
            zone: a.zone.tz(),
            weekly: &a.weekly,
            overrides: &a.overrides,
            busy: &a.busy,
        })
        .collect();
    let pooled = pooled_slots(&calendars, &fixture.policy, fixture.window, fixture.now);
    assert_eq!(
        pooled.len(),
        EXPECTED_POOLED,
        "pooled slots of bench-team.json"
    );

    let mut group = c.benchmark_group("team_availability");
    group.bench_function("bench_team_pooled", |b| {
        b.iter(|| {
            pooled_slots(
                black_box(&calendars),
                &fixture.policy,
                fixture.window,
                fixture.now,
            )
        })
    });
    group.bench_function("bench_one_agent_free_slots", |b| {
        b.iter(|| {
            free_slots(
                black_box(&calendars[0]),
                &fixture.policy,
                fixture.window,
                fixture.now,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, team_availability);
criterion_main!(benches);
