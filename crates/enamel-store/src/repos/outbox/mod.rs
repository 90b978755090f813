//! The notification outbox: messages written in the transaction of the change they
//! report, each with a `deliver` job in the durable jobs queue that sends it later
//! (enamel-agents), retried with back-off by the queue.
//! Recipient and message are sealed under the key of the row's practice.
//!
//! Patient-facing messages are limited to [`PATIENT_MESSAGES_PER_DAY`] per patient in
//! any 24 hours across channels. The count and the insert happen in one transaction
//! that first takes the patient's row lock, so concurrent senders cannot both pass.

use anyhow::Context as _;
use enamel_domain::{Channel, PatientId, PracticeId, ReferralId};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::db::{Tx, on_tx};
use crate::jobs::{NewJob, enqueue_in_tx};
use crate::scoped::authorize::AuditedAs;
use crate::sealed::{OUTBOX_MESSAGE, OUTBOX_RECIPIENT};
use crate::{Store, StoreError};

mod delivery;

pub use delivery::{DueMessage, Outbox};

/// The most messages a patient gets in any 24 hours, across channels.
pub const PATIENT_MESSAGES_PER_DAY: i64 = 3;
/// Attempts before a message is given up as failed.
pub const MAX_ATTEMPTS: u32 = 8;

/// A message's words. The subject and an SMS body carry no PHI beyond a first name;
/// `{base_url}` in the body is replaced with Enamel's address when sent.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessageText {
    pub subject: String,
    pub body: String,
}

/// A message to queue.
#[derive(Clone, Debug)]
pub struct NewMessage {
    /// The practice the message belongs to (whose key seals it, who sees it fail).
    pub practice: PracticeId,
    pub channel: Channel,
    /// A patient, for patient-facing messages (rate-limited); `None` for an office.
    pub patient: Option<PatientId>,
    pub referral: Option<ReferralId>,
    /// What it is about, as a stable code (`referral_sent`, `portal_link`, ...).
    pub kind: &'static str,
    pub recipient: String,
    pub text: MessageText,
    /// Queuing the same key twice queues one message.
    pub idempotency_key: String,
}

/// A queued message, sealed and ready to insert.
#[derive(Debug)]
pub(crate) struct SealedMessage {
    id: Uuid,
    new: NewMessage,
    recipient: Vec<u8>,
    message: Vec<u8>,
}

/// Why a message was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotQueued {
    /// The patient already had their messages for the last 24 hours.
    RateLimited,
    /// The same idempotency key was queued before.
    AlreadyQueued,
}

/// A message as its practice sees it in the list of notifications: never the
/// recipient or the words.
#[derive(Debug, Clone, Serialize)]
pub struct MessageStatus {
    pub id: Uuid,
    pub channel: Channel,
    pub kind: String,
    pub referral: Option<ReferralId>,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub vendor: Option<String>,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
}

impl Store {
    /// Seals a message for queuing in a later transaction.
    pub(crate) async fn seal_message(&self, new: NewMessage) -> Result<SealedMessage, StoreError> {
        let id = Uuid::now_v7();
        let recipient = self
            .seal(
                new.practice,
                &OUTBOX_RECIPIENT,
                id,
                new.recipient.as_bytes(),
            )
            .await?;
        let message = self
            .seal_json(new.practice, &OUTBOX_MESSAGE, id, &new.text)
            .await?;
        Ok(SealedMessage {
            id,
            new,
            recipient,
            message,
        })
    }

    /// Queues one message in a transaction of its own.
    pub async fn queue_message(
        &self,
        new: NewMessage,
        now: OffsetDateTime,
    ) -> Result<Result<Uuid, NotQueued>, StoreError> {
        let sealed = self.seal_message(new).await?;
        let write = async {
            let mut tx = self.begin().await?;
            let outcome = queue_in_tx(&mut tx, &sealed, now).await?;
            tx.commit().await?;
            Ok::<_, anyhow::Error>(outcome)
        };
        let outcome = write.await.context("queuing a message")?;
        Ok(outcome)
    }
}

/// The job that sends a message: one per message, keyed by the message's id.
pub const DELIVER_JOB: &str = "deliver";

/// Queues `sealed` inside the open transaction `tx`, applying the patient limit,
/// with the job that will send it: the message and its delivery commit together
/// with the change they report, or not at all.
pub(crate) async fn queue_in_tx(
    tx: &mut Tx,
    sealed: &SealedMessage,
    now: OffsetDateTime,
) -> anyhow::Result<Result<Uuid, NotQueued>> {
    let new = sealed.message_fields();
    if let Some(patient) = new.patient {
        let sent: i64 = on_tx!(&mut *tx, conn => {
            // Takes the patient's row lock (PostgreSQL) or the write lock (SQLite)
            // before counting, so two senders cannot both see room for one more.
            sqlx::query("UPDATE patients SET updated_at = updated_at WHERE id = $1")
                .bind(patient.as_uuid())
                .execute(&mut *conn)
                .await?;
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM outbox WHERE patient_id = $1 AND audience = 'patient' \
                 AND created_at > $2 AND status <> 'refused'",
            )
            .bind(patient.as_uuid())
            .bind(now - Duration::hours(24))
            .fetch_one(&mut *conn)
            .await?
        });
        if sent >= PATIENT_MESSAGES_PER_DAY {
            return Ok(Err(NotQueued::RateLimited));
        }
    }
    let inserted = on_tx!(&mut *tx, conn => {
        sqlx::query(
            "INSERT INTO outbox (id, practice_id, channel, audience, kind, patient_id, \
             referral_id, recipient, message, idempotency_key, status, attempts, \
             next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, $11, $11) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(sealed.id)
        .bind(new.practice.as_uuid())
        .bind(new.channel.as_str())
        .bind(if new.patient.is_some() { "patient" } else { "office" })
        .bind(new.kind)
        .bind(new.patient.map(|p| p.as_uuid()))
        .bind(new.referral.map(|r| r.as_uuid()))
        .bind(&sealed.recipient)
        .bind(&sealed.message)
        .bind(&new.idempotency_key)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if inserted != 1 {
        return Ok(Err(NotQueued::AlreadyQueued));
    }
    let job = NewJob {
        kind: DELIVER_JOB.to_owned(),
        key: sealed.id.simple().to_string(),
        payload: serde_json::Value::Null,
        run_at: now,
        max_attempts: MAX_ATTEMPTS,
    };
    enqueue_in_tx(tx, &job, now).await?;
    Ok(Ok(sealed.id))
}

impl SealedMessage {
    pub(crate) const fn message_fields(&self) -> &NewMessage {
        &self.new
    }
}

impl crate::Scoped<'_> {
    /// The practice's notifications, newest first, without recipients or words, for
    /// those who look after its vendors (refusals are problems for them to fix).
    pub async fn notifications(&self, limit: u32) -> Result<Vec<MessageStatus>, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            enamel_policy::Action::VendorView,
            AuditedAs::any(
                enamel_audit::entry::Action::Read,
                enamel_audit::entry::ResourceType::Notification,
            ),
        )
        .await?;
        self.store.outbox().of_practice(practice, limit).await
    }
}

impl Store {
    /// The outbox, for the sending worker.
    #[must_use]
    pub const fn outbox(&self) -> Outbox<'_> {
        Outbox::new(self)
    }
}
