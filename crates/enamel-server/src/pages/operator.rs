//! The platform operator's page of dead letters, with a Retry button for each.

use askama::Template;
use axum::extract::State;
use serde::Deserialize;
use uuid::Uuid;

use super::{Chrome, PageResult, chrome, render, see_other};
use crate::AppState;
use crate::auth::Authenticated;
use crate::http::extract::{Id, Query};
use crate::services::dead_letters::{self, DeadLetter};

#[derive(Template)]
#[template(path = "operator_jobs.html")]
struct JobsPage {
    chrome: Chrome,
    dead_letters: Vec<DeadLetter>,
    retried: bool,
}

#[derive(Deserialize)]
pub(super) struct Flash {
    flash: Option<String>,
}

pub(super) async fn jobs_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(flash): Query<Flash>,
) -> PageResult {
    let user = auth.person()?;
    let dead_letters = dead_letters::list(&state, &auth).await?;
    Ok(render(&JobsPage {
        chrome: chrome(&state, Some(user)),
        dead_letters,
        retried: flash.flash.as_deref() == Some("retried"),
    }))
}

pub(super) async fn retry_from_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<Uuid>,
) -> PageResult {
    dead_letters::retry(&state, &auth, id).await?;
    Ok(see_other("/operator/jobs?flash=retried"))
}
