//! The activity feed: written in the transaction of the meeting change it reports, read in the order
//! `FeedCursor` explains.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{sql, Backend, Row, Store, StoreError, StoreResult};
use crate::domain::model::ActivityType;

pub struct NewActivity {
    pub id: Uuid,
    pub kind: ActivityType,
    pub occurred_at: DateTime<Utc>,
    pub meeting_id: Uuid,
    pub data: serde_json::Value,
}

/// Filters of the pull feed; every field set narrows it (all must hold).
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub kind: Option<ActivityType>,
    /// The team's slug as the activity recorded it.
    pub team: Option<String>,
    pub agent: Option<Uuid>,
    /// The visitor's email, compared case-insensitively.
    pub lead_email: Option<String>,
    /// Occurred at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Occurred before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// A position in the feed. On SQLite the feed is in `seq` order: one writer commits in the order it numbers.
/// On PostgreSQL transactions take `seq` numbers in one order and commit in another (one that numbered
/// first may commit last), so a reader in `seq` order could be handed a cursor past a row that is not
/// committed yet, and would never read it. There the feed is in the order of (the writing transaction's id,
/// `seq`), and lists only what transactions older than every one still running wrote: whatever commits
/// later sorts after every cursor already handed out. Written `seq` on SQLite, `txid.seq` on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedCursor {
    /// The writing transaction's id (0 on SQLite).
    pub txid: i64,
    pub seq: i64,
}

impl FeedCursor {
    pub fn parse(s: &str) -> Option<Self> {
        let (txid, seq) = match s.split_once('.') {
            Some((t, q)) => (t.parse().ok()?, q.parse().ok()?),
            None => (0, s.parse().ok()?),
        };
        (txid >= 0 && seq >= 0).then_some(Self { txid, seq })
    }
}

impl std::fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.txid == 0 {
            write!(f, "{}", self.seq)
        } else {
            write!(f, "{}.{}", self.txid, self.seq)
        }
    }
}

#[derive(Debug, Clone)]
pub struct ActivityRow {
    pub seq: i64,
    /// The writing transaction's id on PostgreSQL; 0 on SQLite.
    pub txid: i64,
    pub id: Uuid,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

impl Store {
    /// Forgets activities that occurred before `before`, with their delivered webhooks (a dead delivery stays,
    /// with its activity, while an admin may still retry it), and finished jobs
    /// last touched before it; returns (activities, deliveries, jobs) removed.
    pub async fn purge_before(&self, before: DateTime<Utc>) -> StoreResult<(u64, u64, u64)> {
        let mut tx = self.begin_write().await?;
        let deliveries = sql("DELETE FROM webhook_deliveries WHERE status = 'delivered' \
             AND activity_id IN (SELECT id FROM activities WHERE occurred_at < ?)")
        .bind(before)
        .execute(&mut tx)
        .await?;
        let activities = sql("DELETE FROM activities WHERE occurred_at < ? \
             AND id NOT IN (SELECT activity_id FROM webhook_deliveries)")
        .bind(before)
        .execute(&mut tx)
        .await?;
        let jobs = sql("DELETE FROM jobs WHERE status = 'done' AND updated_at < ?")
            .bind(before)
            .execute(&mut tx)
            .await?;
        self.commit(tx).await?;
        Ok((activities, deliveries, jobs))
    }

    pub async fn activity(&self, id: Uuid) -> StoreResult<Option<ActivityRow>> {
        let r = sql("SELECT seq, txid, id, type, occurred_at, data FROM activities WHERE id = ?")
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        r.as_ref().map(activity).transpose()
    }

    /// Activities after `after` that pass `filter`, in feed order (see `FeedCursor`), at most `limit`. The
    /// team, agent and visitor are matched in the activity's `data` (what the event said when it happened).
    pub async fn activities_after(
        &self,
        after: FeedCursor,
        limit: u32,
        filter: &ActivityFilter,
    ) -> StoreResult<Vec<ActivityRow>> {
        let backend = self.backend();
        let mut text =
            String::from("SELECT seq, txid, id, type, occurred_at, data FROM activities WHERE ");
        let order = match backend {
            Backend::Sqlite => {
                text.push_str("seq > ?");
                " ORDER BY seq LIMIT ?"
            }
            Backend::Postgres => {
                text.push_str("(txid > ? OR (txid = ? AND seq > ?)) AND txid < ");
                text.push_str(SETTLED_BELOW);
                " ORDER BY txid, seq LIMIT ?"
            }
        };
        if filter.kind.is_some() {
            text.push_str(" AND type = ?");
        }
        if filter.team.is_some() {
            let team = backend.json_text("data", &["team"]);
            text.push_str(&format!(" AND {team} = ?"));
        }
        if filter.agent.is_some() {
            let agent = backend.json_text("data", &["agent", "id"]);
            text.push_str(&format!(" AND {agent} = ?"));
        }
        if filter.lead_email.is_some() {
            let email = backend.json_text("data", &["visitor", "email"]);
            text.push_str(&format!(" AND lower({email}) = lower(?)"));
        }
        if filter.from.is_some() {
            text.push_str(" AND occurred_at >= ?");
        }
        if filter.to.is_some() {
            text.push_str(" AND occurred_at < ?");
        }
        text.push_str(order);
        let mut q = match backend {
            Backend::Sqlite => sql(text).bind(after.seq),
            Backend::Postgres => sql(text).bind(after.txid).bind(after.txid).bind(after.seq),
        };
        if let Some(k) = filter.kind {
            q = q.bind(k.as_str());
        }
        if let Some(t) = &filter.team {
            q = q.bind(t);
        }
        if let Some(a) = filter.agent {
            // Compared with the text inside `data`, not with an id column.
            q = q.bind(a.to_string());
        }
        if let Some(e) = &filter.lead_email {
            q = q.bind(e);
        }
        if let Some(f) = filter.from {
            q = q.bind(f);
        }
        if let Some(t) = filter.to {
            q = q.bind(t);
        }
        let all = q.bind(limit).fetch_all(self.reader()).await?;
        all.iter().map(activity).collect()
    }
}

/// PostgreSQL: the transaction id below which every writer of this database has ended, as of the
/// statement's snapshot: the oldest transaction the snapshot sees running (`xip`), leaving out those known
/// to belong to other databases on the server (their transactions never write here, and a long one must not
/// hold this feed back), else the snapshot's `xmax`. A transaction of another database that ends between the
/// snapshot and the look at `pg_stat_activity` is counted as ours: the horizon only errs low (later).
/// `pg_stat_activity` shows 32-bit ids, the snapshot 64-bit ones: compared on their low 32 bits.
const SETTLED_BELOW: &str = "COALESCE(\
    (SELECT MIN(CAST(CAST(x AS text) AS bigint)) FROM pg_snapshot_xip(pg_current_snapshot()) AS x \
     WHERE CAST(CAST(x AS text) AS bigint) % 4294967296 NOT IN (\
       SELECT CAST(CAST(backend_xid AS text) AS bigint) FROM pg_stat_activity \
       WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())), \
    CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text) AS bigint))";

impl ActivityRow {
    /// Its position in the feed.
    pub fn cursor(&self) -> FeedCursor {
        FeedCursor {
            txid: self.txid,
            seq: self.seq,
        }
    }
}

fn activity(r: &Row) -> StoreResult<ActivityRow> {
    let data = r.json_text("data")?;
    Ok(ActivityRow {
        seq: r.int("seq")?,
        txid: r.opt_int("txid")?.unwrap_or(0),
        id: r.uuid("id")?,
        kind: r.text("type")?,
        occurred_at: r.time("occurred_at")?,
        data: serde_json::from_str(&data).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}
