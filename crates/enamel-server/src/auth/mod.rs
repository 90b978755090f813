//! Who is asking: session cookies and agent tokens, their expiry, the same-origin
//! check on state-changing requests, and the sign-in steps.
//!
//! A session cookie holds a random 256-bit token; the database holds its SHA-256.
//! A session ends after `sessions.idle_seconds` without a request or
//! `sessions.absolute_seconds` after sign-in, whichever is first, and the request
//! that finds it expired ends it (and audits why) before answering 401.

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use enamel_audit::entry::{Action as AuditAction, Detail, Event, Outcome, ResourceType, Scope};
use enamel_crypto::token::SecretToken;
use enamel_domain::{Actor, ActorType, User, UserStatus};
use enamel_store::{EndReason, RequestContext, Scoped, SessionRecord, SessionStage, Store};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::http::middleware::request_id::current_request_id;
use crate::{ApiError, AppState};

mod cookies;
mod origin;
pub(crate) mod sign_in;

pub(crate) use cookies::{clear_cookie, cookie_token, session_cookie};
pub(crate) use origin::same_origin;

/// How long the second-factor step may take after the password was accepted.
pub(crate) const PENDING_SECONDS: i64 = 10 * 60;

/// The request's address, user agent and correlation id, for audit events.
pub(crate) fn request_context(parts: &Parts) -> RequestContext {
    let ip_address = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    RequestContext {
        ip_address,
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect()),
        correlation_id: current_request_id(),
    }
}

/// The request's [`RequestContext`], as an extractor for handlers that act before
/// anyone is signed in.
#[derive(Debug, Clone)]
pub(crate) struct Client(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(request_context(parts)))
    }
}

/// The client address as throttling keys it.
pub(crate) fn address_key(ip: Option<IpAddr>) -> String {
    format!(
        "address:{}",
        ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    )
}

/// An audit event about a person's sign-in or session, in their practice's log (the
/// platform's for an operator or an unknown account).
pub(crate) fn person_event(
    user: Option<&User>,
    action: AuditAction,
    resource_id: Option<String>,
    outcome: Outcome,
    context: &RequestContext,
    now: OffsetDateTime,
) -> Event {
    Event {
        timestamp: now,
        action,
        actor_id: user.map(|u| u.id.to_string()),
        actor_type: ActorType::Human,
        scope: user
            .and_then(|u| u.practice)
            .map_or(Scope::Platform, Scope::Practice),
        patient_id: None,
        resource_type: ResourceType::Session,
        resource_id,
        outcome,
        ip_address: context.ip_address,
        user_agent: context.user_agent.clone(),
        correlation_id: context.correlation_id.clone(),
        detail: std::collections::BTreeMap::new(),
    }
}

/// A signed-in person or an agent with a token: the actor of a request.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub actor: Actor,
    pub user: Option<User>,
    pub session: Option<Uuid>,
    pub context: RequestContext,
}

impl Authenticated {
    /// The repositories as this actor sees them.
    #[must_use]
    pub fn scoped<'a>(&'a self, store: &'a Store) -> Scoped<'a> {
        store.scoped(&self.actor).with_context(self.context.clone())
    }

    /// The signed-in person (pages are for people, not agents).
    pub fn person(&self) -> Result<&User, ApiError> {
        self.user.as_ref().ok_or(ApiError::Forbidden)
    }
}

/// The answer to a request that needs a sign-in and has none: a problem for the
/// API, a redirect to the sign-in page for the web UI.
fn unauthenticated(parts: &Parts, tls: bool) -> Response {
    if parts.uri.path().starts_with("/api/") {
        let mut response = ApiError::Unauthenticated.into_response();
        response
            .headers_mut()
            .insert(header::SET_COOKIE, clear_cookie(tls));
        return response;
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie(tls));
    response
}

/// Looks up an open session (every request, in every process: an ended or revoked
/// session stops working at once) and ends it if it has expired. Returns the
/// session only if it may go on; records its activity when the recorded one is
/// older than `sessions.touch_seconds`.
pub(crate) async fn resume(
    state: &AppState,
    token: &SecretToken,
    context: &RequestContext,
) -> Result<Option<SessionRecord>, ApiError> {
    let identity = state.store.identity();
    let Some(record) = identity.session(&token.digest()).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    let limits = &state.sessions;
    let age = now - record.created_at;
    let idle = now - record.last_seen_at;
    let ended = if record.user.status != UserStatus::Active {
        Some(EndReason::Deactivated)
    } else if age >= seconds(limits.absolute_seconds)
        || (record.stage == SessionStage::Password
            && age >= time::Duration::seconds(PENDING_SECONDS))
    {
        Some(EndReason::Absolute)
    } else if idle >= seconds(limits.idle_seconds) {
        Some(EndReason::Idle)
    } else {
        None
    };
    if let Some(reason) = ended {
        end_session(state, &record.user, record.id, reason, context).await?;
        return Ok(None);
    }
    // Most requests write nothing: the recorded activity moves only once it is
    // `touch_after` old, which bounds how early an idle session can end.
    if idle >= seconds(limits.touch_after()) {
        identity.touch_session(record.id, now).await?;
    }
    Ok(Some(record))
}

fn seconds(value: u64) -> time::Duration {
    time::Duration::seconds(i64::try_from(value).unwrap_or(i64::MAX))
}

/// Ends a session and audits why.
pub(crate) async fn end_session(
    state: &AppState,
    user: &User,
    session: Uuid,
    reason: EndReason,
    context: &RequestContext,
) -> Result<bool, ApiError> {
    let now = state.clock.now();
    let ended = state
        .store
        .identity()
        .end_session(user.id, session, reason, now)
        .await?;
    if ended {
        let mut event = person_event(
            Some(user),
            AuditAction::SessionEnd,
            Some(session.to_string()),
            Outcome::Success,
            context,
            now,
        );
        event
            .detail
            .insert("reason", Detail::Code(reason.as_str().to_owned()));
        state.store.audit().record(event).await?;
    }
    Ok(ended)
}

/// The bearer token of an agent, if the request carries one.
fn bearer(parts: &Parts) -> Option<SecretToken> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?.trim();
    (token.starts_with("enm_") && token.len() <= 128).then(|| SecretToken::from_client(token))
}

async fn agent(
    state: &AppState,
    token: &SecretToken,
    context: RequestContext,
) -> Result<Option<Authenticated>, ApiError> {
    let identity = state.store.identity();
    let Some(record) = identity.token(&token.digest()).await? else {
        return Ok(None);
    };
    let now = state.clock.now();
    let actor = Actor::agent(record.agent, record.practice, record.scopes.clone());
    let usable = !record.revoked && record.expires_at > now;
    let mut event = state.store.event_for(
        &actor,
        AuditAction::TokenUse,
        ResourceType::ApiToken,
        Some(record.id.to_string()),
        if usable {
            Outcome::Success
        } else {
            Outcome::Denied
        },
    );
    event.timestamp = now;
    event.ip_address = context.ip_address;
    event.user_agent.clone_from(&context.user_agent);
    event.correlation_id.clone_from(&context.correlation_id);
    if !usable {
        let why = if record.revoked { "revoked" } else { "expired" };
        event.detail.insert("reason", Detail::Code(why.into()));
    }
    state.store.audit().record(event).await?;
    if !usable {
        return Ok(None);
    }
    identity.touch_token(record.id, now).await?;
    Ok(Some(Authenticated {
        actor,
        user: None,
        session: None,
        context,
    }))
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let context = request_context(parts);
        if let Some(token) = bearer(parts) {
            return match agent(state, &token, context).await {
                Ok(Some(found)) => Ok(found),
                Ok(None) => Err(unauthenticated(parts, state.tls)),
                Err(err) => Err(err.into_response()),
            };
        }
        let Some(token) = cookie_token(&parts.headers, state.tls) else {
            return Err(unauthenticated(parts, state.tls));
        };
        match resume(state, &token, &context).await {
            Ok(Some(record)) if record.stage == SessionStage::Active => Ok(Self {
                actor: Actor::human(&record.user),
                user: Some(record.user),
                session: Some(record.id),
                context,
            }),
            Ok(_) => Err(unauthenticated(parts, state.tls)),
            Err(err) => Err(err.into_response()),
        }
    }
}

/// A session whose password step passed and whose second factor is owed.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    pub record: SessionRecord,
    pub context: RequestContext,
}

impl FromRequestParts<AppState> for PendingSignIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let context = request_context(parts);
        let Some(token) = cookie_token(&parts.headers, state.tls) else {
            return Err(unauthenticated(parts, state.tls));
        };
        match resume(state, &token, &context).await {
            Ok(Some(record)) if record.stage == SessionStage::Password => {
                Ok(Self { record, context })
            }
            Ok(Some(_)) => Err(Redirect::to("/").into_response()),
            Ok(None) => Err(unauthenticated(parts, state.tls)),
            Err(err) => Err(err.into_response()),
        }
    }
}
