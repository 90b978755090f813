//! The jobs, one module each, each with one entry point the runtime calls.

pub mod audit_index;
pub mod checkpoint;
pub mod deliver;
pub mod flag;
pub mod pms_sync;
pub mod recovery;
