//! Blind indexes: equality search on PHI without storing it in the clear.
//!
//! An index is HMAC-SHA256 under the practice's index key (separate from its data
//! keys) over a kind tag and the normalized value. Equal values give equal indexes
//! within a practice; across practices, and to anyone without the key, they reveal
//! nothing, unlike a plain hash, which a dictionary of phone numbers reverses.
//!
//! Normalization, so that the ways people type a value meet:
//! - phone: E.164 (`PhoneNumber::parse` accepts the common US formats);
//! - email: trimmed and lower-cased (`Email::parse`);
//! - name + birth date: each name Unicode-lower-cased, trimmed, inner runs of
//!   whitespace collapsed to one space, and `.`, `,` removed; then
//!   `last \x1f first \x1f YYYY-MM-DD`.

use std::fmt;

use aws_lc_rs::hmac;
use enamel_domain::{Email, PhoneNumber, PracticeId};
use time::Date;

use crate::keys::KeyMaterial;

/// A practice's blind-index key.
pub struct IndexKey {
    practice: PracticeId,
    key: hmac::Key,
}

impl fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IndexKey(practice {})", self.practice)
    }
}

/// A 32-byte blind index, stored in a plain indexed column.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlindIndex([u8; 32]);

impl BlindIndex {
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindIndex(..)")
    }
}

impl IndexKey {
    #[must_use]
    pub fn new(practice: PracticeId, material: &KeyMaterial) -> Self {
        Self {
            practice,
            key: hmac::Key::new(hmac::HMAC_SHA256, material.expose()),
        }
    }

    #[must_use]
    pub const fn practice(&self) -> PracticeId {
        self.practice
    }

    fn index(&self, kind: &str, normalized: &str) -> BlindIndex {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(kind.as_bytes());
        context.update(&[0]);
        context.update(normalized.as_bytes());
        BlindIndex(
            context
                .sign()
                .as_ref()
                .try_into()
                .expect("HMAC-SHA256 is 32 bytes"),
        )
    }

    /// The index of a phone number (already E.164 by parsing).
    #[must_use]
    pub fn phone(&self, phone: &PhoneNumber) -> BlindIndex {
        self.index("phone", phone.e164())
    }

    /// The index of an email address (already trimmed and lower-cased by parsing).
    #[must_use]
    pub fn email(&self, email: &Email) -> BlindIndex {
        self.index("email", email.as_str())
    }

    /// The index of a last name alone, for searching a practice's patients by name.
    #[must_use]
    pub fn last_name(&self, last: &str) -> BlindIndex {
        self.index("last_name", &normalize_name(last))
    }

    /// The index of a person's name with their birth date, for duplicate detection.
    #[must_use]
    pub fn name_birth_date(&self, first: &str, last: &str, birth_date: Date) -> BlindIndex {
        let value = format!(
            "{}\x1f{}\x1f{birth_date}",
            normalize_name(last),
            normalize_name(first)
        );
        self.index("name_dob", &value)
    }
}

impl IndexKey {
    /// The index of a record's number in the practice's PMS (`kind` is the table:
    /// `patient`, `appointment` …). A patient's number is a record number, an
    /// identifier in HIPAA's sense, so it is found by this keyed hash, never stored
    /// in the clear.
    #[must_use]
    pub fn pms_record(&self, kind: &str, id: &str) -> BlindIndex {
        self.index(&format!("pms:{kind}"), id)
    }

    /// A keyed hash of an identifier for an audit entry (seed 000's `hashRecipient`,
    /// `hashEmail`): hex HMAC-SHA256 under this key, separated by `kind` from the
    /// search indexes. Someone holding the value can confirm it through Enamel; the
    /// log and its exports never hold the value itself.
    #[must_use]
    pub fn audit_hash(&self, kind: &str, value: &str) -> String {
        let index = self.index(&format!("audit:{kind}"), value);
        index
            .0
            .iter()
            .fold(String::with_capacity(64), |mut hex, b| {
                use std::fmt::Write as _;
                let _ = write!(hex, "{b:02x}");
                hex
            })
    }
}

/// Lower-cases, drops `.` and `,`, trims and collapses whitespace.
#[must_use]
pub fn normalize_name(name: &str) -> String {
    let cleaned: String = name.chars().filter(|c| !matches!(c, '.' | ',')).collect();
    cleaned
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn key() -> IndexKey {
        IndexKey::new(PracticeId::generate(), &KeyMaterial::generate())
    }

    #[test]
    fn phone_formats_meet_on_one_index() {
        let key = key();
        let a = key.phone(&PhoneNumber::parse("(214) 555-0142").unwrap());
        let b = key.phone(&PhoneNumber::parse("+1 214.555.0142").unwrap());
        assert_eq!(a, b);
        assert_ne!(a, key.phone(&PhoneNumber::parse("214-555-0143").unwrap()));
    }

    #[test]
    fn email_case_and_spaces_meet_on_one_index() {
        let key = key();
        assert_eq!(
            key.email(&Email::parse(" Ada.Testwell@Example.TEST").unwrap()),
            key.email(&Email::parse("ada.testwell@example.test").unwrap())
        );
    }

    #[test]
    fn names_normalize_case_spacing_and_punctuation() {
        assert_eq!(normalize_name("  Mary   Ann "), "mary ann");
        assert_eq!(normalize_name("O'Brien, Jr."), "o'brien jr");
        assert_eq!(normalize_name("ÉLODIE"), "élodie");
        let key = key();
        let dob = date!(1987 - 03 - 14);
        assert_eq!(
            key.name_birth_date("Ada", "Testwell", dob),
            key.name_birth_date(" ada ", "TESTWELL", dob)
        );
        assert_ne!(
            key.name_birth_date("Ada", "Testwell", dob),
            key.name_birth_date("Ada", "Testwell", date!(1987 - 03 - 15))
        );
        // First and last name are not interchangeable.
        assert_ne!(
            key.name_birth_date("Ada", "Testwell", dob),
            key.name_birth_date("Testwell", "Ada", dob)
        );
    }

    #[test]
    fn another_practice_gets_another_index_for_the_same_value() {
        let phone = PhoneNumber::parse("214-555-0142").unwrap();
        assert_ne!(key().phone(&phone), key().phone(&phone));
    }

    #[test]
    fn kinds_are_separated() {
        let key = key();
        assert_ne!(key.index("phone", "x"), key.index("email", "x"));
    }
}
