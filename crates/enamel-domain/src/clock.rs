//! The one clock. Everything that needs "now" (sessions, links, lockouts, audit
//! timestamps, "the last 24 hours", retention, schedules) reads it through [`Clock`],
//! handed in from the top, so tests move time across midnight and daylight-saving
//! changes instead of sleeping. Instants are UTC with microseconds, as both databases
//! store them; local time is a matter of display and scheduling, never of storage.

use std::fmt;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::TimeZone;

/// Where "now" comes from.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

/// `at` in UTC, cut to whole microseconds (what both databases keep).
#[must_use]
pub fn to_microseconds(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(at)
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        to_microseconds(OffsetDateTime::now_utc())
    }
}

/// A clock that stands still until told to move (tests).
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    #[must_use]
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(to_microseconds(start))))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: time::Duration) {
        let mut now = self.0.lock().expect("the clock's lock is never poisoned");
        *now = to_microseconds(*now + by);
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().expect("the clock's lock is never poisoned") = to_microseconds(at);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().expect("the clock's lock is never poisoned")
    }
}

/// Once a day at a wall-clock time in a zone: the schedule of work a practice should
/// meet at its own hour (07:00 in Chicago is 13:00 UTC in winter, 12:00 in summer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DailyAt(pub time::Time);

impl DailyAt {
    /// Today's run in `zone`, once its instant has come by `now`: the local date it
    /// belongs to (one run per local date, whatever the day's length) and the instant
    /// it was due. `None` before today's time. On a daylight-saving change the time is
    /// read as [`TimeZone::instant`] reads it.
    #[must_use]
    pub fn due(
        &self,
        zone: &TimeZone,
        now: OffsetDateTime,
    ) -> Option<(time::Date, OffsetDateTime)> {
        let today = zone.local_date(now);
        let slot = zone.instant(time::PrimitiveDateTime::new(today, self.0));
        (now >= slot).then_some((today, slot))
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_manual_clock_keeps_microseconds_in_utc_and_moves_when_told() {
        let clock = ManualClock::new(datetime!(2026-11-01 01:59:59.999_999_999 -5));
        assert_eq!(clock.now(), datetime!(2026-11-01 06:59:59.999_999 UTC));
        clock.advance(time::Duration::hours(1));
        assert_eq!(clock.now(), datetime!(2026-11-01 07:59:59.999_999 UTC));
        assert_eq!(clock.now().offset(), time::UtcOffset::UTC);
    }

    #[test]
    fn a_daily_run_is_due_once_per_local_day_across_midnight_and_daylight_saving() {
        let chicago = TimeZone::parse("America/Chicago").unwrap();
        let at_seven = DailyAt(time::macros::time!(07:00));
        let clock = ManualClock::new(datetime!(2026-03-07 12:59 UTC)); // 06:59 CST
        assert_eq!(at_seven.due(&chicago, clock.now()), None);
        clock.advance(time::Duration::minutes(1)); // 07:00 CST
        assert_eq!(
            at_seven.due(&chicago, clock.now()),
            Some((
                time::macros::date!(2026 - 03 - 07),
                datetime!(2026-03-07 13:00 UTC)
            ))
        );
        // Past local midnight (06:00 UTC) it is the next local day, not yet due.
        clock.set(datetime!(2026-03-08 06:30 UTC)); // 00:30 CST, 8 March
        assert_eq!(at_seven.due(&chicago, clock.now()), None);
        // 8 March is 23 hours long: 07:00 CDT is 12:00 UTC, an hour earlier in UTC.
        clock.set(datetime!(2026-03-08 12:00 UTC));
        assert_eq!(
            at_seven.due(&chicago, clock.now()),
            Some((
                time::macros::date!(2026 - 03 - 08),
                datetime!(2026-03-08 12:00 UTC)
            ))
        );
        // 1 November is 25 hours long; 07:00 CST is 13:00 UTC again.
        clock.set(datetime!(2026-11-01 12:30 UTC)); // 06:30 CST
        assert_eq!(at_seven.due(&chicago, clock.now()), None);
        clock.set(datetime!(2026-11-01 13:00 UTC));
        assert_eq!(
            at_seven.due(&chicago, clock.now()).map(|(day, _)| day),
            Some(time::macros::date!(2026 - 11 - 01))
        );
    }
}
