//! Restricted records: marking a patient's record as restricted (a staff member's, a
//! VIP's, a sensitive case), so that only a dentist who breaks the glass reads it,
//! and lifting that again.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::PatientId;
use enamel_policy::{Action, Circumstances, Resource};
use time::OffsetDateTime;

use crate::db::on_tx;
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, StoreError};

impl Scoped<'_> {
    /// Restricts the record of `patient`, or lifts its restriction, as the policy
    /// allows (`patient.restrict`: the care team restricts; lifting takes a dentist
    /// holding a break-glass grant). A missing or another practice's patient is
    /// [`StoreError::NotFound`]. The change and its audit event (a write of the
    /// patient with `detail.restricted`) commit together; asking for the state the
    /// record is already in changes and records nothing.
    pub async fn set_restricted(
        &self,
        patient: PatientId,
        restricted: bool,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let practice = self.practice()?;
        let row = self.patient_row(patient).await?;
        let break_glass = row.restricted && self.holds_break_glass(patient, at).await?;
        self.authorize(
            Action::PatientRestrict,
            &Resource::Patient {
                id: patient,
                practice,
                restricted: row.restricted,
            },
            Circumstances { break_glass },
            AuditedAs::one(AuditAction::Write, ResourceType::Patient, &patient),
        )
        .await?;
        if row.restricted == restricted {
            return Ok(());
        }
        let mut event = self.event(
            AuditAction::Write,
            ResourceType::Patient,
            Some(patient.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(patient.as_uuid());
        event.detail.insert(
            "restricted",
            Detail::Code(if restricted { "on" } else { "off" }.to_owned()),
        );
        async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, tx => {
                sqlx::query("UPDATE patients SET restricted = $3 WHERE id = $1 AND practice_id = $2")
                    .bind(patient.as_uuid())
                    .bind(practice.as_uuid())
                    .bind(restricted)
                    .execute(&mut *tx)
                    .await?;
            });
            tx.commit_with(&[&event]).await
        }
        .await
        .context("restricting a patient's record")?;
        Ok(())
    }
}
