//! Signing checkpoints with the provider's key, exporting them, and leaf hashes for proofs.
//!
//! A checkpoint is signed only over a head that was just verified: from the last
//! signed checkpoint (whose stored tree edge must match its signed root) through
//! every entry appended since, to the head's size, last hash and tree edge. A head
//! altered in the database is therefore never signed into a checkpoint that matches
//! nothing; its log is refused and reported instead.

use std::io::Write as _;

use anyhow::{Context as _, anyhow};
use enamel_audit::checkpoint::{Checkpoint, Signer};
use enamel_audit::entry::{Scope, format_timestamp, hex};
use enamel_audit::merkle::{Frontier, Hash};
use enamel_audit::verify::Verifier;

use super::AuditLog;
use crate::StoreError;
use crate::db::on_pool;

/// Entries read per query while checking a head before signing it. Under load a
/// checkpoint is due about every second and checks the ten thousand or so entries
/// since the last one; pages of 5,000 (several megabytes of rows, decoded on the
/// database's thread and freed on another) held the server's resident memory
/// 40-70 MB higher during a PHI read benchmark than pages of 500, at the same
/// throughput (docs/performance.md, machine E).
const CHECK_PAGE: u32 = 500;

/// What one round of checkpoint signing did.
#[derive(Debug, Default)]
pub struct Checkpointed {
    /// The checkpoints signed and stored.
    pub written: Vec<Checkpoint>,
    /// Logs whose head did not match their entries: nothing was signed for them.
    pub refused: Vec<Scope>,
}

impl AuditLog<'_> {
    /// The checkpoint signer, from the key provider's audit signing seed.
    pub async fn signer(&self) -> Result<Signer, StoreError> {
        let seed = self.store.keys.provider().audit_signing_seed().await?;
        Signer::from_seed(seed.expose()).map_err(|why| StoreError::Unexpected(anyhow!(why)))
    }

    /// Signs and stores a checkpoint for every log that grew since its last one,
    /// after checking its head against the entries since that checkpoint.
    pub async fn checkpoint(&self, signer: &Signer) -> Result<Checkpointed, StoreError> {
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
        let mut done = Checkpointed::default();
        for (scope_key, size, last_hash, frontier_json, last_checkpoint) in heads {
            if size == 0 || last_checkpoint == Some(size) {
                continue;
            }
            let Some(scope) = Scope::parse(&scope_key) else {
                continue;
            };
            let size = u64::try_from(size).unwrap_or_default();
            let frontier: Option<Frontier> = serde_json::from_str(&frontier_json).ok();
            let verified = match (&frontier, Hash::try_from(last_hash.as_slice())) {
                (Some(frontier), Ok(last)) => {
                    let since = last_checkpoint.and_then(|c| u64::try_from(c).ok());
                    self.head_matches(&scope, signer, since, size, frontier, &last)
                        .await?
                }
                _ => false,
            };
            let Some(frontier) = frontier.filter(|_| verified) else {
                tracing::error!(
                    scope = %scope,
                    "refusing to sign a checkpoint: the log's head does not match its entries; run enamel audit verify"
                );
                done.refused.push(scope);
                continue;
            };
            let at = self.store.now();
            let checkpoint = signer.sign(&scope, size, &frontier.root(), &format_timestamp(at));
            let inserted = on_pool!(&self.store.db, pool => {
                sqlx::query(
                    "INSERT INTO audit_checkpoints \
                     (scope, tree_size, root, at, signature, key_id, frontier, last_leaf) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                )
                .bind(&scope_key)
                .bind(i64::try_from(size).unwrap_or(i64::MAX))
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
                done.written.push(checkpoint);
            }
        }
        Ok(done)
    }

    /// Whether the entries from the checkpoint at `since` (or from the start) up to
    /// `size` verify and end at the head's tree edge and last hash.
    async fn head_matches(
        &self,
        scope: &Scope,
        signer: &Signer,
        since: Option<u64>,
        size: u64,
        frontier: &Frontier,
        last: &Hash,
    ) -> Result<bool, StoreError> {
        let public_key = signer.public_key();
        let verifier = match since {
            None => Verifier::new(scope, &public_key, Vec::new()),
            Some(since) => {
                let Some((edge, last_leaf)) = self.resume_point(scope, since).await? else {
                    return Ok(false);
                };
                let later = self.checkpoints_from(scope, since).await?;
                Verifier::resume(scope, &public_key, later, edge, last_leaf)
            }
        };
        let Ok(mut verifier) = verifier else {
            return Ok(false);
        };
        let mut next = verifier.frontier().size();
        while next < size {
            let want =
                u32::try_from((size - next).min(u64::from(CHECK_PAGE))).unwrap_or(CHECK_PAGE);
            let page = self.entries(scope, next, want).await?;
            if page.is_empty() {
                return Ok(false);
            }
            // Hashing a page takes milliseconds of CPU: on a thread of its own, not
            // on one of the runtime's workers, whose requests would wait for it.
            let checked = tokio::task::spawn_blocking(move || {
                let entries: Vec<&[u8]> = page.iter().map(|e| e.entry.as_slice()).collect();
                let hashes: Vec<Hash> = page.iter().map(|e| e.leaf_hash).collect();
                let sound = verifier.push_all(&entries, Some(&hashes), 1).is_ok();
                (verifier, sound)
            })
            .await
            .context("checking a page of entries before signing")?;
            let sound;
            (verifier, sound) = checked;
            if !sound {
                return Ok(false);
            }
            next = verifier.frontier().size();
        }
        let edge = verifier.frontier();
        Ok(edge.size() == size
            && edge.root() == frontier.root()
            && (size == 0 || verifier.last_leaf() == *last))
    }

    /// Signs checkpoints for the logs that grew and appends each, as a JSON line, to
    /// `<dir>/<scope>.jsonl` outside the database, so that a rewrite of the database
    /// cannot rewrite them too.
    pub async fn checkpoint_and_export(
        &self,
        signer: &Signer,
        dir: &std::path::Path,
    ) -> Result<Checkpointed, StoreError> {
        let done = self.checkpoint(signer).await?;
        for checkpoint in &done.written {
            let line = serde_json::to_string(checkpoint).context("encoding a checkpoint")?;
            append_line(dir, &format!("{}.jsonl", checkpoint.scope), &line)?;
        }
        Ok(done)
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

/// Appends `line` and its newline to `<dir>/<name>` as one write, then syncs the
/// file: a line is never written in two parts that a crash could separate. A torn
/// last line left by a crash inside the write (no newline at the end) was never
/// acknowledged; it is cut off first, so the new line does not glue onto it.
pub(crate) fn append_line(dir: &std::path::Path, name: &str, line: &str) -> Result<(), StoreError> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    let length = file.metadata().map_or(0, |m| m.len());
    if length > 0 {
        let mut last = [0_u8; 1];
        file.seek(SeekFrom::Start(length - 1))
            .and_then(|_| file.read_exact(&mut last))
            .with_context(|| format!("reading {}", path.display()))?;
        if last[0] != b'\n' {
            let whole = complete_length(&mut file, length)
                .with_context(|| format!("reading {}", path.display()))?;
            tracing::warn!(file = %path.display(), "cutting off a torn last line left by a crash");
            file.set_len(whole)
                .with_context(|| format!("repairing {}", path.display()))?;
        }
    }
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The length of `file` up to and including its last newline (0 if it has none).
fn complete_length(file: &mut std::fs::File, length: u64) -> std::io::Result<u64> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut end = length;
    let mut chunk = vec![0_u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let size = usize::try_from(end - start).unwrap_or(chunk.len());
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk[..size])?;
        if let Some(at) = chunk[..size].iter().rposition(|b| *b == b'\n') {
            return Ok(start + at as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_cut_off_before_the_next_line_is_appended() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("log.jsonl"), "{\"a\":1}\n{\"b\":").unwrap();
        append_line(dir.path(), "log.jsonl", "{\"c\":3}").unwrap();
        let text = std::fs::read_to_string(dir.path().join("log.jsonl")).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"c\":3}\n");
        append_line(dir.path(), "new.jsonl", "{\"d\":4}").unwrap();
        let text = std::fs::read_to_string(dir.path().join("new.jsonl")).unwrap();
        assert_eq!(text, "{\"d\":4}\n");
    }
}
