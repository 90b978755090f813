//! Vendors: the outside services Enamel sends data to, named for the BAA registry.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::InvalidValue;
use crate::invalid::{display_as_value, string_conversions};

/// A vendor's stable name: lower-case letters, digits and `-`, 1 to 40 characters
/// (`twilio`, `srfax`, `open-dental`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VendorName(String);

impl VendorName {
    /// Parses a vendor name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let name = raw.trim();
        let ok = (1..=40).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(InvalidValue::new(
                "vendor name",
                "must be 1-40 lower-case letters, digits or -",
            ))
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_conversions!(VendorName);
display_as_value!(VendorName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_names_are_slugs() {
        assert_eq!(
            VendorName::parse("open-dental").unwrap().as_str(),
            "open-dental"
        );
        for bad in ["", "Twilio", "sr fax", "-x", "a/b"] {
            assert!(VendorName::parse(bad).is_err(), "{bad}");
        }
    }
}

/// Where a business associate agreement stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaaStatus {
    None,
    Pending,
    Executed,
    Terminated,
}

impl BaaStatus {
    pub const ALL: [Self; 4] = [Self::None, Self::Pending, Self::Executed, Self::Terminated];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pending => "pending",
            Self::Executed => "executed",
            Self::Terminated => "terminated",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw.trim())
            .ok_or(InvalidValue::new(
                "BAA status",
                "must be none, pending, executed or terminated",
            ))
    }
}

impl BaaStatus {
    /// Whether an agreement in this state, ending on `expires_on` (if ever), lets
    /// PHI go to the vendor on `today`: executed and not expired. The one rule of
    /// the BAA gate.
    #[must_use]
    pub fn may_receive_phi(self, expires_on: Option<Date>, today: Date) -> bool {
        self == Self::Executed && expires_on.is_none_or(|end| end >= today)
    }
}
