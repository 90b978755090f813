//! The practice's schedule as its practice-management system (PMS) keeps it:
//! providers, operatories, appointment types, appointments, the waitlist, recalls
//! and insurance coverage (docs/schedule.md). Every value here parses, so a row
//! from an import or a PMS either is one of these or is rejected with a reason.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month};

use crate::InvalidValue;
use crate::invalid::{bounded_text, string_conversions};

/// A record's own number in the practice's PMS (Open Dental's `PatNum`, `AptNum`,
/// `ProvNum` …), which makes an import idempotent: the same record re-imported
/// updates, never duplicates. Up to 40 letters, digits, `-`, `_` or `.`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PmsId(String);

impl PmsId {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let id = raw.trim();
        if id.is_empty() {
            return Err(InvalidValue::new("PMS id", "must not be empty"));
        }
        if id.len() > 40
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(InvalidValue::new(
                "PMS id",
                "must be up to 40 letters, digits, '-', '_' or '.'",
            ));
        }
        Ok(Self(id.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// PMS ids identify records (a patient's number is a record number): never in a
/// log line.
impl fmt::Debug for PmsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PmsId(..)")
    }
}

string_conversions!(PmsId);

/// The length of an appointment or of the time a waitlist patient needs: 5 minutes
/// to 12 hours, in whole minutes (Open Dental's pattern is in 5- or 10-minute steps).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Minutes(u16);

impl Minutes {
    pub fn new(minutes: u32) -> Result<Self, InvalidValue> {
        match u16::try_from(minutes) {
            Ok(m) if (5..=720).contains(&m) => Ok(Self(m)),
            _ => Err(InvalidValue::new(
                "duration",
                "must be 5 minutes to 12 hours",
            )),
        }
    }

    #[must_use]
    pub const fn get(self) -> u16 {
        self.0
    }

    #[must_use]
    pub fn duration(self) -> Duration {
        Duration::minutes(i64::from(self.0))
    }
}

impl TryFrom<u32> for Minutes {
    type Error = InvalidValue;
    fn try_from(minutes: u32) -> Result<Self, Self::Error> {
        Self::new(minutes)
    }
}

impl From<Minutes> for u32 {
    fn from(minutes: Minutes) -> Self {
        Self::from(minutes.0)
    }
}

/// Where an appointment stands. Open Dental's `AptStatus` maps onto it: Scheduled,
/// Complete, Broken; its confirmation and arrival live in other fields.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    Scheduled,
    Confirmed,
    Arrived,
    Completed,
    /// Broken: the patient did not come (a no-show) or broke it too late.
    Broken,
    Cancelled,
}

impl AppointmentStatus {
    pub const ALL: [Self; 6] = [
        Self::Scheduled,
        Self::Confirmed,
        Self::Arrived,
        Self::Completed,
        Self::Broken,
        Self::Cancelled,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Confirmed => "confirmed",
            Self::Arrived => "arrived",
            Self::Completed => "completed",
            Self::Broken => "broken",
            Self::Cancelled => "cancelled",
        }
    }

    /// For people.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Scheduled => "Scheduled",
            Self::Confirmed => "Confirmed",
            Self::Arrived => "Arrived",
            Self::Completed => "Completed",
            Self::Broken => "No-show",
            Self::Cancelled => "Cancelled",
        }
    }

    /// Accepts the stored names, and `no_show`/`no-show` for broken.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim().to_ascii_lowercase().replace('-', "_");
        if raw == "no_show" {
            return Ok(Self::Broken);
        }
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or(InvalidValue::new(
                "appointment status",
                "must be scheduled, confirmed, arrived, completed, broken or cancelled",
            ))
    }

    /// Whether the chair time is taken: a broken or cancelled appointment frees it.
    #[must_use]
    pub const fn holds_the_slot(self) -> bool {
        !matches!(self, Self::Broken | Self::Cancelled)
    }
}

/// How long after the previous visit a recall falls due, as Open Dental writes it:
/// years, months, weeks and days, such as `6m1d` (six months and a day, so that a
/// visit is not booked a day early for the insurer) or `1y`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct RecallInterval {
    pub years: u8,
    pub months: u8,
    pub weeks: u8,
    pub days: u16,
}

impl RecallInterval {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        const BAD: InvalidValue = InvalidValue::new(
            "recall interval",
            "must be numbers with y, m, w or d, such as 6m1d",
        );
        let mut interval = Self::default();
        let mut number = String::new();
        let mut seen = String::new();
        for c in raw.trim().to_ascii_lowercase().chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            // Each unit once, in the order y, m, w, d.
            let order = "ymwd";
            let position = order.find(c).ok_or(BAD)?;
            if number.is_empty() || seen.chars().any(|s| order.find(s) >= Some(position)) {
                return Err(BAD);
            }
            let value: u16 = number.parse().map_err(|_| BAD)?;
            match c {
                'y' => interval.years = u8::try_from(value).map_err(|_| BAD)?,
                'm' => interval.months = u8::try_from(value).map_err(|_| BAD)?,
                'w' => interval.weeks = u8::try_from(value).map_err(|_| BAD)?,
                _ => interval.days = value,
            }
            seen.push(c);
            number.clear();
        }
        if !number.is_empty() || interval == Self::default() {
            return Err(BAD);
        }
        let total_days = u32::from(interval.years) * 366
            + u32::from(interval.months) * 31
            + u32::from(interval.weeks) * 7
            + u32::from(interval.days);
        if total_days > 3_660 {
            return Err(InvalidValue::new(
                "recall interval",
                "is longer than ten years",
            ));
        }
        Ok(interval)
    }

    /// The date this interval after `from`. Months are calendar months; a day past
    /// the end of a shorter month is that month's last day (31 August + 6m is
    /// 28 or 29 February), as Open Dental and people count.
    #[must_use]
    pub fn after(self, from: Date) -> Date {
        let months = i32::from(self.years) * 12 + i32::from(self.months);
        let total = from.year() * 12 + i32::from(u8::from(from.month())) - 1 + months;
        let (year, zero_based) = (total.div_euclid(12), total.rem_euclid(12));
        let month =
            Month::try_from(u8::try_from(zero_based + 1).unwrap_or(1)).unwrap_or(Month::January);
        let last = month.length(year);
        let day = from.day().min(last);
        let shifted = Date::from_calendar_date(year, month, day).unwrap_or(from);
        shifted + Duration::weeks(i64::from(self.weeks)) + Duration::days(i64::from(self.days))
    }
}

impl fmt::Display for RecallInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (value, unit) in [
            (u16::from(self.years), 'y'),
            (u16::from(self.months), 'm'),
            (u16::from(self.weeks), 'w'),
            (self.days, 'd'),
        ] {
            if value > 0 {
                write!(f, "{value}{unit}")?;
            }
        }
        Ok(())
    }
}

/// A patient's recall of one type, as the PMS tracks it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RecallDates {
    /// The last visit that satisfied it.
    pub previous: Option<Date>,
    /// A due date set by hand, which then sticks whatever the previous date.
    pub manual_due: Option<Date>,
    /// Not to be recalled before this date.
    pub disabled_until: Option<Date>,
    /// Not to be recalled at all.
    pub disabled: bool,
}

impl RecallDates {
    /// When the recall falls due: the manual date if set, else the previous visit
    /// plus the interval; none for a recall disabled for good or never started.
    #[must_use]
    pub fn due(&self, interval: RecallInterval) -> Option<Date> {
        if self.disabled {
            return None;
        }
        self.manual_due
            .or_else(|| self.previous.map(|previous| interval.after(previous)))
    }

    /// Whether to remind on `today`: due by then and not disabled until later.
    #[must_use]
    pub fn remind_on(&self, interval: RecallInterval, today: Date) -> bool {
        let paused = self.disabled_until.is_some_and(|until| today < until);
        !paused && self.due(interval).is_some_and(|due| due <= today)
    }
}

/// The days of the week and times of day a waitlist patient can come.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Availability {
    /// Monday first: bit 0 is Monday, bit 6 Sunday.
    days: u8,
    /// Bit 0 morning (before noon), bit 1 afternoon (noon to 17:00), bit 2 evening.
    times: u8,
}

/// The parts of a day a patient may ask for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TimeOfDay {
    Morning,
    Afternoon,
    Evening,
}

impl TimeOfDay {
    pub const ALL: [Self; 3] = [Self::Morning, Self::Afternoon, Self::Evening];

    /// The part of the day a local time falls in.
    #[must_use]
    pub const fn of(hour: u8) -> Self {
        match hour {
            0..12 => Self::Morning,
            12..17 => Self::Afternoon,
            _ => Self::Evening,
        }
    }

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Morning => "morning",
            Self::Afternoon => "afternoon",
            Self::Evening => "evening",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Self::Morning => 1,
            Self::Afternoon => 2,
            Self::Evening => 4,
        }
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Availability {
    /// Any day, any time.
    pub const ANY: Self = Self {
        days: 0b111_1111,
        times: 0b111,
    };

    /// From the stored bit masks; none of either is refused.
    pub fn from_bits(days: u8, times: u8) -> Result<Self, InvalidValue> {
        if !(1..=0b111_1111).contains(&days) || !(1..=0b111).contains(&times) {
            return Err(InvalidValue::new(
                "availability",
                "needs at least one day and one time of day",
            ));
        }
        Ok(Self { days, times })
    }

    /// Parses day names (`mon,wed,fri`, or `any`) and times (`morning,afternoon`, or
    /// `any`).
    pub fn parse(days: &str, times: &str) -> Result<Self, InvalidValue> {
        let bad_day = InvalidValue::new("days", "must be mon to sun, comma-separated, or any");
        let bad_time = InvalidValue::new(
            "times of day",
            "must be morning, afternoon or evening, comma-separated, or any",
        );
        let mut day_bits = 0_u8;
        for day in days.split(',').map(|d| d.trim().to_ascii_lowercase()) {
            if day == "any" || day.is_empty() && days.trim().is_empty() {
                day_bits = 0b111_1111;
                continue;
            }
            let short = day.get(..3).ok_or(bad_day)?;
            let index = DAY_NAMES.iter().position(|d| *d == short).ok_or(bad_day)?;
            day_bits |= 1 << index;
        }
        let mut time_bits = 0_u8;
        for time in times.split(',').map(|t| t.trim().to_ascii_lowercase()) {
            if time == "any" || time.is_empty() && times.trim().is_empty() {
                time_bits = 0b111;
                continue;
            }
            let part = TimeOfDay::ALL
                .into_iter()
                .find(|t| t.as_str() == time)
                .ok_or(bad_time)?;
            time_bits |= part.bit();
        }
        Self::from_bits(day_bits, time_bits)
    }

    #[must_use]
    pub const fn day_bits(self) -> u8 {
        self.days
    }

    #[must_use]
    pub const fn time_bits(self) -> u8 {
        self.times
    }

    /// Whether a slot starting on `weekday` at local `hour` suits the patient.
    #[must_use]
    pub const fn suits(self, weekday: time::Weekday, hour: u8) -> bool {
        let day = weekday.number_days_from_monday();
        self.days & (1 << day) != 0 && self.times & TimeOfDay::of(hour).bit() != 0
    }

    /// For people: "Mon, Wed · mornings", "Any day · any time".
    #[must_use]
    pub fn describe(self) -> String {
        let days = if self.days == 0b111_1111 {
            "Any day".to_owned()
        } else {
            DAY_NAMES
                .iter()
                .enumerate()
                .filter(|(i, _)| self.days & (1 << i) != 0)
                .map(|(_, d)| {
                    let mut name = (*d).to_owned();
                    name[..1].make_ascii_uppercase();
                    name
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let times = if self.times == 0b111 {
            "any time".to_owned()
        } else {
            TimeOfDay::ALL
                .into_iter()
                .filter(|t| self.times & t.bit() != 0)
                .map(TimeOfDay::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!("{days} · {times}")
    }
}

/// Who the insured patient is to the subscriber.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    /// The patient is the subscriber.
    #[serde(rename = "self")]
    Subscriber,
    Spouse,
    Child,
    Other,
}

impl Relationship {
    pub const ALL: [Self; 4] = [Self::Subscriber, Self::Spouse, Self::Child, Self::Other];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Subscriber => "self",
            Self::Spouse => "spouse",
            Self::Child => "child",
            Self::Other => "other",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == raw)
            .ok_or(InvalidValue::new(
                "relationship",
                "must be self, spouse, child or other",
            ))
    }
}

/// A payer's id for eligibility requests (the clearinghouse's, e.g. `60054`) and
/// its name: not about any patient.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Payer {
    pub id: String,
    pub name: String,
}

impl Payer {
    pub fn parse(id: &str, name: &str) -> Result<Self, InvalidValue> {
        let id = id.trim();
        if id.is_empty()
            || id.len() > 20
            || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(InvalidValue::new(
                "payer id",
                "must be up to 20 letters, digits or '-'",
            ));
        }
        Ok(Self {
            id: id.to_ascii_uppercase(),
            name: bounded_text(name, "payer name", 120)?,
        })
    }
}

/// What identifies the patient to their insurer: sealed together.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Membership {
    pub member_id: String,
    pub group_number: Option<String>,
}

impl Membership {
    pub fn parse(member_id: &str, group_number: Option<&str>) -> Result<Self, InvalidValue> {
        let member = |raw: &str, what: &'static str| -> Result<String, InvalidValue> {
            let value = raw.trim();
            if value.is_empty()
                || value.len() > 30
                || !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(InvalidValue::new(
                    what,
                    "must be up to 30 letters, digits or '-'",
                ));
            }
            Ok(value.to_ascii_uppercase())
        };
        Ok(Self {
            member_id: member(member_id, "member id")?,
            group_number: group_number
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(|g| member(g, "group number"))
                .transpose()?,
        })
    }
}

/// A provider's or operatory's or appointment type's name on the schedule: staff
/// and rooms, not patients.
pub fn schedule_name(raw: &str, what: &'static str) -> Result<String, InvalidValue> {
    bounded_text(raw, what, 80)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn recall_intervals_read_as_open_dental_writes_them() {
        let six_and_a_day = RecallInterval::parse("6m1d").unwrap();
        assert_eq!((six_and_a_day.months, six_and_a_day.days), (6, 1));
        assert_eq!(six_and_a_day.to_string(), "6m1d");
        assert_eq!(RecallInterval::parse(" 1Y ").unwrap().years, 1);
        assert_eq!(RecallInterval::parse("1y6m").unwrap().to_string(), "1y6m");
        for bad in [
            "", "6", "m", "6x", "1d6m", "6m6m", "0d", "11y", "-1m", "6m 1d",
        ] {
            assert!(RecallInterval::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_due_date_is_the_previous_visit_plus_the_interval() {
        let prophy = RecallInterval::parse("6m1d").unwrap();
        assert_eq!(prophy.after(date!(2026 - 05 - 14)), date!(2026 - 11 - 15));
        // The end of a shorter month, leap years, and crossing a year.
        let six = RecallInterval::parse("6m").unwrap();
        assert_eq!(six.after(date!(2027 - 08 - 31)), date!(2028 - 02 - 29));
        assert_eq!(six.after(date!(2026 - 08 - 31)), date!(2027 - 02 - 28));
        assert_eq!(
            RecallInterval::parse("2w")
                .unwrap()
                .after(date!(2026 - 12 - 25)),
            date!(2027 - 01 - 08)
        );
        assert_eq!(
            RecallInterval::parse("1y")
                .unwrap()
                .after(date!(2028 - 02 - 29)),
            date!(2029 - 02 - 28)
        );
    }

    #[test]
    fn a_manual_due_date_sticks_and_disabling_pauses_reminders() {
        let interval = RecallInterval::parse("6m").unwrap();
        let mut recall = RecallDates {
            previous: Some(date!(2026 - 01 - 10)),
            manual_due: None,
            disabled_until: None,
            disabled: false,
        };
        assert_eq!(recall.due(interval), Some(date!(2026 - 07 - 10)));
        recall.manual_due = Some(date!(2026 - 06 - 01));
        assert_eq!(recall.due(interval), Some(date!(2026 - 06 - 01)));
        assert!(recall.remind_on(interval, date!(2026 - 06 - 01)));
        assert!(!recall.remind_on(interval, date!(2026 - 05 - 31)));
        recall.disabled_until = Some(date!(2026 - 09 - 01));
        assert!(!recall.remind_on(interval, date!(2026 - 08 - 31)));
        assert!(recall.remind_on(interval, date!(2026 - 09 - 01)));
        recall.disabled = true;
        assert_eq!(recall.due(interval), None);
    }

    #[test]
    fn availability_reads_days_and_times() {
        let a = Availability::parse("Mon, wed,friday", "morning").unwrap();
        assert!(a.suits(time::Weekday::Monday, 9));
        assert!(!a.suits(time::Weekday::Monday, 13));
        assert!(!a.suits(time::Weekday::Tuesday, 9));
        assert_eq!(a.describe(), "Mon, Wed, Fri · morning");
        assert_eq!(Availability::parse("any", "").unwrap(), Availability::ANY);
        assert_eq!(Availability::ANY.describe(), "Any day · any time");
        assert!(Availability::parse("funday", "any").is_err());
        assert!(Availability::parse("mon", "noonish").is_err());
        assert!(Availability::from_bits(0, 1).is_err());
    }

    #[test]
    fn statuses_and_ids_parse() {
        assert_eq!(
            AppointmentStatus::parse("No-Show").unwrap(),
            AppointmentStatus::Broken
        );
        assert!(!AppointmentStatus::Broken.holds_the_slot());
        assert!(AppointmentStatus::Confirmed.holds_the_slot());
        assert!(AppointmentStatus::parse("maybe").is_err());
        assert_eq!(PmsId::parse(" 1042 ").unwrap().as_str(), "1042");
        assert!(PmsId::parse("10 42").is_err());
        assert_eq!(format!("{:?}", PmsId::parse("1042").unwrap()), "PmsId(..)");
        assert!(Minutes::new(4).is_err());
        assert_eq!(Minutes::new(60).unwrap().get(), 60);
        assert_eq!(
            Relationship::parse("Self").unwrap(),
            Relationship::Subscriber
        );
        assert!(Payer::parse("60054", "Aetna Dental").is_ok());
        assert!(Membership::parse("W123 456", None).is_err());
    }
}
