//! The store's kernel: the open database, and a write transaction on either backend.
//!
//! Queries are written once and compiled for both backends: [`on_pool!`] runs a body
//! with whichever pool is open, [`on_tx!`] with whichever transaction. Helpers that
//! several writes share (a timeline row, a queued message, audit events) are plain
//! functions over [`Tx`], so a write composes them in one transaction.

use sqlx::{Postgres, Sqlite, Transaction};

/// The open database.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Runs `$body` with `$pool` bound to whichever backend's pool `$db` holds.
///
/// The body is written once and compiled for both backends, so a query that
/// one dialect cannot run is a compile error or a test failure on that backend.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// A write transaction on either backend; dropped without [`Tx::commit`], it rolls
/// back.
#[derive(Debug)]
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$conn` bound to the connection of the transaction `$tx` (a
/// `&mut Tx`), whichever backend it is on.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(tx) => {
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

/// The statement that begins a write transaction on `pool`'s backend.
pub(crate) fn write_begin<DB: sqlx::Database + WriteBegin>(_pool: &sqlx::Pool<DB>) -> &'static str {
    DB::BEGIN
}

impl Db {
    /// Begins a write transaction (on SQLite, holding the write lock from the start).
    pub(crate) async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Self::Sqlite(pool) => Tx::Sqlite(pool.begin_with(write_begin(pool)).await?),
            Self::Postgres(pool) => Tx::Postgres(pool.begin_with(write_begin(pool)).await?),
        })
    }
}

impl Tx {
    /// Commits everything written in the transaction, or nothing.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Sqlite(tx) => tx.commit().await,
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
