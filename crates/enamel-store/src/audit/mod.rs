//! The audit log's storage: appends with group commit, checkpoints, and reading a
//! log back for verification and export (docs/audit.md).
//!
//! Appends to one log are serialized by its head row: the transaction first writes
//! (SQLite takes its write lock there) and then reads the head `FOR UPDATE`
//! (PostgreSQL locks the row), so two writers, in one process or in several, can
//! never both extend the same tree size; the `(scope, idx)` primary key refuses a
//! fork even if that logic were wrong.
//!
//! [`AuditLog::record`] hands an event to a background writer that gathers every
//! event waiting at that moment into one transaction per log (group commit) and
//! answers each caller only after that transaction is durable.
//!
//! On SQLite the writer commits on a connection of its own without waiting for the
//! disk (`synchronous = NORMAL`) and a second task makes the write-ahead log durable
//! (`fdatasync`) before it answers, so the next batch is written while the last one
//! is being flushed (docs/audit.md, "Writing").

use std::collections::BTreeMap;

use anyhow::{Context as _, anyhow};
use enamel_audit::checkpoint::Checkpoint;
use enamel_audit::entry::{Encoded, Event, Scope, format_timestamp};
use enamel_audit::merkle::{Frontier, Hash};
use tokio::sync::oneshot;

use crate::db::{Tx, on_pool, on_tx};
use crate::{Store, StoreError};

/// SQL to read a log's head on SQLite, whose write transactions hold the
/// database's write lock.
pub(crate) const HEAD_SQL_SQLITE: &str =
    "SELECT size, last_hash, frontier FROM audit_heads WHERE scope = $1";
/// SQL to read a log's head on PostgreSQL, locking its row.
pub(crate) const HEAD_SQL_POSTGRES: &str =
    "SELECT size, last_hash, frontier FROM audit_heads WHERE scope = $1 FOR UPDATE";

/// A log's head: its size, last leaf hash and the tree's right edge.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    pub(crate) size: u64,
    pub(crate) last: Hash,
    pub(crate) frontier: Frontier,
}

impl Head {
    /// The head as stored; refuses a row whose parts disagree.
    pub(crate) fn from_row(size: i64, last_hash: Vec<u8>, frontier: &str) -> anyhow::Result<Self> {
        let frontier: Frontier =
            serde_json::from_str(frontier).context("reading the log's frontier")?;
        let last: Hash = last_hash
            .try_into()
            .map_err(|_| anyhow!("malformed audit head"))?;
        let size = u64::try_from(size)?;
        if size != frontier.size() {
            return Err(anyhow!("the audit head's size and frontier disagree"));
        }
        Ok(Self {
            size,
            last,
            frontier,
        })
    }

    /// The rows of `events` (each with its encoding) appended after this head, and
    /// the head after them.
    pub(crate) fn extend(&self, events: &[(&Event, &Encoded)]) -> (Vec<EntryRow>, Self) {
        let mut next = self.clone();
        let rows = events
            .iter()
            .map(|&(event, encoded)| {
                let index = next.size;
                let bytes = encoded.at(index, &next.last);
                let leaf = enamel_audit::merkle::leaf_hash(&bytes);
                next.frontier.push(leaf);
                next.last = leaf;
                next.size += 1;
                EntryRow {
                    index: i64::try_from(index).unwrap_or(i64::MAX),
                    bytes,
                    leaf,
                    at: event.timestamp,
                    action: event.action.as_str(),
                    actor_id: event.actor_id.clone(),
                    patient_id: event.patient_id,
                    outcome: event.outcome.as_str(),
                }
            })
            .collect();
        (rows, next)
    }
}

/// One entry as inserted: the canonical bytes, the leaf hash and the query columns.
pub(crate) struct EntryRow {
    pub(crate) index: i64,
    pub(crate) bytes: Vec<u8>,
    pub(crate) leaf: Hash,
    pub(crate) at: time::OffsetDateTime,
    pub(crate) action: &'static str,
    pub(crate) actor_id: Option<String>,
    pub(crate) patient_id: Option<uuid::Uuid>,
    pub(crate) outcome: &'static str,
}

/// Reads the head of the log whose key is `$key` in the open transaction `$tx`,
/// creating it if the log is new. The creation is a write first: on SQLite it takes
/// the database's write lock (if the transaction does not hold it yet) before the
/// head is read, so no other writer can read the same head; PostgreSQL locks the
/// row with `$head_sql`'s `FOR UPDATE`.
macro_rules! read_head {
    ($tx:ident, $head_sql:expr, $key:expr) => {
        async {
            let key: &str = $key;
            sqlx::query(
                "INSERT INTO audit_heads (scope, size, last_hash, frontier) \
                 VALUES ($1, 0, $2, $3) ON CONFLICT (scope) DO NOTHING",
            )
            .bind(key)
            .bind(&[0_u8; 32][..])
            .bind(serde_json::to_string(
                &enamel_audit::merkle::Frontier::default(),
            )?)
            .execute(&mut *$tx)
            .await?;
            let (size, last_hash, frontier): (i64, Vec<u8>, String) = sqlx::query_as($head_sql)
                .bind(key)
                .fetch_one(&mut *$tx)
                .await?;
            $crate::audit::Head::from_row(size, last_hash, &frontier)
        }
    };
}

/// Stores `$head` as the head of the log `$key` in `$tx`, whose row the
/// transaction has read and holds ([`read_head`]).
macro_rules! store_head {
    ($tx:ident, $key:expr, $head:expr) => {
        async {
            let key: &str = $key;
            let head: &$crate::audit::Head = $head;
            let written = sqlx::query(
                "UPDATE audit_heads SET size = $2, last_hash = $3, frontier = $4 WHERE scope = $1",
            )
            .bind(key)
            .bind(i64::try_from(head.size)?)
            .bind(&head.last[..])
            .bind(serde_json::to_string(&head.frontier)?)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
            anyhow::ensure!(written == 1, "the audit head was not stored");
            Ok::<(), anyhow::Error>(())
        }
    };
}

/// Inserts `$rows` of the log `$key` in `$tx` (a connection or transaction of
/// either backend), in statements of about `$max_bytes` of entries.
macro_rules! insert_rows {
    ($tx:ident, $key:expr, $rows:expr, $max_bytes:expr) => {
        $crate::audit::InsertEntries::insert_entries(&mut *$tx, $key, $rows, $max_bytes)
    };
}

/// Inserting entry rows, spelled for each backend.
pub(crate) trait InsertEntries {
    /// Inserts `rows` of the log `key`, in statements of at most
    /// [`ROWS_PER_STATEMENT`] rows and about `max_bytes` of entries.
    fn insert_entries<'a>(
        &'a mut self,
        key: &'a str,
        rows: &'a [EntryRow],
        max_bytes: usize,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'a;
}

impl InsertEntries for sqlx::SqliteConnection {
    /// One multi-row `VALUES` statement per cut (SQLite has no arrays).
    async fn insert_entries(
        &mut self,
        key: &str,
        rows: &[EntryRow],
        max_bytes: usize,
    ) -> anyhow::Result<()> {
        for chunk in statements(rows, max_bytes) {
            let mut sql = String::new();
            push_sqlite_insert(&mut sql, chunk.len(), "");
            bind_sqlite_rows(sqlx::query(sqlx::AssertSqlSafe(sql)), key, chunk)
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }
}

/// Appends to `sql` an INSERT of `rows` entry rows of one log, on SQLite, with
/// positional parameters ([`bind_sqlite_rows`]) and then `condition`, a clause
/// the rows are taken on (or nothing).
fn push_sqlite_insert(sql: &mut String, rows: usize, condition: &str) {
    sql.push_str(
        "INSERT INTO audit_entries \
         (scope, idx, entry, leaf_hash, at, action, actor_id, patient_id, outcome) \
         SELECT ?, v.* FROM (VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    sql.push_str(&", (?, ?, ?, ?, ?, ?, ?, ?)".repeat(rows.saturating_sub(1)));
    sql.push_str(") AS v ");
    sql.push_str(condition);
    sql.push(';');
}

/// Binds the log `key` and `rows` to an INSERT of [`push_sqlite_insert`].
fn bind_sqlite_rows<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    key: &'q str,
    rows: &'q [EntryRow],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    query = query.bind(key);
    for row in rows {
        query = query
            .bind(row.index)
            .bind(&row.bytes)
            .bind(&row.leaf[..])
            .bind(AuditTime(row.at))
            .bind(row.action)
            .bind(row.actor_id.as_deref())
            .bind(row.patient_id)
            .bind(row.outcome);
    }
    query
}

impl InsertEntries for sqlx::PgConnection {
    /// One statement of arrays per cut: the same text whatever the number of rows,
    /// so it is prepared once per connection and stays in sqlx's statement cache.
    async fn insert_entries(
        &mut self,
        key: &str,
        rows: &[EntryRow],
        max_bytes: usize,
    ) -> anyhow::Result<()> {
        for chunk in statements(rows, max_bytes) {
            bind_columns(sqlx::query(PG_INSERT).bind(key), chunk)
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }
}

/// The columns of `audit_entries` after its scope, as PostgreSQL arrays `$2` to
/// `$9`, one element a row (`UNNEST` turns them back into rows).
macro_rules! pg_rows {
    () => {
        "UNNEST($2::int8[], $3::bytea[], $4::bytea[], $5::timestamptz[], \
         $6::text[], $7::text[], $8::uuid[], $9::text[]) \
         AS r(idx, entry, leaf_hash, at, action, actor_id, patient_id, outcome)"
    };
}

/// Inserts the rows of [`pg_rows`] into the log `$1`.
const PG_INSERT: &str = concat!(
    "INSERT INTO audit_entries \
     (scope, idx, entry, leaf_hash, at, action, actor_id, patient_id, outcome) \
     SELECT $1, r.* FROM ",
    pg_rows!()
);

/// Binds `rows` as the arrays `$2` to `$9` of [`pg_rows`].
fn bind_columns<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    rows: &'q [EntryRow],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(rows.iter().map(|r| r.index).collect::<Vec<i64>>())
        .bind(
            rows.iter()
                .map(|r| r.bytes.as_slice())
                .collect::<Vec<&[u8]>>(),
        )
        .bind(rows.iter().map(|r| &r.leaf[..]).collect::<Vec<&[u8]>>())
        .bind(
            rows.iter()
                .map(|r| r.at)
                .collect::<Vec<time::OffsetDateTime>>(),
        )
        .bind(rows.iter().map(|r| r.action).collect::<Vec<&str>>())
        .bind(
            rows.iter()
                .map(|r| r.actor_id.as_deref())
                .collect::<Vec<Option<&str>>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.patient_id)
                .collect::<Vec<Option<uuid::Uuid>>>(),
        )
        .bind(rows.iter().map(|r| r.outcome).collect::<Vec<&str>>())
}

/// Moves the head of the log `$1` to the size, last hash and frontier `$10` to
/// `$12` if it still has the size `$13` (compare and set), and only then inserts
/// the rows of [`pg_rows`]: one statement, so one round trip.
const PG_EXTEND: &str = concat!(
    "WITH head AS (UPDATE audit_heads SET size = $10, last_hash = $11, frontier = $12 \
     WHERE scope = $1 AND size = $13 RETURNING scope) \
     INSERT INTO audit_entries \
     (scope, idx, entry, leaf_hash, at, action, actor_id, patient_id, outcome) \
     SELECT head.scope, r.* FROM head CROSS JOIN ",
    pg_rows!()
);

/// Entries that extend the log `key` from the head its writer left: `rows` go
/// after the head of size `from`, and `next` is the head after all of the batch's
/// entries, with `frontier` its frontier as stored.
pub(crate) struct Extension<'a> {
    pub(crate) key: &'a str,
    pub(crate) rows: &'a [EntryRow],
    pub(crate) next: &'a Head,
    pub(crate) frontier: &'a str,
    pub(crate) from: u64,
}

/// On PostgreSQL, moves the head of the log from `from` to `next` and inserts
/// `rows` (the first of the entries between) in one statement; `false`, with
/// nothing written, when the head no longer has that size.
pub(crate) async fn extend_head_postgres(
    conn: &mut sqlx::PgConnection,
    extension: &Extension<'_>,
) -> anyhow::Result<bool> {
    let Extension { key, rows, .. } = *extension;
    let inserted = bind_columns(sqlx::query(PG_EXTEND).bind(key), rows)
        .bind(i64::try_from(extension.next.size)?)
        .bind(&extension.next.last[..])
        .bind(extension.frontier)
        .bind(i64::try_from(extension.from)?)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(inserted == rows.len() as u64 && !rows.is_empty())
}

/// On SQLite, in one call to the connection's thread (each call is a hand-over
/// between threads, which costs more than the statements themselves): begins a
/// write transaction, inserts `rows` (every entry of the batch) if the head of the
/// log still has the size `from`, then moves the head to `next` on the same
/// condition (compare and set), and commits. `false`, with nothing written, when
/// the head no longer has that size.
///
/// An error can leave the transaction open; the caller then drops the connection,
/// which rolls it back.
pub(crate) async fn extend_head_sqlite(
    conn: &mut sqlx::SqliteConnection,
    extension: &Extension<'_>,
) -> anyhow::Result<bool> {
    // The transaction holds the write lock from its start, so the condition the
    // inserts test holds for the UPDATE after them too; `changes()` right after
    // the UPDATE tells whether it moved the head. Parameters are positional (`?`):
    // SQLite looks a numbered one up by name, in time that grows with the
    // statement's parameters, and these have hundreds.
    const HEAD_UNMOVED: &str =
        "WHERE EXISTS (SELECT 1 FROM audit_heads WHERE scope = ? AND size = ?)";
    let Extension {
        key, rows, next, ..
    } = *extension;
    anyhow::ensure!(!rows.is_empty(), "no entries to append");
    let chunks = rows.chunks(appender::ROWS_PER_STATEMENT);
    let mut sql = String::from("BEGIN IMMEDIATE; ");
    for chunk in chunks.clone() {
        push_sqlite_insert(&mut sql, chunk.len(), HEAD_UNMOVED);
    }
    sql.push_str(
        " UPDATE audit_heads SET size = ?, last_hash = ?, frontier = ? \
         WHERE scope = ? AND size = ?; SELECT changes(); COMMIT",
    );

    // The values in the order of their `?`.
    let size = i64::try_from(extension.from)?;
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for chunk in chunks {
        query = bind_sqlite_rows(query, key, chunk).bind(key).bind(size);
    }
    query = query
        .bind(i64::try_from(next.size)?)
        .bind(&next.last[..])
        .bind(extension.frontier)
        .bind(key)
        .bind(size);
    // Every statement runs (`fetch_all`), the closing COMMIT too; the one row is
    // what `changes()` said.
    let answers = query.fetch_all(&mut *conn).await?;
    let moved: i64 = match answers.as_slice() {
        [answer] => sqlx::Row::try_get(answer, 0)?,
        _ => anyhow::bail!("unexpected answer to an audit append"),
    };
    Ok(moved == 1)
}

/// Appends `events` (all of one log) inside the open transaction `tx`, so they
/// commit together with the write they record, or not at all; returns the head
/// after them. Takes the head's row lock (PostgreSQL) or relies on the write lock
/// the transaction holds (SQLite).
pub(crate) async fn append_in_tx(tx: &mut Tx, events: &[&Event]) -> anyhow::Result<Head> {
    let Some(first) = events.first() else {
        anyhow::bail!("no events to append");
    };
    let key = first.scope.key();
    let head_sql = if tx.is_postgres() {
        HEAD_SQL_POSTGRES
    } else {
        HEAD_SQL_SQLITE
    };
    let encoded: Vec<Encoded> = events.iter().map(|e| Encoded::new(e)).collect();
    let pairs: Vec<_> = events.iter().copied().zip(&encoded).collect();
    on_tx!(tx, conn => {
        let head = read_head!(conn, head_sql, &key).await?;
        let (rows, next) = head.extend(&pairs);
        insert_rows!(conn, &key, &rows, STATEMENT_BYTES_IN_TX).await?;
        store_head!(conn, &key, &next).await?;
        Ok(next)
    })
}

/// Commits `tx` with `events` (all of one log) appended in it: the write and its
/// audit events are durable together or not at all.
pub(crate) async fn commit_with_events(mut tx: Tx, events: &[&Event]) -> anyhow::Result<()> {
    if !events.is_empty() {
        append_in_tx(&mut tx, events).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The audit log of a store; see [`Store::audit`].
#[derive(Debug)]
pub struct AuditLog<'a> {
    store: &'a Store,
}

/// One stored entry, as verification and export read it.
#[derive(Debug, Clone)]
pub struct StoredEntry {
    pub index: u64,
    pub entry: Vec<u8>,
    pub leaf_hash: Hash,
}

impl<'a> AuditLog<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    pub(crate) const fn store(&self) -> &'a Store {
        self.store
    }

    /// Records an event and returns its index once it is durable. If it cannot be
    /// written, the caller must not go on with the access it describes.
    pub async fn record(&self, event: Event) -> Result<u64, StoreError> {
        let (done, answer) = oneshot::channel();
        let encoded = Encoded::new(&event);
        self.store
            .audit
            .sender
            .send(Pending {
                event,
                encoded,
                done,
            })
            .await
            .map_err(|_| StoreError::Unexpected(anyhow!("the audit writer has stopped")))?;
        let index = answer
            .await
            .map_err(|_| StoreError::Unexpected(anyhow!("the audit writer has stopped")))?
            .map_err(|message| StoreError::Unexpected(anyhow!(message)))?;
        Ok(index)
    }

    /// Every log's scope and size.
    pub async fn heads(&self) -> Result<Vec<(Scope, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as("SELECT scope, size FROM audit_heads ORDER BY scope").fetch_all(pool).await
        })
        .context("reading audit heads")?;
        Ok(rows
            .into_iter()
            .filter_map(|(scope, size)| Some((Scope::parse(&scope)?, u64::try_from(size).ok()?)))
            .collect())
    }

    /// Every log with any row in the database: a head, entries or checkpoints. A
    /// log whose head row was deleted is still found by its entries.
    pub async fn scopes(&self) -> Result<Vec<Scope>, StoreError> {
        let rows: Vec<String> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(
                "SELECT scope FROM audit_heads UNION SELECT scope FROM audit_entries \
                 UNION SELECT scope FROM audit_checkpoints ORDER BY 1",
            )
            .fetch_all(pool)
            .await
        })
        .context("reading the audit logs")?;
        Ok(rows.iter().filter_map(|s| Scope::parse(s)).collect())
    }

    /// The checkpoints of a log, oldest first.
    pub async fn checkpoints(&self, scope: &Scope) -> Result<Vec<Checkpoint>, StoreError> {
        self.checkpoints_from(scope, 0).await
    }

    /// The checkpoints of a log at or after tree size `size`, oldest first (where a
    /// check resumes, and those it must match on the way), read by the index.
    pub(crate) async fn checkpoints_from(
        &self,
        scope: &Scope,
        size: u64,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        type CheckpointRow = (String, i64, String, time::OffsetDateTime, String, String);
        let rows: Vec<CheckpointRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT scope, tree_size, root, at, signature, key_id FROM audit_checkpoints \
                 WHERE scope = $1 AND tree_size >= $2 ORDER BY tree_size",
            )
            .bind(scope.key())
            .bind(i64::try_from(size).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await
        })
        .context("reading checkpoints")?;
        Ok(rows
            .into_iter()
            .map(|(scope, size, root, at, signature, key_id)| Checkpoint {
                scope,
                tree_size: u64::try_from(size).unwrap_or_default(),
                root,
                timestamp: format_timestamp(at),
                signature,
                key_id,
            })
            .collect())
    }

    /// Entries of a log from index `from`, at most `limit`, in index order, as
    /// stored (whatever their content: verification judges it).
    pub async fn entries(
        &self,
        scope: &Scope,
        from: u64,
        limit: u32,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let page = self.entries_with_columns(scope, from, limit).await?;
        Ok(page.into_iter().map(|(entry, _)| entry).collect())
    }
}

impl Store {
    /// An event by `actor` in its practice's log (or the platform's), now by the
    /// store's clock.
    #[must_use]
    pub fn event_for(
        &self,
        actor: &enamel_domain::Actor,
        action: enamel_audit::entry::Action,
        resource_type: enamel_audit::entry::ResourceType,
        resource_id: Option<String>,
        outcome: enamel_audit::entry::Outcome,
    ) -> Event {
        Event {
            timestamp: self.now(),
            action,
            actor_id: Some(actor.audit_id()),
            actor_type: actor.actor_type(),
            scope: actor.practice().map_or(Scope::Platform, Scope::Practice),
            patient_id: None,
            resource_type,
            resource_id,
            outcome,
            ip_address: None,
            user_agent: None,
            correlation_id: None,
            detail: BTreeMap::new(),
        }
    }
}

mod appender;
mod index;
mod purge;
mod signing;
mod time_column;
mod verify;

use appender::Pending;
pub(crate) use appender::{Appender, STATEMENT_BYTES_IN_TX, statements};
pub(crate) use time_column::AuditTime;

pub use index::{INDEX_BATCH, Indexed};
pub use purge::{MINIMUM_RETENTION_DAYS, Purged};
pub use signing::Checkpointed;
pub use verify::Outside;
