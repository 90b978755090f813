//! The BAA gate: no PHI leaves Enamel for a vendor unless the practice has an
//! executed, unexpired business associate agreement with it in its registry. Every
//! outbound path asks here (attachment storage, notices, the letter assistant,
//! KMS, and every adapter to come), and a refusal is audited here, once, in the
//! same words whichever path asked.

use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{PatientId, VendorName};

use crate::{Scoped, StoreError};

/// What would leave for a vendor, as a refusal records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbound<'a> {
    /// Why it would go (a code: `attachment_storage`, `notice`, `letter_draft`).
    pub purpose: &'a str,
    /// The record it is about (a referral, a notification), if one.
    pub resource: ResourceType,
    pub resource_id: Option<String>,
    /// The patient it is about, if one: the refusal then shows in that patient's
    /// accounting of disclosures.
    pub patient: Option<PatientId>,
}

impl Scoped<'_> {
    /// Whether the actor's practice may send PHI to `vendor` today (by the store's
    /// clock). A refusal is audited as a denied disclosure of `what` to the vendor,
    /// with the reason `no_executed_baa`, and returned as [`StoreError::NoBaa`].
    pub async fn require_baa(
        &self,
        vendor: &VendorName,
        what: Outbound<'_>,
    ) -> Result<(), StoreError> {
        let practice = self.practice()?;
        if self.store.baa_allows(practice, vendor).await? {
            return Ok(());
        }
        let mut event = self.event(
            AuditAction::Disclose,
            what.resource,
            what.resource_id,
            Outcome::Denied,
        );
        event.patient_id = what.patient.map(|p| p.as_uuid());
        for (key, value) in [
            ("reason", "no_executed_baa"),
            ("recipient_type", "vendor"),
            ("recipient", vendor.as_str()),
            ("purpose", what.purpose),
        ] {
            event.detail.insert(key, Detail::Code(value.to_owned()));
        }
        self.store.audit().record(event).await?;
        Err(StoreError::NoBaa(vendor.clone()))
    }
}
