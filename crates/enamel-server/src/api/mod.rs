//! The identity and access API under `/api/v1`: the same capabilities as the web
//! pages, for programs and agents. Every operation goes through the actor-scoped
//! repository, which asks the policy decision point and audits.

mod agents;
mod agreement;
mod audit;
mod compliance;
mod directory;
mod openapi;
mod operator;
mod patients;
mod people;
mod recovery;
mod referrals;
mod schedule;
mod sessions;
mod settings;
mod vendors;
mod views;

use axum::Router;
use axum::routing::{delete, get, post, put};
use enamel_domain::User;
use serde::Serialize;

use crate::AppState;

/// Every operation under `/api/v1`, and its OpenAPI document and docs page; this part
/// holds identity, people, agents, compliance and the practice's own settings.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/sessions",
            post(sessions::sign_in).get(sessions::sessions),
        )
        .route("/api/v1/sessions/{id}", delete(sessions::end_session))
        .route("/api/v1/me", get(sessions::me))
        .route("/api/v1/users", get(people::users))
        .route("/api/v1/users/{id}", get(people::user))
        .route("/api/v1/users/{id}/role", put(people::change_role))
        .route("/api/v1/users/{id}/deactivate", post(people::deactivate))
        .route("/api/v1/users/{id}/unlock", post(people::unlock))
        .route("/api/v1/invitations", post(people::invite))
        .route(
            "/api/v1/agents",
            get(agents::agents).post(agents::create_agent),
        )
        .route("/api/v1/agents/{id}/tokens", post(agents::issue_token))
        .route("/api/v1/tokens/{id}", delete(agents::revoke_token))
        .route("/api/v1/access-review", get(compliance::access_review))
        .route(
            "/api/v1/access-review.csv",
            get(compliance::access_review_csv),
        )
        .route("/api/v1/access-review/sign-off", post(compliance::sign_off))
        .route("/api/v1/break-glass", post(compliance::break_glass))
        .route("/api/v1/alerts", get(compliance::alerts))
        .route(
            "/api/v1/practice/settings",
            get(settings::settings).put(settings::save_settings),
        )
        .route(
            "/api/v1/practice/second-factor",
            put(compliance::require_second_factor),
        )
        .merge(records_and_operations())
        .merge(schedule_routes())
        .merge(openapi::router())
}

/// The schedule: the day view, marking a visit, the waitlist, recalls.
fn schedule_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/schedule", get(schedule::day))
        .route(
            "/api/v1/appointments/{id}/status",
            post(schedule::set_status),
        )
        .route(
            "/api/v1/waitlist",
            get(schedule::waitlist).post(schedule::add),
        )
        .route(
            "/api/v1/waitlist/{id}",
            put(schedule::change).delete(schedule::remove),
        )
        .route("/api/v1/recalls", get(schedule::recalls))
        .route(
            "/api/v1/recovery/settings",
            get(recovery::settings).put(recovery::put_settings),
        )
        .route(
            "/api/v1/recovery/runs",
            get(recovery::runs).post(recovery::open),
        )
        .route(
            "/api/v1/recovery/runs/{id}/withdrawal",
            post(recovery::withdraw),
        )
        .route(
            "/api/v1/patients/{id}/schedule",
            get(schedule::patient_schedule),
        )
}

/// The patients, the directory, referrals, vendors, the audit log's queries and the
/// operator's routes.
fn records_and_operations() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/patients",
            get(patients::find_patients).post(patients::create_patient),
        )
        .route("/api/v1/patients/search", post(patients::search_patients))
        .route("/api/v1/patients/{id}", get(patients::patient))
        .route("/api/v1/patients/{id}/restriction", put(patients::restrict))
        .route(
            "/api/v1/practice/agreement",
            get(agreement::agreement).post(agreement::execute),
        )
        .route("/api/v1/directory", get(directory::directory))
        .route(
            "/api/v1/directory/invitations",
            post(directory::invite_office),
        )
        .route("/api/v1/practice/listing", put(directory::set_listing))
        .route(
            "/api/v1/referrals",
            get(referrals::referrals).post(referrals::create_referral),
        )
        .route("/api/v1/referrals/{id}", get(referrals::referral))
        .route(
            "/api/v1/referrals/{id}/steps/{step}",
            post(referrals::take_step),
        )
        .route(
            "/api/v1/referrals/{id}/messages",
            post(referrals::post_message),
        )
        .route(
            "/api/v1/referrals/{id}/portal-link",
            post(referrals::portal_links::send_link),
        )
        .route(
            "/api/v1/referrals/{id}/letter-draft",
            post(referrals::letters::draft_letter),
        )
        .route(
            "/api/v1/referrals/{id}/attachments",
            post(referrals::attachments::upload),
        )
        .route(
            "/api/v1/referrals/{id}/attachments/{attachment}",
            get(referrals::attachments::download),
        )
        .route("/api/v1/vendors", get(vendors::vendors))
        .route("/api/v1/vendors/{name}", put(vendors::put_vendor))
        .route("/api/v1/notifications", get(vendors::notifications))
        .route("/api/v1/audit/entries", get(audit::entries))
        .route("/api/v1/audit/failures", get(audit::failures))
        .route("/api/v1/audit/disclosures", get(audit::disclosures))
        .route("/api/v1/audit/disclosures.csv", get(audit::disclosures_csv))
        .route(
            "/api/v1/operator/practices",
            get(operator::practices).post(operator::create_practice),
        )
        .route("/api/v1/operator/practices/{id}", get(operator::practice))
        .route(
            "/api/v1/operator/practices/{id}/admin-invitation",
            post(operator::invite_admin),
        )
        .route(
            "/api/v1/operator/practices/{id}/termination",
            post(operator::terminate),
        )
        .route("/api/v1/operator/dead-letters", get(operator::dead_letters))
        .route(
            "/api/v1/operator/dead-letters/{id}/retry",
            post(operator::retry),
        )
}

/// An account as the API shows it: never the password hash, a second factor or a token.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AccountView {
    id: String,
    practice_id: Option<String>,
    email: String,
    display_name: String,
    role: &'static str,
    status: &'static str,
}

impl From<&User> for AccountView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            practice_id: user.practice.map(|p| p.to_string()),
            email: user.email.as_str().to_owned(),
            display_name: user.display_name.as_str().to_owned(),
            role: user.role.as_str(),
            status: user.status.as_str(),
        }
    }
}
