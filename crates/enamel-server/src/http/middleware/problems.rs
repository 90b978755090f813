//! Errors in the form each client reads.
//!
//! `only_problems` is the API's last line for RFC 9457: an error answer under `/api/`
//! that is not yet `application/problem+json` (a rejection from an axum extractor that
//! Enamel's own extractors do not replace, such as a path that is not valid
//! percent-encoding, or a multipart stream cut short) becomes a problem with the same
//! status and a stable code. What the original body said is dropped: it may echo the
//! input. `pages_as_html` is the pages' last line: a browser gets a page (below).

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::http::error::problem;

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

/// A problem shown to a person: the same words as the problem, as a page.
#[derive(askama::Template)]
#[template(path = "message.html")]
struct ProblemPage {
    chrome: crate::http::page::Chrome,
    heading: String,
    text: String,
    link: (&'static str, &'static str),
}

/// The largest problem body read back to render it as a page.
const PROBLEM_BYTES: usize = 16 * 1024;

/// The pages' last line: a browser (one that asks for `text/html`) that meets an
/// error outside the API gets a page with the problem's words and a way back, never a
/// JSON body; the API, the operations endpoints and other clients keep the problem.
pub(crate) async fn pages_as_html(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let for_a_person = !path.starts_with("/api/")
        && !matches!(path, "/healthz" | "/readyz" | "/metrics")
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    let response = next.run(request).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !for_a_person || !is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, PROBLEM_BYTES).await else {
        return problem(
            parts.status,
            "internal",
            "Internal server error",
            "Something went wrong on our side.".into(),
        );
    };
    let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let words = |key: &str, fallback: &str| {
        problem[key]
            .as_str()
            .map_or_else(|| fallback.to_owned(), str::to_owned)
    };
    let mut page = crate::http::page::render(&ProblemPage {
        chrome: crate::http::page::Chrome::default(),
        heading: words("title", "Something went wrong"),
        text: words("detail", "The request could not be completed."),
        link: ("/", "Back to the start page"),
    });
    *page.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            page.headers_mut().insert(name.clone(), value.clone());
        }
    }
    page
}
