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
//! answers each caller only after that transaction has committed.

use std::collections::BTreeMap;

use anyhow::{Context as _, anyhow};
use enamel_audit::checkpoint::{Checkpoint, Signer};
use enamel_audit::entry::{Event, Scope, format_timestamp, hex};
use enamel_audit::merkle::{Frontier, Hash};
use tokio::sync::{mpsc, oneshot};

use crate::pool::{Db, on_pool};
use crate::repos::practices::now;
use crate::{Store, StoreError};

/// The most events one transaction takes.
const MAX_BATCH: usize = 4_096;
/// Rows per multi-row INSERT statement (9 parameters each, within both backends'
/// parameter limits).
pub(crate) const ROWS_PER_STATEMENT: usize = 100;

struct Pending {
    event: Event,
    done: oneshot::Sender<Result<u64, String>>,
}

/// The handle through which events are recorded; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Appender {
    sender: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pending({})", self.event.action.as_str())
    }
}

impl Appender {
    /// Starts the background writer for `db`. It ends when every handle is dropped.
    pub(crate) fn start(db: Db) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(write_loop(db, receiver));
        Self { sender }
    }
}

async fn write_loop(db: Db, mut receiver: mpsc::Receiver<Pending>) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        let mut by_scope: BTreeMap<Scope, Vec<Pending>> = BTreeMap::new();
        for pending in waiting.drain(..) {
            by_scope
                .entry(pending.event.scope)
                .or_default()
                .push(pending);
        }
        for (scope, pendings) in by_scope {
            let events: Vec<&Event> = pendings.iter().map(|p| &p.event).collect();
            match append(&db, scope, &events).await {
                Ok(first) => {
                    for (offset, pending) in pendings.into_iter().enumerate() {
                        let _ = pending.done.send(Ok(first + offset as u64));
                    }
                }
                Err(err) => {
                    tracing::error!(scope = %scope, error = format!("{err:#}"), events = pendings.len(), "audit append failed");
                    for pending in pendings {
                        let _ = pending
                            .done
                            .send(Err("the audit log could not be written".into()));
                    }
                }
            }
        }
    }
}

/// SQL to read a log's head, locking it where the backend locks rows.
pub(crate) fn head_sql(db: &Db) -> &'static str {
    match db {
        Db::Sqlite(_) => "SELECT size, last_hash, frontier FROM audit_heads WHERE scope = $1",
        Db::Postgres(_) => {
            "SELECT size, last_hash, frontier FROM audit_heads WHERE scope = $1 FOR UPDATE"
        }
    }
}

/// Appends `events` to the log whose key is `$key` inside the open transaction
/// `$tx` (either backend) and evaluates to the first index. Used by the group-commit
/// writer, and by writes whose event must commit in the same transaction as the
/// write itself.
macro_rules! append_in_tx {
    ($tx:ident, $head_sql:expr, $key:expr, $events:expr) => {
        async {
            use anyhow::Context as _;
            let key: &str = $key;
            let events: &[&enamel_audit::entry::Event] = $events;
            // A write first: on SQLite this takes the database's write lock before the
            // head is read, so no other writer can read the same head.
            sqlx::query(
                "INSERT INTO audit_heads (scope, size, last_hash, frontier) \
                 VALUES ($1, 0, $2, $3) ON CONFLICT (scope) DO NOTHING",
            )
            .bind(key)
            .bind(&[0_u8; 32][..])
            .bind(serde_json::to_string(&enamel_audit::merkle::Frontier::default())?)
            .execute(&mut *$tx)
            .await?;
            let (size, last_hash, frontier): (i64, Vec<u8>, String) =
                sqlx::query_as($head_sql).bind(key).fetch_one(&mut *$tx).await?;
            let mut frontier: enamel_audit::merkle::Frontier =
                serde_json::from_str(&frontier).context("reading the log's frontier")?;
            let mut prev: enamel_audit::merkle::Hash =
                last_hash.try_into().map_err(|_| anyhow::anyhow!("malformed audit head"))?;
            if u64::try_from(size)? != frontier.size() {
                return Err(anyhow::anyhow!("the audit head's size and frontier disagree"));
            }
            let mut rows = Vec::with_capacity(events.len());
            for (offset, event) in events.iter().enumerate() {
                let index = size + i64::try_from(offset)?;
                let entry = enamel_audit::entry::Entry::new(event, u64::try_from(index)?, &prev);
                let bytes = entry.canonical();
                let leaf = enamel_audit::merkle::leaf_hash(&bytes);
                frontier.push(leaf);
                prev = leaf;
                rows.push((index, bytes, leaf, *event));
            }
            for chunk in rows.chunks($crate::audit::ROWS_PER_STATEMENT) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO audit_entries \
                     (scope, idx, entry, leaf_hash, at, action, actor_id, patient_id, outcome) ",
                );
                insert.push_values(chunk, |mut row, (index, bytes, leaf, event)| {
                    row.push_bind(key)
                        .push_bind(*index)
                        .push_bind(bytes)
                        .push_bind(&leaf[..])
                        .push_bind(event.timestamp)
                        .push_bind(event.action.as_str())
                        .push_bind(event.actor_id.as_deref())
                        .push_bind(event.patient_id)
                        .push_bind(event.outcome.as_str());
                });
                insert.build().execute(&mut *$tx).await?;
            }
            let new_size = size + i64::try_from(rows.len())?;
            sqlx::query("UPDATE audit_heads SET size = $2, last_hash = $3, frontier = $4 WHERE scope = $1")
                .bind(key)
                .bind(new_size)
                .bind(&prev[..])
                .bind(serde_json::to_string(&frontier)?)
                .execute(&mut *$tx)
                .await?;
            Ok::<u64, anyhow::Error>(u64::try_from(size)?)
        }
    };
}
pub(crate) use append_in_tx;

/// Runs `$body` in a transaction on `$store` (with the transaction bound to `$tx`)
/// and appends `$events`, all of one log, in the same transaction: the write and
/// its audit events commit together or not at all. Evaluates to
/// `anyhow::Result<value of $body>`.
macro_rules! write_with_events {
    ($store:expr, $events:expr, $tx:ident => $body:expr) => {{
        let head_sql = $crate::audit::head_sql(&$store.db);
        let events: &[&enamel_audit::entry::Event] = $events;
        let scope_key = events.first().map(|e| e.scope.key()).unwrap_or_default();
        $crate::pool::on_pool!(&$store.db, pool => {
            async {
                let mut $tx = pool.begin().await?;
                let value = $body;
                if !events.is_empty() {
                    $crate::audit::append_in_tx!($tx, head_sql, &scope_key, events).await?;
                }
                $tx.commit().await?;
                Ok::<_, anyhow::Error>(value)
            }
            .await
        })
    }};
}
pub(crate) use write_with_events;

/// Appends `events` to the log of `scope` in a transaction of its own; returns the
/// index of the first.
async fn append(db: &Db, scope: Scope, events: &[&Event]) -> anyhow::Result<u64> {
    let key = scope.key();
    let head_sql = head_sql(db);
    on_pool!(db, pool => {
        async {
            let mut tx = pool.begin().await?;
            let first = append_in_tx!(tx, head_sql, &key, events).await?;
            tx.commit().await?;
            Ok(first)
        }
        .await
    })
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
        self.store
            .audit
            .sender
            .send(Pending { event, done })
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

    /// Signs and stores a checkpoint for every log that grew since its last one.
    /// Returns the checkpoints written.
    pub async fn checkpoint(&self, signer: &Signer) -> Result<Vec<Checkpoint>, StoreError> {
        /// scope, size, last leaf hash, frontier, size at the last checkpoint
        type HeadRow = (String, i64, Vec<u8>, String, Option<i64>);
        let heads: Vec<HeadRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT h.scope, h.size, h.last_hash, h.frontier, \
                 (SELECT MAX(c.tree_size) FROM audit_checkpoints c WHERE c.scope = h.scope) \
                 FROM audit_heads h ORDER BY h.scope",
            )
            .fetch_all(pool)
            .await
        })
        .context("reading audit heads")?;
        let mut written = Vec::new();
        for (scope_key, size, last_hash, frontier_json, last_checkpoint) in heads {
            if size == 0 || last_checkpoint == Some(size) {
                continue;
            }
            let Some(scope) = Scope::parse(&scope_key) else {
                continue;
            };
            let frontier: Frontier =
                serde_json::from_str(&frontier_json).context("reading a frontier")?;
            let at = now();
            let checkpoint = signer.sign(
                &scope,
                u64::try_from(size).unwrap_or_default(),
                &frontier.root(),
                &format_timestamp(at),
            );
            let inserted = on_pool!(&self.store.db, pool => {
                sqlx::query(
                    "INSERT INTO audit_checkpoints \
                     (scope, tree_size, root, at, signature, key_id, frontier, last_leaf) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                )
                .bind(&scope_key)
                .bind(size)
                .bind(&checkpoint.root)
                .bind(at)
                .bind(&checkpoint.signature)
                .bind(&checkpoint.key_id)
                .bind(&frontier_json)
                .bind(hex(&last_hash))
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
            })
            .context("storing a checkpoint")?;
            if inserted == 1 {
                written.push(checkpoint);
            }
        }
        Ok(written)
    }

    /// The checkpoints of a log, oldest first.
    pub async fn checkpoints(&self, scope: &Scope) -> Result<Vec<Checkpoint>, StoreError> {
        type CheckpointRow = (String, i64, String, time::OffsetDateTime, String, String);
        let rows: Vec<CheckpointRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT scope, tree_size, root, at, signature, key_id FROM audit_checkpoints \
                 WHERE scope = $1 ORDER BY tree_size",
            )
            .bind(scope.key())
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

/// An event by `actor` in its practice's log (or the platform's), now.
pub fn event_for(
    actor: &enamel_domain::Actor,
    action: enamel_audit::entry::Action,
    resource_type: enamel_audit::entry::ResourceType,
    resource_id: Option<String>,
    outcome: enamel_audit::entry::Outcome,
) -> Event {
    Event {
        timestamp: now(),
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

mod purge;
mod signing;
mod verify;

pub use purge::{MINIMUM_RETENTION_DAYS, Purged};
