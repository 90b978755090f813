//! SMS consent by phone number: STOP and START from any practice's patients with that number, recorded across practices.

use super::{ConsentSource, Unchanged};
use crate::db::{on_pool, on_tx};
use crate::{Store, StoreError};
use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{PhoneNumber, PracticeId};
use uuid::Uuid;

impl Store {
    /// Records that the holder of `phone` opted out of (or back into) text messages,
    /// for every patient with that mobile number in every practice (each practice's
    /// blind index finds them; a shredded practice has none). Each change is audited
    /// in its practice's log, in the same transaction. Answers how many records
    /// changed.
    pub async fn set_sms_opt_out(
        &self,
        phone: &PhoneNumber,
        opt_out: bool,
        source: ConsentSource,
    ) -> Result<u64, StoreError> {
        let mut changed = 0;
        for practice in self.practices().list().await? {
            // A practice whose keys were shredded, or never made, has no one to opt out.
            let key = match self.keys.index_key(&self.db, practice.id).await {
                Ok(key) => key,
                Err(StoreError::Shredded | StoreError::NoBaa(_)) => continue,
                Err(err) => return Err(err),
            };
            let index = key.phone(phone).as_bytes().to_vec();
            let ids: Vec<Uuid> = on_pool!(&self.db, pool => {
                sqlx::query_scalar(
                    "SELECT id FROM patients WHERE practice_id = $1 AND phone_index = $2 \
                     AND sms_opt_out <> $3",
                )
                .bind(practice.id.as_uuid())
                .bind(&index)
                .bind(opt_out)
                .fetch_all(pool)
                .await
            })
            .context("finding patients by phone")?;
            for id in ids {
                self.record_sms_consent(practice.id, id, opt_out, source)
                    .await?;
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Sets one patient's text-message opt-out, audited in the same transaction
    /// (nothing is written, nor audited, when it is already so).
    pub async fn record_sms_consent(
        &self,
        practice: PracticeId,
        patient: Uuid,
        opt_out: bool,
        source: ConsentSource,
    ) -> Result<(), StoreError> {
        let mut event = self.event_for(
            &enamel_domain::Actor::system_for(practice, enamel_domain::SystemTask::Consent),
            AuditAction::Write,
            ResourceType::Patient,
            Some(patient.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(patient);
        event.detail.insert(
            "sms_opt_out",
            Detail::Code(if opt_out { "yes" } else { "no" }.to_owned()),
        );
        event
            .detail
            .insert("source", Detail::Code(source.as_str().to_owned()));
        let changed = async {
            let mut tx = self.begin().await?;
            let value = on_tx!(&mut tx, tx => {
                let changed = sqlx::query(
                    "UPDATE patients SET sms_opt_out = $1 \
                     WHERE id = $2 AND practice_id = $3 AND sms_opt_out <> $1",
                )
                .bind(opt_out)
                .bind(patient)
                .bind(practice.as_uuid())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed == 0 {
                    // Already so: roll back rather than audit a change that did not happen.
                    anyhow::bail!(Unchanged);
                }
                changed
            });
            tx.commit_with(&[&event]).await?;
            Ok::<_, anyhow::Error>(value)
        }
        .await;
        match changed {
            Ok(_) => Ok(()),
            Err(err) if err.is::<Unchanged>() => Ok(()),
            Err(err) => Err(err.context("recording text-message consent").into()),
        }
    }
}
