//! Typed identifiers: a function that takes a `PracticeId` cannot be handed a `UserId`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::InvalidValue;

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh id. UUIDv7: time-ordered, so new rows land at the end of indexes.
            #[must_use]
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps a UUID read from storage or built deterministically (demo data).
            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside, for storage.
            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                parse_uuid(raw)
                    .map(Self)
                    .ok_or_else(|| InvalidValue::new($what, "is not a UUID"))
            }
        }
    };
}

/// A UUID in its one accepted spelling: hyphenated lower-case, as Enamel writes
/// every id. Braces, `urn:uuid:`, upper case and the unhyphenated form are refused,
/// so that one resource has one URL (and one cache key, one audit spelling).
#[must_use]
pub fn parse_uuid(raw: &str) -> Option<Uuid> {
    let id = Uuid::try_parse(raw).ok()?;
    let mut buffer = Uuid::encode_buffer();
    (id.hyphenated().encode_lower(&mut buffer) == raw).then_some(id)
}

typed_id!(
    /// Identifies a practice (a dental office): the tenant boundary.
    PracticeId,
    "practice id"
);
typed_id!(
    /// Identifies a user account of a practice or of the platform.
    UserId,
    "user id"
);
typed_id!(
    /// Identifies an agent service account of a practice.
    AgentId,
    "agent id"
);
typed_id!(
    /// Identifies a patient of a practice.
    PatientId,
    "patient id"
);
typed_id!(
    /// Identifies a referral between two practices.
    ReferralId,
    "referral id"
);
typed_id!(
    /// Identifies a file attached to a referral.
    AttachmentId,
    "attachment id"
);
typed_id!(
    /// Identifies a vendor in a practice's BAA registry.
    VendorId,
    "vendor id"
);

typed_id!(
    /// Identifies a provider (dentist or hygienist) on a practice's schedule.
    ProviderId,
    "provider id"
);

typed_id!(
    /// Identifies an operatory (a chair) of a practice.
    OperatoryId,
    "operatory id"
);

typed_id!(
    /// Identifies a kind of appointment of a practice.
    AppointmentTypeId,
    "appointment type id"
);

typed_id!(
    /// Identifies an appointment on a practice's schedule.
    AppointmentId,
    "appointment id"
);

typed_id!(
    /// Identifies a patient's place on a practice's waitlist.
    WaitlistEntryId,
    "waitlist entry id"
);

typed_id!(
    /// Identifies a kind of recall (prophy, perio maintenance, bitewings).
    RecallTypeId,
    "recall type id"
);

typed_id!(
    /// Identifies a patient's recall of one type.
    RecallId,
    "recall id"
);

typed_id!(
    /// Identifies a patient's insurance coverage.
    CoverageId,
    "coverage id"
);
typed_id!(
    /// Identifies a no-show recovery run: one open slot being offered.
    RecoveryRunId,
    "recovery run id"
);
typed_id!(
    /// Identifies one offer of an open slot to one waitlist patient.
    OfferId,
    "offer id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = PracticeId::generate();
        assert_eq!(id.to_string().parse::<PracticeId>(), Ok(id));
    }

    #[test]
    fn a_malformed_id_is_rejected_without_echoing_it() {
        let err = "not-a-uuid".parse::<UserId>().unwrap_err();
        assert_eq!(err.to_string(), "invalid user id: is not a UUID");
    }

    #[test]
    fn generated_ids_are_time_ordered() {
        let first = UserId::generate();
        let second = UserId::generate();
        assert!(first < second);
    }
}

#[cfg(test)]
mod spelling_tests {
    use super::*;

    #[test]
    fn an_id_has_one_spelling() {
        let canonical = "0192f0c1-7a2b-7c3d-8e4f-0123456789ab";
        assert!(parse_uuid(canonical).is_some());
        assert!(canonical.parse::<PatientId>().is_ok());
        for other in [
            "0192F0C1-7A2B-7C3D-8E4F-0123456789AB",
            "0192f0c17a2b7c3d8e4f0123456789ab",
            "{0192f0c1-7a2b-7c3d-8e4f-0123456789ab}",
            "urn:uuid:0192f0c1-7a2b-7c3d-8e4f-0123456789ab",
            " 0192f0c1-7a2b-7c3d-8e4f-0123456789ab",
        ] {
            assert!(parse_uuid(other).is_none(), "{other}");
            assert!(other.parse::<PatientId>().is_err(), "{other}");
        }
    }
}
