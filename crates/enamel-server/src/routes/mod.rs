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

pub(crate) use webhooks::TWILIO_SMS_PATH;

pub(crate) fn router() -> Router<AppState> {
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
        .merge(webhooks::router())
        .merge(audit::router())
        .merge(operator::router())
}
