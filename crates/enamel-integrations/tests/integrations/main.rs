//! Outbound adapters against real local servers.

mod email;
mod fax;
mod kms;
mod objects;
mod opendental;
mod sms;
mod support;
