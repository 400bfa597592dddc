//! The visitor's invitation, update and cancellation emails: in their language and zone, with an ICS a
//! calendar app imports, delivered once even when the SMTP server was down for a while.

use chrono::Duration;
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{json, Value};

use crate::support::smtp::{Security, SmtpServer};
use crate::support::*;

struct Email {
    subject: String,
    message_id: String,
    to: String,
    text: String,
    html: String,
    calendar_type: String,
    ics: String,
}

fn parse(raw: &str) -> Email {
    let m = MessageParser::default()
        .parse(raw.as_bytes())
        .expect("a MIME message");
    let calendar = m
        .parts
        .iter()
        .find(|p| {
            p.content_type()
                .map(|c| c.ctype() == "text" && c.subtype() == Some("calendar"))
                .unwrap_or(false)
        })
        .expect("a text/calendar part");
    let ct = calendar.content_type().unwrap();
    Email {
        subject: m.subject().unwrap_or_default().to_owned(),
        message_id: m.message_id().unwrap_or_default().to_owned(),
        to: m
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned(),
        text: m.body_text(0).unwrap_or_default().into_owned(),
        html: m.body_html(0).unwrap_or_default().into_owned(),
        calendar_type: format!(
            "{}/{}; method={}",
            ct.ctype(),
            ct.subtype().unwrap_or(""),
            ct.attribute("method").unwrap_or("")
        ),
        ics: calendar.text_contents().expect("calendar text").to_owned(),
    }
}

/// The VEVENT's properties, as a calendar application's parser reads them.
fn event_props(ics: &str) -> Vec<(String, String)> {
    let mut reader = ical::IcalParser::new(std::io::BufReader::new(ics.as_bytes()));
    let cal = reader
        .next()
        .expect("one calendar")
        .expect("a valid calendar");
    let event = cal.events.first().expect("one event");
    event
        .properties
        .iter()
        .map(|p| (p.name.clone(), p.value.clone().unwrap_or_default()))
        .collect()
}

fn prop<'a>(props: &'a [(String, String)], name: &str) -> &'a str {
    &props
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .1
}

async fn solo(app: &TestApp) {
    app.create_team("solo", json!({})).await;
    app.create_agent("Ann Smith", "Europe/Amsterdam", &["solo"])
        .await;
}

#[tokio::test]
async fn an_invitation_lands_in_the_mail_dir_with_an_importable_ics() {
    let app = spawn_app().await;
    solo(&app).await;
    let mut body = booking_body("solo", "2026-11-23T10:00:00Z", "vera@example.com");
    body["visitor"]["timezone"] = json!("America/New_York");
    let r = app.book_with_key("k1", &body).await;
    let b: Value = r.json().await.unwrap();
    let id = b["id"].as_str().unwrap().replace('-', "");
    assert!(app.emails().is_empty(), "sent by the worker, not inline");
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    let emails = app.emails();
    assert_eq!(emails.len(), 1);
    let e = parse(&emails[0]);
    assert_eq!(e.to, "vera@example.com");
    assert_eq!(
        e.subject,
        "your meeting with Ann Smith on Monday 23 November 2026"
    );
    assert_eq!(e.message_id, format!("{id}.1@rondo"));
    assert!(e.text.contains("Hello Vera Visitor"), "{}", e.text);
    // 10:00 UTC in the visitor's zone.
    assert!(
        e.text
            .contains("Monday 23 November 2026, 05:00 - 05:30 (America/New_York)"),
        "{}",
        e.text
    );
    assert!(
        e.text.contains(&format!("Join: https://video.test/{id}")),
        "{}",
        e.text
    );
    assert!(e.html.contains("<strong>Ann Smith</strong>"));
    assert_eq!(e.calendar_type, "text/calendar; method=REQUEST");
    let props = event_props(&e.ics);
    assert_eq!(prop(&props, "UID"), format!("{id}@rondo"));
    assert_eq!(prop(&props, "SEQUENCE"), "0");
    assert_eq!(prop(&props, "DTSTART"), "20261123T100000Z");
    assert_eq!(prop(&props, "DTEND"), "20261123T103000Z");
    assert_eq!(prop(&props, "STATUS"), "CONFIRMED");
    assert_eq!(prop(&props, "LOCATION"), format!("https://video.test/{id}"));
    assert!(prop(&props, "ATTENDEE").ends_with("vera@example.com"));

    // Moving it sends an update (same UID, next SEQUENCE); cancelling sends METHOD:CANCEL.
    let bid = b["id"].as_str().unwrap();
    app.reschedule(bid, "2026-11-23T11:00:00Z").await;
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    app.post(&format!("/v1/bookings/{bid}/cancel"), CHAT, &json!({}))
        .await;
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    let emails: Vec<Email> = app.emails().iter().map(|r| parse(r)).collect();
    assert_eq!(emails.len(), 3);
    let update = emails
        .iter()
        .find(|e| e.subject.starts_with("Moved:"))
        .expect("an update");
    let props = event_props(&update.ics);
    assert_eq!(prop(&props, "UID"), format!("{id}@rondo"));
    assert_eq!(prop(&props, "SEQUENCE"), "1");
    assert_eq!(prop(&props, "DTSTART"), "20261123T110000Z");
    let cancel = emails
        .iter()
        .find(|e| e.subject.starts_with("Cancelled:"))
        .expect("a cancellation");
    assert_eq!(cancel.calendar_type, "text/calendar; method=CANCEL");
    let props = event_props(&cancel.ics);
    assert_eq!(prop(&props, "UID"), format!("{id}@rondo"));
    assert_eq!(prop(&props, "SEQUENCE"), "2");
    assert_eq!(prop(&props, "STATUS"), "CANCELLED");
}

#[tokio::test]
async fn a_dutch_visitor_gets_a_dutch_email() {
    let app = spawn_app().await;
    solo(&app).await;
    let mut body = booking_body("solo", "2026-11-24T09:00:00Z", "jan@example.nl");
    body["visitor"]["locale"] = json!("nl-NL");
    body["visitor"]["name"] = json!("Jan");
    assert_eq!(app.book_with_key("nl", &body).await.status(), 201);
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    let e = parse(&app.emails()[0]);
    assert_eq!(
        e.subject,
        "uw afspraak met Ann Smith op dinsdag 24 november 2026"
    );
    assert!(e.text.contains("Beste Jan"), "{}", e.text);
    assert!(
        e.text
            .contains("dinsdag 24 november 2026, 10:00 - 10:30 (Europe/Amsterdam)"),
        "{}",
        e.text
    );
    let mut bad = booking_body("solo", "2026-11-24T10:00:00Z", "x@example.nl");
    bad["visitor"]["locale"] = json!("nl NL!");
    let p = expect_problem(app.book_with_key("bad", &bad).await, 422, "validation").await;
    assert!(p["errors"]["visitor.locale"].is_array());
}

#[tokio::test]
async fn with_smtp_down_for_a_while_the_invitation_arrives_once() {
    let smtp = SmtpServer::start().await;
    smtp.set_down(true);
    let app = spawn_app_with(Options {
        smtp_url: Some(smtp.url.clone()),
        ..Default::default()
    })
    .await;
    solo(&app).await;
    app.book_ok("solo", "2026-11-23T10:00:00Z", "vera@example.com")
        .await;
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    assert!(smtp.messages().is_empty());
    let failing = app.jobs_of("email.send", "pending").await;
    assert_eq!(failing.len(), 1);
    assert!(
        failing[0]["last_error"].as_str().unwrap().contains("SMTP"),
        "{}",
        failing[0]
    );
    // Still down at the first retry (5 s), up before the second (5 min).
    app.advance(Duration::seconds(7));
    app.run_jobs().await;
    assert!(smtp.messages().is_empty());
    smtp.set_down(false);
    app.advance(Duration::minutes(7));
    app.run_jobs().await;
    app.advance(Duration::hours(12));
    app.run_jobs().await;
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1);
    let e = parse(&messages[0]);
    assert_eq!(e.to, "vera@example.com");
    assert_eq!(prop(&event_props(&e.ics), "DTSTART"), "20261123T100000Z");
    assert_eq!(app.jobs_of("email.send", "done").await.len(), 1);
    assert!(
        app.emails().is_empty(),
        "nothing filed when SMTP is configured"
    );
}

#[tokio::test]
async fn invitations_go_over_implicit_tls_and_starttls_with_auth_and_never_in_clear() {
    for security in [Security::Implicit, Security::StartTls] {
        let smtp = SmtpServer::start_with(security, Some(("rondo", "s3cret pass"))).await;
        let ca = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca.path(), smtp.ca_pem.as_ref().unwrap()).unwrap();
        let app = spawn_app_with(Options {
            smtp_url: Some(smtp.url.replace("s3cret pass", "s3cret%20pass")),
            smtp_ca_file: Some(ca.path().display().to_string()),
            ..Default::default()
        })
        .await;
        solo(&app).await;
        app.book_ok("solo", "2026-11-23T10:00:00Z", "vera@example.com")
            .await;
        app.advance(Duration::seconds(11));
        app.run_jobs().await;
        let got = smtp.received();
        assert_eq!(
            got.len(),
            1,
            "{security:?}: {:?}",
            app.jobs("pending").await
        );
        assert!(got[0].over_tls, "{security:?}");
        assert_eq!(got[0].user.as_deref(), Some("rondo"));
        assert_eq!(parse(&got[0].raw).to, "vera@example.com");
    }
    // A server rondo cannot verify (its certificate is not trusted) gets nothing, not even in clear.
    let smtp = SmtpServer::start_with(Security::StartTls, None).await;
    let app = spawn_app_with(Options {
        smtp_url: Some(smtp.url.clone()),
        ..Default::default()
    })
    .await;
    solo(&app).await;
    app.book_ok("solo", "2026-11-23T10:00:00Z", "vera@example.com")
        .await;
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    assert!(smtp.received().is_empty());
    let pending = app.jobs_of("email.send", "pending").await;
    assert_eq!(pending.len(), 1, "kept for a retry");
}

#[tokio::test]
async fn an_agent_writes_their_own_invitation_checked_and_previewed() {
    let app = spawn_app().await;
    solo(&app).await;
    let agents: Value = app.get_json("/admin/api/agents", ADMIN).await;
    let path = format!(
        "/admin/api/agents/{}/invitation",
        agents[0]["id"].as_str().unwrap()
    );
    let got: Value = app.get_json(&path, ADMIN).await;
    assert_eq!(got["is_default"], true);
    assert!(got["variables"]
        .as_array()
        .unwrap()
        .contains(&json!("video_link")));

    let broken = json!({"subject": "Hi {{ visitor_name", "body": "ok"});
    let p = expect_problem(app.put(&path, ADMIN, &broken).await, 422, "validation").await;
    assert!(
        p["errors"]["subject"][0]
            .as_str()
            .unwrap()
            .starts_with("line 1:"),
        "{p}"
    );
    let unknown = json!({"subject": "Hi", "body": "Dear {{ visitor_name }},\n\nSee you.\n{{ favourite_colour }}"});
    let p = expect_problem(app.put(&path, ADMIN, &unknown).await, 422, "validation").await;
    let msg = p["errors"]["body"][0].as_str().unwrap();
    assert!(
        msg.starts_with("line 4: unknown variable `favourite_colour`"),
        "{msg}"
    );
    // Templates that would loop for ever or fail for every email are refused on save too.
    for (body, want) in [
        (
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            "line 1:",
        ),
        ("Hi {{ visitor_name.x }}", "line 1:"),
    ] {
        let p = expect_problem(
            app.put(&path, ADMIN, &json!({"subject": "Hi", "body": body}))
                .await,
            422,
            "validation",
        )
        .await;
        assert!(
            p["errors"]["body"][0].as_str().unwrap().starts_with(want),
            "{p}"
        );
    }
    assert_eq!(app.get_json(&path, ADMIN).await["is_default"], true);

    let mine = json!({
        "subject": "{{ agent_name }} <> {{ visitor_name }}: {{ date }}",
        "body": "Hi {{ visitor_name }},\nsee you at {{ time }} ({{ timezone }}).{% if video_link %}\nLink: {{ video_link }}{% endif %}\n- {{ agent_name }}",
    });
    let r = app.put(&path, ADMIN, &mine).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["is_default"], false);
    let preview: Value = app
        .post(&format!("{path}/preview"), ADMIN, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        preview["subject"],
        "Ann Agent <> Vera Visitor: Monday 23 November 2026"
    );
    assert!(preview["text"]
        .as_str()
        .unwrap()
        .contains("see you at 10:00 (Europe/Amsterdam)."));
    assert!(
        preview["html"]
            .as_str()
            .unwrap()
            .contains("Hi Vera Visitor,<br>"),
        "{preview}"
    );

    let b = app
        .book_ok("solo", "2026-11-23T10:00:00Z", "vera@example.com")
        .await;
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    let e = parse(&app.emails()[0]);
    assert_eq!(
        e.subject,
        "Ann Smith <> Vera Visitor: Monday 23 November 2026"
    );
    let id = b["id"].as_str().unwrap().replace('-', "");
    assert!(
        e.text.contains(&format!("Link: https://video.test/{id}")),
        "{}",
        e.text
    );
    assert!(
        e.text.contains("see you at 11:00 (Europe/Amsterdam)"),
        "{}",
        e.text
    );

    // Both null: back to the defaults.
    let r = app
        .put(&path, ADMIN, &json!({"subject": null, "body": null}))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["is_default"], true);
}

#[tokio::test]
async fn a_meeting_moved_before_its_invitation_went_out_still_gets_one() {
    let app = spawn_app().await;
    solo(&app).await;
    let b = app
        .book_ok("solo", "2026-11-23T10:00:00Z", "vera@example.com")
        .await;
    let id = b["id"].as_str().unwrap();
    app.reschedule(id, "2026-11-23T12:00:00Z").await;
    app.advance(Duration::seconds(11));
    app.run_jobs().await;
    let emails: Vec<Email> = app.emails().iter().map(|r| parse(r)).collect();
    assert_eq!(emails.len(), 2);
    let invitation = emails
        .iter()
        .find(|e| e.subject.starts_with("your meeting"))
        .expect("an invitation");
    assert_eq!(
        prop(&event_props(&invitation.ics), "DTSTART"),
        "20261123T120000Z",
        "it shows the current time"
    );
    assert!(emails.iter().any(|e| e.subject.starts_with("Moved:")));
}
