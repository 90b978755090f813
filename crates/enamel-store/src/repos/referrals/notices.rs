//! What each referral step tells whom. Office notices name the other office and
//! link to the referral behind sign-in; the patient hears, by first name only, who
//! to call, and when the specialist books the visit, its time. No subject and no SMS
//! carries more of PHI than a first name and that time.

use anyhow::Context as _;
use enamel_domain::{
    ContactChannel, ContactDetails, PatientId, PhoneNumber, PracticeId, ReferralId, Step, TimeZone,
};
use time::{OffsetDateTime, PrimitiveDateTime};

use super::{ReferralRow, StepInput};
use crate::db::on_pool;
use enamel_domain::Channel;

use crate::repos::outbox::{MessageText, NewMessage};
use crate::sealed::PATIENT_CONTACT;
use crate::{Store, StoreError};

/// An office's name and how it wants to hear from Enamel.
#[derive(Debug, Clone)]
pub(crate) struct Office {
    pub(crate) id: PracticeId,
    pub(crate) name: String,
    pub(crate) phone: String,
    /// Where the office keeps its calendar: an appointment it books is in this zone.
    pub(crate) time_zone: TimeZone,
    recipient: Option<(Channel, String)>,
}

impl Office {
    /// Where the office wants its notices, if it said.
    pub(crate) fn recipient(&self) -> Option<(Channel, String)> {
        self.recipient.clone()
    }
}

impl Store {
    pub(crate) async fn office(&self, id: PracticeId) -> Result<Office, StoreError> {
        type Row = (
            String,
            String,
            Option<String>,
            Option<String>,
            String,
            String,
        );
        let row: Option<Row> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT name, phone, fax, notify_email, notify_channel, time_zone \
                 FROM practices WHERE id = $1",
            )
            .bind(id.as_uuid())
            .fetch_optional(pool)
            .await
        })
        .context("reading an office's notification settings")?;
        let (name, phone, fax, email, channel, zone) = row.ok_or(StoreError::NotFound)?;
        let recipient = match channel.as_str() {
            "fax" => fax.map(|f| (Channel::Fax, f)),
            "sms" => Some((Channel::Sms, phone.clone())),
            _ => email.map(|e| (Channel::Email, e)),
        };
        Ok(Office {
            id,
            name,
            phone,
            time_zone: TimeZone::parse(&zone).map_err(StoreError::Corrupt)?,
            recipient,
        })
    }
}

/// The notices one step causes.
#[derive(Debug)]
pub(crate) struct Notices<'a> {
    store: &'a Store,
    referral: ReferralId,
    patient: PatientId,
    referrer: Office,
    receiver: Office,
    step: Step,
    at: OffsetDateTime,
    row_patient: uuid::Uuid,
}

impl<'a> Notices<'a> {
    pub(crate) async fn new(
        store: &'a Store,
        row: &ReferralRow,
        step: Step,
        at: OffsetDateTime,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            store,
            referral: ReferralId::from_uuid(row.id),
            patient: PatientId::from_uuid(row.patient_id),
            referrer: store.office(row.referrer()).await?,
            receiver: store.office(row.receiver()).await?,
            step,
            at,
            row_patient: row.patient_id,
        })
    }

    fn key(&self, audience: &str) -> String {
        format!(
            "{}:{}:{}:{audience}",
            self.referral,
            self.step.as_str(),
            self.at.unix_timestamp_nanos()
        )
    }

    fn to_office(
        &self,
        office: &Office,
        kind: &'static str,
        subject: String,
    ) -> Option<NewMessage> {
        let (channel, recipient) = office.recipient.clone()?;
        let body = format!(
            "{subject}.\n\nSign in to Enamel to see it: {{base_url}}/referrals/{}\n\n\
             This message contains no patient information; the referral is behind sign-in.",
            self.referral
        );
        Some(NewMessage {
            practice: office.id,
            channel,
            patient: None,
            referral: Some(self.referral),
            kind,
            recipient,
            text: MessageText { subject, body },
            idempotency_key: self.key(kind),
        })
    }

    /// The other office's notice of a message posted by `from` (never the words:
    /// they are behind sign-in), keyed by the message.
    pub(crate) fn message_notice(
        &self,
        from: PracticeId,
        message: uuid::Uuid,
    ) -> Option<NewMessage> {
        let (to, sender) = if from == self.referrer.id {
            (&self.receiver, &self.referrer)
        } else {
            (&self.referrer, &self.receiver)
        };
        let mut notice = self.to_office(
            to,
            "referral_message",
            format!("New message from {} on a referral", sender.name),
        )?;
        notice.idempotency_key = format!("{}:message:{message}:office", self.referral);
        Some(notice)
    }

    /// The messages for this step.
    pub(crate) async fn messages(&self, input: &StepInput) -> Result<Vec<NewMessage>, StoreError> {
        let (referrer, receiver) = (&self.referrer, &self.receiver);
        let mut out = Vec::new();
        let office = match self.step {
            Step::Send => self.to_office(
                receiver,
                "referral_new",
                format!("New referral from {}", referrer.name),
            ),
            Step::Accept => self.to_office(
                referrer,
                "referral_accepted",
                format!("{} accepted your referral", receiver.name),
            ),
            Step::Decline => self.to_office(
                referrer,
                "referral_declined",
                format!("{} declined your referral", receiver.name),
            ),
            Step::Schedule => self.to_office(
                referrer,
                "referral_scheduled",
                format!("{} scheduled your referred patient", receiver.name),
            ),
            Step::Complete => self.to_office(
                referrer,
                "referral_completed",
                format!("{} completed treatment for your referral", receiver.name),
            ),
            Step::SendReport => self.to_office(
                referrer,
                "referral_report",
                format!("{} sent a report on your referral", receiver.name),
            ),
            Step::Cancel => self.to_office(
                receiver,
                "referral_cancelled",
                format!("{} cancelled a referral", referrer.name),
            ),
            Step::Receive | Step::Close => None,
        };
        out.extend(office);
        if self.step == Step::Send
            && let Some(message) = self.to_patient().await?
        {
            out.push(message);
        }
        if self.step == Step::Schedule
            && let Some(when) = &input.appointment
            && let Some(message) = self.booked(*when.expose()).await?
        {
            out.push(message);
        }
        Ok(out)
    }

    /// The patient's notice that the specialist booked the visit: the first name, the
    /// specialist's name and phone, and the time in the specialist's zone.
    async fn booked(&self, when: PrimitiveDateTime) -> Result<Option<NewMessage>, StoreError> {
        let (first_name, contact, opted_out) = self.patient_contact().await?;
        let Some((channel, recipient)) = patient_channel(&contact, opted_out) else {
            return Ok(None);
        };
        let specialist = &self.receiver;
        let phone = PhoneNumber::parse(&specialist.phone)
            .map_or_else(|_| specialist.phone.clone(), |p| p.national());
        let at = specialist.time_zone.spoken(when);
        let body = match channel {
            Channel::Sms => format!(
                "Hi {first_name}, {} booked your visit: {at}. To change it call {phone}. \
                 Reply STOP to opt out.",
                specialist.name
            ),
            _ => format!(
                "Hi {first_name},\n\n{} has booked your visit for {at}.\n\
                 If you need to change it, please call them at {phone}.",
                specialist.name
            ),
        };
        Ok(Some(NewMessage {
            practice: self.referrer.id,
            channel,
            patient: Some(self.patient),
            referral: Some(self.referral),
            kind: "patient_visit_booked",
            recipient,
            text: MessageText {
                subject: format!("{first_name}, your visit is booked"),
                body,
            },
            idempotency_key: self.key("patient"),
        }))
    }

    /// The patient's notice when a referral is sent: who to call, by first name only.
    async fn to_patient(&self) -> Result<Option<NewMessage>, StoreError> {
        let (first_name, contact, opted_out) = self.patient_contact().await?;
        let specialist = &self.receiver;
        let phone = PhoneNumber::parse(&specialist.phone)
            .map_or_else(|_| specialist.phone.clone(), |p| p.national());
        let Some((channel, recipient)) = patient_channel(&contact, opted_out) else {
            return Ok(None);
        };
        let body = match channel {
            Channel::Sms => format!(
                "Hi {first_name}, your dentist has referred you to {}. Please call {phone} to book. \
                 Reply STOP to opt out.",
                specialist.name
            ),
            _ => format!(
                "Hi {first_name},\n\nYour dentist, {}, has referred you to {}.\n\
                 Please call them at {phone} to book your visit.\n\n\
                 You may receive a separate link to follow your referral online.",
                self.referrer.name, specialist.name
            ),
        };
        Ok(Some(NewMessage {
            practice: self.referrer.id,
            channel,
            patient: Some(self.patient),
            referral: Some(self.referral),
            kind: "patient_referral_sent",
            recipient,
            text: MessageText {
                subject: format!("{first_name}, your dental referral"),
                body,
            },
            idempotency_key: self.key("patient"),
        }))
    }

    async fn patient_contact(&self) -> Result<(String, ContactDetails, bool), StoreError> {
        let row = self
            .store
            .patient_row_of(self.referrer.id, self.row_patient)
            .await?;
        let first = self
            .store
            .first_name(self.referrer.id, row.id, &row.name)
            .await?;
        let contact: ContactDetails = self
            .store
            .open_json(self.referrer.id, &PATIENT_CONTACT, row.id, &row.contact)
            .await?;
        Ok((first, contact, row.sms_opt_out))
    }
}

/// The channel to reach a patient on: their preference where possible, never SMS
/// after they opted out.
pub(crate) fn patient_channel(
    contact: &ContactDetails,
    sms_opted_out: bool,
) -> Option<(Channel, String)> {
    let sms = contact
        .phone
        .as_ref()
        .filter(|_| !sms_opted_out)
        .map(|p| (Channel::Sms, p.e164().to_owned()));
    let email = contact
        .email
        .as_ref()
        .map(|e| (Channel::Email, e.as_str().to_owned()));
    match contact.preferred {
        ContactChannel::Email => email.or(sms),
        ContactChannel::Sms | ContactChannel::Phone => sms.or(email),
    }
}
