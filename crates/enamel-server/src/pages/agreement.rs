//! The practice's business associate agreement with the operator: its text, whether
//! and by whom it was executed (the executed copy), and, for the practice's
//! administrator, executing it by typing their name and title. Until it is executed
//! no patient information can enter the practice.

use askama::Template;
use axum::extract::State;
use enamel_domain::Role;
use enamel_store::{AGREEMENT_TEXT, AGREEMENT_VERSION, StoreError, agreement_sha256};

use serde::Deserialize;

use super::{Chrome, PageResult, chrome, render, see_other, sentence, stamp, zone_of};
use crate::AppState;
use crate::auth::Authenticated;
use crate::http::extract::{Form, Query};
use crate::services::agreements;

/// The executed copy, as the page shows it.
pub(super) struct Executed {
    signer_name: String,
    signer_title: String,
    signed_at: String,
    ip_address: String,
    version: String,
    sha256: String,
}

#[derive(Template)]
#[template(path = "agreement.html")]
pub(super) struct AgreementPage {
    chrome: Chrome,
    practice: String,
    executed: Option<Executed>,
    can_execute: bool,
    text: &'static str,
    version: &'static str,
    sha256: String,
    flash: Option<&'static str>,
    message: Option<String>,
    typed_name: String,
    typed_title: String,
}

#[derive(Deserialize)]
pub(super) struct AgreementQuery {
    flash: Option<String>,
}

pub(super) async fn agreement_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<AgreementQuery>,
) -> PageResult {
    let flash = (query.flash.as_deref() == Some("executed"))
        .then_some("The agreement is executed. Your practice can now add patients and referrals.");
    page(&state, &auth, flash, None, ExecuteForm::default()).await
}

async fn page(
    state: &AppState,
    auth: &Authenticated,
    flash: Option<&'static str>,
    message: Option<String>,
    typed: ExecuteForm,
) -> PageResult {
    let user = auth.person()?;
    let scoped = auth.scoped(&state.store);
    let executed = scoped.agreement().await?;
    let zone = zone_of(state, auth).await;
    let practice = scoped.own_practice().await?.name.as_str().to_owned();
    let mut page = render(&AgreementPage {
        chrome: chrome(state, Some(user)),
        practice,
        can_execute: executed.is_none() && user.role == Role::PracticeAdmin,
        executed: executed.map(|e| Executed {
            signer_name: e.signer_name,
            signer_title: e.signer_title,
            signed_at: stamp(e.executed_at, zone.as_ref()),
            ip_address: e.ip_address.unwrap_or_else(|| "not recorded".into()),
            version: e.version,
            sha256: e.sha256,
        }),
        text: AGREEMENT_TEXT,
        version: AGREEMENT_VERSION,
        sha256: agreement_sha256(),
        flash,
        typed_name: typed.signer_name,
        typed_title: typed.signer_title,
        message: message.clone(),
    });
    if message.is_some() {
        *page.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(page)
}

#[derive(Deserialize, Default)]
pub(super) struct ExecuteForm {
    #[serde(default)]
    signer_name: String,
    #[serde(default)]
    signer_title: String,
    #[serde(default)]
    sha256: String,
    /// The box stating that the signer may bind the practice.
    authorized: Option<String>,
}

pub(super) async fn execute(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<ExecuteForm>,
) -> PageResult {
    if form.authorized.is_none() {
        let message = "Confirm that you are authorized to sign for the practice.".to_owned();
        return page(&state, &auth, None, Some(message), form).await;
    }
    let executed = auth
        .scoped(&state.store)
        .execute_agreement(
            &form.signer_name,
            &form.signer_title,
            &form.sha256,
            state.clock.now(),
        )
        .await;
    match executed {
        Ok(_) => Ok(see_other("/practice/agreement?flash=executed")),
        Err(StoreError::Refused(why) | StoreError::Conflict(why)) => {
            page(&state, &auth, None, Some(sentence(why)), form).await
        }
        Err(err) => Err(err.into()),
    }
}

/// The executed copy as a PDF for the practice's records: who signed, when, from
/// where, which text (version and digest), then the text itself.
pub(super) async fn executed_copy(
    State(state): State<AppState>,
    auth: Authenticated,
) -> PageResult {
    let scoped = auth.scoped(&state.store);
    let Some(executed) = scoped.agreement().await? else {
        return Err(crate::ApiError::NotFound.into());
    };
    let practice = scoped.own_practice().await?;
    Ok(agreements::pdf_download(agreements::executed_copy_pdf(
        &practice, &executed,
    )))
}
