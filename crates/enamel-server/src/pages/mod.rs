//! The staff's pages: signing in, the home page and sessions, people and invitations,
//! the access review, referrals (lists, the new-referral form, one referral with its
//! actions), patients and their records, vendors and BAAs, and the operator's jobs.
//! Server-rendered; every form works without JavaScript (the one script only warns
//! before the idle logoff). A page parses, calls the actor-scoped store or a service,
//! and renders; errors are pages too ([`PageError`]).

mod access_review;
mod agreement;
mod assets;
mod form;
mod home;
mod import;
mod join;
mod lists;
mod new_referral;
mod opendental;
mod operator;
mod patient_record;
mod patients;
mod people;
mod recovery;
mod referral;
mod schedule;
mod security;
mod settings;
mod signing_in;
mod vendors;

use access_review::{access_review_csv, access_review_page, sign_off};
use assets::{css, script};
use home::{end_other_sessions, end_session, home, sessions_page};
use lists::{referrals_page, search_referrals};
use new_referral::{create_referral, new_referral_page};
use patients::{create_patient, patients_page, search_patients};
use people::{
    accept_invitation, change_role, deactivate, invitation_page, invite, require_second_factor,
    unlock, users_page,
};
use referral::{draft_letter, post_message, referral_page, send_portal_link, take_step, upload};
use signing_in::{
    enrol, enrol_page, enrol_pending, enrol_pending_page, ping, second_factor, second_factor_page,
    sign_in, sign_in_page, sign_out,
};
use vendors::{save_vendor, vendors_page};

use askama::Template;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler as _;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use enamel_domain::{ReferralId, Role, Side};
use enamel_store::ReferralSummary;

use crate::{ApiError, AppState};

pub(crate) use crate::http::page::{Chrome, chrome, render, see_other};

/// Every staff page and form.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route(
            "/sign-in/second-factor",
            get(second_factor_page).post(second_factor),
        )
        .route(
            "/sign-in/enrol",
            get(enrol_pending_page).post(enrol_pending),
        )
        .route("/account/second-factor", get(enrol_page).post(enrol))
        .route("/sign-out", post(sign_out))
        .route("/account/ping", get(ping))
        .route("/account/sessions", get(sessions_page))
        .route("/account/sessions/{id}/end", post(end_session))
        .route("/account/sessions/end-others", post(end_other_sessions))
        .merge(schedule_routes())
        .route("/admin/users", get(users_page))
        .route("/admin/users/invite", post(invite))
        .route("/admin/users/{id}/role", post(change_role))
        .route("/admin/users/{id}/deactivate", post(deactivate))
        .route("/admin/users/{id}/unlock", post(unlock))
        .route("/admin/practice/second-factor", post(require_second_factor))
        .route("/invitations/{token}", get(invitation_page))
        .route("/join/{token}", get(join::join_page).post(join::join))
        .route(
            "/directory/invitations",
            get(join::invitations_page).post(join::invite_office),
        )
        .route("/invitations/accept", post(accept_invitation))
        .merge(console_routes())
        .route("/security/access-review", get(access_review_page))
        .route("/security/access-review.csv", get(access_review_csv))
        .route("/security/access-review/sign-off", post(sign_off))
        .route("/assets/enamel.css", get(css))
        .route("/assets/session.js", get(script))
        // Uploads: axum's body limit is off for these two, which stream files and
        // enforce `referrals.attachment_max_bytes` per file and MAX_FILES per form.
        .route(
            "/referrals",
            get(referrals_page).post(create_referral.layer(DefaultBodyLimit::disable())),
        )
        .route("/referrals/new", get(new_referral_page))
        .route("/referrals/search", post(search_referrals))
        .route("/referrals/{id}", get(referral_page))
        .route("/referrals/{id}/print", get(referral::print_page))
        .route("/referrals/{id}/print.pdf", get(referral::print_pdf))
        .route("/referrals/{id}/steps/{step}", post(take_step))
        .route("/referrals/{id}/messages", post(post_message))
        .route(
            "/referrals/{id}/attachments",
            post(upload.layer(DefaultBodyLimit::disable())),
        )
        .route("/referrals/{id}/portal-link", post(send_portal_link))
        .route("/referrals/{id}/letter-draft", post(draft_letter))
        .route("/patients", get(patients_page).post(create_patient))
        .route("/patients/search", post(search_patients))
        .route("/vendors", get(vendors_page).post(save_vendor))
        .route("/patients/{id}", get(patient_record::patient_page))
        .route(
            "/patients/{id}/restriction",
            post(patient_record::restrict_form),
        )
        .route(
            "/patients/{id}/break-glass",
            post(patient_record::break_glass_form),
        )
        .route(
            "/practice/agreement",
            get(agreement::agreement_page).post(agreement::execute),
        )
        .route("/practice/agreement.pdf", get(agreement::executed_copy))
        .route(
            "/practice/settings",
            get(settings::settings_page).post(settings::save_settings),
        )
        .route("/operator/jobs", get(operator::jobs_page))
        .route("/operator/jobs/{id}/retry", post(operator::retry_from_page))
}

/// The schedule, and how it comes in from the practice-management system.
fn schedule_routes() -> Router<AppState> {
    Router::new()
        .route("/schedule", get(schedule::day_page))
        .route(
            "/schedule/appointments/{id}/status",
            post(schedule::set_status),
        )
        .route(
            "/schedule/waitlist",
            get(schedule::waitlist_page).post(schedule::add_to_waitlist),
        )
        .route(
            "/schedule/waitlist/{id}/priority",
            post(schedule::set_priority),
        )
        .route(
            "/schedule/waitlist/{id}/removal",
            post(schedule::remove_from_waitlist),
        )
        .route("/schedule/recalls", get(schedule::recalls_page))
        .route("/schedule/recovery", get(recovery::page))
        .route("/schedule/recovery/settings", post(recovery::save_settings))
        .route("/schedule/recovery/runs", post(recovery::open_slot))
        .route(
            "/schedule/recovery/runs/{id}/withdrawal",
            post(recovery::withdraw),
        )
        .route(
            "/practice/import",
            get(import::import_page).post(import::import_upload.layer(DefaultBodyLimit::disable())),
        )
        .route(
            "/practice/opendental",
            get(opendental::page).post(opendental::connect),
        )
        .route("/practice/opendental/sync", post(opendental::sync_now))
        .route(
            "/practice/opendental/disconnect",
            post(opendental::disconnect),
        )
}

/// The security officer's console and the operator's practices.
fn console_routes() -> Router<AppState> {
    Router::new()
        .route("/security/audit", get(security::audit_page))
        .route("/security/failures", get(security::failures_page))
        .route(
            "/security/patients",
            get(security::picker_page).post(security::pick),
        )
        .route(
            "/security/patients/{id}/disclosures",
            get(security::disclosures_page),
        )
        .route(
            "/security/patients/{id}/disclosures.csv",
            get(security::disclosures_csv),
        )
        .route(
            "/security/patients/{id}/disclosures.pdf",
            get(security::disclosures_pdf),
        )
        .route("/security/alerts", get(security::alerts_page))
        .route("/security/alerts/{id}", post(security::resolve_alert))
        .route(
            "/operator/practices",
            get(operator::practices_page).post(operator::create_practice),
        )
        .route("/operator/practices/{id}", get(operator::practice_page))
        .route(
            "/operator/practices/{id}/admin-invitation",
            post(operator::invite_admin),
        )
        .route(
            "/operator/practices/{id}/agreement.pdf",
            get(operator::executed_copy),
        )
        .route(
            "/operator/practices/{id}/termination",
            post(operator::terminate),
        )
}

/// The most files one form may carry.
const MAX_FILES: usize = 20;

/// An error on a page: the same safe message as the API's problem, as a page.
pub(crate) struct PageError(ApiError);

impl<E: Into<ApiError>> From<E> for PageError {
    fn from(err: E) -> Self {
        Self(err.into())
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct ProblemPage {
    chrome: Chrome,
    heading: &'static str,
    text: String,
    link: (&'static str, &'static str),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, _, heading, text) = self.0.public();
        let mut response = render(&ProblemPage {
            chrome: Chrome::default(),
            heading,
            text,
            link: ("/", "Back to the start page"),
        });
        *response.status_mut() = status;
        response
    }
}

type PageResult = Result<Response, PageError>;

/// `at` in the reader's practice's time zone (`2026-11-29 08:30 CST`), or in UTC for
/// a reader of no practice (the platform operator).
fn stamp(at: time::OffsetDateTime, zone: Option<&enamel_domain::TimeZone>) -> String {
    zone.map_or_else(
        || {
            let format =
                time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
            at.format(&format).unwrap_or_default()
        },
        |zone| zone.stamp(at),
    )
}

/// The time zone the reader's pages show times in: their practice's.
async fn zone_of(
    state: &AppState,
    auth: &crate::auth::Authenticated,
) -> Option<enamel_domain::TimeZone> {
    auth.scoped(&state.store)
        .own_practice()
        .await
        .ok()
        .map(|practice| practice.time_zone)
}

const fn can_refer(role: Role) -> bool {
    matches!(role, Role::Dentist | Role::Hygienist | Role::FrontDesk)
}

pub(crate) fn full_name(patient: &enamel_domain::PatientSummary) -> String {
    format!(
        "{} {}",
        patient.first_name.expose(),
        patient.last_name.expose()
    )
}

pub(crate) fn blank_to_none(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    heading: &'static str,
    text: &'static str,
    link: (&'static str, &'static str),
}

fn message(
    status: StatusCode,
    heading: &'static str,
    text: &'static str,
    link: (&'static str, &'static str),
) -> Response {
    let mut response = render(&MessagePage {
        chrome: Chrome::default(),
        heading,
        text,
        link,
    });
    *response.status_mut() = status;
    response
}

/// A referral as a list shows it: who, the other office, urgency, status, when.
pub(super) struct ReferralRow {
    id: ReferralId,
    patient: String,
    other_office: String,
    urgency: &'static str,
    status: &'static str,
    not_responding: bool,
    attention: bool,
    unread: bool,
    updated: String,
}

impl ReferralRow {
    pub(super) fn of(summary: &ReferralSummary, zone: Option<&enamel_domain::TimeZone>) -> Self {
        let other_office = match summary.side {
            Side::Receiver => &summary.referrer_name,
            Side::Referrer => &summary.receiver_name,
        };
        Self {
            id: summary.id,
            patient: full_name(&summary.patient),
            other_office: other_office.clone(),
            urgency: summary.urgency.label(),
            status: summary.status.label(),
            not_responding: summary.not_responding,
            attention: summary.needs_attention() || summary.unread,
            unread: summary.unread,
            updated: stamp(summary.updated_at, zone),
        }
    }
}

/// A message as a sentence: its first letter capital, a full stop at the end.
pub(super) fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        let mut out = first.to_uppercase().collect::<String>();
        out.push_str(chars.as_str());
        if !out.ends_with('.') {
            out.push('.');
        }
        out
    })
}
