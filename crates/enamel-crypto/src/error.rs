//! What callers of the crypto layer can act on.

/// A failure to seal or open. None of the variants carries plaintext or key bytes.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Authentication failed: the ciphertext was altered, or belongs to another
    /// practice, table, column or row, or the key is wrong.
    #[error("ciphertext failed authentication (tampered, moved, or under another key)")]
    Authentication,
    /// The ciphertext's header names a format this build does not know.
    #[error("unsupported ciphertext format version {0}")]
    UnsupportedVersion(u8),
    /// The ciphertext is too short or its header is malformed.
    #[error("malformed ciphertext")]
    Malformed,
    /// The key the ciphertext names is not available.
    #[error("unknown data key")]
    UnknownKey,
    /// The practice's keys were destroyed: its data is unreadable by design.
    #[error("this practice's data has been destroyed")]
    Shredded,
    /// The key provider failed (unreachable KMS, unreadable key file).
    #[error(transparent)]
    Provider(#[from] anyhow::Error),
}
