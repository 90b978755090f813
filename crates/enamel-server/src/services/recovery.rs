//! No-show recovery for the office (docs/no-show-recovery.md): the practice's switch
//! and settings, and an open slot picked by hand. The page and the API call these.

use enamel_domain::recovery::SendingHours;
use enamel_domain::{AppointmentTypeId, Minutes, OperatoryId, ProviderId, TimeZone};
use enamel_store::{NewSlot, RecoverySettings};
use serde::Deserialize;
use time::{Date, Time};

use crate::ApiError;

fn invalid(field: &'static str, reason: &'static str) -> ApiError {
    ApiError::InvalidInput(enamel_domain::InvalidValue::new(field, reason))
}

/// `HH:MM`, 24-hour.
pub(crate) fn parse_time(raw: &str, field: &'static str) -> Result<Time, ApiError> {
    let format = time::macros::format_description!("[hour]:[minute]");
    Time::parse(raw.trim(), &format).map_err(|_| invalid(field, "must be a time such as 08:00"))
}

/// The practice's recovery settings, as a form or a request body gives them.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct SettingsBody {
    /// Offer freed slots to the waitlist.
    pub(crate) enabled: bool,
    /// Patients offered a slot per wave, 1 to 50 (10 by default).
    pub(crate) wave_size: u32,
    /// Minutes between waves, 1 to 120 (5 by default); shorter as the slot nears.
    pub(crate) wave_minutes: u32,
    /// No offers for a slot starting sooner than this many minutes (30 by default).
    pub(crate) cutoff_minutes: u32,
    /// Sending hours start, `HH:MM` in the practice's time zone (08:00 by default).
    pub(crate) send_from: String,
    /// Sending hours end, `HH:MM` (21:00 by default).
    pub(crate) send_until: String,
}

impl SettingsBody {
    pub(crate) fn settings(&self) -> Result<RecoverySettings, ApiError> {
        let settings = RecoverySettings {
            enabled: self.enabled,
            wave_size: self.wave_size,
            wave_minutes: self.wave_minutes,
            cutoff_minutes: self.cutoff_minutes,
            hours: SendingHours {
                from: parse_time(&self.send_from, "send_from")?,
                until: parse_time(&self.send_until, "send_until")?,
            },
        };
        settings.validate()?;
        Ok(settings)
    }
}

/// An open slot staff pick by hand.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct SlotBody {
    pub(crate) provider_id: String,
    #[serde(default)]
    pub(crate) operatory_id: Option<String>,
    #[serde(default)]
    pub(crate) appointment_type_id: Option<String>,
    /// `YYYY-MM-DD`, the practice's calendar day.
    pub(crate) date: String,
    /// `HH:MM`, the practice's local time.
    pub(crate) time: String,
    /// 5 to 480.
    pub(crate) duration_minutes: u32,
}

fn optional_id<T: std::str::FromStr<Err = enamel_domain::InvalidValue>>(
    raw: Option<&str>,
) -> Result<Option<T>, ApiError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        Some(raw) => Ok(Some(raw.parse().map_err(ApiError::InvalidInput)?)),
        None => Ok(None),
    }
}

impl SlotBody {
    /// The slot, its local day and time read in `zone`.
    pub(crate) fn slot(&self, zone: &TimeZone) -> Result<NewSlot, ApiError> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let date = Date::parse(self.date.trim(), &format)
            .map_err(|_| invalid("date", "must be YYYY-MM-DD"))?;
        let at = parse_time(&self.time, "time")?;
        Ok(NewSlot {
            provider: self
                .provider_id
                .trim()
                .parse::<ProviderId>()
                .map_err(ApiError::InvalidInput)?,
            operatory: optional_id::<OperatoryId>(self.operatory_id.as_deref())?,
            kind: optional_id::<AppointmentTypeId>(self.appointment_type_id.as_deref())?,
            starts_at: zone.instant(date.with_time(at)),
            duration: Minutes::new(self.duration_minutes).map_err(ApiError::InvalidInput)?,
        })
    }
}
