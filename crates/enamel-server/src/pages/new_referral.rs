//! Writing a referral: the form, the patient picker, files attached as it is sent.

use super::form::{attach_field, split_list, text_of};
use super::{MAX_FILES, PageResult, see_other};
use crate::auth::Authenticated;
use crate::http::extract::Query;
use crate::http::extract::parse_id;

use crate::http::page::{Chrome, chrome, render};
use crate::services::referrals::ReferralInput;
use crate::{ApiError, AppState};
use askama::Template;
use axum::extract::{Multipart, State};
use enamel_domain::{PatientId, PracticeKind, ReferralId, Step, Urgency};
use enamel_store::DirectoryQuery;
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
                .and_then(crate::services::directory::within_km)
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
