//! Emergency access to a restricted record (45 CFR 164.312(a)(2)(ii)): a dentist
//! breaks the glass with a reason; the grant is time-limited, audited and alerts
//! the security officer.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{BreakGlassReason, PatientId};
use enamel_policy::{Action, Circumstances, Resource};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{on_pool, on_tx};
use crate::scoped::authorize::AuditedAs;
use crate::sealed::ENCRYPTED_COLUMNS;
use crate::{Scoped, StoreError};

impl Scoped<'_> {
    /// Opens emergency access to a restricted patient record for `minutes`, with a
    /// reason; raises a security alert. Returns the grant's id.
    pub async fn break_glass(
        &self,
        patient: PatientId,
        reason: BreakGlassReason,
        note: &str,
        minutes: i64,
        now: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        let practice = self.practice()?;
        // Only a real patient of the actor's own practice (a missing or foreign id
        // is not found, alike), and only a restricted one: the glass guards
        // nothing else, so no grant or alert is made for it.
        let row = self.patient_row(patient).await?;
        self.authorize(
            Action::BreakGlassOpen,
            &Resource::Patient {
                id: patient,
                practice,
                restricted: row.restricted,
            },
            Circumstances::default(),
            AuditedAs::one(AuditAction::BreakGlass, ResourceType::Patient, &patient),
        )
        .await?;
        let user = self.actor.user().ok_or(StoreError::Denied)?;
        if !row.restricted {
            return Err(StoreError::Conflict(
                "this patient's record is not restricted: open it as usual",
            ));
        }
        let note = note.trim();
        if note.chars().count() < 10 || note.chars().count() > 1_000 {
            return Err(StoreError::Conflict(
                "give the reason in 10 to 1,000 characters",
            ));
        }
        let grant = Uuid::now_v7();
        let sealed = self
            .store
            .seal(practice, &ENCRYPTED_COLUMNS[2], grant, note.as_bytes())
            .await?;
        let mut event = self.event(
            AuditAction::BreakGlass,
            ResourceType::Patient,
            Some(patient.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(patient.as_uuid());
        event
            .detail
            .insert("reason", Detail::Code(reason.as_str().to_owned()));
        event.detail.insert("grant", Detail::Ids(vec![grant]));
        event.detail.insert(
            "minutes",
            Detail::Count(u64::try_from(minutes).unwrap_or_default()),
        );
        async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, tx => {
                sqlx::query(
                    "INSERT INTO break_glass_grants (id, practice_id, user_id, patient_id, reason_code, note, \
                     opened_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(grant)
                .bind(practice.as_uuid())
                .bind(user.as_uuid())
                .bind(patient.as_uuid())
                .bind(reason.as_str())
                .bind(&sealed)
                .bind(now)
                .bind(now + time::Duration::minutes(minutes))
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO security_alerts (id, practice_id, kind, subject_id, reference_id, created_at) \
                     VALUES ($1, $2, 'break_glass', $3, $4, $5)",
                )
                .bind(Uuid::now_v7())
                .bind(practice.as_uuid())
                .bind(user.as_uuid())
                .bind(grant)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            });
            tx.commit_with(&[&event]).await
        }
        .await
        .context("breaking the glass")?;
        Ok(grant)
    }

    /// Whether the actor holds an unexpired break-glass grant for `patient`.
    pub async fn holds_break_glass(
        &self,
        patient: PatientId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (Some(user), Ok(practice)) = (self.actor.user(), self.practice()) else {
            return Ok(false);
        };
        let held: bool = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM break_glass_grants WHERE user_id = $1 AND practice_id = $2 \
                 AND patient_id = $3 AND expires_at > $4)",
            )
            .bind(user.as_uuid())
            .bind(practice.as_uuid())
            .bind(patient.as_uuid())
            .bind(now)
            .fetch_one(pool)
            .await
        })
        .context("checking a break-glass grant")?;
        Ok(held)
    }
}
