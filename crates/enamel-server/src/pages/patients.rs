//! The practice's patients: search and add.

use super::{PageError, PageResult, blank_to_none, can_refer, full_name, see_other};
use crate::AppState;
use crate::auth::Authenticated;
use crate::http::extract::Form;
use crate::http::page::{Chrome, chrome, render};
use crate::services::patients::{AddressInput, PatientInput, PatientSearch, patient_query};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use enamel_domain::PatientId;
use enamel_store::StoreError;
use serde::Deserialize;

pub(super) struct PatientRow {
    id: PatientId,
    name: String,
    birth_date: String,
}

#[derive(Template)]
#[template(path = "patients.html")]
pub(super) struct PatientsPage {
    chrome: Chrome,
    caption: &'static str,
    rows: Vec<PatientRow>,
    can_refer: bool,
    can_create: bool,
    message: Option<String>,
    offer_duplicate: bool,
}

pub(super) async fn patients(
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

pub(super) async fn patients_page(
    State(state): State<AppState>,
    auth: Authenticated,
) -> PageResult {
    let search = PatientSearch {
        limit: Some(25),
        ..PatientSearch::default()
    };
    Ok(render(
        &patients(&state, &auth, search, "Recently added patients").await?,
    ))
}

#[derive(Deserialize)]
pub(super) struct SearchForm {
    last_name: Option<String>,
    birth_date: Option<String>,
    phone: Option<String>,
}

pub(super) async fn search_patients(
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
pub(super) struct PatientForm {
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

pub(super) async fn create_patient(
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
