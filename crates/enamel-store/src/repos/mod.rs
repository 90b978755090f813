//! Repositories: typed reads and writes of one table each.

pub mod access;
pub mod identity;
pub mod practices;
pub mod scoped;
pub mod users;
pub mod vendor_credentials;
