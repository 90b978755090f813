//! The store's kernel: the open database, and a write transaction on either backend.
//!
//! Queries are written once and compiled for both backends: [`on_pool!`] runs a body
//! with whichever pool is open, [`on_tx!`] with whichever transaction. Helpers that
//! several writes share (a timeline row, a queued message, audit events) are plain
//! functions over [`Tx`], so a write composes them in one transaction.

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Postgres, Sqlite, Transaction};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The open database; on SQLite, with the queue its write transactions take turns
/// in.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(sqlx::SqlitePool, WriteGate),
    Postgres(sqlx::PgPool),
}

/// This process's write transactions on one SQLite database, one at a time, in the
/// order they asked: SQLite lets one transaction write at a time, and a transaction
/// that finds the lock taken sleeps in SQLite's busy handler, in growing steps (up
/// to 100 ms), and retries, so under load the lock sits free while the waiters
/// sleep, and each of them holds a pooled connection that reads could use. Taking a
/// turn here first, before a pooled connection, lets the next writer in the moment
/// the last one ends, and leaves the pool to the reads (docs/performance.md).
///
/// Other processes on the same file, and the audit writer's own connection, still
/// meet the lock in SQLite's busy handler, as before. A turn not given within the
/// busy timeout is not waited for longer: the transaction then asks SQLite as it
/// would without the queue, so a transaction begun while its own task holds a turn
/// fails (after at most twice the busy timeout: the turn's wait, then SQLite's)
/// instead of waiting forever.
#[derive(Clone, Debug)]
pub(crate) struct WriteGate {
    turns: Arc<Semaphore>,
    wait: Duration,
}

impl WriteGate {
    /// A queue that gives up on a turn after `wait` (the busy timeout).
    pub(crate) fn new(wait: Duration) -> Self {
        Self {
            turns: Arc::new(Semaphore::new(1)),
            wait,
        }
    }

    /// Waits for this process's turn to write; `None` when it did not come within
    /// the wait.
    async fn turn(&self) -> Option<OwnedSemaphorePermit> {
        let turn = Arc::clone(&self.turns).acquire_owned();
        tokio::time::timeout(self.wait, turn).await.ok()?.ok()
    }
}

/// Runs `$body` with `$pool` bound to whichever backend's pool `$db` holds.
///
/// The body is written once and compiled for both backends, so a query that
/// one dialect cannot run is a compile error or a test failure on that backend.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool, _) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// A write transaction on either backend; dropped without [`Tx::commit`], it rolls
/// back. On SQLite it holds this process's turn to write ([`WriteGate`]) until it
/// ends.
#[derive(Debug)]
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>, Option<OwnedSemaphorePermit>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$conn` bound to the connection of the transaction `$tx` (a
/// `&mut Tx`), whichever backend it is on.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(tx, _) => {
                let $conn: &mut sqlx::SqliteConnection = &mut *tx;
                $body
            }
            $crate::db::Tx::Postgres(tx) => {
                let $conn: &mut sqlx::PgConnection = &mut *tx;
                $body
            }
        }
    };
}
pub(crate) use on_tx;

/// How a transaction that will write begins on each backend. SQLite's plain `BEGIN`
/// is deferred: a transaction that reads first and writes later fails at once
/// (`SQLITE_BUSY`, no waiting) if another connection wrote in between, so Enamel's
/// write transactions take SQLite's write lock at the start (`BEGIN IMMEDIATE`),
/// waiting for it within the busy timeout instead. PostgreSQL needs nothing special.
pub(crate) trait WriteBegin {
    const BEGIN: &'static str;
}

impl WriteBegin for Sqlite {
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
}

impl WriteBegin for Postgres {
    const BEGIN: &'static str = "BEGIN";
}

/// Begins a write transaction on `pool` in a task of its own, so that a caller
/// cancelled while `BEGIN` is in flight (an aborted task, a client that hangs up)
/// cannot leave the pooled connection inside a transaction nothing will end.
/// sqlx 0.9.0 on PostgreSQL counts the transaction for its rollback-on-drop only
/// once `BEGIN` has answered (sqlx issue 4393, fixed upstream after 0.9.0),
/// and its pool does not look at the session's transaction status on release: the
/// next borrower's statements, the audit writer's included, would run inside that
/// transaction, hold their locks and never commit. Here the task always finishes
/// the `BEGIN`; when its caller is gone it drops the transaction, which rolls back.
/// One path for both backends (SQLite's begin was already cancel-safe); the task
/// costs microseconds against a transaction's milliseconds.
pub(crate) async fn begin_on<DB: sqlx::Database + WriteBegin>(
    pool: &sqlx::Pool<DB>,
) -> Result<Transaction<'static, DB>, sqlx::Error> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin_with(DB::BEGIN).await })
        .await
        .map_err(|err| sqlx::Error::Io(std::io::Error::other(err)))?
}

impl Db {
    /// Begins a write transaction (on SQLite, holding the write lock from the start).
    pub(crate) async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Self::Sqlite(pool, gate) => {
                let turn = gate.turn().await;
                Tx::Sqlite(begin_on(pool).await?, turn)
            }
            Self::Postgres(pool) => Tx::Postgres(begin_on(pool).await?),
        })
    }
}

impl Tx {
    /// Commits everything written in the transaction, or nothing.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(tx, turn) => {
                let committed = tx.commit().await;
                drop(turn);
                committed
            }
            Self::Postgres(tx) => tx.commit().await,
        }
    }

    /// Whether the transaction is on PostgreSQL (for the few statements whose
    /// spelling differs).
    pub(crate) const fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

impl crate::Store {
    /// Begins a write transaction on the store's database.
    pub(crate) async fn begin(&self) -> anyhow::Result<Tx> {
        Ok(self.db.begin_write().await?)
    }
}

impl Tx {
    /// Commits the transaction with `events` (all of one log) appended in it: the
    /// write and its audit events are durable together, or neither is.
    pub(crate) async fn commit_with(
        self,
        events: &[&enamel_audit::entry::Event],
    ) -> anyhow::Result<()> {
        crate::audit::commit_with_events(self, events).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    fn options(busy_timeout: Duration) -> crate::ConnectOptions {
        crate::ConnectOptions {
            max_connections: 2,
            busy_timeout,
            ..crate::ConnectOptions::default()
        }
    }

    /// While one write transaction is open, the writes queued behind it wait for
    /// their turn without a pooled connection: a read still gets the pool's other
    /// connection at once. (Waiting in SQLite's busy handler instead, one of them
    /// would hold that connection for up to the busy timeout.)
    #[tokio::test]
    async fn writes_queued_on_sqlite_leave_the_pool_to_reads() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            crate::pool::sqlite_test_store(dir.path(), &options(Duration::from_secs(5))).await;
        let open = store.db.begin_write().await.unwrap();
        let queued: Vec<_> = (0..4)
            .map(|_| {
                let db = store.db.clone();
                tokio::spawn(async move { db.begin_write().await.unwrap().commit().await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let read = on_pool!(&store.db, pool => {
            tokio::time::timeout(
                Duration::from_secs(2),
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_heads").fetch_one(pool),
            )
            .await
        });
        assert!(
            matches!(read, Ok(Ok(_))),
            "the read waited for a connection"
        );
        open.commit().await.unwrap();
        for write in queued {
            write.await.unwrap().unwrap();
        }
    }

    /// A `BEGIN` whose caller goes away while it is in flight leaves the pooled
    /// connection outside any transaction (sqlx 0.9.0's own `begin` on PostgreSQL
    /// would leave it inside one, for the next borrower). Each try races the begin
    /// against a growing number of yields, so the cancellation walks across the
    /// `BEGIN`'s round trip; the pool has one connection, so the next statement runs
    /// on the same session, and `SAVEPOINT` succeeds only inside a transaction.
    #[tokio::test]
    async fn a_begin_cancelled_in_flight_leaves_no_transaction_open() {
        let Ok(url) = std::env::var("ENAMEL_TEST_POSTGRES_URL") else {
            return;
        };
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        let mut cancelled = 0;
        for yields in 0..300 {
            tokio::select! {
                _ = super::begin_on(&pool) => {}
                () = async {
                    for _ in 0..yields {
                        tokio::task::yield_now().await;
                    }
                } => cancelled += 1,
            }
            let inside = sqlx::query("SAVEPOINT probe").execute(&pool).await.is_ok();
            assert!(!inside, "try {yields} left the connection in a transaction");
        }
        assert!(cancelled > 0, "some begins were cancelled");
    }

    /// A turn that does not come within the busy timeout is not waited for longer:
    /// the transaction asks SQLite, which refuses it after the timeout, as it did
    /// before the queue, rather than waiting forever (a transaction begun while its
    /// own task holds the turn would otherwise never end).
    #[tokio::test]
    async fn a_turn_not_given_within_the_busy_timeout_fails_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            crate::pool::sqlite_test_store(dir.path(), &options(Duration::from_millis(200))).await;
        let open = store.db.begin_write().await.unwrap();
        let second = tokio::time::timeout(Duration::from_secs(10), store.db.begin_write()).await;
        assert!(
            matches!(second, Ok(Err(_))),
            "refused by SQLite after the timeout, not left waiting"
        );
        open.commit().await.unwrap();
        store
            .db
            .begin_write()
            .await
            .unwrap()
            .commit()
            .await
            .unwrap();
    }
}
