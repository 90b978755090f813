//! One record of the practice's schedule, as its PMS names the fields, written
//! through the scoped store: the shared half of the CSV import (docs/import.md)
//! and the Open Dental sync (docs/opendental.md). Fields carry Open Dental's names
//! (`PatNum`, `AptDateTime`, `AptStatus`, …) whichever way the record came; each
//! record is keyed by the PMS's own id, so that bringing it in again updates and
//! never duplicates. A rejected record's reason names the field, never its value.

use std::collections::HashMap;

use enamel_domain::{
    AppointmentStatus, Availability, CdtCode, ContactChannel, ContactDetails, Email, InvalidValue,
    Membership, Minutes, NewPatient, Npi, PatientId, Payer, Phi, PhoneNumber, PmsId, RecallDates,
    RecallInterval, Relationship, TimeZone,
};
use enamel_store::{
    NewAppointment, NewCoverage, NewRecall, NewWaitlistEntry, PmsReferences, Scoped, StoreError,
    Upserted,
};
use time::{Date, PrimitiveDateTime};

/// The kinds of file an import takes, in the order a first import loads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    Patients,
    Providers,
    Operatories,
    AppointmentTypes,
    RecallTypes,
    Appointments,
    Waitlist,
    Recalls,
    Coverage,
}

impl ImportKind {
    pub const ALL: [Self; 9] = [
        Self::Patients,
        Self::Providers,
        Self::Operatories,
        Self::AppointmentTypes,
        Self::RecallTypes,
        Self::Appointments,
        Self::Waitlist,
        Self::Recalls,
        Self::Coverage,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Patients => "patients",
            Self::Providers => "providers",
            Self::Operatories => "operatories",
            Self::AppointmentTypes => "appointment-types",
            Self::RecallTypes => "recall-types",
            Self::Appointments => "appointments",
            Self::Waitlist => "waitlist",
            Self::Recalls => "recalls",
            Self::Coverage => "coverage",
        }
    }

    /// Parses [`ImportKind::as_str`].
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == raw.trim())
            .ok_or(InvalidValue::new(
                "kind",
                "must be patients, providers, operatories, appointment-types, recall-types, \
                 appointments, waitlist, recalls or coverage",
            ))
    }

    /// The columns this kind requires; the others it reads are optional.
    #[must_use]
    pub const fn required(self) -> &'static [&'static str] {
        match self {
            Self::Patients => &["PatNum", "LName", "FName", "Birthdate"],
            Self::Providers => &["ProvNum", "LName"],
            Self::Operatories => &["OperatoryNum", "OpName"],
            Self::AppointmentTypes => &["AppointmentTypeNum", "AppointmentTypeName"],
            Self::RecallTypes => &["RecallTypeNum", "Description", "DefaultInterval"],
            Self::Appointments => &["AptNum", "PatNum", "ProvNum", "AptDateTime", "AptStatus"],
            Self::Waitlist => &["WaitlistNum", "PatNum", "Minutes", "Priority"],
            Self::Recalls => &["RecallNum", "PatNum", "RecallTypeNum"],
            Self::Coverage => &[
                "PatPlanNum",
                "PatNum",
                "Ordinal",
                "ElectID",
                "CarrierName",
                "SubscriberID",
                "Relationship",
            ],
        }
    }
}

/// A record's fields by name (case-insensitive): a CSV row, an API item.
pub trait Fields: Sync {
    /// The field's value, trimmed; `None` when absent or empty.
    fn field(&self, name: &str) -> Option<&str>;
}

/// Fields held by name, lower-cased (an API item's, made text).
#[derive(Clone, Default)]
pub struct FieldMap(HashMap<String, String>);

impl std::fmt::Debug for FieldMap {
    /// The field names only: the values are PHI.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        f.debug_tuple("FieldMap").field(&names).finish()
    }
}

impl FieldMap {
    /// Sets `name` to `value`.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.insert(name.to_ascii_lowercase(), value.into());
    }
}

impl Fields for FieldMap {
    fn field(&self, name: &str) -> Option<&str> {
        self.0
            .get(&name.to_ascii_lowercase())
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

struct Row<'a> {
    fields: &'a dyn Fields,
}

impl Row<'_> {
    fn get(&self, column: &str) -> Option<&str> {
        self.fields.field(column)
    }

    fn required(&self, column: &'static str) -> Result<&str, String> {
        self.get(column)
            .ok_or_else(|| format!("{column}: is empty"))
    }
}

fn reason(column: &str, err: &InvalidValue) -> String {
    format!("{column}: {} {}", err.what, err.why)
}

fn pms(row: &Row<'_>, column: &'static str) -> Result<PmsId, String> {
    PmsId::parse(row.required(column)?).map_err(|e| reason(column, &e))
}

/// Open Dental writes "no date" as 0001-01-01 or 1900-01-01.
fn date(row: &Row<'_>, column: &'static str) -> Result<Option<Date>, String> {
    let Some(raw) = row.get(column) else {
        return Ok(None);
    };
    let day = raw.get(..10).unwrap_or(raw);
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date =
        Date::parse(day, &format).map_err(|_| format!("{column}: is not a YYYY-MM-DD date"))?;
    Ok((date.year() > 1900).then_some(date))
}

fn flag(row: &Row<'_>, column: &str) -> bool {
    matches!(
        row.get(column),
        Some("1" | "true" | "True" | "TRUE" | "yes")
    )
}

/// Minutes from `Minutes`, or from Open Dental's `Pattern` (one character per five).
fn minutes(row: &Row<'_>) -> Result<Option<Minutes>, String> {
    if let Some(raw) = row.get("Minutes") {
        let m: u32 = raw
            .parse()
            .map_err(|_| "Minutes: is not a number".to_owned())?;
        return Minutes::new(m).map(Some).map_err(|e| reason("Minutes", &e));
    }
    match row.get("Pattern") {
        Some(pattern) => {
            let m = u32::try_from(pattern.chars().count() * 5).unwrap_or(u32::MAX);
            Minutes::new(m).map(Some).map_err(|e| reason("Pattern", &e))
        }
        None => Ok(None),
    }
}

/// The CDT codes of a list; a PMS's own codes that are not CDT (Open Dental's
/// `N…` codes, say) are left out, while a malformed `D` code rejects the record.
fn codes(row: &Row<'_>, column: &'static str) -> Result<Vec<CdtCode>, String> {
    row.get(column)
        .unwrap_or_default()
        .split([',', ' ', ';'])
        .filter(|c| c.starts_with(['D', 'd']))
        .map(|c| CdtCode::parse(c).map_err(|e| reason(column, &e)))
        .collect()
}

/// Open Dental's `AptStatus`, by name or number; the schedule's own names too. An
/// appointment on the unscheduled list has left its slot (cancelled); the old `ASAP`
/// status is a scheduled one. Planned appointments and notes are not on a schedule.
fn appointment_status(raw: &str) -> Result<AppointmentStatus, String> {
    match raw.trim() {
        "1" | "Scheduled" | "4" | "ASAP" => Ok(AppointmentStatus::Scheduled),
        "2" | "Complete" => Ok(AppointmentStatus::Completed),
        "3" | "UnschedList" => Ok(AppointmentStatus::Cancelled),
        "5" | "Broken" => Ok(AppointmentStatus::Broken),
        "6" | "Planned" | "7" | "PtNote" | "8" | "PtNoteCompleted" => {
            Err("AptStatus: a planned appointment or a note is not on the schedule".into())
        }
        other => AppointmentStatus::parse(other).map_err(|e| reason("AptStatus", &e)),
    }
}

/// Open Dental's `Relationship` by name or number (0 self, 1 spouse, 2 child).
fn relationship(raw: &str) -> Relationship {
    match raw.trim().to_ascii_lowercase().as_str() {
        "0" | "self" => Relationship::Subscriber,
        "1" | "spouse" => Relationship::Spouse,
        "2" | "child" => Relationship::Child,
        _ => Relationship::Other,
    }
}

/// Why a record was not written.
#[derive(Debug)]
pub enum RecordError {
    /// The record's own fault: the reason names the field, never its value.
    Rejected(String),
    /// It refers to a record not brought in (yet): worth trying again once that
    /// one is. The reason names the field.
    Unresolved(String),
    /// The store failed: the run stops.
    Store(StoreError),
}

impl RecordError {
    /// The reason, for a report (field names, never values).
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Rejected(why) | Self::Unresolved(why) => Some(why),
            Self::Store(_) => None,
        }
    }
}

impl From<String> for RecordError {
    fn from(reason: String) -> Self {
        Self::Rejected(reason)
    }
}

/// A store error that is the row's fault rejects the row; any other stops the file.
fn row_store_error(err: StoreError) -> RecordError {
    match err {
        StoreError::NotFound => RecordError::Rejected("a record it refers to was not found".into()),
        StoreError::Refused(why) => RecordError::Rejected(why.to_owned()),
        StoreError::Invalid(invalid) => RecordError::Rejected(invalid.to_string()),
        StoreError::Conflict(what) => RecordError::Rejected(format!("conflicts with {what}")),
        other => RecordError::Store(other),
    }
}

/// A reference by PMS id to a record of another kind, imported before.
fn reference<T: Copy>(
    map: &HashMap<String, T>,
    row: &Row<'_>,
    column: &'static str,
) -> Result<Option<T>, RecordError> {
    match row.get(column) {
        None | Some("0") => Ok(None),
        Some(raw) => map.get(raw).copied().map(Some).ok_or_else(|| {
            RecordError::Unresolved(format!("{column}: no such record was imported"))
        }),
    }
}

async fn patient(scoped: &Scoped<'_>, row: &Row<'_>) -> Result<PatientId, RecordError> {
    let number = pms(row, "PatNum")?;
    scoped
        .patient_by_pms(&number)
        .await
        .map_err(row_store_error)?
        .ok_or_else(|| RecordError::Unresolved("PatNum: no such patient was imported".into()))
}

/// Writes one record of `kind` (or, on a dry run, only checks it): `Ok(None)` for
/// a dry run's acceptable record. `refs` are the practice's providers, operatories
/// and types by PMS id, as read before the run.
pub async fn import_record(
    scoped: &Scoped<'_>,
    zone: &TimeZone,
    kind: ImportKind,
    fields: &dyn Fields,
    refs: &PmsReferences,
    dry_run: bool,
) -> Result<Option<Upserted>, RecordError> {
    import_row(scoped, zone, kind, &Row { fields }, refs, dry_run).await
}

#[allow(clippy::too_many_lines, reason = "one arm per kind, each short")]
async fn import_row(
    scoped: &Scoped<'_>,
    zone: &TimeZone,
    kind: ImportKind,
    row: &Row<'_>,
    refs: &PmsReferences,
    dry_run: bool,
) -> Result<Option<Upserted>, RecordError> {
    let done = |result: Result<Upserted, StoreError>| result.map(Some).map_err(row_store_error);
    match kind {
        ImportKind::Patients => {
            let number = pms(row, "PatNum")?;
            let new = patient_row(row)?;
            if dry_run {
                return Ok(None);
            }
            done(
                scoped
                    .import_pms_patient(&number, &new)
                    .await
                    .map(|(_, u)| u),
            )
        }
        ImportKind::Providers => {
            let number = pms(row, "ProvNum")?;
            let name = match row.get("FName") {
                Some(first) => format!("{first} {}", row.required("LName")?),
                None => row.required("LName")?.to_owned(),
            };
            let npi = row
                .get("NationalProvID")
                .map(Npi::parse)
                .transpose()
                .map_err(|e| reason("NationalProvID", &e))?;
            if dry_run {
                return Ok(None);
            }
            done(
                scoped
                    .upsert_provider(&number, &name, npi.as_ref(), flag(row, "IsSecondary"))
                    .await
                    .map(|(_, u)| u),
            )
        }
        ImportKind::Operatories => {
            let number = pms(row, "OperatoryNum")?;
            let name = row.required("OpName")?;
            if dry_run {
                return Ok(None);
            }
            done(scoped.upsert_operatory(&number, name).await.map(|(_, u)| u))
        }
        ImportKind::AppointmentTypes => {
            let number = pms(row, "AppointmentTypeNum")?;
            let name = row.required("AppointmentTypeName")?;
            let length =
                minutes(row)?.unwrap_or(Minutes::new(60).map_err(|e| reason("Minutes", &e))?);
            let codes = codes(row, "CodeStr")?;
            if dry_run {
                return Ok(None);
            }
            done(
                scoped
                    .upsert_appointment_type(&number, name, &codes, length)
                    .await
                    .map(|(_, u)| u),
            )
        }
        ImportKind::RecallTypes => {
            let number = pms(row, "RecallTypeNum")?;
            let name = row.required("Description")?;
            let interval = RecallInterval::parse(row.required("DefaultInterval")?)
                .map_err(|e| reason("DefaultInterval", &e))?;
            let codes = codes(row, "TriggerCodes")?;
            if dry_run {
                return Ok(None);
            }
            done(
                scoped
                    .upsert_recall_type(&number, name, &codes, interval)
                    .await
                    .map(|(_, u)| u),
            )
        }
        ImportKind::Appointments => {
            let number = pms(row, "AptNum")?;
            let provider = reference(&refs.providers, row, "ProvNum")?
                .ok_or_else(|| RecordError::Rejected("ProvNum: is empty".into()))?;
            let operatory = reference(&refs.operatories, row, "Op")?;
            let kind = reference(&refs.appointment_types, row, "AppointmentTypeNum")?;
            let local = row.required("AptDateTime")?;
            let format = time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute][optional [:[second]]]"
            );
            let local = PrimitiveDateTime::parse(local, &format)
                .map_err(|_| "AptDateTime: is not a YYYY-MM-DD HH:MM time".to_owned())?;
            let length =
                minutes(row)?.ok_or_else(|| "Pattern: is empty (or give Minutes)".to_owned())?;
            let status = appointment_status(row.required("AptStatus")?)?;
            let procedures = codes(row, "ProcCodes")?;
            let patient = patient(scoped, row).await?;
            if dry_run {
                return Ok(None);
            }
            done(
                scoped
                    .upsert_appointment(&NewAppointment {
                        pms_id: Some(number),
                        patient,
                        provider,
                        operatory,
                        kind,
                        starts_at: zone.instant(local),
                        duration: length,
                        status,
                        procedures: Phi::new(procedures),
                        note: None,
                    })
                    .await
                    .map(|(_, u)| u),
            )
        }
        ImportKind::Waitlist => {
            let number = pms(row, "WaitlistNum")?;
            let length = minutes(row)?.ok_or_else(|| "Minutes: is empty".to_owned())?;
            let priority = row
                .required("Priority")?
                .parse::<u8>()
                .ok()
                .filter(|p| (1..=9).contains(p))
                .ok_or_else(|| "Priority: must be 1 to 9".to_owned())?;
            let availability = Availability::parse(
                row.get("Days").unwrap_or("any"),
                row.get("Times").unwrap_or("any"),
            )
            .map_err(|e| reason("Days", &e))?;
            let entry = NewWaitlistEntry {
                pms_id: Some(number),
                patient: patient(scoped, row).await?,
                kind: reference(&refs.appointment_types, row, "AppointmentTypeNum")?,
                duration: length,
                provider: reference(&refs.providers, row, "ProvNum")?,
                earliest: date(row, "DateEarliest")?,
                latest: date(row, "DateLatest")?,
                availability,
                priority,
                // An ASAP entry moves its own appointment, once that is here.
                moves: if row.get("AptNum").is_some() {
                    scoped
                        .appointment_by_pms(&pms(row, "AptNum")?)
                        .await
                        .map_err(row_store_error)?
                } else {
                    None
                },
                note: None,
            };
            if dry_run {
                return Ok(None);
            }
            done(scoped.upsert_waitlist_entry(&entry).await.map(|(_, u)| u))
        }
        ImportKind::Recalls => {
            let number = pms(row, "RecallNum")?;
            let kind = reference(&refs.recall_types, row, "RecallTypeNum")?
                .ok_or_else(|| RecordError::Rejected("RecallTypeNum: is empty".into()))?;
            // The PMS's due date (its own interval, or one set by hand) is taken as
            // given; without one, Enamel computes it from the type's interval.
            let manual_due = date(row, "DateDue")?;
            let previous = date(row, "DatePrevious")?;
            let recall = NewRecall {
                pms_id: Some(number),
                patient: patient(scoped, row).await?,
                kind,
                dates: RecallDates {
                    previous,
                    manual_due,
                    disabled_until: date(row, "DisableUntilDate")?,
                    disabled: flag(row, "IsDisabled"),
                },
            };
            if dry_run {
                return Ok(None);
            }
            done(scoped.upsert_recall(&recall).await.map(|(_, u)| u))
        }
        ImportKind::Coverage => {
            let number = pms(row, "PatPlanNum")?;
            let ordinal = row
                .required("Ordinal")?
                .parse::<u8>()
                .ok()
                .filter(|o| (1..=2).contains(o))
                .ok_or_else(|| "Ordinal: must be 1 or 2".to_owned())?;
            let payer = Payer::parse(row.required("ElectID")?, row.required("CarrierName")?)
                .map_err(|e| reason("ElectID", &e))?;
            let membership = Membership::parse(row.required("SubscriberID")?, row.get("GroupNum"))
                .map_err(|e| reason("SubscriberID", &e))?;
            let coverage = NewCoverage {
                pms_id: Some(number),
                patient: patient(scoped, row).await?,
                ordinal,
                payer,
                relationship: relationship(row.required("Relationship")?),
                membership: Phi::new(membership),
            };
            if dry_run {
                return Ok(None);
            }
            done(scoped.upsert_coverage(&coverage).await.map(|(_, u)| u))
        }
    }
}

fn patient_row(row: &Row<'_>) -> Result<NewPatient, String> {
    let first = row.required("FName")?;
    let last = row.required("LName")?;
    for (column, name) in [("FName", first), ("LName", last)] {
        if name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(format!(
                "{column}: must be up to 100 characters, without control characters"
            ));
        }
    }
    let birth_date = date(row, "Birthdate")?.ok_or_else(|| "Birthdate: is empty".to_owned())?;
    let phone = row
        .get("WirelessPhone")
        .or_else(|| row.get("HmPhone"))
        .map(PhoneNumber::parse)
        .transpose()
        .map_err(|e| reason("WirelessPhone", &e))?;
    let email = row
        .get("Email")
        .map(Email::parse)
        .transpose()
        .map_err(|e| reason("Email", &e))?;
    let language = row
        .get("Language")
        .map(|l| enamel_domain::patient::parse_language(l).map_err(|e| reason("Language", &e)))
        .transpose()?
        .unwrap_or_else(|| "en".to_owned());
    let preferred = if phone.is_some() {
        ContactChannel::Sms
    } else {
        ContactChannel::Email
    };
    Ok(NewPatient {
        id: PatientId::generate(),
        first_name: Phi::new(first.to_owned()),
        last_name: Phi::new(last.to_owned()),
        birth_date: Phi::new(birth_date),
        contact: Phi::new(ContactDetails {
            phone,
            email,
            address: None,
            preferred,
            language,
        }),
        insurance: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_dentals_statuses_map_to_the_schedules() {
        for (raw, status) in [
            ("Scheduled", AppointmentStatus::Scheduled),
            ("1", AppointmentStatus::Scheduled),
            ("ASAP", AppointmentStatus::Scheduled),
            ("Complete", AppointmentStatus::Completed),
            ("UnschedList", AppointmentStatus::Cancelled),
            ("3", AppointmentStatus::Cancelled),
            ("Broken", AppointmentStatus::Broken),
            ("confirmed", AppointmentStatus::Confirmed),
        ] {
            assert_eq!(appointment_status(raw), Ok(status), "{raw}");
        }
        for raw in ["Planned", "PtNote", "PtNoteCompleted", "7", "sometime"] {
            assert!(appointment_status(raw).is_err(), "{raw}");
        }
    }
}
