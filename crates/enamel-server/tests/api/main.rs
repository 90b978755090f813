//! The HTTP application's integration suite: one binary, one module per concern.

mod assistant;
mod audit;
mod browser;
mod errors;
mod headers;
mod health;
mod helpers;
mod identity;
mod metrics;
mod notifications;
mod openapi;
mod referrals;
mod shutdown;
mod staff_ui;
mod tls;
