//! The demo network: synthetic practices, staff and patients, generated
//! deterministically from a seed, and the PHI canary scanner built on the same list.
//!
//! Every synthetic patient is recognisable: surnames come from a fixed list of
//! invented words, phones are in the 555-0100..555-0199 range reserved for fiction,
//! and emails are at `example.test`. The scanner looks for exactly these values in
//! logs and output, so the same generator that seeds the demo also proves that none
//! of its PHI leaked.

pub mod export;
pub mod films;
mod generate;
mod names;
mod recovery;
mod referrals;
mod rng;
mod scan;
mod schedule;
mod seed;

pub use generate::{DEFAULT_SEED, DemoLogin, DemoNetwork, DemoPractice, SyntheticPatient};
pub use recovery::{seed_recovery, visit_to_break};
pub use referrals::{DEMO_REFERRALS, FilmDrop, seed_activity};
pub use scan::{CanaryScanner, Finding, PhiKind};
pub use schedule::{DEMO_WAITLIST, seed_office_schedule, seed_schedules};
pub use seed::{DEMO_PASSWORD, SeedOutcome, seed};
