//! The directory of practices: searching it, listing your own office, and inviting an
//! office that is not on Enamel.

use axum::extract::State;
use enamel_domain::{Email, PracticeKind};
use enamel_store::DirectoryQuery;
use serde::Deserialize;

use super::views::{DirectoryListing, DirectoryListings, ResourceId};
use crate::auth::Authenticated;
use crate::http::extract::{Json, Query};
use crate::services::directory::within_km;
use crate::{ApiError, AppState};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DirectorySearch {
    specialty: Option<String>,
    name: Option<String>,
    city: Option<String>,
    /// Only offices within this many kilometres of yours, nearest first (your office
    /// must have set its location).
    within_km: Option<f64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/directory",
    tag = "directory",
    summary = "Search listed practices by specialty, name and city",
    params(DirectorySearch),
    responses(
        (status = 200, description = "Listings", body = DirectoryListings),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A search by distance before your office has set its location", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn directory(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(search): Query<DirectorySearch>,
) -> Result<Json<DirectoryListings>, ApiError> {
    let query = DirectoryQuery {
        kind: search
            .specialty
            .filter(|s| !s.is_empty())
            .map(|s| PracticeKind::parse(&s))
            .transpose()?,
        name: search.name,
        city: search.city,
        within_km: search.within_km.map(within_km).transpose()?,
    };
    let listings = auth.scoped(&state.store).directory(&query).await?;
    Ok(Json(DirectoryListings {
        practices: listings.into_iter().map(DirectoryListing::from).collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Listing {
    listed: bool,
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[utoipa::path(
    put,
    path = "/api/v1/practice/listing",
    tag = "directory",
    summary = "List or unlist your office in the directory, and say where it is (for distance search)",
    request_body = Listing,
    responses(
        (status = 204, description = "Saved"),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn set_listing(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(input): Json<Listing>,
) -> Result<axum::http::StatusCode, ApiError> {
    let location = match (input.latitude, input.longitude) {
        (Some(lat), Some(lon)) => Some(enamel_domain::GeoPoint::new(lat, lon)?),
        (None, None) => None,
        _ => {
            return Err(ApiError::Rejected(
                "give both latitude and longitude, or neither".into(),
            ));
        }
    };
    auth.scoped(&state.store)
        .set_listing(input.listed, location)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OfficeInvitation {
    office_name: String,
    email: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/directory/invitations",
    tag = "directory",
    summary = "Invite an office that is not on Enamel: it is emailed a link to join (no PHI)",
    request_body = OfficeInvitation,
    responses(
        (status = 201, description = "The invitation's id", body = ResourceId),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn invite_office(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(input): Json<OfficeInvitation>,
) -> Result<(axum::http::StatusCode, Json<ResourceId>), ApiError> {
    let email = Email::parse(&input.email)?;
    let token = enamel_crypto::token::SecretToken::generate("");
    let id = auth
        .scoped(&state.store)
        .invite_office(&input.office_name, &email, &token, state.clock.now())
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(ResourceId { id: id.to_string() }),
    ))
}
