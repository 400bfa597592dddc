//! Idempotency keys of the chat API (PROVIDERS.md "Idempotency-Key"). The first request with a key claims
//! it with a lease; its final response is saved under the key; a retry gets that response again. A claim
//! whose lease ran out (the process died mid-request) may be taken over.

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;

use super::{to_secs, Store, StoreResult, Tx};

/// How long keys are kept; PROVIDERS.md asks for at least 24 hours.
pub const KEY_LIFETIME_HOURS: i64 = 48;
/// How long a request may hold its key before another may take it over.
pub const LEASE_SECONDS: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// A key this request holds: its scope, the key, and the token of this claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedKey {
    pub scope: String,
    pub key: String,
    token: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours: process the request.
    Started(ClaimedKey),
    /// The first request finished: answer with its response.
    Replay(StoredResponse),
    /// The key was used with another body.
    Mismatch,
    /// The first request is still being processed.
    InFlight,
}

impl Store {
    pub async fn claim_idempotency_key(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Claim> {
        let claimed = ClaimedKey {
            scope: scope.to_owned(),
            key: key.to_owned(),
            token: uuid::Uuid::now_v7().to_string(),
        };
        // The common case, a new key, is one statement; anything else is decided in a transaction below.
        let fresh = sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, response_status, response_body, locked_until, \
             created_at, claim_token) VALUES (?, ?, ?, NULL, NULL, ?, ?, ?) ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(to_secs(now + Duration::seconds(LEASE_SECONDS)))
        .bind(to_secs(now))
        .bind(&claimed.token)
        .execute(&self.write)
        .await?;
        if fresh.rows_affected() == 1 {
            return Ok(Claim::Started(claimed));
        }
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query(
            "SELECT request_hash, response_status, response_body, locked_until, created_at \
             FROM idempotency_keys WHERE scope = ? AND key = ?",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let expired_before = to_secs(now - Duration::hours(KEY_LIFETIME_HOURS));
        if let Some(row) = existing {
            let created: i64 = row.try_get("created_at")?;
            if created >= expired_before {
                let hash: String = row.try_get("request_hash")?;
                if hash != request_hash {
                    return Ok(Claim::Mismatch);
                }
                let status: Option<i64> = row.try_get("response_status")?;
                if let Some(status) = status {
                    return Ok(Claim::Replay(StoredResponse {
                        status: status as u16,
                        body: row
                            .try_get::<Option<String>, _>("response_body")?
                            .unwrap_or_default(),
                    }));
                }
                let locked_until: i64 = row.try_get("locked_until")?;
                if locked_until > to_secs(now) {
                    return Ok(Claim::InFlight);
                }
            }
        }
        // Expired, or a claim whose lease ran out: take it over with a new token.
        sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, request_hash, response_status, response_body, locked_until, \
             created_at, claim_token) VALUES (?, ?, ?, NULL, NULL, ?, ?, ?) \
             ON CONFLICT (scope, key) DO UPDATE SET request_hash = excluded.request_hash, response_status = NULL, \
             response_body = NULL, locked_until = excluded.locked_until, created_at = excluded.created_at, \
             claim_token = excluded.claim_token",
        )
        .bind(scope)
        .bind(key)
        .bind(request_hash)
        .bind(to_secs(now + Duration::seconds(LEASE_SECONDS)))
        .bind(to_secs(now))
        .bind(&claimed.token)
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await?;
        Ok(Claim::Started(claimed))
    }

    /// Saves the response under the key, inside the transaction that made the change it reports. False
    /// when this request no longer holds the claim (its lease ran out and another took over): the caller
    /// must roll back.
    pub async fn save_idempotent_response_in(
        &self,
        tx: &mut Tx,
        claim: &ClaimedKey,
        response: &StoredResponse,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE idempotency_keys SET response_status = ?, response_body = ? \
             WHERE scope = ? AND key = ? AND claim_token = ?",
        )
        .bind(response.status as i64)
        .bind(&response.body)
        .bind(&claim.scope)
        .bind(&claim.key)
        .bind(&claim.token)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Saves a response outside any other change (a refusal); false when the claim was lost.
    pub async fn save_idempotent_response(
        &self,
        claim: &ClaimedKey,
        response: &StoredResponse,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let owned = self
            .save_idempotent_response_in(&mut tx, claim, response)
            .await?;
        self.commit(tx).await?;
        Ok(owned)
    }

    /// Lets the key go after a failure that must not be replayed (bad input, a server error): a retry
    /// starts afresh. Only this request's own, unfinished claim is removed.
    pub async fn release_idempotency_key(&self, claim: &ClaimedKey) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND claim_token = ? AND response_status IS NULL",
        )
        .bind(&claim.scope)
        .bind(&claim.key)
        .bind(&claim.token)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Forgets keys older than their lifetime.
    pub async fn purge_idempotency_keys(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < ?")
            .bind(to_secs(now - Duration::hours(KEY_LIFETIME_HOURS)))
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }
}
