//! The schedule's pages: the day per provider with its open time (a visit marked a
//! no-show or cancelled in one step), the waitlist, and recalls due.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use enamel_domain::{AppointmentId, AppointmentStatus, PatientId, WaitlistEntryId};
use serde::Deserialize;
use time::{Date, Duration};

use super::{Chrome, PageResult, chrome, full_name, render, see_other};
use crate::auth::Authenticated;
use crate::http::extract::{Form, Id};
use crate::services::schedule::{self, WaitlistForm};
use crate::{ApiError, AppState};

/// One visit as the day view lists it.
pub(super) struct VisitLine {
    id: AppointmentId,
    time: String,
    minutes: u16,
    patient: String,
    patient_id: Option<PatientId>,
    kind: String,
    status: &'static str,
    /// The slot is free again (a no-show or cancellation).
    freed: bool,
    /// Still to happen or happening: it can be marked.
    open_to_change: bool,
}

pub(super) struct ProviderColumn {
    name: String,
    visits: Vec<VisitLine>,
    open: Vec<String>,
}

#[derive(Template)]
#[template(path = "schedule_day.html")]
pub(super) struct DayPage {
    chrome: Chrome,
    date: String,
    title_date: String,
    previous: String,
    next: String,
    today: String,
    time_zone: String,
    providers: Vec<ProviderColumn>,
    flash: Option<&'static str>,
}

#[derive(Deserialize)]
pub(super) struct DayQuery {
    day: Option<String>,
    flash: Option<String>,
}

fn parse_day(raw: Option<&str>) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    raw.and_then(|d| Date::parse(d.trim(), &format).ok())
}

pub(super) async fn day_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<DayQuery>,
) -> PageResult {
    let user = auth.person()?;
    let scoped = auth.scoped(&state.store);
    let zone = scoped.own_practice().await?.time_zone;
    let today = schedule::today(&zone, state.clock.now());
    let date = parse_day(query.day.as_deref()).unwrap_or(today);
    let day = schedule::day(&scoped, date).await?;
    let now = state.clock.now();
    let clock = |at| {
        let local = zone.local(at);
        format!("{:02}:{:02}", local.hour(), local.minute())
    };
    let providers = day
        .providers
        .into_iter()
        .map(|p| ProviderColumn {
            name: p.provider.name.clone(),
            visits: p
                .visits
                .iter()
                .map(|v| VisitLine {
                    id: v.id,
                    time: clock(v.starts_at),
                    minutes: v.duration.get(),
                    patient: v
                        .patient
                        .as_ref()
                        .map_or_else(|| "Restricted patient".to_owned(), full_name),
                    patient_id: v.patient.as_ref().map(|p| p.id),
                    kind: v.kind_name.clone().unwrap_or_else(|| "Visit".to_owned()),
                    status: v.status.label(),
                    freed: !v.status.holds_the_slot(),
                    open_to_change: v.status.holds_the_slot()
                        && v.status != AppointmentStatus::Completed
                        && v.starts_at > now - Duration::hours(12),
                })
                .collect(),
            open: p
                .open
                .iter()
                .map(|(from, to)| {
                    format!(
                        "{}–{} ({} min)",
                        clock(*from),
                        clock(*to),
                        (*to - *from).whole_minutes()
                    )
                })
                .collect(),
        })
        .collect();
    Ok(render(&DayPage {
        chrome: chrome(&state, Some(user)),
        date: date.to_string(),
        title_date: format!(
            "{} {} {}, {}",
            date.weekday(),
            date.month(),
            date.day(),
            date.year()
        ),
        previous: date.previous_day().unwrap_or(date).to_string(),
        next: date.next_day().unwrap_or(date).to_string(),
        today: today.to_string(),
        time_zone: zone.name().to_owned(),
        providers,
        flash: match query.flash.as_deref() {
            Some("broken") => Some("The visit is marked as a no-show; its time is open again."),
            Some("cancelled") => Some("The visit is cancelled; its time is open again."),
            Some("confirmed") => Some("The visit is confirmed."),
            Some("arrived") => Some("The patient is marked as arrived."),
            Some("completed") => Some("The visit is marked as completed."),
            _ => None,
        },
    }))
}

#[derive(Deserialize)]
pub(super) struct StatusForm {
    status: String,
    /// The day to go back to.
    day: Option<String>,
}

/// Marks a visit (no-show, cancelled, confirmed, arrived, completed) in one step.
pub(super) async fn set_status(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<AppointmentId>,
    Form(form): Form<StatusForm>,
) -> PageResult {
    let status = schedule::status_from_form(&form.status).map_err(ApiError::from)?;
    auth.scoped(&state.store)
        .set_appointment_status(id, status)
        .await?;
    let day = parse_day(form.day.as_deref())
        .map(|d| d.to_string())
        .unwrap_or_default();
    Ok(see_other(&format!(
        "/schedule?day={day}&flash={}",
        status.as_str()
    )))
}

pub(super) struct WaitlistLine {
    id: WaitlistEntryId,
    patient: String,
    patient_id: Option<PatientId>,
    kind: String,
    minutes: u16,
    provider: String,
    window: String,
    availability: String,
    priority: u8,
    waiting_days: i64,
}

#[derive(Template)]
#[template(path = "waitlist.html")]
pub(super) struct WaitlistPage {
    chrome: Chrome,
    entries: Vec<WaitlistLine>,
    flash: Option<&'static str>,
    priorities: Vec<u8>,
}

#[derive(Deserialize)]
pub(super) struct FlashQuery {
    flash: Option<String>,
}

pub(super) async fn waitlist_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<FlashQuery>,
) -> PageResult {
    let user = auth.person()?;
    let scoped = auth.scoped(&state.store);
    let providers = scoped.providers().await?;
    let now = state.clock.now();
    let entries = scoped
        .waitlist()
        .await?
        .into_iter()
        .map(|w| WaitlistLine {
            id: w.id,
            patient: w
                .patient
                .as_ref()
                .map_or_else(|| "Restricted patient".to_owned(), full_name),
            patient_id: w.patient.as_ref().map(|p| p.id),
            kind: w
                .kind_name
                .clone()
                .unwrap_or_else(|| "Any visit".to_owned()),
            minutes: w.duration.get(),
            provider: w
                .provider
                .and_then(|id| providers.iter().find(|p| p.id == id))
                .map_or_else(|| "Any provider".to_owned(), |p| p.name.clone()),
            window: match (w.earliest, w.latest) {
                (Some(from), Some(to)) => format!("{from} to {to}"),
                (Some(from), None) => format!("from {from}"),
                (None, Some(to)) => format!("until {to}"),
                (None, None) => "any date".to_owned(),
            },
            availability: w.availability.describe(),
            priority: w.priority,
            waiting_days: (now - w.joined_at).whole_days(),
        })
        .collect();
    Ok(render(&WaitlistPage {
        chrome: chrome(&state, Some(user)),
        entries,
        flash: match query.flash.as_deref() {
            Some("added") => Some("The patient is on the waitlist."),
            Some("saved") => Some("The priority is saved."),
            Some("removed") => Some("The patient is off the waitlist."),
            _ => None,
        },
        priorities: (1..=9).collect(),
    }))
}

/// Puts a patient on the waitlist (from the patient's page). A mistake goes back
/// to the patient's page with the reason beside the form.
pub(super) async fn add_to_waitlist(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<WaitlistForm>,
) -> PageResult {
    let back = |why: String| {
        let patient = form.patient_id.trim();
        let why = url::form_urlencoded::byte_serialize(why.as_bytes()).collect::<String>();
        see_other(&format!(
            "/patients/{patient}?waitlist={why}#waitlist-heading"
        ))
    };
    match schedule::save_waitlist(&auth.scoped(&state.store), None, &form).await {
        Ok(_) => Ok(see_other("/schedule/waitlist?flash=added")),
        Err(ApiError::InvalidInput(invalid)) if form.patient_id.parse::<PatientId>().is_ok() => {
            Ok(back(format!("{} {}", invalid.what, invalid.why)))
        }
        Err(ApiError::Rejected(why)) if form.patient_id.parse::<PatientId>().is_ok() => {
            Ok(back(why))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct PriorityForm {
    priority: String,
}

/// Changes an entry's priority, keeping the rest.
pub(super) async fn set_priority(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<WaitlistEntryId>,
    Form(form): Form<PriorityForm>,
) -> PageResult {
    let priority = form
        .priority
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|p| (1..=9).contains(p))
        .ok_or_else(|| {
            ApiError::InvalidInput(enamel_domain::InvalidValue::new(
                "priority",
                "must be 1 (most urgent) to 9",
            ))
        })?;
    auth.scoped(&state.store)
        .set_waitlist_priority(id, priority)
        .await?;
    Ok(see_other("/schedule/waitlist?flash=saved"))
}

pub(super) async fn remove_from_waitlist(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<WaitlistEntryId>,
) -> PageResult {
    auth.scoped(&state.store).remove_waitlist_entry(id).await?;
    Ok(see_other("/schedule/waitlist?flash=removed"))
}

pub(super) struct RecallLine {
    patient: String,
    patient_id: Option<PatientId>,
    kind: String,
    previous: String,
    due: String,
    /// Days past due (negative: days to go).
    overdue_days: i64,
}

#[derive(Template)]
#[template(path = "recalls.html")]
pub(super) struct RecallsPage {
    chrome: Chrome,
    within: i64,
    lines: Vec<RecallLine>,
    choices: Vec<(i64, &'static str)>,
}

#[derive(Deserialize)]
pub(super) struct RecallQuery {
    within: Option<i64>,
}

pub(super) async fn recalls_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<RecallQuery>,
) -> Result<Response, super::PageError> {
    let user = auth.person()?;
    let scoped = auth.scoped(&state.store);
    let zone = scoped.own_practice().await?.time_zone;
    let today = schedule::today(&zone, state.clock.now());
    let within = query.within.unwrap_or(30).clamp(0, 365);
    let lines = scoped
        .recalls(Some(today + Duration::days(within)), None)
        .await?
        .into_iter()
        .map(|r| RecallLine {
            patient: r
                .patient
                .as_ref()
                .map_or_else(|| "Restricted patient".to_owned(), full_name),
            patient_id: r.patient.as_ref().map(|p| p.id),
            kind: r.kind_name.clone(),
            previous: r.previous.map(|d| d.to_string()).unwrap_or_default(),
            due: r.due.map(|d| d.to_string()).unwrap_or_default(),
            overdue_days: r.due.map_or(0, |d| (today - d).whole_days()),
        })
        .collect();
    Ok(render(&RecallsPage {
        chrome: chrome(&state, Some(user)),
        within,
        lines,
        choices: vec![
            (0, "Overdue today"),
            (30, "Due within 30 days"),
            (90, "Due within 90 days"),
        ],
    }))
}
