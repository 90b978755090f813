//! Offices inviting offices: the inviting office's page of its invitations (and the
//! form to send one), and the invited office's page behind the emailed link, where
//! it sets itself up; accepting onboards it as the operator's onboarding does
//! (docs/onboarding.md), and the inviter sees that it joined.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use enamel_crypto::token::SecretToken;
use enamel_domain::{Actor, Email, SystemTask};
use enamel_store::InvitationState;
use serde::Deserialize;

use super::{Chrome, PageResult, chrome, render, see_other, sentence, stamp, zone_of};
use crate::auth::Authenticated;
use crate::http::extract::{Form, Query};
use crate::services::onboarding::{self, PracticeForm};
use crate::{ApiError, AppState};

/// An invitation as the inviting office's page lists it.
struct InvitationLine {
    office: String,
    email: String,
    sent: String,
    state: String,
}

#[derive(Template)]
#[template(path = "office_invitations.html")]
struct InvitationsPage {
    chrome: Chrome,
    invitations: Vec<InvitationLine>,
    flash: Option<&'static str>,
    mistake: Option<String>,
    office_name: String,
    email: String,
}

#[derive(Deserialize)]
pub(super) struct Flash {
    flash: Option<String>,
}

pub(super) async fn invitations_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(flash): Query<Flash>,
) -> PageResult {
    let flash = (flash.flash.as_deref() == Some("sent")).then_some(
        "The invitation is on its way by email. You will see here when the office joins.",
    );
    invitations_view(&state, &auth, flash, None, InviteForm::default()).await
}

async fn invitations_view(
    state: &AppState,
    auth: &Authenticated,
    flash: Option<&'static str>,
    mistake: Option<String>,
    typed: InviteForm,
) -> PageResult {
    let user = auth.person()?;
    let zone = zone_of(state, auth).await;
    let invitations = auth
        .scoped(&state.store)
        .office_invitations(state.clock.now())
        .await?
        .into_iter()
        .map(|i| InvitationLine {
            office: i.office_name,
            email: i.email,
            sent: stamp(i.created_at, zone.as_ref()),
            state: match i.state {
                InvitationState::Sent => "Sent; not accepted yet".to_owned(),
                InvitationState::Expired => "Expired unused; invite again".to_owned(),
                InvitationState::Joined { at, practice } => {
                    format!("Joined {} as {practice}", stamp(at, zone.as_ref()))
                }
            },
        })
        .collect();
    let failed = mistake.is_some();
    let mut response = render(&InvitationsPage {
        chrome: chrome(state, Some(user)),
        invitations,
        flash,
        mistake,
        office_name: typed.office_name,
        email: typed.email,
    });
    if failed {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

#[derive(Deserialize, Default)]
pub(super) struct InviteForm {
    #[serde(default)]
    office_name: String,
    #[serde(default)]
    email: String,
}

pub(super) async fn invite_office(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<InviteForm>,
) -> PageResult {
    let email = match Email::parse(form.email.trim()) {
        Ok(email) => email,
        Err(invalid) => {
            let message = sentence(&format!("the {} {}", invalid.what, invalid.why));
            return invitations_view(&state, &auth, None, Some(message), form).await;
        }
    };
    let token = SecretToken::generate("");
    let invited = auth
        .scoped(&state.store)
        .invite_office(&form.office_name, &email, &token, state.clock.now())
        .await;
    match invited {
        Ok(_) => Ok(see_other("/directory/invitations?flash=sent")),
        Err(enamel_store::StoreError::Refused(why)) => {
            invitations_view(&state, &auth, None, Some(sentence(why)), form).await
        }
        Err(err) => Err(ApiError::from(err).into()),
    }
}

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage {
    chrome: Chrome,
    token: String,
    inviter: String,
    typed: PracticeForm,
    mistake: Option<(&'static str, String)>,
    specialties: Vec<(&'static str, &'static str, bool)>,
    zones: Vec<(&'static str, bool)>,
    /// The office joined: the page says what happens next instead of the form.
    joined: Option<String>,
    /// The link is unknown, used or expired.
    gone: bool,
}

impl JoinPage {
    fn mistake_at(&self, field: &str) -> Option<&str> {
        self.mistake
            .as_ref()
            .filter(|(at, _)| *at == field)
            .map(|(_, message)| message.as_str())
    }

    fn new(token: String, inviter: String, typed: PracticeForm) -> Self {
        let specialties = typed.specialty_choices();
        let zones = typed.zone_choices();
        Self {
            chrome: Chrome::default(),
            token,
            inviter,
            typed,
            mistake: None,
            specialties,
            zones,
            joined: None,
            gone: false,
        }
    }
}

fn gone() -> axum::response::Response {
    let mut page = JoinPage::new(String::new(), String::new(), PracticeForm::default());
    page.gone = true;
    let mut response = render(&page);
    *response.status_mut() = StatusCode::GONE;
    response
}

pub(super) async fn join_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> PageResult {
    let token = SecretToken::from_client(&token);
    let Some(invitation) = state
        .store
        .join_invitation(&token.digest(), state.clock.now())
        .await?
    else {
        return Ok(gone());
    };
    let typed = PracticeForm {
        name: invitation.office_name,
        admin_email: invitation.email,
        ..PracticeForm::default()
    };
    Ok(render(&JoinPage::new(
        token.expose().to_owned(),
        invitation.inviter,
        typed,
    )))
}

/// The invited office sets itself up: the practice is created and its administrator
/// invited by email, as the operator's onboarding does, by Enamel's `onboard` task
/// on the strength of the single-use link.
pub(super) async fn join(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Form(form): Form<PracticeForm>,
) -> PageResult {
    let token = SecretToken::from_client(&token);
    let now = state.clock.now();
    let Some(invitation) = state.store.join_invitation(&token.digest(), now).await? else {
        return Ok(gone());
    };
    let mut page = JoinPage::new(token.expose().to_owned(), invitation.inviter, form);
    if let Err(mistake) = page.typed.parse() {
        page.mistake = Some((
            mistake.field,
            sentence(&format!("the {} {}", mistake.error.what, mistake.error.why)),
        ));
        let mut response = render(&page);
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(response);
    }
    let actor = Actor::system(SystemTask::Onboard);
    let created = onboarding::create_practice(&state.store.scoped(&actor), &page.typed, now).await;
    match created {
        Ok(practice) => {
            state
                .store
                .accept_join_invitation(invitation.id, practice.id, now)
                .await?;
            page.joined = Some(page.typed.admin_email.trim().to_owned());
            Ok(render(&page))
        }
        Err(ApiError::Conflict(why)) => {
            let field = if why.contains("email") {
                "admin_email"
            } else {
                "npi"
            };
            page.mistake = Some((field, sentence(why)));
            let mut response = render(&page);
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(err) => Err(err.into()),
    }
}
