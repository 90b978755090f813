//! Outbound adapters against real local servers.

mod kms;
