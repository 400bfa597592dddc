//! The admin API: agents, teams and their round-robin queues, and the meetings report. Handlers that change
//! settings parse the request, call their use case (`usecase::admin`) and turn its outcome into an answer.

pub mod agents;
pub mod invitation;
pub mod jobs;
pub mod meetings;
pub mod routing;
pub mod teams;
pub mod webhooks;

use crate::domain::settings::FieldErrors;
use crate::error::AppError;

/// 422 naming each field at fault as the admin API spells it (`weekly_hours.mon`).
impl From<FieldErrors> for AppError {
    fn from(errors: FieldErrors) -> Self {
        AppError::Validation(
            errors
                .into_iter()
                .map(|(field, message)| (field.to_string(), message))
                .collect(),
        )
    }
}
