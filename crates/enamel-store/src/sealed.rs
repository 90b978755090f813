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

macro_rules! columns {
    ($($name:ident = $table:literal . $column:literal),+ $(,)?) => {$(
        pub(crate) const $name: EncryptedColumn = EncryptedColumn {
            table: $table,
            column: $column,
        };
    )+};
}

columns! {
    PATIENT_NAME = "patients"."name",
    PATIENT_BIRTH_DATE = "patients"."birth_date",
    PATIENT_CONTACT = "patients"."contact",
    PATIENT_INSURANCE = "patients"."insurance",
    REFERRAL_CLINICAL = "referrals"."clinical",
    REFERRAL_APPOINTMENT = "referrals"."appointment",
    REFERRAL_EVENT_NOTE = "referral_events"."note",
    ATTACHMENT_FILE_NAME = "attachments"."file_name",
    OUTBOX_RECIPIENT = "outbox"."recipient",
    OUTBOX_MESSAGE = "outbox"."message",
    SECURITY_ALERT_NOTE = "security_alerts"."note",
    APPOINTMENT_PROCEDURES = "appointments"."procedures",
    APPOINTMENT_NOTE = "appointments"."note",
    APPOINTMENT_PMS_ID = "appointments"."pms_id",
    WAITLIST_NOTE = "waitlist"."note",
    RECALL_PMS_ID = "recalls"."pms_id",
    COVERAGE_MEMBERSHIP = "coverages"."membership",
}

/// Every encrypted column. A table that stores PHI or secrets adds its columns here
/// so that key rotation re-encrypts them. Each is sealed under the key of the
/// practice in its row's `practice_id`.
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
    PATIENT_NAME,
    PATIENT_BIRTH_DATE,
    PATIENT_CONTACT,
    PATIENT_INSURANCE,
    REFERRAL_CLINICAL,
    REFERRAL_APPOINTMENT,
    REFERRAL_EVENT_NOTE,
    ATTACHMENT_FILE_NAME,
    OUTBOX_RECIPIENT,
    OUTBOX_MESSAGE,
    SECURITY_ALERT_NOTE,
    APPOINTMENT_PROCEDURES,
    APPOINTMENT_NOTE,
    APPOINTMENT_PMS_ID,
    WAITLIST_NOTE,
    RECALL_PMS_ID,
    COVERAGE_MEMBERSHIP,
];

/// The label of the key, derived from the key provider's platform seed, that seals
/// the secrets of accounts belonging to no practice.
const PLATFORM_SECRETS_LABEL: &[u8] = b"enamel platform secrets v1";

/// The labels of the keys that sign offer links, oldest first: a key's id in a link
/// is its position here, from 1.
pub const OFFER_KEY_LABELS: &[&[u8]] = &[b"enamel offer links 1"];

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

    /// The key that signs patient portal links, derived from the provider's platform
    /// seed (so every server of a deployment signs alike), never stored.
    pub async fn link_signer(&self) -> Result<enamel_crypto::link::LinkSigner, StoreError> {
        let seed = self.keys.provider().audit_signing_seed().await?;
        Ok(enamel_crypto::link::LinkSigner::new(
            &seed.derive(b"enamel portal links v1"),
        ))
    }

    /// The keys that sign no-show recovery's offer links, derived from the platform
    /// seed like the portal's: the last of [`OFFER_KEY_LABELS`] signs (its key id is
    /// its position, from 1), and the one before it still opens links, so that links
    /// in patients' hands keep working through a rotation (add a label to rotate).
    pub async fn offer_signer(&self) -> Result<enamel_crypto::offer::OfferSigner, StoreError> {
        let seed = self.keys.provider().audit_signing_seed().await?;
        let keys: Vec<(u8, enamel_crypto::KeyMaterial)> = OFFER_KEY_LABELS
            .iter()
            .enumerate()
            .rev()
            .take(2)
            .map(|(at, label)| (u8::try_from(at + 1).unwrap_or(u8::MAX), seed.derive(label)))
            .collect();
        let (current, older) = keys
            .split_first()
            .ok_or(StoreError::Refused("no offer key"))?;
        let older: Vec<(u8, &enamel_crypto::KeyMaterial)> =
            older.iter().map(|(id, m)| (*id, m)).collect();
        Ok(enamel_crypto::offer::OfferSigner::new(
            (current.0, &current.1),
            &older,
        ))
    }

    /// The token of an offer's link: signed over the offer, its run (the slot) and
    /// when it expires.
    pub async fn sign_offer(
        &self,
        offer: enamel_domain::OfferId,
        run: enamel_domain::RecoveryRunId,
        expires_at: time::OffsetDateTime,
    ) -> Result<String, StoreError> {
        let expires_at = u32::try_from(expires_at.unix_timestamp().max(0)).unwrap_or(u32::MAX);
        Ok(self
            .offer_signer()
            .await?
            .sign(&enamel_crypto::offer::OfferLink {
                offer: offer.as_uuid(),
                slot: run.as_uuid(),
                expires_at,
            }))
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
        let key = self.data_key(practice).await?;
        Ok(field::seal(&key, &column.context(practice, row), plaintext))
    }

    /// Seals a value as JSON (the form every structured PHI column takes).
    pub(crate) async fn seal_json<T: serde::Serialize>(
        &self,
        practice: PracticeId,
        column: &EncryptedColumn,
        row: Uuid,
        value: &T,
    ) -> Result<Vec<u8>, StoreError> {
        let plain = Zeroizing::new(
            serde_json::to_vec(value).map_err(|err| StoreError::Unexpected(err.into()))?,
        );
        self.seal(practice, column, row, &plain).await
    }

    /// Opens what [`Store::seal_json`] sealed.
    pub(crate) async fn open_json<T: serde::de::DeserializeOwned>(
        &self,
        practice: PracticeId,
        column: &EncryptedColumn,
        row: Uuid,
        ciphertext: &[u8],
    ) -> Result<T, StoreError> {
        let plain = self.open(practice, column, row, ciphertext).await?;
        serde_json::from_slice(&plain)
            .map_err(|_| StoreError::Crypto(enamel_crypto::CryptoError::Malformed))
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
