//! The office settings page (the practice's administrator): how office notices
//! reach the office, its phones and address, its directory listing and location,
//! time zone, office hours and distance unit.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use enamel_domain::TimeZone;
use serde::Deserialize;

use super::{Chrome, PageResult, chrome, render, see_other, sentence};
use crate::AppState;
use crate::auth::Authenticated;
use crate::http::extract::{Form, Query};
use crate::services::office_settings::SettingsForm;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    practice: String,
    typed: SettingsForm,
    /// The field with a mistake, and the message.
    mistake: Option<(&'static str, String)>,
    saved: bool,
    /// Each time zone, and whether it is the one typed.
    zones: Vec<(&'static str, bool)>,
}

impl SettingsPage {
    fn mistake_at(&self, field: &str) -> Option<&str> {
        self.mistake
            .as_ref()
            .filter(|(at, _)| *at == field)
            .map(|(_, message)| message.as_str())
    }
}

#[derive(Deserialize)]
pub(super) struct Flash {
    flash: Option<String>,
}

pub(super) async fn settings_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(flash): Query<Flash>,
) -> PageResult {
    let settings = auth.scoped(&state.store).office_settings().await?;
    let saved = flash.flash.as_deref() == Some("saved");
    page(&state, &auth, SettingsForm::from(&settings), None, saved).await
}

async fn page(
    state: &AppState,
    auth: &Authenticated,
    typed: SettingsForm,
    mistake: Option<(&'static str, String)>,
    saved: bool,
) -> PageResult {
    let user = auth.person()?;
    let practice = auth.scoped(&state.store).own_practice().await?;
    let failed = mistake.is_some();
    let zones = TimeZone::all()
        .map(|zone| (zone.name(), typed.time_zone == zone.name()))
        .collect();
    let mut response = render(&SettingsPage {
        chrome: chrome(state, Some(user)),
        practice: practice.name.as_str().to_owned(),
        typed,
        mistake,
        saved,
        zones,
    });
    if failed {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub(super) async fn save_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<SettingsForm>,
) -> PageResult {
    let settings = match form.parse() {
        Ok(settings) => settings,
        Err(mistake) => {
            let message = sentence(&format!("the {} {}", mistake.error.what, mistake.error.why));
            return page(&state, &auth, form, Some((mistake.field, message)), false).await;
        }
    };
    auth.scoped(&state.store)
        .save_office_settings(&settings)
        .await?;
    Ok(see_other("/practice/settings?flash=saved"))
}
