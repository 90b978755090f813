//! The same-origin check (CSRF): a state-changing request with a session cookie must come from Enamel's own origin.

use crate::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Refuses a state-changing request that a browser could have sent from another
/// site: one with cookies, or with a body type a cross-site form can send, must name
/// this server as its `Origin` (or, failing that, `Referer`). JSON sent with an
/// agent's bearer token and no cookie is not reachable cross-site without CORS,
/// which Enamel never grants.
pub(crate) async fn same_origin(State(tls): State<bool>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let has_cookie = headers.contains_key(header::COOKIE);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let simple = content_type.is_empty()
        || content_type.starts_with("application/x-www-form-urlencoded")
        || content_type.starts_with("multipart/form-data")
        || content_type.starts_with("text/plain");
    let bearer_only = !has_cookie && headers.contains_key(header::AUTHORIZATION);
    if bearer_only || !(has_cookie || simple) {
        return next.run(request).await;
    }
    if is_same_origin(headers, tls) {
        next.run(request).await
    } else {
        tracing::warn!("refused a cross-origin state-changing request");
        ApiError::CrossOrigin.into_response()
    }
}

pub(super) fn is_same_origin(headers: &HeaderMap, tls: bool) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            let referer = headers.get(header::REFERER)?.to_str().ok()?;
            let url = url::Url::parse(referer).ok()?;
            Some(url.origin().ascii_serialization())
        });
    let Some(origin) = origin else { return false };
    let schemes: &[&str] = if tls { &["https"] } else { &["http", "https"] };
    schemes
        .iter()
        .any(|scheme| origin.eq_ignore_ascii_case(&format!("{scheme}://{host}")))
}
