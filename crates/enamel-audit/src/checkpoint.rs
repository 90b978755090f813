//! Signed checkpoints: a log's size and root at a time, signed with Ed25519.
//!
//! The signed message is text, so an auditor can check it with any Ed25519 tool:
//!
//! ```text
//! enamel-audit-checkpoint-v1
//! <scope>
//! <tree size>
//! <root hash, hex>
//! <time, RFC 3339 UTC>
//! ```

use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::entry::{Scope, hex};
use crate::merkle::Hash;

/// A checkpoint as stored and exported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub scope: String,
    pub tree_size: u64,
    /// Hex SHA-256 root.
    pub root: String,
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// Hex Ed25519 signature over [`Checkpoint::message`].
    pub signature: String,
    /// Hex id of the signing key (SHA-256 of its public key, first 8 bytes).
    pub key_id: String,
}

impl Checkpoint {
    /// The bytes that are signed.
    #[must_use]
    pub fn message(scope: &str, tree_size: u64, root: &str, timestamp: &str) -> Vec<u8> {
        format!("enamel-audit-checkpoint-v1\n{scope}\n{tree_size}\n{root}\n{timestamp}\n")
            .into_bytes()
    }

    /// Verifies the signature with `public_key` (32 raw bytes).
    #[must_use]
    pub fn verify(&self, public_key: &[u8]) -> bool {
        let Some(signature) = unhex(&self.signature) else {
            return false;
        };
        let message = Self::message(&self.scope, self.tree_size, &self.root, &self.timestamp);
        UnparsedPublicKey::new(&signature::ED25519, public_key)
            .verify(&message, &signature)
            .is_ok()
    }

    /// The root as bytes, if well-formed.
    #[must_use]
    pub fn root_hash(&self) -> Option<Hash> {
        unhex(&self.root)?.try_into().ok()
    }
}

/// The key checkpoints are signed with. The seed comes from the key provider and is
/// never stored in the database.
pub struct Signer {
    pair: Ed25519KeyPair,
    key_id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.key_id)
    }
}

impl Signer {
    /// A signer from a 32-byte Ed25519 seed.
    pub fn from_seed(seed: &[u8]) -> Result<Self, &'static str> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| "not an Ed25519 seed")?;
        let key_id = key_id(pair.public_key().as_ref());
        Ok(Self { pair, key_id })
    }

    /// The raw 32-byte public key, for auditors.
    #[must_use]
    pub fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// Signs a checkpoint of `scope` at `tree_size` with `root`, at `timestamp`.
    #[must_use]
    pub fn sign(&self, scope: &Scope, tree_size: u64, root: &Hash, timestamp: &str) -> Checkpoint {
        let (scope, root) = (scope.key(), hex(root));
        let signature = self
            .pair
            .sign(&Checkpoint::message(&scope, tree_size, &root, timestamp));
        Checkpoint {
            scope,
            tree_size,
            root,
            timestamp: timestamp.to_owned(),
            signature: hex(signature.as_ref()),
            key_id: self.key_id.clone(),
        }
    }
}

impl Signer {
    /// Signs the record of a purge of `scope` that kept the entries from `cut`.
    #[must_use]
    pub fn sign_purge(
        &self,
        scope: &Scope,
        cut: u64,
        last_removed_at: &str,
        purged_at: &str,
    ) -> crate::purge::PurgeRecord {
        let scope = scope.key();
        let signature = self.pair.sign(&crate::purge::PurgeRecord::message(
            &scope,
            cut,
            last_removed_at,
            purged_at,
        ));
        crate::purge::PurgeRecord {
            scope,
            cut,
            last_removed_at: last_removed_at.to_owned(),
            purged_at: purged_at.to_owned(),
            signature: hex(signature.as_ref()),
            key_id: self.key_id.clone(),
        }
    }
}

/// A short id for a public key: the first 8 bytes of its SHA-256, hex.
#[must_use]
pub fn key_id(public_key: &[u8]) -> String {
    hex(&aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, public_key).as_ref()[..8])
}

/// Decodes lower- or upper-case hex.
#[must_use]
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    fn signer() -> Signer {
        Signer::from_seed(&[7; 32]).unwrap()
    }

    #[test]
    fn a_signed_checkpoint_verifies_with_the_public_key_alone() {
        let signer = signer();
        let checkpoint = signer.sign(
            &Scope::Platform,
            42,
            &leaf_hash(b"x"),
            "2026-11-22T10:00:00Z",
        );
        assert!(checkpoint.verify(&signer.public_key()));
    }

    #[test]
    fn any_changed_field_or_another_key_fails() {
        let signer = signer();
        let checkpoint = signer.sign(
            &Scope::Platform,
            42,
            &leaf_hash(b"x"),
            "2026-11-22T10:00:00Z",
        );
        let public = signer.public_key();
        let mut size = checkpoint.clone();
        size.tree_size = 41;
        let mut root = checkpoint.clone();
        root.root = hex(&leaf_hash(b"y"));
        let mut scope = checkpoint.clone();
        scope.scope = "00000000-0000-0000-0000-000000000001".into();
        for bad in [size, root, scope] {
            assert!(!bad.verify(&public));
        }
        let other = Signer::from_seed(&[8; 32]).unwrap();
        assert!(!checkpoint.verify(&other.public_key()));
    }
}
