//! Clinical values a referral carries: CDT procedure codes, tooth numbers and urgency.

use serde::{Deserialize, Serialize};

use crate::InvalidValue;
use crate::invalid::{display_as_value, string_conversions};

/// A CDT procedure code: `D` and four digits (`D3330`, root canal on a molar).
///
/// The code set is the ADA's and is licensed, so Enamel checks the form and the
/// category ranges (D0100 to D9999), not membership in a copy of the list.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CdtCode(String);

impl CdtCode {
    /// Parses a code, accepting a lower-case `d` and surrounding spaces.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let code = raw.trim().to_ascii_uppercase();
        let digits = code.strip_prefix('D').unwrap_or_default();
        let well_formed = digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit());
        if !well_formed {
            return Err(InvalidValue::new(
                "CDT code",
                "must be D followed by four digits",
            ));
        }
        if digits < "0100" {
            return Err(InvalidValue::new("CDT code", "is below the CDT ranges"));
        }
        Ok(Self(code))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_conversions!(CdtCode);
display_as_value!(CdtCode);

/// A tooth in the Universal Numbering System: permanent teeth 1 to 32, primary
/// teeth A to T.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Tooth {
    Permanent(u8),
    Primary(char),
}

impl Tooth {
    /// Parses `1`-`32` or `A`-`T` (either case); anything else, including FDI
    /// two-digit numbers such as `46`, is refused.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let text = raw.trim();
        if let Ok(number) = text.parse::<u8>() {
            if (1..=32).contains(&number) && !text.starts_with('0') {
                return Ok(Self::Permanent(number));
            }
            return Err(InvalidValue::new(
                "tooth number",
                "permanent teeth are 1 to 32 (Universal numbering)",
            ));
        }
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(letter), None) if ('A'..='T').contains(&letter.to_ascii_uppercase()) => {
                Ok(Self::Primary(letter.to_ascii_uppercase()))
            }
            _ => Err(InvalidValue::new(
                "tooth number",
                "must be 1 to 32 or A to T (Universal numbering)",
            )),
        }
    }
}

impl std::fmt::Display for Tooth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Permanent(number) => write!(f, "{number}"),
            Self::Primary(letter) => write!(f, "{letter}"),
        }
    }
}

impl std::fmt::Debug for Tooth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tooth({self})")
    }
}

impl TryFrom<String> for Tooth {
    type Error = InvalidValue;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Tooth> for String {
    fn from(tooth: Tooth) -> Self {
        tooth.to_string()
    }
}

/// How soon the specialist should see the patient.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Routine,
    Soon,
    Urgent,
}

impl Urgency {
    pub const ALL: [Self; 3] = [Self::Routine, Self::Soon, Self::Urgent];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Routine => "routine",
            Self::Soon => "soon",
            Self::Urgent => "urgent",
        }
    }

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Routine => "Routine",
            Self::Soon => "Soon",
            Self::Urgent => "Urgent",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|u| u.as_str() == raw.trim())
            .ok_or(InvalidValue::new(
                "urgency",
                "must be routine, soon or urgent",
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdt_codes_are_d_and_four_digits() {
        assert_eq!(CdtCode::parse(" d3330 ").unwrap().as_str(), "D3330");
        for bad in ["3330", "D333", "D33300", "X3330", "D33a0", "D0099", ""] {
            assert!(CdtCode::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn universal_numbering_takes_1_to_32_and_a_to_t() {
        assert_eq!(Tooth::parse("1"), Ok(Tooth::Permanent(1)));
        assert_eq!(Tooth::parse("32"), Ok(Tooth::Permanent(32)));
        assert_eq!(Tooth::parse("t"), Ok(Tooth::Primary('T')));
        for bad in ["0", "33", "46", "01", "U", "AB", "", "-3", "3.5"] {
            assert!(Tooth::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn tooth_errors_do_not_echo_the_input() {
        let err = Tooth::parse("99").unwrap_err().to_string();
        assert!(!err.contains("99"));
    }

    #[test]
    fn teeth_round_trip_through_json() {
        let json = serde_json::to_string(&[Tooth::Permanent(19), Tooth::Primary('K')]).unwrap();
        assert_eq!(json, r#"["19","K"]"#);
        let back: Vec<Tooth> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, [Tooth::Permanent(19), Tooth::Primary('K')]);
    }
}
