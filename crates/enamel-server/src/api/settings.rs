//! The office settings of the caller's practice (its administrator).

use axum::extract::State;
use axum::http::StatusCode;

use crate::auth::Authenticated;
use crate::http::extract::Json;
use crate::services::office_settings::SettingsForm;
use crate::{ApiError, AppState};

#[utoipa::path(
    get,
    path = "/api/v1/practice/settings",
    tag = "identity",
    summary = "The office's settings: notification channel, phones, address, listing, time zone, hours, distance unit (practice administrator)",
    responses((status = 200, description = "The settings", body = SettingsForm)),
)]
pub(crate) async fn settings(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<SettingsForm>, ApiError> {
    let settings = auth.scoped(&state.store).office_settings().await?;
    Ok(Json(SettingsForm::from(&settings)))
}

#[utoipa::path(
    put,
    path = "/api/v1/practice/settings",
    tag = "identity",
    summary = "Save the office's settings, all of them at once (practice administrator)",
    request_body = SettingsForm,
    responses((status = 204, description = "Saved")),
)]
pub(crate) async fn save_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(form): Json<SettingsForm>,
) -> Result<StatusCode, ApiError> {
    let settings = form.parse()?;
    auth.scoped(&state.store)
        .save_office_settings(&settings)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
