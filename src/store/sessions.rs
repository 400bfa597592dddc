//! Admin console sessions: the browser keeps a random id; the store keeps its hash, the session's CSRF
//! token, the admin's zone and when it expires.

use chrono::{DateTime, Utc};

use super::{sql, Store, StoreResult};

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub csrf: String,
    /// IANA zone name the admin reads times in.
    pub zone: String,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// Stores a new session (and forgets expired ones).
    pub async fn create_session(
        &self,
        id_hash: &str,
        session: &AdminSession,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sql("DELETE FROM admin_sessions WHERE expires_at <= ?")
            .bind(now)
            .execute(&mut tx)
            .await?;
        sql(
            "INSERT INTO admin_sessions (id_hash, csrf, zone, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id_hash)
        .bind(&session.csrf)
        .bind(&session.zone)
        .bind(now)
        .bind(session.expires_at)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session with this id hash, if it has not expired at `now`.
    pub async fn session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<AdminSession>> {
        let row = sql(
            "SELECT csrf, zone, expires_at FROM admin_sessions WHERE id_hash = ? AND expires_at > ?",
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(self.reader())
        .await?;
        row.map(|r| {
            Ok(AdminSession {
                csrf: r.text("csrf")?,
                zone: r.text("zone")?,
                expires_at: r.time("expires_at")?,
            })
        })
        .transpose()
    }

    /// Changes the zone a session reads times in.
    pub async fn set_session_zone(&self, id_hash: &str, zone: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sql("UPDATE admin_sessions SET zone = ? WHERE id_hash = ?")
            .bind(zone)
            .bind(id_hash)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends a session (signing out).
    pub async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sql("DELETE FROM admin_sessions WHERE id_hash = ?")
            .bind(id_hash)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
