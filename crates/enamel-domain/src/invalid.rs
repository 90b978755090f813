//! The one error a parser returns.

/// A value that failed its rules.
///
/// It names the kind of value and the rule it broke, and never the input itself:
/// the input may be PHI, and this error travels into logs and HTTP responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {why}")]
pub struct InvalidValue {
    /// The kind of value, as a user would name it ("NPI", "phone number").
    pub what: &'static str,
    /// The rule it broke, without echoing the value.
    pub why: &'static str,
}

impl InvalidValue {
    /// A new error for a `what` that broke a rule `why`.
    #[must_use]
    pub const fn new(what: &'static str, why: &'static str) -> Self {
        Self { what, why }
    }
}

/// Trims `raw` and checks it is non-empty and at most `max` characters.
pub(crate) fn bounded_text(
    raw: &str,
    what: &'static str,
    max: usize,
) -> Result<String, InvalidValue> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(InvalidValue::new(what, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(InvalidValue::new(what, "is too long"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(InvalidValue::new(
            what,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// The conversions every string-backed value type shares: `TryFrom<String>` through
/// its `parse`, and `From<T> for String` to store or send it.
macro_rules! string_conversions {
    ($($ty:ident),+ $(,)?) => {$(
        impl TryFrom<String> for $ty {
            type Error = $crate::InvalidValue;
            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(&raw)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> Self {
                value.0.into()
            }
        }
    )+};
}
pub(crate) use string_conversions;

/// `Display` as the value itself and `Debug` as `Type(value)`, for value types that
/// are not PHI (PHI is wrapped in `Phi<T>`, which redacts).
macro_rules! display_as_value {
    ($($ty:ident),+ $(,)?) => {$(
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($ty), "({})"), self.0)
            }
        }
    )+};
}
pub(crate) use display_as_value;
