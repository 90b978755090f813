//! The correlation id: taken from `X-Request-Id` when it is well-formed, generated
//! otherwise; returned in the response header, in error bodies and in every log line.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

pub(crate) const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The correlation id of the request being handled, if any.
pub(crate) fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Accepts the id formats tracing systems use: a UUID, 16 to 64 hex digits, or a
/// ULID. Anything else (free text could carry PHI into logs) is replaced.
fn is_acceptable(id: &str) -> bool {
    let hex = (16..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit());
    let ulid = id.len() == 26
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b)));
    hex || ulid
        || uuid::Uuid::try_parse(id)
            .is_ok_and(|u| u.hyphenated().to_string() == id.to_ascii_lowercase())
}

/// Assigns the correlation id and opens the request's span.
pub(crate) async fn assign(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_acceptable(id))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), ToOwned::to_owned);
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request))
        .instrument(span)
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::is_acceptable;

    #[test]
    fn trace_id_formats_are_accepted() {
        assert!(is_acceptable("0193f1c2-7a6b-7c3d-9e4f-0123456789ab"));
        assert!(is_acceptable("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert!(is_acceptable("01ARZ3NDEKTSV4RRFFQ69G5FAV"));
    }

    #[test]
    fn free_text_is_replaced() {
        for id in [
            "Ada Testwell",
            "x",
            "2025550142",
            "drop table",
            "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
        ] {
            assert!(!is_acceptable(id), "{id}");
        }
    }
}
