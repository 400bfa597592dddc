//! Item 1: invitation templates that would make rondo allocate without bound. The attacker saved
//! `{{ "ab"|indent(100000000000) }}` and rondo aborted; a 70-byte template previewed to 20 MB. Against the
//! binary in its own process: each is refused with 422 naming the field, nothing is saved, the process
//! stays up and its peak memory does not move.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::process::{RondoProcess, ADMIN};

/// Templates that each asked for far more memory than an email needs.
const ATTACKS: [&str; 7] = [
    r#"{{ "ab"|indent(100000000000) }}"#,
    r#"{{ "x" * 20000000 }}{{ visitor_name }}"#,
    r#"{% set a = "xxxxxxxxxxxxxxxx" %}{% set a = a ~ a %}{% set a = a ~ a %}{{ a }}"#,
    r#"{{ visitor_name|replace("", "0123456789012345678901234567890123456789")|replace("", "0123456789012345678901234567890123456789")|replace("", "0123456789012345678901234567890123456789") }}"#,
    r#"{% for a in "0123456789012345678901234567890123456789"|list %}{% for b in "0123456789012345678901234567890123456789"|list %}{{ "x"|indent(30, true) }}{{ agent_name }}{{ team }}{{ date }}{{ agent_email }}{{ cancel_link }}{{ reschedule_link }}{% endfor %}{% endfor %}"#,
    r#"{{ [1]|slice(1000000000) }}"#,
    r#"{% for i in range(100000) %}{% endfor %}"#,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_cannot_exhaust_memory_through_the_api_or_the_agents_page() {
    let mut rondo = RondoProcess::start(&[]).await;
    let ann = rondo.seed_sales(&["ann"]).await.remove(0);
    let path = format!(
        "/admin/api/agents/{}/invitation",
        ann["id"].as_str().unwrap()
    );
    // A fair template renders, so what follows is the limits at work and not a broken renderer.
    let r = rondo
        .send(
            Method::POST,
            &format!("{path}/preview"),
            ADMIN,
            Some(&json!({"subject": "Hi {{ visitor_name|upper }}", "body": "See you {{ date }}.\n{{ cancel_link|indent(2) }}"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["subject"],
        "Hi VERA VISITOR"
    );
    let peak_before = rondo.memory_kb("VmHWM");

    let browser = Browser::new();
    let settings = format!("{}/settings", ann["connect_url"].as_str().unwrap());
    for attack in ATTACKS {
        for (field, body) in [
            ("body", json!({"subject": "Hi", "body": attack})),
            ("subject", json!({"subject": attack, "body": "Hi"})),
        ] {
            let r = rondo.send(Method::PUT, &path, ADMIN, Some(&body)).await;
            assert_eq!(r.status(), 422, "{attack}");
            let p: Value = r.json().await.unwrap();
            assert!(p["errors"][field][0].is_string(), "{attack}: {p}");
            let r = rondo
                .send(Method::POST, &format!("{path}/preview"), ADMIN, Some(&body))
                .await;
            assert_eq!(r.status(), 422, "preview of {attack}");
            let p: Value = r.json().await.unwrap();
            assert!(p["errors"][field][0].is_string(), "{attack}: {p}");
        }
        let page = browser
            .post_form(
                &settings,
                &[
                    ("timezone", "Europe/Amsterdam"),
                    ("hours_mon", "09:00-17:00"),
                    ("subject", "Hi"),
                    ("body", attack),
                ],
            )
            .await;
        assert_eq!(page.status, 422, "{attack}: {}", page.body);
        assert!(page.has("nothing was saved"), "{}", page.body);
        assert!(rondo.alive(), "rondo died on {attack}");
    }
    let saved: Value = rondo
        .send(Method::GET, &path, ADMIN, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(saved["is_default"], true, "nothing saved");
    let grown = rondo.memory_kb("VmHWM") - peak_before;
    assert!(
        grown < 16 * 1024,
        "peak memory grew by {grown} kB over the attacks"
    );
}
