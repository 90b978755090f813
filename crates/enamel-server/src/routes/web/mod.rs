//! The staff web UI for identity and access: sign-in, second factor, sessions,
//! people and invitations, the access review. Server-rendered; every form works
//! without JavaScript (the one script only warns before the idle logoff).

pub(crate) mod access_review;
pub(crate) mod assets;
pub(crate) mod home;
pub(crate) mod people;
pub(crate) mod signing_in;

pub(crate) use access_review::{ReviewLine, access_review_csv, review_lines, sign_off_review};
use access_review::{access_review_page, sign_off};
use assets::{css, script};
pub(crate) use home::{authorize_self, when};
use home::{end_other_sessions, end_session, home, sessions_page};
pub(crate) use people::{INVITATION_HOURS, InviteForm, create_invitation};
use people::{
    accept_invitation, change_role, deactivate, invitation_page, invite, require_second_factor,
    unlock, users_page,
};
use signing_in::{
    enrol, enrol_page, enrol_pending, enrol_pending_page, ping, second_factor, second_factor_page,
    sign_in, sign_in_page, sign_out,
};

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use enamel_domain::{Role, User};

use crate::{ApiError, AppState};

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
        .route("/admin/users", get(users_page))
        .route("/admin/users/invite", post(invite))
        .route("/admin/users/{id}/role", post(change_role))
        .route("/admin/users/{id}/deactivate", post(deactivate))
        .route("/admin/users/{id}/unlock", post(unlock))
        .route("/admin/practice/second-factor", post(require_second_factor))
        .route("/invitations/{token}", get(invitation_page))
        .route("/invitations/accept", post(accept_invitation))
        .route("/security/access-review", get(access_review_page))
        .route("/security/access-review.csv", get(access_review_csv))
        .route("/security/access-review/sign-off", post(sign_off))
        .route("/assets/enamel.css", get(css))
        .route("/assets/session.js", get(script))
}

/// What the layout shows around every page.
#[derive(Debug, Default)]
pub(crate) struct Chrome {
    pub(crate) name: Option<String>,
    pub(crate) links: Vec<(&'static str, &'static str)>,
    pub(crate) idle_seconds: u64,
}

pub(crate) fn chrome(state: &AppState, user: Option<&User>) -> Chrome {
    let Some(user) = user else {
        return Chrome::default();
    };
    let mut links = Vec::new();
    if matches!(user.role, Role::Dentist | Role::Hygienist | Role::FrontDesk) {
        links.push(("/referrals", "Referrals"));
        links.push(("/patients", "Patients"));
    }
    if matches!(user.role, Role::PracticeAdmin | Role::SecurityOfficer) {
        links.push(("/vendors", "Vendors and BAAs"));
    }
    if matches!(user.role, Role::PracticeAdmin | Role::SecurityOfficer) {
        links.push(("/admin/users", "People"));
    }
    if user.role == Role::SecurityOfficer {
        links.push(("/security/access-review", "Access review"));
    }
    if user.role == Role::PlatformOperator {
        links.push(("/operator/jobs", "Background jobs"));
    }
    Chrome {
        name: Some(user.display_name.as_str().to_owned()),
        links,
        idle_seconds: state.sessions.idle_seconds,
    }
}

pub(crate) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => ApiError::Unexpected(anyhow::Error::new(err)).into_response(),
    }
}

fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
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
