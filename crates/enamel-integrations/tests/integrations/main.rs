//! Outbound adapters against real local servers.

mod email;
mod fax;
mod kms;
mod objects;
mod sms;
mod support;
