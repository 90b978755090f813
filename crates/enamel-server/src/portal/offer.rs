//! A no-show recovery offer's page (`/o/{token}`, docs/no-show-recovery.md): the
//! patient's link opens a phone-sized page with the practice, the day and time, and
//! two buttons. Opening it changes nothing (a mail scanner's fetch books no one):
//! only pressing "Book this time" (a POST) books, and the first to press wins.
//! Forged, expired, replayed and already-filled links each get their own page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use enamel_crypto::offer::{OfferLinkError, OfferToken};
use enamel_domain::OfferId;
use enamel_store::{Confirmation, LinkedOffer, OfferStatus, RequestContext, RunStatus};

use crate::{ApiError, AppState};

/// What the page shows.
#[derive(Debug, PartialEq, Eq)]
enum Shown {
    /// The offer, open: the time and the two buttons.
    Open,
    /// Booked (just now, or earlier by this link).
    Booked,
    /// Someone else took it first, or the office withdrew it.
    Taken,
    /// The patient said no to this time.
    Declined,
    /// The patient asked for no more offers for this visit.
    Stopped,
    /// The link's day, or the slot, has passed.
    Expired,
    /// The patient has another visit at that time.
    Clash,
    /// Not a link of ours, or altered.
    Invalid,
}

#[derive(Template)]
#[template(path = "offer.html")]
struct OfferPage {
    shown: Shown,
    token: String,
    practice: String,
    phone: String,
    /// The phone in E.164, for `tel:` links.
    dial: String,
    when: String,
    minutes: u16,
}

impl OfferPage {
    fn invalid() -> Self {
        Self {
            shown: Shown::Invalid,
            token: String::new(),
            practice: String::new(),
            phone: String::new(),
            dial: String::new(),
            when: String::new(),
            minutes: 0,
        }
    }

    fn of(shown: Shown, token: &str, offer: &LinkedOffer) -> Self {
        let format = time::macros::format_description!(
            "[weekday], [month repr:long] [day padding:none] at [hour repr:12 padding:none]:[minute] [period]"
        );
        let local = offer.time_zone.local(offer.starts_at);
        Self {
            shown,
            token: token.to_owned(),
            practice: offer.practice_name.clone(),
            // As the practice's patients dial it, (512) 555-0100, and for the link.
            phone: enamel_domain::PhoneNumber::parse(&offer.practice_phone)
                .map_or_else(|_| offer.practice_phone.clone(), |p| p.national()),
            dial: offer.practice_phone.clone(),
            when: local.format(&format).unwrap_or_default(),
            minutes: offer.duration.get(),
        }
    }
}

fn respond(page: &OfferPage) -> Response {
    let status = match page.shown {
        Shown::Open | Shown::Booked | Shown::Declined | Shown::Stopped => StatusCode::OK,
        Shown::Taken | Shown::Clash => StatusCode::CONFLICT,
        Shown::Expired => StatusCode::GONE,
        Shown::Invalid => StatusCode::NOT_FOUND,
    };
    let mut response = match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    // The token is in the address: it must not be kept by a cache (the referrer
    // policy, same-origin, is every page's).
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The offer a token names, if its signature holds for the offer's slot; else the
/// page to show instead.
async fn checked(
    state: &AppState,
    token: &str,
) -> Result<Result<LinkedOffer, OfferPage>, ApiError> {
    let Ok(parsed) = OfferToken::parse(token) else {
        return Ok(Err(OfferPage::invalid()));
    };
    let Some(offer) = state
        .store
        .linked_offer(OfferId::from_uuid(parsed.offer))
        .await?
    else {
        return Ok(Err(OfferPage::invalid()));
    };
    let now = state.clock.now().unix_timestamp();
    match state
        .store
        .offer_signer()
        .await?
        .verify(&parsed, offer.run.as_uuid(), now)
    {
        Ok(_) => Ok(Ok(offer)),
        Err(OfferLinkError::Expired) => {
            // A booked patient's link keeps saying so after it expires.
            let shown = if offer.won {
                Shown::Booked
            } else {
                Shown::Expired
            };
            Ok(Err(OfferPage::of(shown, token, &offer)))
        }
        Err(_) => Ok(Err(OfferPage::invalid())),
    }
}

/// For a practice on Open Dental, whether the slot is still free there (read again
/// before booking); a slot filled outside Enamel withdraws the run.
async fn slot_free(state: &AppState, offer: &LinkedOffer) -> Result<bool, ApiError> {
    if offer.offer_status != OfferStatus::Sent || offer.run_status != RunStatus::Open {
        return Ok(true);
    }
    Ok(enamel_agents::jobs::recovery::slot_free_in_pms(&state.store, &state.pms, offer).await?)
}

/// Where an offer stands, as its page shows it.
fn standing(offer: &LinkedOffer) -> Shown {
    if offer.won {
        return Shown::Booked;
    }
    match (offer.offer_status, offer.run_status) {
        (OfferStatus::Sent, RunStatus::Open) => Shown::Open,
        (OfferStatus::Declined, _) => Shown::Declined,
        (OfferStatus::Expired, _) | (_, RunStatus::Expired) => Shown::Expired,
        _ => Shown::Taken,
    }
}

/// Opening the link: shows the offer; changes nothing.
pub(super) async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let offer = match checked(&state, &token).await? {
        Ok(offer) => offer,
        Err(page) => return Ok(respond(&page)),
    };
    Ok(respond(&OfferPage::of(standing(&offer), &token, &offer)))
}

#[derive(serde::Deserialize)]
pub(super) struct Answer {
    #[serde(default)]
    answer: String,
}

/// The patient's answer: `book`, `decline` (this time) or `stop` (no more offers
/// for this visit).
pub(super) async fn answer(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    crate::http::extract::Form(form): crate::http::extract::Form<Answer>,
) -> Result<Response, ApiError> {
    let offer = match checked(&state, &token).await? {
        Ok(offer) => offer,
        Err(page) => return Ok(respond(&page)),
    };
    let context = RequestContext {
        ip_address: None,
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(200).collect()),
        correlation_id: None,
    };
    let shown = match form.answer.as_str() {
        "book" if !slot_free(&state, &offer).await? => {
            state.store.withdraw_filled_outside(&offer).await?;
            Shown::Taken
        }
        "book" => match state.store.confirm_offer(&offer, context).await? {
            Confirmation::Booked(_) => {
                // A written note of the booking, when the day's limit allows.
                if let Err(err) = state.store.confirm_booking_to_patient(&offer).await {
                    tracing::warn!(error = %err, "queuing a booking's confirmation failed");
                }
                Shown::Booked
            }
            Confirmation::AlreadyBooked => Shown::Booked,
            Confirmation::Taken => Shown::Taken,
            Confirmation::Closed => standing(&offer),
            Confirmation::Clash => Shown::Clash,
        },
        "decline" => {
            if state.store.decline_offer(&offer, false, context).await? {
                Shown::Declined
            } else {
                standing(&offer)
            }
        }
        "stop" => {
            state.store.decline_offer(&offer, true, context).await?;
            Shown::Stopped
        }
        _ => {
            return Err(ApiError::InvalidInput(enamel_domain::InvalidValue::new(
                "answer",
                "must be book, decline or stop",
            )));
        }
    };
    Ok(respond(&OfferPage::of(shown, &token, &offer)))
}
