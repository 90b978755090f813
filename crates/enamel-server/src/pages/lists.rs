//! The referral inbox and outbox: filtered by status, the other office and the date
//! it was created, searched by the patient's name, a page at a time. The search
//! form is a POST (`/referrals/search`), so a patient's name is never in a URL.

use super::{PageResult, ReferralRow, can_refer, zone_of};
use crate::auth::Authenticated;
use crate::http::extract::{Form, Query, parse_date};
use crate::http::page::{Chrome, chrome, render};
use crate::{ApiError, AppState};
use askama::Template;
use axum::extract::State;
use enamel_domain::{Phi, PracticeId, ReferralStatus, TimeZone};
use enamel_store::{ReferralBox, ReferralQuery};
use serde::Deserialize;

/// Referrals per page.
const PER_PAGE: u32 = 25;

/// The box and its filters, from the tabs' links or the search form.
#[derive(Deserialize, Default, Clone)]
pub(super) struct ListQuery {
    #[serde(rename = "box", default)]
    which: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    office: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// Only in the search form's body, never in a URL.
    #[serde(default)]
    patient: String,
    #[serde(default)]
    page: u32,
}

#[derive(Template)]
#[template(path = "referrals.html")]
pub(super) struct ReferralsPage {
    chrome: Chrome,
    inbox: bool,
    attention: usize,
    can_create: bool,
    query: ListQuery,
    statuses: Vec<(&'static str, &'static str)>,
    offices: Vec<(String, String)>,
    rows: Vec<ReferralRow>,
    more: bool,
    mistake: Option<String>,
}

pub(super) async fn referrals_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(mut query): Query<ListQuery>,
) -> PageResult {
    // A name is searched only from the form's body, never from a URL.
    query.patient.clear();
    list(&state, &auth, query).await
}

pub(super) async fn search_referrals(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(query): Form<ListQuery>,
) -> PageResult {
    list(&state, &auth, query).await
}

/// The instant a local date starts in the practice's zone.
fn start_of(date: time::Date, zone: Option<&TimeZone>) -> time::OffsetDateTime {
    let local = time::PrimitiveDateTime::new(date, time::Time::MIDNIGHT);
    zone.map_or_else(|| local.assume_utc(), |zone| zone.instant(local))
}

fn store_query(
    query: &ListQuery,
    which: ReferralBox,
    zone: Option<&TimeZone>,
) -> Result<ReferralQuery, ApiError> {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(ReferralQuery {
        which,
        status: text(&query.status)
            .map(|s| ReferralStatus::parse(&s))
            .transpose()?,
        office: text(&query.office)
            .map(|o| o.parse::<PracticeId>())
            .transpose()
            .map_err(|_| {
                ApiError::InvalidInput(enamel_domain::InvalidValue::new(
                    "office",
                    "is not one of the offices listed",
                ))
            })?,
        from: text(&query.from)
            .map(|d| parse_date(&d, "start date").map(|d| start_of(d, zone)))
            .transpose()?,
        to: text(&query.to)
            .map(|d| parse_date(&d, "end date").map(|d| start_of(d.next_day().unwrap_or(d), zone)))
            .transpose()?,
        patient: text(&query.patient).map(Phi::new),
        limit: PER_PAGE,
        offset: query.page.saturating_mul(PER_PAGE),
    })
}

async fn list(state: &AppState, auth: &Authenticated, query: ListQuery) -> PageResult {
    let user = auth.person()?;
    let which = if query.which == "outbox" {
        ReferralBox::Outbox
    } else {
        ReferralBox::Inbox
    };
    let zone = zone_of(state, auth).await;
    let scoped = auth.scoped(&state.store);
    let (found, mistake) = match store_query(&query, which, zone.as_ref()) {
        Ok(search) => (Some(scoped.find_referrals(&search).await?), None),
        Err(ApiError::InvalidInput(invalid)) => (
            None,
            Some(super::sentence(&format!(
                "the {} {}",
                invalid.what, invalid.why
            ))),
        ),
        Err(err) => return Err(err.into()),
    };
    let (rows, more) = found.map_or_else(
        || (Vec::new(), false),
        |page| {
            let rows: Vec<ReferralRow> = page
                .referrals
                .iter()
                .map(|s| ReferralRow::of(s, zone.as_ref()))
                .collect();
            (rows, page.more)
        },
    );
    let offices = scoped
        .referral_offices(which)
        .await?
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect();
    let failed = mistake.is_some();
    let mut response = render(&ReferralsPage {
        chrome: chrome(state, Some(user)),
        inbox: which == ReferralBox::Inbox,
        attention: rows.iter().filter(|r| r.attention).count(),
        can_create: can_refer(user.role),
        query,
        statuses: ReferralStatus::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        offices,
        rows,
        more,
        mistake,
    });
    if failed {
        *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}
