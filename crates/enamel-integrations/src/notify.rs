//! What the notification adapters (email, SMS, fax) share: the outcome of a send and
//! the setup errors of their constructors.
//!
//! No error here carries a recipient, a message body or a vendor's response text
//! (which may echo either): only vendor error codes and HTTP statuses.

use std::time::Duration;

/// How long one HTTP call to a vendor may take in all, before it counts as transient.
pub(crate) const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting to a vendor may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A send that did not go through, classified for the outbox.
///
/// `code` is a stable, PHI-free token such as `smtp-550`, `twilio-21211`,
/// `srfax-failed` or `http-503`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later with the same idempotency key: a timeout, a refused or
    /// dropped connection, a rate limit, a vendor 5xx or an SMTP 4xx.
    #[error("transient send failure ({code})")]
    Transient { code: String },
    /// Retrying will not help: the vendor refused the request (a bad number or
    /// address, a rejected credential, a refused document).
    #[error("permanent send failure ({code})")]
    Permanent { code: String },
    /// The recipient has opted out of this channel (an SMS `STOP`); do not retry and
    /// do not send again until they opt back in.
    #[error("the recipient has opted out of this channel")]
    OptedOut,
}

impl SendError {
    /// Whether the outbox should try again later.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    pub(crate) fn transient(code: impl Into<String>) -> Self {
        Self::Transient { code: code.into() }
    }

    pub(crate) fn permanent(code: impl Into<String>) -> Self {
        Self::Permanent { code: code.into() }
    }

    /// A failed HTTP exchange, by kind only: reqwest's own message names the URL,
    /// which is harmless today but is not ours to vouch for.
    pub(crate) fn from_http(vendor: &str, err: &reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            "timeout"
        } else if err.is_connect() {
            "connect"
        } else if err.is_builder() {
            return Self::permanent(format!("{vendor}-request"));
        } else {
            "transport"
        };
        Self::transient(format!("{vendor}-{kind}"))
    }
}

/// A message the vendor accepted for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The vendor's id for it (Twilio's message SID, `SRFax`'s fax id, the email's
    /// `Message-ID`), for status callbacks and support requests.
    pub provider_id: String,
}

/// An adapter that cannot be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A setting is missing or malformed; the message names the setting, not its value.
    #[error("invalid setting `{setting}`: {reason}")]
    Invalid {
        setting: &'static str,
        reason: &'static str,
    },
    /// The HTTP or SMTP client could not be built (for example, no TLS roots).
    #[error("could not build the {what} client")]
    Client {
        what: &'static str,
        #[source]
        source: anyhow::Error,
    },
}

impl SetupError {
    pub(crate) fn invalid(setting: &'static str, reason: &'static str) -> Self {
        Self::Invalid { setting, reason }
    }
}

/// An HTTP client for a vendor API: rustls (aws-lc-rs), bounded time per call, no
/// redirects (a vendor API that redirects a POST carrying PHI is not followed).
pub(crate) fn http_client(what: &'static str) -> Result<reqwest::Client, SetupError> {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|err| SetupError::Client {
            what,
            source: err.into(),
        })
}

/// Whether a URL may be used for a vendor API: HTTPS, or plain HTTP to loopback only
/// (the tests' local servers).
pub(crate) fn check_api_url(setting: &'static str, url: &url::Url) -> Result<(), SetupError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url.host_str().unwrap_or_default()) => Ok(()),
        _ => Err(SetupError::invalid(
            setting,
            "must be https (plain http only to a loopback address)",
        )),
    }
}

/// Whether `host` names this machine: `localhost` or a loopback address.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `number` is E.164: `+`, then 8 to 15 digits, the first not 0.
pub(crate) fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// The first `n` hex digits of SHA-256 over `input`: a stable, opaque reference
/// derived from an idempotency key.
pub(crate) fn short_hash(input: &str, n: usize) -> String {
    use std::fmt::Write as _;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes());
    let mut hex = digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        });
    hex.truncate(n);
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers_are_told_from_others() {
        assert!(is_e164("+12025550100"));
        assert!(!is_e164("12025550100"));
        assert!(!is_e164("+1202555010x"));
        assert!(!is_e164("+0123456789"));
        assert!(!is_e164("+1234567"));
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for host in ["localhost", "127.0.0.1", "[::1]", "::1"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["example.com", "10.0.0.1", ""] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn error_messages_carry_only_the_code() {
        let err = SendError::permanent("twilio-21211");
        assert_eq!(err.to_string(), "permanent send failure (twilio-21211)");
        assert!(SendError::transient("http-503").is_transient());
        assert!(!SendError::OptedOut.is_transient());
    }
}
