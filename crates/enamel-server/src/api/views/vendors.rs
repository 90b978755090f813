//! The BAA registry and the practice's notifications as the API shows them.

use enamel_store::{BaaStatus, Channel, MessageStatus, Vendor};
use serde::Serialize;
use time::{Date, OffsetDateTime};

/// The BAA registry: the practice's vendors and their agreements.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct VendorList {
    pub(crate) vendors: Vec<VendorView>,
}

/// A vendor and its BAA, and whether PHI may go to it today; never its credentials.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct VendorView {
    id: String,
    /// The vendor's key, e.g. `twilio`.
    name: String,
    display_name: String,
    services: String,
    /// `none`, `pending`, `executed` or `terminated`.
    #[schema(value_type = String)]
    baa_status: BaaStatus,
    /// `[year, day of the year]`, the compact form of the `time` crate (not an ISO date).
    #[schema(value_type = Option<Vec<i32>>)]
    executed_on: Option<Date>,
    /// `[year, day of the year]`, as `executed_on`.
    #[schema(value_type = Option<Vec<i32>>)]
    expires_on: Option<Date>,
    document_ref: Option<String>,
    /// `[year, day of the year, hour, minute, second, nanosecond, offset hours, offset
    /// minutes, offset seconds]`, the compact form of the `time` crate.
    #[schema(value_type = Vec<i64>)]
    updated_at: OffsetDateTime,
    /// An executed agreement that has not expired.
    may_receive_phi: bool,
}

impl VendorView {
    /// The vendor as the registry shows it on `today`.
    pub(crate) fn of(vendor: &Vendor, today: Date) -> Self {
        Self {
            id: vendor.id.to_string(),
            name: String::from(vendor.name.clone()),
            display_name: vendor.display_name.clone(),
            services: vendor.services.clone(),
            baa_status: vendor.baa_status,
            executed_on: vendor.executed_on,
            expires_on: vendor.expires_on,
            document_ref: vendor.document_ref.clone(),
            updated_at: vendor.updated_at,
            may_receive_phi: vendor.may_receive_phi(today),
        }
    }
}

/// The practice's notifications, refusals repeated as problems; never recipients or words.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct NotificationList {
    pub(crate) notifications: Vec<NotificationView>,
    pub(crate) problems: Vec<NotificationView>,
}

/// A notification's state as its practice sees it: never the recipient or the words.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct NotificationView {
    id: String,
    /// `email`, `sms` or `fax`.
    #[schema(value_type = String)]
    channel: Channel,
    kind: String,
    referral: Option<String>,
    /// `pending`, `sending`, `sent`, `failed` or `refused`.
    status: String,
    attempts: i64,
    last_error: Option<String>,
    vendor: Option<String>,
    /// The compact form of the `time` crate, as `VendorView.updated_at`.
    #[schema(value_type = Vec<i64>)]
    created_at: OffsetDateTime,
    /// As `created_at`.
    #[schema(value_type = Option<Vec<i64>>)]
    sent_at: Option<OffsetDateTime>,
}

impl From<&MessageStatus> for NotificationView {
    fn from(message: &MessageStatus) -> Self {
        Self {
            id: message.id.to_string(),
            channel: message.channel,
            kind: message.kind.clone(),
            referral: message.referral.map(|r| r.to_string()),
            status: message.status.clone(),
            attempts: message.attempts,
            last_error: message.last_error.clone(),
            vendor: message.vendor.clone(),
            created_at: message.created_at,
            sent_at: message.sent_at,
        }
    }
}
