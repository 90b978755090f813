//! The JSON bodies the referral network API answers with, one
//! struct per body so the OpenAPI document describes each. PHI members (names, birth
//! dates, contact details, clinical words) are plain strings, as the API has always
//! sent them; none of these types derives `Debug`, so none can be logged by accident.

use serde::Serialize;

mod directory;
mod patients;
mod practices;
mod referrals;
mod vendors;

pub(crate) use directory::*;
pub(crate) use patients::*;
pub(crate) use practices::*;
pub(crate) use referrals::*;
pub(crate) use vendors::*;

/// The id of what the operation created or wrote, and nothing else.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ResourceId {
    pub(crate) id: String,
}
