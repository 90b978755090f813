//! Verifying a log against its signed checkpoints, one entry at a time.
//!
//! The verifier reads entries in index order and keeps only the tree's right edge
//! (O(log n) memory). It reports the first problem found, with the index and kind:
//! an entry not in canonical form, an entry out of place (deleted, inserted or
//! swapped entries), a broken chain, a stored leaf hash that disagrees with the entry
//! (an edited field), a root that disagrees with a signed checkpoint (an edit with
//! every hash recomputed), a checkpoint beyond the end of the log (a truncated tail),
//! and a checkpoint whose signature fails (a forged checkpoint).

use std::fmt;

use crate::checkpoint::Checkpoint;
use crate::entry::Scope;
use crate::merkle::{Frontier, Hash};
use crate::scan::{NotCanonical, Scanned, is_hex_of, scan};

/// What is wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// A checkpoint's signature does not verify with the public key.
    ForgedCheckpoint { tree_size: u64 },
    /// The bytes at this position are not a canonical entry.
    NotCanonical { index: u64 },
    /// The entry at this position says it belongs to another log.
    WrongScope { index: u64 },
    /// The entry at this position carries another index: entries were deleted,
    /// inserted or reordered.
    OutOfPlace { index: u64, found: u64 },
    /// The entry's `prev` is not the previous entry's leaf hash.
    BrokenChain { index: u64 },
    /// The leaf hash stored beside the entry is not the entry's hash: a field was
    /// edited.
    EditedEntry { index: u64 },
    /// The tree's root at a signed checkpoint's size differs from the checkpoint:
    /// entries before `tree_size` were changed and their hashes recomputed.
    RootMismatch { tree_size: u64 },
    /// A signed checkpoint covers more entries than the log has: its tail was cut.
    Truncated { tree_size: u64, entries: u64 },
    /// The database's head row of the log (`head_size` entries, `None` when the
    /// row is missing or unreadable) does not match its `entries` entries: entries appended
    /// since the last checkpoint were removed from the end, or the head was altered.
    HeadMismatch {
        head_size: Option<u64>,
        entries: u64,
    },
    /// The log starts at `start`, but no signed purge record removed the entries
    /// before it after the retention: they were deleted.
    UnauthorizedPurge { start: u64 },
    /// An entry sits at an index no log has (below zero): it was inserted.
    OutsideLog { index: i64 },
}

impl Finding {
    /// The first index known to be bad.
    #[must_use]
    pub const fn index(&self) -> u64 {
        match *self {
            Self::ForgedCheckpoint { tree_size } | Self::RootMismatch { tree_size } => {
                tree_size.saturating_sub(1)
            }
            Self::NotCanonical { index }
            | Self::WrongScope { index }
            | Self::OutOfPlace { index, .. }
            | Self::BrokenChain { index }
            | Self::EditedEntry { index } => index,
            Self::Truncated { entries, .. } => entries,
            Self::UnauthorizedPurge { .. } | Self::OutsideLog { .. } => 0,
            Self::HeadMismatch { head_size, entries } => match head_size {
                Some(size) if size <= entries => size.saturating_sub(1),
                _ => entries,
            },
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ForgedCheckpoint { tree_size } => write!(
                f,
                "the checkpoint at size {tree_size} has an invalid signature (forged or altered)"
            ),
            Self::NotCanonical { index } => {
                write!(f, "entry {index} is not a canonical audit entry (altered)")
            }
            Self::WrongScope { index } => write!(f, "entry {index} belongs to another log (moved)"),
            Self::OutOfPlace { index, found } => write!(
                f,
                "entry {index} is missing or out of order: found entry {found} there (deleted, inserted or reordered)"
            ),
            Self::BrokenChain { index } => write!(
                f,
                "entry {index} does not chain to entry {}: one of them was altered, \
                 or entries between them were removed or inserted",
                index.saturating_sub(1)
            ),
            Self::EditedEntry { index } => write!(
                f,
                "entry {index} does not match its stored hash (a field was edited)"
            ),
            Self::RootMismatch { tree_size } => write!(
                f,
                "the first {tree_size} entries do not match the signed checkpoint (rewritten with recomputed hashes)"
            ),
            Self::Truncated { tree_size, entries } => write!(
                f,
                "a signed checkpoint covers {tree_size} entries but the log has {entries} (entries removed from the end)"
            ),
            Self::HeadMismatch {
                head_size: Some(size),
                entries,
            } => write!(
                f,
                "the log's head says {size} entries, which its {entries} entries do not match \
                 (entries removed from the end since the last checkpoint, or the head altered)"
            ),
            Self::UnauthorizedPurge { start } => write!(
                f,
                "the entries before index {start} are missing and no signed purge record \
                 past the six-year retention removed them (deleted)"
            ),
            Self::OutsideLog { index } => {
                write!(
                    f,
                    "an entry sits at index {index}, outside the log (inserted)"
                )
            }
            Self::HeadMismatch {
                head_size: None,
                entries,
            } => write!(
                f,
                "the log's head is missing or unreadable though the log has {entries} entries \
                 (the head deleted or altered)"
            ),
        }
    }
}

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Entries checked (from `start`).
    pub entries: u64,
    /// The index verification started at (0, or the first entry after a purge).
    pub start: u64,
    /// Checkpoints whose roots were matched.
    pub checkpoints: usize,
    /// The tree size of the last matched checkpoint, if any.
    pub last_checkpoint: Option<u64>,
}

/// Verifies one log.
#[derive(Debug)]
pub struct Verifier {
    scope: String,
    frontier: Frontier,
    /// The previous entry's leaf hash.
    prev: Hash,
    start: u64,
    /// Verified checkpoints not yet reached, by ascending size.
    pending: std::collections::VecDeque<Checkpoint>,
    matched: usize,
    last_matched: Option<u64>,
}

impl Verifier {
    /// Starts at index 0. Every checkpoint's signature is checked first.
    pub fn new(
        scope: &Scope,
        public_key: &[u8],
        checkpoints: Vec<Checkpoint>,
    ) -> Result<Self, Finding> {
        Self::resume(scope, public_key, checkpoints, Frontier::default(), [0; 32])
    }

    /// Starts after a retention purge: at the frontier and last leaf hash recorded
    /// with the first retained checkpoint (whose signed root the frontier must match).
    pub fn resume(
        scope: &Scope,
        public_key: &[u8],
        mut checkpoints: Vec<Checkpoint>,
        frontier: Frontier,
        last_leaf: Hash,
    ) -> Result<Self, Finding> {
        let scope = scope.key();
        checkpoints.retain(|c| c.scope == scope);
        checkpoints.sort_by(|a, b| {
            a.tree_size
                .cmp(&b.tree_size)
                .then_with(|| a.root.cmp(&b.root))
        });
        for checkpoint in &checkpoints {
            if !checkpoint.verify(public_key) {
                return Err(Finding::ForgedCheckpoint {
                    tree_size: checkpoint.tree_size,
                });
            }
        }
        // The same checkpoint may come from the database and from its exported
        // copy; one size can have only one root, and two signed roots at one size
        // mean the log was forked.
        checkpoints.dedup_by(|later, earlier| {
            later.tree_size == earlier.tree_size && later.root == earlier.root
        });
        if let Some(pair) = checkpoints
            .windows(2)
            .find(|pair| pair[0].tree_size == pair[1].tree_size)
        {
            return Err(Finding::RootMismatch {
                tree_size: pair[0].tree_size,
            });
        }
        let start = frontier.size();
        let mut pending: std::collections::VecDeque<Checkpoint> = checkpoints
            .into_iter()
            .filter(|c| c.tree_size >= start)
            .collect();
        let mut matched = 0;
        let mut last_matched = None;
        if start > 0 {
            // The starting frontier must itself be vouched for by a signed checkpoint.
            match pending.front() {
                Some(c) if c.tree_size == start && c.root_hash() == Some(frontier.root()) => {
                    pending.pop_front();
                    matched = 1;
                    last_matched = Some(start);
                }
                _ => return Err(Finding::RootMismatch { tree_size: start }),
            }
        }
        Ok(Self {
            scope,
            frontier,
            prev: last_leaf,
            start,
            pending,
            matched,
            last_matched,
        })
    }

    /// Checks the next entry (its canonical bytes and, if stored, its leaf hash).
    pub fn push(&mut self, canonical: &[u8], stored_hash: Option<&Hash>) -> Result<(), Finding> {
        let (scanned, leaf) = scan_and_hash_one(canonical);
        self.check(scanned, &leaf, stored_hash)
    }

    /// Checks the next `entries` in order, with their stored leaf hashes if there
    /// are any (one per entry). The same findings as [`Verifier::push`] one entry at
    /// a time; the scanning and leaf hashing, which need nothing from the entries
    /// before, run on up to `threads` threads at once.
    pub fn push_all<E: AsRef<[u8]> + Sync>(
        &mut self,
        entries: &[E],
        stored_hashes: Option<&[Hash]>,
        threads: usize,
    ) -> Result<(), Finding> {
        let scanned = scan_and_hash(entries, threads.max(1));
        for (position, (fields, leaf)) in scanned.into_iter().enumerate() {
            let stored = stored_hashes.and_then(|hashes| hashes.get(position));
            self.check(fields, &leaf, stored)?;
        }
        Ok(())
    }

    /// The checks of one entry, in the order that names the first problem.
    fn check(
        &mut self,
        scanned: Result<Scanned<'_>, NotCanonical>,
        leaf: &Hash,
        stored_hash: Option<&Hash>,
    ) -> Result<(), Finding> {
        let index = self.frontier.size();
        let entry = scanned.map_err(|_| Finding::NotCanonical { index })?;
        if entry.scope != self.scope.as_bytes() {
            return Err(Finding::WrongScope { index });
        }
        if entry.index != index {
            return Err(Finding::OutOfPlace {
                index,
                found: entry.index,
            });
        }
        // The bytes are canonical (checked above), so they are what was hashed.
        if stored_hash.is_some_and(|stored| stored != leaf) {
            return Err(Finding::EditedEntry { index });
        }
        if !is_hex_of(entry.prev, &self.prev) {
            return Err(Finding::BrokenChain { index });
        }
        self.frontier.push(*leaf);
        self.prev = *leaf;
        if let Some(checkpoint) = self.pending.front()
            && checkpoint.tree_size == self.frontier.size()
        {
            if checkpoint.root_hash() != Some(self.frontier.root()) {
                return Err(Finding::RootMismatch {
                    tree_size: checkpoint.tree_size,
                });
            }
            self.last_matched = Some(checkpoint.tree_size);
            self.matched += 1;
            self.pending.pop_front();
        }
        Ok(())
    }

    /// Ends verification: any checkpoint not reached means the tail was cut.
    pub fn finish(self) -> Result<Report, Finding> {
        let entries = self.frontier.size();
        if let Some(checkpoint) = self.pending.front() {
            return Err(Finding::Truncated {
                tree_size: checkpoint.tree_size,
                entries,
            });
        }
        Ok(Report {
            entries: entries - self.start,
            start: self.start,
            checkpoints: self.matched,
            last_checkpoint: self.last_matched,
        })
    }

    /// The leaf hash of the last entry checked (or the one verification resumed
    /// after; zeros before any).
    #[must_use]
    pub const fn last_leaf(&self) -> Hash {
        self.prev
    }

    /// The tree so far: its size and root.
    #[must_use]
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }
}

/// An entry scanned, and its leaf hash if it scanned as canonical (anything else
/// fails before the hash is looked at).
fn scan_and_hash_one(bytes: &[u8]) -> (Result<Scanned<'_>, NotCanonical>, Hash) {
    let scanned = scan(bytes);
    let leaf = if scanned.is_ok() {
        crate::merkle::leaf_hash(bytes)
    } else {
        [0; 32]
    };
    (scanned, leaf)
}

/// Each entry scanned and leaf-hashed, on up to `threads` scoped threads, in order.
fn scan_and_hash<E: AsRef<[u8]> + Sync>(
    entries: &[E],
    threads: usize,
) -> Vec<(Result<Scanned<'_>, NotCanonical>, Hash)> {
    if threads == 1 || entries.len() < 2 * threads {
        return entries
            .iter()
            .map(|e| scan_and_hash_one(e.as_ref()))
            .collect();
    }
    let share = entries.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = entries
            .chunks(share)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|e| scan_and_hash_one(e.as_ref()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use enamel_domain::ActorType;
    use time::OffsetDateTime;

    use super::*;
    use crate::checkpoint::Signer;
    use crate::entry::{Action, Entry, Event, Outcome, ResourceType};

    /// A log of `n` entries with checkpoints every `every` entries.
    struct Log {
        entries: Vec<Vec<u8>>,
        hashes: Vec<Hash>,
        checkpoints: Vec<Checkpoint>,
        signer: Signer,
    }

    fn event(i: u64) -> Event {
        Event {
            timestamp: OffsetDateTime::UNIX_EPOCH
                + time::Duration::seconds(i64::try_from(i).unwrap()),
            action: Action::Read,
            actor_id: Some(format!("user-{}", i % 3)),
            actor_type: ActorType::Human,
            scope: Scope::Platform,
            patient_id: None,
            resource_type: ResourceType::Patient,
            resource_id: Some(i.to_string()),
            outcome: Outcome::Success,
            ip_address: None,
            user_agent: None,
            correlation_id: None,
            detail: BTreeMap::new(),
        }
    }

    fn log(n: u64, every: u64) -> Log {
        let signer = Signer::from_seed(&[3; 32]).unwrap();
        let (mut entries, mut hashes, mut checkpoints) = (Vec::new(), Vec::new(), Vec::new());
        let mut frontier = Frontier::default();
        let mut prev = [0; 32];
        for i in 0..n {
            let entry = Entry::new(&event(i), i, &prev);
            prev = entry.leaf_hash();
            frontier.push(prev);
            entries.push(entry.canonical());
            hashes.push(prev);
            if (i + 1) % every == 0 {
                checkpoints.push(signer.sign(
                    &Scope::Platform,
                    i + 1,
                    &frontier.root(),
                    "2026-11-22T10:00:00Z",
                ));
            }
        }
        Log {
            entries,
            hashes,
            checkpoints,
            signer,
        }
    }

    /// Verifies one entry at a time, and again in runs on several threads (with
    /// and without stored hashes), and requires the same verdicts.
    fn verify(log: &Log) -> Result<Report, Finding> {
        let start = || {
            Verifier::new(
                &Scope::Platform,
                &log.signer.public_key(),
                log.checkpoints.clone(),
            )
        };
        let one_by_one = start().and_then(|mut verifier| {
            for (bytes, hash) in log.entries.iter().zip(&log.hashes) {
                verifier.push(bytes, Some(hash))?;
            }
            verifier.finish()
        });
        let in_runs = |stored: Option<&[Hash]>| {
            start().and_then(|mut verifier| {
                for (run, entries) in log.entries.chunks(16).enumerate() {
                    let hashes =
                        stored.map(|h| &h[run * 16..(run * 16 + entries.len()).min(h.len())]);
                    verifier.push_all(entries, hashes, 3)?;
                }
                verifier.finish()
            })
        };
        assert_eq!(in_runs(Some(&log.hashes)), one_by_one);
        let without_hashes = start().and_then(|mut verifier| {
            for bytes in &log.entries {
                verifier.push(bytes, None)?;
            }
            verifier.finish()
        });
        assert_eq!(in_runs(None), without_hashes);
        one_by_one
    }

    fn edit(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
        String::from_utf8(bytes.to_vec())
            .unwrap()
            .replace(from, to)
            .into_bytes()
    }

    #[test]
    fn an_untouched_log_verifies() {
        let report = verify(&log(100, 10)).unwrap();
        assert_eq!(
            (report.entries, report.checkpoints, report.last_checkpoint),
            (100, 10, Some(100))
        );
    }

    #[test]
    fn a_checkpoint_seen_twice_counts_once_and_two_roots_at_one_size_are_a_fork() {
        let mut log = log(40, 10);
        // The database's copy and the exported copy of the same checkpoints.
        log.checkpoints.extend(log.checkpoints.clone());
        let report = verify(&log).unwrap();
        assert_eq!((report.checkpoints, report.last_checkpoint), (4, Some(40)));
        let other_root = log.signer.sign(
            &Scope::Platform,
            20,
            &crate::merkle::leaf_hash(b"another history"),
            "2026-11-22T10:00:00Z",
        );
        log.checkpoints.push(other_root);
        assert_eq!(verify(&log), Err(Finding::RootMismatch { tree_size: 20 }));
    }

    #[test]
    fn an_edited_field_is_found_at_its_index() {
        let mut log = log(50, 10);
        log.entries[17] = edit(&log.entries[17], "\"user-2\"", "\"user-0\"");
        assert_eq!(verify(&log), Err(Finding::EditedEntry { index: 17 }));
    }

    #[test]
    fn an_edit_with_its_hash_recomputed_breaks_the_chain() {
        let mut log = log(50, 10);
        log.entries[17] = edit(&log.entries[17], "\"user-2\"", "\"user-0\"");
        log.hashes[17] = crate::merkle::leaf_hash(&log.entries[17]);
        assert_eq!(verify(&log), Err(Finding::BrokenChain { index: 18 }));
    }

    #[test]
    fn a_deleted_entry_is_found() {
        let mut log = log(50, 10);
        log.entries.remove(23);
        log.hashes.remove(23);
        assert_eq!(
            verify(&log),
            Err(Finding::OutOfPlace {
                index: 23,
                found: 24
            })
        );
    }

    #[test]
    fn an_inserted_entry_is_found() {
        let mut log = log(50, 10);
        let forged = Entry::new(&event(999), 23, &log.hashes[22]);
        log.entries.insert(23, forged.canonical());
        log.hashes.insert(23, forged.leaf_hash());
        assert_eq!(
            verify(&log),
            Err(Finding::OutOfPlace {
                index: 24,
                found: 23
            })
        );
    }

    #[test]
    fn two_swapped_entries_are_found() {
        let mut log = log(50, 10);
        log.entries.swap(30, 31);
        log.hashes.swap(30, 31);
        assert_eq!(
            verify(&log),
            Err(Finding::OutOfPlace {
                index: 30,
                found: 31
            })
        );
    }

    #[test]
    fn a_truncated_tail_is_found() {
        let mut log = log(50, 10);
        log.entries.truncate(44);
        log.hashes.truncate(44);
        assert_eq!(
            verify(&log),
            Err(Finding::Truncated {
                tree_size: 50,
                entries: 44
            })
        );
    }

    #[test]
    fn a_wholesale_rewrite_with_recomputed_hashes_is_caught_by_the_signed_checkpoints() {
        let original = log(50, 10);
        // The attacker rewrites entry 12 and recomputes every later index, chain and
        // hash, but cannot sign checkpoints.
        let mut forged = log(50, 10);
        let mut prev = forged.hashes[11];
        for i in 12..50_u64 {
            let mut e = event(i);
            if i == 12 {
                e.actor_id = Some("someone-else".into());
            }
            let entry = Entry::new(&e, i, &prev);
            prev = entry.leaf_hash();
            forged.entries[usize::try_from(i).unwrap()] = entry.canonical();
            forged.hashes[usize::try_from(i).unwrap()] = prev;
        }
        forged.checkpoints = original.checkpoints.clone();
        assert_eq!(
            verify(&forged),
            Err(Finding::RootMismatch { tree_size: 20 })
        );
    }

    #[test]
    fn a_forged_checkpoint_is_found() {
        let mut log = log(20, 10);
        log.checkpoints[1].tree_size = 19;
        assert_eq!(
            verify(&log),
            Err(Finding::ForgedCheckpoint { tree_size: 19 })
        );
    }

    #[test]
    fn junk_bytes_are_reported_not_a_crash() {
        let mut log = log(20, 10);
        log.entries[5] = b"\xff\xfe not json".to_vec();
        assert_eq!(verify(&log), Err(Finding::NotCanonical { index: 5 }));
    }

    #[test]
    fn verification_resumes_from_a_retained_checkpoint_after_a_purge() {
        let log = log(50, 10);
        let mut frontier = Frontier::default();
        for hash in &log.hashes[..20] {
            frontier.push(*hash);
        }
        let retained: Vec<Checkpoint> = log.checkpoints[1..].to_vec();
        let mut verifier = Verifier::resume(
            &Scope::Platform,
            &log.signer.public_key(),
            retained.clone(),
            frontier.clone(),
            log.hashes[19],
        )
        .unwrap();
        for (bytes, hash) in log.entries[20..].iter().zip(&log.hashes[20..]) {
            verifier.push(bytes, Some(hash)).unwrap();
        }
        let report = verifier.finish().unwrap();
        assert_eq!(
            (report.start, report.entries, report.last_checkpoint),
            (20, 30, Some(50))
        );
        // A frontier that does not match the signed checkpoint is refused.
        let mut wrong = frontier;
        wrong.push(log.hashes[0]);
        assert!(
            Verifier::resume(
                &Scope::Platform,
                &log.signer.public_key(),
                retained,
                wrong,
                log.hashes[20]
            )
            .is_err()
        );
    }
}
