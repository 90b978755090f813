//! A practice's patients: demographics sealed column by column, found through
//! blind indexes, every read, search and write audited.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_crypto::blind::IndexKey;
use enamel_domain::{
    ContactDetails, Email, Insurance, NewPatient, Patient, PatientId, PatientSummary, Phi,
    PhoneNumber, PracticeId,
};
use enamel_policy::{Action, Circumstances, Resource};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::db::{Tx, on_pool, on_tx};
use crate::scoped::authorize::AuditedAs;
use crate::sealed::{PATIENT_BIRTH_DATE, PATIENT_CONTACT, PATIENT_INSURANCE, PATIENT_NAME};
use crate::{Scoped, Store, StoreError};

/// The most patients one search or page returns.
pub const MAX_PATIENTS_PER_PAGE: u32 = 100;

/// The sealed form of a name.
#[derive(Serialize, Deserialize)]
struct SealedName {
    first: String,
    last: String,
}

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

/// The blind indexes of a patient's searchable fields.
struct Indexes {
    name_birth: Vec<u8>,
    last_name: Vec<u8>,
    phone: Option<Vec<u8>>,
    email: Option<Vec<u8>>,
}

fn indexes(key: &IndexKey, new: &NewPatient) -> Indexes {
    let contact = new.contact.expose();
    Indexes {
        name_birth: key
            .name_birth_date(
                new.first_name.expose(),
                new.last_name.expose(),
                *new.birth_date.expose(),
            )
            .as_bytes()
            .to_vec(),
        last_name: key.last_name(new.last_name.expose()).as_bytes().to_vec(),
        phone: contact
            .phone
            .as_ref()
            .map(|p| key.phone(p).as_bytes().to_vec()),
        email: contact
            .email
            .as_ref()
            .map(|e| key.email(e).as_bytes().to_vec()),
    }
}

/// The blind-index column and value a query looks up, if any.
fn index_for(key: &IndexKey, query: &PatientQuery) -> (&'static str, Option<Vec<u8>>) {
    match query {
        PatientQuery {
            last_name: Some(last),
            first_name: Some(first),
            birth_date: Some(birth),
            ..
        } => (
            "name_birth_index",
            Some(
                key.name_birth_date(first.expose(), last.expose(), *birth.expose())
                    .as_bytes()
                    .to_vec(),
            ),
        ),
        PatientQuery {
            last_name: Some(last),
            ..
        } => (
            "last_name_index",
            Some(key.last_name(last.expose()).as_bytes().to_vec()),
        ),
        PatientQuery {
            phone: Some(phone), ..
        } => (
            "phone_index",
            Some(key.phone(phone.expose()).as_bytes().to_vec()),
        ),
        PatientQuery {
            email: Some(email), ..
        } => (
            "email_index",
            Some(key.email(email.expose()).as_bytes().to_vec()),
        ),
        _ => ("", None),
    }
}

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

    async fn patient_by_name_birth(&self, index: &[u8]) -> Result<Option<PatientId>, StoreError> {
        let practice = self.practice()?;
        let found: Option<Uuid> = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar(
                "SELECT id FROM patients WHERE practice_id = $1 AND name_birth_index = $2 \
                 ORDER BY id LIMIT 1",
            )
            .bind(practice.as_uuid())
            .bind(index)
            .fetch_optional(pool)
            .await
        })
        .context("looking for a duplicate patient")?;
        Ok(found.map(PatientId::from_uuid))
    }

    /// Finds the practice's patients by name, birth date, phone or email, or lists the
    /// newest. Audited as a search naming every id it returned.
    pub async fn find_patients(
        &self,
        query: &PatientQuery,
    ) -> Result<Vec<PatientSummary>, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::PatientList,
            AuditedAs::any(AuditAction::Search, ResourceType::Patient),
        )
        .await?;
        let key = self.blind_index_key().await?;
        let (column, value) = index_for(&key, query);
        let limit = i64::from(query.limit.clamp(1, MAX_PATIENTS_PER_PAGE));
        let offset = i64::from(query.offset);
        let rows: Vec<(Uuid, Vec<u8>, Vec<u8>)> = match value {
            Some(value) => {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT id, name, birth_date FROM patients \
                     WHERE practice_id = $1 AND {column} = $2 ORDER BY id DESC LIMIT $3 OFFSET $4"
                ));
                on_pool!(&self.store.db, pool => {
                    sqlx::query_as(sql)
                        .bind(practice.as_uuid())
                        .bind(value)
                        .bind(limit)
                        .bind(offset)
                        .fetch_all(pool)
                        .await
                })
            }
            None => on_pool!(&self.store.db, pool => {
                sqlx::query_as(
                    "SELECT id, name, birth_date FROM patients WHERE practice_id = $1 \
                     ORDER BY id DESC LIMIT $2 OFFSET $3",
                )
                .bind(practice.as_uuid())
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await
            }),
        }
        .context("searching patients")?;
        let mut found = Vec::with_capacity(rows.len());
        for (id, name, birth_date) in rows {
            found.push(
                self.store
                    .patient_summary(practice, id, &name, &birth_date)
                    .await?,
            );
        }
        let mut event = self.event(
            AuditAction::Search,
            ResourceType::Patient,
            None,
            Outcome::Success,
        );
        event.detail.insert(
            "returned",
            Detail::Ids(found.iter().map(|p| p.id.as_uuid()).collect()),
        );
        event.detail.insert(
            "by",
            Detail::Code(if column.is_empty() { "newest" } else { column }.to_owned()),
        );
        self.store.audit().record(event).await?;
        Ok(found)
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

/// A patient's sealed columns.
struct SealedPatient {
    name: Vec<u8>,
    birth_date: Vec<u8>,
    contact: Vec<u8>,
    insurance: Option<Vec<u8>>,
}

impl Store {
    async fn seal_patient(
        &self,
        practice: PracticeId,
        new: &NewPatient,
    ) -> Result<SealedPatient, StoreError> {
        let row = new.id.as_uuid();
        let name = SealedName {
            first: new.first_name.expose().clone(),
            last: new.last_name.expose().clone(),
        };
        Ok(SealedPatient {
            name: self.seal_json(practice, &PATIENT_NAME, row, &name).await?,
            birth_date: self
                .seal_json(practice, &PATIENT_BIRTH_DATE, row, new.birth_date.expose())
                .await?,
            contact: self
                .seal_json(practice, &PATIENT_CONTACT, row, new.contact.expose())
                .await?,
            insurance: match &new.insurance {
                Some(insurance) => Some(
                    self.seal_json(practice, &PATIENT_INSURANCE, row, insurance.expose())
                        .await?,
                ),
                None => None,
            },
        })
    }
}

/// Inserts a sealed patient inside the open transaction `tx`.
async fn insert_patient(
    tx: &mut Tx,
    practice: PracticeId,
    id: PatientId,
    (sealed, indexes): (&SealedPatient, &Indexes),
    at: time::OffsetDateTime,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO patients (id, practice_id, name, birth_date, contact, insurance, \
             name_birth_index, last_name_index, phone_index, email_index, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
        )
        .bind(id.as_uuid())
        .bind(practice.as_uuid())
        .bind(&sealed.name)
        .bind(&sealed.birth_date)
        .bind(&sealed.contact)
        .bind(&sealed.insurance)
        .bind(&indexes.name_birth)
        .bind(&indexes.last_name)
        .bind(&indexes.phone)
        .bind(&indexes.email)
        .bind(at)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })
}

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
