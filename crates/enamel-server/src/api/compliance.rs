//! The API of compliance: the access review, break-glass, security alerts, the second-factor rule.

use crate::auth::Authenticated;
use crate::http::extract::Json;
use crate::http::extract::parse_id;
use crate::http::{csv_download, when};
use crate::services::access_review::{self, ReviewLine};
use crate::services::break_glass;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use enamel_domain::PatientId;
use enamel_store::BreakGlassReason;
use serde::{Deserialize, Serialize};

/// The access review: one row per account of the practice (staff, never patients).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AccessReview {
    accounts: Vec<ReviewLine>,
}

#[utoipa::path(
    get,
    path = "/api/v1/access-review",
    tag = "compliance",
    summary = "The access review: every account with role, status, MFA, last sign-in and last PHI access",
    responses(
        (status = 200, description = "Review rows", body = AccessReview),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn access_review(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<AccessReview>, ApiError> {
    let accounts = access_review::lines(&state, &auth).await?;
    Ok(Json(AccessReview { accounts }))
}

#[utoipa::path(
    get,
    path = "/api/v1/access-review.csv",
    tag = "compliance",
    summary = "The access review as CSV",
    responses(
        (status = 200, description = "CSV, one row per account", body = String, content_type = "text/csv"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn access_review_csv(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    let rows = access_review::lines(&state, &auth).await?;
    Ok(csv_download("access-review.csv", access_review::csv(&rows)))
}

#[utoipa::path(
    post,
    path = "/api/v1/access-review/sign-off",
    tag = "compliance",
    summary = "Sign off the access review",
    responses(
        (status = 204, description = "Recorded"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn sign_off(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    access_review::sign_off(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct BreakGlass {
    patient_id: String,
    reason: String,
    note: String,
}

/// A break-glass grant: its id and how long it lasts; never the dentist's note.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct BreakGlassGrant {
    grant_id: String,
    expires_in_minutes: i64,
}

#[utoipa::path(
    post,
    path = "/api/v1/break-glass",
    tag = "identity",
    summary = "Emergency access to a restricted patient (dentists; 60 minutes; audited, alerts the security officer)",
    request_body = BreakGlass,
    responses(
        (status = 201, description = "The grant", body = BreakGlassGrant),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn break_glass(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<BreakGlass>,
) -> Result<(StatusCode, Json<BreakGlassGrant>), ApiError> {
    let patient = parse_id::<PatientId>(&body.patient_id)?;
    let reason = BreakGlassReason::parse(&body.reason).ok_or_else(|| {
        ApiError::Rejected(
            "reason is one of emergency_treatment, covering_provider, patient_request, other"
                .into(),
        )
    })?;
    let grant = break_glass::grant(&state, &auth, patient, reason, &body.note).await?;
    Ok((
        StatusCode::CREATED,
        Json(BreakGlassGrant {
            grant_id: grant.to_string(),
            expires_in_minutes: break_glass::MINUTES,
        }),
    ))
}

/// The practice's security alerts.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AlertList {
    alerts: Vec<AlertView>,
}

/// One security alert: ids and a kind only, never a patient's details.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AlertView {
    id: String,
    /// What happened, e.g. `lockout` or `break_glass`.
    kind: String,
    /// The account the alert is about.
    subject_id: String,
    /// What it refers to (a break-glass grant), if anything.
    reference_id: Option<String>,
    created_at: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "compliance",
    summary = "Security alerts (lockouts, break-glass)",
    responses(
        (status = 200, description = "Alerts", body = AlertList),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn alerts(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<AlertList>, ApiError> {
    let alerts = auth.scoped(&state.store).alerts().await?;
    Ok(Json(AlertList {
        alerts: alerts
            .into_iter()
            .map(|a| AlertView {
                id: a.id.to_string(),
                kind: a.kind,
                subject_id: a.subject.to_string(),
                reference_id: a.reference.map(|r| r.to_string()),
                created_at: when(a.created_at),
            })
            .collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RequireSecondFactor {
    all_roles: bool,
}

#[utoipa::path(
    put,
    path = "/api/v1/practice/second-factor",
    tag = "identity",
    summary = "Require a second factor for every role of the practice",
    request_body = RequireSecondFactor,
    responses(
        (status = 204, description = "Saved"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn require_second_factor(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<RequireSecondFactor>,
) -> Result<StatusCode, ApiError> {
    auth.scoped(&state.store)
        .set_require_mfa(body.all_roles)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
