//! The BAA gate: no PHI leaves Enamel for a vendor unless the practice has an
//! executed, unexpired business associate agreement with it in its registry. Every
//! outbound path asks here (attachment storage, notices, the letter assistant,
//! KMS, and every adapter to come), and a refusal is audited here, once, in the
//! same words whichever path asked.

use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{PatientId, PracticeId, VendorName};

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

impl crate::Store {
    /// The practice's current data key (made on first use). A key the provider's
    /// vendor may not make, for want of a BAA, is refused and audited here as a
    /// denied disclosure to that vendor (`purpose` `practice_key`).
    pub(crate) async fn data_key(
        &self,
        practice: PracticeId,
    ) -> Result<std::sync::Arc<enamel_crypto::DataKey>, StoreError> {
        let key = self.keys.current_data_key(&self.db, practice).await;
        self.audit_key_refusal(practice, key).await
    }

    /// The practice's blind-index key (made on first use), gated like [`Self::data_key`].
    pub(crate) async fn index_key(
        &self,
        practice: PracticeId,
    ) -> Result<std::sync::Arc<enamel_crypto::blind::IndexKey>, StoreError> {
        let key = self.keys.index_key(&self.db, practice).await;
        self.audit_key_refusal(practice, key).await
    }

    async fn audit_key_refusal<T>(
        &self,
        practice: PracticeId,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Err(StoreError::NoBaa(vendor)) = result else {
            return result;
        };
        let actor = enamel_domain::Actor::system_for(practice, enamel_domain::SystemTask::Keys);
        let mut event = self.event_for(
            &actor,
            AuditAction::Disclose,
            ResourceType::Key,
            None,
            Outcome::Denied,
        );
        for (key, value) in [
            ("reason", "no_executed_baa"),
            ("recipient_type", "vendor"),
            ("recipient", vendor.as_str()),
            ("purpose", "practice_key"),
        ] {
            event.detail.insert(key, Detail::Code(value.to_owned()));
        }
        self.audit().record(event).await?;
        Err(StoreError::NoBaa(vendor))
    }
}
