//! Operations that the API and the pages both perform, so that a JSON call and a form
//! do the same thing: each takes the application's state and the authenticated actor,
//! goes through the actor-scoped store, and returns domain values or an `ApiError`.
//! Handlers parse, call one of these (or the store directly, for a single call), and
//! render.

pub(crate) mod access_review;
pub(crate) mod agreements;
pub(crate) mod attachments;
pub(crate) mod break_glass;
pub(crate) mod dead_letters;
pub(crate) mod directory;
pub(crate) mod invitations;
pub(crate) mod letters;
pub(crate) mod office_settings;
pub mod onboarding;
pub(crate) mod patients;
pub(crate) mod portal_links;
pub(crate) mod referrals;
pub(crate) mod sessions;

/// A value of a form that did not parse, and the form's field it came from, so a
/// page can show the message beside that field.
#[derive(Debug)]
pub struct FieldError {
    /// The form field's name (`npi`, `fax`, `admin_email`, ...).
    pub field: &'static str,
    pub error: enamel_domain::InvalidValue,
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
