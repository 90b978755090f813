//! The BAA registry: each practice's vendors and the state of its business associate
//! agreement with them. Outbound adapters are gated on it at send time.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{BaaStatus, PracticeId, VendorId, VendorName};
use enamel_policy::Action;
use serde::Serialize;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::db::{Db, on_pool, on_tx};
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, Store, StoreError};

/// A vendor in the registry.
#[derive(Clone, Debug, Serialize)]
pub struct Vendor {
    pub id: VendorId,
    pub name: VendorName,
    pub display_name: String,
    pub services: String,
    pub baa_status: BaaStatus,
    pub executed_on: Option<Date>,
    pub expires_on: Option<Date>,
    pub document_ref: Option<String>,
    pub updated_at: OffsetDateTime,
}

impl Vendor {
    /// Whether PHI may go to this vendor on `today`: an executed agreement that has
    /// not expired.
    #[must_use]
    pub fn may_receive_phi(&self, today: Date) -> bool {
        self.baa_status.may_receive_phi(self.expires_on, today)
    }
}

/// A vendor's entry to write.
#[derive(Clone, Debug)]
pub struct VendorEntry {
    pub name: VendorName,
    pub display_name: String,
    pub services: String,
    pub baa_status: BaaStatus,
    pub executed_on: Option<Date>,
    pub expires_on: Option<Date>,
    pub document_ref: Option<String>,
}

impl VendorEntry {
    /// Checks the dates agree with the status.
    pub fn check(&self) -> Result<(), StoreError> {
        if self.baa_status == BaaStatus::Executed && self.executed_on.is_none() {
            return Err(StoreError::Refused(
                "an executed BAA needs its execution date",
            ));
        }
        if let (Some(start), Some(end)) = (self.executed_on, self.expires_on)
            && end < start
        {
            return Err(StoreError::Refused(
                "a BAA cannot expire before it was executed",
            ));
        }
        if self.display_name.trim().is_empty() || self.display_name.len() > 120 {
            return Err(StoreError::Refused(
                "a vendor's display name is 1 to 120 characters",
            ));
        }
        Ok(())
    }
}

type VendorRow = (
    Uuid,
    String,
    String,
    String,
    String,
    Option<Date>,
    Option<Date>,
    Option<String>,
    OffsetDateTime,
);

fn vendor_from(row: VendorRow) -> Result<Vendor, StoreError> {
    let (
        id,
        name,
        display_name,
        services,
        status,
        executed_on,
        expires_on,
        document_ref,
        updated_at,
    ) = row;
    Ok(Vendor {
        id: VendorId::from_uuid(id),
        name: VendorName::parse(&name).map_err(StoreError::Corrupt)?,
        display_name,
        services,
        baa_status: BaaStatus::parse(&status).map_err(StoreError::Corrupt)?,
        executed_on,
        expires_on,
        document_ref,
        updated_at,
    })
}

const VENDOR_COLUMNS: &str = "id, name, display_name, services, baa_status, executed_on, expires_on, \
     document_ref, updated_at";

impl Store {
    /// A practice's entry for `vendor`, for the send-time gate.
    pub async fn vendor_of(
        &self,
        practice: PracticeId,
        vendor: &VendorName,
    ) -> Result<Option<Vendor>, StoreError> {
        vendor_in(&self.db, practice, vendor).await
    }

    /// The BAA gate, which every outbound path asks before PHI leaves: whether
    /// `practice` has an executed, unexpired agreement with `vendor` in its registry
    /// today (by the store's clock). The caller records a refusal in its own terms
    /// (a refused upload, a refused notice, a refused disclosure).
    pub async fn baa_allows(
        &self,
        practice: PracticeId,
        vendor: &VendorName,
    ) -> Result<bool, StoreError> {
        let today = self.now().date();
        Ok(self
            .vendor_of(practice, vendor)
            .await?
            .is_some_and(|v| v.may_receive_phi(today)))
    }
}

impl Scoped<'_> {
    /// The practice's vendors, by name.
    pub async fn vendors(&self) -> Result<Vec<Vendor>, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::VendorView,
            AuditedAs::any(AuditAction::Read, ResourceType::Vendor),
        )
        .await?;
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {VENDOR_COLUMNS} FROM vendors WHERE practice_id = $1 ORDER BY name"
        ));
        let rows: Vec<VendorRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql).bind(practice.as_uuid()).fetch_all(pool).await
        })
        .context("listing vendors")?;
        rows.into_iter().map(vendor_from).collect()
    }

    /// Adds or updates a vendor (by name), audited in the same transaction.
    pub async fn put_vendor(
        &self,
        entry: &VendorEntry,
        at: OffsetDateTime,
    ) -> Result<VendorId, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::VendorManage,
            AuditedAs::one(AuditAction::Write, ResourceType::Vendor, &&entry.name),
        )
        .await?;
        entry.check()?;
        let existing = self.store.vendor_of(practice, &entry.name).await?;
        let id = existing.map_or_else(VendorId::generate, |v| v.id);
        let mut event = self.event(
            AuditAction::Write,
            ResourceType::Vendor,
            Some(entry.name.to_string()),
            Outcome::Success,
        );
        event
            .detail
            .insert("baa_status", Detail::Code(entry.baa_status.as_str().into()));
        async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, tx => {
                sqlx::query(
                    "INSERT INTO vendors (id, practice_id, name, display_name, services, baa_status, \
                     executed_on, expires_on, document_ref, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (practice_id, name) DO UPDATE SET display_name = $4, services = $5, \
                     baa_status = $6, executed_on = $7, expires_on = $8, document_ref = $9, updated_at = $10",
                )
                .bind(id.as_uuid())
                .bind(practice.as_uuid())
                .bind(entry.name.as_str())
                .bind(entry.display_name.trim())
                .bind(entry.services.trim())
                .bind(entry.baa_status.as_str())
                .bind(entry.executed_on)
                .bind(entry.expires_on)
                .bind(entry.document_ref.as_deref())
                .bind(at)
                .execute(&mut *tx)
                .await?;
            });
            tx.commit_with(&[&event]).await
        }
        .await
        .context("writing a vendor")?;
        Ok(id)
    }
}

/// `practice`'s registry entry for `vendor`, if it has one.
pub(crate) async fn vendor_in(
    db: &Db,
    practice: PracticeId,
    vendor: &VendorName,
) -> Result<Option<Vendor>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {VENDOR_COLUMNS} FROM vendors WHERE practice_id = $1 AND name = $2"
    ));
    let row: Option<VendorRow> = on_pool!(db, pool => {
        sqlx::query_as(sql)
            .bind(practice.as_uuid())
            .bind(vendor.as_str())
            .fetch_optional(pool)
            .await
    })
    .context("reading a vendor")?;
    row.map(vendor_from).transpose()
}
