//! The security officer's quarterly access review: the page, its CSV and the sign-off.

use askama::Template;
use axum::extract::State;
use enamel_store::IDLE_FLAG_DAYS;

use super::{Chrome, PageResult, chrome, render, see_other, stamp, zone_of};
use crate::AppState;
use crate::auth::Authenticated;
use crate::http::csv_download;
use crate::services::access_review::{self, ReviewLine};

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

pub(super) async fn access_review_page(
    State(state): State<AppState>,
    auth: Authenticated,
) -> PageResult {
    let user = auth.person()?;
    let rows = access_review::lines(&state, &auth).await?;
    let scoped = auth.scoped(&state.store);
    let zone = zone_of(&state, &auth).await;
    let sign_offs = scoped
        .review_sign_offs()
        .await?
        .into_iter()
        .map(|s| {
            format!(
                "{}: {} accounts, {} flagged",
                stamp(s.signed_off_at, zone.as_ref()),
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
                stamp(a.created_at, zone.as_ref()),
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

/// The review as a CSV download, for the practice's compliance records.
pub(super) async fn access_review_csv(
    State(state): State<AppState>,
    auth: Authenticated,
) -> PageResult {
    let rows = access_review::lines(&state, &auth).await?;
    Ok(csv_download("access-review.csv", access_review::csv(&rows)))
}

pub(super) async fn sign_off(State(state): State<AppState>, auth: Authenticated) -> PageResult {
    access_review::sign_off(&state, &auth).await?;
    Ok(see_other("/security/access-review"))
}
