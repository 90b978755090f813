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
