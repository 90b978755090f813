//! The API of agent service accounts and their tokens.

use crate::auth::Authenticated;
use crate::http::extract::Id;
use crate::http::extract::Json;
use crate::http::when;
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use enamel_crypto::token::SecretToken;
use enamel_domain::AgentId;
use enamel_policy::Action;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The practice's agent service accounts.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AgentList {
    agents: Vec<AgentView>,
}

/// An agent service account and its tokens.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AgentView {
    id: String,
    name: String,
    tokens: Vec<AgentTokenView>,
}

/// An agent token as its practice sees it: never the token itself.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AgentTokenView {
    id: String,
    scopes: Vec<String>,
    created_at: String,
    expires_at: String,
    revoked: bool,
    last_used_at: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/agents",
    tag = "identity",
    summary = "The practice's agent service accounts",
    responses(
        (status = 200, description = "Agents", body = AgentList),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn agents(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<AgentList>, ApiError> {
    let agents = auth.scoped(&state.store).agents().await?;
    Ok(Json(AgentList {
        agents: agents
            .into_iter()
            .map(|a| AgentView {
                id: a.id.to_string(),
                name: a.name,
                tokens: a
                    .tokens
                    .into_iter()
                    .map(|t| AgentTokenView {
                        id: t.id.to_string(),
                        scopes: t.scopes,
                        created_at: when(t.created_at),
                        expires_at: when(t.expires_at),
                        revoked: t.revoked,
                        last_used_at: t.last_used_at.map(when),
                    })
                    .collect(),
            })
            .collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewAgent {
    name: String,
}

/// A new agent service account's id; it has no token until one is issued.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AgentCreated {
    id: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/agents",
    tag = "identity",
    summary = "Create an agent service account",
    request_body = NewAgent,
    responses(
        (status = 201, description = "The agent", body = AgentCreated),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn create_agent(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<NewAgent>,
) -> Result<(StatusCode, Json<AgentCreated>), ApiError> {
    let id = auth
        .scoped(&state.store)
        .create_agent(&body.name, state.clock.now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AgentCreated { id: id.to_string() }),
    ))
}

/// The scopes an agent token may carry: the actions the policies permit agents.
pub(super) const AGENT_SCOPES: [Action; 1] = [Action::PatientRead];

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct NewToken {
    scopes: Vec<String>,
    /// At most 90 days; 30 if not given.
    expires_in_days: Option<i64>,
}

/// A new agent token: the only time it is shown (Enamel keeps only its digest).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct IssuedToken {
    id: String,
    token: String,
    expires_at: String,
}

/// Issues a token; the answer is the only time the token is shown.
#[utoipa::path(
    post,
    path = "/api/v1/agents/{id}/tokens",
    tag = "identity",
    summary = "Issue an agent token (shown once)",
    request_body = NewToken,
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 201, description = "The token, shown only now", body = IssuedToken),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn issue_token(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(agent): Id<AgentId>,
    Json(body): Json<NewToken>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let mut scopes = Vec::new();
    for scope in &body.scopes {
        match Action::parse(scope).filter(|a| AGENT_SCOPES.contains(a)) {
            Some(action) => scopes.push(action),
            None => {
                return Err(ApiError::Rejected(
                    "an agent token's scopes are chosen from: patient.read".into(),
                ));
            }
        }
    }
    let days = body.expires_in_days.unwrap_or(30);
    if !(1..=90).contains(&days) {
        return Err(ApiError::Rejected("a token expires in 1 to 90 days".into()));
    }
    let token = SecretToken::generate("enm_");
    let now = state.clock.now();
    let expires_at = now + time::Duration::days(days);
    let id = auth
        .scoped(&state.store)
        .issue_token(agent, &scopes, &token.digest(), expires_at, now)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            id: id.to_string(),
            token: token.expose().to_owned(),
            expires_at: when(expires_at),
        }),
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "identity",
    summary = "Revoke an agent token",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<Uuid>,
) -> Result<StatusCode, ApiError> {
    auth.scoped(&state.store)
        .revoke_token(id, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
