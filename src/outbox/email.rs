//! The email job: sends the visitor the invitation, update or cancellation for one version of a meeting.
//! `Job::Email` names the meeting, the kind and the meeting's calendar version, so the Message-ID (and the
//! ICS SEQUENCE) is the same on every retry. An update superseded by a later change before it went out is
//! dropped (the later email says what holds); an invitation is dropped only if the meeting was cancelled.

use uuid::Uuid;

use crate::app::App;
use crate::mail::render::{meeting_email, MailKind};
use crate::mail::SendError;

pub enum Sent {
    Sent,
    Superseded,
    Failed(SendError),
}

/// Sends the `kind` email of the meeting's calendar `version`, unless a later change superseded it.
pub async fn send(
    app: &App,
    meeting_id: Uuid,
    kind: MailKind,
    version: i64,
) -> anyhow::Result<Sent> {
    let Some(m) = app.store.meeting(meeting_id).await? else {
        return Ok(Sent::Superseded);
    };
    // A later change's email says what holds now. An invitation still goes out when the meeting was only
    // moved (the visitor must get one, showing the current time), not when it was cancelled meanwhile.
    let later_change = m.calendar_version > version;
    let cancelled = m.status == crate::domain::model::MeetingStatus::Cancelled;
    if later_change && (kind != MailKind::Invitation || cancelled) {
        return Ok(Sent::Superseded);
    }
    let agent = app
        .store
        .agents_by_ids(&[m.agent_id])
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("agent {} not found", m.agent_id))?;
    let manage = crate::usecase::visitor::manage_url(&app.config, m.id);
    let message = meeting_email(
        &app.templates,
        &m,
        &agent,
        kind,
        version,
        &app.mail_from,
        &manage,
        app.now(),
    )?;
    Ok(match app.mailer.send(message).await {
        Ok(()) => Sent::Sent,
        Err(e) => Sent::Failed(e),
    })
}
