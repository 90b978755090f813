//! A person's own sessions: listing them and ending them is authorized as an action
//! on the person's own account, the same for the API and the Sessions page.

use enamel_policy::{Action, Circumstances, Resource};
use enamel_store::AuditedAs;

use crate::auth::Authenticated;
use crate::{ApiError, AppState};

/// Asks the policy decision point about an action on the actor's own account.
pub(crate) async fn authorize_self(
    state: &AppState,
    auth: &Authenticated,
    action: Action,
) -> Result<(), ApiError> {
    let user = auth.person()?;
    auth.scoped(&state.store)
        .authorize(
            action,
            &Resource::User {
                id: user.id,
                practice: user.practice,
            },
            Circumstances::default(),
            AuditedAs::any(
                enamel_audit::entry::Action::Read,
                enamel_audit::entry::ResourceType::Session,
            ),
        )
        .await
        .map_err(Into::into)
}
