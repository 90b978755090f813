//! A patient's fields as stored: each sealed under the practice's data key, with blind indexes to find them.

use super::PatientQuery;
use crate::db::{Tx, on_tx};
use crate::sealed::{PATIENT_BIRTH_DATE, PATIENT_CONTACT, PATIENT_INSURANCE, PATIENT_NAME};
use crate::{Store, StoreError};
use enamel_crypto::blind::IndexKey;
use enamel_domain::{NewPatient, PatientId, PracticeId};
use serde::{Deserialize, Serialize};

impl Store {
    pub(super) async fn seal_patient(
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

/// The sealed form of a name.
#[derive(Serialize, Deserialize)]
pub(super) struct SealedName {
    pub(super) first: String,
    pub(super) last: String,
}

/// The blind indexes of a patient's searchable fields.
pub(super) struct Indexes {
    pub(super) name_birth: Vec<u8>,
    pub(super) last_name: Vec<u8>,
    pub(super) phone: Option<Vec<u8>>,
    pub(super) email: Option<Vec<u8>>,
}

pub(super) fn indexes(key: &IndexKey, new: &NewPatient) -> Indexes {
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
pub(super) fn index_for(key: &IndexKey, query: &PatientQuery) -> (&'static str, Option<Vec<u8>>) {
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

/// A patient's sealed columns.
pub(super) struct SealedPatient {
    pub(super) name: Vec<u8>,
    pub(super) birth_date: Vec<u8>,
    pub(super) contact: Vec<u8>,
    pub(super) insurance: Option<Vec<u8>>,
}

/// Inserts a sealed patient inside the open transaction `tx`.
pub(super) async fn insert_patient(
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
