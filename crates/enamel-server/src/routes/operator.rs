//! The platform operator's view of the jobs queue: the dead letters (jobs that ran
//! out of attempts) and putting one back in the queue once its cause is fixed. A
//! page and the same under `/api/v1`; both ask the store, which authorizes
//! `platform.view` and audits the retry.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use enamel_store::JobStatus;
use serde::{Deserialize, Serialize};

use crate::auth::Authenticated;
use crate::extract::{Id, Json, Query};
use crate::routes::web::{chrome, render, see_other};
use crate::{ApiError, AppState};
use uuid::Uuid;

/// The most dead letters listed at once.
const LISTED: u32 = 200;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/operator/jobs", get(jobs_page))
        .route("/operator/jobs/{id}/retry", post(retry_from_page))
        .route("/api/v1/operator/dead-letters", get(dead_letters))
        .route("/api/v1/operator/dead-letters/{id}/retry", post(retry))
}

/// A dead letter as the operator sees it: what kind of job, which run, how often
/// it was tried and the last error's code. Jobs carry ids and codes, never PHI.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DeadLetter {
    id: String,
    kind: String,
    key: String,
    attempts: u32,
    last_error: Option<String>,
    /// When it last ran (RFC 3339, UTC).
    last_run: String,
}

impl From<JobStatus> for DeadLetter {
    fn from(job: JobStatus) -> Self {
        Self {
            id: job.id.to_string(),
            kind: job.kind,
            key: job.key,
            attempts: job.attempts,
            last_error: job.last_error,
            last_run: job
                .run_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }
}

/// The dead letters, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DeadLetters {
    dead_letters: Vec<DeadLetter>,
}

async fn list(state: &AppState, auth: &Authenticated) -> Result<Vec<DeadLetter>, ApiError> {
    let jobs = auth.scoped(&state.store).dead_letters(LISTED).await?;
    Ok(jobs.into_iter().map(DeadLetter::from).collect())
}

async fn retry_one(state: &AppState, auth: &Authenticated, id: Uuid) -> Result<(), ApiError> {
    auth.scoped(&state.store).retry_dead_letter(id).await?;
    Ok(())
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
        dead_letters: list(&state, &auth).await?,
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
    retry_one(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Template)]
#[template(path = "operator_jobs.html")]
struct JobsPage {
    chrome: crate::routes::web::Chrome,
    dead_letters: Vec<DeadLetter>,
    retried: bool,
}

#[derive(Deserialize)]
struct Flash {
    flash: Option<String>,
}

async fn jobs_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(flash): Query<Flash>,
) -> Result<Response, ApiError> {
    let user = auth.person()?;
    let dead_letters = list(&state, &auth).await?;
    Ok(render(&JobsPage {
        chrome: chrome(&state, Some(user)),
        dead_letters,
        retried: flash.flash.as_deref() == Some("retried"),
    }))
}

async fn retry_from_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<Uuid>,
) -> Result<Response, ApiError> {
    retry_one(&state, &auth, id).await?;
    Ok(see_other("/operator/jobs?flash=retried"))
}
