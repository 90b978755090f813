//! The identity and access API under `/api/v1`: the same capabilities as the web
//! pages, for programs and agents. Every operation goes through the actor-scoped
//! repository, which asks the policy decision point and audits.

pub(crate) mod agents;
pub(crate) mod compliance;
pub(crate) mod people;
pub(crate) mod sessions;

use agents::{agents, create_agent, issue_token, revoke_token};
use compliance::{access_review, alerts, break_glass, require_second_factor, sign_off};
use people::{change_role, deactivate, invite, unlock, user, users};
use sessions::{end_session, me, sessions, sign_in};

use axum::Router;
use axum::routing::{delete, get, post, put};
use enamel_domain::User;
use serde::Serialize;

use crate::AppState;
use crate::routes::web::{self};

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
pub(crate) struct AccountView {
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
