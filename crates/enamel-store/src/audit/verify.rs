//! Verifying a stored log against its signed checkpoints.

use anyhow::{Context as _, anyhow};
use enamel_audit::entry::{Entry, Scope, format_timestamp};
use enamel_audit::merkle::{Frontier, Hash};

use super::{AuditLog, StoredEntry};
use crate::StoreError;
use crate::pool::on_pool;
use enamel_audit::verify::{Finding, Report, Verifier};

/// Entries read per query while verifying.
const VERIFY_PAGE: u32 = 5_000;

impl AuditLog<'_> {
    /// The Merkle frontier and last leaf hash stored with the checkpoint of `scope` at
    /// `tree_size`: where a verification may start when the entries before it are
    /// purged or not exported.
    pub async fn resume_point(
        &self,
        scope: &Scope,
        tree_size: u64,
    ) -> Result<Option<(Frontier, Hash)>, StoreError> {
        let size = i64::try_from(tree_size).context("a tree size beyond i64")?;
        let row: Option<(Option<String>, Option<String>)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as("SELECT frontier, last_leaf FROM audit_checkpoints WHERE scope = $1 AND tree_size = $2")
                .bind(scope.key())
                .bind(size)
                .fetch_optional(pool)
                .await
        })
        .context("reading a checkpoint's frontier")?;
        let Some((Some(frontier), Some(last_leaf))) = row else {
            return Ok(None);
        };
        let frontier: Frontier = serde_json::from_str(&frontier).context("reading a frontier")?;
        let last_leaf: Hash = enamel_audit::checkpoint::unhex(&last_leaf)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| anyhow!("malformed checkpoint"))?;
        Ok(Some((frontier, last_leaf)))
    }

    /// Verifies a log against its signed checkpoints and `public_key`, reporting
    /// progress (entries checked) to `progress`. The outer `Result` is about reading
    /// the database; the inner one is the verdict.
    pub async fn verify(
        &self,
        scope: &Scope,
        public_key: &[u8],
        progress: impl FnMut(u64),
    ) -> Result<Result<Report, Finding>, StoreError> {
        self.verify_with(scope, public_key, Vec::new(), progress)
            .await
    }

    /// [`AuditLog::verify`], also against `exported` checkpoints (the copies kept
    /// outside the database): deleting checkpoint rows to hide a rewrite or a cut
    /// tail does not remove those.
    pub async fn verify_with(
        &self,
        scope: &Scope,
        public_key: &[u8],
        exported: Vec<enamel_audit::checkpoint::Checkpoint>,
        mut progress: impl FnMut(u64),
    ) -> Result<Result<Report, Finding>, StoreError> {
        let mut checkpoints = self.checkpoints(scope).await?;
        checkpoints.extend(exported);
        // Read before the entries: everything it counts was committed by then.
        let head = self.stored_head(scope).await?;
        let first: Option<i64> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar("SELECT MIN(idx) FROM audit_entries WHERE scope = $1")
                .bind(scope.key())
                .fetch_one(pool)
                .await
        })
        .context("reading the log's first index")?;
        let start = u64::try_from(first.unwrap_or(0)).unwrap_or_default();
        let verifier = if start == 0 {
            Verifier::new(scope, public_key, checkpoints)
        } else {
            // Entries before `start` were purged: resume from the checkpoint there.
            let Some((frontier, last_leaf)) = self.resume_point(scope, start).await? else {
                return Ok(Err(Finding::OutOfPlace {
                    index: 0,
                    found: start,
                }));
            };
            Verifier::resume(scope, public_key, checkpoints, frontier, last_leaf)
        };
        let mut verifier = match verifier {
            Ok(verifier) => verifier,
            Err(finding) => return Ok(Err(finding)),
        };
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let mut next = start;
        // The stored leaf hash of the head's last entry, once the scan reaches it.
        let mut at_head: Option<Hash> = None;
        loop {
            let page = self.entries_with_columns(scope, next, VERIFY_PAGE).await?;
            let Some(last) = page.last().map(|r| r.0.index) else {
                break;
            };
            let entries: Vec<&[u8]> = page.iter().map(|(s, _)| s.entry.as_slice()).collect();
            let hashes: Vec<Hash> = page.iter().map(|(s, _)| s.leaf_hash).collect();
            // The first entry whose query columns disagree with it is reported only
            // if every entry up to it, itself included, is otherwise sound.
            let disagreeing = page
                .iter()
                .position(|(stored, columns)| !columns.agree_with(&stored.entry));
            let checked = disagreeing.map_or(page.len(), |at| at + 1);
            if let Err(finding) =
                verifier.push_all(&entries[..checked], Some(&hashes[..checked]), threads)
            {
                return Ok(Err(finding));
            }
            if let Some(at) = disagreeing {
                return Ok(Err(Finding::EditedEntry {
                    index: page[at].0.index,
                }));
            }
            if let StoredHead::At { size, .. } = head
                && let Some(offset) = size.checked_sub(1).and_then(|i| i.checked_sub(next))
                && let Some(hash) = usize::try_from(offset).ok().and_then(|o| hashes.get(o))
            {
                at_head = Some(*hash);
            }
            progress(verifier.frontier().size() - start);
            next = last + 1;
        }
        let report = match verifier.finish() {
            Ok(report) => report,
            Err(finding) => return Ok(Err(finding)),
        };
        let entries = report.start + report.entries;
        let agrees = match head {
            // A log may be created while it is verified; then its head appears only
            // after the entries were read.
            StoredHead::Missing => {
                entries == 0 || !matches!(self.stored_head(scope).await?, StoredHead::Missing)
            }
            StoredHead::Unreadable => false,
            StoredHead::At { size, last } => {
                size <= entries && (size == 0 || size <= start || at_head == Some(last))
            }
        };
        if agrees {
            Ok(Ok(report))
        } else {
            Ok(Err(Finding::HeadMismatch {
                head_size: match head {
                    StoredHead::At { size, .. } => Some(size),
                    StoredHead::Missing | StoredHead::Unreadable => None,
                },
                entries,
            }))
        }
    }

    /// The head row of `scope`'s log, read value by value so that an altered row
    /// is reported, not an error.
    async fn stored_head(&self, scope: &Scope) -> Result<StoredHead, StoreError> {
        on_pool!(&self.store.db, pool => {
            let row = sqlx::query("SELECT size, last_hash FROM audit_heads WHERE scope = $1")
                .bind(scope.key())
                .fetch_optional(pool)
                .await
                .context("reading the log's head")?;
            Ok(row.map_or(StoredHead::Missing, |row| {
                use sqlx::Row as _;
                let size = row.try_get::<i64, _>(0).ok().and_then(|s| u64::try_from(s).ok());
                let last = row
                    .try_get::<Vec<u8>, _>(1)
                    .ok()
                    .and_then(|l| Hash::try_from(l).ok());
                match (size, last) {
                    (Some(size), Some(last)) => StoredHead::At { size, last },
                    _ => StoredHead::Unreadable,
                }
            }))
        })
    }

    pub(super) async fn entries_with_columns(
        &self,
        scope: &Scope,
        from: u64,
        limit: u32,
    ) -> Result<Vec<(StoredEntry, Columns)>, StoreError> {
        // Column by column, so a value an attacker made undecodable (text that is
        // no time, a NULL where none belongs) is a disagreement to report, not an
        // error that stops verification.
        on_pool!(&self.store.db, pool => {
            let rows = sqlx::query(
                "SELECT idx, entry, leaf_hash, action, actor_id, outcome, at, patient_id \
                 FROM audit_entries \
                 WHERE scope = $1 AND idx >= $2 ORDER BY idx LIMIT $3",
            )
            .bind(scope.key())
            .bind(i64::try_from(from).unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .context("reading audit entries")?;
            rows.iter()
                .map(|row| {
                    use sqlx::Row as _;
                    let index: i64 = row.try_get(0).context("reading an entry's index")?;
                    let leaf: Option<Vec<u8>> = row.try_get(2).ok().flatten();
                    Ok((
                        StoredEntry {
                            index: u64::try_from(index).unwrap_or_default(),
                            entry: row.try_get::<Option<Vec<u8>>, _>(1).ok().flatten().unwrap_or_default(),
                            leaf_hash: leaf.and_then(|l| l.try_into().ok()).unwrap_or([0; 32]),
                        },
                        Columns {
                            action: row.try_get(3),
                            actor_id: row.try_get(4),
                            outcome: row.try_get(5),
                            at: row.try_get(6),
                            patient_id: row.try_get(7),
                        },
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()
        })
    }
}

/// A log's head row as verification reads it.
#[derive(Clone, Copy)]
enum StoredHead {
    Missing,
    Unreadable,
    At { size: u64, last: Hash },
}

/// The query columns stored beside an entry.
/// Each as read, or the error if the stored value could not be read as its type.
pub(super) struct Columns {
    action: Result<String, sqlx::Error>,
    actor_id: Result<Option<String>, sqlx::Error>,
    outcome: Result<String, sqlx::Error>,
    at: Result<time::OffsetDateTime, sqlx::Error>,
    patient_id: Result<Option<uuid::Uuid>, sqlx::Error>,
}

impl Columns {
    /// Whether the columns say what the (already verified) entry says: a query
    /// column changed on its own would make queries lie.
    fn agree_with(&self, canonical: &[u8]) -> bool {
        Entry::parse_canonical(canonical).is_ok_and(|e| {
            self.action.as_ref().is_ok_and(|a| *a == e.action)
                && self.actor_id.as_ref().is_ok_and(|a| *a == e.actor_id)
                && self.outcome.as_ref().is_ok_and(|o| *o == e.outcome)
                && self.patient_id.as_ref().is_ok_and(|p| *p == e.patient_id)
                && self
                    .at
                    .as_ref()
                    .is_ok_and(|at| format_timestamp(*at) == e.timestamp)
        })
    }
}
