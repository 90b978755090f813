//! Key providers: where the key-encryption keys (KEKs) live, outside the database.
//!
//! Each practice has its own KEK in the provider. Its data keys are stored in the
//! database wrapped by that KEK, so destroying the KEK makes the practice's data
//! keys, and with them all of its PHI, unreadable, including in database backups.
//!
//! Two providers: [`LocalKeyFile`] here (the embedded default) and AWS KMS in
//! `enamel-integrations` (an outbound vendor, named for the BAA registry).

mod local;

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

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

/// The future a provider call returns (object-safe, so the store can hold any provider).
pub type ProviderFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CryptoError>> + Send + 'a>>;

/// Where KEKs live and how data keys are wrapped by them.
pub trait KeyProvider: Debug + Send + Sync {
    /// The provider's kind, for logs and reports.
    fn kind(&self) -> &'static str;

    /// The vendor that holds the KEKs, when it is one outside Enamel (a cloud KMS):
    /// a practice's new keys are made there only under an executed BAA with it, as
    /// the practice's registry names it. `None` for keys kept by Enamel itself.
    fn vendor(&self) -> Option<&'static str> {
        None
    }

    /// A fresh data key, in the clear and wrapped under the practice's current KEK
    /// (created on first use).
    fn generate(&self, binding: KeyBinding) -> ProviderFuture<'_, (KeyMaterial, WrappedKey)>;

    /// Wraps existing key material under the practice's current KEK (re-wrapping).
    fn wrap<'a>(
        &'a self,
        binding: KeyBinding,
        material: &'a KeyMaterial,
    ) -> ProviderFuture<'a, WrappedKey>;

    /// Unwraps a data key with the KEK that wrapped it; a destroyed KEK is
    /// [`CryptoError::Shredded`].
    fn unwrap<'a>(
        &'a self,
        binding: KeyBinding,
        wrapped: &'a WrappedKey,
    ) -> ProviderFuture<'a, KeyMaterial>;

    /// Makes a new KEK the practice's current one and returns its id; older KEKs
    /// still unwrap until retired.
    fn rotate(&self, practice: PracticeId) -> ProviderFuture<'_, String>;

    /// Removes KEKs that no longer wrap anything.
    fn retire(&self, practice: PracticeId, kek_ids: Vec<String>) -> ProviderFuture<'_, ()>;

    /// The Ed25519 seed audit checkpoints are signed with, created on first use.
    /// It lives with the provider, never in the database, so someone who can rewrite
    /// the database cannot re-sign a rewritten log.
    fn audit_signing_seed(&self) -> ProviderFuture<'_, KeyMaterial>;

    /// Destroys every KEK of the practice (crypto-shredding). `known` lists the KEK
    /// ids the database has seen for it.
    fn destroy(&self, practice: PracticeId, known: Vec<String>) -> ProviderFuture<'_, ()>;
}
