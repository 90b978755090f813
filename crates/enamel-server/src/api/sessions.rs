//! The API of sessions: signing in, who is signed in, one's own sessions.

use super::AccountView;
use crate::auth::sign_in::{self, PasswordStep};
use crate::auth::{Authenticated, Client, session_cookie};
use crate::http::extract::Id;
use crate::http::extract::Json;
use crate::http::when;
use crate::services::sessions::authorize_self;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use enamel_policy::Action;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct SignIn {
    email: String,
    password: String,
}

/// A password sign-in's answer: what is owed next; never the session token (cookie only).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SignedIn {
    /// `none`, `second_factor` or `enrol_second_factor`.
    next: &'static str,
}

/// Signs in with a password. The session cookie is set; `next` says whether a
/// second factor is owed (`second_factor`, `enrol_second_factor`) or not (`none`).
#[utoipa::path(
    post,
    path = "/api/v1/sessions",
    tag = "identity",
    summary = "Sign in with a password",
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in; the session cookie is set, `next` says whether a second factor is owed", body = SignedIn),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Client(context): Client,
    Json(body): Json<SignIn>,
) -> Result<Response, ApiError> {
    let (token, next) =
        match sign_in::password(&state, &body.email, body.password, &context).await? {
            PasswordStep::SignedIn(token) => (token, "none"),
            PasswordStep::SecondFactor(token) => (token, "second_factor"),
            PasswordStep::Enrol(token) => (token, "enrol_second_factor"),
            PasswordStep::Refused => return Err(ApiError::Unauthenticated),
        };
    let mut response = Json(SignedIn { next }).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&token, state.tls));
    Ok(response)
}

/// Who the caller is, by `kind`: a person's account or an agent's scopes; never a token.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Me {
    /// A person signed in with a session.
    Person { account: AccountView },
    /// An agent calling with a token.
    Agent {
        agent_id: String,
        practice_id: Option<String>,
        scopes: Vec<String>,
    },
    /// Neither (not expected once authenticated).
    Unknown,
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "identity",
    summary = "Who is signed in",
    responses(
        (status = 200, description = "The actor", body = Me),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn me(auth: Authenticated) -> Json<Me> {
    Json(match (&auth.user, auth.actor.agent_id()) {
        (Some(user), _) => Me::Person {
            account: AccountView::from(user),
        },
        (None, Some(agent)) => Me::Agent {
            agent_id: agent.to_string(),
            practice_id: auth.actor.practice().map(|p| p.to_string()),
            scopes: auth.actor.scopes().to_vec(),
        },
        (None, None) => Me::Unknown,
    })
}

/// The signed-in person's sessions.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SessionList {
    sessions: Vec<SessionView>,
}

/// One session as its owner sees it: never its token or the full user agent.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SessionView {
    id: String,
    created_at: String,
    last_seen_at: String,
    ip_address: Option<String>,
    /// Whether this is the session making the request.
    current: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/sessions",
    tag = "identity",
    summary = "The signed-in person's sessions",
    responses(
        (status = 200, description = "Sessions", body = SessionList),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn sessions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<SessionList>, ApiError> {
    let user = auth.person()?;
    authorize_self(&state, &auth, Action::SessionManage).await?;
    let sessions = state.store.identity().sessions_of(user.id).await?;
    Ok(Json(SessionList {
        sessions: sessions
            .into_iter()
            .map(|s| SessionView {
                id: s.id.to_string(),
                created_at: when(s.created_at),
                last_seen_at: when(s.last_seen_at),
                ip_address: s.ip_address,
                current: Some(s.id) == auth.session,
            })
            .collect(),
    }))
}

#[utoipa::path(
    delete,
    path = "/api/v1/sessions/{id}",
    tag = "identity",
    summary = "End one of one's sessions",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn end_session(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<Uuid>,
) -> Result<StatusCode, ApiError> {
    let user = auth.person()?;
    authorize_self(&state, &auth, Action::SessionManage).await?;

    if crate::auth::end_session(
        &state,
        user,
        id,
        enamel_store::EndReason::Revoked,
        &auth.context,
    )
    .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
