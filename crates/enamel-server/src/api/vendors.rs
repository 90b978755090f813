//! The BAA registry and the practice's notifications (refusals for want of a BAA
//! among them, as problems to fix).

use axum::extract::{Path, State};
use enamel_domain::VendorName;
use enamel_store::{BaaStatus, VendorEntry};
use serde::Deserialize;

use super::views::{NotificationList, NotificationView, ResourceId, VendorList, VendorView};
use crate::auth::Authenticated;
use crate::http::extract::{Json, parse_date};
use crate::{ApiError, AppState};

#[utoipa::path(
    get,
    path = "/api/v1/vendors",
    tag = "vendors",
    summary = "The BAA registry",
    responses(
        (status = 200, description = "Vendors", body = VendorList),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn vendors(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<VendorList>, ApiError> {
    let vendors = auth.scoped(&state.store).vendors().await?;
    let today = state.clock.now().date();
    Ok(Json(VendorList {
        vendors: vendors.iter().map(|v| VendorView::of(v, today)).collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VendorInput {
    display_name: String,
    services: String,
    baa_status: String,
    executed_on: Option<String>,
    expires_on: Option<String>,
    document_ref: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/v1/vendors/{name}",
    tag = "vendors",
    summary = "Record or update a vendor and its BAA (security officer)",
    request_body = VendorInput,
    params(("name" = String, Path, description = "The vendor's key, e.g. twilio")),
    responses(
        (status = 200, description = "The vendor's id", body = ResourceId),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn put_vendor(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    Json(input): Json<VendorInput>,
) -> Result<Json<ResourceId>, ApiError> {
    let entry = VendorEntry {
        name: VendorName::parse(&name)?,
        display_name: input.display_name,
        services: input.services,
        baa_status: BaaStatus::parse(&input.baa_status)?,
        executed_on: input
            .executed_on
            .map(|d| parse_date(&d, "executed on"))
            .transpose()?,
        expires_on: input
            .expires_on
            .map(|d| parse_date(&d, "expires on"))
            .transpose()?,
        document_ref: input.document_ref,
    };
    let id = auth
        .scoped(&state.store)
        .put_vendor(&entry, state.clock.now())
        .await?;
    Ok(Json(ResourceId { id: id.to_string() }))
}

/// The practice's notifications and their state, with refusals (a vendor without a
/// BAA) as problems to fix. Never recipients or words.
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    tag = "vendors",
    summary = "The practice's notifications and their state; refusals (no executed BAA) as problems (never recipients or words)",
    responses(
        (status = 200, description = "Notifications", body = NotificationList),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn notifications(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<NotificationList>, ApiError> {
    let messages = auth.scoped(&state.store).notifications(200).await?;
    Ok(Json(NotificationList {
        problems: messages
            .iter()
            .filter(|m| m.status == "refused")
            .map(NotificationView::from)
            .collect(),
        notifications: messages.iter().map(NotificationView::from).collect(),
    }))
}
