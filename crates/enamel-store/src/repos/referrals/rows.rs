//! A referral's row as stored, and reading it for an actor who is party to it.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Event, Outcome, ResourceType};
use enamel_domain::{PracticeId, ReferralId, ReferralStatus, Side, Urgency};
use enamel_policy::{Action, Circumstances, Resource};
use time::OffsetDateTime;
use uuid::Uuid;

use super::ReferralSummary;
use crate::db::on_pool;
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, Store, StoreError};

#[derive(sqlx::FromRow)]
pub(crate) struct ReferralRow {
    pub(crate) id: Uuid,
    pub(crate) practice_id: Uuid,
    pub(crate) receiving_practice_id: Uuid,
    pub(crate) patient_id: Uuid,
    status: String,
    urgency: String,
    pub(crate) clinical: Vec<u8>,
    pub(crate) appointment: Option<Vec<u8>>,
    created_at: OffsetDateTime,
    sent_at: Option<OffsetDateTime>,
    updated_at: OffsetDateTime,
    not_responding_at: Option<OffsetDateTime>,
    referrer_name: String,
    receiver_name: String,
    patient_name: Vec<u8>,
    patient_birth_date: Vec<u8>,
}

pub(crate) const REFERRAL_SELECT: &str = "SELECT r.id, r.practice_id, r.receiving_practice_id, r.patient_id, \
     r.status, r.urgency, r.clinical, r.appointment, r.created_at, r.sent_at, r.updated_at, \
     r.not_responding_at, a.name AS referrer_name, b.name AS receiver_name, \
     p.name AS patient_name, p.birth_date AS patient_birth_date \
     FROM referrals r JOIN practices a ON a.id = r.practice_id \
     JOIN practices b ON b.id = r.receiving_practice_id JOIN patients p ON p.id = r.patient_id";

impl ReferralRow {
    pub(crate) fn status(&self) -> Result<ReferralStatus, StoreError> {
        ReferralStatus::parse(&self.status).map_err(StoreError::Corrupt)
    }

    pub(crate) const fn referrer(&self) -> PracticeId {
        PracticeId::from_uuid(self.practice_id)
    }

    pub(crate) const fn receiver(&self) -> PracticeId {
        PracticeId::from_uuid(self.receiving_practice_id)
    }

    pub(crate) fn resource(&self) -> Resource {
        Resource::Referral {
            id: ReferralId::from_uuid(self.id),
            referrer: self.referrer(),
            receiver: self.receiver(),
        }
    }
}

impl Store {
    pub(crate) async fn referral_summary(
        &self,
        row: &ReferralRow,
        reader: PracticeId,
    ) -> Result<ReferralSummary, StoreError> {
        let patient = self
            .patient_summary(
                row.referrer(),
                row.patient_id,
                &row.patient_name,
                &row.patient_birth_date,
            )
            .await?;
        Ok(ReferralSummary {
            id: ReferralId::from_uuid(row.id),
            side: if reader == row.referrer() {
                Side::Referrer
            } else {
                Side::Receiver
            },
            referrer: row.referrer(),
            referrer_name: row.referrer_name.clone(),
            receiver: row.receiver(),
            receiver_name: row.receiver_name.clone(),
            patient,
            status: row.status()?,
            urgency: Urgency::parse(&row.urgency).map_err(StoreError::Corrupt)?,
            created_at: row.created_at,
            sent_at: row.sent_at,
            updated_at: row.updated_at,
            not_responding: row.not_responding_at.is_some(),
            unread: self.has_unread(row.id, reader).await?,
        })
    }

    /// Whether the other office posted a message on referral `id` after the newest
    /// event `reader` has seen on it (event ids are UUIDv7: they order by time).
    async fn has_unread(&self, id: Uuid, reader: PracticeId) -> Result<bool, StoreError> {
        // COUNT(*) is a 64-bit integer on both backends.
        let unread: i64 = on_pool!(&self.db, pool => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM referral_events e WHERE e.referral_id = $1 \
                 AND e.kind = 'message' AND e.practice_id <> $2 AND NOT EXISTS \
                 (SELECT 1 FROM referral_reads r WHERE r.referral_id = $1 \
                 AND r.practice_id = $2 AND r.last_seen >= e.id)",
            )
            .bind(id)
            .bind(reader.as_uuid())
            .fetch_one(pool)
            .await
        })
        .context("looking for unread messages")?;
        Ok(unread > 0)
    }

    /// Records that `reader` has seen every event of referral `id` so far; a marker
    /// already at the newest event is left as it is (no write on a plain re-read).
    pub(super) async fn mark_read(&self, id: Uuid, reader: PracticeId) -> Result<(), StoreError> {
        let newest: Option<Uuid> = on_pool!(&self.db, pool => {
            sqlx::query_scalar(
                "SELECT id FROM referral_events WHERE referral_id = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
        })
        .context("finding a referral's newest event")?;
        let Some(newest) = newest else {
            return Ok(());
        };
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO referral_reads (referral_id, practice_id, last_seen) VALUES ($1, $2, $3) \
                 ON CONFLICT (referral_id, practice_id) DO UPDATE SET last_seen = excluded.last_seen \
                 WHERE referral_reads.last_seen < excluded.last_seen",
            )
            .bind(id)
            .bind(reader.as_uuid())
            .bind(newest)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .context("marking a referral read")?;
        Ok(())
    }
}

impl Scoped<'_> {
    pub(super) fn referral_event(
        &self,
        action: AuditAction,
        row: &ReferralRow,
        outcome: Outcome,
    ) -> Event {
        let mut event = self.event(
            action,
            ResourceType::Referral,
            Some(row.id.to_string()),
            outcome,
        );
        event.patient_id = Some(row.patient_id);
        event
    }

    /// The row of a referral the actor's practice is party to: the referrer always,
    /// the receiver once it was sent. Anything else is [`StoreError::NotFound`].
    pub(crate) async fn referral_row(&self, id: ReferralId) -> Result<ReferralRow, StoreError> {
        let practice = self.practice()?;
        let sql = sqlx::AssertSqlSafe(format!(
            "{REFERRAL_SELECT} WHERE r.id = $1 AND (r.practice_id = $2 OR \
             (r.receiving_practice_id = $2 AND r.status <> 'draft'))"
        ));
        let row: Option<ReferralRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql)
                .bind(id.as_uuid())
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("reading a referral")?;
        row.ok_or(StoreError::NotFound)
    }

    /// A referral the actor's practice is party to, authorized for `action` (a
    /// denial is audited as `audited_as`), with the side the actor is on.
    pub(crate) async fn referral_for(
        &self,
        id: ReferralId,
        action: Action,
        audited_as: (AuditAction, ResourceType),
    ) -> Result<(ReferralRow, Side), StoreError> {
        let practice = self.practice()?;
        let row = self.referral_row(id).await?;
        let (audit_action, resource_type) = audited_as;
        self.authorize(
            action,
            &row.resource(),
            Circumstances::default(),
            AuditedAs::one(audit_action, resource_type, &id),
        )
        .await?;
        let side = if practice == row.referrer() {
            Side::Referrer
        } else {
            Side::Receiver
        };
        Ok((row, side))
    }
}
