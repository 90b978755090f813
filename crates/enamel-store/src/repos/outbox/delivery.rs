//! The worker's side of the outbox: the messages due for delivery, opened for the one attempt, and each attempt's outcome recorded.

use super::{MessageStatus, MessageText};
use crate::db::on_pool;
use crate::sealed::{OUTBOX_MESSAGE, OUTBOX_RECIPIENT};
use crate::{Store, StoreError};
use anyhow::Context as _;
use enamel_domain::{Channel, PatientId, PracticeId, ReferralId};
use time::OffsetDateTime;
use uuid::Uuid;

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

/// The delivery job's view of the outbox: open a message, then record how its send
/// went. When a message is tried again is the jobs queue's business (its `deliver`
/// job retries with back-off); the outbox keeps what the practice sees.
#[derive(Debug)]
pub struct Outbox<'a> {
    store: &'a Store,
}

pub(super) type DueRow = (
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
pub(super) struct Recorded<'a> {
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
