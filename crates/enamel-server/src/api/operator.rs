//! The platform operator's jobs API: the dead letters and their retry.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::http::extract::{Id, Json};
use crate::services::dead_letters::{self, DeadLetter};
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
