//! The recovery agent's side: its run, the candidates it may offer the slot to
//! (through the no-show view: ids, times, durations, providers and types; contact
//! details only for the patients chosen, never a name or a note), and the offers it
//! records, each with its message queued in the same transaction under the patient's
//! limit of three messages in any 24 hours.

use std::collections::HashMap;

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::recovery::Candidate;
use enamel_domain::{
    AppointmentId, AppointmentTypeId, Availability, Channel, ContactChannel, ContactDetails, Email,
    OfferId, PatientId, Phi, PhoneNumber, PracticeId, ProviderId, RecoveryRunId, WaitlistEntryId,
};
use enamel_policy::Action;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

use super::{RUN_SELECT, Run, RunRow, close_run_in_tx, enqueue_wave_in_tx, run_from};
use crate::db::{on_pool, on_tx};
use crate::repos::outbox::{MessageText, NewMessage, NotQueued, queue_in_tx};
use crate::repos::schedule::minutes_from;
use crate::scoped::authorize::AuditedAs;
use crate::sealed::PATIENT_CONTACT;
use crate::{NO_SHOW, Scoped, StoreError};

/// How a chosen patient can be reached, from the no-show view: phone (none once
/// they replied STOP), email, and the channel they prefer.
#[derive(Clone, Debug)]
pub struct Reach {
    pub phone: Option<Phi<PhoneNumber>>,
    pub email: Option<Phi<Email>>,
    pub prefers_email: bool,
    /// They opted out of texts.
    pub opted_out: bool,
}

impl Reach {
    /// The channels that can reach them, the one they prefer first.
    #[must_use]
    pub fn channels(&self) -> Vec<Channel> {
        let sms = self.phone.is_some().then_some(Channel::Sms);
        let email = self.email.is_some().then_some(Channel::Email);
        let order = if self.prefers_email {
            [email, sms]
        } else {
            [sms, email]
        };
        order.into_iter().flatten().collect()
    }
}

/// What the agent decided for one patient.
#[derive(Debug)]
pub enum Decision {
    /// Send now, by `channel` to `recipient`; the link expires at `expires_at`.
    Send {
        channel: Channel,
        recipient: Phi<String>,
        text: MessageText,
        expires_at: OffsetDateTime,
    },
    /// Outside the patient's sending hours: due at the next opening.
    Defer {
        channel: Channel,
        due_at: OffsetDateTime,
    },
    /// Not sent, for a reason (`opted_out`, `no_contact`, `no_executed_baa`).
    Refuse { reason: &'static str },
}

/// One offer to record.
#[derive(Debug)]
pub struct NewOffer {
    pub id: OfferId,
    pub patient: PatientId,
    pub entry: WaitlistEntryId,
    pub moves: Option<AppointmentId>,
    pub wave: u32,
    pub decision: Decision,
}

/// An offer waiting for sending hours.
#[derive(Clone, Debug)]
pub struct DeferredOffer {
    pub id: OfferId,
    pub patient: PatientId,
    pub entry: WaitlistEntryId,
    pub moves: Option<AppointmentId>,
    pub wave: u32,
}

/// How recording an offer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    Sent,
    Deferred,
    /// Not sent; the reason code.
    Refused(&'static str),
}

type CandidateRow = (
    Uuid,
    Uuid,
    Option<Uuid>,
    i64,
    Option<Uuid>,
    Option<Date>,
    Option<Date>,
    i64,
    i64,
    i64,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    Option<Uuid>,
);

/// The candidates for a slot, and the booked appointment each entry would move.
pub type Candidates = (Vec<Candidate>, HashMap<WaitlistEntryId, AppointmentId>);

impl Scoped<'_> {
    async fn authorize_recover(&self) -> Result<PracticeId, StoreError> {
        self.authorize_in_own_practice(
            Action::ScheduleRecover,
            AuditedAs::any(AuditAction::Write, ResourceType::Appointment),
        )
        .await?;
        self.practice()
    }

    /// One run of the practice (the agent: `schedule.recover`).
    pub async fn recovery_run(&self, run: RecoveryRunId) -> Result<Run, StoreError> {
        let practice = self.authorize_recover().await?;
        let sql = sqlx::AssertSqlSafe(format!(
            "{RUN_SELECT} WHERE r.id = $1 AND r.practice_id = $2"
        ));
        let row: Option<RunRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql)
                .bind(run.as_uuid())
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("reading a recovery run")?;
        run_from(row.ok_or(StoreError::NotFound)?)
    }

    /// The waitlist entries that could take `run`'s slot, as matching needs them,
    /// through the no-show view (`view.no_show`): ids, durations, preferences,
    /// priority, the patient's other visits near the slot, and whether they were
    /// offered a slot in the last 24 hours. Patients already offered this slot, who
    /// declined offers for the entry, or whose record is restricted are left out.
    /// Audited as a read of the view.
    pub async fn recovery_candidates(
        &self,
        run: &Run,
        now: OffsetDateTime,
    ) -> Result<Candidates, StoreError> {
        self.authorize_in_own_practice(
            NO_SHOW.action,
            AuditedAs::any(AuditAction::Read, ResourceType::Appointment),
        )
        .await?;
        let practice = self.practice()?;
        let rows: Vec<CandidateRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT w.id, w.patient_id, w.type_id, w.duration_minutes, w.provider_id, \
                 w.earliest, w.latest, w.days, w.times, w.priority, w.joined_at, \
                 m.starts_at, \
                 (SELECT MAX(o.sent_at) FROM recovery_offers o WHERE o.patient_id = w.patient_id), \
                 w.moves_appointment \
                 FROM waitlist w JOIN patients p ON p.id = w.patient_id \
                 LEFT JOIN appointments m ON m.id = w.moves_appointment \
                   AND m.status IN ('scheduled', 'confirmed') \
                 WHERE w.practice_id = $1 AND p.restricted = $2 AND w.offers_declined_at IS NULL \
                 AND w.duration_minutes <= $3 \
                 AND (w.provider_id IS NULL OR w.provider_id = $4) \
                 AND (w.type_id IS NULL OR $5 IS NULL OR w.type_id = $5) \
                 AND NOT EXISTS (SELECT 1 FROM recovery_offers x \
                   WHERE x.run_id = $6 AND x.patient_id = w.patient_id)",
            )
            .bind(practice.as_uuid())
            .bind(false)
            .bind(i64::from(run.duration.get()))
            .bind(run.provider.as_uuid())
            .bind(run.kind.map(|k| k.as_uuid()))
            .bind(run.id.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("reading the no-show view's waitlist")?;
        let busy_by_patient = self.visits_near(practice, run).await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut moves = HashMap::new();
        for r in rows {
            if let Some(appointment) = r.13 {
                moves.insert(
                    WaitlistEntryId::from_uuid(r.0),
                    AppointmentId::from_uuid(appointment),
                );
            }
            out.push(Candidate {
                entry: WaitlistEntryId::from_uuid(r.0),
                patient: PatientId::from_uuid(r.1),
                kind: r.2.map(AppointmentTypeId::from_uuid),
                duration: minutes_from(r.3)?,
                provider: r.4.map(ProviderId::from_uuid),
                earliest: r.5,
                latest: r.6,
                availability: Availability::from_bits(
                    u8::try_from(r.7).unwrap_or(0),
                    u8::try_from(r.8).unwrap_or(0),
                )
                .map_err(StoreError::Corrupt)?,
                priority: u8::try_from(r.9).unwrap_or(9),
                joined_at: r.10,
                moves_from: r.11,
                // The visit an entry would move is not in its way.
                busy: busy_by_patient
                    .get(&r.1)
                    .into_iter()
                    .flatten()
                    .filter(|(from, _)| Some(*from) != r.11)
                    .copied()
                    .collect(),
                declined: false,
                offered_recently: r.12.is_some_and(|at| now - at < Duration::hours(24)),
            });
        }
        let mut event = self.event(
            AuditAction::Read,
            ResourceType::Appointment,
            Some(run.id.to_string()),
            Outcome::Success,
        );
        event
            .detail
            .insert("view", Detail::Code(NO_SHOW.action.as_str().into()));
        event
            .detail
            .insert("recovery", Detail::Code("candidates".into()));
        event
            .detail
            .insert("count", Detail::Count(out.len() as u64));
        let mut patients: Vec<Uuid> = out.iter().map(|c| c.patient.as_uuid()).collect();
        patients.sort_unstable();
        patients.dedup();
        event.detail.insert("patients", Detail::Ids(patients));
        self.store.audit().record(event).await?;
        Ok((out, moves))
    }

    /// The waitlist patients' visits within a day of `run`'s slot, by patient: an
    /// offer must not overlap one.
    async fn visits_near(
        &self,
        practice: PracticeId,
        run: &Run,
    ) -> Result<HashMap<Uuid, Vec<(OffsetDateTime, OffsetDateTime)>>, StoreError> {
        let busy: Vec<(Uuid, OffsetDateTime, i64)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT a.patient_id, a.starts_at, a.duration_minutes FROM appointments a \
                 WHERE a.practice_id = $1 AND a.status IN ('scheduled', 'confirmed', 'arrived') \
                 AND a.starts_at > $2 AND a.starts_at < $3 \
                 AND a.patient_id IN (SELECT w.patient_id FROM waitlist w \
                   JOIN patients p ON p.id = w.patient_id \
                   WHERE w.practice_id = $1 AND p.restricted = $4)",
            )
            .bind(practice.as_uuid())
            .bind(run.starts_at - Duration::hours(24))
            .bind(run.starts_at + Duration::hours(24))
            .bind(false)
            .fetch_all(pool)
            .await
        })
        .context("reading the no-show view's appointments")?;
        let mut busy_by_patient: std::collections::HashMap<
            Uuid,
            Vec<(OffsetDateTime, OffsetDateTime)>,
        > = std::collections::HashMap::new();
        for (patient, starts_at, minutes) in busy {
            let minutes = minutes_from(minutes)?;
            busy_by_patient
                .entry(patient)
                .or_default()
                .push((starts_at, starts_at + minutes.duration()));
        }
        Ok(busy_by_patient)
    }

    /// How the chosen patients can be reached (the no-show view's phone and email,
    /// and the channel each prefers); audited as a read of the view naming them.
    pub async fn recovery_reach(
        &self,
        patients: &[PatientId],
    ) -> Result<Vec<(PatientId, Reach)>, StoreError> {
        self.authorize_in_own_practice(
            NO_SHOW.action,
            AuditedAs::any(AuditAction::Read, ResourceType::Appointment),
        )
        .await?;
        let practice = self.practice()?;
        let mut out = Vec::with_capacity(patients.len());
        for patient in patients {
            let row: Option<(Vec<u8>, bool)> = on_pool!(&self.store.db, pool => {
                sqlx::query_as(
                    "SELECT contact, sms_opt_out FROM patients WHERE id = $1 AND practice_id = $2",
                )
                .bind(patient.as_uuid())
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
            })
            .context("reading the no-show view's contact details")?;
            let Some((sealed, opted_out)) = row else {
                continue;
            };
            let contact: ContactDetails = self
                .store
                .open_json(practice, &PATIENT_CONTACT, patient.as_uuid(), &sealed)
                .await?;
            out.push((
                *patient,
                Reach {
                    phone: contact.phone.filter(|_| !opted_out).map(Phi::new),
                    email: contact.email.map(Phi::new),
                    prefers_email: contact.preferred == ContactChannel::Email,
                    opted_out,
                },
            ));
        }
        let mut event = self.event(
            AuditAction::Read,
            ResourceType::Appointment,
            None,
            Outcome::Success,
        );
        event
            .detail
            .insert("view", Detail::Code(NO_SHOW.action.as_str().into()));
        event
            .detail
            .insert("recovery", Detail::Code("contact".into()));
        let mut ids: Vec<Uuid> = out.iter().map(|(p, _)| p.as_uuid()).collect();
        ids.sort_unstable();
        event.detail.insert("patients", Detail::Ids(ids));
        self.store.audit().record(event).await?;
        Ok(out)
    }

    /// Records one offer of `run` (a deferred one again, when `deferred`): sent
    /// with its message queued in the same transaction, deferred to its due time,
    /// or refused. A send past the patient's three messages in 24 hours (across
    /// agents and channels, counted under the patient's lock) is recorded refused
    /// (`rate_limited`). Audited as the agent with the run's correlation id.
    pub async fn record_offer(
        &self,
        run: &Run,
        offer: NewOffer,
        deferred: bool,
    ) -> Result<Recorded, StoreError> {
        let practice = self.authorize_recover().await?;
        let now = self.store.now();
        let sealed = self.sealed_offer(practice, &offer).await?;
        let mut tx = self.store.begin().await?;
        if !run_is_open_in_tx(&mut tx, run.id)
            .await
            .context("checking the run is open")?
        {
            return Ok(Recorded::Refused("run_closed"));
        }
        let mut recorded = match &offer.decision {
            Decision::Send { .. } => Recorded::Sent,
            Decision::Defer { .. } => Recorded::Deferred,
            Decision::Refuse { reason } => Recorded::Refused(reason),
        };
        let mut message = None;
        if let Some(sealed) = &sealed {
            match queue_in_tx(&mut tx, sealed, now)
                .await
                .context("queuing an offer")?
            {
                Ok(id) => message = Some(id),
                Err(NotQueued::RateLimited) => recorded = Recorded::Refused("rate_limited"),
                Err(NotQueued::AlreadyQueued) => {}
            }
        }
        let (channel, due_at, expires_at) = match &offer.decision {
            Decision::Send {
                channel,
                expires_at,
                ..
            } => (Some(*channel), now, Some(*expires_at)),
            Decision::Defer { channel, due_at } => (Some(*channel), *due_at, None),
            Decision::Refuse { .. } => (None, now, None),
        };
        let (status, reason) = match recorded {
            Recorded::Sent => ("sent", None),
            Recorded::Deferred => ("deferred", None),
            Recorded::Refused(reason) => ("refused", Some(reason)),
        };
        let sent_at = (recorded == Recorded::Sent).then_some(now);
        let sql = if deferred {
            "UPDATE recovery_offers SET channel = $6, status = $7, reason = $8, due_at = $9, \
             sent_at = $10, expires_at = $11, message_id = $12 \
             WHERE id = $1 AND run_id = $2 AND practice_id = $3 AND status = 'deferred'"
        } else {
            "INSERT INTO recovery_offers (id, run_id, practice_id, patient_id, entry_id, \
             moves_appointment, wave, channel, status, reason, due_at, sent_at, expires_at, \
             message_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $13, $14, $6, $7, $8, $9, $10, $11, $12, $15)"
        };
        let written = on_tx!(&mut tx, conn => {
            sqlx::query(sql)
                .bind(offer.id.as_uuid())
                .bind(run.id.as_uuid())
                .bind(practice.as_uuid())
                .bind(offer.patient.as_uuid())
                .bind(offer.entry.as_uuid())
                .bind(channel.map(Channel::as_str))
                .bind(status)
                .bind(reason)
                .bind(due_at)
                .bind(sent_at)
                .bind(expires_at)
                .bind(message)
                .bind(offer.moves.map(|a| a.as_uuid()))
                .bind(i64::from(offer.wave))
                .bind(now)
                .execute(&mut *conn)
                .await
                .map(|done| done.rows_affected())
        });
        match written {
            Ok(1) => {}
            // Another worker recorded it first (a deferred offer sent twice, or the
            // same patient chosen twice): nothing is sent.
            Ok(_) => return Ok(Recorded::Refused("already_recorded")),
            Err(err) if crate::error::is_unique_violation(&err) => {
                return Ok(Recorded::Refused("already_recorded"));
            }
            Err(err) => return Err(anyhow::Error::new(err).context("recording an offer").into()),
        }
        let event = self.offer_event(run, &offer, channel, status, reason);
        tx.commit_with(&[&event]).await?;
        Ok(recorded)
    }

    /// An offer's message, sealed, when it is to be sent.
    async fn sealed_offer(
        &self,
        practice: PracticeId,
        offer: &NewOffer,
    ) -> Result<Option<crate::repos::outbox::SealedMessage>, StoreError> {
        let Decision::Send {
            channel,
            recipient,
            text,
            ..
        } = &offer.decision
        else {
            return Ok(None);
        };
        Ok(Some(
            self.store
                .seal_message(NewMessage {
                    practice,
                    channel: *channel,
                    patient: Some(offer.patient),
                    referral: None,
                    kind: "recovery_offer",
                    recipient: recipient.expose().clone(),
                    text: text.clone(),
                    idempotency_key: format!("recovery_offer:{}", offer.id),
                })
                .await?,
        ))
    }

    /// The audit event of one offer's outcome, as the agent, with the patient.
    fn offer_event(
        &self,
        run: &Run,
        offer: &NewOffer,
        channel: Option<Channel>,
        status: &str,
        reason: Option<&str>,
    ) -> enamel_audit::entry::Event {
        let mut event = self.event(
            AuditAction::Notify,
            ResourceType::Appointment,
            Some(offer.id.to_string()),
            if status == "refused" {
                Outcome::Denied
            } else {
                Outcome::Success
            },
        );
        event.patient_id = Some(offer.patient.as_uuid());
        event
            .detail
            .insert("recovery", Detail::Code(format!("offer_{status}")));
        event
            .detail
            .insert("run", Detail::Ids(vec![run.id.as_uuid()]));
        if let Some(channel) = channel {
            event
                .detail
                .insert("channel", Detail::Code(channel.as_str().into()));
        }
        if let Some(reason) = reason {
            event.detail.insert("reason", Detail::Code(reason.into()));
        }
        event
    }

    /// The run's deferred offers due by `now`, and the earliest one due later.
    pub async fn deferred_offers(
        &self,
        run: &Run,
        now: OffsetDateTime,
    ) -> Result<(Vec<DeferredOffer>, Option<OffsetDateTime>), StoreError> {
        let practice = self.authorize_recover().await?;
        let rows: Vec<(Uuid, Uuid, Uuid, Option<Uuid>, i64, OffsetDateTime)> =
            on_pool!(&self.store.db, pool => {
                sqlx::query_as(
                    "SELECT id, patient_id, entry_id, moves_appointment, wave, due_at \
                     FROM recovery_offers WHERE run_id = $1 AND practice_id = $2 \
                     AND status = 'deferred' ORDER BY due_at, id",
                )
                .bind(run.id.as_uuid())
                .bind(practice.as_uuid())
                .fetch_all(pool)
                .await
            })
            .context("reading deferred offers")?;
        let mut due = Vec::new();
        let mut later = None;
        for (id, patient, entry, moves, wave, due_at) in rows {
            if due_at <= now {
                due.push(DeferredOffer {
                    id: OfferId::from_uuid(id),
                    patient: PatientId::from_uuid(patient),
                    entry: WaitlistEntryId::from_uuid(entry),
                    moves: moves.map(AppointmentId::from_uuid),
                    wave: u32::try_from(wave).unwrap_or(0),
                });
            } else if later.is_none() {
                later = Some(due_at);
            }
        }
        Ok((due, later))
    }

    /// Ends a wave: counts it (when it was a new wave), sets when the next new
    /// wave may go, and queues the run's next job at `next_job`, if any.
    pub async fn finish_wave(
        &self,
        run: &Run,
        counted: bool,
        next_wave_at: Option<OffsetDateTime>,
        next_job: Option<OffsetDateTime>,
    ) -> Result<(), StoreError> {
        let practice = self.authorize_recover().await?;
        let now = self.store.now();
        let mut tx = self.store.begin().await?;
        let written = on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE recovery_runs SET waves = waves + $1, next_wave_at = $2 \
                 WHERE id = $3 AND practice_id = $4 AND status = 'open'",
            )
            .bind(i64::from(counted))
            .bind(next_wave_at)
            .bind(run.id.as_uuid())
            .bind(practice.as_uuid())
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected())
        })
        .context("ending a wave")?;
        if written == 1
            && let Some(at) = next_job
        {
            enqueue_wave_in_tx(&mut tx, practice, run.id, at, now)
                .await
                .context("queuing the next wave")?;
        }
        tx.commit().await.context("ending a wave")?;
        Ok(())
    }

    /// Whether a visit that holds its slot now overlaps the run's slot (staff
    /// booked the time directly): the run's offers would offer a taken time.
    pub async fn recovery_slot_taken(&self, run: &Run) -> Result<bool, StoreError> {
        let practice = self.authorize_recover().await?;
        let slot = super::NewSlot {
            provider: run.provider,
            operatory: run.operatory,
            kind: run.kind,
            starts_at: run.starts_at,
            duration: run.duration,
        };
        self.chair_taken(practice, &slot, false).await
    }

    /// Closes an open run: `expired` when its slot came within the cutoff with no
    /// one booked (its open offers expire), else withdrawn for `reason` (the
    /// practice turned recovery off). Audited; whether it was open.
    pub async fn close_recovery_run(
        &self,
        run: &Run,
        expired: bool,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let practice = self.authorize_recover().await?;
        let now = self.store.now();
        let status = if expired { "expired" } else { "withdrawn" };
        let event = self.run_event(run.id, &format!("run_{status}"));
        let mut tx = self.store.begin().await?;
        let closed = close_run_in_tx(&mut tx, practice, run.id, status, reason, now)
            .await
            .context("closing a recovery run")?;
        if closed {
            tx.commit_with(&[&event]).await?;
        }
        Ok(closed)
    }
}

/// Whether `run` is open, holding its row until the transaction ends (FOR SHARE on
/// PostgreSQL; the writer lock on SQLite): a booking, a withdrawal or an expiry
/// either comes first (and nothing is recorded) or comes after and sees what was.
async fn run_is_open_in_tx(tx: &mut crate::db::Tx, run: RecoveryRunId) -> anyhow::Result<bool> {
    let sql = if tx.is_postgres() {
        "SELECT id FROM recovery_runs WHERE id = $1 AND status = 'open' FOR SHARE"
    } else {
        "SELECT id FROM recovery_runs WHERE id = $1 AND status = 'open'"
    };
    let open: Option<Uuid> = on_tx!(&mut *tx, conn => {
        sqlx::query_scalar(sql)
            .bind(run.as_uuid())
            .fetch_optional(&mut *conn)
            .await?
    });
    Ok(open.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reach(phone: bool, email: bool, prefers_email: bool) -> Reach {
        Reach {
            phone: phone.then(|| Phi::new(PhoneNumber::parse("(512) 555-0199").unwrap())),
            email: email.then(|| Phi::new(Email::parse("reach@example.test").unwrap())),
            prefers_email,
            opted_out: false,
        }
    }

    #[test]
    fn the_preferred_channel_comes_first_and_an_unreachable_one_not_at_all() {
        assert_eq!(
            reach(true, true, false).channels(),
            [Channel::Sms, Channel::Email]
        );
        assert_eq!(
            reach(true, true, true).channels(),
            [Channel::Email, Channel::Sms]
        );
        assert_eq!(reach(false, true, false).channels(), [Channel::Email]);
        assert_eq!(reach(true, false, true).channels(), [Channel::Sms]);
        assert!(reach(false, false, true).channels().is_empty());
    }
}
