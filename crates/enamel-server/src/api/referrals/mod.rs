//! The referral network API under `/api/v1`: patients, the directory, referrals and
//! their steps, messages, attachments and portal links, the BAA registry and the
//! practice's notifications. Responses carry only what the operation needs: lists
//! carry no clinical content, and contact details only for roles that need them.

pub(crate) mod attachments;
pub(crate) mod letters;
pub(crate) mod portal_links;

use axum::extract::{Path, State};
use enamel_domain::{Phi, ReferralId, ReferralStatus, Step};
use enamel_store::{ReferralBox, StepInput};
use serde::Deserialize;

use super::views::{ReferralList, ReferralState, ReferralSummaryView, ReferralView, ResourceId};
use crate::auth::Authenticated;
use crate::http::extract::{Id, Json, Query, parse_id};
use crate::services::referrals::{ReferralInput, step_input};
use crate::{ApiError, AppState};

#[utoipa::path(
    post,
    path = "/api/v1/referrals",
    tag = "referrals",
    summary = "Create a referral (a draft, or sent at once with `send`)",
    request_body = ReferralInput,
    responses(
        (status = 201, description = "The referral's id and status", body = ReferralState),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflicts with the current state", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn create_referral(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(input): Json<ReferralInput>,
) -> Result<(axum::http::StatusCode, Json<ReferralState>), ApiError> {
    let new = input.parse()?;
    let scoped = auth.scoped(&state.store);
    let now = state.clock.now();
    let id = scoped.create_referral(&new, now).await?;
    let mut status = ReferralStatus::Draft;
    if input.send {
        status = scoped
            .step(id, Step::Send, StepInput::default(), now)
            .await?;
    }
    Ok((
        axum::http::StatusCode::CREATED,
        Json(ReferralState {
            id: id.to_string(),
            status,
        }),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReferralListQuery {
    #[serde(rename = "box")]
    which: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/referrals",
    tag = "referrals",
    summary = "The inbox (received) or outbox (sent), with counts needing attention; no clinical content",
    params(ReferralListQuery),
    responses(
        (status = 200, description = "Referral summaries", body = ReferralList),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn referrals(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(list): Query<ReferralListQuery>,
) -> Result<Json<ReferralList>, ApiError> {
    let which = match list.which.as_deref() {
        None | Some("inbox") => ReferralBox::Inbox,
        Some("outbox") => ReferralBox::Outbox,
        Some(_) => return Err(ApiError::Rejected("box is inbox or outbox".into())),
    };
    let status = list.status.map(|s| ReferralStatus::parse(&s)).transpose()?;
    let found = auth
        .scoped(&state.store)
        .referrals(which, status, list.limit.unwrap_or(50))
        .await?;
    let attention = found.iter().filter(|r| r.needs_attention()).count();
    Ok(Json(ReferralList {
        referrals: found.iter().map(ReferralSummaryView::from).collect(),
        needs_attention: attention,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/referrals/{id}",
    tag = "referrals",
    summary = "One referral with its clinical details, timeline, attachments and the steps the reader may take",
    params(("id" = String, Path, description = "Referral id")),
    responses(
        (status = 200, description = "The referral", body = ReferralView),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn referral(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
) -> Result<Json<ReferralView>, ApiError> {
    let detail = auth
        .scoped(&state.store)
        .referral(id, state.clock.now())
        .await?;
    Ok(Json(ReferralView::from(&detail)))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepBody {
    /// A decline or cancellation reason, or the report.
    note: Option<String>,
    /// `YYYY-MM-DDTHH:MM` in the specialist's local time.
    appointment: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/referrals/{id}/steps/{step}",
    tag = "referrals",
    summary = "Take a step: send, receive, accept, decline, schedule, complete, send_report, close, cancel",
    request_body = Option<StepBody>,
    params(("id" = String, Path, description = "Referral id"), ("step" = String, Path, description = "The step's name")),
    responses(
        (status = 200, description = "The new status", body = ReferralState),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflicts with the current state", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn take_step(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, step)): Path<(String, String)>,
    body: Option<Json<StepBody>>,
) -> Result<Json<ReferralState>, ApiError> {
    let id = parse_id::<ReferralId>(&id)?;
    let step = Step::parse(&step).map_err(|_| ApiError::NotFound)?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let input = step_input(body.note, body.appointment.as_deref())?;
    let status = auth
        .scoped(&state.store)
        .step(id, step, input, state.clock.now())
        .await?;
    Ok(Json(ReferralState {
        id: id.to_string(),
        status,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessageBody {
    body: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/referrals/{id}/messages",
    tag = "referrals",
    summary = "Post a message to the other office",
    request_body = MessageBody,
    params(("id" = String, Path, description = "Referral id")),
    responses(
        (status = 201, description = "The message's id", body = ResourceId),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn post_message(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
    Json(message): Json<MessageBody>,
) -> Result<(axum::http::StatusCode, Json<ResourceId>), ApiError> {
    let message_id = auth
        .scoped(&state.store)
        .post_message(id, &Phi::new(message.body), state.clock.now())
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(ResourceId {
            id: message_id.to_string(),
        }),
    ))
}
