//! Key providers: where the key-encryption keys (KEKs) live, outside the database.
//!
//! Each practice has its own KEK in the provider. Its data keys are stored in the
//! database wrapped by that KEK, so destroying the KEK makes the practice's data
//! keys, and with them all of its PHI, unreadable, including in database backups.

mod local;

use enamel_domain::PracticeId;

pub use local::LocalKeyFile;

use crate::CryptoError;
use crate::keys::{KeyBinding, KeyMaterial};

/// A data key wrapped by a KEK, with the KEK's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    pub kek_id: String,
    pub bytes: Vec<u8>,
}

/// The configured key provider.
#[derive(Debug)]
pub enum KeyProvider {
    /// A key file on local disk (the embedded default).
    Local(LocalKeyFile),
}

// The interface is async because a KMS provider's calls are network round trips;
// the local file's are not.
#[allow(clippy::unused_async)]
impl KeyProvider {
    /// The provider's kind, for logs and reports.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Local(_) => "local key file",
        }
    }

    /// Wraps a data key under the practice's current KEK, creating the KEK on first use.
    pub async fn wrap(
        &self,
        binding: &KeyBinding,
        material: &KeyMaterial,
    ) -> Result<WrappedKey, CryptoError> {
        match self {
            Self::Local(file) => file.wrap(binding, material),
        }
    }

    /// Unwraps a data key with the KEK that wrapped it. A destroyed KEK is
    /// [`CryptoError::Shredded`].
    pub async fn unwrap(
        &self,
        binding: &KeyBinding,
        wrapped: &WrappedKey,
    ) -> Result<KeyMaterial, CryptoError> {
        match self {
            Self::Local(file) => file.unwrap(binding, wrapped),
        }
    }

    /// Makes a new KEK the practice's current one; older ones still unwrap.
    pub async fn rotate(&self, practice: PracticeId) -> Result<String, CryptoError> {
        match self {
            Self::Local(file) => file.rotate(practice),
        }
    }

    /// Removes the practice's KEKs other than `keep`, once nothing is wrapped by them.
    pub async fn retire_except(&self, practice: PracticeId, keep: &str) -> Result<(), CryptoError> {
        match self {
            Self::Local(file) => file.retire_except(practice, keep),
        }
    }

    /// Destroys every KEK of the practice (crypto-shredding).
    pub async fn destroy(&self, practice: PracticeId) -> Result<(), CryptoError> {
        match self {
            Self::Local(file) => file.destroy(practice),
        }
    }
}
