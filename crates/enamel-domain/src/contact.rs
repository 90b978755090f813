//! Ways to reach a person or an office: phone numbers and email addresses.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::InvalidValue;
use crate::invalid::{display_as_value, string_conversions};

/// A North American (NANP) phone number, held in E.164 form (`+1NXXNXXXXXX`).
///
/// Parsing accepts the ways people write US numbers (`(202) 555-0142`,
/// `202.555.0142`, `+1 202 555 0142`, `1-202-555-0142`) and rejects area codes or
/// exchanges that cannot exist (starting with 0 or 1).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    const WHAT: &'static str = "phone number";

    /// Parses a US phone number written in any common format.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let mut digits = String::with_capacity(11);
        for c in raw.trim().chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' | '+' => {}
                _ => {
                    return Err(InvalidValue::new(
                        Self::WHAT,
                        "has characters other than digits",
                    ));
                }
            }
        }
        let national = match digits.len() {
            10 => digits.as_str(),
            11 if digits.starts_with('1') => &digits[1..],
            _ => return Err(InvalidValue::new(Self::WHAT, "must have 10 digits")),
        };
        let bytes = national.as_bytes();
        if bytes[0] < b'2' {
            return Err(InvalidValue::new(
                Self::WHAT,
                "area code cannot start with 0 or 1",
            ));
        }
        if bytes[3] < b'2' {
            return Err(InvalidValue::new(
                Self::WHAT,
                "exchange cannot start with 0 or 1",
            ));
        }
        Ok(Self(format!("+1{national}")))
    }

    /// The number in E.164 form, as SMS and fax APIs take it.
    #[must_use]
    pub fn e164(&self) -> &str {
        &self.0
    }

    /// The number as US readers write it: `(202) 555-0142`.
    #[must_use]
    pub fn national(&self) -> String {
        let n = &self.0[2..];
        format!("({}) {}-{}", &n[..3], &n[3..6], &n[6..])
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.national())
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.0)
    }
}

/// An email address, trimmed and lower-cased so that equal addresses compare equal.
///
/// The check is deliberately modest (one `@`, a dotted domain, no spaces, at most 254
/// characters): deliverability is proven by sending, not by a pattern.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    const WHAT: &'static str = "email address";

    /// Parses and normalizes an email address.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let email = raw.trim().to_lowercase();
        if email.len() > 254 {
            return Err(InvalidValue::new(Self::WHAT, "is too long"));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidValue::new(Self::WHAT, "must not contain spaces"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(InvalidValue::new(Self::WHAT, "must contain @"));
        };
        if local.is_empty() || domain.contains('@') {
            return Err(InvalidValue::new(
                Self::WHAT,
                "must have one @ after a name",
            ));
        }
        let labels_ok = domain.split('.').all(|label| !label.is_empty());
        if !domain.contains('.') || !labels_ok {
            return Err(InvalidValue::new(
                Self::WHAT,
                "must have a domain like example.com",
            ));
        }
        Ok(Self(email))
    }

    /// The normalized address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_conversions!(PhoneNumber, Email);
display_as_value!(Email);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_us_formats_normalize_to_e164() {
        for raw in [
            "(202) 555-0142",
            "202-555-0142",
            "202.555.0142",
            "+1 202 555 0142",
            "1-202-555-0142",
            "2025550142",
        ] {
            assert_eq!(
                PhoneNumber::parse(raw).unwrap().e164(),
                "+12025550142",
                "{raw}"
            );
        }
    }

    #[test]
    fn impossible_phone_numbers_are_rejected() {
        for raw in [
            "555-0142",
            "(102) 555-0142",
            "(202) 155-0142",
            "+44 20 7946 0958",
            "202-555-O142",
            "",
        ] {
            assert!(PhoneNumber::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn phone_prints_in_national_form() {
        assert_eq!(
            PhoneNumber::parse("2025550142").unwrap().to_string(),
            "(202) 555-0142"
        );
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        let email = Email::parse("  Front.Desk@Example.TEST ").unwrap();
        assert_eq!(email.as_str(), "front.desk@example.test");
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for raw in [
            "",
            "no-at-sign",
            "@example.test",
            "a@b",
            "a@@example.test",
            "a b@example.test",
            "a@example..test",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw}");
        }
    }
}
