//! The practice administrator's Open Dental page: connect with the practice's
//! customer key, see how the last sync went, sync now, disconnect.

use askama::Template;
use axum::extract::{Query, State};
use secrecy::SecretString;
use serde::Deserialize;

use super::{Chrome, PageResult, chrome, render, see_other};
use crate::auth::Authenticated;
use crate::http::extract::Form;
use crate::services::opendental::{self, outcome_text};
use crate::{ApiError, AppState};

/// One list's counts, as the page shows them.
pub(super) struct ListRow {
    list: String,
    read: u64,
    inserted: u64,
    updated: u64,
    skipped: u64,
    rejected: Vec<(String, u64)>,
}

#[derive(Template)]
#[template(path = "opendental.html")]
pub(super) struct OpenDentalPage {
    chrome: Chrome,
    /// Whether this deployment has Open Dental's developer key.
    available: bool,
    connected: bool,
    every_minutes: u32,
    connected_at: String,
    last_started: String,
    last_finished: String,
    outcome: String,
    lists: Vec<ListRow>,
    flash: &'static str,
}

/// A list's name for the administrator (the report keeps the sync's own names).
fn list_label(list: &str) -> &str {
    match list {
        "patients" => "Patients",
        "providers" => "Providers",
        "operatories" => "Operatories (chairs)",
        "appointment-types" => "Appointment types",
        "recall-types" => "Recall types",
        "appointments" => "Appointments",
        "asap" => "ASAP list (the waitlist)",
        "recalls" => "Recalls",
        "carriers" => "Insurance carriers",
        "insplans" => "Insurance plans",
        "inssubs" => "Insurance subscribers",
        "patplans" => "Patients' coverage",
        other => other,
    }
}

#[derive(Deserialize)]
pub(super) struct Flash {
    flash: Option<String>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(flash): Query<Flash>,
) -> PageResult {
    let scoped = auth.scoped(&state.store);
    let connection = scoped.pms_connection().await?;
    let zone = scoped.own_practice().await?.time_zone;
    let when = |at: Option<time::OffsetDateTime>| {
        at.map_or_else(|| "never".to_owned(), |at| zone.stamp(at))
    };
    let lists = connection
        .as_ref()
        .and_then(|c| c.last_report.as_deref())
        .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
        .and_then(|r| r.get("lists").and_then(|l| l.as_object()).cloned())
        .unwrap_or_default()
        .into_iter()
        .map(|(list, counts)| {
            let n = |field: &str| {
                counts
                    .get(field)
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0)
            };
            ListRow {
                read: n("read"),
                inserted: n("inserted"),
                updated: n("updated"),
                skipped: n("skipped"),
                rejected: counts
                    .get("rejected")
                    .and_then(|r| r.as_object())
                    .map(|r| {
                        r.iter()
                            .map(|(why, count)| (why.clone(), count.as_u64().unwrap_or(0)))
                            .collect()
                    })
                    .unwrap_or_default(),
                list: list_label(&list).to_owned(),
            }
        })
        .collect();
    let flash = match flash.flash.as_deref() {
        Some("connected") => "Connected. The first sync is queued and runs within a minute.",
        Some("queued") => "A sync is queued and runs within a minute.",
        Some("disconnected") => "Disconnected. Nothing more is read from Open Dental.",
        _ => "",
    };
    Ok(render(&OpenDentalPage {
        chrome: chrome(&state, Some(auth.person()?)),
        available: state.pms.developer_key.is_some(),
        connected: connection.is_some(),
        every_minutes: connection
            .as_ref()
            .map_or(state.pms_sync_minutes, |c| c.every_minutes),
        connected_at: when(connection.as_ref().map(|c| c.connected_at)),
        last_started: when(connection.as_ref().and_then(|c| c.last_started_at)),
        last_finished: when(connection.as_ref().and_then(|c| c.last_finished_at)),
        outcome: connection
            .as_ref()
            .and_then(|c| c.last_outcome.as_deref())
            .map_or_else(
                || "No run yet.".to_owned(),
                |code| outcome_text(code).to_owned(),
            ),
        lists,
        flash,
    }))
}

#[derive(Deserialize)]
pub(super) struct ConnectForm {
    customer_key: String,
    minutes: String,
}

pub(super) async fn connect(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<ConnectForm>,
) -> PageResult {
    let minutes = form.minutes.trim().parse::<u32>().map_err(|_| {
        ApiError::InvalidInput(enamel_domain::InvalidValue::new(
            "minutes",
            "must be a whole number of minutes",
        ))
    })?;
    let scoped = auth.scoped(&state.store);
    opendental::connect(
        &state,
        &scoped,
        &SecretString::from(form.customer_key),
        minutes,
    )
    .await?;
    Ok(see_other("/practice/opendental?flash=connected"))
}

pub(super) async fn sync_now(State(state): State<AppState>, auth: Authenticated) -> PageResult {
    let scoped = auth.scoped(&state.store);
    if scoped.pms_connection().await?.is_none() {
        return Err(ApiError::Rejected("connect Open Dental first".into()).into());
    }
    let practice = scoped.own_practice().await?.id;
    enamel_agents::runtime::enqueue_sync(&state.store, practice, false, state.clock.now())
        .await
        .map_err(ApiError::Unexpected)?;
    Ok(see_other("/practice/opendental?flash=queued"))
}

pub(super) async fn disconnect(State(state): State<AppState>, auth: Authenticated) -> PageResult {
    auth.scoped(&state.store).disconnect_pms().await?;
    Ok(see_other("/practice/opendental?flash=disconnected"))
}
