//! User accounts: one per person, belonging to one practice (or to the platform).

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::invalid::{bounded_text, string_conversions};
use crate::{Email, InvalidValue, PracticeId, UserId};

/// What a person does, which decides what they may do.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    PracticeAdmin,
    Dentist,
    Hygienist,
    FrontDesk,
    Billing,
    SecurityOfficer,
    /// Runs the deployment; belongs to no practice and sees no PHI.
    PlatformOperator,
}

impl Role {
    /// Every role, practice roles first.
    pub const ALL: [Self; 7] = [
        Self::PracticeAdmin,
        Self::Dentist,
        Self::Hygienist,
        Self::FrontDesk,
        Self::Billing,
        Self::SecurityOfficer,
        Self::PlatformOperator,
    ];

    /// The stable name used in storage, policies and the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PracticeAdmin => "practice_admin",
            Self::Dentist => "dentist",
            Self::Hygienist => "hygienist",
            Self::FrontDesk => "front_desk",
            Self::Billing => "billing",
            Self::SecurityOfficer => "security_officer",
            Self::PlatformOperator => "platform_operator",
        }
    }

    /// The name a person reads.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::PracticeAdmin => "Practice admin",
            Self::Dentist => "Dentist",
            Self::Hygienist => "Hygienist",
            Self::FrontDesk => "Front desk",
            Self::Billing => "Billing",
            Self::SecurityOfficer => "Security officer",
            Self::PlatformOperator => "Platform operator",
        }
    }

    /// Whether an account with this role belongs to a practice.
    #[must_use]
    pub const fn belongs_to_a_practice(self) -> bool {
        !matches!(self, Self::PlatformOperator)
    }

    /// Parses the stable name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == raw)
            .ok_or(InvalidValue::new("role", "is not a known role"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an account is in its life.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Invited, has not yet set a password.
    Invited,
    Active,
    /// Can no longer sign in; kept for the audit trail.
    Deactivated,
}

impl UserStatus {
    /// The stable name used in storage and the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Active => "active",
            Self::Deactivated => "deactivated",
        }
    }

    /// Parses the stable name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        [Self::Invited, Self::Active, Self::Deactivated]
            .into_iter()
            .find(|status| status.as_str() == raw)
            .ok_or(InvalidValue::new(
                "user status",
                "is not invited, active or deactivated",
            ))
    }
}

/// The name shown for a workforce member.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    /// Trims and checks a display name (1 to 100 characters).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        bounded_text(raw, "display name", 100).map(Self)
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_conversions!(DisplayName);

/// An account to be inserted.
///
/// Built only through [`NewUser::new`], which keeps the rule that practice roles
/// belong to a practice and the platform operator to none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    id: UserId,
    practice: Option<PracticeId>,
    email: Email,
    display_name: DisplayName,
    role: Role,
    status: UserStatus,
}

impl NewUser {
    /// A new account; `practice` must be `Some` exactly when the role belongs to one.
    pub fn new(
        practice: Option<PracticeId>,
        email: Email,
        display_name: DisplayName,
        role: Role,
        status: UserStatus,
    ) -> Result<Self, InvalidValue> {
        if practice.is_some() != role.belongs_to_a_practice() {
            return Err(InvalidValue::new(
                "account",
                "practice roles need a practice and the platform operator has none",
            ));
        }
        Ok(Self {
            id: UserId::generate(),
            practice,
            email,
            display_name,
            role,
            status,
        })
    }

    /// The same account with a given id, for data generated deterministically.
    #[must_use]
    pub const fn with_id(mut self, id: UserId) -> Self {
        self.id = id;
        self
    }

    #[must_use]
    pub const fn id(&self) -> UserId {
        self.id
    }
    #[must_use]
    pub const fn practice(&self) -> Option<PracticeId> {
        self.practice
    }
    #[must_use]
    pub const fn email(&self) -> &Email {
        &self.email
    }
    #[must_use]
    pub const fn display_name(&self) -> &DisplayName {
        &self.display_name
    }
    #[must_use]
    pub const fn role(&self) -> Role {
        self.role
    }
    #[must_use]
    pub const fn status(&self) -> UserStatus {
        self.status
    }
}

/// An account as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: UserId,
    pub practice: Option<PracticeId>,
    pub email: Email,
    pub display_name: DisplayName,
    pub role: Role,
    pub status: UserStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("dr.demo@example.test").unwrap()
    }
    fn name() -> DisplayName {
        DisplayName::parse("Dr. Demo").unwrap()
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
    }

    #[test]
    fn a_practice_role_without_a_practice_is_refused() {
        let err = NewUser::new(None, email(), name(), Role::Dentist, UserStatus::Active);
        assert!(err.is_err());
    }

    #[test]
    fn a_platform_operator_inside_a_practice_is_refused() {
        let practice = Some(PracticeId::generate());
        let err = NewUser::new(
            practice,
            email(),
            name(),
            Role::PlatformOperator,
            UserStatus::Active,
        );
        assert!(err.is_err());
    }

    #[test]
    fn a_well_formed_account_keeps_its_fields() {
        let practice = PracticeId::generate();
        let user = NewUser::new(
            Some(practice),
            email(),
            name(),
            Role::FrontDesk,
            UserStatus::Invited,
        )
        .unwrap();
        assert_eq!(user.practice(), Some(practice));
        assert_eq!(user.role(), Role::FrontDesk);
    }
}
