//! Referrals between two practices: created and sealed by the referring practice,
//! visible to the receiving practice once sent, moved along the state machine of
//! `enamel_domain::referral` by the side each step belongs to. Every step is a
//! timeline event, audited in the transaction that writes it; sending is recorded as
//! a disclosure to the receiving practice.
//!
//! The aggregate's parts: `rows` (the stored row, read for a party to it), `steps`
//! (steps and messages), `timeline`, `attachments`, `notices` (what each office and
//! the patient are told) and `portal` (the patient's link). Children depend on this
//! module's types and on `rows`/`timeline`, never on each other in a cycle.

mod attachments;
mod flags;
mod notices;
mod portal;
mod rows;
mod steps;
mod timeline;

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{
    ClinicalDetails, Patient, PatientId, PatientSummary, Phi, PracticeId, ReferralId,
    ReferralStatus, Side, Step, Urgency,
};
use enamel_policy::{Action, Circumstances, Resource};
use serde::Serialize;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::db::{on_pool, on_tx};
use crate::scoped::authorize::AuditedAs;
use crate::sealed::{REFERRAL_APPOINTMENT, REFERRAL_CLINICAL};
use crate::{Scoped, StoreError};

pub use attachments::{AttachmentInfo, DownloadTicket, Purpose, UploadTicket};
pub use portal::{PORTAL_ATTEMPTS, PORTAL_SESSION_MINUTES, PortalOpening, PortalView};
pub(crate) use rows::{REFERRAL_SELECT, ReferralRow};
pub use timeline::TimelineEntry;
pub(crate) use timeline::{TimelineRow, insert_timeline};

/// A referral to create (as a draft).
#[derive(Clone, Debug)]
pub struct NewReferral {
    pub id: ReferralId,
    pub patient: PatientId,
    pub receiver: PracticeId,
    pub urgency: Urgency,
    pub clinical: Phi<ClinicalDetails>,
}

/// How many of a box's newest referrals a search by patient name opens.
pub const NAME_SEARCH_SCAN: i64 = 1_000;

/// A search of one box; every filter optional.
#[derive(Clone, Debug)]
pub struct ReferralQuery {
    pub which: ReferralBox,
    pub status: Option<ReferralStatus>,
    /// The other office.
    pub office: Option<PracticeId>,
    /// Created at or after.
    pub from: Option<OffsetDateTime>,
    /// Created before.
    pub to: Option<OffsetDateTime>,
    /// Text in the patient's name.
    pub patient: Option<Phi<String>>,
    pub limit: u32,
    pub offset: u32,
}

impl ReferralQuery {
    /// Everything in `which`, the first page of 50.
    #[must_use]
    pub const fn new(which: ReferralBox) -> Self {
        Self {
            which,
            status: None,
            office: None,
            from: None,
            to: None,
            patient: None,
            limit: 50,
            offset: 0,
        }
    }
}

/// One page of a search.
#[derive(Clone, Debug)]
pub struct ReferralPage {
    pub referrals: Vec<ReferralSummary>,
    /// Whether another page follows.
    pub more: bool,
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
    /// A message from the other office that the reader's office has not opened yet.
    pub unread: bool,
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

/// A referral with everything the reader may see.
#[derive(Clone, Debug)]
pub struct ReferralDetail {
    pub summary: ReferralSummary,
    pub patient: Patient,
    pub clinical: Phi<ClinicalDetails>,
    pub appointment: Option<Phi<PrimitiveDateTime>>,
    pub timeline: Vec<TimelineEntry>,
    pub attachments: Vec<attachments::AttachmentInfo>,
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

/// What a step needs besides itself.
#[derive(Clone, Debug, Default)]
pub struct StepInput {
    /// A decline reason, a cancellation reason, or the specialist's report.
    pub note: Option<Phi<String>>,
    /// The appointment, for [`Step::Schedule`] (the practice's local time).
    pub appointment: Option<Phi<PrimitiveDateTime>>,
}

impl Scoped<'_> {
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
        self.require_agreement(practice, "your practice", ResourceType::Referral)
            .await?;
        self.require_agreement(new.receiver, "the receiving office", ResourceType::Referral)
            .await?;
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

    /// The referrals in one of the office's boxes, newest change first, optionally of
    /// one status. Audited as a search naming every referral returned.
    pub async fn referrals(
        &self,
        which: ReferralBox,
        status: Option<ReferralStatus>,
        limit: u32,
    ) -> Result<Vec<ReferralSummary>, StoreError> {
        let query = ReferralQuery {
            status,
            limit,
            ..ReferralQuery::new(which)
        };
        Ok(self.find_referrals(&query).await?.referrals)
    }

    /// The referrals of one box matching `query`, newest change first, a page at a
    /// time. Names are sealed under the referring practice's key, so a search by
    /// patient name opens the names of the box's newest [`NAME_SEARCH_SCAN`]
    /// referrals that match the other filters and keeps those whose name contains
    /// the text; the other filters run in the database. Audited as a search naming
    /// every referral returned.
    pub async fn find_referrals(&self, query: &ReferralQuery) -> Result<ReferralPage, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ReferralList,
            AuditedAs::any(AuditAction::Search, ResourceType::Referral),
        )
        .await?;
        let (filter, other) = match query.which {
            ReferralBox::Inbox => (
                "r.receiving_practice_id = $1 AND r.status <> 'draft'",
                "r.practice_id",
            ),
            ReferralBox::Outbox => ("r.practice_id = $1", "r.receiving_practice_id"),
        };
        let name = query
            .patient
            .as_ref()
            .map(|p| p.expose().trim().to_lowercase())
            .filter(|p| !p.is_empty());
        let limit = i64::from(query.limit.clamp(1, 200));
        let (fetch, offset) = if name.is_some() {
            (NAME_SEARCH_SCAN, 0)
        } else {
            (limit + 1, i64::from(query.offset))
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "{REFERRAL_SELECT} WHERE {filter} AND ($2 IS NULL OR r.status = $2) \
             AND ($3 IS NULL OR {other} = $3) AND ($4 IS NULL OR r.created_at >= $4) \
             AND ($5 IS NULL OR r.created_at < $5) \
             ORDER BY r.updated_at DESC, r.id DESC LIMIT $6 OFFSET $7"
        ));
        let rows: Vec<ReferralRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql)
                .bind(practice.as_uuid())
                .bind(query.status.map(ReferralStatus::as_str))
                .bind(query.office.map(|o| o.as_uuid()))
                .bind(query.from)
                .bind(query.to)
                .bind(fetch)
                .bind(offset)
                .fetch_all(pool)
                .await
        })
        .context("listing referrals")?;
        let mut summaries = Vec::with_capacity(rows.len());
        for row in &rows {
            let summary = self.store.referral_summary(row, practice).await?;
            if let Some(name) = &name {
                let full = format!(
                    "{} {}",
                    summary.patient.first_name.expose(),
                    summary.patient.last_name.expose()
                )
                .to_lowercase();
                if !full.contains(name.as_str()) {
                    continue;
                }
            }
            summaries.push(summary);
        }
        if name.is_some() {
            let skip = usize::try_from(query.offset).unwrap_or(usize::MAX);
            summaries = summaries.into_iter().skip(skip).collect();
        }
        let page = usize::try_from(limit).unwrap_or(200);
        let more = summaries.len() > page;
        summaries.truncate(page);
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
        if name.is_some() {
            event
                .detail
                .insert("by", Detail::Code("patient_name".into()));
        }
        self.store.audit().record(event).await?;
        Ok(ReferralPage {
            referrals: summaries,
            more,
        })
    }

    /// The other offices of one box, by name: the choices of its office filter.
    pub async fn referral_offices(
        &self,
        which: ReferralBox,
    ) -> Result<Vec<(PracticeId, String)>, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::ReferralList,
            AuditedAs::any(AuditAction::Search, ResourceType::Referral),
        )
        .await?;
        let sql = match which {
            ReferralBox::Inbox => {
                "SELECT DISTINCT p.id, p.name FROM referrals r JOIN practices p ON p.id = r.practice_id \
                 WHERE r.receiving_practice_id = $1 AND r.status <> 'draft' ORDER BY p.name"
            }
            ReferralBox::Outbox => {
                "SELECT DISTINCT p.id, p.name FROM referrals r \
                 JOIN practices p ON p.id = r.receiving_practice_id WHERE r.practice_id = $1 \
                 ORDER BY p.name"
            }
        };
        let rows: Vec<(uuid::Uuid, String)> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql).bind(practice.as_uuid()).fetch_all(pool).await
        })
        .context("listing referral offices")?;
        Ok(rows
            .into_iter()
            .map(|(id, name)| (PracticeId::from_uuid(id), name))
            .collect())
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
        self.store.mark_read(row.id, practice).await?;
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
        let (clinical, appointment) = self.store.open_referral(&row).await?;
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
            clinical,
            appointment,
            timeline,
            attachments,
            steps,
        })
    }
}

impl crate::Store {
    /// A referral's sealed parts, opened: its clinical details and appointment.
    pub(crate) async fn open_referral(
        &self,
        row: &ReferralRow,
    ) -> Result<(Phi<ClinicalDetails>, Option<Phi<PrimitiveDateTime>>), StoreError> {
        let clinical: ClinicalDetails = self
            .open_json(row.referrer(), &REFERRAL_CLINICAL, row.id, &row.clinical)
            .await?;
        let appointment = match &row.appointment {
            Some(sealed) => Some(Phi::new(
                self.open_json(row.referrer(), &REFERRAL_APPOINTMENT, row.id, sealed)
                    .await?,
            )),
            None => None,
        };
        Ok((Phi::new(clinical), appointment))
    }
}
