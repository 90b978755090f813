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

use crate::db::{Tx, on_pool, on_tx};
use crate::jobs::{NewJob, enqueue_in_tx};
use crate::scoped::authorize::AuditedAs;
use crate::sealed::{OUTBOX_MESSAGE, OUTBOX_RECIPIENT};
use crate::{Store, StoreError};

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

/// A message the worker is to send, opened.
#[derive(Debug, Clone)]
pub struct DueMessage {
    pub id: Uuid,
    pub practice: PracticeId,
    pub channel: Channel,
    pub kind: String,
    pub patient: Option<PatientId>,
    pub referral: Option<ReferralId>,
    pub recipient: enamel_domain::Phi<String>,
    pub text: enamel_domain::Phi<MessageText>,
    pub idempotency_key: String,
    pub attempts: i64,
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

/// The delivery job's view of the outbox: open a message, then record how its send
/// went. When a message is tried again is the jobs queue's business (its `deliver`
/// job retries with back-off); the outbox keeps what the practice sees.
#[derive(Debug)]
pub struct Outbox<'a> {
    store: &'a Store,
}

type DueRow = (
    Uuid,
    Uuid,
    String,
    String,
    Option<Uuid>,
    Option<Uuid>,
    Vec<u8>,
    Vec<u8>,
    String,
    i64,
);

impl<'a> Outbox<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// The message `id`, opened, if it is still to be sent (not sent, failed or
    /// refused already).
    pub async fn pending(&self, id: Uuid) -> Result<Option<DueMessage>, StoreError> {
        let row: Option<DueRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, practice_id, channel, kind, patient_id, referral_id, recipient, \
                 message, idempotency_key, attempts FROM outbox \
                 WHERE id = $1 AND status IN ('pending', 'sending')",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
        })
        .context("reading a message to send")?;
        let Some((
            id,
            practice,
            channel,
            kind,
            patient,
            referral,
            recipient,
            message,
            key,
            attempts,
        )) = row
        else {
            return Ok(None);
        };
        let practice = PracticeId::from_uuid(practice);
        let recipient = self
            .store
            .open(practice, &OUTBOX_RECIPIENT, id, &recipient)
            .await?;
        let text: MessageText = self
            .store
            .open_json(practice, &OUTBOX_MESSAGE, id, &message)
            .await?;
        Ok(Some(DueMessage {
            id,
            practice,
            channel: Channel::parse(&channel).unwrap_or(Channel::Email),
            kind,
            patient: patient.map(PatientId::from_uuid),
            referral: referral.map(ReferralId::from_uuid),
            recipient: enamel_domain::Phi::new(String::from_utf8_lossy(&recipient).into()),
            text: enamel_domain::Phi::new(text),
            idempotency_key: key,
            attempts,
        }))
    }

    async fn record(&self, id: Uuid, outcome: Recorded<'_>) -> Result<(), StoreError> {
        let now = self.store.now();
        on_pool!(&self.store.db, pool => {
            sqlx::query(
                "UPDATE outbox SET status = $2, last_error = $3, vendor = COALESCE($4, vendor), \
                 provider_id = $5, attempts = $6, \
                 sent_at = CASE WHEN $2 = 'sent' THEN $7 ELSE sent_at END \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(outcome.status)
            .bind(outcome.error)
            .bind(outcome.vendor)
            .bind(outcome.provider_id)
            .bind(i64::from(outcome.attempt))
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .context("recording a send")?;
        Ok(())
    }

    /// The vendor took the message, on send attempt `attempt`.
    pub async fn sent(
        &self,
        id: Uuid,
        attempt: u32,
        vendor: &str,
        provider_id: &str,
    ) -> Result<(), StoreError> {
        let outcome = Recorded {
            status: "sent",
            attempt,
            error: None,
            vendor: Some(vendor),
            provider_id: Some(provider_id),
        };
        self.record(id, outcome).await
    }

    /// A temporary failure: still pending, to be tried again by its job.
    pub async fn retrying(
        &self,
        id: Uuid,
        attempt: u32,
        error: &str,
        vendor: &str,
    ) -> Result<(), StoreError> {
        self.record(id, Recorded::problem("pending", attempt, error, vendor))
            .await
    }

    /// A permanent failure, or the last attempt failed: not tried again.
    pub async fn failed(
        &self,
        id: Uuid,
        attempt: u32,
        error: &str,
        vendor: &str,
    ) -> Result<(), StoreError> {
        self.record(id, Recorded::problem("failed", attempt, error, vendor))
            .await
    }

    /// Refused before sending (no executed BAA with the vendor, patient opted out):
    /// shown to the practice as a problem to fix.
    pub async fn refused(
        &self,
        id: Uuid,
        attempt: u32,
        reason: &str,
        vendor: &str,
    ) -> Result<(), StoreError> {
        self.record(id, Recorded::problem("refused", attempt, reason, vendor))
            .await
    }

    /// A practice's messages, newest first, without recipients or words.
    pub async fn of_practice(
        &self,
        practice: PracticeId,
        limit: u32,
    ) -> Result<Vec<MessageStatus>, StoreError> {
        type Row = (
            Uuid,
            String,
            String,
            Option<Uuid>,
            String,
            i64,
            Option<String>,
            Option<String>,
            OffsetDateTime,
            Option<OffsetDateTime>,
        );
        let rows: Vec<Row> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, channel, kind, referral_id, status, attempts, last_error, vendor, \
                 created_at, sent_at FROM outbox WHERE practice_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(practice.as_uuid())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })
        .context("listing messages")?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    channel,
                    kind,
                    referral,
                    status,
                    attempts,
                    last_error,
                    vendor,
                    created_at,
                    sent_at,
                )| {
                    MessageStatus {
                        id,
                        channel: Channel::parse(&channel).unwrap_or(Channel::Email),
                        kind,
                        referral: referral.map(ReferralId::from_uuid),
                        status,
                        attempts,
                        last_error,
                        vendor,
                        created_at,
                        sent_at,
                    }
                },
            )
            .collect())
    }
}

/// How one send attempt ended, as the outbox records it.
#[derive(Debug)]
struct Recorded<'a> {
    status: &'static str,
    attempt: u32,
    error: Option<&'a str>,
    vendor: Option<&'a str>,
    provider_id: Option<&'a str>,
}

impl<'a> Recorded<'a> {
    const fn problem(status: &'static str, attempt: u32, error: &'a str, vendor: &'a str) -> Self {
        Self {
            status,
            attempt,
            error: Some(error),
            vendor: Some(vendor),
            provider_id: None,
        }
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
