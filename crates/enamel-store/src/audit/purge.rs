//! Retention: removing entries beyond six years while keeping every log verifiable.

use anyhow::Context as _;
use enamel_audit::entry::Scope;

use super::{AuditLog, event_for};
use crate::StoreError;
use crate::pool::{Db, on_pool};
use crate::repos::practices::now;

/// HIPAA's documentation retention (45 CFR 164.316(b)(2)): six years, here as
/// 2,192 days so that leap days never shorten it.
pub const MINIMUM_RETENTION_DAYS: u32 = 2_192;

/// What a purge removed from one log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purged {
    pub scope: Scope,
    /// The new first index: the tree size of the checkpoint it now starts from.
    pub kept_from: u64,
    pub removed: u64,
}

impl AuditLog<'_> {
    /// Removes, from every log, the entries before the newest checkpoint whose last
    /// entry is older than `before`, keeping that checkpoint (with its frontier) so
    /// the rest still verifies. Refuses a `before` within `retention_days` (never
    /// less than six years) of now. Each purge is itself recorded in its log.
    pub async fn purge(
        &self,
        before: time::OffsetDateTime,
        retention_days: u32,
    ) -> Result<Vec<Purged>, StoreError> {
        let retention = time::Duration::days(i64::from(retention_days.max(MINIMUM_RETENTION_DAYS)));
        let latest_allowed = now() - retention;
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
                .bind(before)
                .fetch_one(pool)
                .await
            })
            .context("finding the retention cut")?;
            let Some(cut) = cut else { continue };
            let removed = self.delete_before(&scope, cut).await?;
            if removed == 0 {
                continue;
            }
            let mut event = event_for(
                &enamel_domain::Actor::system(),
                enamel_audit::entry::Action::AuditPurge,
                enamel_audit::entry::ResourceType::AuditLog,
                None,
                enamel_audit::entry::Outcome::Success,
            );
            event.scope = scope;
            event
                .detail
                .insert("removed", enamel_audit::entry::Detail::Count(removed));
            event.detail.insert(
                "kept_from",
                enamel_audit::entry::Detail::Count(u64::try_from(cut).unwrap_or_default()),
            );
            self.record(event).await?;
            purged.push(Purged {
                scope,
                kept_from: u64::try_from(cut).unwrap_or_default(),
                removed,
            });
        }
        Ok(purged)
    }

    /// Deletes entries below `cut` through the purge path, in one transaction.
    async fn delete_before(&self, scope: &Scope, cut: i64) -> Result<u64, StoreError> {
        // The only difference between the backends is how the purge path is opened
        // (and, on SQLite, closed again) inside the transaction.
        let (open, close): (&'static str, Option<&'static str>) = match &self.store.db {
            Db::Sqlite(_) => (
                "INSERT INTO audit_purge_gate (opened) VALUES (1)",
                Some("DELETE FROM audit_purge_gate"),
            ),
            Db::Postgres(_) => ("SET LOCAL enamel.audit_purge = 'on'", None),
        };
        let removed = on_pool!(&self.store.db, pool => {
            async {
                let mut tx = pool.begin().await?;
                sqlx::query(open).execute(&mut *tx).await?;
                let removed = sqlx::query("DELETE FROM audit_entries WHERE scope = $1 AND idx < $2")
                    .bind(scope.key())
                    .bind(cut)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if let Some(close) = close {
                    sqlx::query(close).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok::<u64, sqlx::Error>(removed)
            }
            .await
        })
        .context("purging audit entries")?;
        Ok(removed)
    }
}
