//! The database: connection pools, migrations, and one repository module per table group. This is the only
//! place that writes SQL, once for both backends (`sql`).
//!
//! SQLite (the embedded default) runs in WAL mode with a single-connection writer pool (writes queue in
//! process instead of spinning on SQLite's busy handler; the booking path shares commits, see `writer`) and
//! a reader pool; every write transaction that decides something (a booking) starts with `BEGIN IMMEDIATE`,
//! so the check and the write see one state even with several processes on the same file.
//!
//! PostgreSQL (several replicas) runs each write in its own transaction on one pool. What SQLite's single
//! writer gave for free is asked for explicitly: a booking locks its team's row before it reads the
//! round-robin pointer, outbox workers claim jobs with `FOR UPDATE SKIP LOCKED`, and the exclusion
//! constraint `meetings_no_overlap` refuses an agent two overlapping live meetings whatever the replicas do
//! (`StoreError::Overlap`). Migrations run under sqlx's advisory lock, so replicas starting together apply
//! them once.

mod activities;
mod agents;
mod batch;
mod connections;
mod fairness;
mod idempotency;
mod jobs;
mod meetings;
mod routing;
mod rows;
mod sessions;
mod sql;
mod teams;
mod tokens;
mod webhooks;
mod writer;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::domain::model::{Agent, Team};

pub use activities::{ActivityFilter, ActivityRow, FeedCursor, NewActivity};
pub use batch::{Batch, ClaimFacts};
pub use connections::{ConnectionRow, ConnectionStatus, OAuthFlow};
pub use idempotency::{Claim, ClaimedKey, Recorded};
pub use jobs::JobRow;
pub use meetings::{MeetingFilter, MeetingPage, NewMeeting};
pub use routing::TeamRouting;
pub use sessions::AdminSession;
pub(crate) use sql::{sql, Json, On, Row};
pub use sql::{Backend, Conn};
pub use webhooks::{DeliveryRow, EndpointRow};
pub use writer::Writer;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static MIGRATOR_PG: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Errors a repository reports; everything else is a plain database error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; the string names the column(s).
    #[error("already exists: {0}")]
    Duplicate(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A write found the state it depends on gone (a claim taken over, a booking cancelled meanwhile) and
    /// was rolled back; the string says what.
    #[error("write abandoned: {0}")]
    Abandoned(&'static str),
    /// A write failed and could not undo its own first statements: its whole group commit must be
    /// abandoned (see `writer`).
    #[error("write failed and could not be undone: {0}")]
    Poisoned(String),
    /// PostgreSQL's `meetings_no_overlap` refused the write: the agent took an overlapping meeting in
    /// another transaction (another team's booking, another replica) after this one read its calendar.
    /// The write was rolled back; asking again sees that meeting.
    #[error("the agent already has an overlapping meeting")]
    Overlap,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Maps a UNIQUE violation to `Duplicate`, naming what was duplicated.
fn map_unique(e: StoreError) -> StoreError {
    if let StoreError::Db(sqlx::Error::Database(db)) = &e {
        if db.is_unique_violation() {
            return StoreError::Duplicate(db.message().to_owned());
        }
    }
    e
}

/// PostgreSQL's code for an exclusion constraint's refusal.
const EXCLUSION_VIOLATION: &str = "23P01";

/// Maps the refusal of `meetings_no_overlap` to `Overlap`.
pub(crate) fn map_overlap(e: StoreError) -> StoreError {
    if let StoreError::Db(sqlx::Error::Database(db)) = &e {
        if db.code().as_deref() == Some(EXCLUSION_VIOLATION) {
            return StoreError::Overlap;
        }
    }
    e
}

#[derive(Clone)]
pub struct Store {
    db: Db,
    /// Bumped after every committed write: cached snapshots from an older epoch are not served.
    epoch: Arc<AtomicU64>,
    snapshots: Arc<Mutex<HashMap<String, CachedSnapshot>>>,
}

/// The pools of the backend the store runs on.
#[derive(Clone)]
enum Db {
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
        /// Group commit on the write connection (`write`): the booking path writes through it.
        writer: Writer,
    },
    Postgres {
        pool: PgPool,
    },
}

/// A snapshot with the write epoch and time it was read at.
type CachedSnapshot = (u64, Instant, Arc<TeamSnapshot>);

/// A team with its queue and routing table, as the availability hot path reads it.
#[derive(Debug, Clone)]
pub struct TeamSnapshot {
    pub team: Team,
    pub queue: Vec<Agent>,
    pub routing: TeamRouting,
}

/// How long a snapshot may be served. Writes made through this process invalidate at once; this bounds
/// how late another replica's writes are seen (availability is a cache-backed view anyway; bookings
/// always read fresh).
const SNAPSHOT_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// A write transaction (see `Conn`).
pub type Tx = Conn;

/// How many connections a PostgreSQL replica opens at most.
pub const DEFAULT_PG_CONNECTIONS: u32 = 16;

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations: a `sqlite:` URL or a
    /// `postgres:` one.
    pub async fn connect(url: &str, synchronous_full: bool) -> StoreResult<Self> {
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            return Self::connect_postgres(url, DEFAULT_PG_CONNECTIONS).await;
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if synchronous_full {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-16000")
            .pragma("mmap_size", "268435456");
        // A pinged connection costs a worker-thread round trip per acquire; a broken local file would fail
        // the statement anyway, so skip the ping.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&write).await.map_err(sqlx::Error::from)?;
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .min_connections(1)
            .connect_with(options.read_only(true))
            .await?;
        let epoch: Arc<AtomicU64> = Arc::default();
        // The group commit writes meetings, keys and calendar records, and the round-robin pointer: none of
        // them is in a team snapshot except the pointer, which availability may see up to
        // `SNAPSHOT_TTL` late (bookings read it inside their own write). Settings changes commit through
        // `commit`, which invalidates snapshots at once.
        let writer = Writer::start(write.clone(), || {});
        Ok(Self {
            db: Db::Sqlite {
                read,
                write,
                writer,
            },
            epoch,
            snapshots: Arc::default(),
        })
    }

    /// Opens a pool of at most `connections` on PostgreSQL and applies pending migrations (under sqlx's
    /// advisory lock: replicas starting together wait for the first, then find nothing left to apply).
    pub async fn connect_postgres(url: &str, connections: u32) -> StoreResult<Self> {
        // A replica that stalls inside a transaction (a paused VM, a hung process) must not hold a team's
        // lock for everyone: PostgreSQL ends a session idle in a transaction after 30 s.
        let options = PgConnectOptions::from_str(url)?
            .options([("idle_in_transaction_session_timeout", "30s")]);
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        MIGRATOR_PG.run(&pool).await.map_err(sqlx::Error::from)?;
        Ok(Self {
            db: Db::Postgres { pool },
            epoch: Arc::default(),
            snapshots: Arc::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres { .. } => Backend::Postgres,
        }
    }

    /// Where reads outside a transaction run: SQLite's reader pool, PostgreSQL's pool.
    pub(crate) fn reader(&self) -> On<'_> {
        match &self.db {
            Db::Sqlite { read, .. } => On::SqlitePool(read),
            Db::Postgres { pool } => On::PgPool(pool),
        }
    }

    /// Where a single-statement write outside a transaction runs: SQLite's write connection (in turn with
    /// every other write), PostgreSQL's pool.
    pub(crate) fn direct(&self) -> On<'_> {
        match &self.db {
            Db::Sqlite { write, .. } => On::SqlitePool(write),
            Db::Postgres { pool } => On::PgPool(pool),
        }
    }

    /// Commits a write transaction and invalidates cached snapshots.
    pub async fn commit(&self, tx: Tx) -> StoreResult<()> {
        tx.commit().await.map_err(|e| map_overlap(e.into()))?;
        self.written();
        Ok(())
    }

    /// Runs `work` in a transaction of its own on PostgreSQL, committing when it succeeds. Like SQLite's
    /// group commit, it leaves cached snapshots alone: this path writes meetings, keys, calendar records and
    /// pointers, which bookings read inside their own write, never from a snapshot.
    async fn write_pg<T, F>(&self, pool: &PgPool, work: F) -> StoreResult<T>
    where
        F: for<'c> FnOnce(&'c mut Conn) -> futures_util::future::BoxFuture<'c, StoreResult<T>>,
    {
        let mut tx = Conn::Postgres(pool.begin().await?);
        match work(&mut tx).await {
            Ok(v) => {
                tx.commit().await.map_err(|e| map_overlap(e.into()))?;
                Ok(v)
            }
            Err(e) => {
                // Dropping an unfinished transaction rolls it back too; an explicit rollback frees the
                // connection for the next caller at once.
                let _ = tx.rollback().await;
                Err(map_overlap(e))
            }
        }
    }

    /// Runs `work` on the write connection in the next group commit (see `writer`), answering once it is
    /// durable.
    pub async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> futures_util::future::BoxFuture<'c, StoreResult<T>>
            + Send
            + 'static,
    {
        match &self.db {
            Db::Sqlite { writer, .. } => writer.write(work).await,
            Db::Postgres { pool } => self.write_pg(pool, work).await,
        }
    }

    /// `write` for work whose writes are one atomic step: a single statement or one `Batch`.
    pub async fn write_atomic<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> futures_util::future::BoxFuture<'c, StoreResult<T>>
            + Send
            + 'static,
    {
        match &self.db {
            Db::Sqlite { writer, .. } => writer.write_atomic(work).await,
            Db::Postgres { pool } => self.write_pg(pool, work).await,
        }
    }

    /// `write_atomic` answered before the commit when `early` allows (see `Writer::write_early`).
    pub async fn write_early<T, F>(&self, work: F, early: fn(&T) -> bool) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> futures_util::future::BoxFuture<'c, StoreResult<T>>
            + Send
            + 'static,
    {
        match &self.db {
            Db::Sqlite { writer, .. } => writer.write_early(work, early).await,
            Db::Postgres { pool } => self.write_pg(pool, work).await,
        }
    }

    fn written(&self) {
        self.epoch.fetch_add(1, Ordering::Release);
    }

    /// The team and its queue, from a cache at most `SNAPSHOT_TTL` old and never older than this process's
    /// last write.
    pub async fn team_snapshot(&self, slug: &str) -> StoreResult<Option<Arc<TeamSnapshot>>> {
        let epoch = self.epoch.load(Ordering::Acquire);
        if let Some((e, at, snap)) = self.snapshots.lock().expect("snapshot lock").get(slug) {
            if *e == epoch && at.elapsed() < SNAPSHOT_TTL {
                return Ok(Some(snap.clone()));
            }
        }
        let Some(team) = self.team_by_slug(slug).await? else {
            return Ok(None);
        };
        let queue = self.team_queue(team.id).await?;
        let routing = self.team_routing(team.id).await?;
        let snap = Arc::new(TeamSnapshot {
            team,
            queue,
            routing,
        });
        let mut cache = self.snapshots.lock().expect("snapshot lock");
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(slug.to_owned(), (epoch, Instant::now(), snap.clone()));
        Ok(Some(snap))
    }

    /// A write transaction: on SQLite holding the write lock from its first statement; on PostgreSQL a
    /// READ COMMITTED transaction whose statements lock what they must (`Backend::for_update`).
    pub async fn begin_write(&self) -> StoreResult<Tx> {
        Ok(match &self.db {
            Db::Sqlite { write, .. } => Conn::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres { pool } => Conn::Postgres(pool.begin().await?),
        })
    }

    /// Whether the database answers and every migration this binary knows is applied.
    pub async fn ready(&self) -> StoreResult<bool> {
        let applied = sql("SELECT COUNT(*) AS n FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(self.reader())
            .await?
            .int("n")?;
        let known = match self.backend() {
            Backend::Sqlite => MIGRATOR.iter().count(),
            Backend::Postgres => MIGRATOR_PG.iter().count(),
        };
        Ok(applied as usize >= known)
    }
}

pub(crate) fn to_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

pub(crate) fn from_secs(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(s, 0).single().unwrap_or_default()
}
