//! The patient portal: a signed, single-use link opens a short session on a
//! phone-friendly page with the referral's status and the specialist's contact
//! details, and nothing clinical. Expired, forged and reused links all get the same
//! friendly page saying how to get a new one.

use crate::{ApiError, AppState};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use enamel_crypto::token::SecretToken;
use enamel_domain::ReferralStatus;

const PORTAL_COOKIE: &str = "enamel_portal";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
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
