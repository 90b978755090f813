//! Inviting a person to the practice: the account is created as invited and a
//! single-use link (its digest stored, never the token) works for 72 hours. The API
//! answers with the link; the People page shows it to the admin to pass on.

use enamel_crypto::token::SecretToken;
use enamel_domain::{DisplayName, Email, NewUser, Role, UserId, UserStatus};

use crate::auth::Authenticated;
use crate::{ApiError, AppState};

/// Who to invite and in which role; the same from the API's JSON and the page's form.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub(crate) struct InviteForm {
    pub display_name: String,
    pub email: String,
    pub role: String,
}

/// How long an invitation link works.
pub(crate) const INVITATION_HOURS: i64 = 72;

/// Creates an invitation; returns the account's id and the link's token.
pub(crate) async fn create_invitation(
    state: &AppState,
    auth: &Authenticated,
    form: &InviteForm,
) -> Result<(UserId, SecretToken), ApiError> {
    let practice = auth.actor.practice().ok_or(ApiError::Forbidden)?;
    let role = Role::parse(&form.role)?;
    let new = NewUser::new(
        Some(practice),
        Email::parse(&form.email)?,
        DisplayName::parse(&form.display_name)?,
        role,
        UserStatus::Invited,
    )?;
    let token = SecretToken::generate("");
    let now = state.clock.now();
    auth.scoped(&state.store)
        .invite(
            &new,
            &token.digest(),
            now + time::Duration::hours(INVITATION_HOURS),
            now,
        )
        .await?;
    Ok((new.id(), token))
}
