//! API tokens made with `rondo token create`: only a SHA-256 of each is stored. `rondo token list` shows
//! their ids, roles and ages (never the hash); `rondo token revoke <id>` deletes one. The service looks a
//! token up on every request (no cache), so a revoked token is refused at once.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{sql, Store, StoreResult};

/// A stored token as `rondo token list` shows it: no secret, no hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub id: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
}

impl Store {
    pub async fn insert_token(
        &self,
        role: &str,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Uuid> {
        let id = Uuid::now_v7();
        sql("INSERT INTO api_tokens (id, role, token_hash, created_at) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(role)
            .bind(token_hash)
            .bind(now)
            .execute(self.direct())
            .await?;
        Ok(id)
    }

    /// The role of the token with this hash, if any.
    pub async fn token_role(&self, token_hash: &str) -> StoreResult<Option<String>> {
        let row = sql("SELECT role FROM api_tokens WHERE token_hash = ?")
            .bind(token_hash)
            .fetch_optional(self.reader())
            .await?;
        row.map(|r| r.text("role")).transpose()
    }

    /// Every stored token, oldest first.
    pub async fn list_tokens(&self) -> StoreResult<Vec<StoredToken>> {
        let rows = sql("SELECT id, role, created_at FROM api_tokens ORDER BY created_at, id")
            .fetch_all(self.reader())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredToken {
                    id: r.text("id")?,
                    role: r.text("role")?,
                    created_at: r.time("created_at")?,
                })
            })
            .collect()
    }

    /// Deletes the token with this id; false when there is none (nothing changed), as when `id` is no
    /// id at all.
    pub async fn delete_token(&self, id: &str) -> StoreResult<bool> {
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(false);
        };
        let done = sql("DELETE FROM api_tokens WHERE id = ?")
            .bind(id)
            .execute(self.direct())
            .await?;
        Ok(done > 0)
    }
}
