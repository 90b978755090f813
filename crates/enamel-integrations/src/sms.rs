//! SMS through Twilio's Messages API, with the checks for its inbound webhooks.
//!
//! - Sending: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, form
//!   fields `To`, `From` (or `MessagingServiceSid`) and `Body`, HTTP basic auth with
//!   the account SID and auth token, and the outbox's idempotency key in
//!   `I-Twilio-Idempotency-Token`.
//! - Inbound webhooks are authenticated by [`verify_signature`]; their bodies are
//!   sorted into opt-out, opt-in and other by [`InboundKeyword::classify`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use enamel_domain::VendorName;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use url::Url;

use crate::notify::{Delivered, SendError, SetupError, check_api_url, http_client, is_e164};

/// The vendor name of this adapter, for the BAA registry.
pub const VENDOR: &str = "twilio";
/// Twilio's API root.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";
/// Twilio's error code for a recipient who replied `STOP` (or otherwise unsubscribed).
const CODE_OPTED_OUT: u64 = 21610;

/// Who a message is sent as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwilioSender {
    /// A Twilio number in E.164 (`From`).
    From(String),
    /// A Messaging Service (`MessagingServiceSid`, `MG...`), which picks the number.
    MessagingService(String),
}

/// Where and as whom to send SMS through Twilio.
#[derive(Debug, Clone)]
pub struct TwilioSettings {
    /// [`DEFAULT_BASE_URL`] in production; a local server in tests.
    pub base_url: Url,
    /// `AC...`
    pub account_sid: String,
    pub auth_token: SecretString,
    pub sender: TwilioSender,
}

impl TwilioSettings {
    /// Settings against Twilio's own API.
    #[must_use]
    pub fn new(account_sid: String, auth_token: SecretString, sender: TwilioSender) -> Self {
        Self {
            base_url: Url::parse(DEFAULT_BASE_URL).unwrap_or_else(|_| unreachable!()),
            account_sid,
            auth_token,
            sender,
        }
    }
}

/// Twilio's Messages API.
#[derive(Debug, Clone)]
pub struct Twilio {
    client: reqwest::Client,
    messages_url: Url,
    account_sid: String,
    auth_token: SecretString,
    sender: TwilioSender,
    vendor: VendorName,
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

#[derive(Deserialize)]
struct Failure {
    code: Option<u64>,
}

impl Twilio {
    /// Checks the settings and builds the HTTP client.
    pub fn new(settings: TwilioSettings) -> Result<Self, SetupError> {
        check_api_url("base_url", &settings.base_url)?;
        let sid_ok = |sid: &str, prefix: &str| {
            sid.len() == 34
                && sid.starts_with(prefix)
                && sid.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if !sid_ok(&settings.account_sid, "AC") {
            return Err(SetupError::invalid(
                "account_sid",
                "must be AC and 32 characters",
            ));
        }
        match &settings.sender {
            TwilioSender::From(number) if !is_e164(number) => {
                return Err(SetupError::invalid("from", "must be an E.164 number"));
            }
            TwilioSender::MessagingService(sid) if !sid_ok(sid, "MG") => {
                return Err(SetupError::invalid(
                    "messaging_service_sid",
                    "must be MG and 32 characters",
                ));
            }
            _ => {}
        }
        let mut messages_url = settings.base_url.clone();
        messages_url
            .path_segments_mut()
            .map_err(|()| SetupError::invalid("base_url", "cannot be a base"))?
            .pop_if_empty()
            .extend([
                "2010-04-01",
                "Accounts",
                &settings.account_sid,
                "Messages.json",
            ]);
        Ok(Self {
            client: http_client("Twilio")?,
            messages_url,
            account_sid: settings.account_sid,
            auth_token: settings.auth_token,
            sender: settings.sender,
            vendor: VendorName::parse(VENDOR).map_err(|_| SetupError::invalid("vendor", "bad"))?,
        })
    }

    /// `twilio`, for the BAA gate.
    #[must_use]
    pub fn vendor(&self) -> &VendorName {
        &self.vendor
    }

    /// Sends one SMS. Returns the message SID once Twilio has queued it.
    ///
    /// Twilio error 21610 (the recipient unsubscribed) is [`SendError::OptedOut`];
    /// 429, 5xx and timeouts are transient; other 4xx are permanent with code
    /// `twilio-<Twilio's error code>`.
    #[tracing::instrument(skip_all, fields(vendor = VENDOR))]
    pub async fn send(
        &self,
        to_e164: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<Delivered, SendError> {
        if !is_e164(to_e164) {
            return Err(SendError::permanent("invalid-recipient"));
        }
        let sender = match &self.sender {
            TwilioSender::From(number) => ("From", number.as_str()),
            TwilioSender::MessagingService(sid) => ("MessagingServiceSid", sid.as_str()),
        };
        let response = self
            .client
            .post(self.messages_url.clone())
            .basic_auth(&self.account_sid, Some(self.auth_token.expose_secret()))
            .header("I-Twilio-Idempotency-Token", idempotency_key)
            .form(&[("To", to_e164), sender, ("Body", body)])
            .send()
            .await
            .map_err(|err| SendError::from_http(VENDOR, &err))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| SendError::from_http(VENDOR, &err))?;
        let result = if status.is_success() {
            serde_json::from_slice::<Created>(&bytes)
                .map(|created| Delivered {
                    provider_id: created.sid,
                })
                .map_err(|_| SendError::transient("twilio-unreadable-response"))
        } else {
            let code = serde_json::from_slice::<Failure>(&bytes)
                .ok()
                .and_then(|failure| failure.code);
            Err(classify(status, code))
        };
        match &result {
            Ok(delivered) => tracing::debug!(sid = %delivered.provider_id, "SMS queued"),
            Err(err) => tracing::warn!(error = %err, "SMS not queued"),
        }
        result
    }
}

/// A Twilio error response as a send error.
fn classify(status: reqwest::StatusCode, code: Option<u64>) -> SendError {
    let code_text = code.map_or_else(
        || format!("twilio-http-{}", status.as_u16()),
        |code| format!("twilio-{code}"),
    );
    if code == Some(CODE_OPTED_OUT) {
        SendError::OptedOut
    } else if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        SendError::transient(code_text)
    } else {
        SendError::permanent(code_text)
    }
}

/// Whether `header_value` (an `X-Twilio-Signature`) is Twilio's signature of a
/// webhook: base64 of HMAC-SHA1, keyed by the auth token, over `full_url` followed by
/// each distinct POST parameter's name and value, sorted by name (then value).
/// Compared in constant time.
#[must_use]
pub fn verify_signature(
    auth_token: &SecretString,
    full_url: &str,
    form_params: &[(String, String)],
    header_value: &str,
) -> bool {
    let Ok(tag) = BASE64.decode(header_value.trim()) else {
        return false;
    };
    let mut sorted: Vec<&(String, String)> = form_params.iter().collect();
    sorted.sort();
    // Twilio's own libraries sign each distinct (name, value) pair once.
    sorted.dedup();
    let mut data = String::from(full_url);
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        auth_token.expose_secret().as_bytes(),
    );
    aws_lc_rs::hmac::verify(&key, data.as_bytes(), &tag).is_ok()
}

/// What an inbound SMS asks for, by Twilio's default keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundKeyword {
    /// `STOP`, `STOPALL`, `UNSUBSCRIBE`, `CANCEL`, `END`, `QUIT`, `REVOKE`, `OPTOUT`
    /// (and `OPT OUT`: spaces inside a keyword are ignored).
    OptOut,
    /// `START`, `YES`, `UNSTOP`.
    OptIn,
    /// Anything else, including a keyword inside a longer message.
    Other,
}

impl InboundKeyword {
    /// Classifies a whole message body (trimmed, case-insensitive), as Twilio does.
    #[must_use]
    pub fn classify(body: &str) -> Self {
        const OPT_OUT: [&str; 8] = [
            "STOP",
            "STOPALL",
            "UNSUBSCRIBE",
            "CANCEL",
            "END",
            "QUIT",
            "REVOKE",
            "OPTOUT",
        ];
        const OPT_IN: [&str; 3] = ["START", "YES", "UNSTOP"];
        // "OPT OUT" and "opt  out" are OPTOUT: words joined, spaces ignored.
        let word: String = body.split_whitespace().collect();
        let word = word.as_str();
        if OPT_OUT.iter().any(|k| word.eq_ignore_ascii_case(k)) {
            Self::OptOut
        } else if OPT_IN.iter().any(|k| word.eq_ignore_ascii_case(k)) {
            Self::OptIn
        } else {
            Self::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_matched_whole_trimmed_and_case_insensitively() {
        assert_eq!(InboundKeyword::classify(" stop\n"), InboundKeyword::OptOut);
        assert_eq!(InboundKeyword::classify("OptOut"), InboundKeyword::OptOut);
        assert_eq!(InboundKeyword::classify("Opt Out"), InboundKeyword::OptOut);
        assert_eq!(InboundKeyword::classify(" revoke "), InboundKeyword::OptOut);
        assert_eq!(InboundKeyword::classify("unstop"), InboundKeyword::OptIn);
        assert_eq!(InboundKeyword::classify("Yes"), InboundKeyword::OptIn);
        assert_eq!(
            InboundKeyword::classify("please stop"),
            InboundKeyword::Other
        );
        assert_eq!(InboundKeyword::classify(""), InboundKeyword::Other);
    }

    #[test]
    fn error_responses_are_classified_by_status_and_code() {
        use reqwest::StatusCode;
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, Some(21610)),
            SendError::OptedOut
        );
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, Some(21211)),
            SendError::permanent("twilio-21211")
        );
        assert!(classify(StatusCode::TOO_MANY_REQUESTS, Some(20429)).is_transient());
        assert_eq!(
            classify(StatusCode::BAD_GATEWAY, None),
            SendError::transient("twilio-http-502")
        );
    }

    #[test]
    fn the_default_base_url_parses_and_points_at_the_messages_resource() {
        let sid = format!("AC{}", "0".repeat(32));
        let settings = TwilioSettings::new(
            sid.clone(),
            SecretString::from("t"),
            TwilioSender::From("+15125550100".to_owned()),
        );
        let twilio = Twilio::new(settings).unwrap();
        assert_eq!(
            twilio.messages_url.as_str(),
            format!("https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json")
        );
    }

    #[test]
    fn a_malformed_signature_is_refused() {
        let token = SecretString::from("token");
        assert!(!verify_signature(
            &token,
            "https://x.test/",
            &[],
            "not base64!"
        ));
        assert!(!verify_signature(&token, "https://x.test/", &[], ""));
    }
}
