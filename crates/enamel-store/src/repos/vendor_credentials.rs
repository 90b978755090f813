//! Credentials a practice configures for its vendors (PMS API keys, SMS and fax
//! tokens), sealed like PHI.

use anyhow::Context as _;
use enamel_domain::{PracticeId, VendorName};
use secrecy::SecretString;
use time::OffsetDateTime;
use uuid::Uuid;

use enamel_audit::entry::{Action, Detail, Event, Outcome, ResourceType};
use enamel_domain::Actor;

use crate::db::{on_pool, on_tx};
use crate::error::is_unique_violation;
use crate::sealed::{ENCRYPTED_COLUMNS, EncryptedColumn};
use crate::{Store, StoreError};

const SECRET: &EncryptedColumn = &ENCRYPTED_COLUMNS[0];

/// A credential's description; the secret itself is read only with
/// [`VendorCredentials::secret`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialInfo {
    pub vendor: VendorName,
    pub label: String,
    pub updated_at: OffsetDateTime,
}

/// One practice's vendor credentials.
#[derive(Debug)]
pub struct VendorCredentials<'a> {
    store: &'a Store,
    practice: PracticeId,
    actor: &'a Actor,
}

impl<'a> VendorCredentials<'a> {
    pub(crate) const fn new(store: &'a Store, practice: PracticeId, actor: &'a Actor) -> Self {
        Self {
            store,
            practice,
            actor,
        }
    }

    fn event(&self, action: Action, vendor: &VendorName, outcome: Outcome) -> Event {
        let mut event = self.store.event_for(
            self.actor,
            action,
            ResourceType::VendorCredential,
            Some(vendor.as_str().to_owned()),
            outcome,
        );
        event
            .detail
            .insert("vendor", Detail::Code(vendor.as_str().to_owned()));
        event
    }

    /// Records the access, success or failure; the access fails if this does.
    async fn audit(
        &self,
        action: Action,
        vendor: &VendorName,
        outcome: Outcome,
    ) -> Result<(), StoreError> {
        self.store
            .audit()
            .record(self.event(action, vendor, outcome))
            .await
            .map(|_| ())
    }

    /// Stores or replaces the credential `label` for `vendor`.
    pub async fn put(
        &self,
        vendor: &VendorName,
        label: &str,
        secret: &SecretString,
    ) -> Result<(), StoreError> {
        let result = self.put_with_event(vendor, label, secret).await;
        if result.is_err() {
            // The write and its event were rolled back together: record the failure.
            self.audit(Action::Write, vendor, Outcome::Failure).await?;
        }
        result
    }

    /// Writes the credential and its audit event in one transaction: both or neither.
    async fn put_with_event(
        &self,
        vendor: &VendorName,
        label: &str,
        secret: &SecretString,
    ) -> Result<(), StoreError> {
        use secrecy::ExposeSecret as _;
        let existing = self.find(vendor, label).await?;
        let (row, is_new) =
            existing.map_or_else(|| (Uuid::now_v7(), true), |(row, _)| (row, false));
        let sealed = self
            .store
            .seal(
                self.practice,
                SECRET,
                row,
                secret.expose_secret().as_bytes(),
            )
            .await?;
        let event = self.event(Action::Write, vendor, Outcome::Success);
        let events = [&event];
        let at = self.store.now();
        let write = async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, conn => {
                if is_new {
                    sqlx::query(
                        "INSERT INTO vendor_credentials \
                         (id, practice_id, vendor, label, secret, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $6)",
                    )
                    .bind(row)
                    .bind(self.practice.as_uuid())
                    .bind(vendor.as_str())
                    .bind(label)
                    .bind(&sealed)
                    .bind(at)
                    .execute(&mut *conn)
                    .await
                    .map(|r| r.rows_affected())
                } else {
                    sqlx::query("UPDATE vendor_credentials SET secret = $1, updated_at = $2 WHERE id = $3")
                        .bind(&sealed)
                        .bind(at)
                        .bind(row)
                        .execute(&mut *conn)
                        .await
                        .map(|r| r.rows_affected())
                }
            })?;
            tx.commit_with(&events).await
        };
        let written = write.await;
        match written {
            Ok(()) => Ok(()),
            Err(err)
                if err
                    .downcast_ref::<sqlx::Error>()
                    .is_some_and(is_unique_violation) =>
            {
                Err(StoreError::Conflict(
                    "this credential was just created by another request; try again",
                ))
            }
            Err(err) => Err(err.context("storing a vendor credential").into()),
        }
    }

    async fn find(
        &self,
        vendor: &VendorName,
        label: &str,
    ) -> Result<Option<(Uuid, Vec<u8>)>, StoreError> {
        let row = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, secret FROM vendor_credentials \
                 WHERE practice_id = $1 AND vendor = $2 AND label = $3",
            )
            .bind(self.practice.as_uuid())
            .bind(vendor.as_str())
            .bind(label)
            .fetch_optional(pool)
            .await
        })
        .context("finding a vendor credential")?;
        Ok(row)
    }

    /// The secret of credential `label` for `vendor`. The read is audited (success
    /// or failure) before the secret is returned; if the audit fails, so does the read.
    pub async fn secret(
        &self,
        vendor: &VendorName,
        label: &str,
    ) -> Result<SecretString, StoreError> {
        let result = self.secret_unaudited(vendor, label).await;
        let outcome = if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        self.audit(Action::Read, vendor, outcome).await?;
        result
    }

    async fn secret_unaudited(
        &self,
        vendor: &VendorName,
        label: &str,
    ) -> Result<SecretString, StoreError> {
        let (row, sealed) = self
            .find(vendor, label)
            .await?
            .ok_or(StoreError::NotFound)?;
        let plain = self.store.open(self.practice, SECRET, row, &sealed).await?;
        let text = std::str::from_utf8(&plain)
            .map_err(|_| StoreError::Crypto(enamel_crypto::CryptoError::Malformed))?;
        Ok(SecretString::from(text.to_owned()))
    }

    /// The practice's credentials, without their secrets.
    pub async fn list(&self) -> Result<Vec<CredentialInfo>, StoreError> {
        let rows: Vec<(String, String, OffsetDateTime)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT vendor, label, updated_at FROM vendor_credentials \
                 WHERE practice_id = $1 ORDER BY vendor, label",
            )
            .bind(self.practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("listing vendor credentials")?;
        rows.into_iter()
            .map(|(vendor, label, updated_at)| {
                Ok(CredentialInfo {
                    vendor: VendorName::parse(&vendor).map_err(StoreError::Corrupt)?,
                    label,
                    updated_at,
                })
            })
            .collect()
    }
}
