//! Repositories: typed reads and writes of one table each.

pub mod access;
pub mod agreements;
pub mod directory;
pub mod handover;
pub mod identity;
pub mod office_settings;
pub mod onboarding;
pub mod outbox;
pub mod patients;
pub mod practices;
pub mod recovery;
pub mod referrals;
pub mod restriction;
pub mod schedule;
pub mod users;
pub mod vendor_credentials;
pub mod vendors;
