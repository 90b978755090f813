//! A referral's steps (send, accept, schedule, ... close) and the messages between
//! its two offices; each a timeline event, audited in the transaction that writes it.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Event, Outcome, ResourceType};
use enamel_domain::{Phi, ReferralId, ReferralStatus, Step};
use enamel_policy::Action;
use time::OffsetDateTime;
use uuid::Uuid;

use super::notices::Notices;
use super::{ReferralRow, StepInput, TimelineRow, insert_timeline};
use crate::db::on_tx;
use crate::repos::outbox::{NotQueued, SealedMessage, queue_in_tx};
use crate::sealed::{REFERRAL_APPOINTMENT, REFERRAL_EVENT_NOTE};
use crate::{Scoped, StoreError};

impl Scoped<'_> {
    /// Takes `step` on a referral as the actor's side, with its timeline event, its
    /// audit events (sending is also a disclosure) and its notifications, all in one
    /// transaction. A concurrent step on the same referral makes this one a conflict.
    pub async fn step(
        &self,
        id: ReferralId,
        step: Step,
        input: StepInput,
        at: OffsetDateTime,
    ) -> Result<ReferralStatus, StoreError> {
        let practice = self.practice()?;
        let (row, side) = self
            .referral_for(
                id,
                Action::ReferralAct,
                (AuditAction::Write, ResourceType::Referral),
            )
            .await?;
        let from = row.status()?;
        let to = from.apply(step, side)?;
        check_input(step, &input)?;
        let event_id = Uuid::now_v7();
        let note = match &input.note {
            Some(note) if !note.expose().trim().is_empty() => Some(
                self.store
                    .seal(
                        practice,
                        &REFERRAL_EVENT_NOTE,
                        event_id,
                        note.expose().trim().as_bytes(),
                    )
                    .await?,
            ),
            _ => None,
        };
        let appointment = match &input.appointment {
            Some(when) => Some(
                self.store
                    .seal_json(row.referrer(), &REFERRAL_APPOINTMENT, row.id, when.expose())
                    .await?,
            ),
            None => None,
        };
        let notices = Notices::new(self.store, &row, step, at).await?;
        let mut messages: Vec<SealedMessage> = Vec::new();
        for message in notices.messages(&input).await? {
            messages.push(self.store.seal_message(message).await?);
        }
        let events = self.step_events(&row, step);
        let event_refs: Vec<&Event> = events.iter().collect();
        let user = self.actor.user().map(|u| u.as_uuid());
        let write = async {
            let mut tx = self.store.begin().await?;
            let updated = on_tx!(&mut tx, conn => {
                sqlx::query(
                    "UPDATE referrals SET status = $1, updated_at = $2, \
                     sent_at = CASE WHEN $1 = 'sent' THEN $2 ELSE sent_at END, \
                     appointment = COALESCE($3, appointment), \
                     not_responding_at = CASE WHEN $1 = 'scheduled' THEN NULL ELSE not_responding_at END \
                     WHERE id = $4 AND status = $5",
                )
                .bind(to.as_str())
                .bind(at)
                .bind(&appointment)
                .bind(row.id)
                .bind(from.as_str())
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected())
            })?;
            if updated != 1 {
                // Nothing written: the transaction rolls back with no events.
                return Ok((updated, false));
            }
            let entry = TimelineRow {
                id: event_id,
                note: note.as_deref(),
                ..TimelineRow::new(row.id, practice.as_uuid(), to_kind(step), user, at)
            };
            insert_timeline(&mut tx, entry).await?;
            let mut rate_limited = false;
            for message in &messages {
                if queue_in_tx(&mut tx, message, at).await? == Err(NotQueued::RateLimited) {
                    rate_limited = true;
                }
            }
            tx.commit_with(&event_refs).await?;
            Ok::<_, anyhow::Error>((updated, rate_limited))
        };
        let (updated, rate_limited) = write.await.context("taking a referral step")?;
        if updated != 1 {
            return Err(StoreError::Conflict(
                "the referral changed while you were working on it; reload it",
            ));
        }
        if rate_limited {
            tracing::info!(referral = %id, "a patient notification was not queued: daily limit reached");
        }
        Ok(to)
    }

    /// The audit events of a step: the write, and for sending, the disclosure.
    fn step_events(&self, row: &ReferralRow, step: Step) -> Vec<Event> {
        let mut write = self.referral_event(AuditAction::Write, row, Outcome::Success);
        write
            .detail
            .insert("step", Detail::Code(step.as_str().into()));
        let mut events = vec![write];
        if step == Step::Send {
            let mut disclosure = self.referral_event(AuditAction::Disclose, row, Outcome::Success);
            // The accounting of disclosures reads recipient_type and recipient.
            disclosure
                .detail
                .insert("recipient_type", Detail::Code("practice".into()));
            disclosure.detail.insert(
                "recipient",
                Detail::Code(row.receiving_practice_id.to_string()),
            );
            disclosure
                .detail
                .insert("purpose", Detail::Code("treatment_referral".into()));
            events.push(disclosure);
        }
        events
    }

    /// Adds a message to the referral's timeline, readable by both offices.
    pub async fn post_message(
        &self,
        id: ReferralId,
        body: &Phi<String>,
        at: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        let practice = self.practice()?;
        let text = body.expose().trim();
        if text.is_empty() || text.chars().count() > 5_000 {
            return Err(StoreError::Refused("a message is 1 to 5,000 characters"));
        }
        let (row, _) = self
            .referral_for(
                id,
                Action::ReferralAct,
                (AuditAction::Write, ResourceType::Message),
            )
            .await?;
        self.require_referral_agreements(&row, ResourceType::Message)
            .await?;
        let event_id = Uuid::now_v7();
        let note = Some(
            self.store
                .seal(practice, &REFERRAL_EVENT_NOTE, event_id, text.as_bytes())
                .await?,
        );
        // The other office is told a message is waiting (Step::Receive causes no
        // notice of its own; only the message's is taken).
        let notices = Notices::new(self.store, &row, Step::Receive, at).await?;
        let notice = match notices.message_notice(practice, event_id) {
            Some(notice) => Some(self.store.seal_message(notice).await?),
            None => None,
        };
        let mut event = self.event(
            AuditAction::Create,
            ResourceType::Message,
            Some(event_id.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(row.patient_id);
        let user = self.actor.user().map(|u| u.as_uuid());
        let write = async {
            let mut tx = self.store.begin().await?;
            let entry = TimelineRow {
                id: event_id,
                note: note.as_deref(),
                ..TimelineRow::new(row.id, practice.as_uuid(), "message", user, at)
            };
            insert_timeline(&mut tx, entry).await?;
            if let Some(notice) = &notice {
                // An office notice has no patient, so no patient limit applies.
                let _ = queue_in_tx(&mut tx, notice, at).await?;
            }
            on_tx!(&mut tx, conn => {
                sqlx::query("UPDATE referrals SET updated_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(row.id)
                    .execute(&mut *conn)
                    .await
                    .map(|r| r.rows_affected())
            })?;
            tx.commit_with(&[&event]).await
        };
        write.await.context("posting a message")?;
        Ok(event_id)
    }
}

/// What each step needs: a reason, a report, or an appointment.
fn check_input(step: Step, input: &StepInput) -> Result<(), StoreError> {
    let blank = input
        .note
        .as_ref()
        .is_none_or(|n| n.expose().trim().is_empty());
    match step {
        Step::Decline | Step::Cancel if blank => Err(StoreError::Refused("give a reason")),
        Step::SendReport if blank => Err(StoreError::Refused(
            "write the report for the referring office",
        )),
        Step::Schedule if input.appointment.is_none() => {
            Err(StoreError::Refused("give the appointment's date and time"))
        }
        _ => Ok(()),
    }
}

const fn to_kind(step: Step) -> &'static str {
    match step {
        Step::Send => "sent",
        Step::Receive => "received",
        Step::Accept => "accepted",
        Step::Decline => "declined",
        Step::Schedule => "scheduled",
        Step::Complete => "completed",
        Step::SendReport => "report_sent",
        Step::Close => "closed",
        Step::Cancel => "cancelled",
    }
}
