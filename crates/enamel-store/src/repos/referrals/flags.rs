//! "Patient not responding": referrals sent long ago and still not scheduled, flagged once for both offices, which are told.

use super::{TimelineRow, insert_timeline};
use crate::db::{on_pool, on_tx};
use crate::repos::outbox::{MessageText, NewMessage, queue_in_tx};
use crate::scoped::authorize::AuditedAs;
use crate::{Store, StoreError};
use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Event, Outcome, ResourceType};
use enamel_domain::{Actor, PracticeId, ReferralId, SystemTask};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

impl Store {
    /// Flags the referrals `referrer` sent more than `days` ago and still not
    /// scheduled as "patient not responding", with a timeline entry and a notice to
    /// both offices. Returns the referrals flagged.
    pub async fn flag_not_responding(
        &self,
        referrer: PracticeId,
        days: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<ReferralId>, StoreError> {
        let due: Vec<(Uuid, Uuid, Uuid, Uuid)> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT id, practice_id, receiving_practice_id, patient_id FROM referrals \
                 WHERE status IN ('sent', 'received', 'accepted') AND not_responding_at IS NULL \
                 AND sent_at < $1 AND practice_id = $2 ORDER BY sent_at LIMIT 500",
            )
            .bind(now - Duration::days(days))
            .bind(referrer.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("finding referrals not scheduled")?;
        let mut flagged = Vec::with_capacity(due.len());
        for (id, referrer, receiver, patient) in due {
            let referral = ReferralId::from_uuid(id);
            let flag_actor = Actor::system_for(PracticeId::from_uuid(referrer), SystemTask::Flag);
            let resource = enamel_policy::Resource::Referral {
                id: referral,
                referrer: PracticeId::from_uuid(referrer),
                receiver: PracticeId::from_uuid(receiver),
            };
            let allowed = self
                .scoped(&flag_actor)
                .authorize(
                    enamel_policy::Action::ReferralFlag,
                    &resource,
                    enamel_policy::Circumstances::default(),
                    AuditedAs::one(AuditAction::Write, ResourceType::Referral, &id),
                )
                .await;
            match allowed {
                Ok(()) => {}
                Err(StoreError::Denied) => continue,
                Err(other) => return Err(other),
            }
            let mut messages = Vec::new();
            for office in [referrer, receiver] {
                let office = self.office(PracticeId::from_uuid(office)).await?;
                if let Some(message) = not_responding_notice(&office, referral, days) {
                    messages.push(self.seal_message(message).await?);
                }
            }
            let mut event = self.event_for(
                &flag_actor,
                AuditAction::Write,
                ResourceType::Referral,
                Some(id.to_string()),
                Outcome::Success,
            );
            event.patient_id = Some(patient);
            event
                .detail
                .insert("flag", Detail::Code("not_responding".into()));
            let events: [&Event; 1] = [&event];
            let write = async {
                let mut tx = self.begin().await?;
                let updated = on_tx!(&mut tx, conn => {
                    sqlx::query(
                        "UPDATE referrals SET not_responding_at = $1, updated_at = $1 \
                         WHERE id = $2 AND not_responding_at IS NULL",
                    )
                    .bind(now)
                    .bind(id)
                    .execute(&mut *conn)
                    .await
                    .map(|r| r.rows_affected())
                })?;
                if updated != 1 {
                    // Flagged meanwhile by another worker: nothing to write or audit.
                    return Ok(updated);
                }
                let entry = TimelineRow::new(id, referrer, "not_responding", None, now);
                insert_timeline(&mut tx, entry).await?;
                for message in &messages {
                    // Over a patient's daily limit, the office notices still go.
                    let _ = queue_in_tx(&mut tx, message, now).await?;
                }
                tx.commit_with(&events).await?;
                Ok::<_, anyhow::Error>(updated)
            };
            let updated = write.await.context("flagging a referral")?;
            if updated == 1 {
                flagged.push(referral);
            }
        }
        Ok(flagged)
    }
}

fn not_responding_notice(
    office: &super::notices::Office,
    referral: ReferralId,
    days: i64,
) -> Option<NewMessage> {
    let (channel, recipient) = office.recipient()?;
    let subject = format!("A referred patient has not scheduled in {days} days");
    Some(NewMessage {
        practice: office.id,
        channel,
        patient: None,
        referral: Some(referral),
        kind: "referral_not_responding",
        recipient,
        text: MessageText {
            body: format!(
                "{subject}.\n\nSign in to Enamel to follow up: {{base_url}}/referrals/{referral}"
            ),
            subject,
        },
        idempotency_key: format!("{referral}:not_responding:{}", office.id),
    })
}
