//! Patients: adding one, finding them (by a POST body, so no PHI is in a URL), reading
//! one, and restricting a record.

use axum::extract::State;
use enamel_domain::PatientId;
use serde::Deserialize;

use super::views::{PatientList, PatientSummaryView, PatientView, ResourceId};
use crate::auth::Authenticated;
use crate::http::extract::{Id, Json, Query};
use crate::services::patients::{PatientInput, PatientSearch, patient_query};
use crate::{ApiError, AppState};
use serde::Serialize;

#[utoipa::path(
    post,
    path = "/api/v1/patients",
    tag = "patients",
    summary = "Add a patient (409 `duplicate_patient` on the same name and birth date)",
    request_body = PatientInput,
    responses(
        (status = 201, description = "The patient's id", body = ResourceId),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflicts with the current state", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn create_patient(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(input): Json<PatientInput>,
) -> Result<(axum::http::StatusCode, Json<ResourceId>), ApiError> {
    let allow_duplicate = input.allow_duplicate;
    let new = input.parse()?;
    let id = auth
        .scoped(&state.store)
        .create_patient(&new, allow_duplicate)
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(ResourceId { id: id.to_string() }),
    ))
}

/// Searching by query string would put PHI in URLs; the search is a POST body.
#[utoipa::path(
    get,
    path = "/api/v1/patients",
    tag = "patients",
    summary = "The newest patients (names, birth dates; no contact details)",
    params(Page),
    responses(
        (status = 200, description = "Patients", body = PatientList),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn find_patients(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(page): Query<Page>,
) -> Result<Json<PatientList>, ApiError> {
    search(
        &state,
        &auth,
        PatientSearch {
            limit: page.limit,
            offset: page.offset,
            ..PatientSearch::default()
        },
    )
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/patients/search",
    tag = "patients",
    summary = "Find patients by last name, first name, birth date, phone or email (blind indexes; a POST so no PHI is in the URL)",
    request_body = PatientSearch,
    responses(
        (status = 200, description = "Patients", body = PatientList),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn search_patients(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(query): Json<PatientSearch>,
) -> Result<Json<PatientList>, ApiError> {
    search(&state, &auth, query).await
}

pub(crate) async fn search(
    state: &AppState,
    auth: &Authenticated,
    query: PatientSearch,
) -> Result<Json<PatientList>, ApiError> {
    let query = patient_query(query)?;
    let found = auth.scoped(&state.store).find_patients(&query).await?;
    Ok(Json(PatientList {
        patients: found.iter().map(PatientSummaryView::from).collect(),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Page {
    limit: Option<u32>,
    offset: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/patients/{id}",
    tag = "patients",
    summary = "One patient (contact details and insurance only for roles that need them)",
    params(("id" = String, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The patient", body = PatientView),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn patient(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PatientId>,
) -> Result<Json<PatientView>, ApiError> {
    let patient = auth
        .scoped(&state.store)
        .patient(id, state.clock.now())
        .await?;
    Ok(Json(PatientView::from(&patient)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Restriction {
    /// `true` to restrict the record, `false` to lift the restriction.
    restricted: bool,
}

/// A patient record's restriction, as set.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct RestrictionView {
    patient_id: String,
    restricted: bool,
}

#[utoipa::path(
    put,
    path = "/api/v1/patients/{id}/restriction",
    tag = "patients",
    summary = "Restrict a patient's record, or lift the restriction (lifting takes a dentist's break-glass grant)",
    request_body = Restriction,
    params(("id" = String, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The record's restriction", body = RestrictionView),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn restrict(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PatientId>,
    Json(body): Json<Restriction>,
) -> Result<Json<RestrictionView>, ApiError> {
    auth.scoped(&state.store)
        .set_restricted(id, body.restricted, state.clock.now())
        .await?;
    Ok(Json(RestrictionView {
        patient_id: id.to_string(),
        restricted: body.restricted,
    }))
}
