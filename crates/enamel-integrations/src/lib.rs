//! Enamel's outbound adapters. Each names the vendor it sends to, so that the BAA
//! registry can gate it: nothing that may carry PHI leaves for a vendor without an
//! executed agreement.
//!
//! - [`email`]: SMTP (any relay, SES's SMTP interface among them).
//! - [`sms`]: Twilio's Messages API, its webhook signature and opt-out keywords.
//! - [`fax`]: `SRFax`'s `Queue_Fax`.
//! - [`objects`]: attachment ciphertext on the file system or an S3-compatible store.
//! - [`kms`]: AWS KMS as the key provider.
//! - [`opendental`]: Open Dental's REST API, the practice's schedule and write-backs.
//!
//! The notification adapters share [`notify::SendError`], whose variants tell an
//! outbox whether to retry, give up, or stop messaging a recipient who opted out.

pub mod ai;
pub mod email;
pub mod fax;
pub mod kms;
pub mod notify;
pub mod objects;
pub mod opendental;
pub mod pdf;
pub mod sms;

pub use ai::{Assistant, AssistantSettings};
pub use email::{SmtpMailer, SmtpSecurity, SmtpSettings};
pub use fax::{SrFax, SrFaxSettings};
pub use kms::AwsKms;
pub use notify::{Delivered, SendError, SetupError};
pub use objects::{ObjectError, ObjectStore, S3Credentials, S3Settings};
pub use opendental::{OpenDental, OpenDentalError, OpenDentalSettings};
pub use sms::{InboundKeyword, Twilio, TwilioSender, TwilioSettings};
