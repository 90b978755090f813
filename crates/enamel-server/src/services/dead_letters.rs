//! The jobs that ran out of attempts, for the platform operator: the list and
//! putting one back in the queue once its cause is fixed. The API and the page both
//! call these; the store authorizes `platform.view` and audits the retry.

use enamel_store::JobStatus;
use serde::Serialize;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::{ApiError, AppState};

/// The most dead letters listed at once.
const LISTED: u32 = 200;
/// A dead letter as the operator sees it: what kind of job, which run, how often
/// it was tried and the last error's code. Jobs carry ids and codes, never PHI.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DeadLetter {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) key: String,
    pub(crate) attempts: u32,
    pub(crate) last_error: Option<String>,
    /// When it last ran (RFC 3339, UTC).
    pub(crate) last_run: String,
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
pub(crate) async fn list(
    state: &AppState,
    auth: &Authenticated,
) -> Result<Vec<DeadLetter>, ApiError> {
    let jobs = auth.scoped(&state.store).dead_letters(LISTED).await?;
    Ok(jobs.into_iter().map(DeadLetter::from).collect())
}

/// Queues a dead letter again, for three more attempts from now.
pub(crate) async fn retry(
    state: &AppState,
    auth: &Authenticated,
    id: Uuid,
) -> Result<(), ApiError> {
    auth.scoped(&state.store).retry_dead_letter(id).await?;
    Ok(())
}
