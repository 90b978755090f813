//! The practice's people: roles, deactivation, unlocking, invitations and accepting one.

use super::{Chrome, PageResult, chrome, message, render, see_other};
use crate::auth::Authenticated;
use crate::http::extract::Form;
use crate::http::extract::Id;
use crate::services::invitations::{InviteForm, create_invitation};
use crate::{ApiError, AppState};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use enamel_crypto::token::SecretToken;
use enamel_domain::{Role, UserId};
use enamel_policy::{Action, Circumstances, Resource};
use serde::Deserialize;

pub(super) struct UserRow {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    /// The role as a person reads it ("Front desk").
    role_label: &'static str,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "users.html")]
pub(super) struct UsersPage {
    chrome: Chrome,
    practice: String,
    users: Vec<UserRow>,
    /// Each role's code and the name a person reads, least powerful first (the
    /// invitation form preselects the first).
    roles: Vec<(&'static str, &'static str)>,
    can_manage: bool,
    require_mfa: bool,
    invitation_link: Option<String>,
    message: Option<String>,
}

/// The practice's roles, least powerful first: an invitation starts at the least.
pub(super) const INVITATION_ORDER: [Role; 6] = [
    Role::Billing,
    Role::FrontDesk,
    Role::Hygienist,
    Role::Dentist,
    Role::SecurityOfficer,
    Role::PracticeAdmin,
];

pub(super) async fn users_view(
    state: &AppState,
    auth: &Authenticated,
    invitation_link: Option<String>,
    message: Option<String>,
) -> PageResult {
    let user = auth.person()?;
    let scoped = auth.scoped(&state.store);
    let users = scoped.users().await?;
    let practice = scoped.own_practice().await?;
    let can_manage = state
        .store
        .policy()
        .decide(
            &auth.actor,
            Action::AccountInvite,
            &Resource::Practice(practice.id),
            Circumstances::default(),
        )
        .is_allowed();
    let mut response = render(&UsersPage {
        chrome: chrome(state, Some(user)),
        practice: practice.name.as_str().to_owned(),
        users: users
            .into_iter()
            .map(|u| UserRow {
                id: u.id.to_string(),
                name: u.display_name.as_str().to_owned(),
                email: u.email.as_str().to_owned(),
                role: u.role.as_str(),
                role_label: u.role.label(),
                status: u.status.as_str(),
            })
            .collect(),
        roles: INVITATION_ORDER
            .iter()
            .map(|r| (r.as_str(), r.label()))
            .collect(),
        can_manage,
        require_mfa: scoped.requires_mfa().await?,
        message: message.clone(),
        invitation_link,
    });
    if message.is_some() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub(super) async fn users_page(State(state): State<AppState>, auth: Authenticated) -> PageResult {
    users_view(&state, &auth, None, None).await
}

pub(super) async fn invite(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<InviteForm>,
) -> PageResult {
    match create_invitation(&state, &auth, &form).await {
        Ok((_, token)) => {
            let link = format!("/invitations/{}", token.expose());
            users_view(&state, &auth, Some(link), None).await
        }
        Err(ApiError::InvalidInput(err)) => {
            users_view(&state, &auth, None, Some(err.to_string())).await
        }
        Err(ApiError::Conflict(why)) => users_view(&state, &auth, None, Some(why.to_owned())).await,
        Err(err) => Err(err.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct RoleForm {
    role: String,
}

pub(super) async fn change_role(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<UserId>,
    Form(form): Form<RoleForm>,
) -> PageResult {
    let role = Role::parse(&form.role)?;
    match auth
        .scoped(&state.store)
        .change_role(id, role, state.clock.now())
        .await
    {
        Ok(_) => Ok(see_other("/admin/users")),
        Err(enamel_store::StoreError::Conflict(why)) => {
            users_view(&state, &auth, None, Some(why.to_owned())).await
        }
        Err(err) => Err(err.into()),
    }
}

pub(super) async fn deactivate(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<UserId>,
) -> PageResult {
    auth.scoped(&state.store)
        .deactivate(id, state.clock.now())
        .await?;
    Ok(see_other("/admin/users"))
}

pub(super) async fn unlock(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<UserId>,
) -> PageResult {
    auth.scoped(&state.store).unlock(id).await?;
    Ok(see_other("/admin/users"))
}

#[derive(Deserialize)]
pub(super) struct RequireForm {
    require_all: Option<String>,
}

pub(super) async fn require_second_factor(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<RequireForm>,
) -> PageResult {
    auth.scoped(&state.store)
        .set_require_mfa(form.require_all.as_deref() == Some("true"))
        .await?;
    Ok(see_other("/admin/users"))
}

#[derive(Template)]
#[template(path = "invitation.html")]
pub(super) struct InvitationPage {
    chrome: Chrome,
    name: String,
    token: String,
    message: Option<&'static str>,
}

pub(super) fn invitation_unusable() -> Response {
    message(
        StatusCode::GONE,
        "This invitation link cannot be used",
        "It has expired, was already used, or is not complete. Ask your practice administrator for a new invitation.",
        ("/sign-in", "Go to sign-in"),
    )
}

pub(super) async fn invitation_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> PageResult {
    let token = SecretToken::from_client(&token);
    let Some(invitation) = state.store.identity().invitation(&token.digest()).await? else {
        return Ok(invitation_unusable());
    };
    if invitation.accepted || invitation.expires_at <= state.clock.now() {
        return Ok(invitation_unusable());
    }
    Ok(render(&InvitationPage {
        chrome: Chrome::default(),
        name: invitation.user.display_name.as_str().to_owned(),
        token: token.expose().to_owned(),
        message: None,
    }))
}

#[derive(Deserialize)]
pub(super) struct AcceptForm {
    token: String,
    password: String,
}

pub(super) async fn accept_invitation(
    State(state): State<AppState>,
    Form(form): Form<AcceptForm>,
) -> PageResult {
    let token = SecretToken::from_client(&form.token);
    let Some(invitation) = state.store.identity().invitation(&token.digest()).await? else {
        return Ok(invitation_unusable());
    };
    let now = state.clock.now();
    if invitation.accepted || invitation.expires_at <= now {
        return Ok(invitation_unusable());
    }
    let user = &invitation.user;
    if let Err(weak) = enamel_crypto::password::check_new(
        &form.password,
        &[user.email.as_str(), user.display_name.as_str()],
    ) {
        let mut response = render(&InvitationPage {
            chrome: Chrome::default(),
            name: user.display_name.as_str().to_owned(),
            token: token.expose().to_owned(),
            message: Some(weak_message(weak)),
        });
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(response);
    }
    let passwords = state.passwords.clone();
    let password = form.password;
    let phc = tokio::task::spawn_blocking(move || passwords.hash(&password))
        .await
        .map_err(|err| ApiError::Unexpected(err.into()))?;
    if !state
        .store
        .identity()
        .accept_invitation(&invitation, &phc, now)
        .await?
    {
        return Ok(invitation_unusable());
    }
    Ok(message(
        StatusCode::OK,
        "Your account is ready",
        "Sign in with your email and the password you chose.",
        ("/sign-in", "Sign in"),
    ))
}

pub(crate) const fn weak_message(weak: enamel_crypto::password::WeakPassword) -> &'static str {
    use enamel_crypto::password::WeakPassword;
    match weak {
        WeakPassword::TooShort => "Use at least 12 characters.",
        WeakPassword::TooLong => "Use at most 128 characters.",
        WeakPassword::Common => {
            "That password is on a list of commonly used passwords. Choose another."
        }
        WeakPassword::Pattern => {
            "That password is a simple sequence or repetition. Choose another."
        }
        WeakPassword::Personal => "The password must not contain your email address or name.",
    }
}
