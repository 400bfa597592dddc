//! An agent's invitation text: read it (the defaults when the agent has none), replace it (checked: it must
//! parse and use only the documented variables; the error names the line), and preview it with sample data.

use actix_web::{get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::App;
use crate::domain::model::Invitation;
use crate::error::{AppError, AppResult, Problems};
use crate::http::auth::Admin;
use crate::http::chat::parse_id;
use crate::http::extract::{ApiJson, OptionalJson};
use crate::mail::render::{
    check_template, language, render_parts, sample_context, MailKind, Rendered, VARIABLES,
};

const DEFAULT_SUBJECT: &str = include_str!("../../../templates/email/en/subject.j2");
const DEFAULT_BODY: &str = include_str!("../../../templates/email/en/body.txt.j2");

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InvitationView {
    pub subject: String,
    pub body: String,
    /// True while the agent uses the bundled templates (English and Dutch by the visitor's locale).
    pub is_default: bool,
    /// What the templates may use.
    pub variables: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationInput {
    /// minijinja template of the subject; with `body` null too, back to the defaults.
    pub subject: Option<String>,
    /// minijinja template of the plain-text body (the HTML part is this text, escaped).
    pub body: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    /// A draft subject to preview instead of the saved one.
    pub subject: Option<String>,
    pub body: Option<String>,
    /// `invitation` (default), `update` or `cancellation`.
    pub kind: Option<String>,
    /// The visitor's locale for the bundled templates (`en` default, `nl`).
    pub locale: Option<String>,
}

fn view(own: Option<&Invitation>) -> InvitationView {
    InvitationView {
        subject: own
            .map(|i| i.subject.clone())
            .unwrap_or_else(|| DEFAULT_SUBJECT.trim().to_owned()),
        body: own
            .map(|i| i.body.clone())
            .unwrap_or_else(|| DEFAULT_BODY.to_owned()),
        is_default: own.is_none(),
        variables: VARIABLES.iter().map(|v| v.to_string()).collect(),
    }
}

async fn agent_id(app: &App, raw: &str) -> AppResult<(Uuid, Option<Invitation>)> {
    let agent = app
        .store
        .agent(parse_id(raw, "agent")?)
        .await?
        .ok_or(AppError::NotFound("agent"))?;
    Ok((agent.id, agent.invitation))
}

#[utoipa::path(
    tag = "admin",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = InvitationView), (status = 404, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[get("/admin/api/agents/{id}/invitation")]
pub async fn get_invitation(
    app: web::Data<App>,
    _a: Admin,
    id: web::Path<String>,
) -> AppResult<web::Json<InvitationView>> {
    let (_, own) = agent_id(&app, &id).await?;
    Ok(web::Json(view(own.as_ref())))
}

pub(crate) fn checked(
    app: &App,
    subject: Option<&str>,
    body: Option<&str>,
    p: &mut Problems,
) -> Option<Option<Invitation>> {
    let env = &app.mailer.templates;
    match (subject, body) {
        (None, None) => Some(None),
        (Some(s), Some(b)) => {
            let mut ok = true;
            for (field, source, max) in [("subject", s, 500), ("body", b, 20_000)] {
                if source.trim().is_empty() || source.chars().count() > max {
                    p.add(field, format!("must be 1 to {max} characters"));
                    ok = false;
                } else if let Err(e) = check_template(env, source, field == "body") {
                    p.add(field, e);
                    ok = false;
                }
            }
            ok.then(|| {
                Some(Invitation {
                    subject: s.to_owned(),
                    body: b.to_owned(),
                })
            })
        }
        (None, Some(_)) => {
            p.add(
                "subject",
                "give both subject and body (or neither, for the defaults)",
            );
            None
        }
        (Some(_), None) => {
            p.add(
                "body",
                "give both subject and body (or neither, for the defaults)",
            );
            None
        }
    }
}

#[utoipa::path(
    tag = "admin",
    params(("id" = Uuid, Path)),
    request_body = InvitationInput,
    responses((status = 200, body = InvitationView), (status = 404, content_type = "application/problem+json"), (status = 422, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[put("/admin/api/agents/{id}/invitation")]
pub async fn put_invitation(
    app: web::Data<App>,
    _a: Admin,
    id: web::Path<String>,
    body: ApiJson<InvitationInput>,
) -> AppResult<web::Json<InvitationView>> {
    let (agent, _) = agent_id(&app, &id).await?;
    let mut p = Problems::default();
    let new = checked(
        &app,
        body.value.subject.as_deref(),
        body.value.body.as_deref(),
        &mut p,
    );
    p.into_result()?;
    let new = new.flatten();
    app.store.set_invitation(agent, new.as_ref()).await?;
    Ok(web::Json(view(new.as_ref())))
}

/// The email as a visitor would get it, with sample data: the saved text, or a draft given in the body.
#[utoipa::path(
    tag = "admin",
    params(("id" = Uuid, Path)),
    request_body = PreviewInput,
    responses((status = 200, body = Rendered), (status = 404, content_type = "application/problem+json"), (status = 422, content_type = "application/problem+json")),
    security(("admin_token" = []))
)]
#[post("/admin/api/agents/{id}/invitation/preview")]
pub async fn preview_invitation(
    app: web::Data<App>,
    _a: Admin,
    id: web::Path<String>,
    body: OptionalJson<PreviewInput>,
) -> AppResult<web::Json<Rendered>> {
    let (_, saved) = agent_id(&app, &id).await?;
    let input = body.0;
    let mut p = Problems::default();
    let kind = match input.kind.as_deref() {
        None => Some(MailKind::Invitation),
        Some(k) => p.check(
            "kind",
            MailKind::parse(k).ok_or("must be `invitation`, `update` or `cancellation`"),
        ),
    };
    let draft = if input.subject.is_some() || input.body.is_some() {
        checked(
            &app,
            input.subject.as_deref(),
            input.body.as_deref(),
            &mut p,
        )
        .flatten()
    } else {
        saved
    };
    p.into_result()?;
    let lang = language(input.locale.as_deref());
    let ctx = sample_context(kind.unwrap_or(MailKind::Invitation), lang);
    let rendered = render_parts(&app.mailer.templates, draft.as_ref(), lang, &ctx)
        .map_err(|e| AppError::field("body", e.to_string()))?;
    Ok(web::Json(rendered))
}
