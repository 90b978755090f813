//! One patient's record: its page, restricting it (and lifting that), and breaking
//! the glass from it. Everything goes through the actor-scoped store, which
//! authorizes and audits it.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use enamel_domain::{Patient, PatientId, Role};
use enamel_store::{BreakGlassReason, StoreError};
use serde::Deserialize;

use super::{Chrome, PageError, chrome, render};
use crate::auth::Authenticated;
use crate::http::extract::{Form, Id};
use crate::services::break_glass;
use crate::{ApiError, AppState};

#[derive(Template)]
#[template(path = "patient.html")]
struct PatientPage {
    chrome: Chrome,
    id: PatientId,
    name: String,
    birth_date: String,
    phone: Option<String>,
    email: Option<String>,
    restricted: bool,
    /// What the actor may do with the restriction: `restrict` (the care team, on an
    /// open record), `lift` (a dentist reading a restricted one through a grant),
    /// or nothing (empty).
    control: &'static str,
    can_refer: bool,
    /// The schedule's view of the patient, for the roles that work the schedule.
    schedule: Option<PatientSchedule>,
    /// Why the last "Add to the waitlist" was not saved.
    waitlist_mistake: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct PatientQuery {
    /// The waitlist form's field that was wrong, and why (fixed texts, no values).
    waitlist: Option<String>,
}

/// A patient's appointments, recalls and coverage, as their page lists them.
struct PatientSchedule {
    appointments: Vec<(String, String, &'static str)>,
    recalls: Vec<(String, String, String)>,
    coverage: Vec<String>,
    kinds: Vec<(String, String)>,
    providers: Vec<(String, String)>,
}

async fn patient_schedule(
    state: &AppState,
    auth: &Authenticated,
    id: PatientId,
) -> Result<PatientSchedule, PageError> {
    let scoped = auth.scoped(&state.store);
    let zone = scoped.own_practice().await?.time_zone;
    let appointments = scoped
        .patient_appointments(id)
        .await?
        .into_iter()
        .map(|a| {
            (
                zone.stamp(a.starts_at),
                a.kind_name.unwrap_or_else(|| "Visit".to_owned()),
                a.status.label(),
            )
        })
        .collect();
    let recalls = scoped
        .recalls(None, Some(id))
        .await?
        .into_iter()
        .map(|r| {
            (
                r.kind_name,
                r.previous.map(|d| d.to_string()).unwrap_or_default(),
                if r.disabled {
                    "disabled".to_owned()
                } else {
                    r.due.map(|d| d.to_string()).unwrap_or_default()
                },
            )
        })
        .collect();
    let coverage = scoped
        .patient_coverage(id)
        .await?
        .into_iter()
        .map(|c| {
            format!(
                "{}: {} (payer {}), member {}{}, {}",
                if c.ordinal == 1 {
                    "Primary"
                } else {
                    "Secondary"
                },
                c.payer.name,
                c.payer.id,
                c.membership.expose().member_id,
                c.membership
                    .expose()
                    .group_number
                    .as_ref()
                    .map(|g| format!(", group {g}"))
                    .unwrap_or_default(),
                match c.relationship {
                    enamel_domain::Relationship::Subscriber => "the patient is the subscriber",
                    enamel_domain::Relationship::Spouse => "subscriber's spouse",
                    enamel_domain::Relationship::Child => "subscriber's child",
                    enamel_domain::Relationship::Other => "dependent",
                }
            )
        })
        .collect();
    let kinds = scoped
        .appointment_types()
        .await?
        .into_iter()
        .map(|t| {
            (
                t.id.to_string(),
                format!("{} ({} min)", t.name, t.duration.get()),
            )
        })
        .collect();
    let providers = scoped
        .providers()
        .await?
        .into_iter()
        .filter(|p| !p.hidden)
        .map(|p| (p.id.to_string(), p.name))
        .collect();
    Ok(PatientSchedule {
        appointments,
        recalls,
        coverage,
        kinds,
        providers,
    })
}

/// A restricted record, for a dentist: the glass to break.
#[derive(Template)]
#[template(path = "break_glass.html")]
struct BreakGlassPage {
    chrome: Chrome,
    id: PatientId,
    reasons: Vec<(&'static str, &'static str)>,
    message: Option<String>,
}

const fn reason_label(reason: BreakGlassReason) -> &'static str {
    match reason {
        BreakGlassReason::EmergencyTreatment => "Emergency treatment",
        BreakGlassReason::CoveringProvider => "Covering for the patient's provider",
        BreakGlassReason::PatientRequest => "The patient asked",
        BreakGlassReason::Other => "Other (say why below)",
    }
}

fn break_glass_page(
    state: &AppState,
    auth: &Authenticated,
    id: PatientId,
    message: Option<String>,
) -> Result<Response, PageError> {
    Ok(render(&BreakGlassPage {
        chrome: chrome(state, Some(auth.person()?)),
        id,
        reasons: BreakGlassReason::ALL
            .iter()
            .map(|r| (r.as_str(), reason_label(*r)))
            .collect(),
        message,
    }))
}

pub(super) async fn patient_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PatientId>,
    axum::extract::Query(query): axum::extract::Query<PatientQuery>,
) -> Result<Response, PageError> {
    let user = auth.person()?;

    let patient: Patient = match auth
        .scoped(&state.store)
        .patient(id, state.clock.now())
        .await
    {
        Ok(patient) => patient,
        // A dentist refused a record of their own practice is shown the glass; the
        // store decides again (404 for a missing record, 409 for one not restricted).
        Err(StoreError::Denied) if user.role == Role::Dentist => {
            return break_glass_page(&state, &auth, id, None);
        }
        Err(err) => return Err(err.into()),
    };
    let contact = patient.contact.as_ref().map(enamel_domain::Phi::expose);
    let works_schedule = matches!(user.role, Role::Dentist | Role::Hygienist | Role::FrontDesk);
    let schedule = if works_schedule && !patient.restricted {
        Some(patient_schedule(&state, &auth, id).await?)
    } else {
        None
    };
    Ok(render(&PatientPage {
        chrome: chrome(&state, Some(user)),
        id,
        name: format!(
            "{} {}",
            patient.first_name.expose(),
            patient.last_name.expose()
        ),
        birth_date: patient.birth_date.expose().to_string(),
        phone: contact.and_then(|c| c.phone.as_ref().map(enamel_domain::PhoneNumber::national)),
        email: contact.and_then(|c| c.email.as_ref().map(|e| e.as_str().to_owned())),
        restricted: patient.restricted,
        control: match (patient.restricted, user.role) {
            (false, Role::Dentist | Role::FrontDesk) => "restrict",
            (true, Role::Dentist) => "lift",
            _ => "",
        },
        can_refer: works_schedule,
        schedule,
        waitlist_mistake: query
            .waitlist
            .map(|why| format!("Not added to the waitlist: {why}. Correct it and add again.")),
    }))
}

#[derive(Deserialize)]
pub(super) struct RestrictForm {
    /// `on` to restrict, `off` to lift.
    restricted: String,
}

pub(super) async fn restrict_form(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PatientId>,
    Form(form): Form<RestrictForm>,
) -> Result<Response, PageError> {
    let restricted = match form.restricted.as_str() {
        "on" => true,
        "off" => false,
        _ => {
            return Err(ApiError::InvalidInput(enamel_domain::InvalidValue::new(
                "restricted",
                "is on or off",
            ))
            .into());
        }
    };
    auth.scoped(&state.store)
        .set_restricted(id, restricted, state.clock.now())
        .await?;
    // Once restricted, the record is out of the care team's sight: back to the list.
    let to = if restricted {
        "/patients".to_owned()
    } else {
        format!("/patients/{id}")
    };
    Ok(Redirect::to(&to).into_response())
}

#[derive(Deserialize)]
pub(super) struct BreakGlassForm {
    reason: String,
    note: String,
}

pub(super) async fn break_glass_form(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PatientId>,
    Form(form): Form<BreakGlassForm>,
) -> Result<Response, PageError> {
    let Some(reason) = BreakGlassReason::parse(&form.reason) else {
        return break_glass_page(&state, &auth, id, Some("Choose a reason.".to_owned()));
    };
    match break_glass::grant(&state, &auth, id, reason, &form.note).await {
        Ok(_) => Ok(Redirect::to(&format!("/patients/{id}")).into_response()),
        Err(StoreError::Conflict(why)) => break_glass_page(&state, &auth, id, Some(why.to_owned())),
        Err(err) => Err(err.into()),
    }
}
