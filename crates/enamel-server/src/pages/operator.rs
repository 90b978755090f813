//! The platform operator's pages: the practices on the platform (onboarding one,
//! inviting its administrator again, its executed agreement; never a patient), and
//! the dead letters of the jobs queue, with a Retry button for each.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use enamel_domain::PracticeId;
use enamel_store::{AdminStatus, PracticeOverview};
use serde::Deserialize;
use uuid::Uuid;

use super::{Chrome, PageResult, chrome, render, see_other, sentence, stamp};
use crate::auth::Authenticated;
use crate::http::extract::{Form, Id, Query};
use crate::services::agreements;
use crate::services::dead_letters::{self, DeadLetter};
use crate::services::onboarding::{self, PracticeForm};
use crate::{ApiError, AppState};

#[derive(Template)]
#[template(path = "operator_jobs.html")]
struct JobsPage {
    chrome: Chrome,
    dead_letters: Vec<DeadLetter>,
    retried: bool,
}

#[derive(Deserialize)]
pub(super) struct Flash {
    flash: Option<String>,
}

pub(super) async fn jobs_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(flash): Query<Flash>,
) -> PageResult {
    let user = auth.person()?;
    let dead_letters = dead_letters::list(&state, &auth).await?;
    Ok(render(&JobsPage {
        chrome: chrome(&state, Some(user)),
        dead_letters,
        retried: flash.flash.as_deref() == Some("retried"),
    }))
}

pub(super) async fn retry_from_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<Uuid>,
) -> PageResult {
    dead_letters::retry(&state, &auth, id).await?;
    Ok(see_other("/operator/jobs?flash=retried"))
}

/// A practice as a row of the operator's list.
struct PracticeLine {
    id: String,
    name: String,
    specialty: &'static str,
    place: String,
    agreement: String,
    admin: String,
    staff: u64,
}

impl PracticeLine {
    fn of(overview: &PracticeOverview) -> Self {
        let practice = &overview.practice;
        Self {
            id: practice.id.to_string(),
            name: practice.name.as_str().to_owned(),
            specialty: practice.kind.label(),
            place: format!(
                "{}, {}",
                practice.address.city,
                practice.address.state.code()
            ),
            agreement: overview.agreement.as_ref().map_or_else(
                || "Not executed: no patient data yet".to_owned(),
                |a| {
                    format!(
                        "Executed {} by {}",
                        stamp(a.executed_at, Some(&practice.time_zone)),
                        a.signer_name
                    )
                },
            ),
            admin: admin_line(&overview.admin),
            staff: overview.staff,
        }
    }
}

fn admin_line(admin: &AdminStatus) -> String {
    match admin {
        AdminStatus::NotInvited => "No administrator invited".to_owned(),
        AdminStatus::Invited { email, expires_at } => {
            format!(
                "{email}: invited, link works until {}",
                stamp(*expires_at, None)
            )
        }
        AdminStatus::Expired { email } => format!("{email}: invitation expired, invite again"),
        AdminStatus::Active { email } => format!("{email}: active"),
    }
}

#[derive(Template)]
#[template(path = "operator_practices.html")]
struct PracticesPage {
    chrome: Chrome,
    practices: Vec<PracticeLine>,
    typed: PracticeForm,
    /// The form's field with a mistake, and the message; or a message for the form.
    mistake: Option<(&'static str, String)>,
    /// Each specialty's name and label, and whether it is the one typed.
    specialties: Vec<(&'static str, &'static str, bool)>,
    /// Each time zone, and whether it is the one typed.
    zones: Vec<(&'static str, bool)>,
}

impl PracticesPage {
    fn mistake_at(&self, field: &str) -> Option<&str> {
        self.mistake
            .as_ref()
            .filter(|(at, _)| *at == field)
            .map(|(_, message)| message.as_str())
    }
}

pub(super) async fn practices_page(
    State(state): State<AppState>,
    auth: Authenticated,
) -> PageResult {
    practices_form(&state, &auth, PracticeForm::default(), None).await
}

async fn practices_form(
    state: &AppState,
    auth: &Authenticated,
    typed: PracticeForm,
    mistake: Option<(&'static str, String)>,
) -> PageResult {
    let user = auth.person()?;
    let overviews = auth
        .scoped(&state.store)
        .practices_overview(state.clock.now())
        .await?;
    let failed = mistake.is_some();
    let specialties = typed.specialty_choices();
    let zones = typed.zone_choices();
    let mut page = render(&PracticesPage {
        chrome: chrome(state, Some(user)),
        practices: overviews.iter().map(PracticeLine::of).collect(),
        typed,
        mistake,
        specialties,
        zones,
    });
    if failed {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(page)
}

pub(super) async fn create_practice(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<PracticeForm>,
) -> PageResult {
    if let Err(mistake) = form.parse() {
        let message = sentence(&format!("the {} {}", mistake.error.what, mistake.error.why));
        return practices_form(&state, &auth, form, Some((mistake.field, message))).await;
    }
    let created =
        onboarding::create_practice(&auth.scoped(&state.store), &form, state.clock.now()).await;
    match created {
        Ok(practice) => Ok(see_other(&format!(
            "/operator/practices/{}?flash=created",
            practice.id
        ))),
        Err(ApiError::Conflict(why)) => {
            let field = if why.contains("email") {
                "admin_email"
            } else {
                "npi"
            };
            practices_form(&state, &auth, form, Some((field, sentence(why)))).await
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Template)]
#[template(path = "operator_practice.html")]
struct PracticePage {
    chrome: Chrome,
    line: PracticeLine,
    npi: String,
    time_zone: &'static str,
    executed: bool,
    terminated: Option<String>,
    can_invite: bool,
    flash: Option<&'static str>,
    mistake: Option<String>,
}

pub(super) async fn practice_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PracticeId>,
    Query(flash): Query<Flash>,
) -> PageResult {
    let flash = match flash.flash.as_deref() {
        Some("created") => Some(
            "The practice is created and its administrator's invitation is on its way by email.",
        ),
        Some("invited") => Some("The invitation is on its way by email."),
        Some("terminated") => Some(
            "The agreement is terminated: no patient information can enter the practice. \
             Hand its records over, then destroy its keys, as below.",
        ),
        _ => None,
    };
    practice_view(&state, &auth, id, flash, None).await
}

async fn practice_view(
    state: &AppState,
    auth: &Authenticated,
    id: PracticeId,
    flash: Option<&'static str>,
    mistake: Option<String>,
) -> PageResult {
    let user = auth.person()?;
    let overview = auth
        .scoped(&state.store)
        .practice_overview(id, state.clock.now())
        .await?;
    let failed = mistake.is_some();
    let mut page = render(&PracticePage {
        chrome: chrome(state, Some(user)),
        npi: overview.practice.npi.as_str().to_owned(),
        time_zone: overview.practice.time_zone.name(),
        executed: overview.agreement.is_some(),
        terminated: overview
            .terminated_at
            .map(|at| stamp(at, Some(&overview.practice.time_zone))),
        can_invite: !matches!(overview.admin, AdminStatus::Active { .. }),
        line: PracticeLine::of(&overview),
        flash,
        mistake,
    });
    if failed {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(page)
}

#[derive(Deserialize)]
pub(super) struct AdminForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

pub(super) async fn invite_admin(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PracticeId>,
    Form(form): Form<AdminForm>,
) -> PageResult {
    let invited = onboarding::invite_admin(
        &auth.scoped(&state.store),
        id,
        &form.name,
        &form.email,
        state.clock.now(),
    )
    .await;
    match invited {
        Ok(()) => Ok(see_other(&format!(
            "/operator/practices/{id}?flash=invited"
        ))),
        Err(ApiError::InvalidInput(invalid)) => {
            let message = sentence(&format!("the {} {}", invalid.what, invalid.why));
            practice_view(&state, &auth, id, None, Some(message)).await
        }
        Err(ApiError::Rejected(why)) => {
            practice_view(&state, &auth, id, None, Some(sentence(&why))).await
        }
        Err(ApiError::Conflict(why)) => {
            practice_view(&state, &auth, id, None, Some(sentence(why))).await
        }
        Err(err) => Err(err.into()),
    }
}

/// The practice's executed agreement, for the operator's records.
pub(super) async fn executed_copy(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PracticeId>,
) -> PageResult {
    let overview = auth
        .scoped(&state.store)
        .practice_overview(id, state.clock.now())
        .await?;
    let Some(executed) = &overview.agreement else {
        return Err(ApiError::NotFound.into());
    };
    Ok(agreements::pdf_download(agreements::executed_copy_pdf(
        &overview.practice,
        executed,
    )))
}

#[derive(Deserialize)]
pub(super) struct TerminateForm {
    #[serde(default)]
    confirm_name: String,
}

pub(super) async fn terminate(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PracticeId>,
    Form(form): Form<TerminateForm>,
) -> PageResult {
    let terminated = onboarding::terminate(
        &auth.scoped(&state.store),
        id,
        &form.confirm_name,
        state.clock.now(),
    )
    .await;
    match terminated {
        Ok(()) => Ok(see_other(&format!(
            "/operator/practices/{id}?flash=terminated"
        ))),
        Err(ApiError::Rejected(why)) => {
            practice_view(&state, &auth, id, None, Some(sentence(&why))).await
        }
        Err(ApiError::Conflict(why)) => {
            practice_view(&state, &auth, id, None, Some(sentence(why))).await
        }
        Err(err) => Err(err.into()),
    }
}
