//! Email over SMTP (any relay; Amazon SES speaks SMTP too), with lettre on tokio and
//! rustls (aws-lc-rs).
//!
//! Each message carries a `Message-ID` derived from the outbox's idempotency key, so a
//! retried send is the same message to the receiving side and in the relay's logs.

use std::time::Duration;

use enamel_domain::VendorName;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};

use crate::notify::{Delivered, SendError, SetupError, is_loopback, short_hash};

/// How long one SMTP exchange (connect, each command) may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain SMTP; refused unless the host is a loopback address (a local relay).
    None,
    /// Plain connection upgraded with `STARTTLS` (port 587); the upgrade is required.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Where and as whom to send email.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// Both or neither of `username` and `password`.
    pub username: Option<SecretString>,
    pub password: Option<SecretString>,
    /// The sender, e.g. `Enamel <no-reply@example.com>`.
    pub from: String,
    /// The relay's vendor for the BAA registry, e.g. `aws-ses` or `smtp-relay`.
    pub vendor: VendorName,
}

/// An SMTP relay that sends plain-text email.
#[derive(Debug, Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    vendor: VendorName,
}

impl SmtpMailer {
    /// Checks the settings and prepares the transport; connects on first send.
    pub fn new(settings: &SmtpSettings) -> Result<Self, SetupError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|_| SetupError::invalid("from", "is not an email address"))?;
        if settings.host.is_empty() {
            return Err(SetupError::invalid("host", "is empty"));
        }
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned()).map_err(|err| SetupError::Client {
                what: "SMTP TLS",
                source: err.into(),
            })
        };
        let tls = match settings.security {
            SmtpSecurity::None if is_loopback(&settings.host) => Tls::None,
            SmtpSecurity::None => {
                return Err(SetupError::invalid(
                    "security",
                    "plain SMTP is allowed only to a loopback host",
                ));
            }
            SmtpSecurity::StartTls => Tls::Required(tls(&settings.host)?),
            SmtpSecurity::Tls => Tls::Wrapper(tls(&settings.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        match (&settings.username, &settings.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(
                    user.expose_secret().to_owned(),
                    password.expose_secret().to_owned(),
                ));
            }
            (None, None) => {}
            _ => {
                return Err(SetupError::invalid(
                    "username",
                    "username and password go together",
                ));
            }
        }
        Ok(Self {
            transport: builder.build(),
            from,
            vendor: settings.vendor.clone(),
        })
    }

    /// The relay's vendor, for the BAA gate.
    #[must_use]
    pub fn vendor(&self) -> &VendorName {
        &self.vendor
    }

    /// Sends one plain-text message. The `Message-ID` is derived from
    /// `idempotency_key` (see [`message_id`]), so a retry is recognisable downstream.
    ///
    /// SMTP 4xx replies, timeouts and connection failures are transient; 5xx replies
    /// and an unparseable recipient are permanent.
    #[tracing::instrument(skip_all, fields(vendor = %self.vendor))]
    pub async fn send(
        &self,
        to: &str,
        subject: &str,
        text_body: &str,
        idempotency_key: &str,
    ) -> Result<Delivered, SendError> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| SendError::permanent("invalid-recipient"))?;
        let id = message_id(idempotency_key, self.from.email.domain());
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(id.clone()))
            .header(ContentType::TEXT_PLAIN)
            .body(text_body.to_owned())
            .map_err(|_| SendError::permanent("invalid-message"))?;
        match self.transport.send(message).await {
            Ok(_) => {
                tracing::debug!("email accepted by the relay");
                Ok(Delivered { provider_id: id })
            }
            Err(err) => {
                let err = classify(&err);
                tracing::warn!(error = %err, "email not accepted");
                Err(err)
            }
        }
    }
}

/// The `Message-ID` for an idempotency key: `<enamel.KEY@DOMAIN>` when the key is
/// made of letters, digits, `-` and `_` (at most 100), else the key's SHA-256 (hex)
/// in its place. `DOMAIN` is the sender's domain.
#[must_use]
pub fn message_id(idempotency_key: &str, domain: &str) -> String {
    let safe = (1..=100).contains(&idempotency_key.len())
        && idempotency_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let local = if safe {
        idempotency_key.to_owned()
    } else {
        short_hash(idempotency_key, 64)
    };
    format!("<enamel.{local}@{domain}>")
}

/// An SMTP failure as a send error: the reply code only, never the reply text (a
/// relay may quote the recipient back).
fn classify(err: &lettre::transport::smtp::Error) -> SendError {
    let code = err.status().map(|code| code.to_string());
    if err.is_permanent() {
        SendError::permanent(format!("smtp-{}", code.as_deref().unwrap_or("5xx")))
    } else if err.is_transient() {
        SendError::transient(format!("smtp-{}", code.as_deref().unwrap_or("4xx")))
    } else if err.is_timeout() {
        SendError::transient("smtp-timeout")
    } else if err.is_tls() {
        SendError::transient("smtp-tls")
    } else if err.is_client() {
        SendError::permanent("smtp-client")
    } else {
        SendError::transient("smtp-connection")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(host: &str, security: SmtpSecurity) -> SmtpSettings {
        SmtpSettings {
            host: host.to_owned(),
            port: 2525,
            security,
            username: None,
            password: None,
            from: "Enamel <no-reply@enamel.test>".to_owned(),
            vendor: VendorName::parse("smtp-relay").unwrap(),
        }
    }

    #[test]
    fn plain_smtp_is_refused_to_a_remote_host() {
        assert!(SmtpMailer::new(&settings("127.0.0.1", SmtpSecurity::None)).is_ok());
        assert!(SmtpMailer::new(&settings("smtp.example.com", SmtpSecurity::None)).is_err());
        assert!(SmtpMailer::new(&settings("smtp.example.com", SmtpSecurity::StartTls)).is_ok());
    }

    #[test]
    fn a_username_without_a_password_is_refused() {
        let mut half = settings("127.0.0.1", SmtpSecurity::None);
        half.username = Some(SecretString::from("user"));
        assert!(SmtpMailer::new(&half).is_err());
    }

    #[test]
    fn message_ids_are_stable_and_hash_unsafe_keys() {
        assert_eq!(message_id("n-1_a", "x.test"), "<enamel.n-1_a@x.test>");
        let hashed = message_id("a b@c", "x.test");
        assert_eq!(hashed, message_id("a b@c", "x.test"));
        assert!(!hashed.contains("a b"));
        assert_eq!(hashed.len(), "<enamel.@x.test>".len() + 64);
    }
}
