//! The routes, by resource; each module exposes `router()`.

use axum::Router;

use crate::AppState;

mod api;
mod assistant;
mod attachments;
mod audit;
mod health;
mod openapi;
mod operator;
mod patient_record;
mod portal;
mod referrals;
mod referrals_views;
mod staff;
pub(crate) mod web;
mod webhooks;

/// Every route a browser session or an agent's token reaches; state-changing
/// requests among them pass the same-origin check (`startup::router` layers it).
pub(crate) fn session_routes() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(web::router())
        .merge(api::router())
        .merge(referrals::router())
        .merge(attachments::router())
        .merge(portal::router())
        .merge(staff::router())
        .merge(patient_record::router())
        .merge(openapi::router())
        .merge(audit::router())
        .merge(operator::router())
}

/// Vendors' callbacks, authenticated by the vendor's signature over the request,
/// not by a session: outside the same-origin check.
pub(crate) fn webhook_routes() -> Router<AppState> {
    webhooks::router()
}
