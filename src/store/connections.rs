//! Agents' calendar connections (sealed OAuth tokens), the OAuth round trips in progress, and the connect-link
//! generation that retires old links. The store keeps sealed bytes; it never sees a token in clear.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use uuid::Uuid;

use super::{from_secs, rows, to_secs, Store, StoreError, StoreResult};
use crate::domain::model::CalendarKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionStatus {
    Connected,
    Disconnected,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Connected => "connected",
            ConnectionStatus::Disconnected => "disconnected",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ConnectionRow {
    pub agent_id: Uuid,
    /// Google or Microsoft.
    pub provider: CalendarKind,
    pub account_email: String,
    pub status: ConnectionStatus,
    /// Why the connection is disconnected (the provider's words), for admins.
    pub reason: Option<String>,
    pub access_token: Vec<u8>,
    pub refresh_token: Vec<u8>,
    pub access_expires_at: DateTime<Utc>,
    pub connected_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn connection(row: &SqliteRow) -> StoreResult<ConnectionRow> {
    let provider: String = row.try_get("provider")?;
    let status: String = row.try_get("status")?;
    Ok(ConnectionRow {
        agent_id: rows::uuid(row, "agent_id")?,
        provider: CalendarKind::parse(&provider)
            .ok_or_else(|| StoreError::Corrupt(format!("provider {provider}")))?,
        account_email: row.try_get("account_email")?,
        status: match status.as_str() {
            "connected" => ConnectionStatus::Connected,
            _ => ConnectionStatus::Disconnected,
        },
        reason: row.try_get("reason")?,
        access_token: row.try_get("access_token")?,
        refresh_token: row.try_get("refresh_token")?,
        access_expires_at: from_secs(row.try_get("access_expires_at")?),
        connected_at: from_secs(row.try_get("connected_at")?),
        updated_at: from_secs(row.try_get("updated_at")?),
    })
}

/// An OAuth round trip in progress.
#[derive(Debug, Clone)]
pub struct OAuthFlow {
    pub state: String,
    pub agent_id: Uuid,
    pub provider: CalendarKind,
    pub link_generation: i64,
    pub pkce_verifier: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// Stores (or replaces: a reconnect) the agent's connection and puts the agent's calendar on it, which
    /// brings the agent into rotation in every queue it is in.
    pub async fn save_connection(&self, c: &ConnectionRow) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT OR REPLACE INTO calendar_connections (agent_id, provider, account_email, status, reason, \
             access_token, refresh_token, access_expires_at, connected_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(c.agent_id.to_string())
        .bind(c.provider.as_str())
        .bind(&c.account_email)
        .bind(c.status.as_str())
        .bind(&c.reason)
        .bind(&c.access_token)
        .bind(&c.refresh_token)
        .bind(to_secs(c.access_expires_at))
        .bind(to_secs(c.connected_at))
        .bind(to_secs(c.updated_at))
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE agents SET calendar = ? WHERE id = ? AND deleted_at IS NULL")
            .bind(c.provider.as_str())
            .bind(c.agent_id.to_string())
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await
    }

    pub async fn connection(&self, agent: Uuid) -> StoreResult<Option<ConnectionRow>> {
        let row = sqlx::query("SELECT * FROM calendar_connections WHERE agent_id = ?")
            .bind(agent.to_string())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(connection).transpose()
    }

    /// Saves refreshed tokens, unless the connection was replaced or disconnected meanwhile.
    pub async fn update_tokens(
        &self,
        agent: Uuid,
        connected_at: DateTime<Utc>,
        access: &[u8],
        refresh: &[u8],
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE calendar_connections SET access_token = ?, refresh_token = ?, access_expires_at = ?, \
             updated_at = ? WHERE agent_id = ? AND connected_at = ? AND status = 'connected'",
        )
        .bind(access)
        .bind(refresh)
        .bind(to_secs(expires_at))
        .bind(to_secs(now))
        .bind(agent.to_string())
        .bind(to_secs(connected_at))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The provider refused the grant: the connection is marked disconnected with the reason and the agent
    /// leaves rotation (its calendar becomes `none`) until it reconnects. Only the connection that failed is
    /// touched (not a newer one made meanwhile).
    pub async fn disconnect(
        &self,
        agent: Uuid,
        connected_at: DateTime<Utc>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE calendar_connections SET status = 'disconnected', reason = ?, updated_at = ? \
             WHERE agent_id = ? AND connected_at = ? AND status = 'connected'",
        )
        .bind(reason)
        .bind(to_secs(now))
        .bind(agent.to_string())
        .bind(to_secs(connected_at))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            sqlx::query("UPDATE agents SET calendar = 'none' WHERE id = ?")
                .bind(agent.to_string())
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await?;
        Ok(done.rows_affected() == 1)
    }

    /// The agent's connect-link generation (None: no such live agent).
    pub async fn connect_generation(&self, agent: Uuid) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT connect_generation FROM agents WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(agent.to_string())
        .fetch_optional(&self.read)
        .await?)
    }

    /// Retires every connect link of the agent issued so far; returns the new generation.
    pub async fn next_connect_generation(&self, agent: Uuid) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar(
            "UPDATE agents SET connect_generation = connect_generation + 1 \
             WHERE id = ? AND deleted_at IS NULL RETURNING connect_generation",
        )
        .bind(agent.to_string())
        .fetch_optional(&self.write)
        .await?)
    }

    pub async fn insert_oauth_flow(&self, f: &OAuthFlow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO oauth_flows (state, agent_id, provider, link_generation, pkce_verifier, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&f.state)
        .bind(f.agent_id.to_string())
        .bind(f.provider.as_str())
        .bind(f.link_generation)
        .bind(&f.pkce_verifier)
        .bind(to_secs(f.created_at))
        .bind(to_secs(f.expires_at))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Uses up the flow named by `state`: it answers once, and never after (a replayed callback finds
    /// nothing). Expiry is the caller's to judge.
    pub async fn take_oauth_flow(
        &self,
        state: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OAuthFlow>> {
        let row = sqlx::query(
            "UPDATE oauth_flows SET used_at = ? WHERE state = ? AND used_at IS NULL RETURNING *",
        )
        .bind(to_secs(now))
        .bind(state)
        .fetch_optional(&self.write)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let provider: String = row.try_get("provider")?;
        Ok(Some(OAuthFlow {
            state: row.try_get("state")?,
            agent_id: rows::uuid(&row, "agent_id")?,
            provider: CalendarKind::parse(&provider)
                .ok_or_else(|| StoreError::Corrupt(format!("provider {provider}")))?,
            link_generation: row.try_get("link_generation")?,
            pkce_verifier: row.try_get("pkce_verifier")?,
            created_at: from_secs(row.try_get("created_at")?),
            expires_at: from_secs(row.try_get("expires_at")?),
        }))
    }

    /// Forgets OAuth round trips that ended or expired before `before`.
    pub async fn purge_oauth_flows(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        Ok(sqlx::query("DELETE FROM oauth_flows WHERE expires_at < ?")
            .bind(to_secs(before))
            .execute(&self.write)
            .await?
            .rows_affected())
    }
}
