//! The practice's schedule (docs/schedule.md): the reference data a PMS keeps
//! (providers, operatories, appointment types, recall types) here; appointments,
//! the waitlist, recalls and coverage in `records`; the agents' minimum-necessary
//! views in `views`.
//!
//! Writes are imports (`schedule.import`: the practice administrator, the demo seed,
//! the PMS sync agent), keyed by the PMS's own ids so that re-importing updates and
//! never duplicates. Staff read through `schedule.view` and act through
//! `schedule.manage`; an agent reads only its workflow's view.

pub mod pms_sync;
mod records;
pub mod views;

use std::collections::HashMap;

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{
    AppointmentTypeId, CdtCode, Minutes, Npi, OperatoryId, PmsId, PracticeId, ProviderId,
    RecallInterval, RecallTypeId,
};
use enamel_policy::Action;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::on_pool;
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, StoreError};

pub use records::{
    Appointment, CoverageEntry, NewAppointment, NewCoverage, NewRecall, NewWaitlistEntry,
    RecallEntry, WaitlistEntry,
};

/// A dentist or hygienist on the schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    pub id: ProviderId,
    pub pms_id: String,
    pub name: String,
    pub npi: Option<Npi>,
    pub is_hygienist: bool,
    pub hidden: bool,
}

/// An operatory (a chair).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operatory {
    pub id: OperatoryId,
    pub pms_id: String,
    pub name: String,
    pub hidden: bool,
}

/// A kind of visit: its name, the CDT codes it usually holds and its usual length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppointmentType {
    pub id: AppointmentTypeId,
    pub pms_id: String,
    pub name: String,
    pub cdt_codes: Vec<CdtCode>,
    pub duration: Minutes,
}

/// A kind of recall: the procedures that satisfy it and how often it falls due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecallType {
    pub id: RecallTypeId,
    pub pms_id: String,
    pub name: String,
    pub trigger_codes: Vec<CdtCode>,
    pub interval: RecallInterval,
}

/// The PMS ids of the practice's reference data, for an import's rows that name
/// a provider, operatory or type by the PMS's number.
#[derive(Clone, Debug, Default)]
pub struct PmsReferences {
    pub providers: HashMap<String, ProviderId>,
    pub operatories: HashMap<String, OperatoryId>,
    pub appointment_types: HashMap<String, AppointmentTypeId>,
    pub recall_types: HashMap<String, RecallTypeId>,
}

/// What an import did with one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    Inserted,
    Updated,
}

impl Upserted {
    pub(crate) const fn from_existing(existing: bool) -> Self {
        if existing {
            Self::Updated
        } else {
            Self::Inserted
        }
    }
}

/// Codes as stored: comma-separated.
fn codes_text(codes: &[CdtCode]) -> String {
    codes
        .iter()
        .map(CdtCode::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

fn codes_from(text: &str) -> Result<Vec<CdtCode>, StoreError> {
    text.split(',')
        .filter(|c| !c.is_empty())
        .map(|c| CdtCode::parse(c).map_err(StoreError::Corrupt))
        .collect()
}

pub(crate) fn minutes_from(raw: i64) -> Result<Minutes, StoreError> {
    u32::try_from(raw)
        .ok()
        .and_then(|m| Minutes::new(m).ok())
        .ok_or(StoreError::Corrupt(enamel_domain::InvalidValue::new(
            "duration",
            "is out of range in storage",
        )))
}

impl Scoped<'_> {
    /// Authorizes an import into the actor's practice (`schedule.import`), which
    /// brings PHI in: refused before the practice executed Enamel's agreement.
    pub(crate) async fn authorize_import(
        &self,
        resource: ResourceType,
    ) -> Result<PracticeId, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ScheduleImport,
            AuditedAs::any(AuditAction::Write, resource),
        )
        .await?;
        self.require_agreement(practice, "your practice", resource)
            .await?;
        Ok(practice)
    }

    /// Whether anything was imported into the practice's schedule yet (for an
    /// importer: `schedule.import`).
    pub async fn schedule_imported(&self) -> Result<bool, StoreError> {
        let practice = self.authorize_import(ResourceType::Practice).await?;
        let count: i64 = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM providers WHERE practice_id = $1")
                .bind(practice.as_uuid())
                .fetch_one(pool)
                .await
        })
        .context("counting providers")?;
        Ok(count > 0)
    }

    /// The reference data's PMS ids (`schedule.import`).
    pub async fn pms_references(&self) -> Result<PmsReferences, StoreError> {
        let practice = self.authorize_import(ResourceType::Practice).await?;
        let mut references = PmsReferences::default();
        for table in [
            "providers",
            "operatories",
            "appointment_types",
            "recall_types",
        ] {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT pms_id, id FROM {table} WHERE practice_id = $1"
            ));
            let rows: Vec<(String, Uuid)> = on_pool!(&self.store.db, pool => {
                sqlx::query_as(sql).bind(practice.as_uuid()).fetch_all(pool).await
            })
            .context("reading the schedule's references")?;
            for (pms, id) in rows {
                match table {
                    "providers" => {
                        references.providers.insert(pms, ProviderId::from_uuid(id));
                    }
                    "operatories" => {
                        references
                            .operatories
                            .insert(pms, OperatoryId::from_uuid(id));
                    }
                    "appointment_types" => {
                        references
                            .appointment_types
                            .insert(pms, AppointmentTypeId::from_uuid(id));
                    }
                    _ => {
                        references
                            .recall_types
                            .insert(pms, RecallTypeId::from_uuid(id));
                    }
                }
            }
        }
        Ok(references)
    }

    /// Adds or updates a provider by its PMS id.
    pub async fn upsert_provider(
        &self,
        pms_id: &PmsId,
        name: &str,
        npi: Option<&Npi>,
        is_hygienist: bool,
    ) -> Result<(ProviderId, Upserted), StoreError> {
        let practice = self.authorize_import(ResourceType::Practice).await?;
        let name = enamel_domain::schedule::schedule_name(name, "provider name")
            .map_err(StoreError::Invalid)?;
        let sql = "INSERT INTO providers (id, practice_id, pms_id, name, npi, is_hygienist, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (practice_id, pms_id) DO UPDATE SET \
             name = excluded.name, npi = excluded.npi, is_hygienist = excluded.is_hygienist, \
             updated_at = excluded.updated_at RETURNING id";
        let fresh = Uuid::now_v7();
        let npi = npi.map(|n| n.as_str().to_owned());
        let id: Uuid = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(sql)
                .bind(fresh)
                .bind(practice.as_uuid())
                .bind(pms_id.as_str())
                .bind(&name)
                .bind(&npi)
                .bind(is_hygienist)
                .bind(self.store.now())
                .fetch_one(pool)
                .await
        })
        .context("writing a provider")?;
        self.audit_reference(ResourceType::Practice, "provider", id)
            .await?;
        Ok((ProviderId::from_uuid(id), upserted(id, fresh)))
    }

    /// Adds or updates an operatory by its PMS id.
    pub async fn upsert_operatory(
        &self,
        pms_id: &PmsId,
        name: &str,
    ) -> Result<(OperatoryId, Upserted), StoreError> {
        let practice = self.authorize_import(ResourceType::Practice).await?;
        let name = enamel_domain::schedule::schedule_name(name, "operatory name")
            .map_err(StoreError::Invalid)?;
        let fresh = Uuid::now_v7();
        let id: Uuid = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(
                "INSERT INTO operatories (id, practice_id, pms_id, name, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (practice_id, pms_id) DO UPDATE SET \
                 name = excluded.name, updated_at = excluded.updated_at RETURNING id",
            )
            .bind(fresh)
            .bind(practice.as_uuid())
            .bind(pms_id.as_str())
            .bind(&name)
            .bind(self.store.now())
            .fetch_one(pool)
            .await
        })
        .context("writing an operatory")?;
        self.audit_reference(ResourceType::Practice, "operatory", id)
            .await?;
        Ok((OperatoryId::from_uuid(id), upserted(id, fresh)))
    }

    /// Adds or updates an appointment type by its PMS id.
    pub async fn upsert_appointment_type(
        &self,
        pms_id: &PmsId,
        name: &str,
        cdt_codes: &[CdtCode],
        duration: Minutes,
    ) -> Result<(AppointmentTypeId, Upserted), StoreError> {
        let practice = self.authorize_import(ResourceType::Practice).await?;
        let name = enamel_domain::schedule::schedule_name(name, "appointment type")
            .map_err(StoreError::Invalid)?;
        let fresh = Uuid::now_v7();
        let id: Uuid = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(
                "INSERT INTO appointment_types (id, practice_id, pms_id, name, cdt_codes, \
                 duration_minutes, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (practice_id, pms_id) DO UPDATE SET name = excluded.name, \
                 cdt_codes = excluded.cdt_codes, duration_minutes = excluded.duration_minutes, \
                 updated_at = excluded.updated_at RETURNING id",
            )
            .bind(fresh)
            .bind(practice.as_uuid())
            .bind(pms_id.as_str())
            .bind(&name)
            .bind(codes_text(cdt_codes))
            .bind(i64::from(duration.get()))
            .bind(self.store.now())
            .fetch_one(pool)
            .await
        })
        .context("writing an appointment type")?;
        self.audit_reference(ResourceType::Practice, "appointment_type", id)
            .await?;
        Ok((AppointmentTypeId::from_uuid(id), upserted(id, fresh)))
    }

    /// Adds or updates a recall type by its PMS id.
    pub async fn upsert_recall_type(
        &self,
        pms_id: &PmsId,
        name: &str,
        trigger_codes: &[CdtCode],
        interval: RecallInterval,
    ) -> Result<(RecallTypeId, Upserted), StoreError> {
        let practice = self.authorize_import(ResourceType::Practice).await?;
        let name = enamel_domain::schedule::schedule_name(name, "recall type")
            .map_err(StoreError::Invalid)?;
        let fresh = Uuid::now_v7();
        let id: Uuid = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(
                "INSERT INTO recall_types (id, practice_id, pms_id, name, trigger_codes, \
                 interval_text, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (practice_id, pms_id) DO UPDATE SET name = excluded.name, \
                 trigger_codes = excluded.trigger_codes, interval_text = excluded.interval_text, \
                 updated_at = excluded.updated_at RETURNING id",
            )
            .bind(fresh)
            .bind(practice.as_uuid())
            .bind(pms_id.as_str())
            .bind(&name)
            .bind(codes_text(trigger_codes))
            .bind(interval.to_string())
            .bind(self.store.now())
            .fetch_one(pool)
            .await
        })
        .context("writing a recall type")?;
        self.audit_reference(ResourceType::Practice, "recall_type", id)
            .await?;
        Ok((RecallTypeId::from_uuid(id), upserted(id, fresh)))
    }

    async fn audit_reference(
        &self,
        resource: ResourceType,
        kind: &str,
        id: Uuid,
    ) -> Result<(), StoreError> {
        let mut event = self.event(
            AuditAction::Write,
            resource,
            Some(self.practice()?.to_string()),
            Outcome::Success,
        );
        event
            .detail
            .insert("schedule", Detail::Code(kind.to_owned()));
        event.detail.insert("ids", Detail::Ids(vec![id]));
        self.store.audit().record(event).await?;
        Ok(())
    }

    /// Authorizes a staff read of the schedule (`schedule.view`).
    pub(crate) async fn authorize_schedule_view(
        &self,
        resource: ResourceType,
    ) -> Result<PracticeId, StoreError> {
        self.authorize_in_own_practice(
            Action::ScheduleView,
            AuditedAs::any(AuditAction::Search, resource),
        )
        .await?;
        self.practice()
    }

    /// The practice's providers, by name (no PHI).
    pub async fn providers(&self) -> Result<Vec<Provider>, StoreError> {
        let practice = self.authorize_schedule_view(ResourceType::Practice).await?;
        let rows: Vec<(Uuid, String, String, Option<String>, bool, bool)> =
            on_pool!(&self.store.db, pool => {
                sqlx::query_as(
                    "SELECT id, pms_id, name, npi, is_hygienist, hidden FROM providers \
                     WHERE practice_id = $1 ORDER BY name, id",
                )
                .bind(practice.as_uuid())
                .fetch_all(pool)
                .await
            })
            .context("listing providers")?;
        rows.into_iter()
            .map(|(id, pms_id, name, npi, is_hygienist, hidden)| {
                Ok(Provider {
                    id: ProviderId::from_uuid(id),
                    pms_id,
                    name,
                    npi: npi
                        .map(|n| Npi::parse(&n))
                        .transpose()
                        .map_err(StoreError::Corrupt)?,
                    is_hygienist,
                    hidden,
                })
            })
            .collect()
    }

    /// The practice's operatories, by name (no PHI).
    pub async fn operatories(&self) -> Result<Vec<Operatory>, StoreError> {
        let practice = self.authorize_schedule_view(ResourceType::Practice).await?;
        let rows: Vec<(Uuid, String, String, bool)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, pms_id, name, hidden FROM operatories WHERE practice_id = $1 \
                 ORDER BY name, id",
            )
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("listing operatories")?;
        Ok(rows
            .into_iter()
            .map(|(id, pms_id, name, hidden)| Operatory {
                id: OperatoryId::from_uuid(id),
                pms_id,
                name,
                hidden,
            })
            .collect())
    }

    /// The practice's appointment types, by name (no PHI).
    pub async fn appointment_types(&self) -> Result<Vec<AppointmentType>, StoreError> {
        let practice = self.authorize_schedule_view(ResourceType::Practice).await?;
        let rows: Vec<(Uuid, String, String, String, i64)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, pms_id, name, cdt_codes, duration_minutes FROM appointment_types \
                 WHERE practice_id = $1 ORDER BY name, id",
            )
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("listing appointment types")?;
        rows.into_iter()
            .map(|(id, pms_id, name, codes, minutes)| {
                Ok(AppointmentType {
                    id: AppointmentTypeId::from_uuid(id),
                    pms_id,
                    name,
                    cdt_codes: codes_from(&codes)?,
                    duration: minutes_from(minutes)?,
                })
            })
            .collect()
    }

    /// The practice's recall types, by name (no PHI).
    pub async fn recall_types(&self) -> Result<Vec<RecallType>, StoreError> {
        let practice = self.authorize_schedule_view(ResourceType::Practice).await?;
        let rows: Vec<(Uuid, String, String, String, String)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, pms_id, name, trigger_codes, interval_text FROM recall_types \
                 WHERE practice_id = $1 ORDER BY name, id",
            )
            .bind(practice.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("listing recall types")?;
        rows.into_iter()
            .map(|(id, pms_id, name, codes, interval)| {
                Ok(RecallType {
                    id: RecallTypeId::from_uuid(id),
                    pms_id,
                    name,
                    trigger_codes: codes_from(&codes)?,
                    interval: RecallInterval::parse(&interval).map_err(StoreError::Corrupt)?,
                })
            })
            .collect()
    }
}

const fn upserted(id: Uuid, fresh: Uuid) -> Upserted {
    if id.as_u128() == fresh.as_u128() {
        Upserted::Inserted
    } else {
        Upserted::Updated
    }
}

/// The start of a local day at the practice and of the next, as instants: a day on
/// the schedule is the practice's calendar day, across daylight-saving changes.
#[must_use]
pub fn local_day(
    zone: &enamel_domain::TimeZone,
    day: time::Date,
) -> (OffsetDateTime, OffsetDateTime) {
    let start = |d: time::Date| zone.instant(d.midnight());
    (start(day), start(day.next_day().unwrap_or(day)))
}
