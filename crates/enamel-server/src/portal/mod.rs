//! The patient portal: a signed link, good for 24 hours, opens a short session on a
//! phone-friendly page with the referral's status, the specialist's contact details
//! and the booked visit, and nothing clinical. Opening the link shows nothing until
//! the patient's birth date is typed (so a mail scanner's fetch uses nothing up, and
//! a forwarded link shows nothing); five wrong dates lock it. Expired, forged and
//! locked links get a friendly page saying how to get a new one.

use crate::{ApiError, AppState};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use enamel_crypto::token::SecretToken;
use enamel_domain::ReferralStatus;
use enamel_store::PortalOpening;

mod offer;

const PORTAL_COOKIE: &str = "enamel_portal";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/p/{token}", get(ask_birth_date).post(open_link))
        .route("/portal", get(portal))
        .route("/o/{token}", get(offer::show).post(offer::answer))
}

struct ViewModel {
    first_name: String,
    status_label: &'static str,
    specialist_name: String,
    specialist_address: String,
    specialist_phone: String,
    referrer_name: String,
    next_step: &'static str,
    appointment: Option<String>,
}

/// What the portal page shows.
enum Shown {
    /// The birth-date question, with what went wrong the last time, if anything.
    Ask {
        token: String,
        mistake: Option<String>,
    },
    View(ViewModel),
    /// Unknown, forged or expired.
    LinkGone,
    /// Too many wrong birth dates.
    Locked,
    /// The 15-minute session is over; the link itself may still work.
    SessionOver,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage {
    shown: Shown,
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

fn render(shown: Shown) -> Response {
    let status = match &shown {
        Shown::Ask { mistake: None, .. } | Shown::View(_) => StatusCode::OK,
        Shown::Ask { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Shown::LinkGone | Shown::Locked | Shown::SessionOver => StatusCode::GONE,
    };
    match (PortalPage { shown }).render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The link's id, when its signature is good and it has not expired.
async fn verified(state: &AppState, token: &str) -> Result<Option<uuid::Uuid>, ApiError> {
    let Some(link) = state.store.link_signer().await?.verify(token) else {
        return Ok(None);
    };
    Ok((link.expires_at > state.clock.now().unix_timestamp()).then_some(link.id))
}

async fn ask_birth_date(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let Some(link) = verified(&state, &token).await? else {
        return Ok(render(Shown::LinkGone));
    };
    if !state
        .store
        .portal_link_usable(link, state.clock.now())
        .await?
    {
        return Ok(render(Shown::LinkGone));
    }
    Ok(render(Shown::Ask {
        token,
        mistake: None,
    }))
}

#[derive(serde::Deserialize)]
struct BirthDateForm {
    #[serde(default)]
    birth_date: String,
}

/// A birth date as a date field sends it (`1990-02-03`) or as typed in the US
/// order (`02/03/1990`).
fn birth_date(raw: &str) -> Option<time::Date> {
    let raw = raw.trim();
    if let Ok(date) = time::Date::parse(raw, &time::format_description::well_known::Iso8601::DATE) {
        return Some(date);
    }
    let mut parts = raw.split('/').map(str::trim);
    let (Some(month), Some(day), Some(year), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let month = time::Month::try_from(month.parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()
}

async fn open_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    crate::http::extract::Form(form): crate::http::extract::Form<BirthDateForm>,
) -> Result<Response, ApiError> {
    let Some(link) = verified(&state, &token).await? else {
        return Ok(render(Shown::LinkGone));
    };
    let Some(date) = birth_date(&form.birth_date) else {
        return Ok(render(Shown::Ask {
            token,
            mistake: Some("Enter your date of birth, for example 02/03/1990.".into()),
        }));
    };
    let session = SecretToken::generate("enp_");
    let opening = state
        .store
        .open_portal_link(link, date, &session.digest(), state.clock.now())
        .await?;
    match opening {
        PortalOpening::Opened(_) => {
            let mut response = Redirect::to("/portal").into_response();
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
        PortalOpening::WrongBirthDate { attempts_left } => Ok(render(Shown::Ask {
            token,
            mistake: Some(format!(
                "That date of birth does not match our records. {attempts_left} {} left.",
                if attempts_left == 1 { "try" } else { "tries" }
            )),
        })),
        PortalOpening::Locked => Ok(render(Shown::Locked)),
        PortalOpening::Gone => Ok(render(Shown::LinkGone)),
    }
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
        return Ok(render(Shown::SessionOver));
    };
    Ok(render(
        view_for(&state, &token.digest())
            .await?
            .map_or(Shown::SessionOver, Shown::View),
    ))
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
        appointment: view.appointment.map(|at| at.expose().clone()),
    }))
}
