//! Fax through `SRFax`'s web service (`Queue_Fax`).
//!
//! One form POST to `SRF_SecWebSvc.php` per fax: `action=Queue_Fax`, the account's
//! `access_id` and `access_pwd`, `sCallerID` (the sender's 10-digit fax number),
//! `sSenderEmail`, `sFaxType=SINGLE`, `sToFaxNumber` (11 digits: 1 and the 10-digit
//! North American number), `sFileName_1` and `sFileContent_1` (base64), and
//! `sResponseFormat=JSON`. `SRFax` answers `{"Status":"Success","Result":<fax id>}` or
//! `{"Status":"Failed","Result":"<error text>"}`.
//!
//! `SRFax` has no idempotency key. The key's hash goes in `sAccountCode` (`SRFax`'s
//! 20-character internal reference), so a fax sent twice after a lost response can be
//! found in the outbox report.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use enamel_domain::VendorName;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use url::Url;

use crate::notify::{Delivered, SendError, SetupError, check_api_url, http_client, short_hash};

/// The vendor name of this adapter, for the BAA registry.
pub const VENDOR: &str = "srfax";
/// `SRFax`'s web service.
pub const DEFAULT_BASE_URL: &str = "https://www.srfax.com/SRF_SecWebSvc.php";
/// The largest document sent, before base64 (`SRFax`'s own limits are per account).
const MAX_PDF_BYTES: usize = 20 * 1024 * 1024;

/// The `SRFax` account faxes are sent from.
#[derive(Debug, Clone)]
pub struct SrFaxSettings {
    /// [`DEFAULT_BASE_URL`] in production; a local server in tests.
    pub base_url: Url,
    /// The account number.
    pub access_id: String,
    pub access_pwd: SecretString,
    /// The sender's fax number, 10 digits.
    pub caller_id: String,
    /// Where `SRFax` sends its own notices about the account's faxes.
    pub sender_email: String,
}

impl SrFaxSettings {
    /// Settings against `SRFax`'s own service.
    #[must_use]
    pub fn new(
        access_id: String,
        access_pwd: SecretString,
        caller_id: String,
        sender_email: String,
    ) -> Self {
        Self {
            base_url: Url::parse(DEFAULT_BASE_URL).unwrap_or_else(|_| unreachable!()),
            access_id,
            access_pwd,
            caller_id,
            sender_email,
        }
    }
}

/// `SRFax`'s fax API.
#[derive(Debug, Clone)]
pub struct SrFax {
    client: reqwest::Client,
    settings: SrFaxSettings,
    vendor: VendorName,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Reply {
    status: String,
    /// A number or a string, depending on the operation.
    result: serde_json::Value,
}

fn all_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

impl SrFax {
    /// Checks the settings and builds the HTTP client.
    pub fn new(settings: SrFaxSettings) -> Result<Self, SetupError> {
        check_api_url("base_url", &settings.base_url)?;
        if settings.access_id.is_empty() || !settings.access_id.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(SetupError::invalid(
                "access_id",
                "must be the account number",
            ));
        }
        if !all_digits(&settings.caller_id, 10) {
            return Err(SetupError::invalid("caller_id", "must be 10 digits"));
        }
        if !settings.sender_email.contains('@') {
            return Err(SetupError::invalid(
                "sender_email",
                "is not an email address",
            ));
        }
        Ok(Self {
            client: http_client("SRFax")?,
            settings,
            vendor: VendorName::parse(VENDOR).map_err(|_| SetupError::invalid("vendor", "bad"))?,
        })
    }

    /// `srfax`, for the BAA gate.
    #[must_use]
    pub fn vendor(&self) -> &VendorName {
        &self.vendor
    }

    /// Queues one PDF for a North American fax number (`+1` and 10 digits). Returns
    /// `SRFax`'s fax id.
    ///
    /// `Failed` replies are permanent (`srfax-failed`; `SRFax`'s text is dropped, as it
    /// may quote the number); 5xx, timeouts and unreadable replies are transient.
    #[tracing::instrument(skip_all, fields(vendor = VENDOR))]
    pub async fn send_pdf(
        &self,
        to_fax_e164: &str,
        file_name: &str,
        pdf: &[u8],
        idempotency_key: &str,
    ) -> Result<Delivered, SendError> {
        let to = to_fax_e164
            .strip_prefix('+')
            .filter(|digits| all_digits(digits, 11) && digits.starts_with('1'))
            .ok_or_else(|| SendError::permanent("invalid-recipient"))?;
        let name_ok = file_name.len() <= 100
            && file_name.to_ascii_lowercase().ends_with(".pdf")
            && file_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            return Err(SendError::permanent("invalid-file-name"));
        }
        if pdf.is_empty() || pdf.len() > MAX_PDF_BYTES {
            return Err(SendError::permanent("invalid-document-size"));
        }
        let content = BASE64.encode(pdf);
        let reference = short_hash(idempotency_key, 20);
        let form = [
            ("action", "Queue_Fax"),
            ("access_id", self.settings.access_id.as_str()),
            ("access_pwd", self.settings.access_pwd.expose_secret()),
            ("sCallerID", self.settings.caller_id.as_str()),
            ("sSenderEmail", self.settings.sender_email.as_str()),
            ("sFaxType", "SINGLE"),
            ("sToFaxNumber", to),
            ("sAccountCode", reference.as_str()),
            ("sFileName_1", file_name),
            ("sFileContent_1", content.as_str()),
            ("sResponseFormat", "JSON"),
        ];
        let response = self
            .client
            .post(self.settings.base_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|err| SendError::from_http(VENDOR, &err))?;
        let status = response.status();
        let result = if status.is_success() {
            let bytes = response
                .bytes()
                .await
                .map_err(|err| SendError::from_http(VENDOR, &err))?;
            read_reply(&bytes)
        } else if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(SendError::transient(format!(
                "srfax-http-{}",
                status.as_u16()
            )))
        } else {
            Err(SendError::permanent(format!(
                "srfax-http-{}",
                status.as_u16()
            )))
        };
        match &result {
            Ok(delivered) => tracing::debug!(fax_id = %delivered.provider_id, "fax queued"),
            Err(err) => tracing::warn!(error = %err, "fax not queued"),
        }
        result
    }
}

/// A 2xx reply's body as the outcome of `Queue_Fax`.
fn read_reply(bytes: &[u8]) -> Result<Delivered, SendError> {
    let reply: Reply = serde_json::from_slice(bytes)
        .map_err(|_| SendError::transient("srfax-unreadable-response"))?;
    match (reply.status.as_str(), reply.result) {
        ("Success", serde_json::Value::String(id)) if !id.is_empty() => {
            Ok(Delivered { provider_id: id })
        }
        ("Success", serde_json::Value::Number(id)) => Ok(Delivered {
            provider_id: id.to_string(),
        }),
        ("Failed", _) => Err(SendError::permanent("srfax-failed")),
        _ => Err(SendError::transient("srfax-unreadable-response")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_without_echoing_the_failure_text() {
        assert_eq!(
            read_reply(br#"{"Status":"Success","Result":"389091764"}"#).unwrap(),
            Delivered {
                provider_id: "389091764".to_owned()
            }
        );
        assert_eq!(
            read_reply(br#"{"Status":"Success","Result":389091764}"#)
                .unwrap()
                .provider_id,
            "389091764"
        );
        let failed =
            read_reply(br#"{"Status":"Failed","Result":"Invalid fax number 15125550100"}"#)
                .unwrap_err();
        assert_eq!(failed, SendError::permanent("srfax-failed"));
        assert!(!failed.to_string().contains("5125550100"));
        assert!(read_reply(b"<html>").unwrap_err().is_transient());
    }

    #[test]
    fn the_default_base_url_parses() {
        let settings = SrFaxSettings::new(
            "12345".to_owned(),
            SecretString::from("pw"),
            "5125550100".to_owned(),
            "fax@enamel.test".to_owned(),
        );
        assert_eq!(settings.base_url.as_str(), DEFAULT_BASE_URL);
        assert!(SrFax::new(settings).is_ok());
    }
}
