//! Enamel's cryptography, on aws-lc-rs (no cipher code of our own).
//!
//! - [`field`]: a PHI value sealed with AES-256-GCM under a practice's data key, with
//!   associated data binding it to its practice, table, column and row.
//! - [`stream`]: attachments sealed in fixed-size chunks under a key of their own, so
//!   a large file never sits whole in memory and cannot be truncated, reordered or
//!   spliced unnoticed.
//! - [`keys`]: data keys and their wrapping by a key-encryption key.
//! - [`blind`]: keyed blind indexes (HMAC-SHA256) for equality search on PHI.
//! - [`provider`]: where the key-encryption keys live (a local key file; AWS KMS).
//! - [`password`]: the rules for a new password, and Argon2id hashing.
//! - [`totp`]: time-based one-time passwords for the second factor.
//! - [`token`]: random bearer secrets stored only as digests.
//! - [`link`]: HMAC-signed, expiring links for the patient portal.
//!
//! The key hierarchy and formats are specified in `docs/encryption.md`.

pub mod blind;
pub mod checksum;
mod error;
pub mod field;
pub mod keys;
pub mod link;
pub mod offer;
pub mod password;
pub mod provider;
pub mod stream;
pub mod token;
pub mod totp;

pub use error::CryptoError;
pub use keys::{DataKey, KeyId, KeyMaterial, KeyPurpose};
pub use provider::{KeyProvider, LocalKeyFile, ProviderFuture, WrappedKey};

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn random(buf: &mut [u8]) {
    use aws_lc_rs::rand::SecureRandom as _;
    aws_lc_rs::rand::SystemRandom::new()
        .fill(buf)
        .expect("the system CSPRNG is available");
}
