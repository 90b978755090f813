//! `Phi<T>`: protected health information, redacted wherever it could leak.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What `Debug` and `Display` print in place of a PHI value.
pub const REDACTED: &str = "[REDACTED PHI]";

/// A value that is protected health information.
///
/// `Debug` and `Display` print [`REDACTED`], so a `Phi` that reaches a log line, an
/// error message or a panic shows nothing. It does not implement `Serialize`: putting
/// PHI into a response or payload takes the explicit
/// `#[serde(serialize_with = "Phi::serialize_exposed")]`, and reading the value takes
/// [`Phi::expose`], both easy to find in review with grep.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Phi<T>(T);

impl<T> Phi<T> {
    /// Marks `value` as PHI.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The value inside. Every call is a place where PHI is handled on purpose.
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// Takes the value out. Every call is a place where PHI is handled on purpose.
    pub fn into_exposed(self) -> T {
        self.0
    }

    /// Transforms the value without letting it out of its wrapper.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Phi<U> {
        Phi(f(self.0))
    }

    /// Serializes the value itself, for a payload whose purpose is to carry it.
    /// Use as `#[serde(serialize_with = "Phi::serialize_exposed")]`.
    pub fn serialize_exposed<S: Serializer>(phi: &Self, serializer: S) -> Result<S::Ok, S::Error>
    where
        T: Serialize,
    {
        phi.0.serialize(serializer)
    }
}

impl<T> fmt::Debug for Phi<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Phi<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// PHI arrives in requests; taking it in is safe, so deserializing is implicit.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Phi<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let name = Phi::new(String::from("Ada Testwell"));
        assert_eq!(format!("{name:?}"), REDACTED);
        assert_eq!(format!("{name}"), REDACTED);
        assert_eq!(format!("{:?}", Some(&name)), format!("Some({REDACTED})"));
    }

    #[test]
    fn a_struct_holding_phi_debug_prints_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Patient {
            id: u32,
            phone: Phi<String>,
        }
        let patient = Patient {
            id: 7,
            phone: Phi::new("+12025550142".into()),
        };
        let printed = format!("{patient:?}");
        assert!(!printed.contains("5550142"), "{printed}");
        assert!(printed.contains("id: 7"));
    }

    #[test]
    fn serializing_takes_the_explicit_attribute() {
        #[derive(Serialize)]
        struct Payload {
            #[serde(serialize_with = "Phi::serialize_exposed")]
            phone: Phi<String>,
        }
        let json = serde_json::to_string(&Payload {
            phone: Phi::new("+12025550142".into()),
        });
        assert_eq!(json.unwrap(), r#"{"phone":"+12025550142"}"#);
    }

    #[test]
    fn deserializing_wraps_the_value() {
        let phi: Phi<String> = serde_json::from_str(r#""1987-03-14""#).unwrap();
        assert_eq!(phi.expose(), "1987-03-14");
    }
}
