//! No-show recovery through the API (docs/no-show-recovery.md): the practice's
//! switch and settings, its runs and their offers, an open slot offered by hand, and
//! a run withdrawn.

use axum::extract::State;
use axum::http::StatusCode;
use enamel_domain::RecoveryRunId;
use enamel_store::{RunDetail, hour_minute_text};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::http::extract::{Id, Json};
use crate::services::recovery::{SettingsBody, SlotBody};
use crate::{ApiError, AppState};

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The practice's recovery settings.
#[derive(Serialize, ToSchema)]
pub(crate) struct SettingsView {
    enabled: bool,
    wave_size: u32,
    wave_minutes: u32,
    cutoff_minutes: u32,
    /// `HH:MM`, the practice's local time.
    send_from: String,
    send_until: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/recovery/settings",
    tag = "schedule",
    summary = "No-show recovery's switch and settings (staff and the administrator)",
    responses((status = 200, description = "The settings", body = SettingsView)),
)]
pub(crate) async fn settings(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<SettingsView>, ApiError> {
    let s = auth.scoped(&state.store).recovery_settings().await?;
    Ok(Json(SettingsView {
        enabled: s.enabled,
        wave_size: s.wave_size,
        wave_minutes: s.wave_minutes,
        cutoff_minutes: s.cutoff_minutes,
        send_from: hour_minute_text(s.hours.from),
        send_until: hour_minute_text(s.hours.until),
    }))
}

#[utoipa::path(
    put,
    path = "/api/v1/recovery/settings",
    tag = "schedule",
    summary = "Turn no-show recovery on or off and set its waves, cutoff and sending hours (administrator)",
    request_body = SettingsBody,
    responses((status = 204, description = "Saved")),
)]
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<SettingsBody>,
) -> Result<StatusCode, ApiError> {
    auth.scoped(&state.store)
        .set_recovery_settings(&body.settings()?, state.clock.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One offer of a run.
#[derive(Serialize, ToSchema)]
pub(crate) struct OfferView {
    id: String,
    patient_id: String,
    /// Absent for a restricted patient.
    patient_name: Option<String>,
    wave: u32,
    /// `sms` or `email`; absent when refused before a channel was chosen.
    channel: Option<String>,
    /// `deferred`, `sent`, `refused`, `confirmed`, `declined`, `withdrawn` or `expired`.
    status: String,
    /// Why refused, withdrawn or declined (a code such as `rate_limited`).
    reason: Option<String>,
    due_at: String,
    sent_at: Option<String>,
    answered_at: Option<String>,
}

/// A run: one open slot being (or having been) offered.
#[derive(Serialize, ToSchema)]
pub(crate) struct RunView {
    id: String,
    /// The visit that left the slot; absent for a slot offered by hand.
    appointment_id: Option<String>,
    provider_id: String,
    provider_name: String,
    operatory_id: Option<String>,
    appointment_type: Option<String>,
    starts_at: String,
    duration_minutes: u16,
    /// `open`, `filled`, `expired` or `withdrawn`.
    status: String,
    opened_at: String,
    waves: u32,
    next_wave_at: Option<String>,
    closed_at: Option<String>,
    closed_reason: Option<String>,
    /// The appointment the winning offer booked (or moved).
    booked_appointment_id: Option<String>,
    /// Seconds from opening to booking, for a filled run.
    time_to_fill_seconds: Option<i64>,
    /// For a practice on Open Dental: `pending`, `done`, `not_in_pms` (a visit it
    /// does not have, to book there by hand) or an error code.
    pms_writeback: Option<String>,
    offers: Vec<OfferView>,
}

impl RunView {
    fn from(detail: &RunDetail) -> Self {
        let run = &detail.run;
        Self {
            id: run.id.to_string(),
            appointment_id: run.appointment.map(|a| a.to_string()),
            provider_id: run.provider.to_string(),
            provider_name: run.provider_name.clone(),
            operatory_id: run.operatory.map(|o| o.to_string()),
            appointment_type: run.kind_name.clone(),
            starts_at: rfc3339(run.starts_at),
            duration_minutes: run.duration.get(),
            status: serde_json::to_value(run.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            opened_at: rfc3339(run.opened_at),
            waves: run.waves,
            next_wave_at: run.next_wave_at.map(rfc3339),
            closed_at: run.closed_at.map(rfc3339),
            closed_reason: run.closed_reason.clone(),
            booked_appointment_id: run.booked_appointment.map(|a| a.to_string()),
            time_to_fill_seconds: run.time_to_fill().map(time::Duration::whole_seconds),
            pms_writeback: run.pms_writeback.clone(),
            offers: detail
                .offers
                .iter()
                .map(|o| OfferView {
                    id: o.id.to_string(),
                    patient_id: o.patient_id.to_string(),
                    patient_name: o.patient.as_ref().map(crate::pages::full_name),
                    wave: o.wave,
                    channel: o.channel.map(|c| c.as_str().to_owned()),
                    status: o.status.as_str().to_owned(),
                    reason: o.reason.clone(),
                    due_at: rfc3339(o.due_at),
                    sent_at: o.sent_at.map(rfc3339),
                    answered_at: o.answered_at.map(rfc3339),
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RunList {
    runs: Vec<RunView>,
}

#[utoipa::path(
    get,
    path = "/api/v1/recovery/runs",
    tag = "schedule",
    summary = "No-show recovery's runs, newest first, with their offers (the last 50)",
    responses((status = 200, description = "The runs", body = RunList)),
)]
pub(crate) async fn runs(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<RunList>, ApiError> {
    let runs = auth.scoped(&state.store).recovery_runs(50).await?;
    Ok(Json(RunList {
        runs: runs.iter().map(RunView::from).collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct OpenedRun {
    id: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/recovery/runs",
    tag = "schedule",
    summary = "Offer an open slot to the waitlist (dentist, hygienist, front desk)",
    request_body = SlotBody,
    responses(
        (status = 201, description = "The run is open; its first wave is queued", body = OpenedRun),
        (status = 409, description = "The slot is already being offered", body = crate::http::error::Problem),
    ),
)]
pub(crate) async fn open(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(body): Json<SlotBody>,
) -> Result<(StatusCode, Json<OpenedRun>), ApiError> {
    let scoped = auth.scoped(&state.store);
    let zone = scoped.own_practice().await?.time_zone;
    let run = scoped.open_recovery_run(&body.slot(&zone)?).await?;
    Ok((
        StatusCode::CREATED,
        Json(OpenedRun {
            id: run.to_string(),
        }),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/recovery/runs/{id}/withdrawal",
    tag = "schedule",
    summary = "Stop offering a slot: its open offers no longer book it",
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 409, description = "The run is no longer open", body = crate::http::error::Problem),
    ),
)]
pub(crate) async fn withdraw(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<RecoveryRunId>,
) -> Result<StatusCode, ApiError> {
    auth.scoped(&state.store).withdraw_recovery_run(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
