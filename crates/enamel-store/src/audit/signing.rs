//! Signing checkpoints with the provider's key, exporting them, and leaf hashes for proofs.

use anyhow::{Context as _, anyhow};
use enamel_audit::checkpoint::{Checkpoint, Signer};
use enamel_audit::entry::Scope;
use enamel_audit::merkle::Hash;

use super::AuditLog;
use crate::StoreError;
use crate::pool::on_pool;

impl AuditLog<'_> {
    /// The checkpoint signer, from the key provider's audit signing seed.
    pub async fn signer(&self) -> Result<Signer, StoreError> {
        let seed = self.store.keys.provider().audit_signing_seed().await?;
        Signer::from_seed(seed.expose()).map_err(|why| StoreError::Unexpected(anyhow!(why)))
    }

    /// Signs checkpoints for the logs that grew and appends each, as a JSON line, to
    /// `<dir>/<scope>.jsonl` outside the database, so that a rewrite of the database
    /// cannot rewrite them too.
    pub async fn checkpoint_and_export(
        &self,
        signer: &Signer,
        dir: &std::path::Path,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        use std::io::Write as _;
        let written = self.checkpoint(signer).await?;
        if !written.is_empty() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        for checkpoint in &written {
            let path = dir.join(format!("{}.jsonl", checkpoint.scope));
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            let line = serde_json::to_string(checkpoint).context("encoding a checkpoint")?;
            writeln!(file, "{line}")
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(written)
    }

    /// Every leaf hash of a log up to `size`, for proofs.
    pub async fn leaf_hashes(&self, scope: &Scope, size: u64) -> Result<Vec<Hash>, StoreError> {
        let rows: Vec<Vec<u8>> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar("SELECT leaf_hash FROM audit_entries WHERE scope = $1 AND idx < $2 ORDER BY idx")
                .bind(scope.key())
                .bind(i64::try_from(size).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await
        })
        .context("reading leaf hashes")?;
        rows.into_iter()
            .map(|leaf| {
                leaf.try_into()
                    .map_err(|_| StoreError::Unexpected(anyhow!("malformed leaf hash")))
            })
            .collect()
    }
}
