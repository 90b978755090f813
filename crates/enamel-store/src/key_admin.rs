//! Key administration: rotating data keys and key-encryption keys, re-encrypting
//! stored values, and destroying a practice's keys (crypto-shredding).

use std::ops::ControlFlow;

use anyhow::Context as _;
use enamel_crypto::field;
use enamel_crypto::keys::KeyBinding;
use enamel_crypto::{KeyId, KeyPurpose, WrappedKey};
use enamel_domain::PracticeId;
use uuid::Uuid;

use enamel_audit::entry::{Action, Outcome, ResourceType};

use crate::db::on_pool;
use crate::sealed::{ENCRYPTED_COLUMNS, EncryptedColumn};
use crate::{Store, StoreError};

/// What a re-encryption run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reencrypted {
    /// Rows looked at.
    pub examined: u64,
    /// Of those, rows rewritten under the current key (the rest already were).
    pub rewritten: u64,
    /// False when the caller stopped it; running it again resumes.
    pub complete: bool,
}

/// Key operations for one store; see [`Store::key_admin`].
#[derive(Debug)]
pub struct KeyAdmin<'a> {
    store: &'a Store,
}

impl<'a> KeyAdmin<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Makes a new data key current: new writes use it, old ciphertexts still open.
    pub async fn rotate(&self, practice: PracticeId) -> Result<KeyId, StoreError> {
        let key = self.store.keys.rotate(&self.store.db, practice).await?;
        self.audit(practice, Action::KeyRotate, Some(key.to_string()))
            .await?;
        Ok(key)
    }

    async fn audit(
        &self,
        practice: PracticeId,
        action: Action,
        resource: Option<String>,
    ) -> Result<(), StoreError> {
        let actor = enamel_domain::Actor::system_for(practice, enamel_domain::SystemTask::Keys);
        let event = self.store.event_for(
            &actor,
            action,
            ResourceType::Key,
            resource,
            Outcome::Success,
        );
        self.store.audit().record(event).await.map(|_| ())
    }

    /// How many encrypted values the practice has, for progress reporting.
    pub async fn encrypted_values(&self, practice: PracticeId) -> Result<u64, StoreError> {
        let mut total = 0;
        for column in ENCRYPTED_COLUMNS {
            let sql = format!(
                "SELECT COUNT(*) FROM {} WHERE practice_id = $1 AND {} IS NOT NULL",
                column.table, column.column
            );
            let count: i64 = on_pool!(&self.store.db, pool => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(practice.as_uuid()).fetch_one(pool).await
            })
            .context("counting encrypted values")?;
            total += u64::try_from(count).unwrap_or_default();
        }
        Ok(total)
    }

    /// Rewrites every value of the practice not yet under its current data key, in
    /// batches of `batch` rows, each batch its own short transaction, so the server
    /// keeps serving. `after_batch` gets the rows examined so far and may stop the
    /// run; running again resumes, since values already under the current key are
    /// recognized from their header and skipped.
    pub async fn reencrypt(
        &self,
        practice: PracticeId,
        batch: u32,
        mut after_batch: impl FnMut(u64) -> ControlFlow<()>,
    ) -> Result<Reencrypted, StoreError> {
        let current = self
            .store
            .keys
            .current_data_key(&self.store.db, practice)
            .await?;
        let mut outcome = Reencrypted::default();
        for column in ENCRYPTED_COLUMNS {
            let mut cursor = Uuid::nil();
            loop {
                let rows = self.batch(column, practice, cursor, batch).await?;
                let Some(last) = rows.last().map(|(id, _)| *id) else {
                    break;
                };
                let mut updates = Vec::new();
                for (row, old) in rows {
                    outcome.examined += 1;
                    if field::key_id(&old)? == current.id() {
                        continue;
                    }
                    let plain = self.store.open(practice, column, row, &old).await?;
                    let new = field::seal(&current, &column.context(practice, row), &plain);
                    updates.push((row, old, new));
                }
                outcome.rewritten += self.write_batch(column, &updates).await?;
                cursor = last;
                if after_batch(outcome.examined).is_break() {
                    return Ok(outcome);
                }
            }
        }
        outcome.complete = true;
        Ok(outcome)
    }

    async fn batch(
        &self,
        column: &EncryptedColumn,
        practice: PracticeId,
        after: Uuid,
        limit: u32,
    ) -> Result<Vec<(Uuid, Vec<u8>)>, StoreError> {
        let sql = format!(
            "SELECT id, {0} FROM {1} WHERE practice_id = $1 AND id > $2 AND {0} IS NOT NULL \
             ORDER BY id LIMIT $3",
            column.column, column.table
        );
        let rows = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(practice.as_uuid())
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })
        .context("reading a batch of encrypted values")?;
        Ok(rows)
    }

    /// Writes a batch in one transaction. A value changed since it was read (by a
    /// concurrent write, which used the current key) is left as it is.
    async fn write_batch(
        &self,
        column: &EncryptedColumn,
        updates: &[(Uuid, Vec<u8>, Vec<u8>)],
    ) -> Result<u64, StoreError> {
        if updates.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "UPDATE {0} SET {1} = $1 WHERE id = $2 AND {1} = $3",
            column.table, column.column
        );
        let written = on_pool!(&self.store.db, pool => {
            async {
                let mut tx = crate::db::begin_on(pool).await?;
                let mut written = 0;
                for (row, old, new) in updates {
                    written += sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                        .bind(new)
                        .bind(row)
                        .bind(old)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                tx.commit().await?;
                Ok::<u64, sqlx::Error>(written)
            }
            .await
        })
        .context("writing re-encrypted values")?;
        Ok(written)
    }

    /// Re-wraps the practice's data keys under a new key-encryption key, then retires
    /// the old ones. No encrypted row is touched. Returns the keys re-wrapped.
    pub async fn rotate_kek(&self, practice: PracticeId) -> Result<usize, StoreError> {
        self.store.practices().get(practice).await?;
        let provider = self.store.keys.provider();
        let new_kek = provider.rotate(practice).await?;
        let rows: Vec<(Uuid, String, Vec<u8>, String)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, purpose, wrapped, kek_id FROM practice_keys \
                 WHERE practice_id = $1 AND wrapped IS NOT NULL",
            )
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("reading a practice's keys")?;
        let mut rewrapped = 0;
        let mut retired = Vec::new();
        for (id, purpose, wrapped, kek_id) in rows {
            if kek_id == new_kek {
                continue;
            }
            let binding = KeyBinding {
                practice,
                key: KeyId::from_uuid(id),
                purpose: KeyPurpose::parse(&purpose)?,
            };
            let old = WrappedKey {
                kek_id,
                bytes: wrapped,
            };
            let material = provider.unwrap(binding, &old).await?;
            retired.push(old.kek_id);
            let new = provider.wrap(binding, &material).await?;
            on_pool!(&self.store.db, pool => {
                sqlx::query("UPDATE practice_keys SET wrapped = $1, kek_id = $2 WHERE id = $3")
                    .bind(&new.bytes)
                    .bind(&new.kek_id)
                    .bind(id)
                    .execute(pool)
                    .await
                    .map(|_| ())
            })
            .context("storing a re-wrapped key")?;
            rewrapped += 1;
        }
        retired.sort();
        retired.dedup();
        provider.retire(practice, retired).await?;
        self.store.keys.forget(practice);
        tracing::info!(%practice, rewrapped, "key-encryption key rotated");
        Ok(rewrapped)
    }

    /// Destroys the practice's keys: its key-encryption keys in the provider, then
    /// the wrapped data keys here. Afterwards every read of its encrypted data is
    /// [`StoreError::Shredded`] and no new key is made for it. Other practices are
    /// untouched. Irreversible by design.
    pub async fn shred(&self, practice: PracticeId) -> Result<(), StoreError> {
        self.store.practices().get(practice).await?;
        let known: Vec<String> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar("SELECT DISTINCT kek_id FROM practice_keys WHERE practice_id = $1")
                .bind(practice.as_uuid())
                .fetch_all(pool)
                .await
        })
        .context("listing a practice's key-encryption keys")?;
        self.store.keys.provider().destroy(practice, known).await?;
        let at = self.store.now();
        on_pool!(&self.store.db, pool => {
            async {
                let mut tx = crate::db::begin_on(pool).await?;
                sqlx::query(
                    "UPDATE practice_keys SET wrapped = NULL, destroyed_at = $2 \
                     WHERE practice_id = $1 AND wrapped IS NOT NULL",
                )
                .bind(practice.as_uuid())
                .bind(at)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE practices SET keys_destroyed_at = $2 \
                     WHERE id = $1 AND keys_destroyed_at IS NULL",
                )
                .bind(practice.as_uuid())
                .bind(at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await
            }
            .await
        })
        .context("recording destroyed keys")?;
        self.store.keys.forget(practice);
        self.audit(practice, Action::KeyShred, None).await?;
        tracing::warn!(%practice, "practice keys destroyed: its encrypted data is now unreadable");
        Ok(())
    }
}
