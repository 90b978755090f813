//! The one clock. Everything that needs "now" (sessions, links, lockouts, audit
//! timestamps, "the last 24 hours", retention, schedules) reads it through [`Clock`],
//! handed in from the top, so tests move time across midnight and daylight-saving
//! changes instead of sleeping. Instants are UTC with microseconds, as both databases
//! store them; local time is a matter of display and scheduling, never of storage.

use std::fmt;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

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
}
