//! API tokens made with `rondo token create`: only a SHA-256 of each is stored.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{to_secs, Store, StoreResult};

impl Store {
    pub async fn insert_token(
        &self,
        role: &str,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Uuid> {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO api_tokens (id, role, token_hash, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(role)
        .bind(token_hash)
        .bind(to_secs(now))
        .execute(&self.write)
        .await?;
        Ok(id)
    }

    /// The role of the token with this hash, if any.
    pub async fn token_role(&self, token_hash: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT role FROM api_tokens WHERE token_hash = ?")
                .bind(token_hash)
                .fetch_optional(&self.read)
                .await?,
        )
    }
}
