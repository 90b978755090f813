//! What every HTML page shares: the layout's chrome (who is signed in, the links
//! their role may follow) and rendering a template into a response.

use askama::Template;
use axum::response::{Html, IntoResponse, Redirect, Response};
use enamel_domain::{Role, User};

use crate::{ApiError, AppState};

/// What the layout shows around every page.
#[derive(Debug, Default)]
pub(crate) struct Chrome {
    pub(crate) name: Option<String>,
    pub(crate) links: Vec<(&'static str, &'static str)>,
    pub(crate) idle_seconds: u64,
}

/// The chrome for `user`'s pages (none for a visitor).
pub(crate) fn chrome(state: &AppState, user: Option<&User>) -> Chrome {
    let Some(user) = user else {
        return Chrome::default();
    };
    let mut links = Vec::new();
    if matches!(user.role, Role::Dentist | Role::Hygienist | Role::FrontDesk) {
        links.push(("/schedule", "Schedule"));
        links.push(("/referrals", "Referrals"));
        links.push(("/patients", "Patients"));
        links.push(("/schedule/recovery", "No-show recovery"));
    }
    if matches!(user.role, Role::PracticeAdmin | Role::SecurityOfficer) {
        links.push(("/vendors", "Vendors and BAAs"));
        links.push(("/practice/agreement", "Our agreement with Enamel"));
    }
    if matches!(user.role, Role::PracticeAdmin | Role::SecurityOfficer) {
        links.push(("/admin/users", "People"));
    }
    if user.role == Role::PracticeAdmin {
        links.push(("/practice/settings", "Office settings"));
        links.push(("/practice/import", "Import the schedule"));
        links.push(("/practice/opendental", "Open Dental"));
        links.push(("/schedule/recovery", "No-show recovery"));
    }
    if user.role == Role::SecurityOfficer {
        links.push(("/security/audit", "Audit log"));
        links.push(("/security/alerts", "Alerts"));
        links.push(("/security/access-review", "Access review"));
    }
    if user.role == Role::PlatformOperator {
        links.push(("/operator/practices", "Practices"));
        links.push(("/operator/jobs", "Background jobs"));
    }
    Chrome {
        name: Some(user.display_name.as_str().to_owned()),
        links,
        idle_seconds: state.sessions.idle_seconds,
    }
}

/// Renders a page; a template error is an unexpected error, not a broken page.
pub(crate) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => ApiError::Unexpected(anyhow::Error::new(err)).into_response(),
    }
}

/// A 303 to `to`, after a form is handled.
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}
