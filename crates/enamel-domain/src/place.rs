//! Where a practice is: US states, ZIP codes, addresses and time zones.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::InvalidValue;
use crate::invalid::{bounded_text, display_as_value, string_conversions};

/// The USPS codes of the states, DC and the inhabited territories.
const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI",
];

/// A US state or territory by its two-letter USPS code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct UsState(&'static str);

impl UsState {
    /// Parses a USPS code, in either case.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let upper = raw.trim().to_ascii_uppercase();
        US_STATES
            .iter()
            .find(|code| **code == upper)
            .map(|code| Self(code))
            .ok_or(InvalidValue::new(
                "US state",
                "is not a USPS state or territory code",
            ))
    }

    /// The two-letter code.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        self.0
    }
}

impl<'de> Deserialize<'de> for UsState {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// A US ZIP code: five digits, optionally `-` and four more.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PostalCode(String);

impl PostalCode {
    /// Parses `12345` or `12345-6789`.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let zip = raw.trim();
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let ok = match zip.split_once('-') {
            None => zip.len() == 5 && all_digits(zip),
            Some((five, four)) => {
                five.len() == 5 && four.len() == 4 && all_digits(five) && all_digits(four)
            }
        };
        if ok {
            Ok(Self(zip.to_owned()))
        } else {
            Err(InvalidValue::new("ZIP code", "must be 12345 or 12345-6789"))
        }
    }

    /// The ZIP code as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A US street address.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub state: UsState,
    pub postal_code: PostalCode,
}

impl Address {
    /// Builds an address from its parts, trimming text and rejecting empty or
    /// over-long lines.
    pub fn parse(
        line1: &str,
        line2: Option<&str>,
        city: &str,
        state: &str,
        postal_code: &str,
    ) -> Result<Self, InvalidValue> {
        Ok(Self {
            line1: bounded_text(line1, "street address", 120)?,
            line2: line2
                .filter(|l| !l.trim().is_empty())
                .map(|l| bounded_text(l, "street address line 2", 120))
                .transpose()?,
            city: bounded_text(city, "city", 80)?,
            state: UsState::parse(state)?,
            postal_code: PostalCode::parse(postal_code)?,
        })
    }
}

/// IANA time zones in use in the US and its territories.
const US_TIME_ZONES: &[&str] = &[
    "America/New_York",
    "America/Detroit",
    "America/Indiana/Indianapolis",
    "America/Kentucky/Louisville",
    "America/Chicago",
    "America/Denver",
    "America/Boise",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "America/Juneau",
    "America/Adak",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "Pacific/Guam",
    "Pacific/Pago_Pago",
];

/// The IANA time zone a practice keeps its calendar in.
///
/// Limited to the zones of the US and its territories, where Enamel's practices are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct TimeZone(&'static str);

impl TimeZone {
    /// Parses an IANA zone name such as `America/Chicago`.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let name = raw.trim();
        US_TIME_ZONES
            .iter()
            .find(|zone| **zone == name)
            .map(|zone| Self(zone))
            .ok_or(InvalidValue::new("time zone", "is not a US IANA time zone"))
    }

    /// Every zone a practice may keep, east to west.
    pub fn all() -> impl Iterator<Item = Self> {
        US_TIME_ZONES.iter().map(|zone| Self(zone))
    }

    /// The IANA name.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        self.0
    }

    /// The zone's rules, from the system's time zone database or the bundled copy.
    fn rules(&self) -> jiff::tz::TimeZone {
        // Every name in US_TIME_ZONES is in the bundled database (a unit test checks),
        // so the lookup cannot fail whatever the host has installed.
        jiff::tz::TimeZone::get(self.0).unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// The wall-clock time in this zone at the instant `at`.
    #[must_use]
    pub fn local(&self, at: OffsetDateTime) -> PrimitiveDateTime {
        let nanos = i32::try_from(at.nanosecond()).unwrap_or_default();
        let Ok(instant) = jiff::Timestamp::new(at.unix_timestamp(), nanos) else {
            return PrimitiveDateTime::new(at.date(), at.time());
        };
        let civil = instant.to_zoned(self.rules()).datetime();
        civil_to_time(civil).unwrap_or_else(|| PrimitiveDateTime::new(at.date(), at.time()))
    }

    /// The zone's abbreviation in force at `at` (`CST` in January, `CDT` in July).
    #[must_use]
    pub fn abbreviation(&self, at: OffsetDateTime) -> String {
        jiff::Timestamp::from_second(at.unix_timestamp()).map_or_else(
            |_| String::new(),
            |instant| {
                self.rules()
                    .to_offset_info(instant)
                    .abbreviation()
                    .to_owned()
            },
        )
    }

    /// `at` as people in this zone read it: `2026-11-29 08:30 CST`.
    #[must_use]
    pub fn stamp(&self, at: OffsetDateTime) -> String {
        let local = self.local(at);
        let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
        format!(
            "{} {}",
            local.format(&format).unwrap_or_default(),
            self.abbreviation(at)
        )
    }

    /// A wall-clock time in this zone as a patient reads it, with the zone's
    /// abbreviation in force then: `Tuesday, December 8, 2026 at 9:30 AM CST`.
    #[must_use]
    pub fn spoken(&self, local: PrimitiveDateTime) -> String {
        let format = time::macros::format_description!(
            "[weekday], [month repr:long] [day padding:none], [year] at \
             [hour repr:12 padding:none]:[minute] [period]"
        );
        format!(
            "{} {}",
            local.format(&format).unwrap_or_default(),
            self.abbreviation(self.instant(local))
        )
    }

    /// The date in this zone at the instant `at` (a practice's "today").
    #[must_use]
    pub fn local_date(&self, at: OffsetDateTime) -> Date {
        self.local(at).date()
    }

    /// The instant a wall-clock time in this zone names. A time skipped by a
    /// spring-forward change (02:30 on the second Sunday of March) is read as the
    /// same length after the change (03:30); a time repeated by a fall-back change
    /// (01:30 on the first Sunday of November) is the first of the two. These are
    /// RFC 5545's rules for a local time that is missing or ambiguous.
    #[must_use]
    pub fn instant(&self, local: PrimitiveDateTime) -> OffsetDateTime {
        let utc = local.assume_utc();
        let Ok(civil) = jiff::civil::DateTime::new(
            i16::try_from(local.year()).unwrap_or(i16::MAX),
            i8::try_from(u8::from(local.month())).unwrap_or(1),
            i8::try_from(local.day()).unwrap_or(1),
            i8::try_from(local.hour()).unwrap_or(0),
            i8::try_from(local.minute()).unwrap_or(0),
            i8::try_from(local.second()).unwrap_or(0),
            i32::try_from(local.nanosecond()).unwrap_or(0),
        ) else {
            return utc;
        };
        self.rules()
            .to_ambiguous_zoned(civil)
            .compatible()
            .ok()
            .and_then(|zoned| {
                OffsetDateTime::from_unix_timestamp_nanos(zoned.timestamp().as_nanosecond()).ok()
            })
            .unwrap_or(utc)
    }
}

fn civil_to_time(civil: jiff::civil::DateTime) -> Option<PrimitiveDateTime> {
    let month = time::Month::try_from(u8::try_from(civil.month()).ok()?).ok()?;
    let date = Date::from_calendar_date(
        i32::from(civil.year()),
        month,
        u8::try_from(civil.day()).ok()?,
    )
    .ok()?;
    let time = time::Time::from_hms_nano(
        u8::try_from(civil.hour()).ok()?,
        u8::try_from(civil.minute()).ok()?,
        u8::try_from(civil.second()).ok()?,
        u32::try_from(civil.subsec_nanosecond()).ok()?,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

string_conversions!(UsState, PostalCode, TimeZone);
display_as_value!(UsState, TimeZone);

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn states_parse_in_either_case_and_unknown_codes_fail() {
        assert_eq!(UsState::parse("tx").unwrap().code(), "TX");
        assert_eq!(UsState::parse("PR").unwrap().code(), "PR");
        assert!(UsState::parse("XX").is_err());
        assert!(UsState::parse("Texas").is_err());
    }

    #[test]
    fn zip_codes_take_five_or_nine_digits() {
        assert!(PostalCode::parse("73301").is_ok());
        assert!(PostalCode::parse("73301-0001").is_ok());
        for bad in ["7330", "733011", "73301-01", "7330a", "73301 0001"] {
            assert!(PostalCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn address_trims_and_drops_a_blank_second_line() {
        let address = Address::parse(" 1 Main St ", Some("  "), "Austin", "tx", "73301").unwrap();
        assert_eq!(address.line1, "1 Main St");
        assert_eq!(address.line2, None);
        assert_eq!(address.state.code(), "TX");
    }

    #[test]
    fn address_rejects_an_empty_city() {
        let err = Address::parse("1 Main St", None, " ", "TX", "73301").unwrap_err();
        assert_eq!(err.what, "city");
    }

    #[test]
    fn every_us_zone_is_in_the_bundled_database() {
        for name in US_TIME_ZONES {
            assert!(
                jiff::tz::db().get(name).is_ok(),
                "{name} is missing from the time zone database"
            );
        }
    }

    #[test]
    fn an_appointment_reads_in_its_zone_on_each_side_of_a_change() {
        let denver = TimeZone::parse("America/Denver").unwrap();
        assert_eq!(
            denver.spoken(datetime!(2026-11-02 09:30)),
            "Monday, November 2, 2026 at 9:30 AM MST"
        );
        assert_eq!(
            denver.spoken(datetime!(2026-10-30 14:05)),
            "Friday, October 30, 2026 at 2:05 PM MDT"
        );
    }

    #[test]
    fn local_time_follows_daylight_saving_in_chicago() {
        let chicago = TimeZone::parse("America/Chicago").unwrap();
        // Standard time (UTC-6) in January, daylight time (UTC-5) in July.
        assert_eq!(
            chicago.local(datetime!(2026-01-15 14:00 UTC)),
            datetime!(2026-01-15 08:00)
        );
        assert_eq!(
            chicago.local(datetime!(2026-07-15 13:00 UTC)),
            datetime!(2026-07-15 08:00)
        );
        // Local midnight after the spring change is 05:00 UTC (CDT, UTC-5): a minute
        // before it is still the previous local day.
        assert_eq!(
            chicago.local_date(datetime!(2026-03-09 04:59 UTC)),
            date!(2026 - 03 - 08)
        );
        assert_eq!(
            chicago.local_date(datetime!(2026-03-09 05:00 UTC)),
            date!(2026 - 03 - 09)
        );
        assert_eq!(
            chicago.stamp(datetime!(2026-07-15 13:05 UTC)),
            "2026-07-15 08:05 CDT"
        );
        assert_eq!(
            chicago.stamp(datetime!(2026-01-15 14:05 UTC)),
            "2026-01-15 08:05 CST"
        );
        // Phoenix keeps standard time all year.
        let phoenix = TimeZone::parse("America/Phoenix").unwrap();
        assert_eq!(
            phoenix.local(datetime!(2026-07-15 15:00 UTC)),
            datetime!(2026-07-15 08:00)
        );
    }

    #[test]
    fn a_skipped_local_time_moves_past_the_gap_and_a_repeated_one_is_the_first() {
        let new_york = TimeZone::parse("America/New_York").unwrap();
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
        assert_eq!(
            new_york.instant(datetime!(2026-03-08 02:30)),
            datetime!(2026-03-08 07:30 UTC)
        );
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        assert_eq!(
            new_york.instant(datetime!(2026-11-01 01:30)),
            datetime!(2026-11-01 05:30 UTC)
        );
        // Round trip on an ordinary day.
        let at = new_york.instant(datetime!(2026-11-29 08:00));
        assert_eq!(at, datetime!(2026-11-29 13:00 UTC));
        assert_eq!(new_york.local(at), datetime!(2026-11-29 08:00));
    }

    #[test]
    fn time_zones_are_us_iana_names() {
        assert_eq!(
            TimeZone::parse("America/Chicago").unwrap().name(),
            "America/Chicago"
        );
        assert!(TimeZone::parse("Europe/Paris").is_err());
        assert!(TimeZone::parse("CST").is_err());
    }
}

/// Where an office is, for "specialists within N km" in the directory: WGS 84
/// degrees, set by the office (Enamel geocodes nothing; an office is not PHI).
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
pub struct GeoPoint {
    latitude: f64,
    longitude: f64,
}

/// The Earth's mean radius (IUGG), for great-circle distances.
const EARTH_RADIUS_KM: f64 = 6_371.008_8;

impl GeoPoint {
    /// A point from latitude (-90..=90) and longitude (-180..=180) in degrees.
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, InvalidValue> {
        if !(-90.0..=90.0).contains(&latitude) {
            return Err(InvalidValue::new("latitude", "must be between -90 and 90"));
        }
        if !(-180.0..=180.0).contains(&longitude) {
            return Err(InvalidValue::new(
                "longitude",
                "must be between -180 and 180",
            ));
        }
        Ok(Self {
            latitude,
            longitude,
        })
    }

    #[must_use]
    pub const fn latitude(self) -> f64 {
        self.latitude
    }

    #[must_use]
    pub const fn longitude(self) -> f64 {
        self.longitude
    }

    /// The great-circle distance to `other` in kilometres (haversine formula).
    #[must_use]
    pub fn distance_km(self, other: Self) -> f64 {
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let half_dlat = (lat2 - lat1) / 2.0;
        let half_dlon = (other.longitude - self.longitude).to_radians() / 2.0;
        let a = half_dlat.sin().powi(2) + lat1.cos() * lat2.cos() * half_dlon.sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
    }
}

/// How an office reads distances in the directory.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistanceUnit {
    #[default]
    Miles,
    Kilometres,
}

/// Kilometres in a statute mile.
const KM_PER_MILE: f64 = 1.609_344;

impl DistanceUnit {
    /// The stored name: `mi` or `km`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Miles => "mi",
            Self::Kilometres => "km",
        }
    }

    /// Parses [`DistanceUnit::as_str`].
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match raw.trim() {
            "mi" => Ok(Self::Miles),
            "km" => Ok(Self::Kilometres),
            _ => Err(InvalidValue::new("distance unit", "is mi or km")),
        }
    }

    /// A distance in kilometres as this unit reads it: `12.3 mi`.
    #[must_use]
    pub fn show(self, km: f64) -> String {
        match self {
            Self::Miles => format!("{:.1} mi", km / KM_PER_MILE),
            Self::Kilometres => format!("{km:.1} km"),
        }
    }

    /// `amount` of this unit in kilometres (a search radius typed in miles).
    #[must_use]
    pub fn to_km(self, amount: f64) -> f64 {
        match self {
            Self::Miles => amount * KM_PER_MILE,
            Self::Kilometres => amount,
        }
    }
}

#[cfg(test)]
mod geo_tests {
    use super::{DistanceUnit, GeoPoint};

    #[test]
    fn austin_to_san_antonio_is_about_118_km() {
        // City halls, from public coordinates.
        let austin = GeoPoint::new(30.2650, -97.7467).unwrap();
        let san_antonio = GeoPoint::new(29.4241, -98.4936).unwrap();
        let km = austin.distance_km(san_antonio);
        assert!((115.0..121.0).contains(&km), "{km}");
        assert!(austin.distance_km(austin) < 1e-9);
    }

    #[test]
    fn coordinates_out_of_range_are_refused() {
        assert!(GeoPoint::new(90.1, 0.0).is_err());
        assert!(GeoPoint::new(0.0, -180.5).is_err());
        assert!(GeoPoint::new(f64::NAN, 0.0).is_err());
    }

    #[test]
    fn distances_read_in_the_office_unit() {
        assert_eq!(DistanceUnit::Miles.show(16.093_44), "10.0 mi");
        assert_eq!(DistanceUnit::Kilometres.show(16.093_44), "16.1 km");
        assert!((DistanceUnit::Miles.to_km(25.0) - 40.2336).abs() < 1e-9);
        assert_eq!(DistanceUnit::parse("km").unwrap(), DistanceUnit::Kilometres);
        assert!(DistanceUnit::parse("furlongs").is_err());
    }
}
