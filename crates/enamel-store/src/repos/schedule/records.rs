//! Patient-linked schedule records: appointments, waitlist entries, recalls and
//! coverage. Imported by PMS id (found through a keyed hash, docs/schedule.md);
//! read by staff with the patient's name and birth date; an appointment's status
//! is changed by staff in one step.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{
    AppointmentId, AppointmentStatus, AppointmentTypeId, Availability, CdtCode, CoverageId,
    Membership, Minutes, OperatoryId, PatientId, PatientSummary, Payer, Phi, PmsId, ProviderId,
    RecallDates, RecallId, RecallTypeId, Relationship, WaitlistEntryId,
};
use enamel_policy::Action;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Upserted, minutes_from};
use crate::db::{on_pool, on_tx};
use crate::repos::recovery::{NewSlot, StatusChange, on_status_change_in_tx};
use crate::scoped::authorize::AuditedAs;
use crate::sealed::{
    APPOINTMENT_NOTE, APPOINTMENT_PMS_ID, APPOINTMENT_PROCEDURES, COVERAGE_MEMBERSHIP,
    RECALL_PMS_ID, WAITLIST_NOTE,
};
use crate::{Scoped, StoreError};

/// An appointment to import.
#[derive(Clone, Debug)]
pub struct NewAppointment {
    /// The PMS's id (`AptNum`); none for one made in Enamel.
    pub pms_id: Option<PmsId>,
    pub patient: PatientId,
    pub provider: ProviderId,
    pub operatory: Option<OperatoryId>,
    pub kind: Option<AppointmentTypeId>,
    pub starts_at: OffsetDateTime,
    pub duration: Minutes,
    pub status: AppointmentStatus,
    /// Procedures planned (CDT codes); empty: the type's.
    pub procedures: Phi<Vec<CdtCode>>,
    pub note: Option<Phi<String>>,
}

/// An appointment as staff see it on the schedule.
#[derive(Clone, Debug)]
pub struct Appointment {
    pub id: AppointmentId,
    /// Name and birth date; `None` for a restricted patient (behind the glass).
    pub patient: Option<PatientSummary>,
    pub patient_id: PatientId,
    pub provider: ProviderId,
    pub operatory: Option<OperatoryId>,
    pub kind: Option<AppointmentTypeId>,
    pub kind_name: Option<String>,
    pub starts_at: OffsetDateTime,
    pub duration: Minutes,
    pub status: AppointmentStatus,
    pub status_changed_at: OffsetDateTime,
}

/// A patient to put on the waitlist.
#[derive(Clone, Debug)]
pub struct NewWaitlistEntry {
    pub pms_id: Option<PmsId>,
    pub patient: PatientId,
    pub kind: Option<AppointmentTypeId>,
    pub duration: Minutes,
    /// `None`: any provider.
    pub provider: Option<ProviderId>,
    pub earliest: Option<Date>,
    pub latest: Option<Date>,
    pub availability: Availability,
    /// 1 is the most urgent, 9 the least.
    pub priority: u8,
    pub moves: Option<AppointmentId>,
    pub note: Option<Phi<String>>,
}

/// A waitlist entry as staff see it.
#[derive(Clone, Debug)]
pub struct WaitlistEntry {
    pub id: WaitlistEntryId,
    pub patient: Option<PatientSummary>,
    pub patient_id: PatientId,
    pub kind: Option<AppointmentTypeId>,
    pub kind_name: Option<String>,
    pub duration: Minutes,
    pub provider: Option<ProviderId>,
    pub earliest: Option<Date>,
    pub latest: Option<Date>,
    pub availability: Availability,
    pub priority: u8,
    pub joined_at: OffsetDateTime,
    pub moves: Option<AppointmentId>,
}

/// A patient's recall to import.
#[derive(Clone, Debug)]
pub struct NewRecall {
    pub pms_id: Option<PmsId>,
    pub patient: PatientId,
    pub kind: RecallTypeId,
    pub dates: RecallDates,
}

/// A recall as staff see it.
#[derive(Clone, Debug)]
pub struct RecallEntry {
    pub id: RecallId,
    pub patient: Option<PatientSummary>,
    pub patient_id: PatientId,
    pub kind: RecallTypeId,
    pub kind_name: String,
    pub previous: Option<Date>,
    pub due: Option<Date>,
    pub disabled_until: Option<Date>,
    pub disabled: bool,
}

/// A patient's insurance coverage to import.
#[derive(Clone, Debug)]
pub struct NewCoverage {
    pub pms_id: Option<PmsId>,
    pub patient: PatientId,
    /// 1 primary, 2 secondary.
    pub ordinal: u8,
    pub payer: Payer,
    pub relationship: Relationship,
    pub membership: Phi<Membership>,
}

/// Coverage as staff see it on the patient's page.
#[derive(Clone, Debug)]
pub struct CoverageEntry {
    pub id: CoverageId,
    pub ordinal: u8,
    pub payer: Payer,
    pub relationship: Relationship,
    pub membership: Phi<Membership>,
}

type AppointmentRow = (
    Uuid,
    Uuid,
    Uuid,
    Option<Uuid>,
    Option<Uuid>,
    Option<String>,
    OffsetDateTime,
    i64,
    String,
    OffsetDateTime,
    Vec<u8>,
    Vec<u8>,
    bool,
);

const APPOINTMENT_SELECT: &str = "SELECT a.id, a.patient_id, a.provider_id, a.operatory_id, \
     a.type_id, t.name, a.starts_at, a.duration_minutes, a.status, a.status_changed_at, \
     p.name, p.birth_date, p.restricted FROM appointments a \
     JOIN patients p ON p.id = a.patient_id LEFT JOIN appointment_types t ON t.id = a.type_id";

/// An appointment's patient, status and slot, as a status change reads them.
type SlotRow = (
    Uuid,
    String,
    Uuid,
    Option<Uuid>,
    Option<Uuid>,
    OffsetDateTime,
    i64,
);

type WaitlistRow = (
    Uuid,
    Uuid,
    Option<Uuid>,
    Option<String>,
    i64,
    Option<Uuid>,
    Option<Date>,
    Option<Date>,
    i64,
    i64,
    i64,
    OffsetDateTime,
    Option<Uuid>,
    Vec<u8>,
    Vec<u8>,
    bool,
);

type RecallListRow = (
    Uuid,
    Uuid,
    Uuid,
    String,
    Option<Date>,
    Option<Date>,
    Option<Date>,
    bool,
    Vec<u8>,
    Vec<u8>,
    bool,
);

/// A write that would give a record another record's PMS id is a conflict (the
/// row is rejected), not an unexpected error.
fn pms_taken(doing: &'static str) -> impl Fn(anyhow::Error) -> StoreError {
    move |err| {
        crate::error::conflict_if_taken(
            err,
            "a number the PMS already gave another record (the same number used twice, or for another patient)",
            doing,
        )
    }
}

impl Scoped<'_> {
    /// The id of a record imported earlier with this PMS id, found by its keyed hash.
    async fn by_pms(&self, table: &'static str, pms: &PmsId) -> Result<Option<Uuid>, StoreError> {
        let practice = self.practice()?;
        let index = self.pms_index(table, pms).await?;
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {table} WHERE practice_id = $1 AND pms_index = $2"
        ));
        let found = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(sql)
                .bind(practice.as_uuid())
                .bind(&index)
                .fetch_optional(pool)
                .await
        })
        .context("finding an imported record")?;
        Ok(found)
    }

    async fn pms_index(&self, table: &str, pms: &PmsId) -> Result<Vec<u8>, StoreError> {
        let key = self.blind_index_key().await?;
        Ok(key.pms_record(table, pms.as_str()).as_bytes().to_vec())
    }

    /// The patient imported with this PMS id (`PatNum`), for an import's rows that
    /// name their patient that way.
    pub async fn patient_by_pms(&self, pms: &PmsId) -> Result<Option<PatientId>, StoreError> {
        self.authorize_import(ResourceType::Patient).await?;
        Ok(self
            .by_pms("patients", pms)
            .await?
            .map(PatientId::from_uuid))
    }

    /// The appointment imported with this PMS id (`AptNum`), for a waitlist entry
    /// that would move it (the ASAP list).
    pub async fn appointment_by_pms(
        &self,
        pms: &PmsId,
    ) -> Result<Option<AppointmentId>, StoreError> {
        self.authorize_import(ResourceType::Appointment).await?;
        Ok(self
            .by_pms("appointments", pms)
            .await?
            .map(AppointmentId::from_uuid))
    }

    /// Records `pms` as the PMS id of an existing patient (an import that matched a
    /// patient already in Enamel by name and birth date).
    pub async fn link_patient_pms(
        &self,
        patient: PatientId,
        pms: &PmsId,
    ) -> Result<(), StoreError> {
        let practice = self.authorize_import(ResourceType::Patient).await?;
        let index = self.pms_index("patients", pms).await?;
        let mut event = self.event(
            AuditAction::Write,
            ResourceType::Patient,
            Some(patient.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(patient.as_uuid());
        event
            .detail
            .insert("schedule", Detail::Code("pms_link".into()));
        let mut tx = self.store.begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query("UPDATE patients SET pms_index = $1 WHERE id = $2 AND practice_id = $3")
                .bind(&index)
                .bind(patient.as_uuid())
                .bind(practice.as_uuid())
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })
        .context("linking a patient")
        .map_err(|err| crate::error::conflict_if_taken(err, "this PMS id", "linking a patient"))?;
        tx.commit_with(&[&event]).await.map_err(|err| {
            crate::error::conflict_if_taken(err, "this PMS id", "linking a patient")
        })?;
        Ok(())
    }

    /// Adds or updates an appointment (by its PMS id when it has one). A changed
    /// status records when it changed and by whom. Audited with its patient.
    #[allow(
        clippy::too_many_lines,
        reason = "checks, sealing, then one write with its event"
    )]
    pub async fn upsert_appointment(
        &self,
        new: &NewAppointment,
    ) -> Result<(AppointmentId, Upserted), StoreError> {
        let practice = self.authorize_import(ResourceType::Appointment).await?;
        self.patient_row(new.patient).await?;
        self.require_own(
            "providers",
            Some(new.provider.as_uuid()),
            "no such provider",
        )
        .await?;
        self.require_own(
            "operatories",
            new.operatory.map(|o| o.as_uuid()),
            "no such operatory",
        )
        .await?;
        self.require_own(
            "appointment_types",
            new.kind.map(|k| k.as_uuid()),
            "no such appointment type",
        )
        .await?;
        let existing = match &new.pms_id {
            Some(pms) => self.by_pms("appointments", pms).await?,
            None => None,
        };
        let id = existing.unwrap_or_else(Uuid::now_v7);
        let store = self.store;
        let procedures = store
            .seal_json(
                practice,
                &APPOINTMENT_PROCEDURES,
                id,
                new.procedures.expose(),
            )
            .await?;
        let note = match &new.note {
            Some(note) => Some(
                store
                    .seal(practice, &APPOINTMENT_NOTE, id, note.expose().as_bytes())
                    .await?,
            ),
            None => None,
        };
        let (pms_index, pms_sealed) = match &new.pms_id {
            Some(pms) => (
                Some(self.pms_index("appointments", pms).await?),
                Some(
                    store
                        .seal(practice, &APPOINTMENT_PMS_ID, id, pms.as_str().as_bytes())
                        .await?,
                ),
            ),
            None => (None, None),
        };
        let old_status: Option<String> = match existing {
            Some(id) => on_pool!(&store.db, pool => {
                sqlx::query_scalar("SELECT status FROM appointments WHERE id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await
            })
            .context("reading an appointment's status")?,
            None => None,
        };
        let held = match old_status {
            Some(old) => AppointmentStatus::parse(&old)
                .map_err(StoreError::Corrupt)?
                .holds_the_slot(),
            None => false,
        };
        let change = StatusChange {
            held,
            frees: !new.status.holds_the_slot(),
            now_holds: existing.is_some() && !held && new.status.holds_the_slot(),
            slot: NewSlot {
                provider: new.provider,
                operatory: new.operatory,
                kind: new.kind,
                starts_at: new.starts_at,
                duration: new.duration,
            },
        };
        let (recovery, _) = store.recovery_settings_of(practice).await?;
        let now = store.now();
        let by = self.actor.audit_id();
        let event = self.record_event(
            existing.is_some(),
            ResourceType::Appointment,
            id,
            new.patient,
        );
        let sql = if existing.is_some() {
            "UPDATE appointments SET patient_id = $3, provider_id = $4, operatory_id = $5, \
             type_id = $6, starts_at = $7, duration_minutes = $8, \
             status_changed_at = CASE WHEN status <> $9 THEN $13 ELSE status_changed_at END, \
             status_changed_by = CASE WHEN status <> $9 THEN $14 ELSE status_changed_by END, \
             status = $9, procedures = $10, note = $11, pms_index = $12, pms_id = $15, \
             updated_at = $13 WHERE id = $1 AND practice_id = $2"
        } else {
            "INSERT INTO appointments (id, practice_id, patient_id, provider_id, operatory_id, \
             type_id, starts_at, duration_minutes, status, procedures, note, pms_index, \
             status_changed_at, status_changed_by, pms_id, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $13)"
        };
        let mut tx = store.begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(sql)
                .bind(id)
                .bind(practice.as_uuid())
                .bind(new.patient.as_uuid())
                .bind(new.provider.as_uuid())
                .bind(new.operatory.map(|o| o.as_uuid()))
                .bind(new.kind.map(|k| k.as_uuid()))
                .bind(new.starts_at)
                .bind(i64::from(new.duration.get()))
                .bind(new.status.as_str())
                .bind(&procedures)
                .bind(&note)
                .bind(&pms_index)
                .bind(now)
                .bind(&by)
                .bind(&pms_sealed)
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })
        .context("writing an appointment")
        .map_err(pms_taken("writing an appointment"))?;
        let opened = on_status_change_in_tx(
            &mut tx,
            &recovery,
            practice,
            AppointmentId::from_uuid(id),
            change,
            &by,
            now,
        )
        .await
        .context("opening a recovery run")?;
        let steps: Vec<_> = opened
            .into_iter()
            .map(|(run, step)| self.run_event(run, step))
            .collect();
        let events: Vec<&enamel_audit::entry::Event> =
            std::iter::once(&event).chain(&steps).collect();
        tx.commit_with(&events)
            .await
            .map_err(pms_taken("writing an appointment"))?;
        Ok((
            AppointmentId::from_uuid(id),
            Upserted::from_existing(existing.is_some()),
        ))
    }

    /// Marks an appointment as a no-show, cancelled, confirmed … (`schedule.manage`),
    /// recording when and by whom. Audited with its patient.
    pub async fn set_appointment_status(
        &self,
        id: AppointmentId,
        status: AppointmentStatus,
    ) -> Result<(), StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ScheduleManage,
            AuditedAs::one(AuditAction::Write, ResourceType::Appointment, &id),
        )
        .await?;
        let found: Option<SlotRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT patient_id, status, provider_id, operatory_id, type_id, starts_at, \
                 duration_minutes FROM appointments WHERE id = $1 AND practice_id = $2",
            )
            .bind(id.as_uuid())
            .bind(practice.as_uuid())
            .fetch_optional(pool)
            .await
        })
        .context("finding an appointment")?;
        let (patient, old, provider, operatory, kind, starts_at, minutes) =
            found.ok_or(StoreError::NotFound)?;
        let old = AppointmentStatus::parse(&old).map_err(StoreError::Corrupt)?;
        let change = StatusChange {
            held: old.holds_the_slot(),
            frees: !status.holds_the_slot(),
            now_holds: status.holds_the_slot() && !old.holds_the_slot(),
            slot: NewSlot {
                provider: ProviderId::from_uuid(provider),
                operatory: operatory.map(OperatoryId::from_uuid),
                kind: kind.map(AppointmentTypeId::from_uuid),
                starts_at,
                duration: minutes_from(minutes)?,
            },
        };
        if change.now_holds {
            let given: i64 = on_pool!(&self.store.db, pool => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM recovery_runs WHERE appointment_id = $1 \
                     AND status = 'filled'",
                )
                .bind(id.as_uuid())
                .fetch_one(pool)
                .await
            })
            .context("finding the visit's runs")?;
            if given > 0 {
                return Err(StoreError::Conflict(
                    "this visit's time was given to another patient through no-show recovery: book it at another time",
                ));
            }
        }
        let (recovery, _) = self.store.recovery_settings_of(practice).await?;
        let now = self.store.now();
        let mut event = self.event(
            AuditAction::Write,
            ResourceType::Appointment,
            Some(id.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(patient);
        event
            .detail
            .insert("status", Detail::Code(status.as_str().into()));
        let mut tx = self.store.begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE appointments SET status = $1, status_changed_at = $2, \
                 status_changed_by = $3, updated_at = $2 WHERE id = $4 AND practice_id = $5",
            )
            .bind(status.as_str())
            .bind(now)
            .bind(self.actor.audit_id())
            .bind(id.as_uuid())
            .bind(practice.as_uuid())
            .execute(&mut *conn)
            .await
                .map(|_| ())
        })
        .context("changing an appointment's status")?;
        let opened = on_status_change_in_tx(
            &mut tx,
            &recovery,
            practice,
            id,
            change,
            &self.actor.audit_id(),
            now,
        )
        .await
        .context("opening a recovery run")?;
        let steps: Vec<_> = opened
            .into_iter()
            .map(|(run, step)| self.run_event(run, step))
            .collect();
        let events: Vec<&enamel_audit::entry::Event> =
            std::iter::once(&event).chain(&steps).collect();
        tx.commit_with(&events).await?;
        Ok(())
    }

    /// The appointments starting in `[from, to)`, with their patients' names (a
    /// restricted patient's stays behind the glass). Audited as a search naming
    /// every patient shown.
    pub async fn appointments_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Appointment>, StoreError> {
        let practice = self
            .authorize_schedule_view(ResourceType::Appointment)
            .await?;
        let sql = sqlx::AssertSqlSafe(format!(
            "{APPOINTMENT_SELECT} WHERE a.practice_id = $1 AND a.starts_at >= $2 \
             AND a.starts_at < $3 ORDER BY a.starts_at, a.id"
        ));
        let rows: Vec<AppointmentRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql)
                .bind(practice.as_uuid())
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await
        })
        .context("reading the schedule")?;
        self.appointments_from(rows).await
    }

    /// A patient's appointments, newest first.
    pub async fn patient_appointments(
        &self,
        patient: PatientId,
    ) -> Result<Vec<Appointment>, StoreError> {
        let practice = self
            .authorize_schedule_view(ResourceType::Appointment)
            .await?;
        let sql = sqlx::AssertSqlSafe(format!(
            "{APPOINTMENT_SELECT} WHERE a.practice_id = $1 AND a.patient_id = $2 \
             ORDER BY a.starts_at DESC, a.id LIMIT 200"
        ));
        let rows: Vec<AppointmentRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql)
                .bind(practice.as_uuid())
                .bind(patient.as_uuid())
                .fetch_all(pool)
                .await
        })
        .context("reading a patient's appointments")?;
        self.appointments_from(rows).await
    }

    async fn appointments_from(
        &self,
        rows: Vec<AppointmentRow>,
    ) -> Result<Vec<Appointment>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (id, patient, provider, operatory, kind, kind_name, starts_at, minutes) =
                (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
            let (status, changed_at, name, birth, restricted) =
                (row.8, row.9, row.10, row.11, row.12);
            let summary = self
                .summary_unless_restricted(restricted, patient, &name, &birth)
                .await?;
            out.push(Appointment {
                id: AppointmentId::from_uuid(id),
                patient: summary,
                patient_id: PatientId::from_uuid(patient),
                provider: ProviderId::from_uuid(provider),
                operatory: operatory.map(OperatoryId::from_uuid),
                kind: kind.map(AppointmentTypeId::from_uuid),
                kind_name,
                starts_at,
                duration: minutes_from(minutes)?,
                status: AppointmentStatus::parse(&status).map_err(StoreError::Corrupt)?,
                status_changed_at: changed_at,
            });
        }
        self.audit_shown(ResourceType::Appointment, out.iter().map(|a| a.patient_id))
            .await?;
        Ok(out)
    }

    /// Refuses a reference to a row that is not the practice's (or does not exist).
    pub(crate) async fn require_own(
        &self,
        table: &'static str,
        id: Option<Uuid>,
        missing: &'static str,
    ) -> Result<(), StoreError> {
        let Some(id) = id else {
            return Ok(());
        };
        let practice = self.practice()?;
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {table} WHERE id = $1 AND practice_id = $2"
        ));
        let found: i64 = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(sql)
                .bind(id)
                .bind(practice.as_uuid())
                .fetch_one(pool)
                .await
        })
        .context("checking a reference")?;
        if found == 0 {
            return Err(StoreError::Refused(missing));
        }
        Ok(())
    }

    /// A write or create event of a schedule record, with its patient.
    fn record_event(
        &self,
        existing: bool,
        resource: ResourceType,
        row: Uuid,
        patient: PatientId,
    ) -> enamel_audit::entry::Event {
        let mut event = self.event(
            if existing {
                AuditAction::Write
            } else {
                AuditAction::Create
            },
            resource,
            Some(row.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(patient.as_uuid());
        event
    }

    /// A patient's name and birth date for a staff list; none for a restricted
    /// patient, who stays behind the glass.
    pub(crate) async fn summary_unless_restricted(
        &self,
        restricted: bool,
        patient: Uuid,
        name: &[u8],
        birth_date: &[u8],
    ) -> Result<Option<PatientSummary>, StoreError> {
        if restricted {
            return Ok(None);
        }
        let practice = self.practice()?;
        Ok(Some(
            self.store
                .patient_summary(practice, patient, name, birth_date)
                .await?,
        ))
    }

    /// One search event naming every patient a staff list showed.
    pub(crate) async fn audit_shown(
        &self,
        resource: ResourceType,
        patients: impl Iterator<Item = PatientId>,
    ) -> Result<(), StoreError> {
        let mut ids: Vec<Uuid> = patients.map(|p| p.as_uuid()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut event = self.event(AuditAction::Search, resource, None, Outcome::Success);
        event.detail.insert("patients", Detail::Ids(ids));
        self.store.audit().record(event).await?;
        Ok(())
    }

    /// Adds or updates a waitlist entry (by its PMS id when it has one).
    pub async fn upsert_waitlist_entry(
        &self,
        new: &NewWaitlistEntry,
    ) -> Result<(WaitlistEntryId, Upserted), StoreError> {
        let practice = self.authorize_import(ResourceType::Appointment).await?;
        self.write_waitlist(practice, None, new).await
    }

    /// Puts a patient on the waitlist, or changes their entry (`schedule.manage`:
    /// the front desk's page).
    pub async fn save_waitlist_entry(
        &self,
        id: Option<WaitlistEntryId>,
        new: &NewWaitlistEntry,
    ) -> Result<WaitlistEntryId, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ScheduleManage,
            AuditedAs::any(AuditAction::Write, ResourceType::Appointment),
        )
        .await?;
        self.require_agreement(practice, "your practice", ResourceType::Appointment)
            .await?;
        Ok(self.write_waitlist(practice, id, new).await?.0)
    }

    /// The waitlist row to update: the one named, or the one imported with `pms`.
    async fn existing_waitlist(
        &self,
        practice: enamel_domain::PracticeId,
        id: Option<WaitlistEntryId>,
        pms: Option<&PmsId>,
    ) -> Result<Option<Uuid>, StoreError> {
        Ok(match (id, pms) {
            (Some(id), _) => {
                let found: Option<Uuid> = on_pool!(&self.store.db, pool => {
                    sqlx::query_scalar("SELECT id FROM waitlist WHERE id = $1 AND practice_id = $2")
                        .bind(id.as_uuid())
                        .bind(practice.as_uuid())
                        .fetch_optional(pool)
                        .await
                })
                .context("finding a waitlist entry")?;
                Some(found.ok_or(StoreError::NotFound)?)
            }
            (None, Some(pms)) => self.by_pms("waitlist", pms).await?,
            (None, None) => None,
        })
    }

    #[allow(
        clippy::too_many_lines,
        reason = "checks, sealing, then one write with its event"
    )]
    async fn write_waitlist(
        &self,
        practice: enamel_domain::PracticeId,
        id: Option<WaitlistEntryId>,
        new: &NewWaitlistEntry,
    ) -> Result<(WaitlistEntryId, Upserted), StoreError> {
        if !(1..=9).contains(&new.priority) {
            return Err(StoreError::Refused(
                "a waitlist priority is 1 (most urgent) to 9",
            ));
        }
        if let (Some(earliest), Some(latest)) = (new.earliest, new.latest)
            && latest < earliest
        {
            return Err(StoreError::Refused(
                "the latest date is before the earliest",
            ));
        }
        self.patient_row(new.patient).await?;
        self.require_own(
            "providers",
            new.provider.map(|p| p.as_uuid()),
            "no such provider",
        )
        .await?;
        self.require_own(
            "appointment_types",
            new.kind.map(|k| k.as_uuid()),
            "no such appointment type",
        )
        .await?;
        self.require_own(
            "appointments",
            new.moves.map(|a| a.as_uuid()),
            "no such appointment",
        )
        .await?;
        let existing = self
            .existing_waitlist(practice, id, new.pms_id.as_ref())
            .await?;
        if existing.is_none() {
            let waiting: i64 = on_pool!(&self.store.db, pool => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM waitlist WHERE practice_id = $1 AND patient_id = $2",
                )
                .bind(practice.as_uuid())
                .bind(new.patient.as_uuid())
                .fetch_one(pool)
                .await
            })
            .context("looking for a waitlist entry")?;
            if waiting > 0 {
                return Err(StoreError::Refused(
                    "the patient is already on the waitlist: change their entry there",
                ));
            }
        }
        let row = existing.unwrap_or_else(Uuid::now_v7);
        let note = match &new.note {
            Some(note) => Some(
                self.store
                    .seal(practice, &WAITLIST_NOTE, row, note.expose().as_bytes())
                    .await?,
            ),
            None => None,
        };
        let pms_index = match &new.pms_id {
            Some(pms) => Some(self.pms_index("waitlist", pms).await?),
            None => None,
        };
        let now = self.store.now();
        let mut event = self.record_event(
            existing.is_some(),
            ResourceType::Appointment,
            row,
            new.patient,
        );
        event
            .detail
            .insert("schedule", Detail::Code("waitlist".into()));
        let sql = if existing.is_some() {
            "UPDATE waitlist SET patient_id = $3, type_id = $4, duration_minutes = $5, \
             provider_id = $6, earliest = $7, latest = $8, days = $9, times = $10, \
             priority = $11, moves_appointment = $12, note = $13, \
             pms_index = COALESCE($14, pms_index), updated_at = $15 \
             WHERE id = $1 AND practice_id = $2"
        } else {
            "INSERT INTO waitlist (id, practice_id, patient_id, type_id, duration_minutes, \
             provider_id, earliest, latest, days, times, priority, moves_appointment, note, \
             pms_index, joined_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)"
        };
        let mut tx = self.store.begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(sql)
                .bind(row)
                .bind(practice.as_uuid())
                .bind(new.patient.as_uuid())
                .bind(new.kind.map(|k| k.as_uuid()))
                .bind(i64::from(new.duration.get()))
                .bind(new.provider.map(|p| p.as_uuid()))
                .bind(new.earliest)
                .bind(new.latest)
                .bind(i64::from(new.availability.day_bits()))
                .bind(i64::from(new.availability.time_bits()))
                .bind(i64::from(new.priority))
                .bind(new.moves.map(|a| a.as_uuid()))
                .bind(&note)
                .bind(&pms_index)
                .bind(now)
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })
        .context("writing a waitlist entry")
        .map_err(pms_taken("writing a waitlist entry"))?;
        tx.commit_with(&[&event])
            .await
            .map_err(pms_taken("writing a waitlist entry"))?;
        Ok((
            WaitlistEntryId::from_uuid(row),
            Upserted::from_existing(existing.is_some()),
        ))
    }

    /// Changes one entry's priority, nothing else (`schedule.manage`).
    pub async fn set_waitlist_priority(
        &self,
        id: WaitlistEntryId,
        priority: u8,
    ) -> Result<(), StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ScheduleManage,
            AuditedAs::one(AuditAction::Write, ResourceType::Appointment, &id),
        )
        .await?;
        if !(1..=9).contains(&priority) {
            return Err(StoreError::Refused(
                "a waitlist priority is 1 (most urgent) to 9",
            ));
        }
        let patient: Option<Uuid> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar("SELECT patient_id FROM waitlist WHERE id = $1 AND practice_id = $2")
                .bind(id.as_uuid())
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("finding a waitlist entry")?;
        let patient = PatientId::from_uuid(patient.ok_or(StoreError::NotFound)?);
        let mut event = self.record_event(true, ResourceType::Appointment, id.as_uuid(), patient);
        event
            .detail
            .insert("schedule", Detail::Code("waitlist_priority".into()));
        let mut tx = self.store.begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE waitlist SET priority = $1, updated_at = $2 WHERE id = $3 AND practice_id = $4",
            )
            .bind(i64::from(priority))
            .bind(self.store.now())
            .bind(id.as_uuid())
            .bind(practice.as_uuid())
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })
        .context("changing a waitlist priority")?;
        tx.commit_with(&[&event]).await?;
        Ok(())
    }

    /// Takes a patient off the waitlist (`schedule.manage`).
    pub async fn remove_waitlist_entry(&self, id: WaitlistEntryId) -> Result<(), StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ScheduleManage,
            AuditedAs::one(AuditAction::Delete, ResourceType::Appointment, &id),
        )
        .await?;
        let patient: Option<Uuid> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar("SELECT patient_id FROM waitlist WHERE id = $1 AND practice_id = $2")
                .bind(id.as_uuid())
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("finding a waitlist entry")?;
        let patient = patient.ok_or(StoreError::NotFound)?;
        let mut event = self.event(
            AuditAction::Delete,
            ResourceType::Appointment,
            Some(id.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(patient);
        event
            .detail
            .insert("schedule", Detail::Code("waitlist".into()));
        let mut tx = self.store.begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query("DELETE FROM waitlist WHERE id = $1 AND practice_id = $2")
                .bind(id.as_uuid())
                .bind(practice.as_uuid())
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })
        .context("removing a waitlist entry")?;
        // Its open offers no longer book anything.
        crate::repos::recovery::end_open_offers_in_tx(
            &mut tx,
            &crate::repos::recovery::OpenOffers {
                entry: Some(id.as_uuid()),
                ..crate::repos::recovery::OpenOffers::default()
            },
            "withdrawn",
            "left_waitlist",
            self.store.now(),
        )
        .await
        .context("withdrawing the entry's offers")?;
        tx.commit_with(&[&event]).await?;
        Ok(())
    }

    /// The waitlist, most urgent first, then longest waiting.
    pub async fn waitlist(&self) -> Result<Vec<WaitlistEntry>, StoreError> {
        let practice = self
            .authorize_schedule_view(ResourceType::Appointment)
            .await?;
        let rows: Vec<WaitlistRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT w.id, w.patient_id, w.type_id, t.name, w.duration_minutes, w.provider_id, \
                 w.earliest, w.latest, w.days, w.times, w.priority, w.joined_at, \
                 w.moves_appointment, p.name, p.birth_date, p.restricted FROM waitlist w \
                 JOIN patients p ON p.id = w.patient_id \
                 LEFT JOIN appointment_types t ON t.id = w.type_id \
                 WHERE w.practice_id = $1 ORDER BY w.priority, w.joined_at, w.id",
            )
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("reading the waitlist")?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let patient = self
                .summary_unless_restricted(r.15, r.1, &r.13, &r.14)
                .await?;
            out.push(WaitlistEntry {
                id: WaitlistEntryId::from_uuid(r.0),
                patient,
                patient_id: PatientId::from_uuid(r.1),
                kind: r.2.map(AppointmentTypeId::from_uuid),
                kind_name: r.3,
                duration: minutes_from(r.4)?,
                provider: r.5.map(ProviderId::from_uuid),
                earliest: r.6,
                latest: r.7,
                availability: Availability::from_bits(
                    u8::try_from(r.8).unwrap_or(0),
                    u8::try_from(r.9).unwrap_or(0),
                )
                .map_err(StoreError::Corrupt)?,
                priority: u8::try_from(r.10).unwrap_or(9),
                joined_at: r.11,
                moves: r.12.map(AppointmentId::from_uuid),
            });
        }
        self.audit_shown(ResourceType::Appointment, out.iter().map(|w| w.patient_id))
            .await?;
        Ok(out)
    }

    /// Adds or updates a patient's recall of one type; its due date is computed
    /// from the type's interval (or the manual date) and stored for querying.
    pub async fn upsert_recall(&self, new: &NewRecall) -> Result<(RecallId, Upserted), StoreError> {
        let practice = self.authorize_import(ResourceType::Appointment).await?;
        self.patient_row(new.patient).await?;
        let interval: Option<String> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar("SELECT interval_text FROM recall_types WHERE id = $1 AND practice_id = $2")
                .bind(new.kind.as_uuid())
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("finding a recall type")?;
        let interval = enamel_domain::RecallInterval::parse(&interval.ok_or(StoreError::NotFound)?)
            .map_err(StoreError::Corrupt)?;
        let due = new.dates.due(interval);
        let existing: Option<Uuid> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(
                "SELECT id FROM recalls WHERE patient_id = $1 AND type_id = $2 AND practice_id = $3",
            )
                .bind(new.patient.as_uuid())
                .bind(new.kind.as_uuid())
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("finding a recall")?;
        let existing = match (existing, &new.pms_id) {
            (Some(id), _) => Some(id),
            (None, Some(pms)) => self.by_pms("recalls", pms).await?,
            (None, None) => None,
        };
        let row = existing.unwrap_or_else(Uuid::now_v7);
        let (pms_index, pms_sealed) = match &new.pms_id {
            Some(pms) => (
                Some(self.pms_index("recalls", pms).await?),
                Some(
                    self.store
                        .seal(practice, &RECALL_PMS_ID, row, pms.as_str().as_bytes())
                        .await?,
                ),
            ),
            None => (None, None),
        };
        let mut event = self.record_event(
            existing.is_some(),
            ResourceType::Appointment,
            row,
            new.patient,
        );
        event
            .detail
            .insert("schedule", Detail::Code("recall".into()));
        let sql = if existing.is_some() {
            "UPDATE recalls SET patient_id = $3, type_id = $4, previous_date = $5, manual_due = $6, \
             due_date = $7, disabled_until = $8, disabled = $9, \
             pms_index = COALESCE($10, pms_index), pms_id = COALESCE($11, pms_id), updated_at = $12 \
             WHERE id = $1 AND practice_id = $2"
        } else {
            "INSERT INTO recalls (id, practice_id, patient_id, type_id, previous_date, manual_due, \
             due_date, disabled_until, disabled, pms_index, pms_id, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        };
        let mut tx = self.store.begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(sql)
                .bind(row)
                .bind(practice.as_uuid())
                .bind(new.patient.as_uuid())
                .bind(new.kind.as_uuid())
                .bind(new.dates.previous)
                .bind(new.dates.manual_due)
                .bind(due)
                .bind(new.dates.disabled_until)
                .bind(new.dates.disabled)
                .bind(&pms_index)
                .bind(&pms_sealed)
                .bind(self.store.now())
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })
        .context("writing a recall")
        .map_err(pms_taken("writing a recall"))?;
        tx.commit_with(&[&event])
            .await
            .map_err(pms_taken("writing a recall"))?;
        Ok((
            RecallId::from_uuid(row),
            Upserted::from_existing(existing.is_some()),
        ))
    }

    /// Recalls due on or before `until` (overdue ones first), or every recall of
    /// one patient; disabled ones only for the patient's page.
    pub async fn recalls(
        &self,
        until: Option<Date>,
        patient: Option<PatientId>,
    ) -> Result<Vec<RecallEntry>, StoreError> {
        let practice = self
            .authorize_schedule_view(ResourceType::Appointment)
            .await?;
        let rows: Vec<RecallListRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT r.id, r.patient_id, r.type_id, t.name, r.previous_date, r.due_date, \
                 r.disabled_until, r.disabled, p.name, p.birth_date, p.restricted \
                 FROM recalls r JOIN recall_types t ON t.id = r.type_id \
                 JOIN patients p ON p.id = r.patient_id \
                 WHERE r.practice_id = $1 AND ($2 IS NULL OR r.patient_id = $2) \
                 AND ($3 IS NULL OR (r.due_date <= $3 AND r.disabled = $4 \
                 AND (r.disabled_until IS NULL OR r.disabled_until <= $3))) \
                 ORDER BY r.due_date, r.id LIMIT 2000",
            )
            .bind(practice.as_uuid())
            .bind(patient.map(|p| p.as_uuid()))
            .bind(until)
            .bind(false)
            .fetch_all(pool)
            .await
        })
        .context("reading recalls")?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let summary = self
                .summary_unless_restricted(r.10, r.1, &r.8, &r.9)
                .await?;
            out.push(RecallEntry {
                id: RecallId::from_uuid(r.0),
                patient: summary,
                patient_id: PatientId::from_uuid(r.1),
                kind: RecallTypeId::from_uuid(r.2),
                kind_name: r.3,
                previous: r.4,
                due: r.5,
                disabled_until: r.6,
                disabled: r.7,
            });
        }
        self.audit_shown(ResourceType::Appointment, out.iter().map(|r| r.patient_id))
            .await?;
        Ok(out)
    }

    /// Adds or updates a patient's coverage (by patient and ordinal).
    pub async fn upsert_coverage(
        &self,
        new: &NewCoverage,
    ) -> Result<(CoverageId, Upserted), StoreError> {
        let practice = self.authorize_import(ResourceType::Insurance).await?;
        self.patient_row(new.patient).await?;
        if !(1..=2).contains(&new.ordinal) {
            return Err(StoreError::Refused(
                "coverage is primary (1) or secondary (2)",
            ));
        }
        let existing: Option<Uuid> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(
                "SELECT id FROM coverages WHERE patient_id = $1 AND ordinal = $2 AND practice_id = $3",
            )
                .bind(new.patient.as_uuid())
                .bind(i64::from(new.ordinal))
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("finding coverage")?;
        let row = existing.unwrap_or_else(Uuid::now_v7);
        let membership = self
            .store
            .seal_json(practice, &COVERAGE_MEMBERSHIP, row, new.membership.expose())
            .await?;
        let pms_index = match &new.pms_id {
            Some(pms) => Some(self.pms_index("coverages", pms).await?),
            None => None,
        };
        let event = self.record_event(
            existing.is_some(),
            ResourceType::Insurance,
            row,
            new.patient,
        );
        let sql = if existing.is_some() {
            "UPDATE coverages SET patient_id = $3, ordinal = $4, payer_id = $5, payer_name = $6, \
             relationship = $7, membership = $8, pms_index = COALESCE($9, pms_index), \
             updated_at = $10 WHERE id = $1 AND practice_id = $2"
        } else {
            "INSERT INTO coverages (id, practice_id, patient_id, ordinal, payer_id, payer_name, \
             relationship, membership, pms_index, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        };
        let mut tx = self.store.begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(sql)
                .bind(row)
                .bind(practice.as_uuid())
                .bind(new.patient.as_uuid())
                .bind(i64::from(new.ordinal))
                .bind(&new.payer.id)
                .bind(&new.payer.name)
                .bind(new.relationship.as_str())
                .bind(&membership)
                .bind(&pms_index)
                .bind(self.store.now())
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })
        .context("writing coverage")
        .map_err(pms_taken("writing coverage"))?;
        tx.commit_with(&[&event])
            .await
            .map_err(pms_taken("writing coverage"))?;
        Ok((
            CoverageId::from_uuid(row),
            Upserted::from_existing(existing.is_some()),
        ))
    }

    /// A patient's coverage, primary first (for the patient's page: roles that may
    /// see the patient's insurance, `patient.contact`).
    pub async fn patient_coverage(
        &self,
        patient: PatientId,
    ) -> Result<Vec<CoverageEntry>, StoreError> {
        let practice = self
            .authorize_schedule_view(ResourceType::Insurance)
            .await?;
        let row = self.patient_row(patient).await?;
        let resource = enamel_policy::Resource::Patient {
            id: patient,
            practice,
            restricted: row.restricted,
        };
        if !self.may(Action::PatientContact, &resource) {
            return Ok(Vec::new());
        }
        let rows: Vec<(Uuid, i64, String, String, String, Vec<u8>)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, ordinal, payer_id, payer_name, relationship, membership FROM coverages \
                 WHERE practice_id = $1 AND patient_id = $2 ORDER BY ordinal",
            )
            .bind(practice.as_uuid())
            .bind(patient.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("reading coverage")?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, ordinal, payer_id, payer_name, relationship, membership) in rows {
            let membership: Membership = self
                .store
                .open_json(practice, &COVERAGE_MEMBERSHIP, id, &membership)
                .await?;
            out.push(CoverageEntry {
                id: CoverageId::from_uuid(id),
                ordinal: u8::try_from(ordinal).unwrap_or(1),
                payer: Payer {
                    id: payer_id,
                    name: payer_name,
                },
                relationship: Relationship::parse(&relationship).map_err(StoreError::Corrupt)?,
                membership: Phi::new(membership),
            });
        }
        let mut event = self.event(
            AuditAction::Read,
            ResourceType::Insurance,
            Some(patient.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(patient.as_uuid());
        self.store.audit().record(event).await?;
        Ok(out)
    }
}
