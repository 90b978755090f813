//! Patients imported from the practice's PMS, by its patient number (`PatNum`):
//! re-importing updates the same patient; a patient already in Enamel with the same
//! name and birth date (added by hand, or referred in) is linked, not duplicated.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Outcome, ResourceType};
use enamel_domain::{NewPatient, PatientId, PmsId};
use uuid::Uuid;

use super::sealing::{indexes, insert_patient};
use crate::db::{on_pool, on_tx};
use crate::repos::schedule::Upserted;
use crate::{Scoped, StoreError};

impl Scoped<'_> {
    /// Adds or updates the patient with PMS number `pms` (`schedule.import`).
    /// The patient's name, birth date and contact details are sealed again under
    /// the row's id; the audit event is written with the change.
    pub async fn import_pms_patient(
        &self,
        pms: &PmsId,
        new: &NewPatient,
    ) -> Result<(PatientId, Upserted), StoreError> {
        let practice = self.authorize_import(ResourceType::Patient).await?;
        let key = self.blind_index_key().await?;
        let pms_index = key.pms_record("patients", pms.as_str()).as_bytes().to_vec();
        let found: Option<Uuid> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar("SELECT id FROM patients WHERE practice_id = $1 AND pms_index = $2")
                .bind(practice.as_uuid())
                .bind(&pms_index)
                .fetch_optional(pool)
                .await
        })
        .context("finding an imported patient")?;
        let indexes = indexes(&key, new);
        let by_pms = found.map(PatientId::from_uuid);
        // Linked by name and birth date only when that patient came from no PMS
        // record yet (two PMS patients who share both stay two). A linked record is
        // left as it is: the import names it, and does not rewrite what the practice
        // keeps in Enamel.
        if by_pms.is_none() {
            let matched: Option<Uuid> = on_pool!(&self.store.db, pool => {
                sqlx::query_scalar(
                    "SELECT id FROM patients WHERE practice_id = $1 AND name_birth_index = $2 \
                     AND pms_index IS NULL ORDER BY id LIMIT 1",
                )
                .bind(practice.as_uuid())
                .bind(&indexes.name_birth)
                .fetch_optional(pool)
                .await
            })
            .context("matching an imported patient")?;
            if let Some(id) = matched {
                let id = PatientId::from_uuid(id);
                self.link_patient_pms(id, pms).await?;
                return Ok((id, Upserted::Updated));
            }
        }
        let existing = by_pms;
        let id = existing.unwrap_or(new.id);
        let mut sealed_for = new.clone();
        sealed_for.id = id;
        // A re-import keeps the address kept in Enamel (a PMS export carries none here).
        if let Some(id) = existing {
            let row = self.patient_row(id).await?;
            let kept: enamel_domain::ContactDetails = self
                .store
                .open_json(
                    practice,
                    &crate::sealed::PATIENT_CONTACT,
                    row.id,
                    &row.contact,
                )
                .await?;
            let mut contact = new.contact.expose().clone();
            if contact.address.is_none() {
                contact.address = kept.address;
            }
            sealed_for.contact = enamel_domain::Phi::new(contact);
        }
        let sealed = self.store.seal_patient(practice, &sealed_for).await?;
        let mut event = self.event(
            if existing.is_some() {
                AuditAction::Write
            } else {
                AuditAction::Create
            },
            ResourceType::Patient,
            Some(id.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(id.as_uuid());
        let at = self.store.now();
        let write = async {
            let mut tx = self.store.begin().await?;
            if existing.is_none() {
                insert_patient(&mut tx, practice, id, (&sealed, &indexes), at).await?;
            }
            on_tx!(&mut tx, conn => {
                sqlx::query(
                    "UPDATE patients SET name = $1, birth_date = $2, contact = $3, \
                     name_birth_index = $4, last_name_index = $5, phone_index = $6, \
                     email_index = $7, pms_index = $8, updated_at = $9 \
                     WHERE id = $10 AND practice_id = $11",
                )
                .bind(&sealed.name)
                .bind(&sealed.birth_date)
                .bind(&sealed.contact)
                .bind(&indexes.name_birth)
                .bind(&indexes.last_name)
                .bind(&indexes.phone)
                .bind(&indexes.email)
                .bind(&pms_index)
                .bind(at)
                .bind(id.as_uuid())
                .bind(practice.as_uuid())
                .execute(&mut *conn)
                .await
                .map(|_| ())
            })?;
            tx.commit_with(&[&event]).await
        };
        write.await.map_err(|err| {
            crate::error::conflict_if_taken(err, "this PMS patient number", "importing a patient")
        })?;
        Ok((id, Upserted::from_existing(existing.is_some())))
    }
}
