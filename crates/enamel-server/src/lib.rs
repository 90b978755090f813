//! Enamel's HTTP application.
//!
//! [`Application::build`] assembles the router, middleware and listener from
//! [`Settings`]; the binary (and each test) then runs it until a shutdown signal.
//! Binding happens in `build`, so a test can ask for port 0 and run many apps at once.

mod api;
pub mod auth;
pub mod clock;
pub mod http;
pub mod metrics;
mod pages;
mod portal;
mod qr;
mod services;
/// The settings, from `enamel-config` (re-exported where callers have found them).
pub mod settings {
    pub use enamel_config::*;
}
pub mod startup;
pub mod telemetry;
mod tls;
mod webhooks;

pub use http::error::ApiError;
pub use services::{attachments, handover, import, onboarding};
pub use settings::Settings;
pub use startup::{AppState, Application, StartupError, shutdown_signal};
