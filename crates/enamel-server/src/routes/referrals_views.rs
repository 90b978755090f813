//! The JSON bodies the referral network API (`routes::referrals`) answers with, one
//! struct per body so the OpenAPI document describes each. PHI members (names, birth
//! dates, contact details, clinical words) are plain strings, as the API has always
//! sent them; none of these types derives `Debug`, so none can be logged by accident.

use enamel_domain::{
    Address, ContactDetails, Email, Insurance, Patient, PatientSummary, PhoneNumber, PracticeKind,
    ReferralStatus, Side, Urgency,
};
use enamel_store::{
    AttachmentInfo, AttachmentPurpose, BaaStatus, Channel, Listing, MediaType, MessageStatus,
    ReferralDetail, ReferralSummary, TimelineEntry, Vendor,
};
use serde::Serialize;
use time::{Date, OffsetDateTime};

/// The id of what the operation created or wrote, and nothing else.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ResourceId {
    pub(crate) id: String,
}

/// A referral's id and the status it is now in; no clinical content.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ReferralState {
    pub(crate) id: String,
    /// `draft`, `sent`, `received`, `accepted`, `declined`, `scheduled`, `completed`,
    /// `report_sent`, `closed` or `cancelled`.
    #[schema(value_type = String)]
    pub(crate) status: ReferralStatus,
}

/// Patients as a list shows them: names and birth dates, never contact details.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PatientList {
    pub(crate) patients: Vec<PatientSummaryView>,
}

/// A patient as a list shows them (PHI): who they are, nothing more.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PatientSummaryView {
    id: String,
    first_name: String,
    last_name: String,
    /// `YYYY-MM-DD`.
    birth_date: String,
}

impl From<&PatientSummary> for PatientSummaryView {
    fn from(patient: &PatientSummary) -> Self {
        Self {
            id: patient.id.to_string(),
            first_name: patient.first_name.expose().clone(),
            last_name: patient.last_name.expose().clone(),
            birth_date: patient.birth_date.expose().to_string(),
        }
    }
}

/// A patient's record (PHI); `contact` and `insurance` absent for roles that need neither.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PatientView {
    id: String,
    first_name: String,
    last_name: String,
    /// `YYYY-MM-DD`.
    birth_date: String,
    sms_opt_out: bool,
    restricted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    contact: Option<ContactView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    insurance: Option<InsuranceView>,
}

impl From<&Patient> for PatientView {
    fn from(patient: &Patient) -> Self {
        Self {
            id: patient.id.to_string(),
            first_name: patient.first_name.expose().clone(),
            last_name: patient.last_name.expose().clone(),
            birth_date: patient.birth_date.expose().to_string(),
            sms_opt_out: patient.sms_opt_out,
            restricted: patient.restricted,
            contact: patient
                .contact
                .as_ref()
                .map(|c| ContactView::from(c.expose())),
            insurance: patient
                .insurance
                .as_ref()
                .map(|i| InsuranceView::from(i.expose())),
        }
    }
}

/// How to reach a patient (PHI); each channel is null when not on file.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ContactView {
    /// E.164, e.g. `+15125550142`.
    phone: Option<String>,
    email: Option<String>,
    address: Option<AddressView>,
    /// `phone`, `sms` or `email`.
    preferred_contact: &'static str,
    /// A language tag such as `en` or `es`.
    preferred_language: String,
}

impl From<&ContactDetails> for ContactView {
    fn from(contact: &ContactDetails) -> Self {
        Self {
            phone: contact
                .phone
                .as_ref()
                .map(|p| PhoneNumber::e164(p).to_owned()),
            email: contact.email.as_ref().map(|e| Email::as_str(e).to_owned()),
            address: contact.address.as_ref().map(AddressView::from),
            preferred_contact: contact.preferred.as_str(),
            preferred_language: contact.language.clone(),
        }
    }
}

/// A patient's US street address (PHI).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AddressView {
    line1: String,
    line2: Option<String>,
    city: String,
    /// The two-letter USPS code.
    state: String,
    postal_code: String,
}

impl From<&Address> for AddressView {
    fn from(address: &Address) -> Self {
        Self {
            line1: address.line1.clone(),
            line2: address.line2.clone(),
            city: address.city.clone(),
            state: address.state.code().to_owned(),
            postal_code: address.postal_code.as_str().to_owned(),
        }
    }
}

/// A patient's dental insurance (PHI).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct InsuranceView {
    carrier: String,
    member_id: String,
}

impl From<&Insurance> for InsuranceView {
    fn from(insurance: &Insurance) -> Self {
        Self {
            carrier: insurance.carrier.clone(),
            member_id: insurance.member_id.clone(),
        }
    }
}

/// Listed offices matching a directory search: offices, never patients.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DirectoryListings {
    pub(crate) practices: Vec<DirectoryListing>,
}

/// An office as the directory shows it: public details only.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DirectoryListing {
    id: String,
    name: String,
    /// `general` or a specialty, e.g. `endodontics`.
    #[schema(value_type = String)]
    kind: PracticeKind,
    city: String,
    state: String,
    phone: String,
    /// Kilometres from the searching office, when both offices have set where they are.
    distance_km: Option<f64>,
}

impl From<Listing> for DirectoryListing {
    fn from(listing: Listing) -> Self {
        Self {
            id: listing.id.to_string(),
            name: listing.name,
            kind: listing.kind,
            city: listing.city,
            state: listing.state,
            phone: listing.phone,
            distance_km: listing.distance_km,
        }
    }
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

/// The BAA registry: the practice's vendors and their agreements.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct VendorList {
    pub(crate) vendors: Vec<VendorView>,
}

/// A vendor and its BAA, and whether PHI may go to it today; never its credentials.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct VendorView {
    id: String,
    /// The vendor's key, e.g. `twilio`.
    name: String,
    display_name: String,
    services: String,
    /// `none`, `pending`, `executed` or `terminated`.
    #[schema(value_type = String)]
    baa_status: BaaStatus,
    /// `[year, day of the year]`, the compact form of the `time` crate (not an ISO date).
    #[schema(value_type = Option<Vec<i32>>)]
    executed_on: Option<Date>,
    /// `[year, day of the year]`, as `executed_on`.
    #[schema(value_type = Option<Vec<i32>>)]
    expires_on: Option<Date>,
    document_ref: Option<String>,
    /// `[year, day of the year, hour, minute, second, nanosecond, offset hours, offset
    /// minutes, offset seconds]`, the compact form of the `time` crate.
    #[schema(value_type = Vec<i64>)]
    updated_at: OffsetDateTime,
    /// An executed agreement that has not expired.
    may_receive_phi: bool,
}

impl VendorView {
    /// The vendor as the registry shows it on `today`.
    pub(crate) fn of(vendor: &Vendor, today: Date) -> Self {
        Self {
            id: vendor.id.to_string(),
            name: String::from(vendor.name.clone()),
            display_name: vendor.display_name.clone(),
            services: vendor.services.clone(),
            baa_status: vendor.baa_status,
            executed_on: vendor.executed_on,
            expires_on: vendor.expires_on,
            document_ref: vendor.document_ref.clone(),
            updated_at: vendor.updated_at,
            may_receive_phi: vendor.may_receive_phi(today),
        }
    }
}

/// The practice's notifications, refusals repeated as problems; never recipients or words.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct NotificationList {
    pub(crate) notifications: Vec<NotificationView>,
    pub(crate) problems: Vec<NotificationView>,
}

/// A notification's state as its practice sees it: never the recipient or the words.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct NotificationView {
    id: String,
    /// `email`, `sms` or `fax`.
    #[schema(value_type = String)]
    channel: Channel,
    kind: String,
    referral: Option<String>,
    /// `pending`, `sending`, `sent`, `failed` or `refused`.
    status: String,
    attempts: i64,
    last_error: Option<String>,
    vendor: Option<String>,
    /// The compact form of the `time` crate, as `VendorView.updated_at`.
    #[schema(value_type = Vec<i64>)]
    created_at: OffsetDateTime,
    /// As `created_at`.
    #[schema(value_type = Option<Vec<i64>>)]
    sent_at: Option<OffsetDateTime>,
}

impl From<&MessageStatus> for NotificationView {
    fn from(message: &MessageStatus) -> Self {
        Self {
            id: message.id.to_string(),
            channel: message.channel,
            kind: message.kind.clone(),
            referral: message.referral.map(|r| r.to_string()),
            status: message.status.clone(),
            attempts: message.attempts,
            last_error: message.last_error.clone(),
            vendor: message.vendor.clone(),
            created_at: message.created_at,
            sent_at: message.sent_at,
        }
    }
}
