//! When recurring jobs are due: every N seconds (a slot of the clock), and daily at
//! a local time in each practice's time zone. Each run is enqueued under a key naming
//! its slot, so however many workers enqueue it, it runs once.

use enamel_domain::{DailyAt, PracticeId, TimeZone};
use enamel_store::NewJob;

use super::{
    ATTEMPTS, CHECKPOINT, FLAG, FLAG_AT, PMS_SYNC, PRACTICES_EVERY, RETENTION, RETENTION_EVERY,
    Runtime, SyncRun,
};

/// When each recurring job is next due.
#[derive(Debug, Default)]
pub(super) struct Scheduler {
    /// The logs' total size when the last checkpoint was enqueued for growth.
    pub(super) checkpointed_entries: Option<u64>,
    /// The keys this worker enqueued last, per kind (and practice, for daily jobs):
    /// a slot is enqueued once per worker, so the database sees a write per period,
    /// not per tick.
    pub(super) enqueued: std::collections::HashMap<String, String>,
    /// The practices and their time zones, as last read, and when.
    pub(super) practices: Vec<(PracticeId, TimeZone)>,
    /// The practices connected to a PMS, and how often each syncs (minutes).
    pub(super) connected: Vec<(PracticeId, u32)>,
    pub(super) practices_read: Option<time::OffsetDateTime>,
}

impl Scheduler {
    /// Enqueues the runs whose slot has come: a checkpoint per `checkpoint_every`
    /// and whenever the logs grew by `checkpoint_entries`, retention per day, and
    /// each practice's "not responding" flags at [`FLAG_AT`] in its time zone. Every
    /// worker enqueues the same keys; the queue keeps one run of each.
    pub(super) async fn enqueue_due(&mut self, runtime: &Runtime) -> anyhow::Result<()> {
        let now = runtime.clock.now();
        let jobs = runtime.store.jobs();
        let mut due = vec![
            every(CHECKPOINT, runtime.settings.checkpoint_every, now),
            every(RETENTION, RETENTION_EVERY, now),
        ];
        if self
            .practices_read
            .is_none_or(|read| now - read >= PRACTICES_EVERY || now < read)
        {
            self.practices = runtime
                .store
                .practices()
                .list()
                .await?
                .into_iter()
                .map(|p| (p.id, p.time_zone))
                .collect();
            self.connected = runtime
                .store
                .pms_connections()
                .await?
                .into_iter()
                .map(|(practice, _, every)| (practice, every))
                .collect();
            self.practices_read = Some(now);
        }
        due.extend(daily(FLAG, FLAG_AT, &self.practices, now));
        due.extend(syncs(&self.connected, now));
        for job in due {
            let slot = match job.payload.get("practice").and_then(|p| p.as_str()) {
                Some(practice) => format!("{}:{practice}", job.kind),
                None => job.kind.clone(),
            };
            if self.enqueued.get(&slot) != Some(&job.key) {
                jobs.enqueue(&job).await?;
                self.enqueued.insert(slot, job.key.clone());
            }
        }
        let total: u64 = runtime
            .store
            .audit()
            .heads()
            .await?
            .iter()
            .map(|(_, size)| size)
            .sum();
        let last = *self.checkpointed_entries.get_or_insert(total);
        if total >= last + runtime.settings.checkpoint_entries {
            let mut grown = every(CHECKPOINT, runtime.settings.checkpoint_every, now);
            grown.key = format!("{CHECKPOINT}:entries:{total}");
            jobs.enqueue(&grown).await?;
            self.checkpointed_entries = Some(total);
        }
        Ok(())
    }
}

/// The run of `kind` for the period of `period` that `now` falls in.
pub(super) fn every(kind: &str, period: time::Duration, now: time::OffsetDateTime) -> NewJob {
    let seconds = period.whole_seconds().max(1);
    NewJob {
        kind: kind.to_owned(),
        key: format!("{kind}:{}", now.unix_timestamp().div_euclid(seconds)),
        payload: serde_json::Value::Null,
        run_at: now,
        max_attempts: ATTEMPTS,
    }
}

/// Each connected practice's sync for the period of its own interval that `now`
/// falls in, keyed by the practice and that period.
pub(super) fn syncs(connected: &[(PracticeId, u32)], now: time::OffsetDateTime) -> Vec<NewJob> {
    connected
        .iter()
        .map(|(practice, every)| {
            let seconds = i64::from((*every).max(1)) * 60;
            NewJob {
                kind: PMS_SYNC.to_owned(),
                key: format!(
                    "{PMS_SYNC}:{practice}:{}",
                    now.unix_timestamp().div_euclid(seconds)
                ),
                payload: serde_json::to_value(SyncRun {
                    practice: *practice,
                    full: false,
                })
                .unwrap_or_default(),
                run_at: now,
                // Tried once more after a failure of the store's; the next period's
                // run is the real retry.
                max_attempts: 2,
            }
        })
        .collect()
}

/// A daily run's payload: whose run it is, and the instant it was due.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct DailyRun {
    pub(super) practice: PracticeId,
    #[serde(with = "time::serde::rfc3339")]
    pub(super) as_of: time::OffsetDateTime,
}

/// Today's run of `kind` for each practice whose local time `at` has come by `now`,
/// keyed by the practice and its local date (one run per practice per local day;
/// the payload is a [`DailyRun`]).
pub(super) fn daily(
    kind: &str,
    at: DailyAt,
    practices: &[(PracticeId, TimeZone)],
    now: time::OffsetDateTime,
) -> Vec<NewJob> {
    practices
        .iter()
        .filter_map(|(practice, zone)| {
            let (day, slot) = at.due(zone, now)?;
            Some(NewJob {
                kind: kind.to_owned(),
                key: format!("{kind}:{practice}:{day}"),
                payload: serde_json::to_value(DailyRun {
                    practice: *practice,
                    as_of: slot,
                })
                .unwrap_or_default(),
                run_at: slot,
                max_attempts: ATTEMPTS,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use enamel_domain::clock::{Clock as _, ManualClock};
    use time::macros::datetime;

    use super::*;

    fn keys(practices: &[(PracticeId, TimeZone)], clock: &ManualClock) -> Vec<String> {
        daily(FLAG, FLAG_AT, practices, clock.now())
            .into_iter()
            .map(|job| job.key)
            .collect()
    }

    #[test]
    fn each_practice_runs_once_a_day_at_its_own_seven_oclock() {
        let chicago = PracticeId::generate();
        let los_angeles = PracticeId::generate();
        let practices = [
            (chicago, TimeZone::parse("America/Chicago").unwrap()),
            (los_angeles, TimeZone::parse("America/Los_Angeles").unwrap()),
        ];
        // 06:59 in Chicago (CST), 04:59 in Los Angeles: nothing yet.
        let clock = ManualClock::new(datetime!(2026-11-02 12:59 UTC));
        assert!(keys(&practices, &clock).is_empty());
        // 07:00 in Chicago: its run for 2 November, and only its.
        clock.advance(time::Duration::minutes(1));
        assert_eq!(
            keys(&practices, &clock),
            [format!("{FLAG}:{chicago}:2026-11-02")]
        );
        // 07:00 in Los Angeles: both, each under its own local date, so a worker
        // enqueueing again gets the same keys (the queue keeps one run of each).
        clock.set(datetime!(2026-11-02 15:00 UTC));
        assert_eq!(
            keys(&practices, &clock),
            [
                format!("{FLAG}:{chicago}:2026-11-02"),
                format!("{FLAG}:{los_angeles}:2026-11-02")
            ]
        );
        // After midnight in Chicago (06:00 UTC) it is 3 November there but still
        // 2 November in Los Angeles (22:00): no new run until 07:00 local.
        clock.set(datetime!(2026-11-03 06:30 UTC));
        assert_eq!(
            keys(&practices, &clock),
            [format!("{FLAG}:{los_angeles}:2026-11-02")]
        );
        clock.set(datetime!(2026-11-03 08:30 UTC)); // 00:30 in Los Angeles
        assert!(keys(&practices, &clock).is_empty());
    }

    #[test]
    fn the_run_keeps_to_local_time_across_the_spring_change() {
        let chicago = PracticeId::generate();
        let practices = [(chicago, TimeZone::parse("America/Chicago").unwrap())];
        // 7 March, CST: 07:00 is 13:00 UTC.
        let clock = ManualClock::new(datetime!(2026-03-07 13:00 UTC));
        let jobs = daily(FLAG, FLAG_AT, &practices, clock.now());
        assert_eq!(jobs[0].run_at, datetime!(2026-03-07 13:00 UTC));
        // 8 March, CDT from 02:00: 07:00 is 12:00 UTC, and 11:59 UTC is too early.
        clock.set(datetime!(2026-03-08 11:59 UTC));
        assert!(keys(&practices, &clock).is_empty());
        clock.set(datetime!(2026-03-08 12:00 UTC));
        let jobs = daily(FLAG, FLAG_AT, &practices, clock.now());
        assert_eq!(jobs[0].key, format!("{FLAG}:{chicago}:2026-03-08"));
        assert_eq!(jobs[0].run_at, datetime!(2026-03-08 12:00 UTC));
        assert_eq!(
            jobs[0].payload,
            serde_json::json!({ "practice": chicago.to_string(), "as_of": "2026-03-08T12:00:00Z" })
        );
    }
}
