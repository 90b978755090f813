//! The staff UI's stylesheet and script, served by Enamel itself (no CDN).

use axum::http::header;
use axum::response::{IntoResponse, Response};

pub(super) async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/enamel.css"),
    )
}

pub(super) async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/session.js"),
    )
}

pub(super) fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
