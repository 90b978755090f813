//! Writing a referral: the form, the patient picker, files attached as it is sent.

use super::{MAX_FILES, PageResult, see_other};
use crate::auth::Authenticated;
use crate::extract::Query;
use crate::extract::parse_id;
use crate::routes::attachments::store_attachment;
use crate::routes::referrals::ReferralInput;
use crate::routes::web::{Chrome, chrome, render};
use crate::{ApiError, AppState};
use askama::Template;
use axum::extract::multipart::Field;
use axum::extract::{Multipart, State};
use enamel_domain::{PatientId, PracticeKind, ReferralId, Step, Urgency};
use enamel_store::DirectoryQuery;
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct NewReferralQuery {
    patient: String,
    specialty: Option<String>,
    city: Option<String>,
    within_km: Option<String>,
}

pub(super) struct ListingView {
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
pub(super) struct NewReferralPage {
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

pub(super) async fn new_referral_page(
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
pub(super) const MAX_FIELD_BYTES: usize = 64 * 1024;

pub(super) async fn text_of(field: Field<'_>) -> Result<String, ApiError> {
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

pub(super) fn split_list(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Streams one file field into the referral's attachments; an empty file input (no
/// file chosen) is skipped.
pub(super) async fn attach_field(
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
pub(super) async fn create_referral(
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

pub(super) async fn create_draft(
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
