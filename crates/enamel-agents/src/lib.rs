//! Enamel's background work: a jobs runtime over the store's durable queue
//! (`enamel_store::Jobs`), and the jobs it runs.
//!
//! `enamel serve` runs the runtime beside the HTTP server in one process; `enamel
//! serve --no-jobs` leaves it out and `enamel worker` runs it alone, so an
//! installation can run several web processes and several workers on one
//! PostgreSQL. Each job acts through the same store (and, for practice data, the same
//! scoped repository and audit log) as a person would.

pub mod jobs;
pub mod pms;
pub mod runtime;

pub use jobs::deliver::Senders;
pub use runtime::{Ran, Runtime, RuntimeSettings};
