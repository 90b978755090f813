//! The patient's answer to an offer, through its signed link: looking (which
//! changes nothing, so a mail scanner's fetch books no one), confirming (first to
//! confirm wins: one transaction whose compare-and-set on the run lets exactly one
//! booking through), and declining the slot or all offers for the need.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{
    AgentId, AppointmentId, Minutes, OfferId, PatientId, PracticeId, RecoveryRunId, TimeZone,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{OfferStatus, RunStatus, recovery_actor};
use crate::db::{on_pool, on_tx};
use crate::repos::schedule::minutes_from;
use crate::{RequestContext, Store, StoreError};

/// An offer as its link shows it: no name, nothing clinical; the practice, the
/// time, and where the offer and its slot stand.
#[derive(Clone, Debug)]
pub struct LinkedOffer {
    pub offer: OfferId,
    pub run: RecoveryRunId,
    pub practice: PracticeId,
    pub practice_name: String,
    pub practice_phone: String,
    pub time_zone: TimeZone,
    pub starts_at: OffsetDateTime,
    pub duration: Minutes,
    pub offer_status: OfferStatus,
    pub run_status: RunStatus,
    /// This offer is the one that filled the slot.
    pub won: bool,
    pub expires_at: Option<OffsetDateTime>,
    agent: AgentId,
    patient: PatientId,
    entry: Uuid,
    moves: Option<Uuid>,
}

/// How a confirmation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// Booked: the new (or moved) appointment.
    Booked(AppointmentId),
    /// This offer had booked it already (a second press).
    AlreadyBooked,
    /// Someone else confirmed first, or the slot was withdrawn or came too near.
    Taken,
    /// The offer is no longer open (declined, expired, withdrawn).
    Closed,
    /// The patient has another visit at that time (booked since the offer went out).
    Clash,
}

type LinkRow = (
    Uuid,
    Uuid,
    Uuid,
    String,
    String,
    String,
    OffsetDateTime,
    i64,
    String,
    String,
    Option<Uuid>,
    Option<OffsetDateTime>,
    Uuid,
    Uuid,
    Uuid,
    Option<Uuid>,
);

impl Store {
    /// The offer a link names, for its page; `None` for no such offer. Read by the
    /// page before the link's signature is checked against the offer's run, so it
    /// carries nothing about the patient.
    pub async fn linked_offer(&self, offer: OfferId) -> Result<Option<LinkedOffer>, StoreError> {
        let row: Option<LinkRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT o.id, o.run_id, o.practice_id, pr.name, pr.phone, pr.time_zone, \
                 r.starts_at, r.duration_minutes, o.status, r.status, r.filled_offer, \
                 o.expires_at, s.agent_id, o.patient_id, o.entry_id, o.moves_appointment \
                 FROM recovery_offers o JOIN recovery_runs r ON r.id = o.run_id \
                 JOIN practices pr ON pr.id = o.practice_id \
                 JOIN recovery_settings s ON s.practice_id = o.practice_id \
                 WHERE o.id = $1",
            )
            .bind(offer.as_uuid())
            .fetch_optional(pool)
            .await
        })
        .context("reading an offer")?;
        let Some(r) = row else {
            return Ok(None);
        };
        Ok(Some(LinkedOffer {
            offer: OfferId::from_uuid(r.0),
            run: RecoveryRunId::from_uuid(r.1),
            practice: PracticeId::from_uuid(r.2),
            practice_name: r.3,
            practice_phone: r.4,
            time_zone: TimeZone::parse(&r.5).map_err(StoreError::Corrupt)?,
            starts_at: r.6,
            duration: minutes_from(r.7)?,
            offer_status: OfferStatus::parse(&r.8)?,
            run_status: RunStatus::parse(&r.9)?,
            won: r.10 == Some(r.0),
            expires_at: r.11,
            agent: AgentId::from_uuid(r.12),
            patient: PatientId::from_uuid(r.13),
            entry: r.14,
            moves: r.15,
        }))
    }

    /// Books the offer's patient into its slot, as the practice's recovery agent on
    /// the patient's word, in one transaction: the run goes from open to filled
    /// (a compare-and-set: of any number of confirmations, one gets through), the
    /// offer from sent to confirmed, the patient gets the appointment (the one the
    /// entry was to move is moved; else a new one), every other open offer of the
    /// run is withdrawn, and the entry leaves the waitlist. Audited as the agent with
    /// the run's correlation id; a confirmation that lost is audited too.
    #[allow(
        clippy::too_many_lines,
        reason = "one transaction, step by step, with its events"
    )]
    pub async fn confirm_offer(
        &self,
        linked: &LinkedOffer,
        context: RequestContext,
    ) -> Result<Confirmation, StoreError> {
        let actor = recovery_actor(linked.agent, linked.practice);
        let scoped = self.scoped(&actor).with_context(RequestContext {
            correlation_id: Some(linked.run.as_uuid().simple().to_string()),
            ..context
        });
        scoped
            .authorize_in_own_practice(
                enamel_policy::Action::ScheduleRecover,
                crate::AuditedAs::any(AuditAction::Write, ResourceType::Appointment),
            )
            .await?;
        let now = self.now();
        let practice = linked.practice.as_uuid();
        let mut event = scoped.event(
            AuditAction::Write,
            ResourceType::Appointment,
            Some(linked.offer.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(linked.patient.as_uuid());
        event
            .detail
            .insert("run", Detail::Ids(vec![linked.run.as_uuid()]));
        let mut tx = self.begin().await?;
        let filled = on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE recovery_runs SET status = 'filled', filled_offer = $1, closed_at = $2, \
                 closed_reason = 'booked', next_wave_at = NULL \
                 WHERE id = $3 AND practice_id = $4 AND status = 'open' AND starts_at > $2",
            )
            .bind(linked.offer.as_uuid())
            .bind(now)
            .bind(linked.run.as_uuid())
            .bind(practice)
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected())
        })
        .context("filling a slot")?;
        let confirmed = if filled == 1 {
            on_tx!(&mut tx, conn => {
                sqlx::query(
                    "UPDATE recovery_offers SET status = 'confirmed', answered_at = $1 \
                     WHERE id = $2 AND run_id = $3 AND status = 'sent' AND expires_at > $1",
                )
                .bind(now)
                .bind(linked.offer.as_uuid())
                .bind(linked.run.as_uuid())
                .execute(&mut *conn)
                .await
                .map(|done| done.rows_affected())
            })
            .context("confirming an offer")?
        } else {
            0
        };
        if filled != 1 || confirmed != 1 {
            drop(tx);
            let current = self.linked_offer(linked.offer).await?;
            let outcome = match current {
                Some(c) if c.won => Confirmation::AlreadyBooked,
                Some(c)
                    if c.offer_status == OfferStatus::Sent || c.run_status != RunStatus::Open =>
                {
                    Confirmation::Taken
                }
                _ => Confirmation::Closed,
            };
            event.outcome = Outcome::Failure;
            event.detail.insert(
                "recovery",
                Detail::Code(
                    match outcome {
                        Confirmation::AlreadyBooked => "confirm_repeated",
                        Confirmation::Taken => "confirm_too_late",
                        _ => "confirm_closed",
                    }
                    .into(),
                ),
            );
            self.audit().record(event).await?;
            return Ok(outcome);
        }
        // The slot's provider, chair and type, and the entry's length.
        let (provider, operatory, kind, starts_at, duration): (
            Uuid,
            Option<Uuid>,
            Option<Uuid>,
            OffsetDateTime,
            i64,
        ) = on_tx!(&mut tx, conn => {
            sqlx::query_as(
                "SELECT r.provider_id, r.operatory_id, COALESCE(w.type_id, r.type_id), r.starts_at, \
                 COALESCE(w.duration_minutes, r.duration_minutes) FROM recovery_runs r \
                 LEFT JOIN waitlist w ON w.id = $2 WHERE r.id = $1",
            )
            .bind(linked.run.as_uuid())
            .bind(linked.entry)
            .fetch_one(&mut *conn)
            .await
        })
        .context("reading the slot to book")?;
        // The patient's other visits near the slot (the one to be moved aside): a
        // booking must not overlap one, an offer of another run confirmed meanwhile
        // among them.
        // The patient's row lock first (PostgreSQL; SQLite's writer lock is held
        // already), so two bookings of one patient are read one by one.
        on_tx!(&mut tx, conn => {
            sqlx::query("UPDATE patients SET updated_at = updated_at WHERE id = $1")
                .bind(linked.patient.as_uuid())
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })
        .context("locking the patient")?;
        let nearby: Vec<(Uuid, OffsetDateTime, i64)> = on_tx!(&mut tx, conn => {
            sqlx::query_as(
                "SELECT id, starts_at, duration_minutes FROM appointments \
                 WHERE patient_id = $1 AND practice_id = $2 \
                 AND status IN ('scheduled', 'confirmed', 'arrived') \
                 AND starts_at > $3 AND starts_at < $4",
            )
            .bind(linked.patient.as_uuid())
            .bind(practice)
            .bind(starts_at - time::Duration::days(1))
            .bind(starts_at + time::Duration::days(1))
            .fetch_all(&mut *conn)
            .await
        })
        .context("reading the patient's visits")?;
        let length = time::Duration::minutes(duration);
        // A moved visit keeps its own length.
        let length = match linked.moves {
            Some(moves) => {
                let own: Option<i64> = on_tx!(&mut tx, conn => {
                    sqlx::query_scalar("SELECT duration_minutes FROM appointments WHERE id = $1")
                        .bind(moves)
                        .fetch_optional(&mut *conn)
                        .await
                })
                .context("reading the visit to move")?;
                own.map_or(length, |m| length.max(time::Duration::minutes(m)))
            }
            None => length,
        };
        // The provider's row first on PostgreSQL (SQLite's writer lock is held), so
        // two bookings of overlapping slots with one provider are read one by one.
        if tx.is_postgres() {
            on_tx!(&mut tx, conn => {
                sqlx::query("SELECT id FROM providers WHERE id = $1 FOR UPDATE")
                    .bind(provider)
                    .execute(&mut *conn)
                    .await
                    .map(|_| ())
            })
            .context("locking the provider")?;
        }
        // The chair time itself: a visit booked into it since the run opened (by
        // staff, or by an import) means the slot is gone.
        let holding: Vec<(Uuid, OffsetDateTime, i64)> = on_tx!(&mut tx, conn => {
            sqlx::query_as(super::HOLDING_NEAR)
                .bind(practice)
                .bind(provider)
                .bind(operatory)
                .bind(starts_at - time::Duration::days(1))
                .bind(starts_at + time::Duration::days(1))
                .fetch_all(&mut *conn)
                .await
        })
        .context("reading the slot's chair time")?;
        if super::overlaps(&holding, starts_at, length, linked.moves) {
            drop(tx);
            self.withdraw_filled_outside(linked).await?;
            event.outcome = Outcome::Failure;
            event
                .detail
                .insert("recovery", Detail::Code("confirm_slot_taken".into()));
            self.audit().record(event).await?;
            return Ok(Confirmation::Taken);
        }
        if super::overlaps(&nearby, starts_at, length, linked.moves) {
            drop(tx);
            event.outcome = Outcome::Failure;
            event
                .detail
                .insert("recovery", Detail::Code("confirm_clash".into()));
            self.audit().record(event).await?;
            return Ok(Confirmation::Clash);
        }
        let by = actor.audit_id();
        let moved: u64 = match linked.moves {
            Some(moves) => on_tx!(&mut tx, conn => {
                sqlx::query(
                    "UPDATE appointments SET provider_id = $1, operatory_id = $2, starts_at = $3, \
                     status = 'scheduled', status_changed_at = $4, status_changed_by = $5, \
                     updated_at = $4 WHERE id = $6 AND practice_id = $7 AND patient_id = $8 \
                     AND status IN ('scheduled', 'confirmed', 'broken', 'cancelled')",
                )
                .bind(provider)
                .bind(operatory)
                .bind(starts_at)
                .bind(now)
                .bind(&by)
                .bind(moves)
                .bind(practice)
                .bind(linked.patient.as_uuid())
                .execute(&mut *conn)
                .await
                .map(|done| done.rows_affected())
            })
            .context("moving an appointment")?,
            None => 0,
        };
        let booked = if moved == 1 {
            linked.moves.unwrap_or_default()
        } else {
            let id = Uuid::now_v7();
            on_tx!(&mut tx, conn => {
                sqlx::query(
                    "INSERT INTO appointments (id, practice_id, patient_id, provider_id, \
                     operatory_id, type_id, starts_at, duration_minutes, status, \
                     status_changed_at, status_changed_by, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'scheduled', $9, $10, $9)",
                )
                .bind(id)
                .bind(practice)
                .bind(linked.patient.as_uuid())
                .bind(provider)
                .bind(operatory)
                .bind(kind)
                .bind(starts_at)
                .bind(duration)
                .bind(now)
                .bind(&by)
                .execute(&mut *conn)
                .await
                .map(|_| ())
            })
            .context("booking an appointment")?;
            id
        };
        // The run's other offers end, and the entry's offers of other runs: the
        // entry is served.
        super::end_open_offers_in_tx(
            &mut tx,
            &super::OpenOffers {
                run: Some(linked.run.as_uuid()),
                except_offer: Some(linked.offer.as_uuid()),
                ..super::OpenOffers::default()
            },
            "withdrawn",
            "filled",
            now,
        )
        .await
        .context("withdrawing the other offers")?;
        super::end_open_offers_in_tx(
            &mut tx,
            &super::OpenOffers {
                entry: Some(linked.entry),
                except_run: Some(linked.run.as_uuid()),
                ..super::OpenOffers::default()
            },
            "withdrawn",
            "booked_elsewhere",
            now,
        )
        .await
        .context("withdrawing the entry's other offers")?;
        on_tx!(&mut tx, conn => {
            sqlx::query("UPDATE recovery_runs SET booked_appointment = $1 WHERE id = $2")
                .bind(booked)
                .bind(linked.run.as_uuid())
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })
        .context("recording the booking")?;
        on_tx!(&mut tx, conn => {
            sqlx::query("DELETE FROM waitlist WHERE id = $1 AND practice_id = $2")
                .bind(linked.entry)
                .bind(practice)
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })
        .context("taking the entry off the waitlist")?;
        // A practice on a PMS gets the booking written back there by a job.
        let connected: i64 = on_tx!(&mut tx, conn => {
            sqlx::query_scalar("SELECT COUNT(*) FROM pms_connections WHERE practice_id = $1")
                .bind(practice)
                .fetch_one(&mut *conn)
                .await
        })
        .context("finding the practice's PMS")?;
        if connected > 0 {
            on_tx!(&mut tx, conn => {
                sqlx::query("UPDATE recovery_runs SET pms_writeback = 'pending' WHERE id = $1")
                    .bind(linked.run.as_uuid())
                    .execute(&mut *conn)
                    .await
                    .map(|_| ())
            })
            .context("recording a write-back")?;
            let job = crate::NewJob {
                kind: WRITEBACK_JOB.to_owned(),
                key: format!("{WRITEBACK_JOB}:{}", linked.run),
                payload: serde_json::to_value(super::WaveRun {
                    practice: linked.practice,
                    run: linked.run,
                })
                .unwrap_or_default(),
                run_at: now,
                max_attempts: 6,
            };
            crate::jobs::enqueue_in_tx(&mut tx, &job, now)
                .await
                .context("queuing a write-back")?;
        }
        event.detail.insert(
            "recovery",
            Detail::Code(
                if moved == 1 {
                    "confirmed_moved"
                } else {
                    "confirmed_booked"
                }
                .into(),
            ),
        );
        event
            .detail
            .insert("appointment", Detail::Ids(vec![booked]));
        tx.commit_with(&[&event]).await?;
        Ok(Confirmation::Booked(AppointmentId::from_uuid(booked)))
    }

    /// Declines an offer: this slot only, or (`all`) every offer for the need the
    /// entry is for. Audited as the agent on the patient's word. Whether the offer
    /// was open to decline.
    pub async fn decline_offer(
        &self,
        linked: &LinkedOffer,
        all: bool,
        context: RequestContext,
    ) -> Result<bool, StoreError> {
        let actor = recovery_actor(linked.agent, linked.practice);
        let scoped = self.scoped(&actor).with_context(RequestContext {
            correlation_id: Some(linked.run.as_uuid().simple().to_string()),
            ..context
        });
        let now = self.now();
        let mut event = scoped.event(
            AuditAction::Write,
            ResourceType::Appointment,
            Some(linked.offer.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(linked.patient.as_uuid());
        event.detail.insert(
            "recovery",
            Detail::Code(if all { "declined_all" } else { "declined" }.into()),
        );
        let mut tx = self.begin().await?;
        let declined = on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE recovery_offers SET status = 'declined', reason = $1, answered_at = $2 \
                 WHERE id = $3 AND status = 'sent'",
            )
            .bind(if all { "all_offers" } else { "this_slot" })
            .bind(now)
            .bind(linked.offer.as_uuid())
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected())
        })
        .context("declining an offer")?;
        // Offers for the need can be stopped from any of its offers' pages, the one
        // whose slot was just taken among them; its open offers of other runs end too.
        if all {
            super::end_open_offers_in_tx(
                &mut tx,
                &super::OpenOffers {
                    entry: Some(linked.entry),
                    except_offer: Some(linked.offer.as_uuid()),
                    ..super::OpenOffers::default()
                },
                "declined",
                "all_offers",
                now,
            )
            .await
            .context("declining the entry's other offers")?;
        }
        let stopped = if all {
            on_tx!(&mut tx, conn => {
                sqlx::query(
                    "UPDATE waitlist SET offers_declined_at = $1 WHERE id = $2 AND practice_id = $3 \
                     AND offers_declined_at IS NULL",
                )
                .bind(now)
                .bind(linked.entry)
                .bind(linked.practice.as_uuid())
                .execute(&mut *conn)
                .await
                .map(|done| done.rows_affected())
            })
            .context("declining offers for an entry")?
        } else {
            0
        };
        if declined != 1 && stopped != 1 {
            return Ok(false);
        }
        tx.commit_with(&[&event]).await?;
        Ok(true)
    }
}

/// The job that writes a booking back to the practice-management system.
pub const WRITEBACK_JOB: &str = "recovery_writeback";

/// What a write-back needs of a booking: the PMS's number of the booked visit (if
/// it came from the PMS), the chair's and the provider's numbers, and when.
#[derive(Clone, Debug)]
pub struct PmsBooking {
    pub appointment: Option<String>,
    pub operatory: Option<String>,
    pub provider: String,
    pub local_start: time::PrimitiveDateTime,
}

/// A run's slot as the PMS knows it: its chair's number (none: no chair), and its
/// local start and end.
#[derive(Clone, Debug)]
pub struct PmsSlot {
    pub operatory: Option<String>,
    pub from: time::PrimitiveDateTime,
    pub to: time::PrimitiveDateTime,
    /// PMS numbers of visits that do not fill the slot (the freed one, the moved one).
    pub own: Vec<String>,
}

impl Store {
    /// The slot of `linked`'s run as its practice's PMS knows it (ids and times, no
    /// patient), with the PMS numbers of the visits that may sit in it without
    /// filling it: the one whose no-show freed it (Enamel's status change may not be
    /// in the PMS yet) and the one the offer would move.
    pub async fn recovery_slot_in_pms(
        &self,
        linked: &LinkedOffer,
    ) -> Result<Option<PmsSlot>, StoreError> {
        type Row = (Option<String>, OffsetDateTime, i64, String, Option<Uuid>);
        let row: Option<Row> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT op.pms_id, r.starts_at, r.duration_minutes, pr.time_zone, r.appointment_id \
                 FROM recovery_runs r JOIN practices pr ON pr.id = r.practice_id \
                 LEFT JOIN operatories op ON op.id = r.operatory_id WHERE r.id = $1",
            )
            .bind(linked.run.as_uuid())
            .fetch_optional(pool)
            .await
        })
        .context("reading a run's slot")?;
        let Some((operatory, starts_at, minutes, zone, freed)) = row else {
            return Ok(None);
        };
        let mut own = Vec::new();
        for appointment in [freed, linked.moves].into_iter().flatten() {
            let sealed: Option<Option<Vec<u8>>> = on_pool!(&self.db, pool => {
                sqlx::query_scalar("SELECT pms_id FROM appointments WHERE id = $1")
                    .bind(appointment)
                    .fetch_optional(pool)
                    .await
            })
            .context("reading a visit's PMS number")?;
            if let Some(Some(sealed)) = sealed {
                let opened = self
                    .open(
                        linked.practice,
                        &crate::sealed::APPOINTMENT_PMS_ID,
                        appointment,
                        &sealed,
                    )
                    .await?;
                own.push(String::from_utf8_lossy(&opened).into_owned());
            }
        }
        let zone = TimeZone::parse(&zone).map_err(StoreError::Corrupt)?;
        let from = zone.local(starts_at);
        Ok(Some(PmsSlot {
            operatory,
            from,
            to: from + minutes_from(minutes)?.duration(),
            own,
        }))
    }

    /// Withdraws the run of `linked` because its slot was filled outside Enamel (the
    /// PMS showed it taken when a patient pressed "Book"): every open offer is
    /// withdrawn. Audited as the agent with the run's correlation id.
    pub async fn withdraw_filled_outside(&self, linked: &LinkedOffer) -> Result<(), StoreError> {
        let actor = recovery_actor(linked.agent, linked.practice);
        let scoped = self.scoped(&actor).with_context(RequestContext {
            correlation_id: Some(linked.run.as_uuid().simple().to_string()),
            ..RequestContext::default()
        });
        let event = scoped.run_event(linked.run, "run_filled_outside");
        let mut tx = self.begin().await?;
        let closed = super::close_run_in_tx(
            &mut tx,
            linked.practice,
            linked.run,
            "withdrawn",
            "filled_outside",
            self.now(),
        )
        .await
        .context("withdrawing a run")?;
        if closed {
            tx.commit_with(&[&event]).await?;
        }
        Ok(())
    }
}

impl crate::Scoped<'_> {
    /// A filled run's booking as the PMS write-back needs it (the `pms-sync` agent,
    /// `schedule.import`): `None` when the run booked nothing.
    pub async fn recovery_booking_for_pms(
        &self,
        run: RecoveryRunId,
    ) -> Result<Option<PmsBooking>, StoreError> {
        type Row = (
            Uuid,
            Option<Vec<u8>>,
            Option<String>,
            String,
            OffsetDateTime,
            String,
        );
        let practice = self.authorize_import(ResourceType::Appointment).await?;
        let row: Option<Row> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT a.id, a.pms_id, op.pms_id, pv.pms_id, a.starts_at, pr.time_zone \
                 FROM recovery_runs r JOIN appointments a ON a.id = r.booked_appointment \
                 JOIN providers pv ON pv.id = a.provider_id \
                 LEFT JOIN operatories op ON op.id = a.operatory_id \
                 JOIN practices pr ON pr.id = r.practice_id \
                 WHERE r.id = $1 AND r.practice_id = $2 AND r.status = 'filled'",
            )
            .bind(run.as_uuid())
            .bind(practice.as_uuid())
            .fetch_optional(pool)
            .await
        })
        .context("reading a booking")?;
        let Some((appointment, sealed, operatory, provider, starts_at, zone)) = row else {
            return Ok(None);
        };
        let appointment = match sealed {
            Some(sealed) => {
                let opened = self
                    .store
                    .open(
                        practice,
                        &crate::sealed::APPOINTMENT_PMS_ID,
                        appointment,
                        &sealed,
                    )
                    .await?;
                Some(String::from_utf8_lossy(&opened).into_owned())
            }
            None => None,
        };
        let zone = TimeZone::parse(&zone).map_err(StoreError::Corrupt)?;
        Ok(Some(PmsBooking {
            appointment,
            operatory,
            provider,
            local_start: zone.local(starts_at),
        }))
    }

    /// Records how a run's write-back to the PMS went (a code, never a message).
    pub async fn set_recovery_writeback(
        &self,
        run: RecoveryRunId,
        outcome: &str,
    ) -> Result<(), StoreError> {
        let practice = self.authorize_import(ResourceType::Appointment).await?;
        let event = self.run_event(run, &format!("pms_writeback_{outcome}"));
        let mut tx = self.store.begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query("UPDATE recovery_runs SET pms_writeback = $1 WHERE id = $2 AND practice_id = $3")
                .bind(outcome)
                .bind(run.as_uuid())
                .bind(practice.as_uuid())
                .execute(&mut *conn)
                .await
                .map(|_| ())
        })
        .context("recording a write-back")?;
        tx.commit_with(&[&event]).await?;
        Ok(())
    }
}

impl Store {
    /// Tells a patient who just booked through an offer that they are booked: by
    /// the offer's channel, to the address it went to (read back from the outbox),
    /// with the practice, the day and time and its phone; no name, nothing
    /// clinical. Under the same three-a-day limit as every patient message: past
    /// it, the patient has the page's "You are booked" only. Whether it was queued.
    pub async fn confirm_booking_to_patient(
        &self,
        linked: &LinkedOffer,
    ) -> Result<bool, StoreError> {
        type Row = (Option<String>, Option<Uuid>, Option<Vec<u8>>);
        let row: Option<Row> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT o.channel, o.message_id, m.recipient FROM recovery_offers o \
                 LEFT JOIN outbox m ON m.id = o.message_id WHERE o.id = $1",
            )
            .bind(linked.offer.as_uuid())
            .fetch_optional(pool)
            .await
        })
        .context("reading an offer's address")?;
        let Some((Some(channel), Some(message), Some(sealed))) = row else {
            return Ok(false);
        };
        let Some(channel) = enamel_domain::Channel::parse(&channel) else {
            return Ok(false);
        };
        let recipient = self
            .open(
                linked.practice,
                &crate::sealed::OUTBOX_RECIPIENT,
                message,
                &sealed,
            )
            .await?;
        let local = linked.time_zone.local(linked.starts_at);
        let format = time::macros::format_description!(
            "[weekday repr:short] [month repr:short] [day padding:none] at [hour repr:12 padding:none]:[minute] [period]"
        );
        let when = local.format(&format).unwrap_or_default();
        let phone = enamel_domain::PhoneNumber::parse(&linked.practice_phone)
            .map_or_else(|_| linked.practice_phone.clone(), |p| p.national());
        let text = match channel {
            enamel_domain::Channel::Sms => crate::MessageText {
                subject: String::new(),
                body: format!(
                    "{}: you are booked {when}. To change it, call {phone}.",
                    linked.practice_name
                ),
            },
            _ => crate::MessageText {
                subject: format!("You are booked at {}", linked.practice_name),
                body: format!(
                    "You are booked at {} on {when}.\n\nIf you need to change it, call {phone}.\n",
                    linked.practice_name
                ),
            },
        };
        let queued = self
            .queue_message(
                crate::NewMessage {
                    practice: linked.practice,
                    channel,
                    patient: Some(linked.patient),
                    referral: None,
                    kind: "recovery_booked",
                    recipient: String::from_utf8_lossy(&recipient).into_owned(),
                    text,
                    idempotency_key: format!("recovery_booked:{}", linked.offer),
                },
                self.now(),
            )
            .await?;
        Ok(queued.is_ok())
    }
}
