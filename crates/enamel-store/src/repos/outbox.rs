//! The notification outbox: messages written in the transaction of the change they
//! report, sent later by a worker (in enamel-server) with retries and back-off.
//! Recipient and message are sealed under the key of the row's practice.
//!
//! Patient-facing messages are limited to [`PATIENT_MESSAGES_PER_DAY`] per patient in
//! any 24 hours across channels. The count and the insert happen in one transaction
//! that first takes the patient's row lock, so concurrent senders cannot both pass.

use anyhow::Context as _;
use enamel_domain::{PatientId, PracticeId, ReferralId};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::pool::on_pool;
use crate::sealed::{OUTBOX_MESSAGE, OUTBOX_RECIPIENT};
use crate::{Store, StoreError};

/// The most messages a patient gets in any 24 hours, across channels.
pub const PATIENT_MESSAGES_PER_DAY: i64 = 3;
/// Attempts before a message is given up as failed.
pub const MAX_ATTEMPTS: i64 = 8;

/// How a message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Fax,
}

impl Channel {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Fax => "fax",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [Self::Email, Self::Sms, Self::Fax]
            .into_iter()
            .find(|c| c.as_str() == raw)
    }
}

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
        let outcome = on_pool!(&self.db, pool => {
            async {
                let mut tx = pool.begin_with(crate::pool::write_begin(pool)).await?;
                let outcome = queue_in_tx!(tx, &sealed, now);
                tx.commit().await?;
                Ok::<_, anyhow::Error>(outcome)
            }
            .await
        })
        .context("queuing a message")?;
        Ok(outcome)
    }
}

/// Queues `$sealed` inside the open transaction `$tx`, applying the patient limit;
/// evaluates to `Result<Uuid, NotQueued>` (with `?` on database errors).
macro_rules! queue_in_tx {
    ($tx:ident, $sealed:expr, $now:expr) => {{
        let sealed: &$crate::repos::outbox::SealedMessage = $sealed;
        let now: time::OffsetDateTime = $now;
        let new = sealed.message_fields();
        let mut allowed = true;
        if let Some(patient) = new.patient {
            // Takes the patient's row lock (PostgreSQL) or the write lock (SQLite)
            // before counting, so two senders cannot both see room for one more.
            sqlx::query("UPDATE patients SET updated_at = updated_at WHERE id = $1")
                .bind(patient.as_uuid())
                .execute(&mut *$tx)
                .await?;
            let sent: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM outbox WHERE patient_id = $1 AND audience = 'patient' \
                 AND created_at > $2 AND status <> 'refused'",
            )
            .bind(patient.as_uuid())
            .bind(now - time::Duration::hours(24))
            .fetch_one(&mut *$tx)
            .await?;
            allowed = sent < $crate::repos::outbox::PATIENT_MESSAGES_PER_DAY;
        }
        if !allowed {
            Err($crate::repos::outbox::NotQueued::RateLimited)
        } else {
            let inserted = sqlx::query(
                "INSERT INTO outbox (id, practice_id, channel, audience, kind, patient_id, \
                 referral_id, recipient, message, idempotency_key, status, attempts, \
                 next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, $11, $11) \
                 ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(sealed.id())
            .bind(new.practice.as_uuid())
            .bind(new.channel.as_str())
            .bind(if new.patient.is_some() {
                "patient"
            } else {
                "office"
            })
            .bind(new.kind)
            .bind(new.patient.map(|p| p.as_uuid()))
            .bind(new.referral.map(|r| r.as_uuid()))
            .bind(sealed.recipient())
            .bind(sealed.message())
            .bind(&new.idempotency_key)
            .bind(now)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                Ok(sealed.id())
            } else {
                Err($crate::repos::outbox::NotQueued::AlreadyQueued)
            }
        }
    }};
}
pub(crate) use queue_in_tx;

impl SealedMessage {
    pub(crate) const fn id(&self) -> Uuid {
        self.id
    }
    pub(crate) const fn message_fields(&self) -> &NewMessage {
        &self.new
    }
    pub(crate) fn recipient(&self) -> &[u8] {
        &self.recipient
    }
    pub(crate) fn message(&self) -> &[u8] {
        &self.message
    }
}

/// The worker's view of the outbox: claim, then report how each send went.
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

    /// Claims up to `limit` due messages for `lease` (another worker, in this process
    /// or another, skips them until the lease ends) and opens them.
    pub async fn claim(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<DueMessage>, StoreError> {
        // One statement on both backends: pick due rows and lease them. PostgreSQL
        // skips rows another worker has locked; SQLite has one writer at a time.
        let skip_locked = match self.store.backend() {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET lease_until = $1, attempts = attempts + 1, status = 'sending' \
             WHERE id IN (SELECT id FROM outbox WHERE (status = 'pending' AND next_attempt_at <= $2) \
             OR (status = 'sending' AND lease_until <= $2) ORDER BY next_attempt_at LIMIT $3{skip_locked}) \
             RETURNING id, practice_id, channel, kind, patient_id, referral_id, recipient, message, \
             idempotency_key, attempts"
        ));
        let rows: Vec<DueRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql)
                .bind(now + lease)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })
        .context("claiming due messages")?;
        let mut due = Vec::with_capacity(rows.len());
        for (id, practice, channel, kind, patient, referral, recipient, message, key, attempts) in
            rows
        {
            let practice = PracticeId::from_uuid(practice);
            let recipient = self
                .store
                .open(practice, &OUTBOX_RECIPIENT, id, &recipient)
                .await?;
            let text: MessageText = self
                .store
                .open_json(practice, &OUTBOX_MESSAGE, id, &message)
                .await?;
            due.push(DueMessage {
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
            });
        }
        Ok(due)
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one UPDATE's columns, named at each caller"
    )]
    async fn finish(
        &self,
        id: Uuid,
        status: &str,
        error: Option<&str>,
        vendor: Option<&str>,
        provider_id: Option<&str>,
        next_attempt_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        on_pool!(&self.store.db, pool => {
            sqlx::query(
                "UPDATE outbox SET status = $2, last_error = $3, vendor = COALESCE($4, vendor), \
                 provider_id = $5, next_attempt_at = COALESCE($6, next_attempt_at), \
                 lease_until = NULL, sent_at = CASE WHEN $2 = 'sent' THEN $7 ELSE sent_at END \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(status)
            .bind(error)
            .bind(vendor)
            .bind(provider_id)
            .bind(next_attempt_at)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .context("recording a send")?;
        Ok(())
    }

    /// The vendor took the message.
    pub async fn sent(
        &self,
        id: Uuid,
        vendor: &str,
        provider_id: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.finish(id, "sent", None, Some(vendor), Some(provider_id), None, now)
            .await
    }

    /// A temporary failure: try again after a back-off that doubles with each
    /// attempt (30 s, 1 min, 2 min, ... capped at 1 h), or give up after
    /// [`MAX_ATTEMPTS`].
    pub async fn retry_later(
        &self,
        message: &DueMessage,
        error: &str,
        vendor: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if message.attempts >= MAX_ATTEMPTS {
            return self
                .finish(
                    message.id,
                    "failed",
                    Some(error),
                    Some(vendor),
                    None,
                    None,
                    now,
                )
                .await;
        }
        let exponent = u32::try_from(message.attempts.clamp(1, 8) - 1).unwrap_or(0);
        let delay = Duration::seconds((30_i64 << exponent).min(3_600));
        self.finish(
            message.id,
            "pending",
            Some(error),
            Some(vendor),
            None,
            Some(now + delay),
            now,
        )
        .await
    }

    /// A permanent failure: not retried.
    pub async fn failed(
        &self,
        id: Uuid,
        error: &str,
        vendor: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.finish(id, "failed", Some(error), Some(vendor), None, None, now)
            .await
    }

    /// Refused before sending (no executed BAA with the vendor, patient opted out):
    /// shown to the practice as a problem to fix.
    pub async fn refused(
        &self,
        id: Uuid,
        reason: &str,
        vendor: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.finish(id, "refused", Some(reason), Some(vendor), None, None, now)
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

impl crate::Scoped<'_> {
    /// The practice's notifications, newest first, without recipients or words, for
    /// those who look after its vendors (refusals are problems for them to fix).
    pub async fn notifications(&self, limit: u32) -> Result<Vec<MessageStatus>, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            enamel_policy::Action::VendorView,
            (
                enamel_audit::entry::Action::Read,
                enamel_audit::entry::ResourceType::Notification,
                None,
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
