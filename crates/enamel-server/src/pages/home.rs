//! The home page and one's own sessions (list, end one, end the others).

use super::{Chrome, PageResult, chrome, render, see_other, stamp, zone_of};
use crate::auth::Authenticated;
use crate::http::extract::Id;
use crate::services::sessions::authorize_self;
use crate::{ApiError, AppState};
use askama::Template;
use axum::extract::State;
use enamel_policy::Action;
use enamel_store::EndReason;

#[derive(Template)]
#[template(path = "home.html")]
pub(super) struct HomePage {
    chrome: Chrome,
    name: String,
    role: &'static str,
    practice: Option<String>,
    mfa_enabled: bool,
}

pub(super) async fn home(State(state): State<AppState>, auth: Authenticated) -> PageResult {
    let user = auth.person()?;
    let practice = match user.practice {
        Some(_) => Some(
            auth.scoped(&state.store)
                .own_practice()
                .await?
                .name
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let mfa_enabled = state
        .store
        .identity()
        .mfa(user)
        .await?
        .is_some_and(|m| m.confirmed);
    Ok(render(&HomePage {
        chrome: chrome(&state, Some(user)),
        name: user.display_name.as_str().to_owned(),
        role: user.role.label(),
        practice,
        mfa_enabled,
    }))
}

pub(super) struct SessionRow {
    id: String,
    created: String,
    last_seen: String,
    address: String,
    agent: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "sessions.html")]
pub(super) struct SessionsPage {
    chrome: Chrome,
    sessions: Vec<SessionRow>,
}

pub(super) async fn sessions_page(
    State(state): State<AppState>,
    auth: Authenticated,
) -> PageResult {
    let user = auth.person()?;
    authorize_self(&state, &auth, Action::SessionManage).await?;
    let sessions = state.store.identity().sessions_of(user.id).await?;
    let zone = zone_of(&state, &auth).await;
    let rows = sessions
        .into_iter()
        .map(|s| SessionRow {
            id: s.id.to_string(),
            created: stamp(s.created_at, zone.as_ref()),
            last_seen: stamp(s.last_seen_at, zone.as_ref()),
            address: s.ip_address.unwrap_or_default(),
            agent: s.user_agent.unwrap_or_default().chars().take(80).collect(),
            current: Some(s.id) == auth.session,
        })
        .collect();
    Ok(render(&SessionsPage {
        chrome: chrome(&state, Some(user)),
        sessions: rows,
    }))
}

pub(super) async fn end_session(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<uuid::Uuid>,
) -> PageResult {
    let user = auth.person()?;
    authorize_self(&state, &auth, Action::SessionManage).await?;
    if !crate::auth::end_session(&state, user, id, EndReason::Revoked, &auth.context).await? {
        return Err(ApiError::NotFound.into());
    }
    Ok(see_other(if Some(id) == auth.session {
        "/sign-in"
    } else {
        "/account/sessions"
    }))
}

pub(super) async fn end_other_sessions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> PageResult {
    let user = auth.person()?;
    authorize_self(&state, &auth, Action::SessionManage).await?;
    for session in state.store.identity().sessions_of(user.id).await? {
        if Some(session.id) != auth.session {
            crate::auth::end_session(&state, user, session.id, EndReason::Revoked, &auth.context)
                .await?;
        }
    }
    Ok(see_other("/account/sessions"))
}
