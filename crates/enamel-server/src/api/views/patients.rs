//! Patients as the API shows them.

use enamel_domain::{
    Address, ContactDetails, Email, Insurance, Patient, PatientSummary, PhoneNumber,
};
use serde::Serialize;

/// Patients as a list shows them: names and birth dates, never contact details.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PatientList {
    pub(crate) patients: Vec<PatientSummaryView>,
}

/// A patient as a list shows them (PHI): who they are, nothing more.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PatientSummaryView {
    id: String,
    first_name: String,
    last_name: String,
    /// `YYYY-MM-DD`.
    birth_date: String,
}

impl From<&PatientSummary> for PatientSummaryView {
    fn from(patient: &PatientSummary) -> Self {
        Self {
            id: patient.id.to_string(),
            first_name: patient.first_name.expose().clone(),
            last_name: patient.last_name.expose().clone(),
            birth_date: patient.birth_date.expose().to_string(),
        }
    }
}

/// A patient's record (PHI); `contact` and `insurance` absent for roles that need neither.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PatientView {
    id: String,
    first_name: String,
    last_name: String,
    /// `YYYY-MM-DD`.
    birth_date: String,
    sms_opt_out: bool,
    restricted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    contact: Option<ContactView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    insurance: Option<InsuranceView>,
}

impl From<&Patient> for PatientView {
    fn from(patient: &Patient) -> Self {
        Self {
            id: patient.id.to_string(),
            first_name: patient.first_name.expose().clone(),
            last_name: patient.last_name.expose().clone(),
            birth_date: patient.birth_date.expose().to_string(),
            sms_opt_out: patient.sms_opt_out,
            restricted: patient.restricted,
            contact: patient
                .contact
                .as_ref()
                .map(|c| ContactView::from(c.expose())),
            insurance: patient
                .insurance
                .as_ref()
                .map(|i| InsuranceView::from(i.expose())),
        }
    }
}

/// How to reach a patient (PHI); each channel is null when not on file.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ContactView {
    /// E.164, e.g. `+15125550142`.
    phone: Option<String>,
    email: Option<String>,
    address: Option<AddressView>,
    /// `phone`, `sms` or `email`.
    preferred_contact: &'static str,
    /// A language tag such as `en` or `es`.
    preferred_language: String,
}

impl From<&ContactDetails> for ContactView {
    fn from(contact: &ContactDetails) -> Self {
        Self {
            phone: contact
                .phone
                .as_ref()
                .map(|p| PhoneNumber::e164(p).to_owned()),
            email: contact.email.as_ref().map(|e| Email::as_str(e).to_owned()),
            address: contact.address.as_ref().map(AddressView::from),
            preferred_contact: contact.preferred.as_str(),
            preferred_language: contact.language.clone(),
        }
    }
}

/// A patient's US street address (PHI).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AddressView {
    line1: String,
    line2: Option<String>,
    city: String,
    /// The two-letter USPS code.
    state: String,
    postal_code: String,
}

impl From<&Address> for AddressView {
    fn from(address: &Address) -> Self {
        Self {
            line1: address.line1.clone(),
            line2: address.line2.clone(),
            city: address.city.clone(),
            state: address.state.code().to_owned(),
            postal_code: address.postal_code.as_str().to_owned(),
        }
    }
}

/// A patient's dental insurance (PHI).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct InsuranceView {
    carrier: String,
    member_id: String,
}

impl From<&Insurance> for InsuranceView {
    fn from(insurance: &Insurance) -> Self {
        Self {
            carrier: insurance.carrier.clone(),
            member_id: insurance.member_id.clone(),
        }
    }
}
