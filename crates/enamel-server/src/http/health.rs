//! Operations endpoints: liveness, readiness and metrics.

use crate::http::extract::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up and answering.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers and its schema is the one this binary expects.
async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    if state.store.ping().await.is_err() {
        return Err(ApiError::Unavailable("the database is unreachable"));
    }
    let status = state
        .store
        .migration_status()
        .await
        .map_err(|_| ApiError::Unavailable("the database schema cannot be read"))?;
    if !status.is_current() {
        return Err(ApiError::Unavailable(
            "database migrations are pending: run `enamel migrate`",
        ));
    }
    Ok(Json(json!({
        "status": "ready",
        "database": state.store.backend().name(),
        "migrations": { "applied": status.applied, "expected": status.expected },
    })))
}

/// Prometheus metrics in the OpenMetrics text format.
async fn metrics(State(state): State<AppState>) -> Response {
    match state.store.recovery_totals().await {
        Ok(totals) => state.metrics.set_recovery(&totals),
        Err(err) => {
            tracing::warn!(error = %err, "reading recovery's figures for the metrics failed");
        }
    }
    match state.store.audit().index_lag().await {
        Ok(lag) => state.metrics.set_audit_index_lag(lag),
        Err(err) => {
            tracing::warn!(error = %err, "reading the audit index's lag for the metrics failed");
        }
    }
    let mut response = state.metrics.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
