//! The schedule as the front desk works it (docs/schedule.md): a day per provider
//! with its open time, marking a visit a no-show or cancelled, the waitlist, and
//! recalls due. The pages and the API call these.

use enamel_domain::{
    AppointmentStatus, Availability, Minutes, PatientId, Phi, ProviderId, TimeZone, WaitlistEntryId,
};
use enamel_store::{Appointment, NewWaitlistEntry, Provider, Scoped, StoreError, local_day};
use serde::Deserialize;
use time::{Date, Duration, OffsetDateTime, Time};

use super::FieldError;

/// The hours a day view covers when the practice has not said otherwise.
pub(crate) const DAY_OPENS: Time = time::macros::time!(8:00);
pub(crate) const DAY_CLOSES: Time = time::macros::time!(17:00);

/// Open time shorter than this is not shown as bookable.
const SHORTEST_OPENING: i64 = 15;

/// One provider's day: visits in time order (no-shows and cancellations included)
/// and the open time left by the visits that still hold their slot.
#[derive(Debug)]
pub(crate) struct ProviderDay {
    pub(crate) provider: Provider,
    pub(crate) visits: Vec<Appointment>,
    pub(crate) open: Vec<(OffsetDateTime, OffsetDateTime)>,
}

/// The practice's day, provider by provider.
#[derive(Debug)]
pub(crate) struct Day {
    pub(crate) date: Date,
    pub(crate) zone: TimeZone,
    pub(crate) providers: Vec<ProviderDay>,
}

/// The schedule of `date` (the practice's calendar day), for staff.
pub(crate) async fn day(scoped: &Scoped<'_>, date: Date) -> Result<Day, StoreError> {
    let zone = scoped.own_practice().await?.time_zone;
    let (from, to) = local_day(&zone, date);
    let appointments = scoped.appointments_between(from, to).await?;
    let opens = zone.instant(date.with_time(DAY_OPENS));
    let closes = zone.instant(date.with_time(DAY_CLOSES));
    let providers = scoped
        .providers()
        .await?
        .into_iter()
        .filter(|p| !p.hidden)
        .map(|provider| {
            let visits: Vec<Appointment> = appointments
                .iter()
                .filter(|a| a.provider == provider.id)
                .cloned()
                .collect();
            let open = open_time(&visits, opens, closes);
            ProviderDay {
                provider,
                visits,
                open,
            }
        })
        .collect();
    Ok(Day {
        date,
        zone,
        providers,
    })
}

/// The gaps between `opens` and `closes` that no slot-holding visit covers.
fn open_time(
    visits: &[Appointment],
    opens: OffsetDateTime,
    closes: OffsetDateTime,
) -> Vec<(OffsetDateTime, OffsetDateTime)> {
    let mut taken: Vec<(OffsetDateTime, OffsetDateTime)> = visits
        .iter()
        .filter(|v| v.status.holds_the_slot())
        .map(|v| (v.starts_at, v.starts_at + v.duration.duration()))
        .collect();
    taken.sort();
    let mut open = Vec::new();
    let mut cursor = opens;
    for (start, end) in taken {
        let end_of_gap = start.min(closes);
        if end_of_gap > cursor && end_of_gap - cursor >= Duration::minutes(SHORTEST_OPENING) {
            open.push((cursor, end_of_gap));
        }
        cursor = cursor.max(end);
    }
    if closes > cursor && closes - cursor >= Duration::minutes(SHORTEST_OPENING) {
        open.push((cursor, closes));
    }
    open.retain(|(start, end)| end > start && *start < closes);
    open
}

/// The statuses staff set by hand on the schedule.
pub(crate) fn status_from_form(raw: &str) -> Result<AppointmentStatus, FieldError> {
    AppointmentStatus::parse(raw).map_err(|e| FieldError::of("status", e))
}

/// The waitlist form, shared by the page and the API.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct WaitlistForm {
    pub(crate) patient_id: String,
    /// An appointment type's id; empty for none.
    #[serde(default)]
    pub(crate) appointment_type_id: Option<String>,
    /// Minutes needed (5 to 720); empty: the appointment type's usual length.
    #[serde(default)]
    pub(crate) duration_minutes: Option<String>,
    /// A provider's id; empty for any provider.
    #[serde(default)]
    pub(crate) provider_id: Option<String>,
    /// `YYYY-MM-DD`; empty for none.
    #[serde(default)]
    pub(crate) earliest: Option<String>,
    #[serde(default)]
    pub(crate) latest: Option<String>,
    /// `mon,wed,fri`, or `any`.
    #[serde(default)]
    pub(crate) days: Option<String>,
    /// `morning,afternoon`, or `any`.
    #[serde(default)]
    pub(crate) times: Option<String>,
    /// 1 (most urgent) to 9.
    pub(crate) priority: String,
}

fn blank(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn date_field(value: Option<&String>, field: &'static str) -> Result<Option<Date>, FieldError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    blank(value)
        .map(|raw| {
            Date::parse(raw, &format).map_err(|_| {
                FieldError::of(
                    field,
                    enamel_domain::InvalidValue::new("date", "must be YYYY-MM-DD"),
                )
            })
        })
        .transpose()
}

fn id_field<T: std::str::FromStr<Err = enamel_domain::InvalidValue>>(
    value: Option<&String>,
    field: &'static str,
) -> Result<Option<T>, FieldError> {
    blank(value)
        .map(|raw| raw.parse().map_err(|e| FieldError::of(field, e)))
        .transpose()
}

impl WaitlistForm {
    /// The entry the form describes, every field checked.
    pub(crate) fn entry(&self) -> Result<NewWaitlistEntry, FieldError> {
        let patient: PatientId =
            id_field(Some(&self.patient_id), "patient_id")?.ok_or_else(|| {
                FieldError::of(
                    "patient_id",
                    enamel_domain::InvalidValue::new("patient", "is required"),
                )
            })?;
        let duration = match blank(self.duration_minutes.as_ref()) {
            None => None,
            Some(raw) => Some(
                raw.parse::<u32>()
                    .ok()
                    .and_then(|m| Minutes::new(m).ok())
                    .ok_or_else(|| {
                        FieldError::of(
                            "duration_minutes",
                            enamel_domain::InvalidValue::new(
                                "duration",
                                "must be 5 to 720 minutes",
                            ),
                        )
                    })?,
            ),
        };
        let priority = self
            .priority
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|p| (1..=9).contains(p))
            .ok_or_else(|| {
                FieldError::of(
                    "priority",
                    enamel_domain::InvalidValue::new("priority", "must be 1 (most urgent) to 9"),
                )
            })?;
        let availability = Availability::parse(
            blank(self.days.as_ref()).unwrap_or("any"),
            blank(self.times.as_ref()).unwrap_or("any"),
        )
        .map_err(|e| FieldError::of("days", e))?;
        let earliest = date_field(self.earliest.as_ref(), "earliest")?;
        let latest = date_field(self.latest.as_ref(), "latest")?;
        if let (Some(e), Some(l)) = (earliest, latest)
            && l < e
        {
            return Err(FieldError::of(
                "latest",
                enamel_domain::InvalidValue::new("latest date", "is before the earliest"),
            ));
        }
        Ok(NewWaitlistEntry {
            pms_id: None,
            patient,
            kind: id_field(self.appointment_type_id.as_ref(), "appointment_type_id")?,
            // Filled from the type by `save_waitlist` when left empty.
            duration: duration
                .unwrap_or(Minutes::new(30).map_err(|e| FieldError::of("duration_minutes", e))?),
            provider: id_field::<ProviderId>(self.provider_id.as_ref(), "provider_id")?,
            earliest,
            latest,
            availability,
            priority,
            moves: None,
            note: None::<Phi<String>>,
        })
    }
}

/// Saves a waitlist entry from the form (a new one when `id` is none).
pub(crate) async fn save_waitlist(
    scoped: &Scoped<'_>,
    id: Option<WaitlistEntryId>,
    form: &WaitlistForm,
) -> Result<WaitlistEntryId, crate::ApiError> {
    let mut entry = form.entry()?;
    if blank(form.duration_minutes.as_ref()).is_none() {
        let kind = entry.kind.ok_or_else(|| {
            FieldError::of(
                "duration_minutes",
                enamel_domain::InvalidValue::new("duration", "is needed when no visit is chosen"),
            )
        })?;
        entry.duration = scoped
            .appointment_types()
            .await?
            .into_iter()
            .find(|t| t.id == kind)
            .map(|t| t.duration)
            .ok_or(StoreError::Refused("no such appointment type"))?;
    }
    Ok(scoped.save_waitlist_entry(id, &entry).await?)
}

/// "Today" at the practice, for a day view asked for without a date.
pub(crate) fn today(zone: &TimeZone, now: OffsetDateTime) -> Date {
    zone.local_date(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use enamel_domain::{AppointmentId, AppointmentStatus, PatientId, ProviderId};
    use time::macros::datetime;

    fn visit(start: OffsetDateTime, minutes: u32, status: AppointmentStatus) -> Appointment {
        Appointment {
            id: AppointmentId::generate(),
            patient: None,
            patient_id: PatientId::generate(),
            provider: ProviderId::generate(),
            operatory: None,
            kind: None,
            kind_name: None,
            starts_at: start,
            duration: Minutes::new(minutes).unwrap(),
            status,
            status_changed_at: start,
        }
    }

    #[test]
    fn open_time_is_what_no_booked_visit_covers() {
        let opens = datetime!(2026-11-30 14:00 UTC);
        let closes = datetime!(2026-11-30 23:00 UTC);
        let visits = [
            visit(opens, 60, AppointmentStatus::Completed),
            // A no-show's hour is open again.
            visit(opens + Duration::hours(1), 60, AppointmentStatus::Broken),
            visit(opens + Duration::hours(2), 90, AppointmentStatus::Scheduled),
            // Ten minutes between two visits is not an opening.
            visit(
                opens + Duration::minutes(220),
                60,
                AppointmentStatus::Confirmed,
            ),
        ];
        let open = open_time(&visits, opens, closes);
        assert_eq!(
            open,
            vec![
                (opens + Duration::hours(1), opens + Duration::hours(2)),
                (opens + Duration::minutes(280), closes),
            ]
        );
        assert_eq!(open_time(&[], opens, closes), vec![(opens, closes)]);
        // A visit booked past closing leaves no sliver of "open" time before it.
        let late = [
            visit(opens, 535, AppointmentStatus::Scheduled),
            visit(
                closes + Duration::minutes(30),
                30,
                AppointmentStatus::Scheduled,
            ),
        ];
        assert_eq!(open_time(&late, opens, closes), vec![]);
    }
}
