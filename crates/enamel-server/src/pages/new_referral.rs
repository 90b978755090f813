//! Writing a referral: the form, the patient picker, files attached as it is sent.

use super::form::{attach_field, split_list, text_of};
use super::{MAX_FILES, PageResult, see_other, sentence};
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
    hours: Option<String>,
}

/// The specialist search: what the office filters the directory by.
#[derive(Default)]
struct Filter {
    specialty: String,
    city: String,
    within_km: String,
}

/// What was typed into the form, shown again when the page comes back (a mistake,
/// or a new specialist search), so nothing typed is lost.
#[derive(Default)]
struct Typed {
    receiving: String,
    urgency: String,
    reason: String,
    cdt_codes: String,
    teeth: String,
    notes: String,
}

/// A mistake in the form: the field it is beside (its input's id) and what to fix.
struct Mistake {
    field: &'static str,
    message: String,
}

#[derive(Template)]
#[template(path = "referral_new.html")]
pub(super) struct NewReferralPage {
    chrome: Chrome,
    patient: String,
    patient_id: PatientId,
    filter: Filter,
    typed: Typed,
    mistake: Option<Mistake>,
    specialties: Vec<(&'static str, &'static str)>,
    listings: Vec<ListingView>,
    urgencies: Vec<(&'static str, &'static str)>,
    max_mb: u64,
    /// The office's distance unit (`mi` or `km`): the filter's numbers are in it.
    unit: &'static str,
}

impl NewReferralPage {
    /// The message for the field with input id `field`, if the mistake is there.
    fn mistake_at(&self, field: &str) -> Option<&str> {
        self.mistake
            .as_ref()
            .filter(|m| m.field == field)
            .map(|m| m.message.as_str())
    }
}

pub(super) async fn new_referral_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<NewReferralQuery>,
) -> PageResult {
    let patient_id = parse_id::<PatientId>(&query.patient)?;
    let filter = Filter {
        specialty: query.specialty.unwrap_or_default(),
        city: query.city.unwrap_or_default(),
        within_km: query.within_km.unwrap_or_default(),
    };
    form_page(&state, &auth, patient_id, filter, Typed::default(), None).await
}

/// The form for `patient`, with the directory filtered by `filter` and what was
/// typed filled back in; a mistake in the filter itself is shown beside it.
async fn form_page(
    state: &AppState,
    auth: &Authenticated,
    patient_id: PatientId,
    filter: Filter,
    typed: Typed,
    mut mistake: Option<Mistake>,
) -> PageResult {
    let user = auth.person()?;
    let scoped = auth.scoped(&state.store);
    let patient = scoped.patient(patient_id, state.clock.now()).await?;
    let kind = PracticeKind::parse(&filter.specialty).ok();
    let city = Some(filter.city.trim().to_owned()).filter(|c| !c.is_empty());
    let unit = match user.practice {
        Some(practice) => state.store.distance_unit(practice).await?,
        None => enamel_domain::DistanceUnit::default(),
    };
    let raw_within = filter.within_km.trim();
    let within = if raw_within.is_empty() {
        None
    } else if let Ok(km) = raw_within
        .parse::<f64>()
        .map_err(|_| ApiError::Rejected("choose a distance".into()))
        .and_then(|distance| crate::services::directory::within_km(unit.to_km(distance)))
    {
        Some(km)
    } else {
        mistake.get_or_insert(Mistake {
            field: "d-within",
            message: "Choose one of the distances.".into(),
        });
        None
    };
    let own = user.practice;
    let listings = scoped
        .directory(&DirectoryQuery {
            kind,
            name: None,
            city,
            within_km: within,
        })
        .await?
        .into_iter()
        .filter(|l| Some(l.id) != own)
        .map(|l| ListingView {
            id: l.id,
            distance: l.distance_km.map(|d| format!("{} away", unit.show(d))),
            hours: l.office_hours,
            name: l.name,
            kind: l.kind.label(),
            city: l.city,
            state: l.state,
            phone: enamel_domain::PhoneNumber::parse(&l.phone).map_or(l.phone, |p| p.national()),
        })
        .collect();
    let has_mistake = mistake.is_some();
    let mut page = render(&NewReferralPage {
        chrome: chrome(state, Some(user)),
        patient: format!(
            "{} {}",
            patient.first_name.expose(),
            patient.last_name.expose()
        ),
        patient_id,
        filter: Filter {
            specialty: kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
            ..filter
        },
        typed,
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
        mistake,
        unit: unit.as_str(),
    });
    // A form with a mistake is answered 422, so a script or a test sees that
    // nothing was saved; a browser shows it like any page.
    if has_mistake && page.status().is_success() {
        *page.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(page)
}

/// The form field (its input's id) a rule broken by a referral's value belongs to.
fn field_of(what: &str) -> &'static str {
    match what {
        "CDT code" | "CDT codes" => "r-codes",
        "tooth number" => "r-teeth",
        "referral reason" => "r-reason",
        "clinical notes" => "r-notes",
        "urgency" => "r-urgency",
        _ => "r-specialist",
    }
}

/// A mistake for the form from an error of reading it (no specialist chosen, or a
/// value that broke its rule), or the error itself when it is not about something
/// typed (a tampered id, a refusal).
fn mistake_of(err: ApiError, input: &ReferralInput) -> Result<Mistake, ApiError> {
    if input.receiving_practice_id.trim().is_empty() {
        return Ok(Mistake {
            field: "r-specialist",
            message: "Choose a specialist.".into(),
        });
    }
    match err {
        ApiError::InvalidInput(invalid) => Ok(Mistake {
            field: field_of(invalid.what),
            message: sentence(&invalid.to_string()),
        }),
        other => Err(other),
    }
}

/// The new-referral form (multipart: the specialist search, its fields, its files,
/// then the button). "Find specialists" shows the form again with the directory
/// filtered and everything typed kept. Otherwise the referral is created as a draft
/// when the first file arrives (or at the end), files are stored against it, and it
/// is sent last if "Send" was pressed. A mistake in what was typed shows the form
/// again with the message beside the field (files must then be chosen again: a
/// browser never refills a file input).
pub(super) async fn create_referral(
    State(state): State<AppState>,
    auth: Authenticated,
    mut form: Multipart,
) -> PageResult {
    let mut input = ReferralInput::default();
    let mut typed = Typed::default();
    let mut filter = Filter::default();
    let mut created: Option<ReferralId> = None;
    let mut filtering = false;
    let mut files = 0;
    let unreadable = |_| ApiError::Rejected("the form could not be read".into());
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            // A browser sends the file input even when no file was chosen, as a part
            // with an empty file name and no content: that is no file. A search
            // stores nothing either.
            if filtering || field.file_name().is_none_or(str::is_empty) {
                continue;
            }
            let id = if let Some(id) = created {
                id
            } else {
                match create_draft(&state, &auth, &input).await {
                    Ok(id) => {
                        created = Some(id);
                        id
                    }
                    Err(err) => {
                        let patient = parse_id::<PatientId>(&input.patient_id)?;
                        let mistake = mistake_of(err, &input)?;
                        return form_page(&state, &auth, patient, filter, typed, Some(mistake))
                            .await;
                    }
                }
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
        if name == "action" {
            // The search button comes before the files in the form, so nothing is
            // stored yet; the typed fields after it are still read, to show again.
            if value == "filter" && created.is_none() {
                filtering = true;
            }
            input.send = value == "send";
        } else {
            keep(&name, value, &mut input, &mut typed, &mut filter);
        }
    }
    if filtering {
        let patient = parse_id::<PatientId>(&input.patient_id)?;
        return form_page(&state, &auth, patient, filter, typed, None).await;
    }
    let id = match created {
        Some(id) => id,
        None => match create_draft(&state, &auth, &input).await {
            Ok(id) => id,
            Err(err) => {
                let patient = parse_id::<PatientId>(&input.patient_id)?;
                let mistake = mistake_of(err, &input)?;
                return form_page(&state, &auth, patient, filter, typed, Some(mistake)).await;
            }
        },
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

/// Takes one typed field into the referral's input, what is shown again, and the
/// specialist search.
fn keep(
    name: &str,
    value: String,
    input: &mut ReferralInput,
    typed: &mut Typed,
    filter: &mut Filter,
) {
    match name {
        "patient_id" => input.patient_id = value,
        "specialty" => filter.specialty = value,
        "city" => filter.city = value,
        "within_km" => filter.within_km = value,
        "receiving_practice_id" => {
            typed.receiving.clone_from(&value);
            input.receiving_practice_id = value;
        }
        "urgency" => {
            typed.urgency.clone_from(&value);
            input.urgency = value;
        }
        "reason" => {
            typed.reason.clone_from(&value);
            input.reason = value;
        }
        "cdt_codes" => {
            input.cdt_codes = split_list(&value);
            typed.cdt_codes = value;
        }
        "teeth" => {
            input.teeth = split_list(&value);
            typed.teeth = value;
        }
        "notes" => {
            typed.notes.clone_from(&value);
            input.notes = value;
        }
        _ => {}
    }
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
