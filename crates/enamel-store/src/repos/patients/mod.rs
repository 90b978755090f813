//! A practice's patients: demographics sealed column by column, found through
//! blind indexes, every read, search and write audited.

mod consent;
mod find;
mod pms;

mod sealing;

use sealing::{SealedName, index_for, indexes, insert_patient};

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{
    ContactDetails, Email, Insurance, NewPatient, Patient, PatientId, PatientSummary, Phi,
    PhoneNumber, PracticeId,
};
use enamel_policy::{Action, Circumstances, Resource};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::db::on_pool;
use crate::scoped::authorize::AuditedAs;
use crate::sealed::{PATIENT_BIRTH_DATE, PATIENT_CONTACT, PATIENT_INSURANCE, PATIENT_NAME};
use crate::{Scoped, Store, StoreError};

/// The most patients one search or page returns.
pub const MAX_PATIENTS_PER_PAGE: u32 = 100;

/// How to look for patients. With nothing set, the most recently added come first.
#[derive(Clone, Debug, Default)]
pub struct PatientQuery {
    pub last_name: Option<Phi<String>>,
    /// With `last_name` and `birth_date`: the exact person.
    pub first_name: Option<Phi<String>>,
    pub birth_date: Option<Phi<Date>>,
    pub phone: Option<Phi<PhoneNumber>>,
    pub email: Option<Phi<Email>>,
    pub limit: u32,
    pub offset: u32,
}

#[derive(sqlx::FromRow)]
pub(crate) struct PatientRow {
    pub(crate) id: Uuid,
    pub(crate) practice_id: Uuid,
    pub(crate) name: Vec<u8>,
    pub(crate) birth_date: Vec<u8>,
    pub(crate) contact: Vec<u8>,
    pub(crate) insurance: Option<Vec<u8>>,
    pub(crate) restricted: bool,
    pub(crate) sms_opt_out: bool,
    pub(crate) created_at: OffsetDateTime,
}

pub(crate) const PATIENT_COLUMNS: &str = "id, practice_id, name, birth_date, contact, insurance, \
     restricted, sms_opt_out, created_at";

impl Store {
    /// Opens a patient's first name alone (for a message that may carry no more).
    pub(crate) async fn first_name(
        &self,
        practice: PracticeId,
        row: Uuid,
        sealed: &[u8],
    ) -> Result<String, StoreError> {
        let name: SealedName = self.open_json(practice, &PATIENT_NAME, row, sealed).await?;
        Ok(name.first)
    }

    /// Opens a patient's name and birth date.
    pub(crate) async fn patient_summary(
        &self,
        practice: PracticeId,
        row: Uuid,
        name: &[u8],
        birth_date: &[u8],
    ) -> Result<PatientSummary, StoreError> {
        let name: SealedName = self.open_json(practice, &PATIENT_NAME, row, name).await?;
        let birth_date: Date = self
            .open_json(practice, &PATIENT_BIRTH_DATE, row, birth_date)
            .await?;
        Ok(PatientSummary {
            id: PatientId::from_uuid(row),
            first_name: Phi::new(name.first),
            last_name: Phi::new(name.last),
            birth_date: Phi::new(birth_date),
        })
    }

    /// Opens a whole patient row; contact details only when `with_contact`.
    pub(crate) async fn open_patient(
        &self,
        row: &PatientRow,
        with_contact: bool,
    ) -> Result<Patient, StoreError> {
        let practice = PracticeId::from_uuid(row.practice_id);
        let summary = self
            .patient_summary(practice, row.id, &row.name, &row.birth_date)
            .await?;
        let contact = if with_contact {
            let details: ContactDetails = self
                .open_json(practice, &PATIENT_CONTACT, row.id, &row.contact)
                .await?;
            Some(Phi::new(details))
        } else {
            None
        };
        let insurance = match (&row.insurance, with_contact) {
            (Some(sealed), true) => {
                let insurance: Insurance = self
                    .open_json(practice, &PATIENT_INSURANCE, row.id, sealed)
                    .await?;
                Some(Phi::new(insurance))
            }
            _ => None,
        };
        Ok(Patient {
            id: summary.id,
            practice,
            first_name: summary.first_name,
            last_name: summary.last_name,
            birth_date: summary.birth_date,
            contact,
            insurance,
            restricted: row.restricted,
            sms_opt_out: row.sms_opt_out,
            created_at: row.created_at,
        })
    }
}

impl Scoped<'_> {
    /// Adds a patient to the actor's practice. A patient with the same name and birth
    /// date already there is refused with [`StoreError::DuplicatePatient`] naming
    /// them, unless `allow_duplicate` (two people can share both).
    pub async fn create_patient(
        &self,
        new: &NewPatient,
        allow_duplicate: bool,
    ) -> Result<PatientId, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::PatientCreate,
            AuditedAs::any(AuditAction::Create, ResourceType::Patient),
        )
        .await?;
        self.require_agreement(practice, "your practice", ResourceType::Patient)
            .await?;
        let key = self.blind_index_key().await?;
        let indexes = indexes(&key, new);
        if !allow_duplicate
            && let Some(existing) = self.patient_by_name_birth(&indexes.name_birth).await?
        {
            return Err(StoreError::DuplicatePatient(existing));
        }
        let rows = self.store.seal_patient(practice, new).await?;
        let mut event = self.event(
            AuditAction::Create,
            ResourceType::Patient,
            Some(new.id.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(new.id.as_uuid());
        let at = self.store.now();
        let write = async {
            let mut tx = self.store.begin().await?;
            insert_patient(&mut tx, practice, new.id, (&rows, &indexes), at).await?;
            tx.commit_with(&[&event]).await
        };
        write.await.map_err(|err| {
            crate::error::conflict_if_taken(err, "this patient id", "adding a patient")
        })?;
        Ok(new.id)
    }

    /// One patient of the practice, with contact details if the actor's role needs
    /// them. Audited (success, failure or denial) before anything is returned.
    pub async fn patient(&self, id: PatientId, at: OffsetDateTime) -> Result<Patient, StoreError> {
        let row = self.patient_row(id).await;
        let row = match row {
            Ok(row) => row,
            Err(err) => {
                let mut event = self.event(
                    AuditAction::Read,
                    ResourceType::Patient,
                    Some(id.to_string()),
                    Outcome::Failure,
                );
                event.patient_id = Some(id.as_uuid());
                self.store.audit().record(event).await?;
                return Err(err);
            }
        };
        let resource = Resource::Patient {
            id,
            practice: PracticeId::from_uuid(row.practice_id),
            restricted: row.restricted,
        };
        let break_glass = row.restricted && self.holds_break_glass(id, at).await?;
        self.authorize(
            Action::PatientRead,
            &resource,
            Circumstances { break_glass },
            AuditedAs::one(AuditAction::Read, ResourceType::Patient, &id),
        )
        .await?;
        let with_contact = self.may(Action::PatientContact, &resource);
        let patient = self.store.open_patient(&row, with_contact).await?;
        let mut event = self.event(
            AuditAction::Read,
            ResourceType::Patient,
            Some(id.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(id.as_uuid());
        event.detail.insert(
            "fields",
            Detail::Code(
                if with_contact {
                    "demographics+contact"
                } else {
                    "demographics"
                }
                .into(),
            ),
        );
        if break_glass {
            event
                .detail
                .insert("break_glass", Detail::Code("grant".into()));
        }
        self.store.audit().record(event).await?;
        Ok(patient)
    }

    /// Whether the policies allow `action` on `resource`, without recording a
    /// denial: for optional fields a role may or may not see.
    pub(crate) fn may(&self, action: Action, resource: &Resource) -> bool {
        self.actor.actor_type() == enamel_domain::ActorType::System
            || self
                .store
                .policy
                .decide(self.actor, action, resource, Circumstances::default())
                .is_allowed()
    }

    pub(crate) async fn patient_row(&self, id: PatientId) -> Result<PatientRow, StoreError> {
        let practice = self.practice()?;
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {PATIENT_COLUMNS} FROM patients WHERE id = $1 AND practice_id = $2"
        ));
        let row: Option<PatientRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql)
                .bind(id.as_uuid())
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("reading a patient")?;
        row.ok_or(StoreError::NotFound)
    }

    /// Adds many patients in one transaction with their audit events (seeding, imports).
    pub async fn import_patients(&self, patients: &[NewPatient]) -> Result<u64, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::PatientCreate,
            AuditedAs::any(AuditAction::Create, ResourceType::Patient),
        )
        .await?;
        self.require_agreement(practice, "your practice", ResourceType::Patient)
            .await?;
        let key = self.blind_index_key().await?;
        let mut prepared = Vec::with_capacity(patients.len());
        let mut events = Vec::with_capacity(patients.len());
        for new in patients {
            prepared.push((
                new.id,
                self.store.seal_patient(practice, new).await?,
                indexes(&key, new),
            ));
            let mut event = self.event(
                AuditAction::Create,
                ResourceType::Patient,
                Some(new.id.to_string()),
                Outcome::Success,
            );
            event.patient_id = Some(new.id.as_uuid());
            events.push(event);
        }
        let events: Vec<&enamel_audit::entry::Event> = events.iter().collect();
        let at = self.store.now();
        let write = async {
            let mut tx = self.store.begin().await?;
            for (id, rows, indexes) in &prepared {
                insert_patient(&mut tx, practice, *id, (rows, indexes), at).await?;
            }
            tx.commit_with(&events).await
        };
        write.await.map_err(|err| {
            crate::error::conflict_if_taken(err, "a patient id", "importing patients")
        })?;
        Ok(patients.len() as u64)
    }
}

impl Store {}

/// A consent change that was already in effect.
#[derive(Debug, thiserror::Error)]
#[error("the consent was already so")]
struct Unchanged;

/// Who changed a patient's text-message consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentSource {
    /// The patient replied STOP or START to one of our texts.
    CarrierKeyword,
    /// The SMS provider refused a send because the number unsubscribed.
    ProviderRefusal,
}

impl ConsentSource {
    const fn as_str(self) -> &'static str {
        match self {
            Self::CarrierKeyword => "carrier_keyword",
            Self::ProviderRefusal => "provider_refusal",
        }
    }
}

impl Store {}
