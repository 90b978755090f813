//! The referral inbox and outbox.

use super::{PageResult, ReferralRow, can_refer, zone_of};
use crate::auth::Authenticated;
use crate::http::extract::Query;
use crate::http::page::{Chrome, chrome, render};
use crate::{ApiError, AppState};
use askama::Template;
use axum::extract::State;
use enamel_domain::ReferralStatus;
use enamel_store::ReferralBox;
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct ListQuery {
    #[serde(rename = "box")]
    which: Option<String>,
    status: Option<String>,
}

#[derive(Template)]
#[template(path = "referrals.html")]
pub(super) struct ReferralsPage {
    chrome: Chrome,
    inbox: bool,
    attention: usize,
    can_create: bool,
    status: String,
    statuses: Vec<(&'static str, &'static str)>,
    rows: Vec<ReferralRow>,
}

pub(super) async fn referrals_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let user = auth.person()?;
    let which = match query.which.as_deref() {
        Some("outbox") => ReferralBox::Outbox,
        _ => ReferralBox::Inbox,
    };
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(ReferralStatus::parse)
        .transpose()
        .map_err(ApiError::from)?;
    let found = auth
        .scoped(&state.store)
        .referrals(which, status, 200)
        .await?;
    let zone = zone_of(&state, &auth).await;
    let rows: Vec<ReferralRow> = found
        .iter()
        .map(|s| ReferralRow::of(s, zone.as_ref()))
        .collect();
    Ok(render(&ReferralsPage {
        chrome: chrome(&state, Some(user)),
        inbox: which == ReferralBox::Inbox,
        attention: rows.iter().filter(|r| r.attention).count(),
        can_create: can_refer(user.role),
        status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        statuses: ReferralStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        rows,
    }))
}
