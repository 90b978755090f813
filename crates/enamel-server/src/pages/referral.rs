//! One referral: its page, steps, messages, attachments and the patient's link.

use super::form::attach_field;
use super::{MAX_FILES, PageError, PageResult, can_refer, full_name, see_other, stamp, zone_of};
use crate::auth::Authenticated;
use crate::http::extract::Form;
use crate::http::extract::Query;
use crate::http::extract::{Id, parse_id};
use crate::http::page::{Chrome, chrome, render};
use crate::services::referrals::step_input;
use crate::{ApiError, AppState};
use askama::Template;
use axum::extract::{Multipart, Path, State};
use enamel_domain::{ReferralId, ReferralStatus, Side, Step, User};
use enamel_store::ReferralDetail;
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct DetailQuery {
    flash: Option<String>,
}

/// What a flash code in the address says (codes only: never words from a request).
pub(super) fn flash_text(code: &str, max_mb: u64) -> Option<String> {
    Some(match code {
        "sent" => "Referral sent. The specialist's office has been notified.".to_owned(),
        "saved" => "Saved as a draft.".to_owned(),
        "step" => "Done.".to_owned(),
        "accept" => "Referral accepted. The referring office has been told.".to_owned(),
        "decline" => {
            "Referral declined. The referring office has been told, with your reason.".to_owned()
        }
        "schedule" => {
            "Appointment recorded. The referring office has been told, and the patient gets \
             a message with the time."
                .to_owned()
        }
        "complete" => "Treatment marked completed. The referring office has been told.".to_owned(),
        "send_report" => "Report sent to the referring office.".to_owned(),
        "close" => "Referral closed. No more steps can be taken on it.".to_owned(),
        "cancel" => "Referral cancelled. The specialist's office has been told.".to_owned(),
        "message" => "Message sent.".to_owned(),
        "uploaded" => "File added.".to_owned(),
        "portal_link" => "Portal link queued to the patient; it expires in 24 hours.".to_owned(),
        "file_refused" => format!(
            "A file was refused, so the referral is still a draft and the files after it were \
             not attached: only JPEG, PNG, PDF and DICOM files (judged by content) up to \
             {max_mb} MB can be attached, while the practice's storage vendor has an \
             executed BAA."
        ),
        _ => return None,
    })
}

pub(super) struct StepView {
    name: &'static str,
    label: &'static str,
    needs_note: bool,
    note_required: bool,
    note_label: &'static str,
    needs_appointment: bool,
    /// The question a step that cannot be undone asks first.
    confirm: Option<&'static str>,
}

impl StepView {
    const fn of(step: Step) -> Self {
        let (needs_note, note_required, note_label) = match step {
            Step::Decline => (true, true, "Reason for declining"),
            Step::Cancel => (true, true, "Reason for cancelling"),
            Step::SendReport => (true, true, "Report for the referring office"),
            Step::Complete | Step::Close => (true, false, "Note (optional)"),
            _ => (false, false, ""),
        };
        Self {
            name: step.as_str(),
            label: step.label(),
            needs_note,
            note_required,
            note_label,
            needs_appointment: matches!(step, Step::Schedule),
            confirm: match step {
                Step::Decline => Some("Decline this referral? The referring office is told."),
                Step::Cancel => Some("Cancel this referral? The specialist's office is told."),
                Step::Close => Some("Close this referral? No more steps can be taken on it."),
                _ => None,
            },
        }
    }
}

pub(super) struct FileView {
    id: enamel_domain::AttachmentId,
    name: String,
    kind: &'static str,
    size: String,
    purpose: &'static str,
    image: bool,
}

pub(super) struct EventView {
    at: String,
    what: String,
    who: Option<String>,
    office: &'static str,
    note: Option<String>,
}

#[derive(Template)]
#[template(path = "referral.html")]
pub(super) struct ReferralPage {
    chrome: Chrome,
    id: ReferralId,
    inbox: bool,
    flash: Option<String>,
    patient: String,
    birth_date: String,
    phone: Option<String>,
    email: Option<String>,
    insurance: Option<String>,
    /// The status, with the "not responding" flag when raised.
    status: String,
    referrer: String,
    receiver: String,
    urgency: &'static str,
    appointment: Option<String>,
    reason: String,
    codes: String,
    teeth: String,
    notes: String,
    steps: Vec<StepView>,
    attachments: Vec<FileView>,
    may: Permitted,
    timeline: Vec<EventView>,
    max_mb: u64,
    /// A letter the assistant drafted, to edit and send as a message.
    draft: String,
}

/// What the reader may do on a referral's page besides its steps.
pub(super) struct Permitted {
    attach: bool,
    send_portal_link: bool,
    draft_letter: bool,
}

pub(super) fn size_text(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // a display figure
    let kib = bytes as f64 / 1024.0;
    if kib < 1024.0 {
        format!("{kib:.0} KB")
    } else {
        format!("{:.1} MB", kib / 1024.0)
    }
}

pub(super) fn event_view(
    entry: &enamel_store::TimelineEntry,
    reader: Side,
    zone: Option<&enamel_domain::TimeZone>,
) -> EventView {
    let what = match entry.kind.as_str() {
        "sent" => "Sent".to_owned(),
        "received" => "Received by the specialist".to_owned(),
        "accepted" => "Accepted".to_owned(),
        "declined" => "Declined".to_owned(),
        "scheduled" => "Appointment recorded".to_owned(),
        "completed" => "Treatment completed".to_owned(),
        "report_sent" => "Report sent".to_owned(),
        "closed" => "Closed".to_owned(),
        "cancelled" => "Cancelled".to_owned(),
        "created" => "Draft created".to_owned(),
        "message" => "Message".to_owned(),
        "attachment" => "File added".to_owned(),
        "not_responding" => "Flagged: patient not responding".to_owned(),
        "portal_link" => "Portal link sent to the patient".to_owned(),
        "notification_refused" => "A notification was refused (vendor without a BAA)".to_owned(),
        other => other.replace('_', " "),
    };
    EventView {
        at: stamp(entry.at, zone),
        what,
        who: entry.actor_name.clone(),
        office: if entry.side == reader {
            "your office"
        } else {
            "the other office"
        },
        note: entry.note.as_ref().map(|n| n.expose().clone()),
    }
}

pub(super) fn referral_view(
    detail: &ReferralDetail,
    user: &User,
    zone: Option<&enamel_domain::TimeZone>,
) -> ReferralPage {
    let summary = &detail.summary;
    let clinical = detail.clinical.expose();
    let contact = detail
        .patient
        .contact
        .as_ref()
        .map(enamel_domain::Phi::expose);
    let open = !matches!(
        summary.status,
        ReferralStatus::Closed | ReferralStatus::Cancelled | ReferralStatus::Declined
    );
    ReferralPage {
        chrome: Chrome::default(),
        id: summary.id,
        inbox: summary.side == Side::Receiver,
        flash: None,
        patient: full_name(&summary.patient),
        birth_date: summary.patient.birth_date.expose().to_string(),
        phone: contact
            .and_then(|c| c.phone.as_ref())
            .map(enamel_domain::PhoneNumber::national),
        email: contact
            .and_then(|c| c.email.as_ref())
            .map(|e| e.as_str().to_owned()),
        insurance: detail.patient.insurance.as_ref().map(|i| {
            let i = i.expose();
            format!("{}, member {}", i.carrier, i.member_id)
        }),
        status: if summary.not_responding {
            format!("{} · patient not responding", summary.status.label())
        } else {
            summary.status.label().to_owned()
        },
        referrer: summary.referrer_name.clone(),
        receiver: summary.receiver_name.clone(),
        urgency: summary.urgency.label(),
        appointment: detail.appointment.as_ref().map(|a| {
            let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
            a.expose().format(&format).unwrap_or_default()
        }),
        reason: clinical.reason.clone(),
        codes: clinical
            .cdt_codes
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect::<Vec<_>>()
            .join(", "),
        teeth: clinical
            .teeth
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        notes: clinical.notes.clone(),
        steps: detail.steps.iter().map(|s| StepView::of(*s)).collect(),
        attachments: detail
            .attachments
            .iter()
            .map(|a| FileView {
                id: a.id,
                name: a.file_name.expose().clone(),
                kind: a.media_type.as_str(),
                size: size_text(a.size),
                purpose: match a.purpose {
                    enamel_store::AttachmentPurpose::Referral => "with the referral",
                    enamel_store::AttachmentPurpose::Report => "with the report",
                },
                image: a.media_type.is_image(),
            })
            .collect(),
        may: Permitted {
            attach: open && can_refer(user.role),
            send_portal_link: open && summary.side == Side::Referrer && can_refer(user.role),
            draft_letter: open && summary.side == Side::Referrer && can_refer(user.role),
        },
        timeline: detail
            .timeline
            .iter()
            .map(|e| event_view(e, summary.side, zone))
            .collect(),
        max_mb: 0,
        draft: String::new(),
    }
}

pub(super) async fn referral_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
    Query(query): Query<DetailQuery>,
) -> PageResult {
    let max_mb = state.referrals.attachment_max_bytes / (1024 * 1024);
    let flash = query.flash.as_deref().and_then(|f| flash_text(f, max_mb));
    Ok(render(
        &referral_page_for(&state, &auth, id, flash, String::new()).await?,
    ))
}

pub(super) async fn referral_page_for(
    state: &AppState,
    auth: &Authenticated,
    id: ReferralId,
    flash: Option<String>,
    draft: String,
) -> Result<ReferralPage, PageError> {
    let user = auth.person()?;
    let detail = auth
        .scoped(&state.store)
        .referral(id, state.clock.now())
        .await?;
    let zone = zone_of(state, auth).await;
    let mut page = referral_view(&detail, user, zone.as_ref());
    page.chrome = chrome(state, Some(user));
    page.flash = flash;
    page.max_mb = state.referrals.attachment_max_bytes / (1024 * 1024);
    page.may.draft_letter &= state.assistant.is_some();
    page.draft = draft;
    Ok(page)
}

/// Asks the assistant for a letter and shows it in the message box to edit.
pub(super) async fn draft_letter(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
) -> PageResult {
    let draft = crate::services::letters::draft(&state, &auth, id).await?;
    let flash = Some(
        "The assistant drafted a letter below (it never saw the patient's name or contact \
         details). Review it, replace [patient], and send it as a message."
            .to_owned(),
    );
    Ok(render(
        &referral_page_for(&state, &auth, id, flash, draft).await?,
    ))
}

#[derive(Deserialize)]
pub(super) struct StepForm {
    note: Option<String>,
    appointment: Option<String>,
}

pub(super) async fn take_step(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, step)): Path<(String, String)>,
    Form(form): Form<StepForm>,
) -> PageResult {
    let id = parse_id::<ReferralId>(&id)?;
    let step = Step::parse(&step).map_err(|_| ApiError::NotFound)?;
    let input = step_input(form.note, form.appointment.as_deref())?;
    auth.scoped(&state.store)
        .step(id, step, input, state.clock.now())
        .await?;
    let flash = if step == Step::Send {
        "sent"
    } else {
        step.as_str()
    };
    Ok(see_other(&format!("/referrals/{id}?flash={flash}")))
}

#[derive(Deserialize)]
pub(super) struct MessageForm {
    body: String,
}

pub(super) async fn post_message(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
    Form(form): Form<MessageForm>,
) -> PageResult {
    auth.scoped(&state.store)
        .post_message(id, &enamel_domain::Phi::new(form.body), state.clock.now())
        .await?;
    Ok(see_other(&format!("/referrals/{id}?flash=message")))
}

pub(super) async fn upload(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
    mut form: Multipart,
) -> PageResult {
    let unreadable = |_| ApiError::Rejected("the form could not be read".into());
    let mut added = 0;
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        if added >= MAX_FILES {
            return Err(
                ApiError::Rejected(format!("attach at most {MAX_FILES} files at once")).into(),
            );
        }
        if field.name() == Some("file") && attach_field(&state, &auth, id, field).await? {
            added += 1;
        }
    }
    if added == 0 {
        return Err(ApiError::Rejected("choose a file to upload".into()).into());
    }
    Ok(see_other(&format!("/referrals/{id}?flash=uploaded")))
}

pub(super) async fn send_portal_link(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
) -> PageResult {
    crate::services::portal_links::issue_link(&state, &auth, id).await?;
    Ok(see_other(&format!("/referrals/{id}?flash=portal_link")))
}

/// A referral for the patient's chart: the same facts as its page, laid out to
/// print, with no buttons.
#[derive(Template)]
#[template(path = "referral_print.html")]
pub(super) struct PrintPage {
    page: ReferralPage,
    printed: String,
}

async fn printable(
    state: &AppState,
    auth: &Authenticated,
    id: ReferralId,
) -> Result<PrintPage, PageError> {
    let page = referral_page_for(state, auth, id, None, String::new()).await?;
    let zone = zone_of(state, auth).await;
    Ok(PrintPage {
        page,
        printed: super::stamp(state.clock.now(), zone.as_ref()),
    })
}

pub(super) async fn print_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
) -> PageResult {
    Ok(render(&printable(&state, &auth, id).await?))
}

/// The same as a PDF, for a chart that keeps files.
pub(super) async fn print_pdf(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
) -> PageResult {
    use axum::response::IntoResponse as _;
    use std::fmt::Write as _;
    let print = printable(&state, &auth, id).await?;
    let p = &print.page;
    let mut text = String::new();
    let _ = writeln!(text, "Patient: {} (born {})", p.patient, p.birth_date);
    let _ = writeln!(text, "From: {}\nTo: {}", p.referrer, p.receiver);
    let _ = writeln!(text, "Status: {}\nUrgency: {}", p.status, p.urgency);
    if let Some(at) = &p.appointment {
        let _ = writeln!(text, "Appointment: {at}");
    }
    let _ = writeln!(text, "\nReason: {}", p.reason);
    let _ = writeln!(text, "CDT codes: {}\nTeeth: {}", p.codes, p.teeth);
    if !p.notes.is_empty() {
        let _ = writeln!(text, "\nClinical notes:\n{}", p.notes);
    }
    if !p.attachments.is_empty() {
        let _ = writeln!(text, "\nFiles:");
        for file in &p.attachments {
            let _ = writeln!(
                text,
                "  {} ({}, {}, {})",
                file.name, file.kind, file.size, file.purpose
            );
        }
    }
    let _ = writeln!(text, "\nHistory:");
    for event in &p.timeline {
        let _ = write!(text, "  {}  {} ({}", event.at, event.what, event.office);
        if let Some(who) = &event.who {
            let _ = write!(text, ", {who}");
        }
        let _ = writeln!(text, ")");
        if let Some(note) = &event.note {
            let _ = writeln!(text, "      {note}");
        }
    }
    let _ = writeln!(
        text,
        "\nPrinted {} from Enamel. Contains PHI: file it in the patient's chart.",
        print.printed
    );
    let pdf = enamel_integrations::pdf::text_pdf("Referral", &text);
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/pdf"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"referral.pdf\"",
            ),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        pdf,
    )
        .into_response())
}
