//! The identity and access API under `/api/v1`: the same capabilities as the web
//! pages, for programs and agents. Every operation goes through the actor-scoped
//! repository, which asks the policy decision point and audits.

use crate::extract::Json;
use crate::extract::{Id, parse_id};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use enamel_crypto::token::SecretToken;
use enamel_domain::{AgentId, PatientId, Role, User};
use enamel_policy::Action;
use enamel_store::BreakGlassReason;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::sign_in::{self, PasswordStep};
use crate::auth::{Authenticated, Client, session_cookie};
use crate::routes::web::{self, InviteForm, ReviewLine, authorize_self, review_lines, when};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sessions", post(sign_in).get(sessions))
        .route("/api/v1/sessions/{id}", delete(end_session))
        .route("/api/v1/me", get(me))
        .route("/api/v1/users", get(users))
        .route("/api/v1/users/{id}", get(user))
        .route("/api/v1/users/{id}/role", put(change_role))
        .route("/api/v1/users/{id}/deactivate", post(deactivate))
        .route("/api/v1/users/{id}/unlock", post(unlock))
        .route("/api/v1/invitations", post(invite))
        .route("/api/v1/agents", get(agents).post(create_agent))
        .route("/api/v1/agents/{id}/tokens", post(issue_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/access-review", get(access_review))
        .route("/api/v1/access-review.csv", get(web::access_review_csv))
        .route("/api/v1/access-review/sign-off", post(sign_off))
        .route("/api/v1/break-glass", post(break_glass))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/practice/second-factor", put(require_second_factor))
}

/// An account as the API shows it: never the password hash, a second factor or a token.
#[derive(Serialize, utoipa::ToSchema)]
struct AccountView {
    id: String,
    practice_id: Option<String>,
    email: String,
    display_name: String,
    role: &'static str,
    status: &'static str,
}

impl From<&User> for AccountView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            practice_id: user.practice.map(|p| p.to_string()),
            email: user.email.as_str().to_owned(),
            display_name: user.display_name.as_str().to_owned(),
            role: user.role.as_str(),
            status: user.status.as_str(),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct SignIn {
    email: String,
    password: String,
}

/// A password sign-in's answer: what is owed next; never the session token (cookie only).
#[derive(Serialize, utoipa::ToSchema)]
struct SignedIn {
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
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
async fn sign_in(
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
enum Me {
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
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn me(auth: Authenticated) -> Json<Me> {
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
struct SessionList {
    sessions: Vec<SessionView>,
}

/// One session as its owner sees it: never its token or the full user agent.
#[derive(Serialize, utoipa::ToSchema)]
struct SessionView {
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
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn sessions(
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
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn end_session(
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

/// The practice's accounts.
#[derive(Serialize, utoipa::ToSchema)]
struct AccountList {
    users: Vec<AccountView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "identity",
    summary = "The practice's accounts",
    responses(
        (status = 200, description = "Accounts", body = AccountList),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn users(
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
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn user(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<enamel_domain::UserId>,
) -> Result<Json<AccountView>, ApiError> {
    let user = auth.scoped(&state.store).account(id).await?;
    Ok(Json(AccountView::from(&user)))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RoleChange {
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
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn change_role(
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
struct Deactivated {
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
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn deactivate(
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
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn unlock(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<enamel_domain::UserId>,
) -> Result<StatusCode, ApiError> {
    auth.scoped(&state.store).unlock(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new invitation's link path, shown only in this answer (Enamel keeps only a digest).
#[derive(Serialize, utoipa::ToSchema)]
struct InvitationLink {
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
    request_body = crate::routes::web::InviteForm,
    responses(
        (status = 201, description = "The invitation link, shown once", body = InvitationLink),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflicts with the current state", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn invite(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(form): Json<InviteForm>,
) -> Result<(StatusCode, Json<InvitationLink>), ApiError> {
    let (id, token) = web::create_invitation(&state, &auth, &form).await?;
    Ok((
        StatusCode::CREATED,
        Json(InvitationLink {
            user_id: id.to_string(),
            invitation_path: format!("/invitations/{}", token.expose()),
            expires_in_hours: web::INVITATION_HOURS,
        }),
    ))
}

/// The practice's agent service accounts.
#[derive(Serialize, utoipa::ToSchema)]
struct AgentList {
    agents: Vec<AgentView>,
}

/// An agent service account and its tokens.
#[derive(Serialize, utoipa::ToSchema)]
struct AgentView {
    id: String,
    name: String,
    tokens: Vec<AgentTokenView>,
}

/// An agent token as its practice sees it: never the token itself.
#[derive(Serialize, utoipa::ToSchema)]
struct AgentTokenView {
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
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn agents(
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
struct NewAgent {
    name: String,
}

/// A new agent service account's id; it has no token until one is issued.
#[derive(Serialize, utoipa::ToSchema)]
struct AgentCreated {
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
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn create_agent(
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
const AGENT_SCOPES: [Action; 1] = [Action::PatientRead];

#[derive(Deserialize, utoipa::ToSchema)]
struct NewToken {
    scopes: Vec<String>,
    /// At most 90 days; 30 if not given.
    expires_in_days: Option<i64>,
}

/// A new agent token: the only time it is shown (Enamel keeps only its digest).
#[derive(Serialize, utoipa::ToSchema)]
struct IssuedToken {
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
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn issue_token(
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
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn revoke_token(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<Uuid>,
) -> Result<StatusCode, ApiError> {
    auth.scoped(&state.store)
        .revoke_token(id, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The access review: one row per account of the practice (staff, never patients).
#[derive(Serialize, utoipa::ToSchema)]
struct AccessReview {
    accounts: Vec<ReviewLine>,
}

#[utoipa::path(
    get,
    path = "/api/v1/access-review",
    tag = "compliance",
    summary = "The access review: every account with role, status, MFA, last sign-in and last PHI access",
    responses(
        (status = 200, description = "Review rows", body = AccessReview),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn access_review(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<AccessReview>, ApiError> {
    let accounts = review_lines(&state, &auth).await?;
    Ok(Json(AccessReview { accounts }))
}

#[utoipa::path(
    post,
    path = "/api/v1/access-review/sign-off",
    tag = "compliance",
    summary = "Sign off the access review",
    responses(
        (status = 204, description = "Recorded"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn sign_off(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    web::sign_off_review(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
struct BreakGlass {
    patient_id: String,
    reason: String,
    note: String,
}

use crate::routes::patient_record::BREAK_GLASS_MINUTES;

/// A break-glass grant: its id and how long it lasts; never the dentist's note.
#[derive(Serialize, utoipa::ToSchema)]
struct BreakGlassGrant {
    grant_id: String,
    expires_in_minutes: i64,
}

#[utoipa::path(
    post,
    path = "/api/v1/break-glass",
    tag = "identity",
    summary = "Emergency access to a restricted patient (dentists; 60 minutes; audited, alerts the security officer)",
    request_body = BreakGlass,
    responses(
        (status = 201, description = "The grant", body = BreakGlassGrant),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn break_glass(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<BreakGlass>,
) -> Result<(StatusCode, Json<BreakGlassGrant>), ApiError> {
    let patient = parse_id::<PatientId>(&body.patient_id)?;
    let reason = BreakGlassReason::parse(&body.reason).ok_or_else(|| {
        ApiError::Rejected(
            "reason is one of emergency_treatment, covering_provider, patient_request, other"
                .into(),
        )
    })?;
    let grant = auth
        .scoped(&state.store)
        .break_glass(
            patient,
            reason,
            &body.note,
            BREAK_GLASS_MINUTES,
            state.clock.now(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(BreakGlassGrant {
            grant_id: grant.to_string(),
            expires_in_minutes: BREAK_GLASS_MINUTES,
        }),
    ))
}

/// The practice's security alerts.
#[derive(Serialize, utoipa::ToSchema)]
struct AlertList {
    alerts: Vec<AlertView>,
}

/// One security alert: ids and a kind only, never a patient's details.
#[derive(Serialize, utoipa::ToSchema)]
struct AlertView {
    id: String,
    /// What happened, e.g. `lockout` or `break_glass`.
    kind: String,
    /// The account the alert is about.
    subject_id: String,
    /// What it refers to (a break-glass grant), if anything.
    reference_id: Option<String>,
    created_at: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "compliance",
    summary = "Security alerts (lockouts, break-glass)",
    responses(
        (status = 200, description = "Alerts", body = AlertList),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn alerts(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<AlertList>, ApiError> {
    let alerts = auth.scoped(&state.store).alerts().await?;
    Ok(Json(AlertList {
        alerts: alerts
            .into_iter()
            .map(|a| AlertView {
                id: a.id.to_string(),
                kind: a.kind,
                subject_id: a.subject.to_string(),
                reference_id: a.reference.map(|r| r.to_string()),
                created_at: when(a.created_at),
            })
            .collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RequireSecondFactor {
    all_roles: bool,
}

#[utoipa::path(
    put,
    path = "/api/v1/practice/second-factor",
    tag = "identity",
    summary = "Require a second factor for every role of the practice",
    request_body = RequireSecondFactor,
    responses(
        (status = 204, description = "Saved"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn require_second_factor(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<RequireSecondFactor>,
) -> Result<StatusCode, ApiError> {
    auth.scoped(&state.store)
        .set_require_mfa(body.all_roles)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
