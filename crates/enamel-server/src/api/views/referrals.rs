//! Referrals as the API shows them: lists without clinical content, one referral with it.

use super::{PatientSummaryView, PatientView};
use enamel_domain::{ReferralStatus, Side, Urgency};
use enamel_store::{
    AttachmentInfo, AttachmentPurpose, MediaType, ReferralDetail, ReferralSummary, TimelineEntry,
};
use serde::Serialize;

/// A referral's id and the status it is now in; no clinical content.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ReferralState {
    pub(crate) id: String,
    /// `draft`, `sent`, `received`, `accepted`, `declined`, `scheduled`, `completed`,
    /// `report_sent`, `closed` or `cancelled`.
    #[schema(value_type = String)]
    pub(crate) status: ReferralStatus,
}

/// The inbox or outbox and how many need the reader's office; never clinical content.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ReferralList {
    pub(crate) referrals: Vec<ReferralSummaryView>,
    pub(crate) needs_attention: usize,
}

/// A referral as listed: the patient's name and birth date (PHI), never clinical content.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ReferralSummaryView {
    id: String,
    /// Which side the reader is on: `referrer` or `receiver`.
    #[schema(value_type = String)]
    side: Side,
    referring_practice: PracticeRef,
    receiving_practice: PracticeRef,
    patient: PatientSummaryView,
    /// As in `ReferralState`.
    #[schema(value_type = String)]
    status: ReferralStatus,
    /// `routine`, `soon` or `urgent`.
    #[schema(value_type = String)]
    urgency: Urgency,
    created_at: String,
    sent_at: Option<String>,
    updated_at: String,
    /// Not scheduled within the configured days.
    not_responding: bool,
    /// A message from the other office that your office has not opened yet.
    unread: bool,
    /// Whether the reader's office has something to do on it.
    needs_attention: bool,
}

impl From<&ReferralSummary> for ReferralSummaryView {
    fn from(summary: &ReferralSummary) -> Self {
        Self {
            id: summary.id.to_string(),
            side: summary.side,
            referring_practice: PracticeRef {
                id: summary.referrer.to_string(),
                name: summary.referrer_name.clone(),
            },
            receiving_practice: PracticeRef {
                id: summary.receiver.to_string(),
                name: summary.receiver_name.clone(),
            },
            patient: PatientSummaryView::from(&summary.patient),
            status: summary.status,
            urgency: summary.urgency,
            created_at: summary.created_at.to_string(),
            sent_at: summary.sent_at.map(|t| t.to_string()),
            updated_at: summary.updated_at.to_string(),
            not_responding: summary.not_responding,
            unread: summary.unread,
            needs_attention: summary.needs_attention(),
        }
    }
}

/// A practice named on a referral: its id and name.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PracticeRef {
    id: String,
    name: String,
}

/// One referral as the reader may see it, clinical details included (PHI); never file bytes.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ReferralView {
    referral: ReferralSummaryView,
    patient: PatientView,
    reason: String,
    /// CDT procedure codes, e.g. `D3330`.
    cdt_codes: Vec<String>,
    /// Teeth in the Universal Numbering System (`1` to `32`, `A` to `T`).
    teeth: Vec<String>,
    notes: String,
    /// The appointment in the specialist's local time, once scheduled.
    appointment: Option<String>,
    timeline: Vec<TimelineEntryView>,
    attachments: Vec<AttachmentView>,
    /// Step names, e.g. `accept`, `schedule`.
    next_steps: Vec<&'static str>,
}

impl From<&ReferralDetail> for ReferralView {
    fn from(detail: &ReferralDetail) -> Self {
        let clinical = detail.clinical.expose();
        Self {
            referral: ReferralSummaryView::from(&detail.summary),
            patient: PatientView::from(&detail.patient),
            reason: clinical.reason.clone(),
            cdt_codes: clinical
                .cdt_codes
                .iter()
                .cloned()
                .map(String::from)
                .collect(),
            teeth: clinical.teeth.iter().copied().map(String::from).collect(),
            notes: clinical.notes.clone(),
            appointment: detail.appointment.as_ref().map(|a| a.expose().to_string()),
            timeline: detail
                .timeline
                .iter()
                .map(TimelineEntryView::from)
                .collect(),
            attachments: detail
                .attachments
                .iter()
                .map(AttachmentView::from)
                .collect(),
            next_steps: detail.steps.iter().map(|s| s.as_str()).collect(),
        }
    }
}

/// One entry of a referral's timeline; its note (a reason, message or report) is PHI.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TimelineEntryView {
    id: String,
    /// A step's name, `created`, `message`, `attachment`, `not_responding`,
    /// `portal_link` or `notification_refused`.
    kind: String,
    /// `referrer` or `receiver`.
    #[schema(value_type = String)]
    side: Side,
    /// Who did it (a person's display name), if a person did.
    actor: Option<String>,
    at: String,
    note: Option<String>,
}

impl From<&TimelineEntry> for TimelineEntryView {
    fn from(entry: &TimelineEntry) -> Self {
        Self {
            id: entry.id.to_string(),
            kind: entry.kind.clone(),
            side: entry.side,
            actor: entry.actor_name.clone(),
            at: entry.at.to_string(),
            note: entry.note.as_ref().map(|n| n.expose().clone()),
        }
    }
}

/// An attachment as a referral lists it: its file name (PHI) and size, never its bytes.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AttachmentView {
    id: String,
    /// `referrer` or `receiver`.
    #[schema(value_type = String)]
    side: Side,
    /// `referral` or `report`.
    #[schema(value_type = String)]
    purpose: AttachmentPurpose,
    /// `image/jpeg`, `image/png`, `application/pdf` or `application/dicom`.
    #[schema(value_type = String)]
    media_type: MediaType,
    file_name: String,
    /// In bytes.
    size: u64,
    created_at: String,
}

impl From<&AttachmentInfo> for AttachmentView {
    fn from(attachment: &AttachmentInfo) -> Self {
        Self {
            id: attachment.id.to_string(),
            side: attachment.side,
            purpose: attachment.purpose,
            media_type: attachment.media_type,
            file_name: attachment.file_name.expose().clone(),
            size: attachment.size,
            created_at: attachment.created_at.to_string(),
        }
    }
}
