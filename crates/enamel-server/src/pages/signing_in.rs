//! Signing in: password, second factor, enrolment on first sign-in, sign-out.

use super::{Chrome, PageResult, chrome, render, see_other, with_cookie};
use crate::auth::sign_in::{self, PasswordStep};
use crate::auth::{
    Authenticated, Client, PendingSignIn, clear_cookie, cookie_token, session_cookie,
};
use crate::http::extract::{Form, Query};
use crate::{ApiError, AppState};
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use enamel_domain::User;
use enamel_store::EndReason;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "sign_in.html")]
pub(super) struct SignInPage {
    chrome: Chrome,
    message: Option<&'static str>,
}

pub(super) async fn sign_in_page() -> Response {
    render(&SignInPage {
        chrome: Chrome::default(),
        message: None,
    })
}

#[derive(Deserialize)]
pub(super) struct SignInForm {
    email: String,
    password: String,
}

pub(super) async fn sign_in(
    State(state): State<AppState>,
    Client(context): Client,
    form: Result<Form<SignInForm>, ApiError>,
) -> PageResult {
    let Form(SignInForm { email, password }) =
        form.map_err(|_| ApiError::Rejected("enter an email and a password".into()))?;
    let step = sign_in::password(&state, &email, password, &context).await?;
    Ok(match step {
        PasswordStep::SignedIn(token) => {
            with_cookie(see_other("/"), session_cookie(&token, state.tls))
        }
        PasswordStep::SecondFactor(token) => with_cookie(
            see_other("/sign-in/second-factor"),
            session_cookie(&token, state.tls),
        ),
        PasswordStep::Enrol(token) => with_cookie(
            see_other("/sign-in/enrol"),
            session_cookie(&token, state.tls),
        ),
        PasswordStep::Refused => {
            let mut response = render(&SignInPage {
                chrome: Chrome::default(),
                message: Some(sign_in::REFUSED),
            });
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
    })
}

#[derive(Template)]
#[template(path = "second_factor.html")]
pub(super) struct SecondFactorPage {
    chrome: Chrome,
    message: Option<&'static str>,
}

pub(super) async fn second_factor_page(_pending: PendingSignIn) -> Response {
    render(&SecondFactorPage {
        chrome: Chrome::default(),
        message: None,
    })
}

#[derive(Deserialize)]
pub(super) struct CodeForm {
    code: String,
}

pub(super) async fn second_factor(
    State(state): State<AppState>,
    pending: PendingSignIn,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let signed_in =
        sign_in::second_factor(&state, &pending.record, &form.code, &pending.context).await?;
    if let Some(token) = signed_in {
        return Ok(with_cookie(
            see_other("/"),
            session_cookie(&token, state.tls),
        ));
    }
    let mut response = render(&SecondFactorPage {
        chrome: Chrome::default(),
        message: Some("That code did not work. Codes change every 30 seconds and each works once."),
    });
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    Ok(response)
}

#[derive(Template)]
#[template(path = "enrol.html")]
pub(super) struct EnrolPage {
    chrome: Chrome,
    message: Option<&'static str>,
    /// The role (or the practice) requires a second factor; else it is offered.
    required: bool,
    qr_svg: String,
    secret: String,
    action: &'static str,
}

/// `?restart=1` on an enrolment page: a new secret, for an app entry that was lost.
#[derive(Deserialize, Default)]
pub(super) struct EnrolQuery {
    restart: Option<String>,
}

/// What the enrolment page says after a code that did not match.
pub(super) const CODE_MISMATCH: &str = "The code did not match. Enter the 6-digit code your app shows \
     now (it changes every 30 seconds); the key above has not changed.";

pub(super) async fn enrolment(
    state: &AppState,
    user: &User,
    chrome: Chrome,
    action: &'static str,
    restart: bool,
    message: Option<&'static str>,
) -> PageResult {
    let Some(secret) = sign_in::start_enrolment(state, user, restart).await? else {
        return Ok(see_other("/"));
    };
    let uri = secret.otpauth_uri("Enamel", user.email.as_str());
    let required = action == "/sign-in/enrol";
    let mut page = render(&EnrolPage {
        chrome,
        message,
        required,
        qr_svg: crate::qr::svg(&uri),
        secret: secret.base32(),
        action,
    });
    if message.is_some() {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(page)
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub(super) struct RecoveryCodesPage {
    chrome: Chrome,
    codes: Vec<String>,
}

pub(super) async fn enrol_pending_page(
    State(state): State<AppState>,
    pending: PendingSignIn,
    Query(query): Query<EnrolQuery>,
) -> PageResult {
    enrolment(
        &state,
        &pending.record.user,
        Chrome::default(),
        "/sign-in/enrol",
        query.restart.is_some(),
        None,
    )
    .await
}

pub(super) async fn enrol_pending(
    State(state): State<AppState>,
    pending: PendingSignIn,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let user = &pending.record.user;
    let Some(codes) =
        sign_in::confirm_enrolment(&state, user, &form.code, &pending.context).await?
    else {
        return enrolment(
            &state,
            user,
            Chrome::default(),
            "/sign-in/enrol",
            false,
            Some(CODE_MISMATCH),
        )
        .await;
    };
    let token =
        sign_in::promote(&state, &pending.record, "totp_enrolment", &pending.context).await?;
    Ok(with_cookie(
        render(&RecoveryCodesPage {
            chrome: chrome(&state, Some(user)),
            codes,
        }),
        session_cookie(&token, state.tls),
    ))
}

pub(super) async fn enrol_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<EnrolQuery>,
) -> PageResult {
    let user = auth.person()?;
    enrolment(
        &state,
        user,
        chrome(&state, Some(user)),
        "/account/second-factor",
        query.restart.is_some(),
        None,
    )
    .await
}

pub(super) async fn enrol(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<CodeForm>,
) -> PageResult {
    let user = auth.person()?;
    match sign_in::confirm_enrolment(&state, user, &form.code, &auth.context).await? {
        Some(codes) => Ok(render(&RecoveryCodesPage {
            chrome: chrome(&state, Some(user)),
            codes,
        })),
        None => {
            enrolment(
                &state,
                user,
                chrome(&state, Some(user)),
                "/account/second-factor",
                false,
                Some(CODE_MISMATCH),
            )
            .await
        }
    }
}

pub(super) async fn sign_out(
    State(state): State<AppState>,
    Client(context): Client,
    headers: HeaderMap,
) -> PageResult {
    if let Some(token) = cookie_token(&headers, state.tls)
        && let Some(record) = state.store.identity().session(&token.digest()).await?
    {
        crate::auth::end_session(
            &state,
            &record.user,
            record.id,
            EndReason::SignOut,
            &context,
        )
        .await?;
    }
    Ok(with_cookie(see_other("/sign-in"), clear_cookie(state.tls)))
}

pub(super) async fn ping(_auth: Authenticated) -> StatusCode {
    StatusCode::NO_CONTENT
}
