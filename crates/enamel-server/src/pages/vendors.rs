//! The BAA registry's page: vendors and their agreements.

use super::{PageResult, blank_to_none, see_other, stamp, zone_of};
use crate::auth::Authenticated;
use crate::http::extract::Form;
use crate::http::page::{Chrome, chrome, render};
use crate::{ApiError, AppState};
use askama::Template;
use axum::extract::State;
use enamel_domain::{Role, VendorName};
use enamel_store::{BaaStatus, VendorEntry};
use serde::Deserialize;

pub(super) struct VendorView {
    name: String,
    display_name: String,
    services: String,
    status: &'static str,
    executed_on: String,
    expires_on: String,
    document_ref: String,
    may_receive: bool,
}

#[derive(Template)]
#[template(path = "vendors.html")]
pub(super) struct VendorsPage {
    chrome: Chrome,
    vendors: Vec<VendorView>,
    problems: Vec<String>,
    can_manage: bool,
    statuses: Vec<&'static str>,
}

pub(super) async fn vendors_page(State(state): State<AppState>, auth: Authenticated) -> PageResult {
    let user = auth.person()?;
    let scoped = auth.scoped(&state.store);
    let today = state.clock.now().date();
    let date = |d: Option<time::Date>| d.map(|d| d.to_string()).unwrap_or_default();
    let vendors = scoped
        .vendors()
        .await?
        .into_iter()
        .map(|v| VendorView {
            may_receive: v.may_receive_phi(today),
            name: v.name.as_str().to_owned(),
            display_name: v.display_name,
            services: v.services,
            status: v.baa_status.as_str(),
            executed_on: date(v.executed_on),
            expires_on: date(v.expires_on),
            document_ref: v.document_ref.unwrap_or_default(),
        })
        .collect();
    let zone = zone_of(&state, &auth).await;
    let problems = scoped
        .notifications(200)
        .await?
        .into_iter()
        .filter(|m| m.status == "refused")
        .map(|m| {
            format!(
                "{} {} notice on {} was not sent: {} has no executed BAA.",
                m.channel.as_str(),
                m.kind.replace('_', " "),
                stamp(m.created_at, zone.as_ref()),
                m.vendor.as_deref().unwrap_or("its vendor"),
            )
        })
        .collect();
    Ok(render(&VendorsPage {
        chrome: chrome(&state, Some(user)),
        vendors,
        problems,
        can_manage: user.role == Role::SecurityOfficer,
        statuses: BaaStatus::ALL.iter().map(|s| s.as_str()).collect(),
    }))
}

#[derive(Deserialize)]
pub(super) struct VendorForm {
    name: String,
    display_name: String,
    services: String,
    baa_status: String,
    executed_on: Option<String>,
    expires_on: Option<String>,
    document_ref: Option<String>,
}

pub(super) async fn save_vendor(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<VendorForm>,
) -> PageResult {
    let date = |raw: Option<String>, what: &'static str| {
        blank_to_none(raw)
            .map(|d| {
                time::Date::parse(&d, &time::format_description::well_known::Iso8601::DATE).map_err(
                    |_| {
                        ApiError::InvalidInput(enamel_domain::InvalidValue::new(
                            what,
                            "must be a date as YYYY-MM-DD",
                        ))
                    },
                )
            })
            .transpose()
    };
    let entry = VendorEntry {
        name: VendorName::parse(&form.name).map_err(ApiError::from)?,
        display_name: form.display_name,
        services: form.services,
        baa_status: BaaStatus::parse(&form.baa_status).map_err(ApiError::from)?,
        executed_on: date(form.executed_on, "executed on")?,
        expires_on: date(form.expires_on, "expires on")?,
        document_ref: blank_to_none(form.document_ref),
    };
    auth.scoped(&state.store)
        .put_vendor(&entry, state.clock.now())
        .await?;
    Ok(see_other("/vendors"))
}
