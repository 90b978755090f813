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
pub const ENCRYPTED_COLUMNS: &[EncryptedColumn] = &[EncryptedColumn {
    table: "vendor_credentials",
    column: "secret",
}];

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
