//! The practice's business associate agreement with the operator: its status and
//! text's identity, and executing it (the practice's administrator).

use axum::extract::State;
use axum::http::StatusCode;
use enamel_store::{AGREEMENT_VERSION, agreement_sha256};
use serde::{Deserialize, Serialize};

use super::views::ExecutedView;
use crate::auth::Authenticated;
use crate::http::extract::Json;
use crate::{ApiError, AppState};

/// The agreement as it stands for the caller's practice.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AgreementStatus {
    /// The current text's version and SHA-256 digest (hex): execute this one.
    version: &'static str,
    sha256: String,
    /// The executed copy, once executed; until then no PHI may enter the practice.
    executed: Option<ExecutedView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/practice/agreement",
    tag = "compliance",
    summary = "The practice's business associate agreement with Enamel: the text to execute, and the executed copy",
    responses((status = 200, description = "The agreement's status", body = AgreementStatus)),
)]
pub(crate) async fn agreement(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<AgreementStatus>, ApiError> {
    let executed = auth.scoped(&state.store).agreement().await?;
    Ok(Json(AgreementStatus {
        version: AGREEMENT_VERSION,
        sha256: agreement_sha256(),
        executed: executed.map(ExecutedView::from),
    }))
}

/// Executing the agreement: the signer's name and title as typed, the digest of the
/// text they read, and their statement that they may sign for the practice.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Execution {
    signer_name: String,
    signer_title: String,
    sha256: String,
    /// Must be `true`: the signer is authorized to bind the practice.
    authorized: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/practice/agreement",
    tag = "compliance",
    summary = "Execute the business associate agreement (practice administrator)",
    request_body = Execution,
    responses((status = 201, description = "The executed copy", body = ExecutedView)),
)]
pub(crate) async fn execute(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<Execution>,
) -> Result<(StatusCode, Json<ExecutedView>), ApiError> {
    if !body.authorized {
        return Err(ApiError::Rejected(
            "confirm that you are authorized to sign for the practice (authorized: true)".into(),
        ));
    }
    let executed = auth
        .scoped(&state.store)
        .execute_agreement(
            &body.signer_name,
            &body.signer_title,
            &body.sha256,
            state.clock.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(ExecutedView::from(executed))))
}
