//! The API's last line for RFC 9457: an error answer under `/api/` that is not yet
//! `application/problem+json` (a rejection from an axum extractor that Enamel's own
//! extractors do not replace, such as a path that is not valid percent-encoding, or a
//! multipart stream cut short) becomes a problem with the same status and a stable
//! code. What the original body said is dropped: it may echo the input.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::problem;

pub(crate) async fn only_problems(request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !api || is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (code, title, detail) = match status {
        StatusCode::BAD_REQUEST => (
            "invalid_input",
            "Invalid input",
            "The request could not be read.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "Payload too large",
            "The request body is too large.",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "Unsupported media type",
            "The body's media type is not one this operation takes.",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => (
            "invalid_body",
            "Body not accepted",
            "The body is not what this operation takes.",
        ),
        s if s.is_server_error() => (
            "internal",
            "Internal server error",
            "Something went wrong on our side. Quote the correlation id when reporting it.",
        ),
        _ => ("error", "Request refused", "The request was refused."),
    };
    let mut answer = problem(status, code, title, detail.to_owned());
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}
