//! "Return or destroy" (docs/onboarding.md): once a practice's agreement with the
//! operator is terminated, its records are read out once, whole, for handover to the
//! practice, before its keys are destroyed.
//!
//! Only the `handover` system task may do it (Cedar `practice.handover`), only for a
//! practice whose agreement is terminated, and every patient, referral and attachment
//! it reads is audited as an export of that record.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_crypto::stream::AttachmentContext;
use enamel_domain::{
    CdtCode, ClinicalDetails, Membership, Patient, Phi, Practice, ReferralId, Side,
};
use enamel_policy::{Action, Circumstances, Resource};
use time::{Date, OffsetDateTime, PrimitiveDateTime};
use uuid::Uuid;

use crate::db::on_pool;
use crate::repos::patients::{PATIENT_COLUMNS, PatientRow};
use crate::repos::referrals::{
    DownloadTicket, REFERRAL_SELECT, ReferralRow, ReferralSummary, TimelineEntry,
};
use crate::scoped::authorize::AuditedAs;
use crate::sealed::{APPOINTMENT_NOTE, APPOINTMENT_PROCEDURES, COVERAGE_MEMBERSHIP, WAITLIST_NOTE};
use crate::{Scoped, StoreError};

/// Everything a terminated practice holds, opened.
#[derive(Debug)]
pub struct Handover {
    pub practice: Practice,
    pub terminated_at: OffsetDateTime,
    /// The practice's own patients, with contact details and insurance.
    pub patients: Vec<Patient>,
    /// Referrals it sent (drafts included) and referrals it received.
    pub referrals: Vec<HandedOverReferral>,
    /// Referrals whose other office's keys were already destroyed, so that what
    /// that office sealed cannot be opened: named by id only.
    pub unreadable: Vec<ReferralId>,
    /// The practice's schedule: appointments, waitlist, recalls, coverage.
    pub schedule: HandedOverSchedule,
}

/// The schedule's records as handed over, each naming its patient by id.
#[derive(Debug, Default)]
pub struct HandedOverSchedule {
    pub appointments: Vec<HandedOverAppointment>,
    pub waitlist: Vec<HandedOverWaitlist>,
    pub recalls: Vec<HandedOverRecall>,
    pub coverage: Vec<HandedOverCoverage>,
}

#[derive(Debug)]
pub struct HandedOverAppointment {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub provider: String,
    pub appointment_type: Option<String>,
    pub starts_at: OffsetDateTime,
    pub minutes: i64,
    pub status: String,
    pub procedures: Phi<Vec<CdtCode>>,
    pub note: Option<Phi<String>>,
}

#[derive(Debug)]
pub struct HandedOverWaitlist {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub minutes: i64,
    pub earliest: Option<Date>,
    pub latest: Option<Date>,
    pub priority: i64,
    pub joined_at: OffsetDateTime,
    pub note: Option<Phi<String>>,
}

#[derive(Debug)]
pub struct HandedOverRecall {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub recall_type: String,
    pub previous: Option<Date>,
    pub due: Option<Date>,
    pub disabled: bool,
}

#[derive(Debug)]
pub struct HandedOverCoverage {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub ordinal: i64,
    pub payer_id: String,
    pub payer_name: String,
    pub relationship: String,
    pub membership: Phi<Membership>,
}

type AppointmentExportRow = (
    Uuid,
    Uuid,
    String,
    Option<String>,
    OffsetDateTime,
    i64,
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

type RecallExportRow = (Uuid, Uuid, String, Option<Date>, Option<Date>, bool);

type CoverageExportRow = (Uuid, Uuid, i64, String, String, String, Vec<u8>);

type WaitlistExportRow = (
    Uuid,
    Uuid,
    i64,
    Option<Date>,
    Option<Date>,
    i64,
    OffsetDateTime,
    Option<Vec<u8>>,
);

/// One referral as handed over.
#[derive(Debug)]
pub struct HandedOverReferral {
    pub summary: ReferralSummary,
    /// The referred patient: for a received referral, as the referring office sent
    /// them (a sent referral's patient is among [`Handover::patients`]).
    pub patient: Option<Patient>,
    pub clinical: Phi<ClinicalDetails>,
    pub appointment: Option<Phi<PrimitiveDateTime>>,
    pub timeline: Vec<TimelineEntry>,
    /// Its files, each already audited as exported, to stream out of the object store.
    pub attachments: Vec<DownloadTicket>,
}

impl Scoped<'_> {
    /// Reads out the actor's practice for handover (the `handover` system task only).
    /// Refused while its agreement is in force; audited record by record.
    pub async fn handover(&self) -> Result<Handover, StoreError> {
        let id = self.practice()?;
        self.authorize(
            Action::PracticeHandover,
            &Resource::Practice(id),
            Circumstances::default(),
            AuditedAs::any(AuditAction::Export, ResourceType::Practice),
        )
        .await?;
        let terminated_at = self.terminated_at().await?.ok_or(StoreError::Refused(
            "the practice's agreement is in force: its records are handed over only after \
             the agreement is terminated",
        ))?;
        let practice = self.store.practices().get(id).await?;
        let mut patients = Vec::new();
        for row in self.patient_rows().await? {
            let patient = self.store.open_patient(&row, true).await?;
            self.record_export(ResourceType::Patient, row.id, row.id)
                .await?;
            patients.push(patient);
        }
        let mut referrals = Vec::new();
        let mut unreadable = Vec::new();
        for row in self.referral_rows().await? {
            match self.hand_over_referral(&row).await {
                Ok(referral) => referrals.push(referral),
                Err(StoreError::Shredded) => unreadable.push(ReferralId::from_uuid(row.id)),
                Err(err) => return Err(err),
            }
        }
        let schedule = self.schedule_records().await?;
        let mut event = self.event(
            AuditAction::Export,
            ResourceType::Practice,
            Some(id.to_string()),
            Outcome::Success,
        );
        event.detail.insert(
            "patients",
            Detail::Count(u64::try_from(patients.len()).unwrap_or(u64::MAX)),
        );
        event.detail.insert(
            "referrals",
            Detail::Count(u64::try_from(referrals.len()).unwrap_or(u64::MAX)),
        );
        self.store.audit().record(event).await?;
        Ok(Handover {
            practice,
            terminated_at,
            patients,
            referrals,
            unreadable,
            schedule,
        })
    }

    /// The schedule's patient-linked records, their sealed values opened, each
    /// audited as exported with its patient.
    #[allow(
        clippy::too_many_lines,
        reason = "four reads, one per table, each short"
    )]
    async fn schedule_records(&self) -> Result<HandedOverSchedule, StoreError> {
        let practice = self.practice()?;
        let store = self.store;
        let open_text = |row: Uuid,
                         column: &'static crate::sealed::EncryptedColumn,
                         sealed: Option<Vec<u8>>| async move {
            match sealed {
                Some(sealed) => store
                    .open(practice, column, row, &sealed)
                    .await
                    .map(|plain| Some(Phi::new(String::from_utf8_lossy(&plain).into_owned()))),
                None => Ok(None),
            }
        };
        let mut out = HandedOverSchedule::default();
        let rows: Vec<AppointmentExportRow> = on_pool!(&store.db, pool => {
            sqlx::query_as(
                "SELECT a.id, a.patient_id, v.name, t.name, a.starts_at, a.duration_minutes, \
                 a.status, a.procedures, a.note FROM appointments a \
                 JOIN providers v ON v.id = a.provider_id \
                 LEFT JOIN appointment_types t ON t.id = a.type_id \
                 WHERE a.practice_id = $1 ORDER BY a.starts_at, a.id",
            )
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("reading appointments for handover")?;
        for (id, patient, provider, kind, starts_at, minutes, status, procedures, note) in rows {
            let procedures = match procedures {
                Some(sealed) => {
                    store
                        .open_json(practice, &APPOINTMENT_PROCEDURES, id, &sealed)
                        .await?
                }
                None => Vec::new(),
            };
            out.appointments.push(HandedOverAppointment {
                id,
                patient_id: patient,
                provider,
                appointment_type: kind,
                starts_at,
                minutes,
                status,
                procedures: Phi::new(procedures),
                note: open_text(id, &APPOINTMENT_NOTE, note).await?,
            });
            self.record_export(ResourceType::Appointment, id, patient)
                .await?;
        }
        let rows: Vec<WaitlistExportRow> = on_pool!(&store.db, pool => {
            sqlx::query_as(
                "SELECT id, patient_id, duration_minutes, earliest, latest, priority, joined_at, \
                 note FROM waitlist WHERE practice_id = $1 ORDER BY priority, joined_at, id",
            )
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("reading the waitlist for handover")?;
        for (id, patient, minutes, earliest, latest, priority, joined_at, note) in rows {
            out.waitlist.push(HandedOverWaitlist {
                id,
                patient_id: patient,
                minutes,
                earliest,
                latest,
                priority,
                joined_at,
                note: open_text(id, &WAITLIST_NOTE, note).await?,
            });
            self.record_export(ResourceType::Appointment, id, patient)
                .await?;
        }
        let rows: Vec<RecallExportRow> = on_pool!(&store.db, pool => {
            sqlx::query_as(
                "SELECT r.id, r.patient_id, t.name, r.previous_date, r.due_date, r.disabled \
                 FROM recalls r JOIN recall_types t ON t.id = r.type_id \
                 WHERE r.practice_id = $1 ORDER BY r.id",
            )
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("reading recalls for handover")?;
        for (id, patient, recall_type, previous, due, disabled) in rows {
            out.recalls.push(HandedOverRecall {
                id,
                patient_id: patient,
                recall_type,
                previous,
                due,
                disabled,
            });
            self.record_export(ResourceType::Appointment, id, patient)
                .await?;
        }
        let rows: Vec<CoverageExportRow> = on_pool!(&store.db, pool => {
            sqlx::query_as(
                "SELECT id, patient_id, ordinal, payer_id, payer_name, relationship, membership \
                 FROM coverages WHERE practice_id = $1 ORDER BY patient_id, ordinal",
            )
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("reading coverage for handover")?;
        for (id, patient, ordinal, payer_id, payer_name, relationship, membership) in rows {
            let membership: Membership = store
                .open_json(practice, &COVERAGE_MEMBERSHIP, id, &membership)
                .await?;
            out.coverage.push(HandedOverCoverage {
                id,
                patient_id: patient,
                ordinal,
                payer_id,
                payer_name,
                relationship,
                membership: Phi::new(membership),
            });
            self.record_export(ResourceType::Insurance, id, patient)
                .await?;
        }
        Ok(out)
    }

    async fn hand_over_referral(
        &self,
        row: &ReferralRow,
    ) -> Result<HandedOverReferral, StoreError> {
        let reader = self.practice()?;
        let summary = self.store.referral_summary(row, reader).await?;
        let (clinical, appointment) = self.store.open_referral(row).await?;
        let patient = if summary.side == Side::Receiver {
            let patient_row = self
                .store
                .patient_row_of(row.referrer(), row.patient_id)
                .await?;
            Some(self.store.open_patient(&patient_row, true).await?)
        } else {
            None
        };
        let timeline = self.store.timeline(row).await?;
        let mut attachments = Vec::new();
        for info in self.store.attachments_of(summary.id).await? {
            let owner = match info.side {
                Side::Referrer => row.referrer(),
                Side::Receiver => row.receiver(),
            };
            self.record_export(ResourceType::Attachment, info.id.as_uuid(), row.patient_id)
                .await?;
            attachments.push(DownloadTicket {
                context: AttachmentContext {
                    practice: owner,
                    attachment: info.id.as_uuid(),
                },
                object_key: format!("attachments/{owner}/{}", info.id),
                info,
            });
        }
        self.record_export(ResourceType::Referral, row.id, row.patient_id)
            .await?;
        Ok(HandedOverReferral {
            summary,
            patient,
            clinical,
            appointment,
            timeline,
            attachments,
        })
    }

    async fn record_export(
        &self,
        resource_type: ResourceType,
        id: Uuid,
        patient: Uuid,
    ) -> Result<(), StoreError> {
        let mut event = self.event(
            AuditAction::Export,
            resource_type,
            Some(id.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(patient);
        event
            .detail
            .insert("purpose", Detail::Code("handover".into()));
        self.store.audit().record(event).await?;
        Ok(())
    }

    async fn terminated_at(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        let practice = self.practice()?;
        // Terminated: an agreement ended and none in force since.
        let (ended, in_force): (Option<OffsetDateTime>, i64) = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT MAX(terminated_at), \
                 COUNT(*) FILTER (WHERE terminated_at IS NULL) \
                 FROM practice_agreements WHERE practice_id = $1",
            )
            .bind(practice.as_uuid())
            .fetch_one(pool)
            .await
        })
        .context("reading the practice's agreement")?;
        Ok(ended.filter(|_| in_force == 0))
    }

    async fn patient_rows(&self) -> Result<Vec<PatientRow>, StoreError> {
        let practice = self.practice()?;
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {PATIENT_COLUMNS} FROM patients WHERE practice_id = $1 ORDER BY id"
        ));
        let rows = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql).bind(practice.as_uuid()).fetch_all(pool).await
        })
        .context("listing the practice's patients")?;
        Ok(rows)
    }

    async fn referral_rows(&self) -> Result<Vec<ReferralRow>, StoreError> {
        let practice = self.practice()?;
        let sql = sqlx::AssertSqlSafe(format!(
            "{REFERRAL_SELECT} WHERE r.practice_id = $1 OR \
             (r.receiving_practice_id = $1 AND r.status <> 'draft') ORDER BY r.id"
        ));
        let rows = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql).bind(practice.as_uuid()).fetch_all(pool).await
        })
        .context("listing the practice's referrals")?;
        Ok(rows)
    }
}
