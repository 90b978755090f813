//! Webhooks from vendors. Twilio posts each text a patient sends to our number; a
//! STOP (or START) reply changes that number's consent for every practice's patient
//! records with it, audited. Authenticated by Twilio's signature, not by a session.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use enamel_domain::PhoneNumber;
use enamel_integrations::InboundKeyword;
use enamel_integrations::sms::verify_signature;
use enamel_store::ConsentSource;

use crate::{ApiError, AppState};

pub(crate) const TWILIO_SMS_PATH: &str = "/webhooks/twilio/sms";

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(TWILIO_SMS_PATH, post(twilio_sms))
}

/// An empty `TwiML` answer: Twilio itself replies to STOP and START (its Advanced
/// Opt-Out), so Enamel sends nothing back.
fn twiml_ok() -> Response {
    let mut response =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>".into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    response
}

async fn twilio_sms(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(token) = &state.twilio_auth_token else {
        return Err(ApiError::NotFound);
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let url = format!(
        "{}{TWILIO_SMS_PATH}",
        state.public_url.trim_end_matches('/')
    );
    if !verify_signature(token, &url, &params, signature) {
        tracing::warn!("refused a Twilio webhook with a bad signature");
        return Ok(StatusCode::FORBIDDEN.into_response());
    }
    let field = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let opt_out = match InboundKeyword::classify(field("Body").unwrap_or_default()) {
        InboundKeyword::OptOut => true,
        InboundKeyword::OptIn => false,
        // Other words go to nobody: the number is not monitored (the texts say so).
        InboundKeyword::Other => return Ok(twiml_ok()),
    };
    let Some(phone) = field("From").and_then(|p| PhoneNumber::parse(p).ok()) else {
        return Ok(twiml_ok());
    };
    let changed = state
        .store
        .set_sms_opt_out(&phone, opt_out, ConsentSource::CarrierKeyword)
        .await?;
    tracing::info!(
        opt_out,
        records = changed,
        "text-message consent changed by keyword"
    );
    Ok(twiml_ok())
}
