//! Sending the patient a link to follow their referral.

use crate::auth::Authenticated;
use crate::http::extract::Id;
use crate::http::extract::Json;
use crate::services::portal_links::issue_link;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use enamel_domain::ReferralId;
use serde::Serialize;

/// A queued portal link: when it expires; never the link or the patient's address.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PortalLinkQueued {
    /// Always true: the message is queued, not yet sent.
    queued: bool,
    expires_at: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/referrals/{id}/portal-link",
    tag = "referrals",
    summary = "Send the patient a signed portal link (24 hours, single use)",
    params(("id" = String, Path, description = "Referral id")),
    responses(
        (status = 202, description = "Queued", body = PortalLinkQueued),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn send_link(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
) -> Result<(StatusCode, Json<PortalLinkQueued>), ApiError> {
    let expires_at = issue_link(&state, &auth, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PortalLinkQueued {
            queued: true,
            expires_at: expires_at.to_string(),
        }),
    ))
}
