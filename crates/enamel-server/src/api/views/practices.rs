//! Practices as the API shows them: a practice's executed agreement, and each
//! practice as the platform operator sees it (no patient, no PHI).

use enamel_store::{AdminStatus, ExecutedAgreement, PracticeOverview};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// An executed agreement: who signed, when, from where, which text.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ExecutedView {
    signer_id: String,
    signer_name: String,
    signer_title: String,
    /// RFC 3339, UTC.
    executed_at: String,
    ip_address: Option<String>,
    version: String,
    sha256: String,
}

impl From<ExecutedAgreement> for ExecutedView {
    fn from(e: ExecutedAgreement) -> Self {
        Self {
            signer_id: e.signer.to_string(),
            signer_name: e.signer_name,
            signer_title: e.signer_title,
            executed_at: rfc3339(e.executed_at),
            ip_address: e.ip_address,
            version: e.version,
            sha256: e.sha256,
        }
    }
}

/// Where a practice's administrator stands.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AdminView {
    /// `not_invited`, `invited`, `expired` (invite again) or `active`.
    status: &'static str,
    email: Option<String>,
    /// When the invitation link stops working (RFC 3339), while `invited`.
    expires_at: Option<String>,
}

impl From<AdminStatus> for AdminView {
    fn from(status: AdminStatus) -> Self {
        let (status, email, expires_at) = match status {
            AdminStatus::NotInvited => ("not_invited", None, None),
            AdminStatus::Invited { email, expires_at } => {
                ("invited", Some(email), Some(rfc3339(expires_at)))
            }
            AdminStatus::Expired { email } => ("expired", Some(email), None),
            AdminStatus::Active { email } => ("active", Some(email), None),
        };
        Self {
            status,
            email,
            expires_at,
        }
    }
}

/// A practice as the platform operator sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PracticeView {
    id: String,
    name: String,
    /// `general` or a specialty.
    specialty: &'static str,
    npi: String,
    city: String,
    state: String,
    time_zone: String,
    /// RFC 3339, UTC.
    created_at: String,
    /// The executed business associate agreement; until there is one, no PHI may
    /// enter the practice.
    agreement: Option<ExecutedView>,
    /// When its agreement was terminated (RFC 3339), once none is in force.
    terminated_at: Option<String>,
    admin: AdminView,
    /// Active staff accounts.
    staff: u64,
}

impl From<PracticeOverview> for PracticeView {
    fn from(o: PracticeOverview) -> Self {
        Self {
            id: o.practice.id.to_string(),
            name: o.practice.name.as_str().to_owned(),
            specialty: o.practice.kind.as_str(),
            npi: o.practice.npi.as_str().to_owned(),
            city: o.practice.address.city.clone(),
            state: o.practice.address.state.code().to_owned(),
            time_zone: o.practice.time_zone.name().to_owned(),
            created_at: rfc3339(o.practice.created_at),
            agreement: o.agreement.map(ExecutedView::from),
            terminated_at: o.terminated_at.map(rfc3339),
            admin: o.admin.into(),
            staff: o.staff,
        }
    }
}
