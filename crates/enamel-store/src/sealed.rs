//! Sealing and opening encrypted columns through the keyring, and the registry of
//! which columns are encrypted (what re-encryption walks).

use enamel_crypto::field::{self, FieldContext};
use enamel_domain::PracticeId;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{Store, StoreError};

/// An encrypted column: its table has `id` (the row's UUID) and `practice_id`.
#[derive(Clone, Copy, Debug)]
pub struct EncryptedColumn {
    pub table: &'static str,
    pub column: &'static str,
}

/// Every encrypted column. A table that stores PHI or secrets adds its columns here
/// so that key rotation re-encrypts them.
pub const ENCRYPTED_COLUMNS: &[EncryptedColumn] = &[
    EncryptedColumn {
        table: "vendor_credentials",
        column: "secret",
    },
    // A platform operator's row has no practice and is sealed under the platform
    // secrets key (`Store::seal_platform`), which key rotation does not walk.
    EncryptedColumn {
        table: "mfa_secrets",
        column: "secret",
    },
    EncryptedColumn {
        table: "break_glass_grants",
        column: "note",
    },
];

/// The label of the key, derived from the key provider's platform seed, that seals
/// the secrets of accounts belonging to no practice.
const PLATFORM_SECRETS_LABEL: &[u8] = b"enamel platform secrets v1";

impl EncryptedColumn {
    pub(crate) const fn context(&self, practice: PracticeId, row: Uuid) -> FieldContext<'static> {
        FieldContext {
            practice,
            table: self.table,
            column: self.column,
            row,
        }
    }
}

impl Store {
    /// The key for secrets of no practice: derived from the provider's platform seed
    /// (the one the audit signing key comes from), never stored.
    async fn platform_key(&self) -> Result<enamel_crypto::DataKey, StoreError> {
        let seed = self.keys.provider().audit_signing_seed().await?;
        let material = seed.derive(PLATFORM_SECRETS_LABEL);
        Ok(enamel_crypto::DataKey::new(
            enamel_crypto::KeyId::from_uuid(Uuid::nil()),
            PracticeId::from_uuid(Uuid::nil()),
            &material,
        ))
    }

    /// Seals a secret of no practice (a platform operator's second factor).
    pub(crate) async fn seal_platform(
        &self,
        column: &EncryptedColumn,
        row: Uuid,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let key = self.platform_key().await?;
        let place = column.context(PracticeId::from_uuid(Uuid::nil()), row);
        Ok(field::seal(&key, &place, plaintext))
    }

    /// Opens what [`Store::seal_platform`] sealed.
    pub(crate) async fn open_platform(
        &self,
        column: &EncryptedColumn,
        row: Uuid,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let key = self.platform_key().await?;
        let place = column.context(PracticeId::from_uuid(Uuid::nil()), row);
        Ok(field::open(&key, &place, ciphertext)?)
    }

    /// Seals `plaintext` for `column` of `row` under the practice's current data key.
    pub(crate) async fn seal(
        &self,
        practice: PracticeId,
        column: &EncryptedColumn,
        row: Uuid,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let key = self.keys.current_data_key(&self.db, practice).await?;
        Ok(field::seal(&key, &column.context(practice, row), plaintext))
    }

    /// Opens a value of `column` of `row` with the data key its header names.
    pub(crate) async fn open(
        &self,
        practice: PracticeId,
        column: &EncryptedColumn,
        row: Uuid,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let key = self
            .keys
            .data_key(&self.db, practice, field::key_id(ciphertext)?)
            .await?;
        Ok(field::open(
            &key,
            &column.context(practice, row),
            ciphertext,
        )?)
    }
}
