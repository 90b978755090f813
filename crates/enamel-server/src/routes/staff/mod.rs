//! The staff web UI for the referral network: the referral inbox and outbox, the
//! new-referral form with attachments, a referral's detail page with its actions,
//! timeline, messages and previews, the patient list, and the vendor (BAA) page.
//! Server-rendered; every form works without JavaScript. Each page goes through the
//! same actor-scoped repository as the API, so it is authorized and audited alike.

pub(crate) mod lists;
pub(crate) mod new_referral;
pub(crate) mod patients;
pub(crate) mod referral;
pub(crate) mod vendors;

use lists::{full_name, referrals_page};
use new_referral::{attach_field, create_referral, new_referral_page};
use patients::{blank_to_none, create_patient, patients_page, search_patients};
use referral::{draft_letter, post_message, referral_page, send_portal_link, take_step, upload};
use vendors::{save_vendor, vendors_page};

use askama::Template;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler as _;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use enamel_domain::Role;

use crate::routes::web::{Chrome, render};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        // Uploads: axum's body limit is off for these two, which stream files and
        // enforce `referrals.attachment_max_bytes` per file and MAX_FILES per form.
        .route(
            "/referrals",
            get(referrals_page).post(create_referral.layer(DefaultBodyLimit::disable())),
        )
        .route("/referrals/new", get(new_referral_page))
        .route("/referrals/{id}", get(referral_page))
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

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn stamp(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.format(&format).unwrap_or_default()
}

const fn can_refer(role: Role) -> bool {
    matches!(role, Role::Dentist | Role::Hygienist | Role::FrontDesk)
}
