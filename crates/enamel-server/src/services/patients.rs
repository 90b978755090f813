//! A patient as staff type one in, the same from the API's JSON and the page's form:
//! parsed into the domain's types before anything reaches the store.

use enamel_domain::{
    Address, ContactChannel, ContactDetails, Email, Insurance, NewPatient, PatientId, Phi,
    PhoneNumber,
};
use enamel_store::PatientQuery;
use serde::Deserialize;

use crate::ApiError;
use crate::http::extract::parse_date;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddressInput {
    pub(crate) line1: String,
    pub(crate) line2: Option<String>,
    pub(crate) city: String,
    pub(crate) state: String,
    pub(crate) postal_code: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatientInput {
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) birth_date: String,
    pub(crate) phone: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) address: Option<AddressInput>,
    pub(crate) preferred_contact: Option<String>,
    pub(crate) preferred_language: Option<String>,
    pub(crate) insurance_carrier: Option<String>,
    pub(crate) insurance_member_id: Option<String>,
    #[serde(default)]
    pub(crate) allow_duplicate: bool,
}

impl PatientInput {
    pub(crate) fn parse(self) -> Result<NewPatient, ApiError> {
        let first = enamel_domain::patient::parse_name_part(&self.first_name, "first name")?;
        let last = enamel_domain::patient::parse_name_part(&self.last_name, "last name")?;
        let birth_date = parse_date(&self.birth_date, "birth date")?;
        let blank = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let contact = ContactDetails {
            phone: blank(&self.phone)
                .map(|p| PhoneNumber::parse(&p))
                .transpose()?,
            email: blank(&self.email).map(|e| Email::parse(&e)).transpose()?,
            address: self
                .address
                .map(|a| {
                    Address::parse(
                        &a.line1,
                        a.line2.as_deref(),
                        &a.city,
                        &a.state,
                        &a.postal_code,
                    )
                })
                .transpose()?,
            preferred: blank(&self.preferred_contact)
                .map(|c| ContactChannel::parse(&c))
                .transpose()?
                .unwrap_or(ContactChannel::Sms),
            language: enamel_domain::patient::parse_language(
                blank(&self.preferred_language).as_deref().unwrap_or("en"),
            )?,
        };
        let insurance = match (
            blank(&self.insurance_carrier),
            blank(&self.insurance_member_id),
        ) {
            (Some(carrier), Some(member)) => Some(Phi::new(Insurance::parse(&carrier, &member)?)),
            (None, None) => None,
            _ => {
                return Err(ApiError::Rejected(
                    "give both the insurance carrier and the member id, or neither".into(),
                ));
            }
        };
        Ok(NewPatient {
            id: PatientId::generate(),
            first_name: Phi::new(first),
            last_name: Phi::new(last),
            birth_date: Phi::new(birth_date),
            contact: Phi::new(contact),
            insurance,
        })
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatientSearch {
    pub(crate) last_name: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) birth_date: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u32>,
}

pub(crate) fn patient_query(query: PatientSearch) -> Result<PatientQuery, ApiError> {
    Ok(PatientQuery {
        last_name: query
            .last_name
            .filter(|s| !s.trim().is_empty())
            .map(Phi::new),
        first_name: query
            .first_name
            .filter(|s| !s.trim().is_empty())
            .map(Phi::new),
        birth_date: query
            .birth_date
            .map(|d| parse_date(&d, "birth date"))
            .transpose()?
            .map(Phi::new),
        phone: query
            .phone
            .map(|p| PhoneNumber::parse(&p))
            .transpose()?
            .map(Phi::new),
        email: query
            .email
            .map(|e| Email::parse(&e))
            .transpose()?
            .map(Phi::new),
        limit: query.limit.unwrap_or(50),
        offset: query.offset.unwrap_or(0),
    })
}
