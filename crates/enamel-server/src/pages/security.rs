//! The security officer's console: the audit log with names resolved, filters and
//! paging; the last 24 hours' failures and denials; a patient picker leading to the
//! patient's accounting of disclosures (page, CSV, PDF) with recipients named; and
//! the security alerts, acknowledged or closed with a note.

use std::collections::HashMap;
use std::fmt::Write as _;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use enamel_audit::entry::{Action as AuditAction, Detail, Entry, Outcome};
use enamel_domain::{Phi, PracticeId, TimeZone};
use enamel_store::{AlertResolution, AuditFilter, AuditPage, Disclosure, PatientQuery};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{Chrome, PageResult, chrome, render, see_other, sentence, stamp};
use crate::auth::Authenticated;
use crate::http::extract::{Form, Id, Query, parse_date};
use crate::{ApiError, AppState};

/// Entries per page of the log.
const PAGE: u32 = 50;

/// One line of the log as the page shows it.
struct LogLine {
    when: String,
    person: String,
    action: String,
    resource: String,
    patient: String,
    patient_id: Option<String>,
    outcome: String,
    detail: String,
}

/// The filters as typed, kept in the form and in the paging link.
#[derive(Deserialize, Default, Clone)]
pub(super) struct LogQuery {
    #[serde(default)]
    patient: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    before: Option<u64>,
}

#[derive(Template)]
#[template(path = "security_log.html")]
struct LogPage {
    chrome: Chrome,
    heading: &'static str,
    /// The filter form is shown on the full log, not on the day's failures.
    filters: bool,
    query: LogQuery,
    patient_name: Option<String>,
    people: Vec<(String, String)>,
    actions: Vec<&'static str>,
    lines: Vec<LogLine>,
    older: Option<String>,
    mistake: Option<String>,
}

/// A person's name, an agent, or Enamel itself, for an actor id in the log.
fn person_of(entry: &Entry, people: &HashMap<String, String>) -> String {
    let Some(id) = &entry.actor_id else {
        return "Enamel".to_owned();
    };
    if let Some(name) = people.get(id) {
        return name.clone();
    }
    match entry.actor_type.as_str() {
        "system" => format!("Enamel ({})", id.trim_start_matches("system:")),
        "agent" => format!("Agent {id}"),
        _ => format!("Account {id}"),
    }
}

fn detail_of(entry: &Entry) -> String {
    entry
        .detail
        .iter()
        .filter_map(|(key, value)| match value {
            Detail::Code(code) => Some(format!(
                "{}: {}",
                key.replace('_', " "),
                code.replace('_', " ")
            )),
            Detail::Count(n) => Some(format!("{}: {n}", key.replace('_', " "))),
            Detail::Ids(ids) => Some(format!("{}: {} records", key.replace('_', " "), ids.len())),
            Detail::KeyedHash(_) => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn when_of(entry: &Entry, zone: Option<&TimeZone>) -> String {
    OffsetDateTime::parse(&entry.timestamp, &Rfc3339)
        .map_or_else(|_| entry.timestamp.clone(), |at| stamp(at, zone))
}

/// The page's lines, with people's and patients' names resolved (the patients'
/// read is audited by the store).
async fn lines_of(
    state: &AppState,
    auth: &Authenticated,
    page: &AuditPage,
    people: &HashMap<String, String>,
) -> Result<Vec<LogLine>, ApiError> {
    let scoped = auth.scoped(&state.store);
    let zone = scoped.own_practice().await.ok().map(|p| p.time_zone);
    let patients: Vec<Uuid> = page.entries.iter().filter_map(|e| e.patient_id).collect();
    let names = scoped.audit_patient_names(&patients).await?;
    Ok(page
        .entries
        .iter()
        .map(|entry| LogLine {
            when: when_of(entry, zone.as_ref()),
            person: person_of(entry, people),
            action: entry.action.replace('_', " "),
            resource: match &entry.resource_id {
                Some(id) => format!("{} {}", entry.resource_type.replace('_', " "), short(id)),
                None => entry.resource_type.replace('_', " "),
            },
            patient: entry
                .patient_id
                .map(|p| {
                    names
                        .get(&p)
                        .cloned()
                        .unwrap_or_else(|| format!("Patient {}", short(&p.to_string())))
                })
                .unwrap_or_default(),
            patient_id: entry.patient_id.map(|p| p.to_string()),
            outcome: entry.outcome.clone(),
            detail: detail_of(entry),
        })
        .collect())
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

/// The practice's people by id, for names in the log and the person filter.
async fn people_of(
    state: &AppState,
    auth: &Authenticated,
) -> Result<HashMap<String, String>, ApiError> {
    Ok(auth
        .scoped(&state.store)
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id.to_string(), u.display_name.as_str().to_owned()))
        .collect())
}

/// The instant a local date starts in the practice's zone.
fn start_of(date: time::Date, zone: Option<&TimeZone>) -> OffsetDateTime {
    let local = time::PrimitiveDateTime::new(date, time::Time::MIDNIGHT);
    zone.map_or_else(|| local.assume_utc(), |zone| zone.instant(local))
}

impl LogQuery {
    fn filter(&self, zone: Option<&TimeZone>) -> Result<AuditFilter, ApiError> {
        let blank = |s: &str| !s.trim().is_empty();
        Ok(AuditFilter {
            patient: Some(&self.patient)
                .filter(|p| blank(p))
                .map(|p| {
                    enamel_domain::ids::parse_uuid(p.trim()).ok_or(ApiError::InvalidInput(
                        enamel_domain::InvalidValue::new("patient", "must be an id"),
                    ))
                })
                .transpose()?,
            action: Some(&self.action)
                .filter(|a| blank(a))
                .map(|a| {
                    AuditAction::parse(a.trim()).ok_or(ApiError::InvalidInput(
                        enamel_domain::InvalidValue::new("action", "is not an action"),
                    ))
                })
                .transpose()?,
            actor: Some(self.person.trim().to_owned()).filter(|p| !p.is_empty()),
            outcomes: Outcome::parse(self.outcome.trim()).into_iter().collect(),
            from: Some(&self.from)
                .filter(|d| blank(d))
                .map(|d| parse_date(d, "start date").map(|d| start_of(d, zone)))
                .transpose()?,
            to: Some(&self.to)
                .filter(|d| blank(d))
                .map(|d| {
                    parse_date(d, "end date").map(|d| start_of(d.next_day().unwrap_or(d), zone))
                })
                .transpose()?,
        })
    }

    /// The query string of the next (older) page.
    fn older(&self, before: u64) -> String {
        let pairs = [
            ("patient", &self.patient),
            ("person", &self.person),
            ("action", &self.action),
            ("outcome", &self.outcome),
            ("from", &self.from),
            ("to", &self.to),
        ];
        let mut query: Vec<String> = pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", urlencode(v.trim())))
            .collect();
        query.push(format!("before={before}"));
        query.join("&")
    }
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b':' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(super) async fn audit_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<LogQuery>,
) -> PageResult {
    let user = auth.person()?;
    let scoped = auth.scoped(&state.store);
    let zone = scoped.own_practice().await.ok().map(|p| p.time_zone);
    let people = people_of(&state, &auth).await?;
    let (page, mistake) = match query.filter(zone.as_ref()) {
        Ok(filter) => (scoped.audit_query(&filter, query.before, PAGE).await?, None),
        Err(ApiError::InvalidInput(invalid)) => (
            AuditPage {
                entries: Vec::new(),
                next_before: None,
            },
            Some(sentence(&format!("the {} {}", invalid.what, invalid.why))),
        ),
        Err(err) => return Err(err.into()),
    };
    let lines = lines_of(&state, &auth, &page, &people).await?;
    let patient_name = match enamel_domain::ids::parse_uuid(query.patient.trim()) {
        Some(id) => scoped.audit_patient_names(&[id]).await?.remove(&id),
        None => None,
    };
    let mut people: Vec<(String, String)> = people.into_iter().collect();
    people.sort_by(|a, b| a.1.cmp(&b.1));
    let failed = mistake.is_some();
    let mut response = render(&LogPage {
        chrome: chrome(&state, Some(user)),
        heading: "Audit log",
        filters: true,
        older: page.next_before.map(|before| query.older(before)),
        query,
        patient_name,
        people,
        actions: AuditAction::ALL.iter().map(|a| a.as_str()).collect(),
        lines,
        mistake,
    });
    if failed {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

pub(super) async fn failures_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<LogQuery>,
) -> PageResult {
    let user = auth.person()?;
    let people = people_of(&state, &auth).await?;
    let page = auth
        .scoped(&state.store)
        .audit_failures(query.before, PAGE)
        .await?;
    let lines = lines_of(&state, &auth, &page, &people).await?;
    Ok(render(&LogPage {
        chrome: chrome(&state, Some(user)),
        heading: "Failures and denials, last 24 hours",
        filters: false,
        older: page.next_before.map(|before| format!("before={before}")),
        query,
        patient_name: None,
        people: Vec::new(),
        actions: Vec::new(),
        lines,
        mistake: None,
    }))
}

/// A patient the picker found: name and birth date only.
struct Picked {
    id: String,
    name: String,
    birth_date: String,
}

#[derive(Template)]
#[template(path = "security_patients.html")]
struct PickerPage {
    chrome: Chrome,
    last_name: String,
    birth_date: String,
    found: Option<Vec<Picked>>,
    mistake: Option<String>,
}

pub(super) async fn picker_page(State(state): State<AppState>, auth: Authenticated) -> PageResult {
    let user = auth.person()?;
    Ok(render(&PickerPage {
        chrome: chrome(&state, Some(user)),
        last_name: String::new(),
        birth_date: String::new(),
        found: None,
        mistake: None,
    }))
}

#[derive(Deserialize)]
pub(super) struct PickForm {
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    birth_date: String,
}

/// The picker's search: a POST, so that no name or birth date is in a URL.
pub(super) async fn pick(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<PickForm>,
) -> PageResult {
    let user = auth.person()?;
    let birth = Some(form.birth_date.trim())
        .filter(|d| !d.is_empty())
        .map(|d| parse_date(d, "birth date"))
        .transpose();
    let (found, mistake) = match birth {
        Err(_) => (
            None,
            Some("Type the birth date as YYYY-MM-DD, or leave it empty.".to_owned()),
        ),
        Ok(_) if form.last_name.trim().is_empty() => {
            (None, Some("Type the patient's last name.".to_owned()))
        }
        Ok(birth) => {
            let query = PatientQuery {
                last_name: Some(Phi::new(form.last_name.trim().to_owned())),
                birth_date: birth.map(Phi::new),
                limit: 50,
                ..PatientQuery::default()
            };
            let found = auth.scoped(&state.store).pick_patients(&query).await?;
            let found = found
                .into_iter()
                .filter(|p| birth.is_none_or(|b| *p.birth_date.expose() == b))
                .map(|p| Picked {
                    id: p.id.to_string(),
                    name: format!("{} {}", p.first_name.expose(), p.last_name.expose()),
                    birth_date: p.birth_date.expose().to_string(),
                })
                .collect();
            (Some(found), None)
        }
    };
    let failed = mistake.is_some();
    let mut response = render(&PickerPage {
        chrome: chrome(&state, Some(user)),
        last_name: form.last_name,
        birth_date: form.birth_date,
        found,
        mistake,
    });
    if failed {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

/// A disclosure with its recipient named.
struct DisclosureLine {
    when: String,
    recipient: String,
    purpose: String,
    what: String,
}

#[derive(Template)]
#[template(path = "security_disclosures.html")]
struct DisclosuresPage {
    chrome: Chrome,
    patient_id: String,
    patient: String,
    lines: Vec<DisclosureLine>,
}

/// The patient's disclosures with recipients named: an office by its name, a vendor
/// by its registry name.
async fn disclosure_lines(
    state: &AppState,
    auth: &Authenticated,
    patient: Uuid,
) -> Result<(String, Vec<DisclosureLine>), ApiError> {
    let scoped = auth.scoped(&state.store);
    let name = scoped
        .audit_patient_names(&[patient])
        .await?
        .remove(&patient)
        .ok_or(ApiError::NotFound)?;
    let zone = scoped.own_practice().await.ok().map(|p| p.time_zone);
    let disclosures: Vec<Disclosure> = scoped.disclosures(patient).await?;
    let mut offices: HashMap<String, String> = HashMap::new();
    let mut lines = Vec::with_capacity(disclosures.len());
    for d in disclosures {
        let recipient = if d.recipient_type == "practice" {
            if !offices.contains_key(&d.recipient)
                && let Ok(id) = d.recipient.parse::<PracticeId>()
                && let Ok(practice) = state.store.practices().get(id).await
            {
                offices.insert(d.recipient.clone(), practice.name.as_str().to_owned());
            }
            offices
                .get(&d.recipient)
                .cloned()
                .unwrap_or_else(|| format!("Office {}", short(&d.recipient)))
        } else {
            d.recipient.clone()
        };
        lines.push(DisclosureLine {
            when: OffsetDateTime::parse(&d.timestamp, &Rfc3339)
                .map_or_else(|_| d.timestamp.clone(), |at| stamp(at, zone.as_ref())),
            recipient,
            purpose: d.purpose.replace('_', " "),
            what: format!(
                "{} {}",
                d.resource_type.replace('_', " "),
                short(&d.resource_id)
            ),
        });
    }
    Ok((name, lines))
}

pub(super) async fn disclosures_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(patient): Id<Uuid>,
) -> PageResult {
    let user = auth.person()?;
    let (name, lines) = disclosure_lines(&state, &auth, patient).await?;
    Ok(render(&DisclosuresPage {
        chrome: chrome(&state, Some(user)),
        patient_id: patient.to_string(),
        patient: name,
        lines,
    }))
}

fn disclosures_text(patient: &str, lines: &[DisclosureLine]) -> String {
    let mut text = format!(
        "Accounting of disclosures for {patient}\n(45 CFR 164.528: when, to whom, why, what)\n\n"
    );
    if lines.is_empty() {
        text.push_str("No disclosures are recorded.\n");
    }
    for line in lines {
        let _ = writeln!(
            text,
            "{}  {}  {}  {}",
            line.when, line.recipient, line.purpose, line.what
        );
    }
    text
}

pub(super) async fn disclosures_csv(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(patient): Id<Uuid>,
) -> PageResult {
    let (_, lines) = disclosure_lines(&state, &auth, patient).await?;
    let mut csv = String::from("when,recipient,purpose,what\n");
    for line in &lines {
        let quote = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
        let _ = writeln!(
            csv,
            "{},{},{},{}",
            quote(&line.when),
            quote(&line.recipient),
            quote(&line.purpose),
            quote(&line.what)
        );
    }
    Ok(crate::http::csv_download(
        "accounting-of-disclosures.csv",
        csv,
    ))
}

pub(super) async fn disclosures_pdf(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(patient): Id<Uuid>,
) -> PageResult {
    use axum::response::IntoResponse as _;
    let (name, lines) = disclosure_lines(&state, &auth, patient).await?;
    let pdf = enamel_integrations::pdf::text_pdf(
        "Accounting of disclosures",
        &disclosures_text(&name, &lines),
    );
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/pdf"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"accounting-of-disclosures.pdf\"",
            ),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        pdf,
    )
        .into_response())
}

/// An alert as the page shows it.
struct AlertLine {
    id: String,
    when: String,
    kind: &'static str,
    person: String,
    patient: Option<(String, String)>,
    reason: Option<String>,
    state: String,
    note: Option<String>,
    open: bool,
}

#[derive(Template)]
#[template(path = "security_alerts.html")]
struct AlertsPage {
    chrome: Chrome,
    alerts: Vec<AlertLine>,
    all: bool,
    flash: Option<&'static str>,
    mistake: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct AlertsQuery {
    all: Option<String>,
    flash: Option<String>,
}

pub(super) async fn alerts_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<AlertsQuery>,
) -> PageResult {
    let flash = match query.flash.as_deref() {
        Some("acknowledged") => {
            Some("The alert is acknowledged; it stays open until you close it.")
        }
        Some("closed") => Some("The alert is closed."),
        _ => None,
    };
    alerts_view(&state, &auth, query.all.is_some(), flash, None).await
}

async fn alerts_view(
    state: &AppState,
    auth: &Authenticated,
    all: bool,
    flash: Option<&'static str>,
    mistake: Option<String>,
) -> PageResult {
    let user = auth.person()?;
    let scoped = auth.scoped(&state.store);
    let zone = scoped.own_practice().await.ok().map(|p| p.time_zone);
    let alerts = scoped
        .alert_details(all)
        .await?
        .into_iter()
        .map(|a| AlertLine {
            id: a.id.to_string(),
            when: stamp(a.created_at, zone.as_ref()),
            kind: if a.kind == "break_glass" {
                "Emergency access (break-glass)"
            } else {
                "Account locked after failed sign-ins"
            },
            person: a.person_name,
            patient: a.patient.map(|(id, name)| (id.to_string(), name)),
            reason: a.reason.map(|code| match a.reason_note {
                Some(words) if !words.is_empty() => {
                    format!("{}: “{words}”", code.replace('_', " "))
                }
                _ => code.replace('_', " "),
            }),
            open: a.closed.is_none(),
            state: match (&a.acknowledged, &a.closed) {
                (_, Some((at, by))) => format!("Closed {} by {by}", stamp(*at, zone.as_ref())),
                (Some((at, by)), None) => {
                    format!("Acknowledged {} by {by}", stamp(*at, zone.as_ref()))
                }
                (None, None) => "New".to_owned(),
            },
            note: a.note,
        })
        .collect();
    let failed = mistake.is_some();
    let mut response = render(&AlertsPage {
        chrome: chrome(state, Some(user)),
        alerts,
        all,
        flash,
        mistake,
    });
    if failed {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

#[derive(Deserialize)]
pub(super) struct ResolveForm {
    #[serde(default)]
    resolution: String,
    #[serde(default)]
    note: String,
}

pub(super) async fn resolve_alert(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<Uuid>,
    Form(form): Form<ResolveForm>,
) -> PageResult {
    let (resolution, flash) = match form.resolution.as_str() {
        "close" => (AlertResolution::Close, "closed"),
        _ => (AlertResolution::Acknowledge, "acknowledged"),
    };
    let resolved = auth
        .scoped(&state.store)
        .resolve_alert(id, resolution, Some(&form.note), state.clock.now())
        .await;
    match resolved {
        Ok(()) => Ok(see_other(&format!("/security/alerts?flash={flash}"))),
        Err(enamel_store::StoreError::Refused(why) | enamel_store::StoreError::Conflict(why)) => {
            alerts_view(&state, &auth, false, None, Some(sentence(why))).await
        }
        Err(err) => Err(ApiError::from(err).into()),
    }
}
