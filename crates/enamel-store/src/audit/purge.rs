//! Retention: removing entries beyond six years while keeping every log verifiable.
//!
//! A purge signs a record of what it removes (the log, the first index kept, the
//! time of the last entry removed, when) and stores it in the database and in the
//! exported checkpoint stream before it deletes anything. Verification accepts a
//! log that starts after index 0 only on such a record, so deleting old entries by
//! any other path, or entries younger than the retention, is reported as tampering.

use anyhow::Context as _;
use enamel_audit::checkpoint::Signer;
use enamel_audit::entry::{Entry, Scope, format_timestamp};
pub use enamel_audit::purge::MINIMUM_RETENTION_DAYS;
use enamel_audit::purge::PurgeRecord;

use super::signing::append_line;
use super::{AuditLog, AuditTime};
use crate::StoreError;
use crate::db::{Db, on_pool, on_tx};

/// What a purge removed from one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purged {
    pub scope: Scope,
    /// The new first index: the tree size of the checkpoint it now starts from.
    pub kept_from: u64,
    pub removed: u64,
    /// The signed record of this purge.
    pub record: PurgeRecord,
}

impl AuditLog<'_> {
    /// Removes, from every log, the entries before the newest checkpoint whose last
    /// entry is older than `before`, keeping that checkpoint (with its frontier) so
    /// the rest still verifies. Refuses a `before` within `retention_days` (never
    /// less than six years) of now. Each purge is signed by `signer`, its record
    /// stored and appended to `<export_dir>/<scope>.purges.jsonl` before anything is
    /// deleted, and afterwards recorded in its log.
    pub async fn purge(
        &self,
        signer: &Signer,
        export_dir: &std::path::Path,
        before: time::OffsetDateTime,
        retention_days: u32,
    ) -> Result<Vec<Purged>, StoreError> {
        let retention = time::Duration::days(i64::from(retention_days.max(MINIMUM_RETENTION_DAYS)));
        let latest_allowed = self.store.now() - retention;
        if before > latest_allowed {
            return Err(StoreError::Conflict(
                "audit entries are kept at least six years (audit.retention_days); choose an earlier date",
            ));
        }
        let mut purged = Vec::new();
        for (scope, _) in self.heads().await? {
            // The newest checkpoint all of whose entries are older than `before`.
            let cut: Option<i64> = on_pool!(&self.store.db, pool => {
                sqlx::query_scalar(
                    "SELECT MAX(c.tree_size) FROM audit_checkpoints c \
                     JOIN audit_entries e ON e.scope = c.scope AND e.idx = c.tree_size - 1 \
                     WHERE c.scope = $1 AND e.at < $2",
                )
                .bind(scope.key())
                .bind(AuditTime(before))
                .fetch_one(pool)
                .await
            })
            .context("finding the retention cut")?;
            let Some(cut) = cut.and_then(|c| u64::try_from(c).ok()) else {
                continue;
            };
            let first = self.entries(&scope, 0, 1).await?;
            if first.first().is_none_or(|e| e.index >= cut) {
                continue;
            }
            // The time of the last entry removed, from the entry itself (what the
            // chain vouches for), not from its query column.
            let last = self.entries(&scope, cut - 1, 1).await?;
            let Some(last_removed_at) = last
                .first()
                .filter(|e| e.index == cut - 1)
                .and_then(|e| Entry::parse_canonical(&e.entry).ok())
                .map(|e| e.timestamp)
            else {
                continue;
            };
            let record = signer.sign_purge(
                &scope,
                cut,
                &last_removed_at,
                &format_timestamp(self.store.now()),
            );
            if !record.respects_retention() {
                continue;
            }
            self.store_purge_record(&record).await?;
            let line = serde_json::to_string(&record).context("encoding a purge record")?;
            append_line(export_dir, &format!("{}.purges.jsonl", record.scope), &line)?;
            let removed = self.delete_before(&scope, cut).await?;
            let mut event = self.store.event_for(
                &enamel_domain::Actor::system(enamel_domain::SystemTask::Housekeeping),
                enamel_audit::entry::Action::AuditPurge,
                enamel_audit::entry::ResourceType::AuditLog,
                None,
                enamel_audit::entry::Outcome::Success,
            );
            event.scope = scope;
            event
                .detail
                .insert("removed", enamel_audit::entry::Detail::Count(removed));
            event
                .detail
                .insert("kept_from", enamel_audit::entry::Detail::Count(cut));
            event.detail.insert(
                "last_removed_at",
                enamel_audit::entry::Detail::Code(record.last_removed_at.clone()),
            );
            self.record(event).await?;
            purged.push(Purged {
                scope,
                kept_from: cut,
                removed,
                record,
            });
        }
        Ok(purged)
    }

    async fn store_purge_record(&self, record: &PurgeRecord) -> Result<(), StoreError> {
        on_pool!(&self.store.db, pool => {
            sqlx::query(
                "INSERT INTO audit_purges (scope, cut, last_removed_at, purged_at, signature, key_id) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(&record.scope)
            .bind(i64::try_from(record.cut).unwrap_or(i64::MAX))
            .bind(&record.last_removed_at)
            .bind(&record.purged_at)
            .bind(&record.signature)
            .bind(&record.key_id)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .context("storing a purge record")?;
        Ok(())
    }

    /// Deletes entries below `cut` through the purge path, in one transaction.
    async fn delete_before(&self, scope: &Scope, cut: u64) -> Result<u64, StoreError> {
        let (open, close) = purge_path(&self.store.db);
        let hold_mark = hold_mark_sql(&self.store.db);
        let cut = i64::try_from(cut).unwrap_or(i64::MAX);
        let mut tx = self
            .store
            .db
            .begin_write()
            .await
            .context("beginning an audit purge")?;
        let removed = on_tx!(&mut tx, conn => {
            async {
                sqlx::query(open).execute(&mut *conn).await?;
                // Held like an index batch holds it, so no batch copies entries this
                // purge removes.
                sqlx::query(hold_mark).bind(scope.key()).fetch_optional(&mut *conn).await?;
                let removed = sqlx::query("DELETE FROM audit_entries WHERE scope = $1 AND idx < $2")
                    .bind(scope.key())
                    .bind(cut)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                // The index is derived: its rows of the removed entries go with them.
                sqlx::query("DELETE FROM audit_index WHERE scope = $1 AND idx < $2")
                    .bind(scope.key())
                    .bind(cut)
                    .execute(&mut *conn)
                    .await?;
                if let Some(close) = close {
                    sqlx::query(close).execute(&mut *conn).await?;
                }
                Ok::<u64, sqlx::Error>(removed)
            }
            .await
        })
        .context("purging audit entries")?;
        tx.commit().await.context("committing an audit purge")?;
        Ok(removed)
    }
}

/// How a transaction holds a log's index watermark (`audit_index_marks`) until it
/// ends: PostgreSQL locks the row; on SQLite the write transaction's lock already
/// keeps every other writer out. Index batches and purges hold it, so neither works
/// on entries the other is changing.
pub(super) const fn hold_mark_sql(db: &Db) -> &'static str {
    match db {
        Db::Sqlite(..) => "SELECT indexed_to FROM audit_index_marks WHERE scope = $1",
        Db::Postgres(_) => "SELECT indexed_to FROM audit_index_marks WHERE scope = $1 FOR UPDATE",
    }
}

/// How a transaction opens the purge path (and, on SQLite, closes it again before
/// it commits): the one way to delete audit entries and query index rows, which
/// the triggers refuse otherwise. The only difference between the backends.
pub(super) const fn purge_path(db: &Db) -> (&'static str, Option<&'static str>) {
    match db {
        Db::Sqlite(..) => (
            "INSERT INTO audit_purge_gate (opened) VALUES (1)",
            Some("DELETE FROM audit_purge_gate"),
        ),
        Db::Postgres(_) => ("SET LOCAL enamel.audit_purge = 'on'", None),
    }
}
