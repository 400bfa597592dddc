//! Webhook endpoints and their deliveries.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{sql, Conn, Json, Row, Store, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRow {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub secret: String,
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub activity_id: Uuid,
    pub status: String,
    pub attempts: u32,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn endpoint(r: &Row) -> StoreResult<EndpointRow> {
    let events = r.json_text("events")?;
    Ok(EndpointRow {
        id: r.uuid("id")?,
        url: r.text("url")?,
        events: serde_json::from_str(&events).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        secret: r.text("secret")?,
        disabled_reason: r.opt_text("disabled_reason")?,
        created_at: r.time("created_at")?,
    })
}

fn delivery(r: &Row) -> StoreResult<DeliveryRow> {
    Ok(DeliveryRow {
        id: r.uuid("id")?,
        endpoint_id: r.uuid("endpoint_id")?,
        activity_id: r.uuid("activity_id")?,
        status: r.text("status")?,
        attempts: r.int("attempts")? as u32,
        last_status_code: r.opt_int("last_status_code")?.map(|c| c as u16),
        last_error: r.opt_text("last_error")?,
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
    })
}

impl Store {
    pub async fn insert_endpoint(&self, e: &EndpointRow) -> StoreResult<()> {
        sql("INSERT INTO webhook_endpoints (id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?)")
            .bind(e.id)
            .bind(&e.url)
            .bind(Json(serde_json::to_string(&e.events).expect("list serializes")))
            .bind(&e.secret)
            .bind(e.created_at)
            .execute(self.direct())
            .await?;
        Ok(())
    }

    pub async fn list_endpoints(&self) -> StoreResult<Vec<EndpointRow>> {
        let all =
            sql("SELECT * FROM webhook_endpoints WHERE deleted_at IS NULL ORDER BY created_at, id")
                .fetch_all(self.reader())
                .await?;
        all.iter().map(endpoint).collect()
    }

    /// A live (not deleted) endpoint.
    pub async fn endpoint(&self, id: Uuid) -> StoreResult<Option<EndpointRow>> {
        let r = sql("SELECT * FROM webhook_endpoints WHERE id = ? AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(endpoint).transpose()
    }

    pub async fn delete_endpoint(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        let done =
            sql("UPDATE webhook_endpoints SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL")
                .bind(now)
                .bind(id)
                .execute(self.direct())
                .await?;
        Ok(done == 1)
    }

    /// Stops deliveries to an endpoint (it answered 410 Gone).
    pub async fn disable_endpoint(
        &self,
        id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sql("UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ? WHERE id = ?")
            .bind(now)
            .bind(reason)
            .bind(id)
            .execute(self.direct())
            .await?;
        Ok(())
    }

    /// Enabled endpoints that subscribe to this event type, as seen inside a write transaction.
    pub async fn endpoints_for_in(
        &self,
        tx: &mut Conn,
        event_type: &str,
    ) -> StoreResult<Vec<Uuid>> {
        let all =
            sql("SELECT * FROM webhook_endpoints WHERE deleted_at IS NULL AND disabled_at IS NULL")
                .fetch_all(&mut *tx)
                .await?;
        Ok(all
            .iter()
            .map(endpoint)
            .collect::<StoreResult<Vec<_>>>()?
            .into_iter()
            .filter(|e| e.events.iter().any(|t| t == event_type))
            .map(|e| e.id)
            .collect())
    }

    pub async fn delivery(&self, id: Uuid) -> StoreResult<Option<DeliveryRow>> {
        let r = sql("SELECT * FROM webhook_deliveries WHERE id = ?")
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(delivery).transpose()
    }

    /// Records one delivery attempt's outcome (`delivered`, `failed` (will retry) or `dead`).
    pub async fn record_delivery(
        &self,
        id: Uuid,
        status: &str,
        code: Option<u16>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sql(
            "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, last_status_code = ?, \
             last_error = ?, updated_at = ? WHERE id = ?",
        )
        .bind(status)
        .bind(code)
        .bind(error)
        .bind(now)
        .bind(id)
        .execute(self.direct())
        .await?;
        Ok(())
    }

    /// The endpoint's deliveries, newest first.
    pub async fn list_deliveries(
        &self,
        endpoint_id: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryRow>> {
        let all = sql(
            "SELECT * FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
        )
        .bind(endpoint_id)
        .bind(limit)
        .fetch_all(self.reader())
        .await?;
        all.iter().map(delivery).collect()
    }
}
