//! Who may do what in a practice: invitations, roles, deactivation, lockouts, agent
//! tokens, the access review, break-glass grants and security alerts. Each operation
//! asks the policy decision point first, and writes its audit event in the same
//! transaction as its change.

pub(crate) mod accounts;
mod agents;
mod alerts;
mod break_glass;
mod console;
mod review;

pub use agents::{AgentInfo, TokenInfo};
pub use alerts::Alert;
pub use console::{ALERT_NOTE_MAX, AlertDetail, AlertResolution};
pub use review::{IDLE_FLAG_DAYS, ReviewRow, SignOff};
