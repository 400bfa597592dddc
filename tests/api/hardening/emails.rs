//! One email-address parser, the mail transport's: `"email":"a>b,c@example.org"` used to book (201) and its
//! invitation job then retried until dead. Now an address no mail can be sent to is refused at the edge
//! (422 naming the field), before anything is stored; one that is accepted gets its invitation.

use chrono::Duration;
use mail_parser::MessageParser;
use serde_json::{json, Value};

use crate::support::*;

/// What attackers and broken chat widgets sent as a visitor's address.
fn undeliverable() -> Vec<String> {
    vec![
        "a>b,c@example.org".into(),
        "x@y@z.org".into(),
        "\"x@y\"@z.org".into(),
        "vera@example.org\r\nBcc: x@evil.org".into(),
        "\"a\r\nBcc: x@evil.org\"@example.org".into(),
        "vera@example.org\nBcc: x@evil.org".into(),
        "Vera <vera@example.org>".into(),
        "vera@example.org, x@evil.org".into(),
        "a@b".into(),
        "a@[127.0.0.1]".into(),
        "a@x_y.org".into(),
        "vera\u{0}@example.org".into(),
        format!("{}@example.org", "a".repeat(65)),
        format!("v@{}.org", "b".repeat(250)),
    ]
}

async fn solo(app: &TestApp) {
    app.create_team("solo", json!({})).await;
    app.create_agent("Ann Smith", "Europe/Amsterdam", &["solo"])
        .await;
}

async fn all_jobs(app: &TestApp) -> Vec<Value> {
    app.get_json("/admin/api/jobs", ADMIN).await["jobs"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn visitor_addresses_no_mail_can_reach_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    solo(&app).await;
    for (i, email) in undeliverable().iter().enumerate() {
        let body = booking_body("solo", "2026-11-23T10:00:00Z", email);
        let r = app.book_with_key(&format!("bad-{i}"), &body).await;
        let problem = expect_problem(r, 422, "validation").await;
        assert!(
            problem["errors"]["visitor.email"].is_array(),
            "{email:?}: {problem}"
        );
        assert_eq!(
            problem["errors"].as_object().unwrap().len(),
            1,
            "only the address is at fault: {problem}"
        );
    }
    assert!(app.meetings("").await["meetings"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(all_jobs(&app).await.is_empty());
    app.advance(Duration::minutes(5));
    assert_eq!(app.run_jobs().await, 0);
    assert!(app.emails().is_empty());
    // The key of a refused request is free again: the caller may fix the address and retry with it.
    let fixed = booking_body("solo", "2026-11-23T10:00:00Z", "vera@example.org");
    let r = app.book_with_key("bad-0", &fixed).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn agent_addresses_no_mail_can_reach_are_refused_on_create_and_patch() {
    let app = spawn_app().await;
    app.create_team("sales", json!({})).await;
    for email in undeliverable() {
        let r = app
            .post(
                "/admin/api/agents",
                ADMIN,
                &json!({
                    "name": "Mallory",
                    "email": email,
                    "timezone": "Europe/Amsterdam",
                    "weekly_hours": weekdays("09:00", "17:00"),
                    "teams": ["sales"],
                }),
            )
            .await;
        let problem = expect_problem(r, 422, "validation").await;
        assert!(
            problem["errors"]["email"].is_array(),
            "{email:?}: {problem}"
        );
    }
    let agents: Value = app.get_json("/admin/api/agents", ADMIN).await;
    assert!(
        !agents.to_string().contains("Mallory"),
        "no agent stored: {agents}"
    );

    let ann = app
        .create_agent("Ann Smith", "Europe/Amsterdam", &["sales"])
        .await;
    let path = format!("/admin/api/agents/{}", ann["id"].as_str().unwrap());
    for email in undeliverable() {
        let r = app
            .patch(&path, ADMIN, &json!({"email": email, "name": "Renamed"}))
            .await;
        let problem = expect_problem(r, 422, "validation").await;
        assert!(
            problem["errors"]["email"].is_array(),
            "{email:?}: {problem}"
        );
    }
    let now: Value = app.get_json(&path, ADMIN).await;
    assert_eq!(now["email"], "ann.smith@agents.test");
    assert_eq!(
        now["name"], "Ann Smith",
        "nothing of a refused patch is kept"
    );
    // A good address is taken, its domain lowercased.
    let r = app
        .patch(
            &path,
            ADMIN,
            &json!({"email": "Ann.Smith+sales@Agents.TEST"}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        r.json::<Value>().await.unwrap()["email"],
        "Ann.Smith+sales@agents.test"
    );
}

#[tokio::test]
async fn an_accepted_address_books_and_its_invitation_is_sent() {
    let app = spawn_app().await;
    solo(&app).await;
    let email = "Vera.O'Brien+chat@Example.ORG";
    let mut body = booking_body("solo", "2026-11-23T10:00:00Z", email);
    // A display name the To header cannot carry as typed: the address alone must still do.
    body["visitor"]["name"] = json!("O'Brien, Vera <\"VP\">");
    let r = app.book_with_key("good", &body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let report = app.meetings("").await;
    assert_eq!(
        report["meetings"][0]["lead_email"],
        "Vera.O'Brien+chat@example.org"
    );
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    let emails = app.emails();
    assert_eq!(emails.len(), 1, "the invitation went out");
    let m = MessageParser::default()
        .parse(emails[0].as_bytes())
        .expect("a MIME message");
    let to = m
        .to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap()
        .to_owned();
    assert_eq!(to, "Vera.O'Brien+chat@example.org");
    assert!(app.jobs("dead").await.is_empty());
    assert_eq!(app.jobs_of("email.send", "done").await.len(), 1);
}
