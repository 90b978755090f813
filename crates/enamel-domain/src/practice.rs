//! Practices: the dental offices that are Enamel's tenants.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::invalid::{bounded_text, display_as_value, string_conversions};
use crate::{Address, InvalidValue, PhoneNumber, PracticeId, TimeZone};

/// What kind of office a practice is: a general dentist or one of the specialties
/// that receive referrals.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PracticeKind {
    General,
    Endodontics,
    Periodontics,
    OralSurgery,
    Orthodontics,
    PediatricDentistry,
    Prosthodontics,
}

impl PracticeKind {
    /// Every kind, general first.
    pub const ALL: [Self; 7] = [
        Self::General,
        Self::Endodontics,
        Self::Periodontics,
        Self::OralSurgery,
        Self::Orthodontics,
        Self::PediatricDentistry,
        Self::Prosthodontics,
    ];

    /// The stable name used in storage and the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::General => "general",
            Self::Endodontics => "endodontics",
            Self::Periodontics => "periodontics",
            Self::OralSurgery => "oral_surgery",
            Self::Orthodontics => "orthodontics",
            Self::PediatricDentistry => "pediatric_dentistry",
            Self::Prosthodontics => "prosthodontics",
        }
    }

    /// The name a person reads.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::General => "General dentistry",
            Self::Endodontics => "Endodontics",
            Self::Periodontics => "Periodontics",
            Self::OralSurgery => "Oral and maxillofacial surgery",
            Self::Orthodontics => "Orthodontics",
            Self::PediatricDentistry => "Pediatric dentistry",
            Self::Prosthodontics => "Prosthodontics",
        }
    }

    /// Whether practices of this kind receive referrals as specialists.
    #[must_use]
    pub const fn is_specialty(self) -> bool {
        !matches!(self, Self::General)
    }

    /// Parses the stable name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or(InvalidValue::new(
                "practice kind",
                "is not general or a dental specialty",
            ))
    }
}

/// A National Provider Identifier: ten digits, the last a Luhn check digit computed
/// with the `80840` prefix (CMS, "NPI check digit").
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Npi(String);

impl Npi {
    const WHAT: &'static str = "NPI";

    /// Parses an NPI and verifies its check digit.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let npi = raw.trim();
        if npi.len() != 10 || !npi.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidValue::new(Self::WHAT, "must be 10 digits"));
        }
        if !matches!(npi.as_bytes()[0], b'1' | b'2') {
            return Err(InvalidValue::new(Self::WHAT, "must start with 1 or 2"));
        }
        let (base, check) = npi.split_at(9);
        if Self::check_digit(base) != check.as_bytes()[0] - b'0' {
            return Err(InvalidValue::new(Self::WHAT, "check digit does not match"));
        }
        Ok(Self(npi.to_owned()))
    }

    /// Completes a nine-digit base with its check digit (for generated demo data).
    pub fn from_base(base: u32) -> Result<Self, InvalidValue> {
        let base = format!("{base:09}");
        if base.len() != 9 {
            return Err(InvalidValue::new(Self::WHAT, "base must have 9 digits"));
        }
        let check = Self::check_digit(&base);
        Self::parse(&format!("{base}{check}"))
    }

    /// The Luhn check digit of `80840` followed by the nine-digit `base`.
    fn check_digit(base: &str) -> u8 {
        let sum: u32 = "80840"
            .bytes()
            .chain(base.bytes())
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let d = u32::from(b - b'0');
                // Doubling starts with the rightmost digit, since the check digit will follow.
                if i % 2 == 0 {
                    let doubled = d * 2;
                    if doubled > 9 { doubled - 9 } else { doubled }
                } else {
                    d
                }
            })
            .sum();
        u8::try_from((10 - sum % 10) % 10).expect("a digit")
    }

    /// The ten digits.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A practice's name as it presents itself to patients and other offices.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PracticeName(String);

impl PracticeName {
    /// Trims and checks a practice name (1 to 200 characters).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        bounded_text(raw, "practice name", 200).map(Self)
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_conversions!(Npi, PracticeName);
display_as_value!(Npi);

/// A practice to be inserted. Its fields are already parsed; the store assigns
/// nothing but the creation time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPractice {
    pub id: PracticeId,
    pub name: PracticeName,
    pub kind: PracticeKind,
    pub npi: Npi,
    pub address: Address,
    pub phone: PhoneNumber,
    pub fax: Option<PhoneNumber>,
    pub time_zone: TimeZone,
}

/// A practice as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Practice {
    pub id: PracticeId,
    pub name: PracticeName,
    pub kind: PracticeKind,
    pub npi: Npi,
    pub address: Address,
    pub phone: PhoneNumber,
    pub fax: Option<PhoneNumber>,
    pub time_zone: TimeZone,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cms_example_npi_is_valid() {
        // CMS's worked example: base 123456789 has check digit 3.
        assert!(Npi::parse("1234567893").is_ok());
        assert_eq!(Npi::from_base(123_456_789).unwrap().as_str(), "1234567893");
    }

    #[test]
    fn an_npi_with_a_wrong_check_digit_is_rejected() {
        let err = Npi::parse("1234567890").unwrap_err();
        assert_eq!(err.why, "check digit does not match");
    }

    #[test]
    fn an_npi_must_be_ten_digits_starting_with_1_or_2() {
        for bad in ["123456789", "12345678931", "3234567893", "12345a7893", ""] {
            assert!(Npi::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_generated_npi_parses_and_any_single_digit_change_is_caught() {
        for base in (100_000_000_u32..100_002_000).step_by(7) {
            let npi = Npi::from_base(base).unwrap();
            let digits = npi.as_str().as_bytes().to_vec();
            for pos in 1..10 {
                let mut altered = digits.clone();
                altered[pos] = b'0' + (altered[pos] - b'0' + 1) % 10;
                let altered = String::from_utf8(altered).unwrap();
                assert!(Npi::parse(&altered).is_err(), "{altered}");
            }
        }
    }

    #[test]
    fn practice_kinds_round_trip_and_only_general_is_not_a_specialty() {
        for kind in PracticeKind::ALL {
            assert_eq!(PracticeKind::parse(kind.as_str()), Ok(kind));
            assert_eq!(kind.is_specialty(), kind != PracticeKind::General);
        }
        assert!(PracticeKind::parse("cosmetic").is_err());
    }
}
