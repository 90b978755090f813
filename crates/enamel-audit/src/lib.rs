//! Enamel's audit log, the parts that need no database: the Merkle tree of RFC 9162
//! (Certificate Transparency v2) over canonically encoded entries, inclusion and
//! consistency proofs, and their verification. An auditor can check an exported log
//! with this crate and the public key alone.

pub mod checkpoint;
pub mod entry;
pub mod merkle;
pub mod purge;
pub mod scan;
pub mod verify;
