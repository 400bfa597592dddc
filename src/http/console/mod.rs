//! The admin console: server-rendered pages for the people who run rondo (issue 15). An admin signs in with
//! an admin token; the browser then holds a session cookie (HttpOnly, SameSite=Lax, Secure over https) whose
//! hash the store keeps with the session's CSRF token, which every form carries. Pages call the same use
//! cases as the admin API; times are shown in the admin's zone.
//!
//! Pages by area: `session` (sign-in, sign-out, zone), `meetings` (the report, a person's page),
//! `routing` (a team's queue and fairness),
//! `webhooks` (endpoints, their deliveries, the secret shown once), `jobs` (failed jobs, retry),
//! `agents` (the list, adding one with its connect link, an agent's settings and invitation text), `teams`
//! (the list, creating one, a team's settings).

mod agents;
mod jobs;
mod meetings;
mod routing;
mod session;
mod teams;
mod webhooks;

use std::fmt::Display;
use std::sync::OnceLock;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::Environment;
use serde::Deserialize;

pub use session::Console;

/// The console's templates, by name (`layout.html` is extended by every page).
const TEMPLATES: &[(&str, &str)] = &[
    (
        "layout.html",
        include_str!("../../../templates/pages/console/layout.html.j2"),
    ),
    (
        "signin.html",
        include_str!("../../../templates/pages/console/signin.html.j2"),
    ),
    (
        "meetings.html",
        include_str!("../../../templates/pages/console/meetings.html.j2"),
    ),
    (
        "person.html",
        include_str!("../../../templates/pages/console/person.html.j2"),
    ),
    (
        "routing.html",
        include_str!("../../../templates/pages/console/routing.html.j2"),
    ),
    (
        "agents.html",
        include_str!("../../../templates/pages/console/agents.html.j2"),
    ),
    (
        "agents-new.html",
        include_str!("../../../templates/pages/console/agents-new.html.j2"),
    ),
    (
        "agents-edit.html",
        include_str!("../../../templates/pages/console/agents-edit.html.j2"),
    ),
    (
        "agents-link.html",
        include_str!("../../../templates/pages/console/agents-link.html.j2"),
    ),
    (
        "agents-fields.html",
        include_str!("../../../templates/pages/console/agents-fields.html.j2"),
    ),
    (
        "agents-macros.html",
        include_str!("../../../templates/pages/console/agents-macros.html.j2"),
    ),
    (
        "agents-style.html",
        include_str!("../../../templates/pages/console/agents-style.html.j2"),
    ),
    (
        "teams.html",
        include_str!("../../../templates/pages/console/teams.html.j2"),
    ),
    (
        "teams-edit.html",
        include_str!("../../../templates/pages/console/teams-edit.html.j2"),
    ),
    (
        "teams-fields.html",
        include_str!("../../../templates/pages/console/teams-fields.html.j2"),
    ),
    (
        "message.html",
        include_str!("../../../templates/pages/console/message.html.j2"),
    ),
    (
        "webhooks.html",
        include_str!("../../../templates/pages/console/webhooks.html.j2"),
    ),
    (
        "webhooks_deliveries.html",
        include_str!("../../../templates/pages/console/webhooks_deliveries.html.j2"),
    ),
    (
        "webhooks_created.html",
        include_str!("../../../templates/pages/console/webhooks_created.html.j2"),
    ),
    (
        "webhooks_one.html",
        include_str!("../../../templates/pages/console/webhooks_one.html.j2"),
    ),
    (
        "webhooks_remove.html",
        include_str!("../../../templates/pages/console/webhooks_remove.html.j2"),
    ),
    (
        "jobs.html",
        include_str!("../../../templates/pages/console/jobs.html.j2"),
    ),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("console template {name}: {e}"));
        }
        env
    })
}

/// Renders a console page. Every page is private: never cached, never framed.
pub fn page(name: &str, ctx: minijinja::Value, status: StatusCode) -> HttpResponse {
    let body = env()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, template = name, "console page did not render");
            "Something went wrong.".into()
        });
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header(("x-frame-options", "DENY"))
        .insert_header(("content-security-policy", "frame-ancestors 'none'"))
        .insert_header(("referrer-policy", "same-origin"))
        .body(body)
}

/// A 303 to `to` (after a form, or to the sign-in page).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", to))
        .insert_header(("cache-control", "no-store"))
        .finish()
}

/// An instant as the admin reads it: `Mon 23 Nov 2026, 10:00` in `zone`.
pub fn local_time(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone)
        .format("%a %-d %b %Y, %H:%M")
        .to_string()
}

/// A short message page (what went wrong, what to do next).
pub fn message(c: &Console, title: &str, text: &str, status: StatusCode) -> HttpResponse {
    page(
        "message.html",
        minijinja::context! { console => c.view(), title, text },
        status,
    )
}

/// A failure the admin cannot fix: logged (`what` was being done, and the error) and answered with a 500
/// page that says `text`.
pub fn failed(c: &Console, title: &str, text: &str, what: &str, e: impl Display) -> HttpResponse {
    tracing::error!(error = %e, "{what}");
    message(c, title, text, StatusCode::INTERNAL_SERVER_ERROR)
}

/// `failed` with the usual words: "Something went wrong. Try again."
pub fn trouble(c: &Console, title: &str, what: &str, e: impl Display) -> HttpResponse {
    failed(c, title, "Something went wrong. Try again.", what, e)
}

/// A form that carries nothing but the session's CSRF token (a button).
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `?saved=…` on a page a form returns to: what that form saved, to say so.
#[derive(Debug, Deserialize)]
pub struct SavedQuery {
    #[serde(default)]
    saved: String,
}

/// Every console route. `/admin` itself shows the meetings.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(session::sign_in_page)
        .service(session::sign_in)
        .service(session::sign_out)
        .service(session::set_zone)
        .service(meetings::home)
        .service(meetings::list)
        .service(meetings::csv)
        .service(meetings::took_place)
        .service(meetings::person)
        .service(routing::show)
        .service(routing::move_agent)
        .service(routing::pause_agent)
        .service(webhooks::list)
        .service(webhooks::add)
        .service(webhooks::confirm_remove)
        .service(webhooks::remove)
        .service(webhooks::one)
        .service(jobs::list)
        .service(jobs::retry_job)
        .service(agents::list)
        .service(agents::new_form)
        .service(agents::create)
        .service(agents::edit)
        .service(agents::save)
        .service(agents::new_link)
        .service(agents::save_invitation)
        .service(agents::preview)
        .service(teams::list)
        .service(teams::create)
        .service(teams::edit)
        .service(teams::save);
}
