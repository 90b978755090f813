//! Patients: the demographics a referral needs, every field PHI.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::invalid::bounded_text;
use crate::{Address, Email, InvalidValue, PatientId, Phi, PhoneNumber, PracticeId};

/// How a patient prefers to be reached.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactChannel {
    Phone,
    Sms,
    Email,
}

impl ContactChannel {
    pub const ALL: [Self; 3] = [Self::Phone, Self::Sms, Self::Email];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == raw.trim())
            .ok_or(InvalidValue::new(
                "preferred contact",
                "must be phone, sms or email",
            ))
    }
}

/// A person's name part (first or last): 1 to 80 characters, no control characters.
pub fn parse_name_part(raw: &str, what: &'static str) -> Result<String, InvalidValue> {
    bounded_text(raw, what, 80)
}

/// A language tag such as `en`, `es` or `zh-Hant`: letters, digits and `-`, 2 to 20
/// characters, starting with two or three letters.
pub fn parse_language(raw: &str) -> Result<String, InvalidValue> {
    let tag = raw.trim();
    let primary = tag.split('-').next().unwrap_or_default();
    let ok = (2..=20).contains(&tag.len())
        && (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(tag.to_owned())
    } else {
        Err(InvalidValue::new(
            "preferred language",
            "must be a language tag such as en or es",
        ))
    }
}

/// How to reach a patient.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ContactDetails {
    pub phone: Option<PhoneNumber>,
    pub email: Option<Email>,
    pub address: Option<Address>,
    pub preferred: ContactChannel,
    pub language: String,
}

/// A patient's dental insurance.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Insurance {
    pub carrier: String,
    pub member_id: String,
}

impl Insurance {
    pub fn parse(carrier: &str, member_id: &str) -> Result<Self, InvalidValue> {
        Ok(Self {
            carrier: bounded_text(carrier, "insurance carrier", 120)?,
            member_id: bounded_text(member_id, "insurance member id", 40)?,
        })
    }
}

/// A patient to create.
#[derive(Clone, Debug)]
pub struct NewPatient {
    pub id: PatientId,
    pub first_name: Phi<String>,
    pub last_name: Phi<String>,
    pub birth_date: Phi<Date>,
    pub contact: Phi<ContactDetails>,
    pub insurance: Option<Phi<Insurance>>,
}

/// A patient as a list shows them: who they are, nothing more.
#[derive(Clone, Debug)]
pub struct PatientSummary {
    pub id: PatientId,
    pub first_name: Phi<String>,
    pub last_name: Phi<String>,
    pub birth_date: Phi<Date>,
}

/// A patient's record as one reader may see it: contact details and insurance are
/// `None` for a role that does not need them (minimum necessary).
#[derive(Clone, Debug)]
pub struct Patient {
    pub id: PatientId,
    pub practice: PracticeId,
    pub first_name: Phi<String>,
    pub last_name: Phi<String>,
    pub birth_date: Phi<Date>,
    pub contact: Option<Phi<ContactDetails>>,
    pub insurance: Option<Phi<Insurance>>,
    pub restricted: bool,
    pub sms_opt_out: bool,
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags_are_checked_by_shape() {
        assert_eq!(parse_language(" es ").unwrap(), "es");
        assert!(parse_language("zh-Hant").is_ok());
        for bad in ["", "e", "english language", "12", "en_US"] {
            assert!(parse_language(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_patient_record_prints_no_phi_when_debugged() {
        let patient = PatientSummary {
            id: PatientId::generate(),
            first_name: Phi::new("Quinley".into()),
            last_name: Phi::new("Marbleton".into()),
            birth_date: Phi::new(time::macros::date!(1980 - 01 - 02)),
        };
        let printed = format!("{patient:?}");
        assert!(!printed.contains("Quinley") && !printed.contains("1980"));
    }
}
