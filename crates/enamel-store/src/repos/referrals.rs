//! Referrals between two practices: created and sealed by the referring practice,
//! visible to the receiving practice once sent, moved along the state machine of
//! `enamel_domain::referral` by the side each step belongs to. Every step is a
//! timeline event, audited in the transaction that writes it; sending is recorded as
//! a disclosure to the receiving practice.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Event, Outcome, ResourceType};
use enamel_domain::{
    ClinicalDetails, Patient, PatientId, PatientSummary, Phi, PracticeId, ReferralId,
    ReferralStatus, Side, Step, Urgency, UserId,
};
use enamel_policy::{Action, Circumstances, Resource};
use serde::Serialize;
use time::{OffsetDateTime, PrimitiveDateTime};
use uuid::Uuid;

use crate::db::{Tx, on_pool, on_tx};
use crate::repos::notices::Notices;
use crate::repos::outbox::{NotQueued, SealedMessage, queue_in_tx};
use crate::scoped::authorize::AuditedAs;
use crate::sealed::{REFERRAL_APPOINTMENT, REFERRAL_CLINICAL, REFERRAL_EVENT_NOTE};
use crate::{Scoped, Store, StoreError};

/// A referral to create (as a draft).
#[derive(Clone, Debug)]
pub struct NewReferral {
    pub id: ReferralId,
    pub patient: PatientId,
    pub receiver: PracticeId,
    pub urgency: Urgency,
    pub clinical: Phi<ClinicalDetails>,
}

/// What a step needs besides itself.
#[derive(Clone, Debug, Default)]
pub struct StepInput {
    /// A decline reason, a cancellation reason, or the specialist's report.
    pub note: Option<Phi<String>>,
    /// The appointment, for [`Step::Schedule`] (the practice's local time).
    pub appointment: Option<Phi<PrimitiveDateTime>>,
}

/// A referral as a list shows it: no clinical content.
#[derive(Clone, Debug)]
pub struct ReferralSummary {
    pub id: ReferralId,
    /// Which side the reader is on.
    pub side: Side,
    pub referrer: PracticeId,
    pub referrer_name: String,
    pub receiver: PracticeId,
    pub receiver_name: String,
    pub patient: PatientSummary,
    pub status: ReferralStatus,
    pub urgency: Urgency,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
    pub updated_at: OffsetDateTime,
    /// Flagged "patient not responding": not scheduled within the configured days.
    pub not_responding: bool,
}

impl ReferralSummary {
    /// Whether the reader's office has something to do on it.
    #[must_use]
    pub fn needs_attention(&self) -> bool {
        match self.side {
            Side::Receiver => {
                matches!(
                    self.status,
                    ReferralStatus::Sent | ReferralStatus::Received | ReferralStatus::Accepted
                ) || (self.status == ReferralStatus::Scheduled && self.not_responding)
            }
            Side::Referrer => {
                matches!(
                    self.status,
                    ReferralStatus::Draft | ReferralStatus::ReportSent | ReferralStatus::Declined
                ) || self.not_responding
            }
        }
    }
}

/// One entry of a referral's timeline.
#[derive(Clone, Debug)]
pub struct TimelineEntry {
    pub id: Uuid,
    /// A step's name, `created`, `message`, `attachment`, `not_responding`,
    /// `portal_link` or `notification_refused`.
    pub kind: String,
    pub side: Side,
    pub actor: Option<UserId>,
    pub actor_name: Option<String>,
    pub at: OffsetDateTime,
    pub note: Option<Phi<String>>,
}

/// A referral with everything the reader may see.
#[derive(Clone, Debug)]
pub struct ReferralDetail {
    pub summary: ReferralSummary,
    pub patient: Patient,
    pub clinical: Phi<ClinicalDetails>,
    pub appointment: Option<Phi<PrimitiveDateTime>>,
    pub timeline: Vec<TimelineEntry>,
    pub attachments: Vec<crate::repos::attachments::AttachmentInfo>,
    /// The steps the reader's office may take now.
    pub steps: Vec<Step>,
}

/// Which referrals to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralBox {
    /// Received by the actor's practice.
    Inbox,
    /// Sent (or drafted) by the actor's practice.
    Outbox,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReferralRow {
    pub(crate) id: Uuid,
    pub(crate) practice_id: Uuid,
    pub(crate) receiving_practice_id: Uuid,
    pub(crate) patient_id: Uuid,
    status: String,
    urgency: String,
    clinical: Vec<u8>,
    appointment: Option<Vec<u8>>,
    created_at: OffsetDateTime,
    sent_at: Option<OffsetDateTime>,
    updated_at: OffsetDateTime,
    not_responding_at: Option<OffsetDateTime>,
    referrer_name: String,
    receiver_name: String,
    patient_name: Vec<u8>,
    patient_birth_date: Vec<u8>,
}

const REFERRAL_SELECT: &str = "SELECT r.id, r.practice_id, r.receiving_practice_id, r.patient_id, \
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
    async fn referral_summary(
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
        })
    }
}

impl Scoped<'_> {
    fn referral_event(&self, action: AuditAction, row: &ReferralRow, outcome: Outcome) -> Event {
        let mut event = self.event(
            action,
            ResourceType::Referral,
            Some(row.id.to_string()),
            outcome,
        );
        event.patient_id = Some(row.patient_id);
        event
    }

    /// Creates a draft referral of one of the practice's patients to another practice.
    pub async fn create_referral(
        &self,
        new: &NewReferral,
        at: OffsetDateTime,
    ) -> Result<ReferralId, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ReferralCreate,
            AuditedAs::any(AuditAction::Create, ResourceType::Referral),
        )
        .await?;
        if new.receiver == practice {
            return Err(StoreError::Refused(
                "a referral must go to another practice",
            ));
        }
        // The patient must be one of ours; the receiver must exist.
        self.patient_row(new.patient).await?;
        self.store
            .practices()
            .get(new.receiver)
            .await
            .map_err(|err| match err {
                StoreError::NotFound => {
                    StoreError::Refused("the receiving practice does not exist")
                }
                other => other,
            })?;
        let row = new.id.as_uuid();
        let clinical = self
            .store
            .seal_json(practice, &REFERRAL_CLINICAL, row, new.clinical.expose())
            .await?;
        let mut event = self.event(
            AuditAction::Create,
            ResourceType::Referral,
            Some(new.id.to_string()),
            Outcome::Success,
        );
        event.patient_id = Some(new.patient.as_uuid());
        let user = self.actor.user().map(|u| u.as_uuid());
        let write = async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, conn => {
                sqlx::query(
                    "INSERT INTO referrals (id, practice_id, receiving_practice_id, patient_id, status, \
                     urgency, clinical, created_by, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'draft', $5, $6, $7, $8, $8)",
                )
                .bind(row)
                .bind(practice.as_uuid())
                .bind(new.receiver.as_uuid())
                .bind(new.patient.as_uuid())
                .bind(new.urgency.as_str())
                .bind(&clinical)
                .bind(user)
                .bind(at)
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected())
            })?;
            let created = TimelineRow::new(row, practice.as_uuid(), "created", user, at);
            insert_timeline(&mut tx, created).await?;
            tx.commit_with(&[&event]).await
        };
        write.await.map_err(|err| {
            crate::error::conflict_if_taken(err, "this referral id", "creating a referral")
        })?;
        Ok(new.id)
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

    /// The practice's referrals in `box`, newest activity first, optionally of one
    /// status. No clinical content; audited as a search naming the ids returned.
    pub async fn referrals(
        &self,
        which: ReferralBox,
        status: Option<ReferralStatus>,
        limit: u32,
    ) -> Result<Vec<ReferralSummary>, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ReferralList,
            AuditedAs::any(AuditAction::Search, ResourceType::Referral),
        )
        .await?;
        let filter = match which {
            ReferralBox::Inbox => "r.receiving_practice_id = $1 AND r.status <> 'draft'",
            ReferralBox::Outbox => "r.practice_id = $1",
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "{REFERRAL_SELECT} WHERE {filter} AND ($2 IS NULL OR r.status = $2) \
             ORDER BY r.updated_at DESC, r.id DESC LIMIT $3"
        ));
        let rows: Vec<ReferralRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql)
                .bind(practice.as_uuid())
                .bind(status.map(ReferralStatus::as_str))
                .bind(i64::from(limit.clamp(1, 200)))
                .fetch_all(pool)
                .await
        })
        .context("listing referrals")?;
        let mut summaries = Vec::with_capacity(rows.len());
        for row in &rows {
            summaries.push(self.store.referral_summary(row, practice).await?);
        }
        let mut event = self.event(
            AuditAction::Search,
            ResourceType::Referral,
            None,
            Outcome::Success,
        );
        event.detail.insert(
            "returned",
            Detail::Ids(summaries.iter().map(|s| s.id.as_uuid()).collect()),
        );
        self.store.audit().record(event).await?;
        Ok(summaries)
    }

    /// A referral with its patient, clinical details, timeline and attachments. The
    /// receiving office's first read marks it received. Audited before it returns.
    pub async fn referral(
        &self,
        id: ReferralId,
        at: OffsetDateTime,
    ) -> Result<ReferralDetail, StoreError> {
        let practice = self.practice()?;
        let (mut row, side) = self
            .referral_for(
                id,
                Action::ReferralRead,
                (AuditAction::Read, ResourceType::Referral),
            )
            .await?;
        if side == Side::Receiver && row.status()? == ReferralStatus::Sent {
            self.step(id, Step::Receive, StepInput::default(), at)
                .await?;
            row = self.referral_row(id).await?;
        }
        let summary = self.store.referral_summary(&row, practice).await?;
        let patient_row = self
            .store
            .patient_row_of(row.referrer(), row.patient_id)
            .await?;
        let patient_resource = Resource::Patient {
            id: PatientId::from_uuid(row.patient_id),
            practice: row.referrer(),
            restricted: patient_row.restricted,
        };
        // In the referring office a restricted patient stays behind the glass, through
        // a referral as through the chart. The receiving office was sent this patient.
        if side == Side::Referrer && patient_row.restricted {
            let break_glass = self
                .holds_break_glass(PatientId::from_uuid(row.patient_id), at)
                .await?;
            self.authorize(
                Action::PatientRead,
                &patient_resource,
                Circumstances { break_glass },
                AuditedAs::one(AuditAction::Read, ResourceType::Referral, &id),
            )
            .await?;
        }
        // The receiving office needs the contact details to book the patient; on the
        // referring side the role decides, as for any patient read.
        let with_contact =
            side == Side::Receiver || self.may(Action::PatientContact, &patient_resource);
        let patient = self.store.open_patient(&patient_row, with_contact).await?;
        let clinical: ClinicalDetails = self
            .store
            .open_json(row.referrer(), &REFERRAL_CLINICAL, row.id, &row.clinical)
            .await?;
        let appointment = match &row.appointment {
            Some(sealed) => Some(Phi::new(
                self.store
                    .open_json(row.referrer(), &REFERRAL_APPOINTMENT, row.id, sealed)
                    .await?,
            )),
            None => None,
        };
        let timeline = self.store.timeline(&row).await?;
        let attachments = self.store.attachments_of(id).await?;
        let steps = summary.status.steps_for(summary.side);
        let mut event = self.referral_event(AuditAction::Read, &row, Outcome::Success);
        event.detail.insert(
            "fields",
            Detail::Code(
                if with_contact {
                    "referral+demographics+contact"
                } else {
                    "referral+demographics"
                }
                .into(),
            ),
        );
        self.store.audit().record(event).await?;
        Ok(ReferralDetail {
            summary,
            patient,
            clinical: Phi::new(clinical),
            appointment,
            timeline,
            attachments,
            steps,
        })
    }

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
        let event_id = Uuid::now_v7();
        let note = Some(
            self.store
                .seal(practice, &REFERRAL_EVENT_NOTE, event_id, text.as_bytes())
                .await?,
        );
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

/// One entry of a referral's timeline, as written.
#[derive(Debug)]
pub(crate) struct TimelineRow<'a> {
    pub(crate) id: Uuid,
    pub(crate) referral: Uuid,
    pub(crate) practice: Uuid,
    pub(crate) kind: &'a str,
    pub(crate) actor: Option<Uuid>,
    pub(crate) at: time::OffsetDateTime,
    /// The sealed note, if any.
    pub(crate) note: Option<&'a [u8]>,
}

impl<'a> TimelineRow<'a> {
    /// An entry with a fresh id and no note.
    pub(crate) fn new(
        referral: Uuid,
        practice: Uuid,
        kind: &'a str,
        actor: Option<Uuid>,
        at: time::OffsetDateTime,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            referral,
            practice,
            kind,
            actor,
            at,
            note: None,
        }
    }
}

/// Inserts a timeline entry inside the open transaction `tx`.
pub(crate) async fn insert_timeline(
    tx: &mut Tx,
    entry: TimelineRow<'_>,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO referral_events (id, referral_id, practice_id, kind, actor_id, at, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(entry.id)
        .bind(entry.referral)
        .bind(entry.practice)
        .bind(entry.kind)
        .bind(entry.actor)
        .bind(entry.at)
        .bind(entry.note)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })
}

impl Store {
    /// A patient row by practice and id, for reads already authorized through a referral.
    pub(crate) async fn patient_row_of(
        &self,
        practice: PracticeId,
        id: Uuid,
    ) -> Result<crate::repos::patients::PatientRow, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM patients WHERE id = $1 AND practice_id = $2",
            crate::repos::patients::PATIENT_COLUMNS
        ));
        let row: Option<crate::repos::patients::PatientRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(sql)
                .bind(id)
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("reading a referral's patient")?;
        row.ok_or(StoreError::NotFound)
    }

    async fn timeline(&self, row: &ReferralRow) -> Result<Vec<TimelineEntry>, StoreError> {
        type Row = (
            Uuid,
            Uuid,
            String,
            Option<Uuid>,
            Option<String>,
            OffsetDateTime,
            Option<Vec<u8>>,
        );
        let rows: Vec<Row> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT e.id, e.practice_id, e.kind, e.actor_id, u.display_name, e.at, e.note \
                 FROM referral_events e LEFT JOIN users u ON u.id = e.actor_id \
                 WHERE e.referral_id = $1 ORDER BY e.id",
            )
            .bind(row.id)
            .fetch_all(pool)
            .await
        })
        .context("reading a referral's timeline")?;
        let mut entries = Vec::with_capacity(rows.len());
        for (id, practice, kind, actor, actor_name, at, note) in rows {
            let practice = PracticeId::from_uuid(practice);
            let note = match note {
                Some(sealed) => {
                    let plain = self
                        .open(practice, &REFERRAL_EVENT_NOTE, id, &sealed)
                        .await?;
                    Some(Phi::new(String::from_utf8_lossy(&plain).into_owned()))
                }
                None => None,
            };
            entries.push(TimelineEntry {
                id,
                kind,
                side: if practice == row.referrer() {
                    Side::Referrer
                } else {
                    Side::Receiver
                },
                actor: actor.map(UserId::from_uuid),
                actor_name,
                at,
                note,
            });
        }
        Ok(entries)
    }
}
