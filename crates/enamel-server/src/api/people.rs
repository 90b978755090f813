//! The API of the practice's people: accounts, roles, deactivation, unlocking, invitations.

use super::AccountView;
use crate::auth::Authenticated;
use crate::http::extract::Id;
use crate::http::extract::Json;
use crate::services::invitations::{self, InviteForm};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use enamel_domain::Role;
use serde::{Deserialize, Serialize};

/// The practice's accounts.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AccountList {
    users: Vec<AccountView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "identity",
    summary = "The practice's accounts",
    responses(
        (status = 200, description = "Accounts", body = AccountList),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn users(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<AccountList>, ApiError> {
    let users = auth.scoped(&state.store).users().await?;
    Ok(Json(AccountList {
        users: users.iter().map(AccountView::from).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "identity",
    summary = "One account",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn user(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<enamel_domain::UserId>,
) -> Result<Json<AccountView>, ApiError> {
    let user = auth.scoped(&state.store).account(id).await?;
    Ok(Json(AccountView::from(&user)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct RoleChange {
    role: String,
}

#[utoipa::path(
    put,
    path = "/api/v1/users/{id}/role",
    tag = "identity",
    summary = "Change an account's role",
    request_body = RoleChange,
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn change_role(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<enamel_domain::UserId>,
    Json(body): Json<RoleChange>,
) -> Result<Json<AccountView>, ApiError> {
    let role = Role::parse(&body.role)?;
    let (user, _) = auth
        .scoped(&state.store)
        .change_role(id, role, state.clock.now())
        .await?;
    Ok(Json(AccountView::from(&user)))
}

/// A deactivation's outcome: how many of the account's sessions it ended.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Deactivated {
    sessions_ended: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/deactivate",
    tag = "identity",
    summary = "Deactivate an account (ends its sessions at once)",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, description = "Deactivated", body = Deactivated),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn deactivate(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<enamel_domain::UserId>,
) -> Result<Json<Deactivated>, ApiError> {
    let ended = auth
        .scoped(&state.store)
        .deactivate(id, state.clock.now())
        .await?;
    Ok(Json(Deactivated {
        sessions_ended: ended,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/unlock",
    tag = "identity",
    summary = "Lift an account's sign-in lockout",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Lifted"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn unlock(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<enamel_domain::UserId>,
) -> Result<StatusCode, ApiError> {
    auth.scoped(&state.store).unlock(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new invitation's link path, shown only in this answer (Enamel keeps only a digest).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct InvitationLink {
    user_id: String,
    invitation_path: String,
    expires_in_hours: i64,
}

/// Invites a person. The answer holds the single-use link's path, shown only here.
#[utoipa::path(
    post,
    path = "/api/v1/invitations",
    tag = "identity",
    summary = "Invite a person (single-use link, 72 hours)",
    request_body = crate::services::invitations::InviteForm,
    responses(
        (status = 201, description = "The invitation link, shown once", body = InvitationLink),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflicts with the current state", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn invite(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(form): Json<InviteForm>,
) -> Result<(StatusCode, Json<InvitationLink>), ApiError> {
    let (id, token) = invitations::create_invitation(&state, &auth, &form).await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitationLink {
            user_id: id.to_string(),
            invitation_path: format!("/invitations/{}", token.expose()),
            expires_in_hours: invitations::INVITATION_HOURS,
        }),
    ))
}
