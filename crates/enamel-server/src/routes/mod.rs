//! The routes, by resource; each module exposes `router()`.

use axum::Router;

use crate::AppState;

mod health;

pub(crate) fn router() -> Router<AppState> {
    Router::new().merge(health::router())
}
