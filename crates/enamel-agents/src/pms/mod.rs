//! The practice's schedule from its practice-management system: the records as
//! the PMS names their fields ([`records`]), shared by the CSV import and the Open
//! Dental sync ([`sync`]), which runs as the `pms-sync` agent.

pub mod records;
pub mod sync;

pub use records::{FieldMap, Fields, ImportKind, RecordError, import_record};
