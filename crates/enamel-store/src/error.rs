//! What the store's callers can act on.

use enamel_domain::InvalidValue;

/// An error from the store.
///
/// Messages name what went wrong in general terms; they never carry stored values,
/// which may be PHI, nor the database URL, which may carry a password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names a backend Enamel does not speak.
    #[error("unsupported database URL: expected sqlite:// or postgres://")]
    UnsupportedUrl,
    /// The row does not exist, or belongs to another practice: the two look the same.
    #[error("not found")]
    NotFound,
    /// The policy decision point refused the action (on a resource of the actor's
    /// own practice; another practice's is [`StoreError::NotFound`]).
    #[error("not allowed")]
    Denied,
    /// The write conflicts with an existing row (a unique value is taken).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A patient with the same name and birth date is already in the practice.
    #[error("a patient with this name and birth date already exists")]
    DuplicatePatient(enamel_domain::PatientId),
    /// The step is not allowed from where the referral stands, or not for this side.
    #[error(transparent)]
    IllegalStep(#[from] enamel_domain::IllegalStep),
    /// The request is well-formed but the data does not allow it (a referral to the
    /// practice itself, a vendor without a BAA): the message says what to fix.
    #[error("{0}")]
    Refused(&'static str),
    /// The practice has no executed, unexpired BAA with this vendor, so no PHI may
    /// go to it (the refusal is audited).
    #[error(
        "{0} has no executed BAA with your practice; your security officer can record it \
         on the Vendors page"
    )]
    NoBaa(enamel_domain::VendorName),
    /// The practice (or the other office of a referral) has not executed the
    /// operator's business associate agreement, so no PHI may enter it (audited).
    #[error(
        "{0} has not executed Enamel's business associate agreement yet, so no patient \
         information can be added; the practice administrator executes it on the \
         Agreement page (/practice/agreement)"
    )]
    AgreementRequired(&'static str),
    /// The practice's keys were destroyed (crypto-shredding): its data is gone.
    #[error("this practice's data has been destroyed")]
    Shredded,
    /// An encrypted value did not open: altered, moved to another row, or its key
    /// is missing.
    #[error("stored data failed decryption")]
    Crypto(#[source] enamel_crypto::CryptoError),
    /// A value given to the store broke a rule that spans fields (a notification
    /// channel with nowhere to go); it names the value, never shows it.
    #[error(transparent)]
    Invalid(InvalidValue),
    /// A stored value no longer parses: the database was changed outside Enamel.
    #[error("stored data is invalid")]
    Corrupt(#[source] InvalidValue),
    /// Anything else: the database is unreachable, a query failed.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Whether `err` is a unique-constraint violation, which callers turn into a
/// [`StoreError::Conflict`] naming the value that is taken.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Turns a failed write into [`StoreError::Conflict`] with `taken` when a unique
/// value was taken, or into an unexpected error with `context` otherwise.
pub(crate) fn conflict_if_taken(
    err: anyhow::Error,
    taken: &'static str,
    context: &'static str,
) -> StoreError {
    if err
        .downcast_ref::<sqlx::Error>()
        .is_some_and(is_unique_violation)
    {
        StoreError::Conflict(taken)
    } else {
        err.context(context).into()
    }
}
