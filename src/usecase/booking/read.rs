//! Reading a booking (`GET /v1/bookings/{id}`).

use uuid::Uuid;

use super::{load, Booking};
use crate::app::App;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no such booking")]
    NotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ReadError {
    fn from(e: StoreError) -> Self {
        ReadError::Internal(e.into())
    }
}

pub async fn read(app: &App, id: Uuid) -> Result<Booking, ReadError> {
    load(app, id).await?.ok_or(ReadError::NotFound)
}
