//! Agents' calendar connections (sealed OAuth tokens), the OAuth round trips in progress, and the connect-link
//! generation that retires old links. The store keeps sealed bytes; it never sees a token in clear.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{sql, Row, Store, StoreError, StoreResult};
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

fn connection(row: &Row) -> StoreResult<ConnectionRow> {
    let provider = row.text("provider")?;
    let status = row.text("status")?;
    Ok(ConnectionRow {
        agent_id: row.uuid("agent_id")?,
        provider: CalendarKind::parse(&provider)
            .ok_or_else(|| StoreError::Corrupt(format!("provider {provider}")))?,
        account_email: row.text("account_email")?,
        status: match status.as_str() {
            "connected" => ConnectionStatus::Connected,
            _ => ConnectionStatus::Disconnected,
        },
        reason: row.opt_text("reason")?,
        access_token: row.bytes("access_token")?,
        refresh_token: row.bytes("refresh_token")?,
        access_expires_at: row.time("access_expires_at")?,
        connected_at: row.time("connected_at")?,
        updated_at: row.time("updated_at")?,
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
        sql(
            "INSERT INTO calendar_connections (agent_id, provider, account_email, status, reason, \
             access_token, refresh_token, access_expires_at, connected_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (agent_id) DO UPDATE SET provider = excluded.provider, \
             account_email = excluded.account_email, status = excluded.status, reason = excluded.reason, \
             access_token = excluded.access_token, refresh_token = excluded.refresh_token, \
             access_expires_at = excluded.access_expires_at, connected_at = excluded.connected_at, \
             updated_at = excluded.updated_at",
        )
        .bind(c.agent_id)
        .bind(c.provider.as_str())
        .bind(&c.account_email)
        .bind(c.status.as_str())
        .bind(c.reason.as_ref())
        .bind(c.access_token.clone())
        .bind(c.refresh_token.clone())
        .bind(c.access_expires_at)
        .bind(c.connected_at)
        .bind(c.updated_at)
        .execute(&mut tx)
        .await?;
        sql("UPDATE agents SET calendar = ? WHERE id = ? AND deleted_at IS NULL")
            .bind(c.provider.as_str())
            .bind(c.agent_id)
            .execute(&mut tx)
            .await?;
        self.commit(tx).await
    }

    pub async fn connection(&self, agent: Uuid) -> StoreResult<Option<ConnectionRow>> {
        let row = sql("SELECT * FROM calendar_connections WHERE agent_id = ?")
            .bind(agent)
            .fetch_optional(self.reader())
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
        let done = sql(
            "UPDATE calendar_connections SET access_token = ?, refresh_token = ?, access_expires_at = ?, \
             updated_at = ? WHERE agent_id = ? AND connected_at = ? AND status = 'connected'",
        )
        .bind(access.to_vec())
        .bind(refresh.to_vec())
        .bind(expires_at)
        .bind(now)
        .bind(agent)
        .bind(connected_at)
        .execute(self.direct())
        .await?;
        Ok(done == 1)
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
        let done = sql(
            "UPDATE calendar_connections SET status = 'disconnected', reason = ?, updated_at = ? \
             WHERE agent_id = ? AND connected_at = ? AND status = 'connected'",
        )
        .bind(reason)
        .bind(now)
        .bind(agent)
        .bind(connected_at)
        .execute(&mut tx)
        .await?;
        if done == 1 {
            sql("UPDATE agents SET calendar = 'none' WHERE id = ?")
                .bind(agent)
                .execute(&mut tx)
                .await?;
        }
        self.commit(tx).await?;
        Ok(done == 1)
    }

    /// The agent's connect-link generation (None: no such live agent).
    pub async fn connect_generation(&self, agent: Uuid) -> StoreResult<Option<i64>> {
        sql("SELECT connect_generation FROM agents WHERE id = ? AND deleted_at IS NULL")
            .bind(agent)
            .fetch_optional(self.reader())
            .await?
            .map(|r| r.int("connect_generation"))
            .transpose()
    }

    /// Retires every connect link of the agent issued so far; returns the new generation.
    pub async fn next_connect_generation(&self, agent: Uuid) -> StoreResult<Option<i64>> {
        sql(
            "UPDATE agents SET connect_generation = connect_generation + 1 \
             WHERE id = ? AND deleted_at IS NULL RETURNING connect_generation",
        )
        .bind(agent)
        .fetch_optional(self.direct())
        .await?
        .map(|r| r.int("connect_generation"))
        .transpose()
    }

    pub async fn insert_oauth_flow(&self, f: &OAuthFlow) -> StoreResult<()> {
        sql(
            "INSERT INTO oauth_flows (state, agent_id, provider, link_generation, pkce_verifier, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&f.state)
        .bind(f.agent_id)
        .bind(f.provider.as_str())
        .bind(f.link_generation)
        .bind(f.pkce_verifier.clone())
        .bind(f.created_at)
        .bind(f.expires_at)
        .execute(self.direct())
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
        let row = sql(
            "UPDATE oauth_flows SET used_at = ? WHERE state = ? AND used_at IS NULL RETURNING *",
        )
        .bind(now)
        .bind(state)
        .fetch_optional(self.direct())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let provider = row.text("provider")?;
        Ok(Some(OAuthFlow {
            state: row.text("state")?,
            agent_id: row.uuid("agent_id")?,
            provider: CalendarKind::parse(&provider)
                .ok_or_else(|| StoreError::Corrupt(format!("provider {provider}")))?,
            link_generation: row.int("link_generation")?,
            pkce_verifier: row.bytes("pkce_verifier")?,
            created_at: row.time("created_at")?,
            expires_at: row.time("expires_at")?,
        }))
    }

    /// Forgets OAuth round trips that ended or expired before `before`.
    pub async fn purge_oauth_flows(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        sql("DELETE FROM oauth_flows WHERE expires_at < ?")
            .bind(before)
            .execute(self.direct())
            .await
    }
}
