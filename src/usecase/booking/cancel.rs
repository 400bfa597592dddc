//! Cancelling a booking (the chat service's `POST /v1/bookings/{id}/cancel`, and the visitor's page): the
//! slot is freed, and the change is recorded with its effects (cancellation email, calendar, activity) in
//! one piece of work. Cancelling a cancelled booking answers it as it is.

use uuid::Uuid;

use super::change::{self, Change};
use super::request::{text, CancelRequest};
use super::{load, Booking};
use crate::app::App;
use crate::domain::model::ActivityType;
use crate::error::Problems;
use crate::mail::render::MailKind;
use crate::outbox;
use crate::store::{Batch, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("invalid cancellation")]
    Invalid(Vec<(String, String)>),
    #[error("no such booking")]
    NotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for CancelError {
    fn from(e: StoreError) -> Self {
        CancelError::Internal(e.into())
    }
}

pub async fn cancel(app: &App, id: Uuid, req: &CancelRequest) -> Result<Booking, CancelError> {
    let mut problems = Problems::default();
    let reason = text("reason", &req.reason, &mut problems);
    if !problems.is_empty() {
        return Err(CancelError::Invalid(problems.into_pairs()));
    }
    let Booking { agent, .. } = load(app, id).await?.ok_or(CancelError::NotFound)?;
    let now = app.now();
    let db = app.store.clone();
    let changed = app
        .store
        .write(move |c| {
            Box::pin(async move {
                if !db.cancel_meeting_in(c, id, reason.as_deref(), now).await? {
                    return Ok(false);
                }
                let meeting = db
                    .meeting_in(c, id)
                    .await?
                    .ok_or(StoreError::Abandoned("the meeting is gone"))?;
                let endpoints = db
                    .endpoints_for_in(c, ActivityType::Cancelled.as_str())
                    .await?;
                let change = Change {
                    kind: ActivityType::Cancelled,
                    meeting: &meeting,
                    agent: &agent,
                    mail: MailKind::Cancellation,
                    now,
                };
                let mut batch = Batch::default();
                change::record(&mut batch, change, &endpoints);
                batch.run(c).await?;
                Ok(true)
            })
        })
        .await?;
    if changed {
        outbox::sync_calendar_inline(app, id).await;
    }
    load(app, id).await?.ok_or(CancelError::NotFound)
}
