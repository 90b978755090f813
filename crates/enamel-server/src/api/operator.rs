//! The platform operator's API: the practices on the platform (onboarding one, no
//! PHI), and the dead letters of the jobs queue with their retry.

use axum::extract::State;
use axum::http::StatusCode;
use enamel_domain::PracticeId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::views::PracticeView;
use crate::auth::Authenticated;
use crate::http::extract::{Id, Json};
use crate::services::dead_letters::{self, DeadLetter};
use crate::services::onboarding::{self, PracticeForm};
use crate::{ApiError, AppState};

/// The dead letters, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DeadLetters {
    dead_letters: Vec<DeadLetter>,
}

#[utoipa::path(
    get,
    path = "/api/v1/operator/dead-letters",
    tag = "operations",
    summary = "Jobs that ran out of attempts (platform operator)",
    responses(
        (status = 200, description = "The dead letters, newest first", body = DeadLetters),
    ),
)]
pub(crate) async fn dead_letters(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<DeadLetters>, ApiError> {
    Ok(Json(DeadLetters {
        dead_letters: dead_letters::list(&state, &auth).await?,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/dead-letters/{id}/retry",
    tag = "operations",
    summary = "Put a dead letter back in the queue (platform operator)",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 204, description = "Queued again, for three more attempts from now"),
    ),
)]
pub(crate) async fn retry(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<Uuid>,
) -> Result<StatusCode, ApiError> {
    dead_letters::retry(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every practice on the platform.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Practices {
    practices: Vec<PracticeView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/operator/practices",
    tag = "operations",
    summary = "Every practice, its agreement and its administrator (platform operator; no PHI)",
    responses((status = 200, description = "The practices, by name", body = Practices)),
)]
pub(crate) async fn practices(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Practices>, ApiError> {
    let overviews = auth
        .scoped(&state.store)
        .practices_overview(state.clock.now())
        .await?;
    Ok(Json(Practices {
        practices: overviews.into_iter().map(PracticeView::from).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/operator/practices/{id}",
    tag = "operations",
    summary = "One practice, its agreement and its administrator (platform operator; no PHI)",
    params(("id" = String, Path, description = "The practice's id")),
    responses((status = 200, description = "The practice", body = PracticeView)),
)]
pub(crate) async fn practice(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PracticeId>,
) -> Result<Json<PracticeView>, ApiError> {
    let overview = auth
        .scoped(&state.store)
        .practice_overview(id, state.clock.now())
        .await?;
    Ok(Json(overview.into()))
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/practices",
    tag = "operations",
    summary = "Onboard a practice: create it and email its first administrator an invitation (platform operator)",
    request_body = PracticeForm,
    responses((status = 201, description = "The practice, its administrator invited", body = PracticeView)),
)]
pub(crate) async fn create_practice(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(form): Json<PracticeForm>,
) -> Result<(StatusCode, Json<PracticeView>), ApiError> {
    let now = state.clock.now();
    let scoped = auth.scoped(&state.store);
    let practice = onboarding::create_practice(&scoped, &form, now).await?;
    let overview = scoped.practice_overview(practice.id, now).await?;
    Ok((StatusCode::CREATED, Json(overview.into())))
}

/// Who to invite as a practice's administrator.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminInvitation {
    name: String,
    email: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/practices/{id}/admin-invitation",
    tag = "operations",
    summary = "Invite a practice's administrator again, while it has none active (platform operator)",
    params(("id" = String, Path, description = "The practice's id")),
    request_body = AdminInvitation,
    responses((status = 204, description = "Invited; the link is emailed")),
)]
pub(crate) async fn invite_admin(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PracticeId>,
    Json(body): Json<AdminInvitation>,
) -> Result<StatusCode, ApiError> {
    onboarding::invite_admin(
        &auth.scoped(&state.store),
        id,
        &body.name,
        &body.email,
        state.clock.now(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Terminating a practice's agreement: its exact name, typed back.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Termination {
    confirm_name: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/operator/practices/{id}/termination",
    tag = "operations",
    summary = "Terminate a practice's business associate agreement (platform operator): no PHI enters it afterwards",
    params(("id" = String, Path, description = "The practice's id")),
    request_body = Termination,
    responses((status = 200, description = "The practice, its agreement terminated", body = PracticeView)),
)]
pub(crate) async fn terminate(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PracticeId>,
    Json(body): Json<Termination>,
) -> Result<Json<PracticeView>, ApiError> {
    let now = state.clock.now();
    let scoped = auth.scoped(&state.store);
    onboarding::terminate(&scoped, id, &body.confirm_name, now).await?;
    Ok(Json(scoped.practice_overview(id, now).await?.into()))
}
