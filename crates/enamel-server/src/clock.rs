//! The time as the server sees it: the domain's one clock (`enamel_domain::clock`),
//! re-exported where the server's callers have always found it.

pub use enamel_domain::clock::{Clock, ManualClock, SystemClock};
