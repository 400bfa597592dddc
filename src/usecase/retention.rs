//! Retention: activities (and their finished webhook deliveries), finished jobs and idempotency keys are
//! kept for a while, then purged. Meetings themselves stay: they are the admins' report.

use chrono::Duration;

use crate::app::App;
use crate::error::AppResult;

/// What one purge removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub activities: u64,
    pub deliveries: u64,
    pub jobs: u64,
    pub idempotency_keys: u64,
    /// OAuth round trips that ended or expired (a day ago or more).
    pub oauth_flows: u64,
}

impl Purged {
    pub fn is_empty(&self) -> bool {
        *self == Purged::default()
    }
}

/// Purges data older than `RONDO_RETENTION_DAYS`. Activities with a delivery still in progress stay until
/// it ends.
pub async fn purge_expired(app: &App) -> AppResult<Purged> {
    let now = app.now();
    let before = now - Duration::days(app.config.retention_days as i64);
    let (activities, deliveries, jobs) = app.store.purge_before(before).await?;
    let idempotency_keys = app.store.purge_idempotency_keys(now).await?;
    let oauth_flows = app.store.purge_oauth_flows(now - Duration::days(1)).await?;
    Ok(Purged {
        activities,
        deliveries,
        jobs,
        idempotency_keys,
        oauth_flows,
    })
}
