//! The patient portal: a signed, single-use link opens a short session on a
//! phone-friendly page with the referral's status and the specialist's contact
//! details, and nothing clinical. Expired, forged and reused links all get the same
//! friendly page saying how to get a new one.

use crate::extract::Id;
use crate::extract::Json;
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use enamel_crypto::link::SignedLink;
use enamel_crypto::token::SecretToken;
use enamel_domain::{ReferralId, ReferralStatus};
use serde::Serialize;
use time::Duration;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::{ApiError, AppState};

const PORTAL_COOKIE: &str = "enamel_portal";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/referrals/{id}/portal-link", post(send_link))
        .route("/p/{token}", get(open_link))
        .route("/portal", get(portal))
}

struct ViewModel {
    first_name: String,
    status_label: &'static str,
    specialist_name: String,
    specialist_address: String,
    specialist_phone: String,
    referrer_name: String,
    next_step: &'static str,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage {
    view: Option<ViewModel>,
}

const fn next_step(status: ReferralStatus) -> &'static str {
    match status {
        ReferralStatus::Draft
        | ReferralStatus::Sent
        | ReferralStatus::Received
        | ReferralStatus::Accepted => "Please call the specialist's office to book your visit.",
        ReferralStatus::Scheduled => {
            "Your visit is booked. Call the specialist's office if you need to change it."
        }
        ReferralStatus::Completed | ReferralStatus::ReportSent | ReferralStatus::Closed => {
            "Your visit is done. Your dentist will follow up with you."
        }
        ReferralStatus::Declined | ReferralStatus::Cancelled => {
            "This referral is no longer active. Please call your dentist's office."
        }
    }
}

fn render(view: Option<ViewModel>) -> Response {
    let status = if view.is_some() {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    let page = PortalPage { view };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A queued portal link: when it expires; never the link or the patient's address.
#[derive(Serialize, utoipa::ToSchema)]
struct PortalLinkQueued {
    /// Always true: the message is queued, not yet sent.
    queued: bool,
    expires_at: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/referrals/{id}/portal-link",
    tag = "referrals",
    summary = "Send the patient a signed portal link (24 hours, single use)",
    params(("id" = String, Path, description = "Referral id")),
    responses(
        (status = 202, description = "Queued", body = PortalLinkQueued),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn send_link(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
) -> Result<(StatusCode, Json<PortalLinkQueued>), ApiError> {
    let expires_at = issue_link(&state, &auth, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PortalLinkQueued {
            queued: true,
            expires_at: expires_at.to_string(),
        }),
    ))
}

/// Signs a portal link for the referral's patient, valid for 24 hours, and queues
/// it to them; answers when it expires.
pub(crate) async fn issue_link(
    state: &AppState,
    auth: &Authenticated,
    id: ReferralId,
) -> Result<time::OffsetDateTime, ApiError> {
    let now = state.clock.now();
    let expires_at = now + Duration::hours(24);
    let link = Uuid::now_v7();
    let token = state.store.link_signer().await?.sign(SignedLink {
        id: link,
        expires_at: expires_at.unix_timestamp(),
    });
    auth.scoped(&state.store)
        .send_portal_link(id, link, &format!("/p/{token}"), expires_at, now)
        .await?;
    Ok(expires_at)
}

async fn open_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let Some(link) = state.store.link_signer().await?.verify(&token) else {
        return Ok(render(None));
    };
    if link.expires_at <= now.unix_timestamp() {
        return Ok(render(None));
    }
    let session = SecretToken::generate("enp_");
    let Some(_) = state
        .store
        .open_portal_link(link.id, &session.digest(), now)
        .await?
    else {
        return Ok(render(None));
    };
    let view = view_for(&state, &session.digest()).await?;
    let mut response = render(view);
    let secure = if state.tls { "; Secure" } else { "" };
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{PORTAL_COOKIE}={}; Path=/portal; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        session.expose(),
        enamel_store::PORTAL_SESSION_MINUTES * 60
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

async fn portal(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == PORTAL_COOKIE)
        .map(|(_, value)| SecretToken::from_client(value));
    let Some(token) = token else {
        return Ok(render(None));
    };
    Ok(render(view_for(&state, &token.digest()).await?))
}

async fn view_for(state: &AppState, digest: &[u8; 32]) -> Result<Option<ViewModel>, ApiError> {
    let Some(view) = state.store.portal_view(digest, state.clock.now()).await? else {
        return Ok(None);
    };
    Ok(Some(ViewModel {
        first_name: view.first_name.expose().clone(),
        status_label: view.status.label(),
        specialist_name: view.specialist_name,
        specialist_address: view.specialist_address,
        specialist_phone: view.specialist_phone,
        referrer_name: view.referrer_name,
        next_step: next_step(view.status),
    }))
}
