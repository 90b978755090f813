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
pub mod onboarding;
pub(crate) mod patients;
pub(crate) mod portal_links;
pub(crate) mod referrals;
pub(crate) mod sessions;
