//! The security officer's quarterly access review: the page, its CSV and the sign-off.

use super::{Chrome, chrome, render, see_other, when};
use crate::auth::Authenticated;
use crate::{ApiError, AppState};
use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use enamel_store::IDLE_FLAG_DAYS;

/// One account of the access review (staff, no secrets); JSON names are the CSV's columns.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ReviewLine {
    name: String,
    email: String,
    role: &'static str,
    /// The role as a person reads it, for the page (the CSV and JSON keep the code).
    #[serde(skip)]
    role_label: &'static str,
    status: &'static str,
    #[serde(rename = "second_factor")]
    mfa: &'static str,
    last_sign_in: String,
    #[serde(rename = "last_phi_access")]
    last_phi: String,
    #[serde(rename = "idle_90_days")]
    idle: bool,
}

#[derive(Template)]
#[template(path = "access_review.html")]
pub(super) struct AccessReviewPage {
    chrome: Chrome,
    practice: String,
    rows: Vec<ReviewLine>,
    flagged: usize,
    idle_days: i64,
    sign_offs: Vec<String>,
    alerts: Vec<String>,
}

pub(crate) async fn review_lines(
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

pub(super) async fn access_review_page(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    let user = auth.person()?;
    let rows = review_lines(&state, &auth).await?;
    let scoped = auth.scoped(&state.store);
    let sign_offs = scoped
        .review_sign_offs()
        .await?
        .into_iter()
        .map(|s| {
            format!(
                "{}: {} accounts, {} flagged",
                when(s.signed_off_at),
                s.accounts,
                s.flagged
            )
        })
        .collect();
    let alerts = scoped
        .alerts()
        .await?
        .into_iter()
        .map(|a| {
            format!(
                "{}: {} (account {})",
                when(a.created_at),
                a.kind.replace('_', " "),
                a.subject
            )
        })
        .collect();
    Ok(render(&AccessReviewPage {
        chrome: chrome(&state, Some(user)),
        practice: scoped.own_practice().await?.name.as_str().to_owned(),
        flagged: rows.iter().filter(|r| r.idle).count(),
        rows,
        idle_days: IDLE_FLAG_DAYS,
        sign_offs,
        alerts,
    }))
}

/// The review as CSV (RFC 4180), for the practice's compliance records.
pub(super) fn review_csv(rows: &[ReviewLine]) -> String {
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

#[utoipa::path(
    get,
    path = "/api/v1/access-review.csv",
    tag = "compliance",
    summary = "The access review as CSV",
    responses(
        (status = 200, description = "CSV, one row per account", body = String, content_type = "text/csv"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn access_review_csv(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    let rows = review_lines(&state, &auth).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"access-review.csv\"",
            ),
        ],
        review_csv(&rows),
    )
        .into_response())
}

pub(crate) async fn sign_off_review(
    state: &AppState,
    auth: &Authenticated,
) -> Result<(), ApiError> {
    auth.scoped(&state.store)
        .sign_off_review(state.clock.now())
        .await?;
    Ok(())
}

pub(super) async fn sign_off(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    sign_off_review(&state, &auth).await?;
    Ok(see_other("/security/access-review"))
}
