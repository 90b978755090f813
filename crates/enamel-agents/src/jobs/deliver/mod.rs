//! Notification delivery: the `deliver` job that each queued message comes with.
//! It checks the BAA registry for the vendor the message would go through, sends,
//! and records the outcome in the outbox (sent, pending for a retry, failed, or
//! refused). Retries, back-off and leases are the jobs queue's, so several workers,
//! in one process or many, never send one message twice at once.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_config::NotificationSettings;
use enamel_domain::{Actor, SystemTask, VendorName};
use enamel_integrations::{
    SendError, SmtpMailer, SmtpSecurity, SmtpSettings, SrFax, SrFaxSettings, Twilio, TwilioSender,
    TwilioSettings,
};
use enamel_store::{
    AuditedAs, Channel, ClaimedJob, DELIVER_JOB, DueMessage, OFFICE_INVITATION, Outbound,
    STAFF_INVITATION, Store, StoreError,
};
use secrecy::ExposeSecret as _;

use crate::runtime::Ran;

mod mailbox;

pub use enamel_integrations::pdf::text_pdf;
pub use mailbox::Mailbox;

/// The configured channels.
#[derive(Debug, Default)]
pub struct Senders {
    pub email: Option<SmtpMailer>,
    pub sms: Option<Twilio>,
    pub fax: Option<SrFax>,
    /// For the demo and development: every channel written to files instead.
    pub mailbox: Option<Mailbox>,
}

impl Senders {
    /// Whether any channel is configured; a worker without one leaves messages to
    /// the workers that have.
    #[must_use]
    pub const fn any(&self) -> bool {
        self.email.is_some() || self.sms.is_some() || self.fax.is_some() || self.mailbox.is_some()
    }

    /// Builds the adapters that have settings; a half-configured channel is an error
    /// that names the setting.
    pub fn from_settings(settings: &NotificationSettings) -> anyhow::Result<Self> {
        let mut senders = Self::default();
        if let (Some(host), Some(from)) = (&settings.smtp_host, &settings.smtp_from) {
            let security = match settings.smtp_security.as_deref() {
                None | Some("starttls") => SmtpSecurity::StartTls,
                Some("tls") => SmtpSecurity::Tls,
                Some("none") => SmtpSecurity::None,
                Some(_) => anyhow::bail!("notifications.smtp_security is starttls, tls or none"),
            };
            senders.email = Some(SmtpMailer::new(&SmtpSettings {
                host: host.clone(),
                port: settings.smtp_port.unwrap_or(587),
                security,
                username: None,
                password: None,
                from: from.clone(),
                vendor: VendorName::parse(settings.smtp_vendor.as_deref().unwrap_or("smtp-relay"))?,
            })?);
        }
        if let (Some(sid), Some(token), Some(from)) = (
            &settings.twilio_account_sid,
            &settings.twilio_auth_token,
            &settings.twilio_from,
        ) {
            let mut twilio = TwilioSettings::new(
                sid.clone(),
                token.expose_secret().to_owned().into(),
                TwilioSender::From(from.clone()),
            );
            if let Some(base) = &settings.twilio_base_url {
                twilio.base_url = base.parse()?;
            }
            senders.sms = Some(Twilio::new(twilio)?);
        }
        if let (Some(id), Some(password), Some(caller), Some(email)) = (
            &settings.srfax_access_id,
            &settings.srfax_access_pwd,
            &settings.srfax_caller_id,
            &settings.srfax_sender_email,
        ) {
            let mut fax = SrFaxSettings::new(
                id.clone(),
                password.expose_secret().to_owned().into(),
                caller.clone(),
                email.clone(),
            );
            if let Some(base) = &settings.srfax_base_url {
                fax.base_url = base.parse()?;
            }
            senders.fax = Some(SrFax::new(fax)?);
        }
        if let Some(dir) = &settings.mailbox_dir {
            if senders.email.is_some() || senders.sms.is_some() || senders.fax.is_some() {
                anyhow::bail!(
                    "notifications.mailbox_dir is for the demo and development: it replaces \
                     every channel, so it cannot be set beside real SMTP, Twilio or SRFax settings"
                );
            }
            senders.mailbox = Some(Mailbox::new(dir.clone())?);
        }
        Ok(senders)
    }
}

/// Runs the `deliver` jobs that are due now, as one worker named `worker`; returns
/// how many ran. For tests and tools: the runtime runs the same jobs in its loop.
pub async fn deliver_due(
    store: &Store,
    senders: &Senders,
    base_url: &str,
    worker: &str,
) -> anyhow::Result<usize> {
    let claimed = store
        .jobs()
        .claim(worker, &[DELIVER_JOB], crate::runtime::DEFAULT_LEASE, 20)
        .await?;
    let count = claimed.len();
    for job in claimed {
        let outcome = run(store, senders, base_url, &job).await;
        crate::runtime::record(store, &job, outcome).await;
    }
    Ok(count)
}

/// Runs one `deliver` job: sends the message its key names, unless it was sent,
/// failed or refused already. A temporary failure is [`Ran::Retry`] (the queue
/// tries again with back-off); on the job's last attempt the message is recorded
/// as failed first, so the practice sees it.
pub async fn run(
    store: &Store,
    senders: &Senders,
    base_url: &str,
    job: &ClaimedJob,
) -> anyhow::Result<Ran> {
    let id = uuid::Uuid::parse_str(&job.key).context("a deliver job's key is a message id")?;
    let Some(message) = store.outbox().pending(id).await? else {
        return Ok(Ran::Done);
    };
    let attempt = Attempt {
        number: job.attempt,
        last: job.attempt >= job.max_attempts,
    };
    deliver(store, senders, base_url, &message, attempt).await
}

/// Which attempt at a message this is.
#[derive(Clone, Copy, Debug)]
struct Attempt {
    number: u32,
    /// No attempt follows this one.
    last: bool,
}

pub(crate) fn vendor_of(senders: &Senders, channel: Channel) -> Option<VendorName> {
    if senders.mailbox.is_some() {
        return VendorName::parse(Mailbox::vendor(channel)).ok();
    }
    match channel {
        Channel::Email => senders.email.as_ref().map(|s| s.vendor().clone()),
        Channel::Sms => senders.sms.as_ref().map(|s| s.vendor().clone()),
        Channel::Fax => senders.fax.as_ref().map(|s| s.vendor().clone()),
    }
}

async fn deliver(
    store: &Store,
    senders: &Senders,
    base_url: &str,
    message: &DueMessage,
    attempt: Attempt,
) -> anyhow::Result<Ran> {
    let outbox = store.outbox();
    let Some(vendor) = vendor_of(senders, message.channel) else {
        return temporary(store, message, attempt, "channel_not_configured", "none").await;
    };
    // Enamel delivers as a system actor whose task the policies name, and through
    // the BAA gate at send time: no PHI to a vendor without an executed, unexpired
    // agreement in this practice's registry. A refusal is audited by the gate and
    // shown to the practice as a problem to fix.
    let actor = Actor::system_for(message.practice, SystemTask::Deliver);
    let scoped = store.scoped(&actor);
    scoped
        .authorize_in_own_practice(
            enamel_policy::Action::NoticeDeliver,
            AuditedAs::one(AuditAction::Notify, ResourceType::Notification, &message.id),
        )
        .await?;
    // A staff invitation, or an office's invitation to another office, carries no
    // PHI (an address, an office's name and a sign-up link): they are the messages
    // sent without a vendor agreement, so that a new office can be reached.
    let gate = if message.kind == STAFF_INVITATION || message.kind == OFFICE_INVITATION {
        Ok(())
    } else {
        scoped
            .require_baa(
                &vendor,
                Outbound {
                    purpose: "notice",
                    resource: ResourceType::Notification,
                    resource_id: Some(message.id.to_string()),
                    patient: message.patient,
                },
            )
            .await
    };
    match gate {
        Ok(()) => {}
        Err(StoreError::NoBaa(_)) => {
            outbox
                .refused(
                    message.id,
                    attempt.number,
                    "no_executed_baa",
                    vendor.as_str(),
                )
                .await?;
            return Ok(Ran::Done);
        }
        Err(other) => return Err(other.into()),
    }
    let sent = send(senders, base_url, message).await;
    match sent {
        Ok(delivered) => {
            outbox
                .sent(
                    message.id,
                    attempt.number,
                    vendor.as_str(),
                    &delivered.provider_id,
                )
                .await?;
            audit(store, message, &vendor, Outcome::Success, "sent").await?;
        }
        Err(SendError::Transient { code }) => {
            return temporary(store, message, attempt, &code, vendor.as_str()).await;
        }
        Err(SendError::Permanent { code }) => {
            outbox
                .failed(message.id, attempt.number, &code, vendor.as_str())
                .await?;
            audit(
                store,
                message,
                &vendor,
                Outcome::Failure,
                "permanent_failure",
            )
            .await?;
        }
        Err(SendError::OptedOut) => {
            outbox
                .refused(
                    message.id,
                    attempt.number,
                    "recipient_opted_out",
                    vendor.as_str(),
                )
                .await?;
            // The provider says the number unsubscribed: stop queuing texts to it, in
            // every practice that has it (as a STOP reply would).
            if message.channel == Channel::Sms
                && let Ok(phone) = enamel_domain::PhoneNumber::parse(message.recipient.expose())
            {
                store
                    .set_sms_opt_out(&phone, true, enamel_store::ConsentSource::ProviderRefusal)
                    .await?;
            }
        }
    }
    Ok(Ran::Done)
}

/// A temporary failure: the message stays pending for the job's next attempt, or,
/// on its last, is recorded as failed (and audited) as the job becomes a dead letter.
async fn temporary(
    store: &Store,
    message: &DueMessage,
    attempt: Attempt,
    code: &str,
    vendor: &str,
) -> anyhow::Result<Ran> {
    let outbox = store.outbox();
    if attempt.last {
        outbox
            .failed(message.id, attempt.number, code, vendor)
            .await?;
        if let Ok(vendor) = VendorName::parse(vendor) {
            audit(
                store,
                message,
                &vendor,
                Outcome::Failure,
                "attempts_exhausted",
            )
            .await?;
        }
    } else {
        outbox
            .retrying(message.id, attempt.number, code, vendor)
            .await?;
    }
    Ok(Ran::Retry(code.to_owned()))
}

/// Hands the message to the configured channel.
async fn send(
    senders: &Senders,
    base_url: &str,
    message: &DueMessage,
) -> Result<enamel_integrations::Delivered, SendError> {
    let text = message.text.expose();
    let body = text.body.replace("{base_url}", base_url);
    let recipient = message.recipient.expose();
    let key = message.id.simple().to_string();
    match (&senders.mailbox, message.channel) {
        (Some(mailbox), channel) => {
            mailbox
                .send(channel, recipient, &text.subject, &body, &key)
                .await
        }
        (None, Channel::Email) => match &senders.email {
            Some(mailer) => mailer.send(recipient, &text.subject, &body, &key).await,
            None => unreachable_channel(),
        },
        (None, Channel::Sms) => match &senders.sms {
            Some(twilio) => twilio.send(recipient, &body, &key).await,
            None => unreachable_channel(),
        },
        (None, Channel::Fax) => match &senders.fax {
            Some(fax) => {
                let pdf = text_pdf(&text.subject, &body);
                fax.send_pdf(recipient, "enamel-notice.pdf", &pdf, &key)
                    .await
            }
            None => unreachable_channel(),
        },
    }
}

fn unreachable_channel<T>() -> Result<T, SendError> {
    Err(SendError::Transient {
        code: "channel_not_configured".into(),
    })
}

async fn audit(
    store: &Store,
    message: &DueMessage,
    vendor: &VendorName,
    outcome: Outcome,
    result: &str,
) -> anyhow::Result<()> {
    let mut event = store.event_for(
        &Actor::system_for(message.practice, SystemTask::Deliver),
        AuditAction::Notify,
        ResourceType::Notification,
        Some(message.id.to_string()),
        outcome,
    );
    event.patient_id = message.patient.map(|p| p.as_uuid());
    event
        .detail
        .insert("vendor", Detail::Code(vendor.as_str().into()));
    event
        .detail
        .insert("channel", Detail::Code(message.channel.as_str().into()));
    event
        .detail
        .insert("kind", Detail::Code(message.kind.clone()));
    event.detail.insert("result", Detail::Code(result.into()));
    // Which address it went to, as a keyed hash (seed 000's hashRecipient).
    event.detail.insert(
        "recipient",
        store
            .audit_hash(message.practice, "recipient", message.recipient.expose())
            .await?,
    );
    store.audit().record(event).await?;
    Ok(())
}
