//! Item 9: every parser of what callers send, fed arbitrary and almost-right input over HTTP (property tests
//! with proptest): weekly hours, date overrides, instants, zones, durations, the Idempotency-Key, list and
//! feed cursors, invitation templates and webhook URLs. Never a 5xx (a panic answers one, or drops the
//! connection); every refusal is problem+json naming the field at fault.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::header::HeaderValue;
use reqwest::Response;
use serde_json::{json, Value};

use crate::support::{booking_body, spawn_app, TestApp, ADMIN, CHAT};

const CASES: u32 = 96;

/// Text that is sometimes nearly right for a parser (drawn from its own characters) and sometimes anything.
fn text(alphabet: &'static str) -> BoxedStrategy<String> {
    prop_oneof![
        3 => proptest::string::string_regex(&format!("[{alphabet}]{{0,32}}")).unwrap(),
        1 => ".{0,24}",
        1 => Just(String::new()),
    ]
    .boxed()
}

fn q(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A 2xx, or a 4xx problem whose `errors` names one of `fields` (a field or a prefix of one).
async fn answered(r: Response, fields: &[&str], input: &str) -> Result<(), TestCaseError> {
    let status = r.status().as_u16();
    prop_assert!(status < 500, "{status} for {input:?}");
    if status < 400 {
        return Ok(());
    }
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    prop_assert_eq!(ct.as_str(), "application/problem+json", "{:?}", input);
    let p: Value = r.json().await.unwrap();
    let named = p["errors"]
        .as_object()
        .map(|e| {
            e.keys().any(|k| {
                fields
                    .iter()
                    .any(|f| k == f || k.starts_with(&format!("{f}.")))
            })
        })
        .unwrap_or(false);
    prop_assert!(named, "{input:?} → {p}");
    Ok(())
}

/// Runs `CASES` cases of `strategy` against one app, each case an HTTP exchange.
fn check<S: Strategy>(
    strategy: S,
    setup: impl AsyncFnOnce(&TestApp) -> Value,
    case: impl AsyncFn(&TestApp, &Value, S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: Clone,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(spawn_app());
    let ctx = rt.block_on(setup(&app));
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |input| rt.block_on(case(&app, &ctx, input)))
        .unwrap();
}

async fn team_and_agent(app: &TestApp) -> Value {
    app.create_team("sales", json!({})).await;
    app.create_agent("Ann", "Europe/Amsterdam", &["sales"])
        .await
}

#[test]
fn weekly_hours_and_date_overrides_name_their_field() {
    let strategy = (
        text("monuesthfrisa_"),
        text("0-9:apm "),
        text("0-9:apm "),
        text("0-9-"),
        text("0-9:"),
    );
    check(
        strategy,
        team_and_agent,
        async |app, ann, (day, a, b, date, c)| {
            let input = format!("{day} {a} {b} {date} {c}");
            let body = json!({"name": "Bo", "email": "bo@agents.test", "timezone": "UTC",
                               "weekly_hours": {day: [[a, b]]}, "teams": ["sales"]});
            answered(
                app.post("/admin/api/agents", ADMIN, &body).await,
                &["weekly_hours"],
                &input,
            )
            .await?;
            let path = format!("/admin/api/agents/{}", ann["id"].as_str().unwrap());
            let patch = json!({"date_overrides": {date: [[c, b]]}});
            answered(
                app.patch(&path, ADMIN, &patch).await,
                &["date_overrides"],
                &input,
            )
            .await
        },
    );
}

#[test]
fn availability_instants_zones_and_durations_name_their_field() {
    let strategy = (text("0-9TZ:+.-"), text("A-Za-z/_+0-9-"), text("0-9 .-"));
    check(
        strategy,
        team_and_agent,
        async |app, _, (from, tz, duration)| {
            let input = format!("{from} {tz} {duration}");
            for (field, query) in [
                ("from", format!("from={}", q(&from))),
                ("to", format!("to={}", q(&from))),
                ("tz", format!("tz={}", q(&tz))),
                ("duration", format!("duration={}", q(&duration))),
            ] {
                answered(app.availability("sales", &query).await, &[field], &input).await?;
            }
            Ok(())
        },
    );
}

#[test]
fn idempotency_keys_name_their_header() {
    let strategy = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        "[ -~]{0,300}".prop_map(String::into_bytes),
    ];
    check(strategy, team_and_agent, async |app, _, key| {
        let Ok(value) = HeaderValue::from_bytes(&key) else {
            return Ok(()); // not something an HTTP client can send
        };
        // A start in the past: a key that is accepted gets the refusal of `start`.
        let body = booking_body("sales", "2020-01-06T10:00:00Z", "vera@example.org");
        let r = app
            .client
            .post(app.url("/v1/bookings"))
            .bearer_auth(CHAT)
            .header("Idempotency-Key", value)
            .json(&body)
            .send()
            .await
            .unwrap();
        answered(r, &["Idempotency-Key", "start"], &format!("{key:?}")).await
    });
}

#[test]
fn list_and_feed_cursors_name_their_field() {
    let strategy = (text("A-Za-z0-9_=.-"), text("0-9a-f-"));
    check(strategy, team_and_agent, async |app, _, (cursor, limit)| {
        let input = format!("{cursor} {limit}");
        answered(
            app.get(&format!("/admin/api/meetings?cursor={}", q(&cursor)), ADMIN)
                .await,
            &["cursor"],
            &input,
        )
        .await?;
        answered(
            app.get(&format!("/v1/activities?after={}", q(&cursor)), CHAT)
                .await,
            &["after"],
            &input,
        )
        .await?;
        answered(
            app.get(&format!("/v1/activities?limit={}", q(&limit)), CHAT)
                .await,
            &["limit"],
            &input,
        )
        .await
    });
}

#[test]
fn invitation_templates_name_their_field() {
    let jinja = "a-z_ {}%|~*+()\"',.=0-9\n-";
    let strategy = (text(jinja), text(jinja));
    check(
        strategy,
        team_and_agent,
        async |app, ann, (subject, body)| {
            let path = format!(
                "/admin/api/agents/{}/invitation",
                ann["id"].as_str().unwrap()
            );
            let input = format!("{subject:?} {body:?}");
            let draft = json!({"subject": subject, "body": body});
            answered(
                app.put(&path, ADMIN, &draft).await,
                &["subject", "body"],
                &input,
            )
            .await?;
            answered(
                app.post(&format!("{path}/preview"), ADMIN, &draft).await,
                &["subject", "body"],
                &input,
            )
            .await
        },
    );
}

/// Only loopback and reserved names, so that nothing generated here can be looked up or reached outside
/// this machine; no booking is made, so nothing is delivered.
#[test]
fn webhook_urls_name_their_field() {
    let host = prop_oneof![
        Just("127.0.0.1".to_owned()),
        Just("[::1]".to_owned()),
        Just("localhost".to_owned()),
        "[a-z]{1,8}\\.invalid",
        "127\\.[0-9.]{0,8}",
        "\\[[0-9:]{0,10}\\]",
    ];
    let strategy = (
        prop_oneof![
            Just("http://"),
            Just("https://"),
            Just("ftp://"),
            Just(""),
            Just("http:"),
        ],
        prop_oneof![Just(String::new()), "[a-z]{1,5}(:[a-z]{0,5})?@".boxed()],
        host,
        prop_oneof![Just(String::new()), "[/?#:][a-z0-9/?#%=&:]{0,20}".boxed()],
    );
    check(
        strategy,
        async |_| Value::Null,
        async |app, _, (scheme, user, host, rest)| {
            let url = format!("{scheme}{user}{host}{rest}");
            let body = json!({"url": url, "events": ["meeting.scheduled"]});
            answered(
                app.post("/admin/api/webhooks", ADMIN, &body).await,
                &["url"],
                &url,
            )
            .await
        },
    );
}
