//! Verifying a stored log against its signed checkpoints.

use anyhow::{Context as _, anyhow};
use enamel_audit::checkpoint::Checkpoint;
use enamel_audit::entry::{Entry, Scope};
use enamel_audit::merkle::{Frontier, Hash};
use enamel_audit::purge::{PurgeRecord, purge_covers};

use super::time_column::StoredTime;
use super::{AuditLog, StoredEntry};
use crate::StoreError;
use crate::db::on_pool;
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
        self.verify_with(scope, public_key, Outside::default(), progress)
            .await
    }

    /// [`AuditLog::verify`], also against the `outside` copies of the log's signed
    /// checkpoints and purge records (kept outside the database): deleting their
    /// rows to hide a rewrite or a cut does not remove those.
    ///
    /// The log must hold exactly the entries `start..size` of its head row: `start`
    /// is 0, or the cut of a signed purge record whose removed entries were past the
    /// retention; nothing may sit before `start` or after the head, and the head's
    /// last hash and tree edge must be the ones the entries give.
    pub async fn verify_with(
        &self,
        scope: &Scope,
        public_key: &[u8],
        outside: Outside,
        mut progress: impl FnMut(u64),
    ) -> Result<Result<Report, Finding>, StoreError> {
        // Read before the entries: everything it counts was committed by then.
        let head = self.stored_head(scope).await?;
        let (mut verifier, start) = match self.start(scope, public_key, outside).await? {
            Ok(started) => started,
            Err(finding) => return Ok(Err(finding)),
        };
        let head_size = match &head {
            StoredHead::At { size, .. } => Some(*size),
            StoredHead::Missing | StoredHead::Unreadable => None,
        };
        // The head must stand at or after the log's start, and its tree edge must be
        // the one the entries give at its size.
        if let StoredHead::At { size, .. } = head
            && size < start
        {
            return Ok(Err(Finding::HeadMismatch {
                head_size,
                entries: start,
            }));
        }
        // A head that disagrees is reported after the signed evidence has had its
        // say: a truncated tail or a rewrite is the stronger finding.
        let mut disagrees = !head.agrees_at(verifier.frontier(), None);
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let mut next = start;
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
            // Stop at the head's size on the way, to compare the tree there.
            let split = match head_size {
                Some(size) if size > next && size - next < checked as u64 => {
                    usize::try_from(size - next).unwrap_or(checked)
                }
                _ => checked,
            };
            for (from, to) in [(0, split), (split, checked)] {
                if from == to {
                    continue;
                }
                if let Err(finding) =
                    verifier.push_all(&entries[from..to], Some(&hashes[from..to]), threads)
                {
                    return Ok(Err(finding));
                }
                disagrees |= !head.agrees_at(verifier.frontier(), hashes.get(to - 1));
            }
            if let Some(at) = disagreeing {
                return Ok(Err(Finding::EditedEntry {
                    index: page[at].0.index,
                }));
            }
            progress(verifier.frontier().size() - start);
            next = last + 1;
        }
        let report = match verifier.finish() {
            Ok(report) => report,
            Err(finding) => return Ok(Err(finding)),
        };
        let entries = report.start + report.entries;
        // Appends may go on while a log is verified, so the entries may outnumber the
        // head read first; but every committed entry has moved the head past it, so
        // they never outnumber the head read now. An entry beyond that was inserted.
        let head_now = self.stored_head(scope).await?;
        let agrees = !disagrees
            && match (head, head_now) {
                (StoredHead::Missing, StoredHead::Missing) => entries == 0,
                (StoredHead::Missing, StoredHead::At { size, .. }) => entries <= size,
                (StoredHead::At { size, .. }, StoredHead::At { size: now, .. }) => {
                    size <= entries && entries <= now
                }
                _ => false,
            };
        if agrees {
            Ok(Ok(report))
        } else {
            Ok(Err(Finding::HeadMismatch { head_size, entries }))
        }
    }

    /// Where verification of `scope` starts: index 0, or after a purge that a signed
    /// record covers, resuming from the checkpoint there.
    async fn start(
        &self,
        scope: &Scope,
        public_key: &[u8],
        outside: Outside,
    ) -> Result<Result<(Verifier, u64), Finding>, StoreError> {
        let mut checkpoints = self.checkpoints(scope).await?;
        checkpoints.extend(outside.checkpoints);
        let mut purges = self.purge_records(scope).await?;
        purges.extend(outside.purges);
        let first: Option<i64> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar("SELECT MIN(idx) FROM audit_entries WHERE scope = $1")
                .bind(scope.key())
                .fetch_one(pool)
                .await
        })
        .context("reading the log's first index")?;
        let start = match first.map(u64::try_from) {
            None => 0,
            Some(Ok(first)) => first,
            Some(Err(_)) => {
                return Ok(Err(Finding::OutsideLog {
                    index: first.unwrap_or_default(),
                }));
            }
        };
        if start == 0 {
            return Ok(Verifier::new(scope, public_key, checkpoints).map(|v| (v, 0)));
        }
        // Entries before `start` are gone: only a signed purge may have removed them.
        if !purge_covers(&purges, &scope.key(), start, public_key) {
            return Ok(Err(Finding::UnauthorizedPurge { start }));
        }
        let Some((frontier, last_leaf)) = self.resume_point(scope, start).await? else {
            return Ok(Err(Finding::OutOfPlace {
                index: 0,
                found: start,
            }));
        };
        Ok(
            Verifier::resume(scope, public_key, checkpoints, frontier, last_leaf)
                .map(|v| (v, start)),
        )
    }

    /// The signed purge records of a log stored in the database.
    pub async fn purge_records(&self, scope: &Scope) -> Result<Vec<PurgeRecord>, StoreError> {
        type PurgeRow = (i64, String, String, String, String);
        let rows: Vec<PurgeRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT cut, last_removed_at, purged_at, signature, key_id FROM audit_purges \
                 WHERE scope = $1 ORDER BY cut",
            )
            .bind(scope.key())
            .fetch_all(pool)
            .await
        })
        .context("reading purge records")?;
        Ok(rows
            .into_iter()
            .map(
                |(cut, last_removed_at, purged_at, signature, key_id)| PurgeRecord {
                    scope: scope.key(),
                    cut: u64::try_from(cut).unwrap_or_default(),
                    last_removed_at,
                    purged_at,
                    signature,
                    key_id,
                },
            )
            .collect())
    }

    /// The head row of `scope`'s log, read value by value so that an altered row
    /// is reported, not an error.
    async fn stored_head(&self, scope: &Scope) -> Result<StoredHead, StoreError> {
        on_pool!(&self.store.db, pool => {
            let row = sqlx::query("SELECT size, last_hash, frontier FROM audit_heads WHERE scope = $1")
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
                let frontier = row
                    .try_get::<String, _>(2)
                    .ok()
                    .and_then(|f| serde_json::from_str::<Frontier>(&f).ok());
                match (size, last) {
                    (Some(size), Some(last)) => StoredHead::At {
                        size,
                        last,
                        frontier: frontier.filter(|f| f.size() == size).map(|f| f.root()),
                    },
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
    /// Its size, last leaf hash, and the root of the tree edge stored with it
    /// (`None` when that is unreadable or of another size).
    At {
        size: u64,
        last: Hash,
        frontier: Option<Hash>,
    },
}

impl StoredHead {
    /// Whether the head agrees with the tree `so_far` (whose last leaf hash is
    /// `last_leaf`, if any entry was read), when the tree is at the head's size.
    /// At any other size, or without a head, there is nothing to compare.
    fn agrees_at(&self, so_far: &Frontier, last_leaf: Option<&Hash>) -> bool {
        match self {
            Self::At {
                size,
                last,
                frontier,
            } if *size == so_far.size() => {
                *frontier == Some(so_far.root()) && last_leaf.is_none_or(|leaf| leaf == last)
            }
            _ => true,
        }
    }
}

/// Copies of a log's signed records kept outside the database (the exported
/// checkpoint stream), checked beside the database's own.
#[derive(Clone, Debug, Default)]
pub struct Outside {
    pub checkpoints: Vec<Checkpoint>,
    pub purges: Vec<PurgeRecord>,
}

/// The query columns stored beside an entry.
/// Each as read, or the error if the stored value could not be read as its type.
pub(super) struct Columns {
    action: Result<String, sqlx::Error>,
    actor_id: Result<Option<String>, sqlx::Error>,
    outcome: Result<String, sqlx::Error>,
    at: Result<StoredTime, sqlx::Error>,
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
                && self.at.as_ref().is_ok_and(|at| at.0 == e.timestamp)
        })
    }
}
