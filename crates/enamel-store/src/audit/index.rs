//! The audit log's query index: derived data, kept off the append path.
//!
//! An append writes its entry keyed by `(scope, idx)` and nothing indexed at a
//! random position. The indexer copies each entry's query columns (time, action,
//! actor, patient, outcome) into `audit_index` in batches sorted by patient, so a
//! batch touches each page of the by-patient index once, and moves the log's
//! watermark (`audit_index_marks.indexed_to`) in the same transaction. A query
//! reads the index below the watermark and scans the entries at or above it, in
//! one statement (one snapshot), so its result is complete the moment an append
//! returns, whether the indexer is running, behind or stopped (docs/audit.md,
//! "Query index").
//!
//! Several indexers (one per jobs worker) may run against one database: each
//! batch holds the log's watermark row (`FOR UPDATE` on PostgreSQL, SQLite's write
//! lock) and starts from the watermark it read there.

use anyhow::Context as _;
use enamel_audit::entry::Scope;

use super::AuditLog;
use crate::StoreError;
use crate::db::{on_pool, on_tx};

/// The most entries indexed in one transaction. A batch is what was appended
/// since the last one, up to this: a worker that keeps up (it looks every 100 ms)
/// takes what 100 ms of appends brought (hundreds of entries at a busy office's
/// rate; about 5,000 at 50,000 appends/s, which on SQLite holds the write lock for
/// tens of milliseconds); one that is behind takes large ones, which cost less per
/// entry (a batch writes each page of the by-patient index it touches once, and
/// random patient ids touch nearly one page per entry until batches are large).
pub const INDEX_BATCH: u32 = 8_192;

/// What one round of the indexer did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Indexed {
    /// Entries added to the index.
    pub entries: u64,
    /// Entries of every log still above its watermark after the round.
    pub behind: u64,
}

impl AuditLog<'_> {
    /// Indexes at most `batch` entries of each log that is behind, one transaction
    /// per log.
    pub async fn index_round(&self, batch: u32) -> Result<Indexed, StoreError> {
        let mut round = Indexed::default();
        for (scope, behind) in self.behind().await? {
            let added = self.index_batch(&scope, batch).await?;
            round.entries += added;
            round.behind += behind.saturating_sub(added);
        }
        Ok(round)
    }

    /// Entries appended but not yet indexed, over every log (a gauge for the
    /// metrics page: it must not grow while appends go on).
    pub async fn index_lag(&self) -> Result<u64, StoreError> {
        Ok(self.behind().await?.iter().map(|(_, n)| n).sum())
    }

    /// Each log whose head is above its watermark, and by how many entries.
    async fn behind(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = on_pool!(&self.store().db, pool => {
            sqlx::query_as(
                "SELECT h.scope, h.size - COALESCE(m.indexed_to, 0) FROM audit_heads h \
                 LEFT JOIN audit_index_marks m ON m.scope = h.scope \
                 WHERE h.size > COALESCE(m.indexed_to, 0) ORDER BY h.scope",
            )
            .fetch_all(pool)
            .await
        })
        .context("reading how far the audit index is behind")?;
        Ok(rows
            .into_iter()
            .map(|(scope, n)| (scope, u64::try_from(n).unwrap_or_default()))
            .collect())
    }

    /// Indexes the next `batch` entries of the log `scope` (a key) above its
    /// watermark, up to its head; returns how many were added.
    async fn index_batch(&self, scope: &str, batch: u32) -> Result<u64, StoreError> {
        let mut tx = self
            .store()
            .db
            .begin_write()
            .await
            .context("beginning an audit index batch")?;
        let (open, close) = super::purge::purge_path(&self.store().db);
        let lock = super::purge::hold_mark_sql(&self.store().db);
        let added = on_tx!(&mut tx, conn => {
            async {
                sqlx::query(
                    "INSERT INTO audit_index_marks (scope, indexed_to) VALUES ($1, 0) \
                     ON CONFLICT (scope) DO NOTHING",
                )
                .bind(scope)
                .execute(&mut *conn)
                .await?;
                let from: i64 = sqlx::query_scalar(lock).bind(scope).fetch_one(&mut *conn).await?;
                let size: Option<i64> = sqlx::query_scalar("SELECT size FROM audit_heads WHERE scope = $1")
                    .bind(scope)
                    .fetch_optional(&mut *conn)
                    .await?;
                let size = size.unwrap_or(from);
                // After a retention purge the log starts later: skip to its first
                // entry rather than walk the removed range a batch at a time.
                let first: Option<i64> = sqlx::query_scalar(
                    "SELECT MIN(idx) FROM audit_entries WHERE scope = $1 AND idx >= $2",
                )
                .bind(scope)
                .bind(from)
                .fetch_one(&mut *conn)
                .await?;
                let start = first.unwrap_or(size).max(from);
                let to = size.min(start.saturating_add(i64::from(batch)));
                if to <= from {
                    return Ok::<u64, sqlx::Error>(0);
                }
                // A row already in the range was not put there by an indexer (they
                // commit rows and watermark together): it goes, through the purge
                // path, rather than stop every batch on its key.
                sqlx::query(open).execute(&mut *conn).await?;
                sqlx::query("DELETE FROM audit_index WHERE scope = $1 AND idx >= $2 AND idx < $3")
                    .bind(scope)
                    .bind(start)
                    .bind(to)
                    .execute(&mut *conn)
                    .await?;
                if let Some(close) = close {
                    sqlx::query(close).execute(&mut *conn).await?;
                }
                // Sorted by patient: each page of the by-patient index is written
                // once per batch, however the ids fall. The other indexes are in
                // entry order already (time, or few distinct values).
                let added = sqlx::query(
                    "INSERT INTO audit_index (scope, idx, at, action, actor_id, patient_id, outcome) \
                     SELECT scope, idx, at, action, actor_id, patient_id, outcome FROM audit_entries \
                     WHERE scope = $1 AND idx >= $2 AND idx < $3 ORDER BY patient_id, idx",
                )
                .bind(scope)
                .bind(start)
                .bind(to)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                sqlx::query("UPDATE audit_index_marks SET indexed_to = $2 WHERE scope = $1")
                    .bind(scope)
                    .bind(to)
                    .execute(&mut *conn)
                    .await?;
                Ok(added)
            }
            .await
        })
        .context("indexing audit entries")?;
        tx.commit()
            .await
            .context("committing an audit index batch")?;
        Ok(added)
    }

    /// Drops the query index of `scope` (every log's with `None`) and builds it
    /// again from the entries, reporting the entries indexed so far to `progress`.
    /// Queries stay complete meanwhile: with the watermark at zero they scan the
    /// entries. Returns the entries indexed.
    pub async fn reindex(
        &self,
        scope: Option<&Scope>,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, StoreError> {
        let key = scope.map(Scope::key);
        let (open, close) = super::purge::purge_path(&self.store().db);
        let mut tx = self
            .store()
            .db
            .begin_write()
            .await
            .context("beginning an audit reindex")?;
        on_tx!(&mut tx, conn => {
            async {
                sqlx::query(open).execute(&mut *conn).await?;
                // The watermark goes first, in the same transaction: no query ever
                // sees a watermark above an index that is not there.
                sqlx::query("DELETE FROM audit_index_marks WHERE $1 IS NULL OR scope = $1")
                    .bind(key.as_deref())
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("DELETE FROM audit_index WHERE $1 IS NULL OR scope = $1")
                    .bind(key.as_deref())
                    .execute(&mut *conn)
                    .await?;
                if let Some(close) = close {
                    sqlx::query(close).execute(&mut *conn).await?;
                }
                Ok::<(), sqlx::Error>(())
            }
            .await
        })
        .context("dropping the audit index")?;
        tx.commit()
            .await
            .context("committing the dropped audit index")?;
        let mut total = 0;
        // Until no chosen log is behind its head (a batch over a gap adds nothing
        // but still moves the watermark).
        loop {
            let behind: Vec<String> = self
                .behind()
                .await?
                .into_iter()
                .map(|(log, _)| log)
                .filter(|log| key.as_deref().is_none_or(|k| k == log))
                .collect();
            if behind.is_empty() {
                return Ok(total);
            }
            for log in &behind {
                total += self.index_batch(log, INDEX_BATCH).await?;
            }
            progress(total);
        }
    }

    /// The first entry of `scope` below its watermark that the index leaves out or
    /// records with other columns than the entry's own (which verification holds
    /// to the entry): a query would not find it, or find it for the wrong filter;
    /// or the first index row at or above the watermark, which no indexer wrote.
    /// `None` when the index is true to the log. Verification of the log itself
    /// never reads the index.
    pub async fn index_disagreement(&self, scope: &Scope) -> Result<Option<u64>, StoreError> {
        // A row at or above the watermark was not put there by an indexer, which
        // commits rows and watermark together.
        let foreign: Option<i64> = on_pool!(&self.store().db, pool => {
            sqlx::query_scalar(
                "SELECT MIN(idx) FROM audit_index WHERE scope = $1 \
                 AND idx >= (SELECT COALESCE(MAX(indexed_to), 0) FROM audit_index_marks WHERE scope = $1)",
            )
            .bind(scope.key())
            .fetch_one(pool)
            .await
        })
        .context("checking the audit index")?;
        let first: Option<i64> = on_pool!(&self.store().db, pool => {
            sqlx::query_scalar(
                "SELECT MIN(e.idx) FROM audit_entries e \
                 LEFT JOIN audit_index i ON i.scope = e.scope AND i.idx = e.idx \
                 WHERE e.scope = $1 \
                 AND e.idx < (SELECT COALESCE(MAX(indexed_to), 0) FROM audit_index_marks WHERE scope = $1) \
                 AND (i.idx IS NULL OR i.at <> e.at OR i.action <> e.action OR i.outcome <> e.outcome \
                      OR i.actor_id IS DISTINCT FROM e.actor_id \
                      OR i.patient_id IS DISTINCT FROM e.patient_id)",
            )
            .bind(scope.key())
            .fetch_one(pool)
            .await
        })
        .context("checking the audit index")?;
        let first = match (first, foreign) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(first.and_then(|i| u64::try_from(i).ok()))
    }
}
