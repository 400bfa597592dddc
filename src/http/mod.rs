//! The HTTP edge (actix-web): handlers grouped by who calls them, the bearer-token extractors, the problem
//! format, request ids, and the OpenAPI document generated from the handlers' own types.

pub mod admin;
pub mod auth;
pub mod chat;
pub mod connect;
pub mod console;
pub mod extract;
pub mod ops;
pub mod problem;
pub mod request_id;
pub mod views;
pub mod visitor;

use actix_web::middleware::DefaultHeaders;
use actix_web::web;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::AppError;
use problem::{CommonProblems, Problem};
use views::SlotView;

struct BearerSchemes;

impl Modify for BearerSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ["chat_token", "admin_token"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "rondo", description = "Books sales meetings for website visitors: free slots, round robin, bookings."),
    paths(
        chat::availability, chat::create_booking, chat::read_booking, chat::cancel, chat::reschedule,
        admin::agents::create_agent, admin::agents::list_agents, admin::agents::get_agent,
        admin::agents::patch_agent, admin::agents::delete_agent, admin::agents::new_connect_link,
        admin::teams::create_team, admin::teams::list_teams, admin::teams::get_team, admin::teams::patch_team,
        admin::teams::get_queue, admin::teams::put_queue,
        admin::routing::get_accounts, admin::routing::put_accounts, admin::routing::get_rules, admin::routing::put_rules,
        admin::meetings::list_meetings, admin::meetings::meetings_csv, admin::meetings::patch_meeting,
        admin::jobs::list_jobs, admin::jobs::retry_job,
        admin::invitation::get_invitation, admin::invitation::put_invitation, admin::invitation::preview_invitation,
        admin::webhooks::create_endpoint, admin::webhooks::list_endpoints, admin::webhooks::delete_endpoint,
        admin::webhooks::list_deliveries,
        ops::activities, ops::healthz, ops::readyz, ops::metrics,
    ),
    components(schemas(SlotView, Problem)),
    modifiers(&BearerSchemes, &CommonProblems)
)]
pub struct ApiDoc;

/// Every route of the service.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(chat::availability)
        .service(chat::create_booking)
        .service(chat::read_booking)
        .service(chat::cancel)
        .service(chat::reschedule)
        .service(admin::agents::create_agent)
        .service(admin::agents::list_agents)
        .service(admin::agents::get_agent)
        .service(admin::agents::patch_agent)
        .service(admin::agents::delete_agent)
        .service(admin::agents::new_connect_link)
        .service(admin::teams::create_team)
        .service(admin::teams::list_teams)
        .service(admin::teams::get_team)
        .service(admin::teams::patch_team)
        .service(admin::teams::get_queue)
        .service(admin::teams::put_queue)
        .service(
            web::resource("/admin/api/teams/{team}/accounts")
                .route(web::get().to(admin::routing::get_accounts))
                .route(web::put().to(admin::routing::put_accounts))
                .default_service(web::to(not_found)),
        )
        .service(
            web::resource("/admin/api/teams/{team}/rules")
                .route(web::get().to(admin::routing::get_rules))
                .route(web::put().to(admin::routing::put_rules))
                .default_service(web::to(not_found)),
        )
        .service(admin::meetings::meetings_csv)
        .service(admin::meetings::list_meetings)
        .service(admin::meetings::patch_meeting)
        .service(admin::webhooks::create_endpoint)
        .service(admin::webhooks::list_endpoints)
        .service(admin::webhooks::delete_endpoint)
        .service(admin::webhooks::list_deliveries)
        .service(admin::invitation::get_invitation)
        .service(admin::invitation::put_invitation)
        .service(admin::invitation::preview_invitation)
        .service(admin::jobs::list_jobs)
        .service(admin::jobs::retry_job)
        .service(ops::activities)
        .service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics)
        .service(ops::openapi_json)
        .service(
            web::scope("/connect")
                .wrap(secret_link_headers())
                .service(connect::connect_page)
                .service(connect::save_settings),
        )
        .service(
            web::scope("/oauth")
                .wrap(secret_link_headers())
                .service(connect::oauth_start)
                .service(connect::oauth_callback),
        )
        .service(
            web::scope("/m")
                .wrap(secret_link_headers())
                .service(visitor::manage)
                .service(visitor::manage_action)
                .service(visitor::cancel)
                .service(visitor::reschedule),
        )
        .configure(console::routes)
        .default_service(web::to(not_found));
}

/// Headers on every answer of the pages reached through a secret link (the visitor's `/m/…`, the agent's
/// `/connect/…` and its OAuth round trip), API.md "Limits on what callers send": the secret in the address
/// must not leave in the `Referer` of a link followed from the page (the video link, a provider's page),
/// stay in a shared or browser cache, or be framed by another site that clickjacks the cancel or connect
/// buttons (`X-Frame-Options` for older browsers, CSP `frame-ancestors` for the rest). A handler that sets
/// one of them itself keeps its own value.
pub fn secret_link_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("referrer-policy", "no-referrer"))
        .add(("cache-control", "no-store"))
        .add(("x-frame-options", "DENY"))
        .add(("content-security-policy", "frame-ancestors 'none'"))
}

/// What no route took: 405 with `Allow` when the API document has the path with other methods (RFC 9110
/// 15.5.6), else 404.
async fn not_found(
    req: actix_web::HttpRequest,
    doc: web::Data<utoipa::openapi::OpenApi>,
) -> Result<actix_web::HttpResponse, AppError> {
    let allow = allowed_methods(&doc, req.path());
    if allow.is_empty() {
        Err(AppError::NotFound("route"))
    } else {
        Err(AppError::MethodNotAllowed { allow })
    }
}

/// The methods the document lists for the path template matching `path` (`{id}` matches one segment).
fn allowed_methods(doc: &utoipa::openapi::OpenApi, path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    let matches = |template: &str| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s)
    };
    let mut allow = Vec::new();
    for (template, item) in doc.paths.paths.iter() {
        if !matches(template) {
            continue;
        }
        let methods = [
            (&item.get, "GET"),
            (&item.put, "PUT"),
            (&item.post, "POST"),
            (&item.delete, "DELETE"),
            (&item.patch, "PATCH"),
        ];
        for (op, name) in methods {
            if op.is_some() && !allow.contains(&name) {
                allow.push(name);
            }
        }
    }
    allow
}
