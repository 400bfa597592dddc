//! The email job: sends the visitor the invitation, update or cancellation for one version of a meeting.
//! Its target names the meeting, the kind and the meeting's calendar version, so the Message-ID (and the
//! ICS SEQUENCE) is the same on every retry. An update superseded by a later change before it went out is
//! dropped (the later email says what holds); an invitation is dropped only if the meeting was cancelled.

use uuid::Uuid;

use crate::app::App;
use crate::mail::render::{meeting_email, MailKind};

/// The job that sends one email of a meeting.
pub const EMAIL_SEND: &str = "email.send";

pub fn target(meeting: Uuid, kind: MailKind, version: i64) -> String {
    format!("{meeting}:{}:{version}", kind.as_str())
}

fn parse_target(t: &str) -> Option<(Uuid, MailKind, i64)> {
    let mut parts = t.split(':');
    let meeting = Uuid::parse_str(parts.next()?).ok()?;
    let kind = MailKind::parse(parts.next()?)?;
    let version = parts.next()?.parse().ok()?;
    Some((meeting, kind, version))
}

pub enum Sent {
    Sent,
    Superseded,
    Failed { error: String, transient: bool },
}

pub async fn send(app: &App, target: Option<&str>) -> anyhow::Result<Sent> {
    let (meeting_id, kind, version) = target
        .and_then(parse_target)
        .ok_or_else(|| anyhow::anyhow!("email job with a bad target: {target:?}"))?;
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
    let mailer = &app.mailer;
    let manage = crate::usecase::visitor::manage_url(&app.config, m.id);
    let message = meeting_email(
        &mailer.templates,
        &m,
        &agent,
        kind,
        version,
        &mailer.from,
        &manage,
        app.now(),
    )?;
    Ok(match mailer.send(message).await {
        Ok(()) => Sent::Sent,
        Err(e) => Sent::Failed {
            error: e.message,
            transient: e.transient,
        },
    })
}
