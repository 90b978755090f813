//! The staff web UI for the referral network: the referral inbox and outbox, the
//! new-referral form with attachments, a referral's detail page with its actions,
//! timeline, messages and previews, the patient list, and the vendor (BAA) page.
//! Server-rendered; every form works without JavaScript. Each page goes through the
//! same actor-scoped repository as the API, so it is authorized and audited alike.

use crate::extract::Form;
use crate::extract::Query;
use crate::extract::{Id, parse_id};
use askama::Template;
use axum::Router;
use axum::extract::multipart::Field;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::handler::Handler as _;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use enamel_domain::{
    PatientId, PracticeKind, ReferralId, ReferralStatus, Role, Side, Step, Urgency, User,
    VendorName,
};
use enamel_store::{
    BaaStatus, DirectoryQuery, ReferralBox, ReferralDetail, ReferralSummary, StoreError,
    VendorEntry,
};
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::Deserialize;

use crate::auth::Authenticated;
use crate::routes::attachments::store_attachment;
use crate::routes::referrals::{
    AddressInput, PatientInput, PatientSearch, ReferralInput, patient_query, step_input,
};
use crate::routes::web::{Chrome, chrome, render};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        // Uploads: axum's body limit is off for these two, which stream files and
        // enforce `referrals.attachment_max_bytes` per file and MAX_FILES per form.
        .route(
            "/referrals",
            get(referrals_page).post(create_referral.layer(DefaultBodyLimit::disable())),
        )
        .route("/referrals/new", get(new_referral_page))
        .route("/referrals/{id}", get(referral_page))
        .route("/referrals/{id}/steps/{step}", post(take_step))
        .route("/referrals/{id}/messages", post(post_message))
        .route(
            "/referrals/{id}/attachments",
            post(upload.layer(DefaultBodyLimit::disable())),
        )
        .route("/referrals/{id}/portal-link", post(send_portal_link))
        .route("/referrals/{id}/letter-draft", post(draft_letter))
        .route("/patients", get(patients_page).post(create_patient))
        .route("/patients/search", post(search_patients))
        .route("/vendors", get(vendors_page).post(save_vendor))
}

/// The most files one form may carry.
const MAX_FILES: usize = 20;

/// An error on a page: the same safe message as the API's problem, as a page.
pub(crate) struct PageError(ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct ProblemPage {
    chrome: Chrome,
    heading: &'static str,
    text: String,
    link: (&'static str, &'static str),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, _, heading, text) = self.0.public();
        let mut response = render(&ProblemPage {
            chrome: Chrome::default(),
            heading,
            text,
            link: ("/", "Back to the start page"),
        });
        *response.status_mut() = status;
        response
    }
}

type PageResult = Result<Response, PageError>;

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn stamp(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.format(&format).unwrap_or_default()
}

const fn can_refer(role: Role) -> bool {
    matches!(role, Role::Dentist | Role::Hygienist | Role::FrontDesk)
}

// --- referral lists -----------------------------------------------------------------

#[derive(Deserialize)]
struct ListQuery {
    #[serde(rename = "box")]
    which: Option<String>,
    status: Option<String>,
}

struct Row {
    id: ReferralId,
    patient: String,
    other_office: String,
    urgency: &'static str,
    status: &'static str,
    not_responding: bool,
    attention: bool,
    updated: String,
}

impl Row {
    fn of(summary: &ReferralSummary) -> Self {
        let other_office = match summary.side {
            Side::Receiver => &summary.referrer_name,
            Side::Referrer => &summary.receiver_name,
        };
        Self {
            id: summary.id,
            patient: full_name(&summary.patient),
            other_office: other_office.clone(),
            urgency: summary.urgency.label(),
            status: summary.status.label(),
            not_responding: summary.not_responding,
            attention: summary.needs_attention(),
            updated: stamp(summary.updated_at),
        }
    }
}

fn full_name(patient: &enamel_domain::PatientSummary) -> String {
    format!(
        "{} {}",
        patient.first_name.expose(),
        patient.last_name.expose()
    )
}

#[derive(Template)]
#[template(path = "referrals.html")]
struct ReferralsPage {
    chrome: Chrome,
    inbox: bool,
    attention: usize,
    can_create: bool,
    status: String,
    statuses: Vec<(&'static str, &'static str)>,
    rows: Vec<Row>,
}

async fn referrals_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let user = auth.person()?;
    let which = match query.which.as_deref() {
        Some("outbox") => ReferralBox::Outbox,
        _ => ReferralBox::Inbox,
    };
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(ReferralStatus::parse)
        .transpose()
        .map_err(ApiError::from)?;
    let found = auth
        .scoped(&state.store)
        .referrals(which, status, 200)
        .await?;
    let rows: Vec<Row> = found.iter().map(Row::of).collect();
    Ok(render(&ReferralsPage {
        chrome: chrome(&state, Some(user)),
        inbox: which == ReferralBox::Inbox,
        attention: rows.iter().filter(|r| r.attention).count(),
        can_create: can_refer(user.role),
        status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        statuses: ReferralStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        rows,
    }))
}

// --- a new referral -----------------------------------------------------------------

#[derive(Deserialize)]
struct NewReferralQuery {
    patient: String,
    specialty: Option<String>,
    city: Option<String>,
    within_km: Option<String>,
}

struct ListingView {
    id: enamel_domain::PracticeId,
    distance: Option<String>,
    name: String,
    kind: &'static str,
    city: String,
    state: String,
    phone: String,
}

#[derive(Template)]
#[template(path = "referral_new.html")]
struct NewReferralPage {
    chrome: Chrome,
    patient: String,
    patient_id: PatientId,
    specialty: String,
    city: String,
    within: String,
    specialties: Vec<(&'static str, &'static str)>,
    listings: Vec<ListingView>,
    urgencies: Vec<(&'static str, &'static str)>,
    max_mb: u64,
}

async fn new_referral_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<NewReferralQuery>,
) -> PageResult {
    let user = auth.person()?;
    let patient_id = parse_id::<PatientId>(&query.patient)?;
    let scoped = auth.scoped(&state.store);
    let patient = scoped.patient(patient_id, state.clock.now()).await?;
    let kind = query
        .specialty
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(PracticeKind::parse)
        .transpose()
        .map_err(ApiError::from)?;
    let city = query.city.filter(|c| !c.trim().is_empty());
    let within = query
        .within_km
        .as_deref()
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.parse::<f64>()
                .map_err(|_| ApiError::Rejected("choose a distance".into()))
                .and_then(crate::routes::referrals::within_km)
        })
        .transpose()?;
    let own = user.practice;
    let listings = scoped
        .directory(&DirectoryQuery {
            kind,
            name: None,
            city: city.clone(),
            within_km: within,
        })
        .await?
        .into_iter()
        .filter(|l| Some(l.id) != own)
        .map(|l| ListingView {
            id: l.id,
            distance: l.distance_km.map(|d| format!("{d:.1} km away")),
            name: l.name,
            kind: l.kind.label(),
            city: l.city,
            state: l.state,
            phone: l.phone,
        })
        .collect();
    Ok(render(&NewReferralPage {
        chrome: chrome(&state, Some(user)),
        patient: format!(
            "{} {}",
            patient.first_name.expose(),
            patient.last_name.expose()
        ),
        patient_id,
        specialty: kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        city: city.unwrap_or_default(),
        within: query.within_km.unwrap_or_default(),
        specialties: PracticeKind::ALL
            .iter()
            .filter(|k| **k != PracticeKind::General)
            .map(|k| (k.as_str(), k.label()))
            .collect(),
        listings,
        urgencies: Urgency::ALL
            .iter()
            .map(|u| (u.as_str(), u.label()))
            .collect(),
        max_mb: state.referrals.attachment_max_bytes / (1024 * 1024),
    }))
}

/// The longest text field a form may send (a clinical note is at most a few pages).
const MAX_FIELD_BYTES: usize = 64 * 1024;

async fn text_of(field: Field<'_>) -> Result<String, ApiError> {
    let name = field.name().unwrap_or_default().to_owned();
    let mut bytes = Vec::new();
    let mut stream = field;
    while let Some(chunk) = stream
        .chunk()
        .await
        .map_err(|_| ApiError::Rejected("the form could not be read".into()))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_FIELD_BYTES {
            return Err(ApiError::Rejected("a form field is too long".into()));
        }
    }
    let text =
        String::from_utf8(bytes).map_err(|_| ApiError::Rejected("the form is not UTF-8".into()))?;
    crate::extract::check_text_field(&name, &text)?;
    Ok(text)
}

fn split_list(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Streams one file field into the referral's attachments; an empty file input (no
/// file chosen) is skipped.
async fn attach_field(
    state: &AppState,
    auth: &Authenticated,
    id: ReferralId,
    field: Field<'_>,
) -> Result<bool, ApiError> {
    let name = field.file_name().unwrap_or_default().to_owned();
    let mut body = field
        .map_err(|_| std::io::Error::other("the upload was interrupted"))
        .peekable();
    if std::pin::Pin::new(&mut body).peek().await.is_none() {
        return Ok(false);
    }
    store_attachment(state, auth, id, &name, body).await?;
    Ok(true)
}

/// The new-referral form (multipart: its fields, then its files, then the button).
/// The referral is created as a draft when the first file arrives (or at the end),
/// files are stored against it, and it is sent last if "Send" was pressed.
async fn create_referral(
    State(state): State<AppState>,
    auth: Authenticated,
    mut form: Multipart,
) -> PageResult {
    let mut input = ReferralInput::default();
    let mut created: Option<ReferralId> = None;
    let mut files = 0;
    let unreadable = |_| ApiError::Rejected("the form could not be read".into());
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            // A browser sends the file input even when no file was chosen, as a part
            // with an empty file name and no content: that is no file.
            if field.file_name().is_none_or(str::is_empty) {
                continue;
            }
            let id = if let Some(id) = created {
                id
            } else {
                let id = create_draft(&state, &auth, &input).await?;
                created = Some(id);
                id
            };
            files += 1;
            if files > MAX_FILES {
                return Err(ApiError::Rejected(format!(
                    "attach at most {MAX_FILES} files at once"
                ))
                .into());
            }
            match attach_field(&state, &auth, id, field).await {
                Ok(_) => {}
                // The type, size or BAA rule: the draft stays and the page says why.
                // Nothing more of the request is read (it could be endless).
                Err(ApiError::Rejected(_) | ApiError::Refused { .. }) => {
                    return Ok(see_other(&format!("/referrals/{id}?flash=file_refused")));
                }
                Err(other) => return Err(other.into()),
            }
            continue;
        }
        let value = text_of(field).await?;
        match name.as_str() {
            "patient_id" => input.patient_id = value,
            "receiving_practice_id" => input.receiving_practice_id = value,
            "urgency" => input.urgency = value,
            "reason" => input.reason = value,
            "cdt_codes" => input.cdt_codes = split_list(&value),
            "teeth" => input.teeth = split_list(&value),
            "notes" => input.notes = value,
            "action" => input.send = value == "send",
            _ => {}
        }
    }
    let id = match created {
        Some(id) => id,
        None => create_draft(&state, &auth, &input).await?,
    };
    if input.send {
        auth.scoped(&state.store)
            .step(
                id,
                Step::Send,
                enamel_store::StepInput::default(),
                state.clock.now(),
            )
            .await?;
    }
    let flash = if input.send { "sent" } else { "saved" };
    Ok(see_other(&format!("/referrals/{id}?flash={flash}")))
}

async fn create_draft(
    state: &AppState,
    auth: &Authenticated,
    input: &ReferralInput,
) -> Result<ReferralId, ApiError> {
    let new = input.parse()?;
    Ok(auth
        .scoped(&state.store)
        .create_referral(&new, state.clock.now())
        .await?)
}

// --- one referral -------------------------------------------------------------------

#[derive(Deserialize)]
struct DetailQuery {
    flash: Option<String>,
}

/// What a flash code in the address says (codes only: never words from a request).
fn flash_text(code: &str, max_mb: u64) -> Option<String> {
    Some(match code {
        "sent" => "Referral sent. The specialist's office has been notified.".to_owned(),
        "saved" => "Saved as a draft.".to_owned(),
        "step" => "Done.".to_owned(),
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

struct StepView {
    name: &'static str,
    label: &'static str,
    needs_note: bool,
    note_required: bool,
    note_label: &'static str,
    needs_appointment: bool,
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
        }
    }
}

struct FileView {
    id: enamel_domain::AttachmentId,
    name: String,
    kind: &'static str,
    size: String,
    purpose: &'static str,
    image: bool,
}

struct EventView {
    at: String,
    what: String,
    who: Option<String>,
    office: &'static str,
    note: Option<String>,
}

#[derive(Template)]
#[template(path = "referral.html")]
struct ReferralPage {
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
struct Permitted {
    attach: bool,
    send_portal_link: bool,
    draft_letter: bool,
}

fn size_text(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // a display figure
    let kib = bytes as f64 / 1024.0;
    if kib < 1024.0 {
        format!("{kib:.0} KB")
    } else {
        format!("{:.1} MB", kib / 1024.0)
    }
}

fn event_view(entry: &enamel_store::TimelineEntry, reader: Side) -> EventView {
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
        at: stamp(entry.at),
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

fn referral_view(detail: &ReferralDetail, user: &User) -> ReferralPage {
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
            .map(|p| p.e164().to_owned()),
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
            .map(|e| event_view(e, summary.side))
            .collect(),
        max_mb: 0,
        draft: String::new(),
    }
}

async fn referral_page(
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

async fn referral_page_for(
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
    let mut page = referral_view(&detail, user);
    page.chrome = chrome(state, Some(user));
    page.flash = flash;
    page.max_mb = state.referrals.attachment_max_bytes / (1024 * 1024);
    page.may.draft_letter &= state.assistant.is_some();
    page.draft = draft;
    Ok(page)
}

/// Asks the assistant for a letter and shows it in the message box to edit.
async fn draft_letter(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
) -> PageResult {
    let draft = crate::routes::assistant::draft(&state, &auth, id).await?;
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
struct StepForm {
    note: Option<String>,
    appointment: Option<String>,
}

async fn take_step(
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
    let flash = if step == Step::Send { "sent" } else { "step" };
    Ok(see_other(&format!("/referrals/{id}?flash={flash}")))
}

#[derive(Deserialize)]
struct MessageForm {
    body: String,
}

async fn post_message(
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

async fn upload(
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

async fn send_portal_link(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
) -> PageResult {
    crate::routes::portal::issue_link(&state, &auth, id).await?;
    Ok(see_other(&format!("/referrals/{id}?flash=portal_link")))
}

// --- patients -----------------------------------------------------------------------

struct PatientRow {
    id: PatientId,
    name: String,
    birth_date: String,
}

#[derive(Template)]
#[template(path = "patients.html")]
struct PatientsPage {
    chrome: Chrome,
    caption: &'static str,
    rows: Vec<PatientRow>,
    can_refer: bool,
    can_create: bool,
    message: Option<String>,
    offer_duplicate: bool,
}

async fn patients(
    state: &AppState,
    auth: &Authenticated,
    search: PatientSearch,
    caption: &'static str,
) -> Result<PatientsPage, PageError> {
    let user = auth.person()?;
    let query = patient_query(search)?;
    let found = auth.scoped(&state.store).find_patients(&query).await?;
    Ok(PatientsPage {
        chrome: chrome(state, Some(user)),
        caption,
        rows: found
            .iter()
            .map(|p| PatientRow {
                id: p.id,
                name: full_name(p),
                birth_date: p.birth_date.expose().to_string(),
            })
            .collect(),
        can_refer: can_refer(user.role),
        can_create: can_refer(user.role),
        message: None,
        offer_duplicate: false,
    })
}

async fn patients_page(State(state): State<AppState>, auth: Authenticated) -> PageResult {
    let search = PatientSearch {
        limit: Some(25),
        ..PatientSearch::default()
    };
    Ok(render(
        &patients(&state, &auth, search, "Recently added patients").await?,
    ))
}

#[derive(Deserialize)]
struct SearchForm {
    last_name: Option<String>,
    birth_date: Option<String>,
    phone: Option<String>,
}

fn blank_to_none(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

async fn search_patients(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<SearchForm>,
) -> PageResult {
    let search = PatientSearch {
        last_name: blank_to_none(form.last_name),
        birth_date: blank_to_none(form.birth_date),
        phone: blank_to_none(form.phone),
        limit: Some(50),
        ..PatientSearch::default()
    };
    Ok(render(
        &patients(&state, &auth, search, "Matching patients").await?,
    ))
}

#[derive(Deserialize)]
struct PatientForm {
    first_name: String,
    last_name: String,
    birth_date: String,
    phone: Option<String>,
    email: Option<String>,
    preferred_contact: Option<String>,
    preferred_language: Option<String>,
    insurance_carrier: Option<String>,
    insurance_member_id: Option<String>,
    allow_duplicate: Option<String>,
}

async fn create_patient(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<PatientForm>,
) -> PageResult {
    let allow_duplicate = form.allow_duplicate.is_some();
    let input = PatientInput {
        first_name: form.first_name,
        last_name: form.last_name,
        birth_date: form.birth_date,
        phone: blank_to_none(form.phone),
        email: blank_to_none(form.email),
        address: None::<AddressInput>,
        preferred_contact: blank_to_none(form.preferred_contact),
        preferred_language: blank_to_none(form.preferred_language),
        insurance_carrier: blank_to_none(form.insurance_carrier),
        insurance_member_id: blank_to_none(form.insurance_member_id),
        allow_duplicate,
    };
    let new = input.parse()?;
    match auth
        .scoped(&state.store)
        .create_patient(&new, allow_duplicate)
        .await
    {
        Ok(id) => Ok(see_other(&format!("/referrals/new?patient={id}"))),
        Err(StoreError::DuplicatePatient(existing)) => {
            let search = PatientSearch::default();
            let mut page = patients(&state, &auth, search, "Recently added patients").await?;
            page.message = Some(format!(
                "A patient with this name and birth date already exists. Refer the existing \
                 patient (/referrals/new?patient={existing}), or tick the box below if this \
                 is a different person."
            ));
            page.offer_duplicate = true;
            let mut response = render(&page);
            *response.status_mut() = StatusCode::CONFLICT;
            Ok(response)
        }
        Err(err) => Err(err.into()),
    }
}

// --- vendors ------------------------------------------------------------------------

struct VendorView {
    name: String,
    display_name: String,
    services: String,
    status: &'static str,
    executed_on: String,
    expires_on: String,
    document_ref: String,
    may_receive: bool,
}

#[derive(Template)]
#[template(path = "vendors.html")]
struct VendorsPage {
    chrome: Chrome,
    vendors: Vec<VendorView>,
    problems: Vec<String>,
    can_manage: bool,
    statuses: Vec<&'static str>,
}

async fn vendors_page(State(state): State<AppState>, auth: Authenticated) -> PageResult {
    let user = auth.person()?;
    let scoped = auth.scoped(&state.store);
    let today = state.clock.now().date();
    let date = |d: Option<time::Date>| d.map(|d| d.to_string()).unwrap_or_default();
    let vendors = scoped
        .vendors()
        .await?
        .into_iter()
        .map(|v| VendorView {
            may_receive: v.may_receive_phi(today),
            name: v.name.as_str().to_owned(),
            display_name: v.display_name,
            services: v.services,
            status: v.baa_status.as_str(),
            executed_on: date(v.executed_on),
            expires_on: date(v.expires_on),
            document_ref: v.document_ref.unwrap_or_default(),
        })
        .collect();
    let problems = scoped
        .notifications(200)
        .await?
        .into_iter()
        .filter(|m| m.status == "refused")
        .map(|m| {
            format!(
                "{} {} notice on {} was not sent: {} has no executed BAA.",
                m.channel.as_str(),
                m.kind.replace('_', " "),
                stamp(m.created_at),
                m.vendor.as_deref().unwrap_or("its vendor"),
            )
        })
        .collect();
    Ok(render(&VendorsPage {
        chrome: chrome(&state, Some(user)),
        vendors,
        problems,
        can_manage: user.role == Role::SecurityOfficer,
        statuses: BaaStatus::ALL.iter().map(|s| s.as_str()).collect(),
    }))
}

#[derive(Deserialize)]
struct VendorForm {
    name: String,
    display_name: String,
    services: String,
    baa_status: String,
    executed_on: Option<String>,
    expires_on: Option<String>,
    document_ref: Option<String>,
}

async fn save_vendor(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<VendorForm>,
) -> PageResult {
    let date = |raw: Option<String>, what: &'static str| {
        blank_to_none(raw)
            .map(|d| {
                time::Date::parse(&d, &time::format_description::well_known::Iso8601::DATE).map_err(
                    |_| {
                        ApiError::InvalidInput(enamel_domain::InvalidValue::new(
                            what,
                            "must be a date as YYYY-MM-DD",
                        ))
                    },
                )
            })
            .transpose()
    };
    let entry = VendorEntry {
        name: VendorName::parse(&form.name).map_err(ApiError::from)?,
        display_name: form.display_name,
        services: form.services,
        baa_status: BaaStatus::parse(&form.baa_status).map_err(ApiError::from)?,
        executed_on: date(form.executed_on, "executed on")?,
        expires_on: date(form.expires_on, "expires on")?,
        document_ref: blank_to_none(form.document_ref),
    };
    auth.scoped(&state.store)
        .put_vendor(&entry, state.clock.now())
        .await?;
    Ok(see_other("/vendors"))
}
