//! The schedule through the API (docs/schedule.md): a day per provider with its
//! open time, marking a visit, the waitlist, recalls due, and a patient's schedule.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use enamel_domain::{AppointmentId, PatientId, WaitlistEntryId};
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authenticated;
use crate::http::extract::{Id, Json};
use crate::services::schedule::{self, WaitlistForm};
use crate::{ApiError, AppState};

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn patient_name(patient: Option<&enamel_domain::PatientSummary>) -> Option<String> {
    patient.map(crate::pages::full_name)
}

/// One visit on the schedule.
#[derive(Serialize, ToSchema)]
pub(crate) struct VisitView {
    id: String,
    patient_id: String,
    /// The patient's name; absent for a restricted patient.
    patient_name: Option<String>,
    provider_id: String,
    operatory_id: Option<String>,
    appointment_type: Option<String>,
    /// RFC 3339.
    starts_at: String,
    duration_minutes: u16,
    /// `scheduled`, `confirmed`, `arrived`, `completed`, `broken` (no-show) or `cancelled`.
    status: String,
}

impl VisitView {
    fn from(a: &enamel_store::Appointment) -> Self {
        Self {
            id: a.id.to_string(),
            patient_id: a.patient_id.to_string(),
            patient_name: patient_name(a.patient.as_ref()),
            provider_id: a.provider.to_string(),
            operatory_id: a.operatory.map(|o| o.to_string()),
            appointment_type: a.kind_name.clone(),
            starts_at: rfc3339(a.starts_at),
            duration_minutes: a.duration.get(),
            status: a.status.as_str().to_owned(),
        }
    }
}

/// A span of open time (RFC 3339).
#[derive(Serialize, ToSchema)]
pub(crate) struct OpenView {
    starts_at: String,
    ends_at: String,
    minutes: i64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ProviderDayView {
    provider_id: String,
    provider_name: String,
    visits: Vec<VisitView>,
    open: Vec<OpenView>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DayView {
    /// `YYYY-MM-DD`, the practice's calendar day.
    date: String,
    time_zone: String,
    providers: Vec<ProviderDayView>,
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct DayQuery {
    /// `YYYY-MM-DD`; today at the practice when absent.
    day: Option<String>,
}

fn parse_date(raw: &str, field: &'static str) -> Result<Date, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(raw.trim(), &format).map_err(|_| {
        ApiError::InvalidInput(enamel_domain::InvalidValue::new(
            field,
            "must be YYYY-MM-DD",
        ))
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/schedule",
    tag = "schedule",
    summary = "A day of the schedule per provider, with open time (dentist, hygienist, front desk)",
    params(DayQuery),
    responses((status = 200, description = "The day", body = DayView)),
)]
pub(crate) async fn day(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<DayQuery>,
) -> Result<Json<DayView>, ApiError> {
    let scoped = auth.scoped(&state.store);
    let date = if let Some(raw) = query.day.as_deref() {
        parse_date(raw, "day")?
    } else {
        let zone = scoped.own_practice().await?.time_zone;
        schedule::today(&zone, state.clock.now())
    };
    let day = schedule::day(&scoped, date).await?;
    Ok(Json(DayView {
        date: day.date.to_string(),
        time_zone: day.zone.name().to_owned(),
        providers: day
            .providers
            .iter()
            .map(|p| ProviderDayView {
                provider_id: p.provider.id.to_string(),
                provider_name: p.provider.name.clone(),
                visits: p.visits.iter().map(VisitView::from).collect(),
                open: p
                    .open
                    .iter()
                    .map(|(from, to)| OpenView {
                        starts_at: rfc3339(*from),
                        ends_at: rfc3339(*to),
                        minutes: (*to - *from).whole_minutes(),
                    })
                    .collect(),
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct StatusBody {
    /// `broken` (no-show), `cancelled`, `confirmed`, `arrived`, `completed` or `scheduled`.
    status: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/appointments/{id}/status",
    tag = "schedule",
    summary = "Mark a visit as a no-show, cancelled, confirmed, arrived or completed",
    params(("id" = String, Path, description = "The appointment's id")),
    request_body = StatusBody,
    responses((status = 204, description = "Marked")),
)]
pub(crate) async fn set_status(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<AppointmentId>,
    Json(body): Json<StatusBody>,
) -> Result<StatusCode, ApiError> {
    let status = schedule::status_from_form(&body.status)?;
    auth.scoped(&state.store)
        .set_appointment_status(id, status)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A waitlist entry.
#[derive(Serialize, ToSchema)]
pub(crate) struct WaitlistView {
    id: String,
    patient_id: String,
    patient_name: Option<String>,
    appointment_type_id: Option<String>,
    appointment_type: Option<String>,
    duration_minutes: u16,
    /// Absent: any provider.
    provider_id: Option<String>,
    earliest: Option<String>,
    latest: Option<String>,
    /// "Mon, Wed · morning".
    availability: String,
    priority: u8,
    joined_at: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct WaitlistList {
    entries: Vec<WaitlistView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/waitlist",
    tag = "schedule",
    summary = "The waitlist, most urgent first, then longest waiting",
    responses((status = 200, description = "The waitlist", body = WaitlistList)),
)]
pub(crate) async fn waitlist(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<WaitlistList>, ApiError> {
    let entries = auth.scoped(&state.store).waitlist().await?;
    Ok(Json(WaitlistList {
        entries: entries
            .iter()
            .map(|w| WaitlistView {
                id: w.id.to_string(),
                patient_id: w.patient_id.to_string(),
                patient_name: patient_name(w.patient.as_ref()),
                appointment_type_id: w.kind.map(|k| k.to_string()),
                appointment_type: w.kind_name.clone(),
                duration_minutes: w.duration.get(),
                provider_id: w.provider.map(|p| p.to_string()),
                earliest: w.earliest.map(|d| d.to_string()),
                latest: w.latest.map(|d| d.to_string()),
                availability: w.availability.describe(),
                priority: w.priority,
                joined_at: rfc3339(w.joined_at),
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Created {
    id: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/waitlist",
    tag = "schedule",
    summary = "Put a patient on the waitlist",
    request_body = WaitlistForm,
    responses((status = 201, description = "On the waitlist", body = Created)),
)]
pub(crate) async fn add(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(form): Json<WaitlistForm>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let id = schedule::save_waitlist(&auth.scoped(&state.store), None, &form).await?;
    Ok((StatusCode::CREATED, Json(Created { id: id.to_string() })))
}

#[utoipa::path(
    put,
    path = "/api/v1/waitlist/{id}",
    tag = "schedule",
    summary = "Change a waitlist entry, all of it at once",
    params(("id" = String, Path, description = "The entry's id")),
    request_body = WaitlistForm,
    responses((status = 204, description = "Saved")),
)]
pub(crate) async fn change(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<WaitlistEntryId>,
    Json(form): Json<WaitlistForm>,
) -> Result<StatusCode, ApiError> {
    schedule::save_waitlist(&auth.scoped(&state.store), Some(id), &form).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/api/v1/waitlist/{id}",
    tag = "schedule",
    summary = "Take a patient off the waitlist",
    params(("id" = String, Path, description = "The entry's id")),
    responses((status = 204, description = "Removed")),
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<WaitlistEntryId>,
) -> Result<StatusCode, ApiError> {
    auth.scoped(&state.store).remove_waitlist_entry(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A recall.
#[derive(Serialize, ToSchema)]
pub(crate) struct RecallView {
    id: String,
    patient_id: String,
    patient_name: Option<String>,
    recall_type: String,
    previous_visit: Option<String>,
    due: Option<String>,
    disabled_until: Option<String>,
    disabled: bool,
}

impl RecallView {
    fn from(r: &enamel_store::RecallEntry) -> Self {
        Self {
            id: r.id.to_string(),
            patient_id: r.patient_id.to_string(),
            patient_name: patient_name(r.patient.as_ref()),
            recall_type: r.kind_name.clone(),
            previous_visit: r.previous.map(|d| d.to_string()),
            due: r.due.map(|d| d.to_string()),
            disabled_until: r.disabled_until.map(|d| d.to_string()),
            disabled: r.disabled,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RecallList {
    recalls: Vec<RecallView>,
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct RecallQuery {
    /// Due within this many days from today (0 to 365, default 30); overdue ones first.
    within: Option<u16>,
}

#[utoipa::path(
    get,
    path = "/api/v1/recalls",
    tag = "schedule",
    summary = "Recalls due (and overdue), not disabled",
    params(RecallQuery),
    responses((status = 200, description = "The recalls", body = RecallList)),
)]
pub(crate) async fn recalls(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<RecallQuery>,
) -> Result<Json<RecallList>, ApiError> {
    let scoped = auth.scoped(&state.store);
    let zone = scoped.own_practice().await?.time_zone;
    let within = i64::from(query.within.unwrap_or(30).min(365));
    let until = schedule::today(&zone, state.clock.now()) + Duration::days(within);
    let recalls = scoped.recalls(Some(until), None).await?;
    Ok(Json(RecallList {
        recalls: recalls.iter().map(RecallView::from).collect(),
    }))
}

/// Coverage on a patient's schedule.
#[derive(Serialize, ToSchema)]
pub(crate) struct CoverageView {
    /// 1 primary, 2 secondary.
    ordinal: u8,
    payer_id: String,
    payer_name: String,
    member_id: String,
    group_number: Option<String>,
    /// `self`, `spouse`, `child` or `other`.
    relationship: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PatientScheduleView {
    appointments: Vec<VisitView>,
    recalls: Vec<RecallView>,
    /// Empty for a role that does not see the patient's insurance.
    coverage: Vec<CoverageView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/patients/{id}/schedule",
    tag = "schedule",
    summary = "A patient's appointments, recalls and coverage",
    params(("id" = String, Path, description = "The patient's id")),
    responses((status = 200, description = "The patient's schedule", body = PatientScheduleView)),
)]
pub(crate) async fn patient_schedule(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PatientId>,
) -> Result<Json<PatientScheduleView>, ApiError> {
    let scoped = auth.scoped(&state.store);
    // The patient's record decides first: a restricted patient stays behind the glass.
    scoped.patient(id, state.clock.now()).await?;
    let coverage = scoped.patient_coverage(id).await?;
    let appointments = scoped.patient_appointments(id).await?;
    let recalls = scoped.recalls(None, Some(id)).await?;
    Ok(Json(PatientScheduleView {
        appointments: appointments.iter().map(VisitView::from).collect(),
        recalls: recalls.iter().map(RecallView::from).collect(),
        coverage: coverage
            .into_iter()
            .map(|c| CoverageView {
                ordinal: c.ordinal,
                payer_id: c.payer.id,
                payer_name: c.payer.name,
                member_id: c.membership.expose().member_id.clone(),
                group_number: c.membership.expose().group_number.clone(),
                relationship: c.relationship.as_str().to_owned(),
            })
            .collect(),
    }))
}
