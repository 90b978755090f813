//! No-show recovery's matching at a busy group's size (issue 18): 1,000 open slots
//! against 100,000 waitlist entries (three providers and "any", six appointment
//! types and "any", mixed availability, dates and booked visits), the best 50 entries
//! for each slot. Reports the time to index the list and to match every slot; the
//! issue's goal is under 250 ms on the 2-core machine. Made-up data, in memory.
//!
//! Run with `cargo bench -p enamel-domain --bench matching`.

#![allow(
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss,
    clippy::missing_panics_doc
)]

use std::time::Instant;

use enamel_domain::recovery::{Candidate, Matcher, OpenSlot};
use enamel_domain::{
    AppointmentTypeId, Availability, Minutes, PatientId, ProviderId, WaitlistEntryId,
};
use time::macros::{date, datetime};
use time::{Duration, Time};

/// `SplitMix64`: a fixed, seedable sequence without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn main() {
    const ENTRIES: usize = 100_000;
    const SLOTS: usize = 1_000;
    const BEST: usize = 50;
    let mut rng = Rng(17);
    let providers: Vec<ProviderId> = (0..3).map(|_| ProviderId::generate()).collect();
    let types: Vec<AppointmentTypeId> = (0..6).map(|_| AppointmentTypeId::generate()).collect();
    let days = ["any", "mon,wed,fri", "tue,thu", "mon,tue,wed,thu,fri"];
    let times = ["any", "morning", "afternoon", "morning,afternoon"];
    let first_day = date!(2026 - 12 - 01);
    let candidates: Vec<Candidate> = (0..ENTRIES)
        .map(|n| {
            let busy = (0..rng.below(3))
                .map(|_| {
                    let start = datetime!(2026-12-01 14:00 UTC)
                        + Duration::hours(rng.below(24 * 30) as i64);
                    (start, start + Duration::hours(1))
                })
                .collect();
            Candidate {
                entry: WaitlistEntryId::generate(),
                patient: PatientId::generate(),
                kind: (rng.below(4) != 0).then(|| types[rng.below(6) as usize]),
                duration: Minutes::new([30, 60, 90][rng.below(3) as usize]).unwrap(),
                provider: (rng.below(3) != 0).then(|| providers[rng.below(3) as usize]),
                earliest: Some(first_day + Duration::days(rng.below(10) as i64)),
                latest: (rng.below(2) == 0)
                    .then(|| first_day + Duration::days(10 + rng.below(30) as i64)),
                availability: Availability::parse(
                    days[rng.below(4) as usize],
                    times[rng.below(4) as usize],
                )
                .unwrap(),
                priority: 1 + rng.below(9) as u8,
                joined_at: datetime!(2026-06-01 00:00 UTC) + Duration::minutes(n as i64),
                moves_from: (rng.below(5) == 0).then(|| {
                    datetime!(2026-12-15 15:00 UTC) + Duration::days(rng.below(30) as i64)
                }),
                busy,
                declined: rng.below(50) == 0,
                offered_recently: rng.below(20) == 0,
            }
        })
        .collect();
    let slots: Vec<OpenSlot> = (0..SLOTS)
        .map(|_| {
            let day = first_day + Duration::days(rng.below(14) as i64);
            let local = day.with_time(Time::from_hms(8 + rng.below(9) as u8, 0, 0).unwrap());
            OpenSlot {
                provider: providers[rng.below(3) as usize],
                kind: (rng.below(3) != 0).then(|| types[rng.below(6) as usize]),
                local_start: local,
                starts_at: local.assume_utc() + Duration::hours(6),
                length: Minutes::new([30, 60, 90][rng.below(3) as usize]).unwrap(),
            }
        })
        .collect();

    let mut runs = Vec::new();
    let mut offered = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let matcher = Matcher::new(&candidates);
        let indexed = started.elapsed();
        offered = slots
            .iter()
            .map(|slot| matcher.best(slot, BEST).len())
            .sum::<usize>();
        runs.push((indexed, started.elapsed()));
    }
    runs.sort_by_key(|(_, total)| *total);
    let (indexed, total) = runs[runs.len() / 2];
    println!(
        "{SLOTS} slots against {ENTRIES} waitlist entries, best {BEST} each ({offered} offers in all):"
    );
    println!(
        "  median of 5 runs: {:.1} ms (indexing {:.1} ms), {:.1} µs a slot",
        total.as_secs_f64() * 1e3,
        indexed.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e6 / SLOTS as f64
    );
    println!("  goal: under 250 ms");
}
