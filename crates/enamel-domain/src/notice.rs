//! How a notice travels to an office or a patient.

use serde::{Deserialize, Serialize};

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Fax,
}

impl Channel {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Fax => "fax",
        }
    }

    /// Parses [`Channel::as_str`].
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Email, Self::Sms, Self::Fax]
            .into_iter()
            .find(|c| c.as_str() == raw)
    }
}
