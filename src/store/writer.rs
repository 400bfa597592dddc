//! Group commit. SQLite has one writer and a durable commit costs an fsync, so writes that arrive together
//! are handed to one task that runs them in one transaction and commits once: many bookings, one fsync.
//!
//! Each piece of work still stands on its own. It runs inside its own savepoint, after the work queued before
//! it (so it sees what they wrote and is checked against it), and is rolled back alone if it fails. Its
//! caller hears back only once the whole transaction has committed; if the commit fails, every caller in it
//! gets the error, and nothing of theirs was written.

use std::panic::AssertUnwindSafe;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::{sql, Conn, StoreError, StoreResult};

/// Most pieces of work in one transaction: enough to share an fsync among many callers, few enough that
/// the first of them does not wait long for the last.
const MAX_BATCH: usize = 128;

/// What the writer calls once the batch is settled: `None` when it committed, else why it did not.
type Settle = Box<dyn FnOnce(Option<String>) + Send>;
/// One caller's work: runs its statements and says whether they stand (true) or must be rolled back.
type Run = Box<dyn for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, (Verdict, Settle)> + Send>;

/// How a piece of work is run and answered.
enum Mode<T> {
    /// In a savepoint of its own; answered after the commit.
    Savepoint,
    /// One atomic step, no savepoint; answered after the commit.
    Atomic,
    /// One atomic step, no savepoint; answered at once when the function says the result may be (see
    /// `Writer::write_early`), else after the commit.
    Early(fn(&T) -> bool),
}

impl<T> Mode<T> {
    fn savepoint(&self) -> bool {
        matches!(self, Mode::Savepoint)
    }
}

/// How a piece of work ended, as the batch sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Its writes stand.
    Stands,
    /// It failed: what it wrote must go (its savepoint is rolled back; atomic work left nothing).
    Undo,
    /// It failed and could not undo what it wrote: nothing in this batch can be committed.
    Poisoned,
}

struct Work {
    run: Run,
    /// Whether the work needs a savepoint of its own: it may write in more than one step. Work whose writes
    /// are one atomic step (a single statement, which SQLite undoes when it fails, or a `Batch`, which
    /// wraps its statements in a savepoint of its own) is run without one.
    savepoint: bool,
}

/// The handle use cases write through; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::UnboundedSender<Work>,
}

impl Writer {
    /// Starts the writer task on `pool` (the single write connection); `committed` runs after each commit.
    pub(super) fn start(pool: SqlitePool, committed: impl Fn() + Send + 'static) -> Self {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, rx, committed));
        Self { queue }
    }

    /// Runs `work` in the next group commit and answers its result once that has committed. An error from
    /// `work` rolls back what `work` wrote (its savepoint), and nothing else.
    pub async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, StoreResult<T>> + Send + 'static,
    {
        self.submit(work, Mode::<T>::Savepoint).await
    }

    /// `write` for work whose writes are one atomic step: a single statement, or one `Batch` (no savepoint
    /// is needed: a failed step leaves nothing). A database error from such work fails its whole batch, as
    /// the safe course when the step's own undo may not have run.
    pub async fn write_atomic<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, StoreResult<T>> + Send + 'static,
    {
        self.submit(work, Mode::<T>::Atomic).await
    }

    /// `write_atomic` answered as soon as the work has run, before its batch commits, when `early` says
    /// its result may be: for a write whose loss (the batch failing to commit) a later step notices or
    /// repairs — an idempotency claim that starts a request (the booking reads it again inside its own
    /// write; nothing else reads claims). Results that are final answers built on what the batch has not
    /// committed yet wait for the commit like any other.
    pub async fn write_early<T, F>(&self, work: F, early: fn(&T) -> bool) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, StoreResult<T>> + Send + 'static,
    {
        self.submit(work, Mode::Early(early)).await
    }

    async fn submit<T, F>(&self, work: F, mode: Mode<T>) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, StoreResult<T>> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let savepoint = mode.savepoint();
        let run: Run = Box::new(move |conn| {
            Box::pin(async move {
                let result = AssertUnwindSafe(work(conn))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| Err(gone("a write panicked")));
                let verdict = match (&result, &mode) {
                    (Ok(_), _) => Verdict::Stands,
                    (Err(StoreError::Poisoned(_)), _) => Verdict::Poisoned,
                    // Work without a savepoint that hit the database may have lost the whole transaction
                    // (SQLite rolls it back on a full disk or an I/O error): nothing in the batch stands.
                    (Err(StoreError::Db(_) | StoreError::Duplicate(_)), m) if !m.savepoint() => {
                        Verdict::Poisoned
                    }
                    (Err(_), _) => Verdict::Undo,
                };
                if let (Mode::Early(early), Ok(v)) = (&mode, &result) {
                    if early(v) {
                        let _ = answer.send(result);
                        return (verdict, Box::new(|_| {}) as Settle);
                    }
                }
                let settle: Settle = Box::new(move |failed| {
                    let _ = answer.send(match failed {
                        None => result,
                        Some(why) => Err(gone(&why)),
                    });
                });
                (verdict, settle)
            })
        });
        self.queue
            .send(Work { run, savepoint })
            .map_err(|_| gone("the writer has stopped"))?;
        answered
            .await
            .map_err(|_| gone("the write was not run (its batch failed)"))?
    }
}

fn gone(why: &str) -> StoreError {
    StoreError::Db(sqlx::Error::Protocol(format!("group commit: {why}")))
}

async fn run(
    pool: SqlitePool,
    mut rx: mpsc::UnboundedReceiver<Work>,
    committed: impl Fn() + Send + 'static,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(work) => batch.push(work),
                Err(_) => break,
            }
        }
        let mut settles = Vec::with_capacity(batch.len());
        let outcome = run_batch(&pool, &mut batch, &mut settles).await;
        let failed = match outcome {
            Ok(()) => {
                committed();
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed; its writes are rolled back");
                Some(e.to_string())
            }
        };
        // Work that never ran (the batch failed before it) is dropped: its caller hears the batch failed.
        batch.clear();
        for settle in settles {
            settle(failed.clone());
        }
    }
}

async fn run_batch(
    pool: &SqlitePool,
    batch: &mut Vec<Work>,
    settles: &mut Vec<Settle>,
) -> StoreResult<()> {
    let mut tx = Conn::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?);
    for work in batch.drain(..) {
        if work.savepoint {
            sql("SAVEPOINT work").execute(&mut tx).await?;
        }
        let (verdict, settle) = (work.run)(&mut tx).await;
        settles.push(settle);
        match verdict {
            Verdict::Poisoned => {
                return Err(gone(
                    "a write could not undo itself; the batch is abandoned",
                ));
            }
            _ if !work.savepoint => {}
            Verdict::Stands => {
                sql("RELEASE work").execute(&mut tx).await?;
            }
            Verdict::Undo => {
                sql("ROLLBACK TO work").execute(&mut tx).await?;
                sql("RELEASE work").execute(&mut tx).await?;
            }
        }
    }
    Ok(tx.commit().await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePoolOptions;

    async fn pool() -> SqlitePool {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER PRIMARY KEY)")
            .execute(&pool)
            .await
            .unwrap();
        pool
    }

    async fn count(pool: &SqlitePool) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn concurrent_writes_each_stand_or_fall_alone_and_see_each_other() {
        let pool = pool().await;
        let writer = Writer::start(pool.clone(), || {});
        // 100 writers insert 0..50 twice over: each value goes in once; the second try of a value sees the
        // first (in the same batch or an earlier one) and fails alone, its savepoint rolled back.
        let tries = (0..100).map(|i| {
            let w = writer.clone();
            async move {
                w.write(move |c| {
                    Box::pin(async move {
                        sql("INSERT INTO t (v) VALUES (?)")
                            .bind(i % 50)
                            .execute(&mut *c)
                            .await?;
                        // A second statement, so a failure after a success must be rolled back too.
                        sql("INSERT INTO t (v) VALUES (?)")
                            .bind(1000 + i)
                            .execute(&mut *c)
                            .await?;
                        Ok(i)
                    })
                })
                .await
            }
        });
        let results = futures_util::future::join_all(tries).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 50);
        assert_eq!(
            count(&pool).await,
            100,
            "50 values, each with its companion row"
        );
    }

    #[tokio::test]
    async fn a_failed_piece_of_work_leaves_nothing() {
        let pool = pool().await;
        let writer = Writer::start(pool.clone(), || {});
        let r: StoreResult<()> = writer
            .write(|c| {
                Box::pin(async move {
                    sql("INSERT INTO t (v) VALUES (1)").execute(&mut *c).await?;
                    Err(StoreError::Corrupt("changed its mind".into()))
                })
            })
            .await;
        assert!(r.is_err());
        assert_eq!(count(&pool).await, 0);
        let ok: StoreResult<i64> = writer
            .write(|c| {
                Box::pin(async move {
                    sql("INSERT INTO t (v) VALUES (2)").execute(&mut *c).await?;
                    Ok(2)
                })
            })
            .await;
        assert_eq!(ok.unwrap(), 2);
        assert_eq!(count(&pool).await, 1);
    }
}
