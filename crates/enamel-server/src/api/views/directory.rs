//! Directory listings as the API shows them.

use enamel_domain::PracticeKind;
use enamel_store::Listing;
use serde::Serialize;

/// Listed offices matching a directory search: offices, never patients.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DirectoryListings {
    pub(crate) practices: Vec<DirectoryListing>,
}

/// An office as the directory shows it: public details only.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DirectoryListing {
    id: String,
    name: String,
    /// `general` or a specialty, e.g. `endodontics`.
    #[schema(value_type = String)]
    kind: PracticeKind,
    city: String,
    state: String,
    phone: String,
    /// Kilometres from the searching office, when both offices have set where they are.
    distance_km: Option<f64>,
    /// As the office writes them, if it has.
    office_hours: Option<String>,
}

impl From<Listing> for DirectoryListing {
    fn from(listing: Listing) -> Self {
        Self {
            id: listing.id.to_string(),
            name: listing.name,
            kind: listing.kind,
            city: listing.city,
            state: listing.state,
            phone: listing.phone,
            distance_km: listing.distance_km,
            office_hours: listing.office_hours,
        }
    }
}
