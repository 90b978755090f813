//! One log line and one set of metrics per request, naming the route template,
//! never the concrete path, query string, headers or body.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::{self, Metrics};

/// The route template a request matched, carried from the router to the access log.
#[derive(Clone, Debug)]
pub(crate) struct MatchedRoute(pub(crate) String);

/// Inside the router (a route layer): records which route template matched.
pub(crate) async fn record_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(MatchedRoute(route));
    }
    response
}

/// Outside the router: logs and counts the finished request.
pub(crate) async fn log(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let method = metrics::method_label(request.method());
    let started = Instant::now();
    let _in_flight = metrics.in_flight();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let route = response
        .extensions()
        .get::<MatchedRoute>()
        .map_or("unmatched", |r| r.0.as_str())
        .to_owned();
    let status = response.status().as_u16();
    metrics.observe(method, &route, status, elapsed);
    let latency_ms = elapsed.as_secs_f64() * 1_000.0;
    if response.status().is_server_error() {
        tracing::error!(method, route, status, latency_ms, "request finished");
    } else {
        tracing::info!(method, route, status, latency_ms, "request finished");
    }
    response
}
