//! Enamel's outbound adapters. Each names the vendor it sends to, so that the BAA
//! registry can gate it: nothing that may carry PHI leaves for a vendor without an
//! executed agreement.

pub mod kms;

pub use kms::AwsKms;
