//! The background writer of the audit log: every event waiting at a moment goes into
//! one transaction per log (group commit), and each caller is answered only once
//! that transaction is durable. On SQLite the writer commits on a connection of its
//! own with `synchronous = NORMAL` while a second task makes the write-ahead log
//! durable (`fdatasync`) before answering, so the next batch is written while the
//! last is flushed (docs/audit.md, "Writing").

use crate::db::Db;
use anyhow::Context as _;
use enamel_audit::entry::{Encoded, Event, Scope};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use super::{
    EntryRow, Extension, HEAD_SQL_POSTGRES, HEAD_SQL_SQLITE, Head, extend_head_postgres,
    extend_head_sqlite,
};

/// The most events one transaction takes.
const MAX_BATCH: usize = 4_096;
/// Rows per multi-row INSERT statement (9 parameters each, within both backends'
/// parameter limits).
pub(crate) const ROWS_PER_STATEMENT: usize = 100;
/// Bytes of one statement's message on PostgreSQL, at most: sqlx does not set
/// `TCP_NODELAY`, and a message that takes more than one write (over TLS, more
/// than one 16 KiB record) leaves a last segment that Nagle's algorithm holds until
/// the server's delayed acknowledgement, 40 ms. Statements that each fit one write
/// do not stall (docs/audit.md).
pub(super) const PG_STATEMENT_BYTES: usize = 15 * 1024;
/// What a PostgreSQL statement of entries carries besides its rows, at most: the
/// log's key, the arrays' headers, the message's framing, and the head's size and
/// last hash when the statement also moves the head (its frontier is counted
/// apart).
pub(super) const PG_STATEMENT_FIXED_BYTES: usize = 512;
/// Inside a caller's transaction (a write with its events) there are few events.
pub(crate) const STATEMENT_BYTES_IN_TX: usize = usize::MAX;

/// The bytes a row adds to an INSERT's message on PostgreSQL: each column's value
/// and its 4-byte length (the entry, its 32-byte leaf hash, the 8-byte index and
/// time, the 16-byte patient id, and the texts).
fn row_bytes(row: &EntryRow) -> usize {
    const FIXED: usize = 8 * 4 + 8 + 32 + 8 + 16;
    FIXED
        + row.bytes.len()
        + row.action.len()
        + row.actor_id.as_ref().map_or(0, String::len)
        + row.outcome.len()
}

/// `rows` cut into INSERT statements of at most [`ROWS_PER_STATEMENT`] rows and
/// about `max_bytes` of rows ([`row_bytes`]; always at least one row each).
pub(crate) fn statements(rows: &[EntryRow], max_bytes: usize) -> Vec<&[EntryRow]> {
    statements_after(rows, max_bytes, max_bytes)
}

/// [`statements`] whose first statement takes at most `first_bytes` of rows (it
/// carries something else as well).
fn statements_after(rows: &[EntryRow], first_bytes: usize, max_bytes: usize) -> Vec<&[EntryRow]> {
    let mut statements = Vec::new();
    let (mut start, mut bytes, mut budget) = (0, 0, first_bytes);
    for (i, row) in rows.iter().enumerate() {
        let size = row_bytes(row);
        if i > start && (i - start == ROWS_PER_STATEMENT || bytes + size > budget) {
            statements.push(&rows[start..i]);
            (start, bytes, budget) = (i, 0, max_bytes);
        }
        bytes += size;
    }
    if start < rows.len() {
        statements.push(&rows[start..]);
    }
    statements
}

pub(super) struct Pending {
    pub(super) event: Event,
    /// Encoded by the caller, on its own task.
    pub(super) encoded: Encoded,
    pub(super) done: oneshot::Sender<Result<u64, String>>,
}

/// The handle through which events are recorded; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Appender {
    pub(super) sender: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pending({})", self.event.action.as_str())
    }
}

impl Appender {
    /// Starts the background writer for `db`. It ends when every handle is dropped.
    pub(crate) fn start(db: Db) -> Self {
        Self::start_with(db, write_ahead_log_of)
    }

    /// [`Appender::start`], syncing the file `wal_path` names for a SQLite
    /// database (tests point it at a file that cannot be synced).
    fn start_with(db: Db, wal_path: WalPath) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(write_loop(db, receiver, wal_path));
        Self { sender }
    }
}

/// How many times the writer lets other tasks run before it closes a batch, so
/// that callers woken by the previous commit can join this one. A yield returns at
/// once when no other task is ready, so a lone writer pays nothing.
const GATHER_YIELDS: usize = 4;

/// The writer's connection. On PostgreSQL it is taken from the pool and kept from
/// one batch to the next while events are already waiting, so a busy writer does
/// not queue in the pool behind requests; it goes back as soon as nothing is waiting
/// after a batch (so closing the pool never waits on it). On SQLite it is a
/// connection of the writer's own (see [`SqliteWriter`]). Either is dropped after
/// any error (it may be broken).
pub(super) enum Connection {
    Sqlite(Box<SqliteWriter>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl Connection {
    async fn acquire(db: &Db, wal_path: WalPath) -> anyhow::Result<Self> {
        Ok(match db {
            Db::Sqlite(pool, _) => {
                Self::Sqlite(Box::new(SqliteWriter::open(pool, wal_path).await?))
            }
            Db::Postgres(pool) => Self::Postgres(pool.acquire().await?),
        })
    }
}

/// Pages of write-ahead log after which the writer's commit also checkpoints it
/// into the database (SQLite's default is 1,000). Checkpoints run on the writer's
/// path, and with random patient ids each batch dirties a different set of index
/// pages, so checkpointing less often copies each hot page fewer times: 28,000 to
/// 34,000 appends/s at 64 writers with random ids (docs/audit.md). The log then
/// grows to about 40 MiB.
const WRITER_CHECKPOINT_PAGES: u32 = 10_000;

/// Where SQLite keeps the write-ahead log of a database file.
type WalPath = fn(&std::path::Path) -> std::path::PathBuf;

fn write_ahead_log_of(database: &std::path::Path) -> std::path::PathBuf {
    let mut path = database.as_os_str().to_owned();
    path.push("-wal");
    path.into()
}

/// The SQLite writer's own connection, outside the pool, with `synchronous =
/// NORMAL`: a commit writes the write-ahead log without waiting for the disk, and
/// nothing is answered until [`sync_loop`] has made the log durable with
/// `fdatasync`. Every pooled connection keeps `synchronous = FULL`.
pub(super) struct SqliteWriter {
    connection: sqlx::SqliteConnection,
    wal_path: std::path::PathBuf,
    /// The write-ahead log, opened after the first commit. `None` until then, and
    /// always when the database is not in WAL mode (then the connection keeps
    /// `synchronous = FULL` and a commit is durable when it returns).
    wal: Option<Arc<std::fs::File>>,
    in_wal_mode: bool,
}

impl SqliteWriter {
    async fn open(pool: &sqlx::SqlitePool, wal_path: WalPath) -> anyhow::Result<Self> {
        use sqlx::ConnectOptions as _;
        let options = (*pool.connect_options()).clone();
        let wal_path = wal_path(options.get_filename());
        let mut connection = options
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES.to_string())
            .connect()
            .await
            .context("opening the audit writer's connection")?;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut connection)
            .await?;
        let in_wal_mode = mode.eq_ignore_ascii_case("wal");
        if !in_wal_mode {
            sqlx::query("PRAGMA synchronous = FULL")
                .execute(&mut connection)
                .await?;
        }
        Ok(Self {
            connection,
            wal_path,
            wal: None,
            in_wal_mode,
        })
    }

    /// The write-ahead log to make durable after a commit, or `None` when the
    /// commit was durable already. The file is opened while this connection is
    /// open, so it is the one the commit wrote: SQLite removes the log only when its
    /// last connection closes, and otherwise reuses it in place.
    fn wal(&mut self) -> anyhow::Result<Option<Arc<std::fs::File>>> {
        if !self.in_wal_mode {
            return Ok(None);
        }
        if self.wal.is_none() {
            let file =
                std::fs::File::open(&self.wal_path).context("opening the write-ahead log")?;
            self.wal = Some(Arc::new(file));
        }
        Ok(self.wal.clone())
    }
}

/// A caller's answer: its event's index, or why it was not recorded.
type Answer = oneshot::Sender<Result<u64, String>>;

/// What the writer tells callers when their events cannot be recorded.
const NOT_RECORDED: &str = "the audit log could not be written";

/// A batch committed on SQLite, waiting for its write-ahead log to be durable.
struct Committed {
    wal: Arc<std::fs::File>,
    answers: Vec<(Answer, u64)>,
}

/// Makes the write-ahead log durable for every batch committed so far, with one
/// `fdatasync` for all the batches that arrived while the last one ran, then
/// answers their callers. A failed sync fails them all: an event is never
/// acknowledged before it is on disk.
async fn sync_loop(mut receiver: mpsc::UnboundedReceiver<Committed>) {
    let mut committed = Vec::new();
    while receiver.recv_many(&mut committed, usize::MAX).await > 0 {
        let mut files: Vec<Arc<std::fs::File>> = Vec::new();
        for batch in &committed {
            if !files.iter().any(|file| Arc::ptr_eq(file, &batch.wal)) {
                files.push(Arc::clone(&batch.wal));
            }
        }
        let synced =
            tokio::task::spawn_blocking(move || files.iter().try_for_each(|f| f.sync_data())).await;
        let failed = match synced {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(err.to_string()),
            Err(err) => Some(err.to_string()),
        };
        if let Some(error) = &failed {
            tracing::error!(error, "the audit log's write-ahead log could not be synced");
        }
        for batch in committed.drain(..) {
            for (answer, index) in batch.answers {
                let _ = answer.send(if failed.is_none() {
                    Ok(index)
                } else {
                    Err(NOT_RECORDED.into())
                });
            }
        }
    }
}

async fn write_loop(db: Db, mut receiver: mpsc::Receiver<Pending>, wal_path: WalPath) {
    let syncer = matches!(db, Db::Sqlite(..)).then(|| {
        let (sender, committed) = mpsc::unbounded_channel();
        tokio::spawn(sync_loop(committed));
        sender
    });
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    let mut connection: Option<Connection> = None;
    let mut heads: std::collections::HashMap<Scope, Head> = std::collections::HashMap::new();
    while receiver.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        for _ in 0..GATHER_YIELDS {
            tokio::task::yield_now().await;
            while waiting.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(pending) => waiting.push(pending),
                    Err(_) => break,
                }
            }
        }
        let mut by_scope: BTreeMap<Scope, Vec<Pending>> = BTreeMap::new();
        for pending in waiting.drain(..) {
            by_scope
                .entry(pending.event.scope)
                .or_default()
                .push(pending);
        }
        for (scope, pendings) in by_scope {
            let events: Vec<(&Event, &Encoded)> =
                pendings.iter().map(|p| (&p.event, &p.encoded)).collect();
            let appended = match connection.take() {
                Some(held) => Ok(held),
                None => Connection::acquire(&db, wal_path).await,
            };
            let appended = match appended {
                Ok(mut held) => {
                    let cached = heads.remove(&scope);
                    let result = append(&mut held, scope, &events, cached.as_ref()).await;
                    result.map(|(head, wal)| {
                        let first = head.size - events.len() as u64;
                        heads.insert(scope, head);
                        connection = Some(held);
                        (first, wal)
                    })
                }
                Err(err) => Err(err),
            };
            let count = pendings.len();
            let answers = pendings
                .into_iter()
                .enumerate()
                .map(|(offset, pending)| (pending.done, offset as u64));
            match (appended, &syncer) {
                (Ok((first, Some(wal))), Some(syncer)) => {
                    let answers = answers
                        .map(|(done, offset)| (done, first + offset))
                        .collect();
                    if let Err(unsent) = syncer.send(Committed { wal, answers }) {
                        for (done, _) in unsent.0.answers {
                            let _ = done.send(Err(NOT_RECORDED.into()));
                        }
                    }
                }
                (Ok((first, _)), _) => {
                    for (done, offset) in answers {
                        let _ = done.send(Ok(first + offset));
                    }
                }
                (Err(err), _) => {
                    tracing::error!(scope = %scope, error = format!("{err:#}"), events = count, "audit append failed");
                    for (done, _) in answers {
                        let _ = done.send(Err(NOT_RECORDED.into()));
                    }
                }
            }
        }
        if receiver.is_empty() && matches!(connection, Some(Connection::Postgres(_))) {
            connection = None;
        }
    }
}

/// Appends `events` to the log of `scope` on `connection`, atomically; returns the
/// head after them, and on SQLite the write-ahead log that must still be synced
/// before the events are durable.
///
/// With the head this writer left (`cached`), the entries are built before the
/// database is asked anything and the head is replaced only if it is still that
/// one (compare and set): one statement fewer than reading it. If anyone else
/// appended meanwhile (a write with its own events, another process), the head is
/// read under the lock and the entries built again, so a stale cache costs time,
/// never a fork.
async fn append(
    connection: &mut Connection,
    scope: Scope,
    events: &[(&Event, &Encoded)],
    cached: Option<&Head>,
) -> anyhow::Result<(Head, Option<Arc<std::fs::File>>)> {
    let key = scope.key();
    let built = cached.map(|head| (head.size, head.extend(events)));
    match connection {
        Connection::Sqlite(writer) => {
            let head = append_sqlite(&mut writer.connection, &key, events, built).await?;
            Ok((head, writer.wal()?))
        }
        Connection::Postgres(conn) => Ok((append_postgres(conn, &key, events, built).await?, None)),
    }
}

/// The entries built on a cached head: its size, and the rows and head after them.
type Built = Option<(u64, (Vec<EntryRow>, Head))>;

/// [`append`] on SQLite, in one transaction that holds the write lock from its
/// `BEGIN IMMEDIATE`, so the head cannot move between the comparison and the
/// inserts. On a cached head that is one call to the connection's thread
/// ([`extend_head_sqlite`]); when the head moved, or was not cached, it is read
/// under the lock and the entries are built again.
async fn append_sqlite(
    conn: &mut sqlx::SqliteConnection,
    key: &str,
    events: &[(&Event, &Encoded)],
    built: Built,
) -> anyhow::Result<Head> {
    use sqlx::Connection as _;
    if let Some((size, (rows, next))) = built {
        let frontier = serde_json::to_string(&next.frontier)?;
        let extension = Extension {
            key,
            rows: &rows,
            next: &next,
            frontier: &frontier,
            from: size,
        };
        if extend_head_sqlite(conn, &extension).await? {
            return Ok(next);
        }
    }
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let head = read_head!(tx, HEAD_SQL_SQLITE, key).await?;
    let (rows, next) = head.extend(events);
    store_head!(tx, key, &next).await?;
    insert_rows!(tx, key, &rows, usize::MAX).await?;
    tx.commit().await?;
    Ok(next)
}

/// [`append`] on PostgreSQL. The compare-and-set of the head travels with the
/// first rows in one statement ([`extend_head_postgres`]); a batch that fits one
/// statement (a few events, the usual case) is that statement alone, committed on
/// its own: one round trip instead of four. Larger batches add their other rows in
/// the same transaction. On a stale cache, the head is read `FOR UPDATE`.
async fn append_postgres(
    conn: &mut sqlx::PgConnection,
    key: &str,
    events: &[(&Event, &Encoded)],
    built: Built,
) -> anyhow::Result<Head> {
    use sqlx::Connection as _;
    const ROWS_BYTES: usize = PG_STATEMENT_BYTES - PG_STATEMENT_FIXED_BYTES;
    // The statement that moves the head carries its frontier too.
    let moved = match &built {
        Some((size, (rows, next))) => {
            let frontier = serde_json::to_string(&next.frontier)?;
            let cut = statements_after(rows, ROWS_BYTES.saturating_sub(frontier.len()), ROWS_BYTES);
            Some((*size, cut, next, frontier))
        }
        None => None,
    };
    if let Some((size, cut, next, frontier)) = &moved
        && let [only] = cut[..]
        && extend_head_postgres(
            conn,
            &Extension {
                key,
                rows: only,
                next,
                frontier,
                from: *size,
            },
        )
        .await?
    {
        return Ok((*next).clone());
    }
    let mut tx = conn.begin().await?;
    if let Some((size, cut, next, frontier)) = moved
        && let [first, rest @ ..] = &cut[..]
        && !rest.is_empty()
        && extend_head_postgres(
            &mut tx,
            &Extension {
                key,
                rows: first,
                next,
                frontier: &frontier,
                from: size,
            },
        )
        .await?
    {
        for chunk in rest {
            insert_rows!(tx, key, chunk, usize::MAX).await?;
        }
        tx.commit().await?;
        return Ok(next.clone());
    }
    let head = read_head!(tx, HEAD_SQL_POSTGRES, key).await?;
    let (rows, next) = head.extend(events);
    store_head!(tx, key, &next).await?;
    insert_rows!(tx, key, &rows, ROWS_BYTES).await?;
    tx.commit().await?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::sync::{mpsc, oneshot};

    use enamel_audit::entry::{Action, Encoded, Event, Outcome, ResourceType, Scope};

    use super::{Answer, Appender, Committed, NOT_RECORDED, Pending, sync_loop};

    /// Hands `wal` to a running [`sync_loop`] with one caller waiting at `index`
    /// and returns what that caller is told.
    async fn answer_after_sync(wal: std::fs::File, index: u64) -> Result<u64, String> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let syncer = tokio::spawn(sync_loop(receiver));
        let (done, answer): (Answer, _) = oneshot::channel();
        sender
            .send(Committed {
                wal: Arc::new(wal),
                answers: vec![(done, index)],
            })
            .unwrap_or_else(|_| panic!("the syncer is running"));
        let told = answer.await.expect("every caller is answered");
        drop(sender);
        syncer.await.expect("the syncer ends when the writer does");
        told
    }

    /// PostgreSQL over TCP: a batch of 64 typical entries (about 600 bytes each) is
    /// cut into INSERTs whose messages, with the head's frontier in the first, each
    /// stay within one TLS record (16 KiB), in order, every row once, so no
    /// statement leaves a last segment for Nagle's algorithm to hold (the
    /// benchmark's PostgreSQL rows, over TCP, show the rate this keeps: a statement
    /// of two records costs 40 ms).
    #[test]
    fn postgres_statements_stay_small_enough_for_one_write() {
        let rows: Vec<crate::audit::EntryRow> = (0..64)
            .map(|i| crate::audit::EntryRow {
                index: i,
                bytes: vec![b'x'; 550 + usize::try_from(i).unwrap() * 3],
                leaf: [0; 32],
                at: time::OffsetDateTime::UNIX_EPOCH,
                action: "read",
                actor_id: Some(format!("user-{}", uuid::Uuid::nil())),
                patient_id: Some(uuid::Uuid::nil()),
                outcome: "success",
            })
            .collect();
        let row = &rows[0];
        assert!(
            super::row_bytes(row) >= row.bytes.len() + 32 + 41 + 16 + 16,
            "a row counts its entry, leaf hash, actor, patient and index and time"
        );
        // The frontier of a log of a trillion entries: 40 subtrees, each hash a
        // JSON array of 32 numbers of up to 3 digits.
        let frontier = 40 * (32 * 4 + 8) + 16;
        let rows_bytes = super::PG_STATEMENT_BYTES - super::PG_STATEMENT_FIXED_BYTES;
        let statements = super::statements_after(&rows, rows_bytes - frontier, rows_bytes);
        assert!(statements.len() > 1, "one statement would be about 46 KiB");
        let mut next = 0;
        for (i, statement) in statements.iter().enumerate() {
            let bytes: usize = statement.iter().map(super::row_bytes).sum();
            let head = if i == 0 { frontier } else { 0 };
            assert!(
                bytes + head + super::PG_STATEMENT_FIXED_BYTES <= 16 * 1024 - 512,
                "{bytes} bytes of rows in statement {i}"
            );
            for row in *statement {
                assert_eq!(row.index, next);
                next += 1;
            }
        }
        assert_eq!(next, 64);
        let one = super::statements(&rows, super::STATEMENT_BYTES_IN_TX);
        assert_eq!(one.len(), 1, "inside a caller's transaction: one statement");
    }

    /// A migrated store on a SQLite file in `dir` with a pool of two connections.
    async fn sqlite_store(dir: &std::path::Path) -> crate::Store {
        let options = crate::ConnectOptions {
            max_connections: 2,
            ..crate::ConnectOptions::default()
        };
        crate::pool::sqlite_test_store(dir, &options).await
    }

    fn event(scope: Scope) -> Event {
        Event {
            timestamp: time::OffsetDateTime::now_utc(),
            action: Action::Read,
            actor_id: Some("user-1".into()),
            actor_type: enamel_domain::ActorType::Human,
            scope,
            patient_id: None,
            resource_type: ResourceType::Patient,
            resource_id: None,
            outcome: Outcome::Success,
            ip_address: None,
            user_agent: None,
            correlation_id: None,
            detail: std::collections::BTreeMap::new(),
        }
    }

    /// SQLite's one call ([`crate::audit::extend_head_sqlite`]) with more rows than
    /// one INSERT takes: every row written and the head moved, in one transaction;
    /// the same call again, on the size it no longer has, writes nothing and leaves
    /// no transaction open on the connection.
    #[tokio::test]
    async fn one_sqlite_call_extends_a_log_by_several_statements_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path()).await;
        let scope = Scope::Practice(enamel_domain::PracticeId::generate());
        store.audit().record(event(scope)).await.unwrap();
        let crate::db::Db::Sqlite(pool, _) = &store.db else {
            unreachable!("a SQLite URL")
        };
        let mut conn = pool.acquire().await.unwrap();
        let key = scope.key();
        let head = async |conn: &mut sqlx::SqliteConnection| {
            let (size, last, frontier): (i64, Vec<u8>, String) =
                sqlx::query_as(crate::audit::HEAD_SQL_SQLITE)
                    .bind(&key)
                    .fetch_one(conn)
                    .await
                    .unwrap();
            crate::audit::Head::from_row(size, last, &frontier).unwrap()
        };
        let before = head(&mut conn).await;
        let events: Vec<Event> = (0..250).map(|_| event(scope)).collect();
        let encoded: Vec<Encoded> = events.iter().map(Encoded::new).collect();
        let pairs: Vec<(&Event, &Encoded)> = events.iter().zip(&encoded).collect();
        let (rows, next) = before.extend(&pairs);
        assert!(rows.len() > 2 * super::ROWS_PER_STATEMENT, "three INSERTs");
        let frontier = serde_json::to_string(&next.frontier).unwrap();
        let extension = crate::audit::Extension {
            key: &key,
            rows: &rows,
            next: &next,
            frontier: &frontier,
            from: before.size,
        };
        let extend = async |conn: &mut sqlx::SqliteConnection| {
            crate::audit::extend_head_sqlite(conn, &extension).await
        };
        assert!(
            extend(&mut conn).await.unwrap(),
            "the head was where it was read"
        );
        assert!(
            !extend(&mut conn).await.unwrap(),
            "the head has moved since"
        );
        sqlx::raw_sql("BEGIN IMMEDIATE; ROLLBACK")
            .execute(&mut *conn)
            .await
            .expect("no transaction left open");
        assert_eq!(head(&mut conn).await.size, 251);
        let entries: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_entries WHERE scope = $1")
                .bind(&key)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        assert_eq!(entries, 251, "every row once, none from the refused call");
        drop(conn);
        assert_eq!(store.audit().record(event(scope)).await.unwrap(), 251);
        let public_key = store.audit().signer().await.unwrap().public_key();
        let verdict = store
            .audit()
            .verify(&scope, &public_key, |_| {})
            .await
            .unwrap();
        assert!(verdict.is_ok(), "the log verifies");
    }

    #[tokio::test]
    async fn the_pools_connections_keep_synchronous_full_beside_the_audit_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path()).await;
        let scope = Scope::Practice(enamel_domain::PracticeId::generate());
        for _ in 0..3 {
            store.audit().record(event(scope)).await.unwrap();
        }
        let crate::db::Db::Sqlite(pool, _) = &store.db else {
            unreachable!("a SQLite URL")
        };
        let (mut first, mut second) =
            (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
        for connection in [&mut first, &mut second] {
            let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut **connection)
                .await
                .unwrap();
            assert_eq!(
                level, 2,
                "FULL: requests' own writes are durable when they commit"
            );
        }
        let size: i64 = sqlx::query_scalar("SELECT size FROM audit_heads WHERE scope = $1")
            .bind(scope.key())
            .fetch_one(&mut *first)
            .await
            .unwrap();
        assert_eq!(size, 3);
    }

    #[tokio::test]
    async fn a_committed_batch_is_acknowledged_once_its_log_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let wal = std::fs::File::create(dir.path().join("enamel.db-wal")).unwrap();
        assert_eq!(answer_after_sync(wal, 41).await, Ok(41));
    }

    #[tokio::test]
    async fn a_log_that_cannot_be_synced_fails_its_callers() {
        // Linux refuses fdatasync on /dev/null (EINVAL), as it would refuse a disk
        // that failed: the caller must hear that its event was not recorded.
        let unsyncable = std::fs::File::open("/dev/null").unwrap();
        assert!(unsyncable.sync_data().is_err(), "the premise of this test");
        assert_eq!(
            answer_after_sync(unsyncable, 41).await,
            Err(NOT_RECORDED.to_owned())
        );
    }

    /// The SQLite writer answers through the syncer, never straight after its
    /// commit: when its write-ahead log cannot be synced, the caller is told that
    /// its event was not recorded, although the commit itself went through.
    #[tokio::test]
    async fn the_sqlite_writer_answers_only_once_its_log_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path()).await;
        let scope = Scope::Practice(enamel_domain::PracticeId::generate());
        assert_eq!(store.audit().record(event(scope)).await.unwrap(), 0);

        let unsyncable = Appender::start_with(store.db.clone(), |_| "/dev/null".into());
        let (done, answer) = oneshot::channel();
        let event = event(scope);
        let pending = Pending {
            encoded: Encoded::new(&event),
            event,
            done,
        };
        unsyncable.sender.send(pending).await.unwrap();
        assert_eq!(answer.await.unwrap(), Err(NOT_RECORDED.to_owned()));
        let heads = store.audit().heads().await.unwrap();
        assert!(
            heads.contains(&(scope, 2)),
            "committed, only never acknowledged: {heads:?}"
        );
    }
}
