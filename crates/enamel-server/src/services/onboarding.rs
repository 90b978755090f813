//! Onboarding a practice (docs/onboarding.md): the operator's form, the same from
//! the operator's page, the API and `enamel practice create`, creates the practice
//! and emails its first administrator an invitation through the outbox.

use enamel_crypto::token::SecretToken;
use enamel_domain::{
    Address, DisplayName, Email, NewPractice, NewUser, Npi, PhoneNumber, Practice, PracticeId,
    PracticeKind, PracticeName, Role, TimeZone, UserStatus,
};
use enamel_store::Scoped;
use time::OffsetDateTime;

use super::{FieldError, at};
use crate::ApiError;

/// A new practice and its first administrator, as the operator types them.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct PracticeForm {
    pub name: String,
    /// Its type-2 (organisation) NPI: ten digits with a valid check digit.
    pub npi: String,
    /// `general` or a specialty: `endodontics`, `periodontics`, `oral_surgery`,
    /// `orthodontics`, `pediatric_dentistry`, `prosthodontics`.
    pub specialty: String,
    pub phone: String,
    #[serde(default)]
    pub fax: Option<String>,
    pub address_line1: String,
    #[serde(default)]
    pub address_line2: Option<String>,
    pub city: String,
    /// The two-letter state code.
    pub state: String,
    pub postal_code: String,
    /// An IANA time zone, such as `America/Chicago`.
    pub time_zone: String,
    pub admin_name: String,
    pub admin_email: String,
}

impl PracticeForm {
    /// Each kind of practice (name, label) and whether it is the one typed, for the
    /// form's select.
    #[must_use]
    pub fn specialty_choices(&self) -> Vec<(&'static str, &'static str, bool)> {
        PracticeKind::ALL
            .into_iter()
            .map(|kind| (kind.as_str(), kind.label(), self.specialty == kind.as_str()))
            .collect()
    }

    /// Each time zone and whether it is the one typed, for the form's select.
    #[must_use]
    pub fn zone_choices(&self) -> Vec<(&'static str, bool)> {
        TimeZone::all()
            .map(|zone| (zone.name(), self.time_zone == zone.name()))
            .collect()
    }

    /// The practice and its administrator's account, parsed; the first field that
    /// does not parse is the error, named.
    pub fn parse(&self) -> Result<(NewPractice, NewUser), FieldError> {
        let optional = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let id = PracticeId::generate();
        let practice = NewPractice {
            id,
            name: at("name", PracticeName::parse(&self.name))?,
            kind: at("specialty", PracticeKind::parse(self.specialty.trim()))?,
            npi: at("npi", Npi::parse(self.npi.trim()))?,
            phone: at("phone", PhoneNumber::parse(&self.phone))?,
            fax: at(
                "fax",
                optional(&self.fax)
                    .as_deref()
                    .map(PhoneNumber::parse)
                    .transpose(),
            )?,
            address: self.address()?,
            time_zone: at("time_zone", TimeZone::parse(&self.time_zone))?,
        };
        let admin = NewUser::new(
            Some(id),
            at("admin_email", Email::parse(self.admin_email.trim()))?,
            at("admin_name", DisplayName::parse(&self.admin_name))?,
            Role::PracticeAdmin,
            UserStatus::Invited,
        );
        Ok((practice, at("admin_email", admin)?))
    }

    fn address(&self) -> Result<Address, FieldError> {
        super::address_fields(
            &self.address_line1,
            self.address_line2.as_deref(),
            &self.city,
            &self.state,
            &self.postal_code,
        )
    }
}

/// A practice administrator's account, invited.
fn admin_account(practice: PracticeId, name: &str, email: &str) -> Result<NewUser, ApiError> {
    Ok(NewUser::new(
        Some(practice),
        Email::parse(email.trim())?,
        DisplayName::parse(name)?,
        Role::PracticeAdmin,
        UserStatus::Invited,
    )?)
}

/// Creates the practice `form` describes and emails its administrator's invitation,
/// as the actor of `scoped` (the operator, or the command line's `onboard` task).
pub async fn create_practice(
    scoped: &Scoped<'_>,
    form: &PracticeForm,
    now: OffsetDateTime,
) -> Result<Practice, ApiError> {
    let (practice, admin) = form.parse()?;
    let token = SecretToken::generate("");
    Ok(scoped
        .onboard_practice(&practice, &admin, &token, now)
        .await?)
}

/// Invites an administrator again (the first invitation expired, or went to a wrong
/// address), as long as the practice has no active administrator.
pub async fn invite_admin(
    scoped: &Scoped<'_>,
    practice: PracticeId,
    name: &str,
    email: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let admin = admin_account(practice, name, email)?;
    let token = SecretToken::generate("");
    Ok(scoped.invite_admin(practice, &admin, &token, now).await?)
}

/// Terminates `practice`'s agreement once the operator has typed its exact name back
/// (it cannot be undone: a new agreement must be executed before PHI enters again).
pub async fn terminate(
    scoped: &Scoped<'_>,
    practice: PracticeId,
    confirm_name: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let overview = scoped.practice_overview(practice, now).await?;
    if confirm_name.trim() != overview.practice.name.as_str() {
        return Err(ApiError::Rejected(
            "type the practice's exact name to confirm the termination".into(),
        ));
    }
    Ok(scoped.terminate_agreement(practice, now).await?)
}
