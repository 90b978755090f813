//! Operations that the API and the pages both perform, so that a JSON call and a form
//! do the same thing: each takes the application's state and the authenticated actor,
//! goes through the actor-scoped store, and returns domain values or an `ApiError`.
//! Handlers parse, call one of these (or the store directly, for a single call), and
//! render.

pub(crate) mod access_review;
pub(crate) mod agreements;
pub mod attachments;
pub(crate) mod break_glass;
pub(crate) mod dead_letters;
pub(crate) mod directory;
pub mod handover;
pub mod import;
pub(crate) mod invitations;
pub(crate) mod letters;
pub(crate) mod office_settings;
pub mod onboarding;
pub(crate) mod opendental;
pub(crate) mod patients;
pub(crate) mod portal_links;
pub(crate) mod recovery;
pub(crate) mod referrals;
pub(crate) mod schedule;
pub(crate) mod sessions;

/// A value of a form that did not parse, and the form's field it came from, so a
/// page can show the message beside that field.
#[derive(Debug)]
pub struct FieldError {
    /// The form field's name (`npi`, `fax`, `admin_email`, ...).
    pub field: &'static str,
    pub error: enamel_domain::InvalidValue,
}

impl FieldError {
    pub(crate) const fn of(field: &'static str, error: enamel_domain::InvalidValue) -> Self {
        Self { field, error }
    }
}

impl From<FieldError> for crate::ApiError {
    fn from(err: FieldError) -> Self {
        Self::InvalidInput(err.error)
    }
}

/// Tags a parse's error with its field.
pub(crate) fn at<T>(
    field: &'static str,
    parsed: Result<T, enamel_domain::InvalidValue>,
) -> Result<T, FieldError> {
    parsed.map_err(|error| FieldError { field, error })
}

/// An address typed into a form (a blank second line is none); a mistake names the
/// form field it came from.
pub(crate) fn address_fields(
    line1: &str,
    line2: Option<&str>,
    city: &str,
    state: &str,
    postal_code: &str,
) -> Result<enamel_domain::Address, FieldError> {
    let line2 = line2.map(str::trim).filter(|line| !line.is_empty());
    enamel_domain::Address::parse(line1, line2, city, state.trim(), postal_code.trim()).map_err(
        |error| FieldError {
            field: match error.what {
                "city" => "city",
                "US state" => "state",
                "ZIP code" => "postal_code",
                "street address line 2" => "address_line2",
                _ => "address_line1",
            },
            error,
        },
    )
}
