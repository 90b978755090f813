//! The office settings form, the same from the settings page and the API: parsed
//! field by field, so a mistake is shown beside its field.

use enamel_domain::{Channel, DistanceUnit, Email, GeoPoint, InvalidValue, PhoneNumber, TimeZone};
use enamel_store::OfficeSettings;
use serde::{Deserialize, Deserializer, Serialize};

use super::{FieldError, at};

/// An office's settings as typed (and as the API shows them).
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub(crate) struct SettingsForm {
    /// How office notices reach the office: `email` (to `notify_email`), `sms` (a
    /// text to the office phone) or `fax` (to the office fax).
    pub notify_channel: String,
    #[serde(default)]
    pub notify_email: Option<String>,
    pub phone: String,
    #[serde(default)]
    pub fax: Option<String>,
    pub address_line1: String,
    #[serde(default)]
    pub address_line2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    /// Where the office is, for distance search: decimal degrees, both or neither.
    #[serde(
        default,
        deserialize_with = "number_or_text",
        serialize_with = "as_number"
    )]
    #[schema(value_type = Option<f64>)]
    pub latitude: Option<String>,
    #[serde(
        default,
        deserialize_with = "number_or_text",
        serialize_with = "as_number"
    )]
    #[schema(value_type = Option<f64>)]
    pub longitude: Option<String>,
    /// Shown in the network directory to other offices.
    #[serde(default, deserialize_with = "flag")]
    pub listed: bool,
    /// An IANA time zone of the US.
    pub time_zone: String,
    #[serde(default)]
    pub office_hours: Option<String>,
    /// `mi` or `km`.
    pub distance_unit: String,
}

/// A number from JSON, or its text from a form (blank is none).
fn number_or_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(f64),
        Text(String),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        Some(Raw::Number(n)) => Some(n.to_string()),
        Some(Raw::Text(t)) if !t.trim().is_empty() => Some(t),
        _ => None,
    })
}

/// The degrees as the API shows them: a number (or null), as its schema says.
#[allow(
    clippy::ref_option,
    reason = "serde's serialize_with passes the field by reference"
)]
fn as_number<S: serde::Serializer>(value: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match value.as_deref().and_then(|v| v.trim().parse::<f64>().ok()) {
        Some(n) => s.serialize_f64(n),
        None => s.serialize_none(),
    }
}

/// A boolean from JSON, or a checkbox's value from a form (present is true).
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bool(bool),
        Text(String),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Bool(b) => b,
        Raw::Text(t) => matches!(t.as_str(), "true" | "on" | "yes" | "1"),
    })
}

fn optional(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|value| !value.is_empty())
}

fn degrees(field: &'static str, raw: &str) -> Result<f64, FieldError> {
    raw.trim().parse().map_err(|_| FieldError {
        field,
        error: InvalidValue::new(field, "must be a number of degrees, such as 30.2672"),
    })
}

impl SettingsForm {
    /// The settings, parsed and checked; the first mistake names its field.
    pub(crate) fn parse(&self) -> Result<OfficeSettings, FieldError> {
        let location = match (
            optional(self.latitude.as_deref()),
            optional(self.longitude.as_deref()),
        ) {
            (Some(lat), Some(lon)) => Some(at(
                "latitude",
                GeoPoint::new(degrees("latitude", lat)?, degrees("longitude", lon)?),
            )?),
            (None, None) => None,
            (None, Some(_)) | (Some(_), None) => {
                return Err(FieldError {
                    field: "latitude",
                    error: InvalidValue::new("location", "needs both latitude and longitude"),
                });
            }
        };
        let settings = OfficeSettings {
            notify_channel: at(
                "notify_channel",
                Channel::parse(self.notify_channel.trim()).ok_or(InvalidValue::new(
                    "notification channel",
                    "is email, text or fax",
                )),
            )?,
            notify_email: at(
                "notify_email",
                optional(self.notify_email.as_deref())
                    .map(Email::parse)
                    .transpose(),
            )?,
            phone: at("phone", PhoneNumber::parse(&self.phone))?,
            fax: at(
                "fax",
                optional(self.fax.as_deref())
                    .map(PhoneNumber::parse)
                    .transpose(),
            )?,
            address: self.address()?,
            location,
            listed: self.listed,
            time_zone: at("time_zone", TimeZone::parse(&self.time_zone))?,
            office_hours: optional(self.office_hours.as_deref()).map(str::to_owned),
            distance_unit: at("distance_unit", DistanceUnit::parse(&self.distance_unit))?,
        };
        settings.check().map_err(|error| FieldError {
            field: match error.what {
                "notification email" => "notify_email",
                "fax number" => "fax",
                _ => "office_hours",
            },
            error,
        })?;
        Ok(settings)
    }

    fn address(&self) -> Result<enamel_domain::Address, FieldError> {
        super::address_fields(
            &self.address_line1,
            self.address_line2.as_deref(),
            &self.city,
            &self.state,
            &self.postal_code,
        )
    }
}

impl From<&OfficeSettings> for SettingsForm {
    fn from(s: &OfficeSettings) -> Self {
        Self {
            notify_channel: s.notify_channel.as_str().to_owned(),
            notify_email: s.notify_email.as_ref().map(|e| e.as_str().to_owned()),
            phone: s.phone.national(),
            fax: s.fax.as_ref().map(PhoneNumber::national),
            address_line1: s.address.line1.clone(),
            address_line2: s.address.line2.clone(),
            city: s.address.city.clone(),
            state: s.address.state.code().to_owned(),
            postal_code: s.address.postal_code.as_str().to_owned(),
            latitude: s.location.map(|p| p.latitude().to_string()),
            longitude: s.location.map(|p| p.longitude().to_string()),
            listed: s.listed,
            time_zone: s.time_zone.name().to_owned(),
            office_hours: s.office_hours.clone(),
            distance_unit: s.distance_unit.as_str().to_owned(),
        }
    }
}
