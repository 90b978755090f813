//! The quarterly access review: one line per account, its CSV, and the sign-off,
//! which the store counts and records. The API and the page both call these.

use crate::auth::Authenticated;
use crate::http::when;
use crate::{ApiError, AppState};

/// One account of the access review (staff, no secrets); JSON names are the CSV's columns.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ReviewLine {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) role: &'static str,
    /// The role as a person reads it, for the page (the CSV and JSON keep the code).
    #[serde(skip)]
    pub(crate) role_label: &'static str,
    pub(crate) status: &'static str,
    #[serde(rename = "second_factor")]
    pub(crate) mfa: &'static str,
    pub(crate) last_sign_in: String,
    #[serde(rename = "last_phi_access")]
    pub(crate) last_phi: String,
    #[serde(rename = "idle_90_days")]
    pub(crate) idle: bool,
}

/// The review's lines for the actor's practice (the store authorizes and audits).
pub(crate) async fn lines(
    state: &AppState,
    auth: &Authenticated,
) -> Result<Vec<ReviewLine>, ApiError> {
    let rows = auth
        .scoped(&state.store)
        .access_review(state.clock.now())
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| ReviewLine {
            name: r.user.display_name.as_str().to_owned(),
            email: r.user.email.as_str().to_owned(),
            role: r.user.role.as_str(),
            role_label: r.user.role.label(),
            status: r.user.status.as_str(),
            mfa: if r.mfa_enabled { "on" } else { "off" },
            last_sign_in: r.last_sign_in_at.map_or_else(|| "never".into(), when),
            last_phi: r.last_phi_access_at.map_or_else(|| "never".into(), when),
            idle: r.idle,
        })
        .collect())
}

/// The review as CSV (RFC 4180), for the practice's compliance records.
pub(crate) fn csv(rows: &[ReviewLine]) -> String {
    fn field(value: &str) -> String {
        // Quote every field; neutralize spreadsheet formulas.
        let value = if value.starts_with(['=', '+', '-', '@']) {
            format!("'{value}")
        } else {
            value.to_owned()
        };
        format!("\"{}\"", value.replace('"', "\"\""))
    }
    let mut out = String::from(
        "name,email,role,status,second_factor,last_sign_in,last_phi_access,idle_90_days\r\n",
    );
    for r in rows {
        let line = [
            field(&r.name),
            field(&r.email),
            field(r.role),
            field(r.status),
            field(r.mfa),
            field(&r.last_sign_in),
            field(&r.last_phi),
            field(if r.idle { "yes" } else { "no" }),
        ];
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Records the security officer's sign-off of today's review.
pub(crate) async fn sign_off(state: &AppState, auth: &Authenticated) -> Result<(), ApiError> {
    auth.scoped(&state.store)
        .sign_off_review(state.clock.now())
        .await?;
    Ok(())
}
