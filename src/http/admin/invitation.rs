//! An agent's invitation text: read it (the defaults when the agent has none), replace it (checked: it must
//! parse and use only the documented variables; the error names the line), and preview it with sample data.

use actix_web::{get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::App;
use crate::domain::model::Invitation;
use crate::error::{AppError, AppResult, Problems};
use crate::http::auth::Admin;
use crate::http::chat::parse_id;
use crate::http::extract::{ApiJson, OptionalJson};
use crate::mail::render::{
    check_invitation, language, render_parts, sample_context, MailKind, Rendered, VARIABLES,
};
use crate::usecase::admin::{update_invitation, UpdateInvitationError};

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

pub(crate) fn view(own: Option<&Invitation>) -> InvitationView {
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

/// The agent's own invitation text (None: it uses the defaults).
async fn saved_invitation(app: &App, raw: &str) -> AppResult<Option<Invitation>> {
    let agent = app
        .store
        .agent(parse_id(raw, "agent")?)
        .await?
        .ok_or(AppError::NotFound("agent"))?;
    Ok(agent.invitation)
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
    let own = saved_invitation(&app, &id).await?;
    Ok(web::Json(view(own.as_ref())))
}

impl From<UpdateInvitationError> for AppError {
    fn from(e: UpdateInvitationError) -> Self {
        match e {
            UpdateInvitationError::NotFound => AppError::NotFound("agent"),
            UpdateInvitationError::Invalid(errors) => errors.into(),
            UpdateInvitationError::Store(e) => e.into(),
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
    let saved = update_invitation(
        &app,
        parse_id(&id, "agent")?,
        body.value.subject.as_deref(),
        body.value.body.as_deref(),
    )
    .await?;
    Ok(web::Json(view(saved.as_ref())))
}

/// The email as a visitor would get it, with sample data: the saved text, or a draft given in the body.
#[utoipa::path(
    tag = "admin",
    params(("id" = Uuid, Path)),
    request_body = Option<PreviewInput>,
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
    let saved = saved_invitation(&app, &id).await?;
    Ok(web::Json(render_preview(&app, saved, body.0)?))
}

/// The email as a visitor would get it, with sample data: the draft in `input` when it gives a subject or a
/// body (checked as saving checks it), else `saved` (None: the bundled templates). Also the admin console's
/// live preview.
pub(crate) fn render_preview(
    app: &App,
    saved: Option<Invitation>,
    input: PreviewInput,
) -> AppResult<Rendered> {
    let mut p = Problems::default();
    let kind = match input.kind.as_deref() {
        None => Some(MailKind::Invitation),
        Some(k) => p.check(
            "kind",
            MailKind::parse(k).ok_or("must be `invitation`, `update` or `cancellation`"),
        ),
    };
    let draft = if input.subject.is_some() || input.body.is_some() {
        match check_invitation(
            &app.templates,
            input.subject.as_deref(),
            input.body.as_deref(),
        ) {
            Ok(draft) => draft,
            Err(errors) => {
                for (field, message) in errors {
                    p.add(field.to_string(), message);
                }
                None
            }
        }
    } else {
        saved
    };
    p.into_result()?;
    let lang = language(input.locale.as_deref());
    let ctx = sample_context(kind.unwrap_or(MailKind::Invitation), lang);
    render_parts(&app.templates, draft.as_ref(), lang, &ctx)
        .map_err(|e| AppError::field("body", e.to_string()))
}
