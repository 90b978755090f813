//! The letter assistant's draft of a referral letter, for the referring dentist to edit.

use crate::auth::Authenticated;
use crate::http::extract::Id;
use crate::http::extract::Json;
use crate::services::letters::draft;
use crate::{ApiError, AppState};
use axum::extract::State;
use enamel_domain::ReferralId;
use serde::Serialize;

#[utoipa::path(
    post,
    path = "/api/v1/referrals/{id}/letter-draft",
    tag = "referrals",
    summary = "Draft the referral letter with the AI assistant (de-identified; only with an executed BAA)",
    params(("id" = String, Path, description = "Referral id")),
    responses(
        (status = 200, description = "The draft, with the patient as [patient]", body = LetterDraft),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The assistant is busy", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn draft_letter(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
) -> Result<Json<LetterDraft>, ApiError> {
    let draft = draft(&state, &auth, id).await?;
    Ok(Json(LetterDraft {
        draft,
        deidentified: true,
    }))
}

/// A drafted letter naming the patient only as `[patient]`; never a name, date or contact.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct LetterDraft {
    draft: String,
    /// Always true: the model was sent de-identified content only.
    deidentified: bool,
}
