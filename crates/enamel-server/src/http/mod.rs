//! What every route shares: errors as RFC 9457 problems, the extractors, the
//! middleware, the health endpoints, and the pages' layout.

pub mod error;
pub mod extract;
pub(crate) mod health;
pub(crate) mod middleware;
pub(crate) mod page;

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// An instant as people read it in a list: `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn when(at: time::OffsetDateTime) -> String {
    enamel_audit::entry::format_timestamp(at)
        .get(..16)
        .map_or_else(String::new, |s| s.replace('T', " "))
        + " UTC"
}

/// A CSV file download (`text/csv`, saved as `file_name`).
pub(crate) fn csv_download(file_name: &str, body: String) -> Response {
    let disposition = format!("attachment; filename=\"{file_name}\"");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}
