//! Signed purge records: the only thing that lets a log start after index 0.
//!
//! Retention removes a log's oldest entries once they are older than six years. The
//! purge signs a record, with the same key as the checkpoints, that says which log,
//! where the kept part starts (`cut`), the time of the last entry removed and when
//! the purge ran. Verification accepts a log whose first entries are missing only
//! where such a record covers them and the removed entries were past the retention
//! when they were removed; anything else is tampering. The signed message is text:
//!
//! ```text
//! enamel-audit-purge-v1
//! <scope>
//! <cut: the first index kept>
//! <time of the last entry removed, RFC 3339 UTC>
//! <time of the purge, RFC 3339 UTC>
//! ```

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::checkpoint::unhex;

/// HIPAA's documentation retention (45 CFR 164.316(b)(2)): six years, here as
/// 2,192 days so that leap days never shorten it.
pub const MINIMUM_RETENTION_DAYS: u32 = 2_192;

/// A signed record of one purge of one log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRecord {
    pub scope: String,
    /// The first index kept: entries `0..cut` were removed.
    pub cut: u64,
    /// The time of entry `cut - 1`, the last one removed (RFC 3339, UTC).
    pub last_removed_at: String,
    /// When the purge ran (RFC 3339, UTC).
    pub purged_at: String,
    /// Hex Ed25519 signature over [`PurgeRecord::message`].
    pub signature: String,
    /// Hex id of the signing key.
    pub key_id: String,
}

impl PurgeRecord {
    /// The bytes that are signed.
    #[must_use]
    pub fn message(scope: &str, cut: u64, last_removed_at: &str, purged_at: &str) -> Vec<u8> {
        format!("enamel-audit-purge-v1\n{scope}\n{cut}\n{last_removed_at}\n{purged_at}\n")
            .into_bytes()
    }

    /// Whether the signature verifies with `public_key` (32 raw bytes).
    #[must_use]
    pub fn verify(&self, public_key: &[u8]) -> bool {
        let Some(signature) = unhex(&self.signature) else {
            return false;
        };
        let message = Self::message(
            &self.scope,
            self.cut,
            &self.last_removed_at,
            &self.purged_at,
        );
        UnparsedPublicKey::new(&signature::ED25519, public_key)
            .verify(&message, &signature)
            .is_ok()
    }

    /// Whether every removed entry was at least [`MINIMUM_RETENTION_DAYS`] old when
    /// the purge ran. A record whose times do not parse respects nothing.
    #[must_use]
    pub fn respects_retention(&self) -> bool {
        let parse = |t: &str| OffsetDateTime::parse(t, &Rfc3339).ok();
        match (parse(&self.last_removed_at), parse(&self.purged_at)) {
            (Some(last), Some(purged)) => {
                last + time::Duration::days(i64::from(MINIMUM_RETENTION_DAYS)) <= purged
            }
            _ => false,
        }
    }

    /// Whether this record lets a log of `scope` start at `start`: it is signed by
    /// `public_key`, names the log, covers every index before `start`, and removed
    /// only entries past the retention.
    #[must_use]
    pub fn allows_start(&self, scope: &str, start: u64, public_key: &[u8]) -> bool {
        self.scope == scope
            && self.cut >= start
            && self.respects_retention()
            && self.verify(public_key)
    }
}

/// Whether any of `records` lets the log of `scope` start at `start`
/// ([`PurgeRecord::allows_start`]).
#[must_use]
pub fn purge_covers(records: &[PurgeRecord], scope: &str, start: u64, public_key: &[u8]) -> bool {
    records
        .iter()
        .any(|r| r.allows_start(scope, start, public_key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Signer;
    use crate::entry::Scope;

    fn record(last: &str, purged: &str) -> (PurgeRecord, Vec<u8>) {
        let signer = Signer::from_seed(&[5; 32]).unwrap();
        (
            signer.sign_purge(&Scope::Platform, 1_200, last, purged),
            signer.public_key(),
        )
    }

    #[test]
    fn a_signed_purge_of_old_entries_allows_the_log_to_start_at_its_cut() {
        let (record, key) = record("2019-01-01T00:00:00.000000Z", "2026-11-29T10:00:00.000000Z");
        assert!(record.allows_start("platform", 1_200, &key));
        assert!(
            record.allows_start("platform", 1_000, &key),
            "a later purge covers an earlier cut"
        );
        assert!(
            !record.allows_start("platform", 1_201, &key),
            "nothing past the cut"
        );
        assert!(!record.allows_start("00000000-0000-0000-0000-000000000001", 1_200, &key));
    }

    #[test]
    fn entries_younger_than_six_years_are_never_covered() {
        let (record, key) = record("2021-01-01T00:00:00.000000Z", "2026-11-29T10:00:00.000000Z");
        assert!(record.verify(&key));
        assert!(!record.respects_retention());
        assert!(!record.allows_start("platform", 1_200, &key));
    }

    #[test]
    fn an_altered_or_foreign_record_fails() {
        let (record, key) = record("2019-01-01T00:00:00.000000Z", "2026-11-29T10:00:00.000000Z");
        let mut moved = record.clone();
        moved.cut = 5_000;
        assert!(!moved.allows_start("platform", 5_000, &key));
        let mut older = record.clone();
        older.last_removed_at = "2018-01-01T00:00:00.000000Z".into();
        assert!(!older.verify(&key));
        let other = Signer::from_seed(&[6; 32]).unwrap();
        assert!(!record.verify(&other.public_key()));
    }
}
