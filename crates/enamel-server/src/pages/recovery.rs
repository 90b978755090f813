//! No-show recovery's page (docs/no-show-recovery.md): the open slots being offered
//! and how each went (offers out, deferred, declined, filled, by whom, time to fill),
//! an open slot offered by hand, and the practice's switch and settings.

use askama::Template;
use axum::extract::{Query, State};
use enamel_domain::{RecoveryRunId, Role, TimeZone};
use enamel_store::{OfferStatus, RunDetail, RunStatus, hour_minute_text};
use serde::Deserialize;

use super::{Chrome, PageResult, chrome, full_name, render, see_other};
use crate::AppState;
use crate::auth::Authenticated;
use crate::http::extract::{Form, Id};
use crate::services::recovery::{SettingsBody, SlotBody};

pub(super) struct OfferLine {
    patient: String,
    patient_id: Option<String>,
    wave: u32,
    channel: &'static str,
    status: &'static str,
    reason: String,
    when: String,
}

pub(super) struct RunLine {
    id: RecoveryRunId,
    slot: String,
    provider: String,
    why: &'static str,
    kind: String,
    status: &'static str,
    open: bool,
    sent: usize,
    deferred: usize,
    declined: usize,
    refused: usize,
    filled_by: String,
    time_to_fill: String,
    next_wave: String,
    /// How writing the booking back to Open Dental went, for a practice on it.
    pms: &'static str,
    offers: Vec<OfferLine>,
}

/// A provider or a visit type, as a form's option.
pub(super) struct Choice {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "recovery.html")]
pub(super) struct RecoveryPage {
    chrome: Chrome,
    enabled: bool,
    wave_size: u32,
    wave_minutes: u32,
    cutoff_minutes: u32,
    send_from: String,
    send_until: String,
    /// The administrator: may change the settings.
    configures: bool,
    /// Staff who book: may offer a slot by hand and withdraw a run.
    books: bool,
    providers: Vec<Choice>,
    kinds: Vec<Choice>,
    today: String,
    runs: Vec<RunLine>,
    filled: usize,
    expired: usize,
    withdrawn: usize,
    flash: &'static str,
    /// What was wrong with the form just sent.
    error: Option<String>,
    /// The forms' values: as typed when one was refused, else the defaults.
    typed: Typed,
    /// The settings form's values: as typed when it was refused, else as saved.
    shown: SettingsShown,
}

/// The settings form's fields.
pub(super) struct SettingsShown {
    enabled: bool,
    wave_size: String,
    wave_minutes: String,
    cutoff_minutes: String,
    send_from: String,
    send_until: String,
}

/// What the two forms show in their fields.
#[derive(Default)]
pub(super) struct Typed {
    provider: String,
    kind: String,
    date: String,
    time: String,
    minutes: String,
    /// The settings as typed, when the settings form was refused.
    settings: Option<SettingsForm>,
}

#[derive(Deserialize)]
pub(super) struct Flash {
    flash: Option<String>,
}

fn reason_text(reason: &str) -> String {
    match reason {
        "rate_limited" => "had 3 messages in 24 hours".into(),
        "opted_out" => "opted out of texts, no email".into(),
        "no_contact" => "no phone or email".into(),
        "no_executed_baa" => "no BAA with the messaging vendor".into(),
        "filled" => "slot filled".into(),
        "this_slot" => String::new(),
        "all_offers" => "asked for no more offers".into(),
        "filled_outside" => "the time was booked another way".into(),
        "booked_elsewhere" => "booked another opening".into(),
        "too_near" => "slot came too near".into(),
        "staff" => "withdrawn by staff".into(),
        "visit_kept" => "the visit was put back".into(),
        "recovery_off" => "recovery turned off".into(),
        other => other.replace('_', " "),
    }
}

/// A run as the page lists it; `names`: the reader may see patients' names.
fn line(zone: &TimeZone, detail: RunDetail, names: bool) -> RunLine {
    let RunDetail { run, offers } = detail;
    let count = |status: OfferStatus| offers.iter().filter(|o| o.status == status).count();
    let filled_by = run
        .filled_offer
        .and_then(|id| offers.iter().find(|o| o.id == id))
        .map(|o| patient_label(o.patient.as_ref(), names))
        .unwrap_or_default();
    let time_to_fill = run.time_to_fill().map_or_else(String::new, |d| {
        let minutes = d.whole_minutes();
        if minutes < 60 {
            format!("{minutes} min")
        } else {
            format!("{} h {} min", minutes / 60, minutes % 60)
        }
    });
    RunLine {
        id: run.id,
        slot: format!("{}, {} min", zone.stamp(run.starts_at), run.duration.get()),
        provider: match &run.operatory_name {
            Some(op) => format!("{}, {op}", run.provider_name),
            None => run.provider_name.clone(),
        },
        kind: run
            .kind_name
            .clone()
            .unwrap_or_else(|| "Any visit that fits".to_owned()),
        why: if run.appointment.is_some() {
            "A visit was broken or cancelled"
        } else {
            "Offered by hand"
        },
        status: run.status.label(),
        open: run.status == RunStatus::Open,
        sent: offers.iter().filter(|o| o.sent_at.is_some()).count(),
        deferred: count(OfferStatus::Deferred),
        declined: count(OfferStatus::Declined),
        refused: count(OfferStatus::Refused),
        filled_by,
        time_to_fill,
        next_wave: if run.status == RunStatus::Open {
            run.next_wave_at
                .map(|at| zone.stamp(at))
                .unwrap_or_default()
        } else {
            String::new()
        },
        pms: match run.pms_writeback.as_deref() {
            None => "",
            Some("pending") => "Being written to Open Dental",
            Some("done") => "Booked in Open Dental too",
            Some("not_in_pms") => {
                "Not in Open Dental (the patient was added to the waitlist in Enamel): book it there by hand"
            }
            Some("no_executed_baa") => {
                "Not written to Open Dental: no executed BAA with Open Dental; book it there by hand"
            }
            Some(_) => "Open Dental refused the change: book it there by hand",
        },
        offers: offers
            .iter()
            .map(|o| OfferLine {
                patient: patient_label(o.patient.as_ref(), names),
                patient_id: o.patient.as_ref().map(|_| o.patient_id.to_string()),
                wave: o.wave,
                channel: o.channel.map_or("", |c| match c {
                    enamel_domain::Channel::Sms => "Text",
                    enamel_domain::Channel::Email => "Email",
                    enamel_domain::Channel::Fax => "Fax",
                }),
                status: o.status.label(),
                reason: o.reason.as_deref().map(reason_text).unwrap_or_default(),
                when: zone.stamp(o.answered_at.or(o.sent_at).unwrap_or(o.due_at)),
            })
            .collect(),
    }
}

/// A patient as the page names them: by name for staff who read the schedule; not
/// at all for the administrator; behind the glass when restricted.
fn patient_label(patient: Option<&enamel_domain::PatientSummary>, names: bool) -> String {
    match patient {
        Some(patient) => full_name(patient),
        None if names => "A restricted patient".to_owned(),
        None => "A waitlist patient".to_owned(),
    }
}

pub(super) async fn page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(flash): Query<Flash>,
) -> PageResult {
    let flash = match flash.flash.as_deref() {
        Some("saved") => "Saved.",
        Some("opened") => "The slot is being offered: the first wave goes out within a minute.",
        Some("withdrawn") => "Withdrawn: its open offers no longer book.",
        _ => "",
    };
    Ok(render(
        &page_model(&state, &auth, flash, None, Typed::default()).await?,
    ))
}

async fn page_model(
    state: &AppState,
    auth: &Authenticated,
    flash: &'static str,
    error: Option<String>,
    mut typed: Typed,
) -> Result<RecoveryPage, crate::ApiError> {
    let person = auth.person()?;
    let scoped = auth.scoped(&state.store);
    let zone = scoped.own_practice().await?.time_zone;
    let settings = scoped.recovery_settings().await?;
    let books = matches!(
        person.role,
        Role::Dentist | Role::Hygienist | Role::FrontDesk
    );
    let (providers, kinds) = if books {
        let providers = scoped
            .providers()
            .await?
            .into_iter()
            .filter(|p| !p.hidden)
            .map(|p| Choice {
                id: p.id.to_string(),
                name: p.name,
            })
            .collect();
        let kinds = scoped
            .appointment_types()
            .await?
            .into_iter()
            .map(|k| Choice {
                id: k.id.to_string(),
                name: format!("{} ({} min)", k.name, k.duration.get()),
            })
            .collect();
        (providers, kinds)
    } else {
        (Vec::new(), Vec::new())
    };
    let details = scoped.recovery_runs(50).await?;
    let count = |status: RunStatus| details.iter().filter(|d| d.run.status == status).count();
    let (filled, expired, withdrawn) = (
        count(RunStatus::Filled),
        count(RunStatus::Expired),
        count(RunStatus::Withdrawn),
    );
    // The runs still offering first, then the rest, newest first.
    let (open, closed): (Vec<RunDetail>, Vec<RunDetail>) = details
        .into_iter()
        .partition(|d| d.run.status == RunStatus::Open);
    let runs: Vec<RunLine> = open
        .into_iter()
        .chain(closed)
        .map(|r| line(&zone, r, books))
        .collect();
    let today = crate::services::schedule::today(&zone, state.clock.now()).to_string();
    if typed.date.is_empty() {
        typed.date.clone_from(&today);
    }
    if typed.minutes.is_empty() {
        "60".clone_into(&mut typed.minutes);
    }
    let shown = match typed.settings.take() {
        Some(form) => SettingsShown {
            enabled: form.enabled.is_some(),
            wave_size: form.wave_size,
            wave_minutes: form.wave_minutes,
            cutoff_minutes: form.cutoff_minutes,
            send_from: form.send_from,
            send_until: form.send_until,
        },
        None => SettingsShown {
            enabled: settings.enabled,
            wave_size: settings.wave_size.to_string(),
            wave_minutes: settings.wave_minutes.to_string(),
            cutoff_minutes: settings.cutoff_minutes.to_string(),
            send_from: hour_minute_text(settings.hours.from),
            send_until: hour_minute_text(settings.hours.until),
        },
    };
    Ok(RecoveryPage {
        chrome: chrome(state, Some(person)),
        enabled: settings.enabled,
        wave_size: settings.wave_size,
        wave_minutes: settings.wave_minutes,
        cutoff_minutes: settings.cutoff_minutes,
        send_from: hour_minute_text(settings.hours.from),
        send_until: hour_minute_text(settings.hours.until),
        configures: person.role == Role::PracticeAdmin,
        books,
        providers,
        kinds,
        today,
        filled,
        expired,
        withdrawn,
        runs,
        flash,
        error,
        typed,
        shown,
    })
}

/// After a form: on to `done`, or the page again with what was wrong with it.
async fn after_form(
    state: &AppState,
    auth: &Authenticated,
    result: Result<(), crate::ApiError>,
    done: &str,
    typed: Typed,
) -> PageResult {
    use crate::ApiError;
    match result {
        Ok(()) => Ok(see_other(done)),
        Err(err @ (ApiError::Rejected(_) | ApiError::InvalidInput(_) | ApiError::Conflict(_))) => {
            let (status, _, _, text) = err.public();
            let mut chars = text.chars();
            let message = chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default();
            let mut response = render(&page_model(state, auth, "", Some(message), typed).await?);
            *response.status_mut() = status;
            Ok(response)
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Clone, Deserialize)]
pub(super) struct SettingsForm {
    #[serde(default)]
    enabled: Option<String>,
    wave_size: String,
    wave_minutes: String,
    cutoff_minutes: String,
    send_from: String,
    send_until: String,
}

fn whole(raw: &str, field: &'static str) -> Result<u32, crate::ApiError> {
    raw.trim().parse().map_err(|_| {
        crate::ApiError::InvalidInput(enamel_domain::InvalidValue::new(
            field,
            "must be a whole number",
        ))
    })
}

pub(super) async fn save_settings(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<SettingsForm>,
) -> PageResult {
    let typed = Typed {
        settings: Some(form.clone()),
        ..Typed::default()
    };
    let result = async {
        let body = SettingsBody {
            enabled: form.enabled.is_some(),
            wave_size: whole(&form.wave_size, "patients per wave")?,
            wave_minutes: whole(&form.wave_minutes, "minutes between waves")?,
            cutoff_minutes: whole(&form.cutoff_minutes, "cutoff")?,
            send_from: form.send_from,
            send_until: form.send_until,
        };
        auth.scoped(&state.store)
            .set_recovery_settings(&body.settings()?, state.clock.now())
            .await?;
        Ok(())
    }
    .await;
    after_form(
        &state,
        &auth,
        result,
        "/schedule/recovery?flash=saved",
        typed,
    )
    .await
}

#[derive(Deserialize)]
pub(super) struct SlotForm {
    provider_id: String,
    #[serde(default)]
    appointment_type_id: Option<String>,
    date: String,
    time: String,
    duration_minutes: String,
}

pub(super) async fn open_slot(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<SlotForm>,
) -> PageResult {
    let typed = Typed {
        provider: form.provider_id.clone(),
        kind: form.appointment_type_id.clone().unwrap_or_default(),
        date: form.date.clone(),
        time: form.time.clone(),
        minutes: form.duration_minutes.clone(),
        settings: None,
    };
    let result = async {
        let scoped = auth.scoped(&state.store);
        let zone = scoped.own_practice().await?.time_zone;
        let body = SlotBody {
            provider_id: form.provider_id,
            operatory_id: None,
            appointment_type_id: form.appointment_type_id,
            date: form.date,
            time: form.time,
            duration_minutes: whole(&form.duration_minutes, "length")?,
        };
        scoped.open_recovery_run(&body.slot(&zone)?).await?;
        Ok(())
    }
    .await;
    after_form(
        &state,
        &auth,
        result,
        "/schedule/recovery?flash=opened",
        typed,
    )
    .await
}

pub(super) async fn withdraw(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<RecoveryRunId>,
) -> PageResult {
    let result = auth
        .scoped(&state.store)
        .withdraw_recovery_run(id)
        .await
        .map_err(Into::into);
    after_form(
        &state,
        &auth,
        result,
        "/schedule/recovery?flash=withdrawn",
        Typed::default(),
    )
    .await
}
