//! The one place errors become HTTP responses: RFC 9457 `application/problem+json`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use enamel_domain::InvalidValue;
use enamel_store::StoreError;
use serde::Serialize;

use crate::http::middleware::request_id::current_request_id;

/// An error a handler returns. The client gets a stable `code` and a safe message;
/// the cause of an unexpected error goes to the log with the correlation id.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, or another practice's: the two are indistinguishable on purpose.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    InvalidInput(#[from] InvalidValue),
    #[error("{0}")]
    Conflict(&'static str),
    /// A patient with the same name and birth date exists; the id is not PHI.
    #[error(
        "a patient with this name and birth date already exists (patient {0}); \
         set allow_duplicate to add another"
    )]
    DuplicatePatient(enamel_domain::PatientId),
    /// A referral step that its status or the acting side does not allow.
    #[error(transparent)]
    IllegalStep(#[from] enamel_domain::IllegalStep),
    /// Well-formed but refused by a rule; the message says which rule (never the value).
    #[error("{0}")]
    Rejected(String),
    /// Refused by a rule that has its own stable code (`no_executed_baa`,
    /// `unsupported_type`), which the client gets as the problem's code.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error("{0}")]
    Unavailable(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed,
    /// No session or token, or an expired one.
    #[error("sign in to continue")]
    Unauthenticated,
    /// The actor's role does not allow this on their own practice's resource.
    #[error("your role does not allow this")]
    Forbidden,
    /// A state-changing request from another origin (CSRF).
    #[error("this request came from another site and was refused")]
    CrossOrigin,
    /// The practice's data was destroyed (crypto-shredding at BAA termination).
    #[error("this practice's data has been destroyed")]
    Gone,
    /// A text field broke the one text rule (a control character, too long); the
    /// message names the field, never the value.
    #[error("invalid {field}: {why}")]
    BadText { field: String, why: &'static str },
    /// The body is not what its media type says (not JSON, cut short).
    #[error("{0}")]
    BadBody(String),
    /// Well-formed, but not the shape this operation takes (a missing field, a
    /// wrong type); serde's words, without any value.
    #[error("{0}")]
    UnprocessableBody(String),
    /// The query string is not what this operation takes.
    #[error("{0}")]
    BadQuery(String),
    /// The body's media type is not the one this operation takes.
    #[error("send the body as {0}")]
    UnsupportedMediaType(&'static str),
    /// The body is larger than this server takes.
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound,
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::Shredded => Self::Gone,
            StoreError::Denied => Self::Forbidden,
            StoreError::DuplicatePatient(id) => Self::DuplicatePatient(id),
            StoreError::IllegalStep(step) => Self::IllegalStep(step),
            StoreError::Refused(why) => Self::Rejected(why.to_owned()),
            StoreError::Invalid(invalid) => Self::InvalidInput(invalid),
            err @ StoreError::NoBaa(_) => Self::Refused {
                code: "no_executed_baa",
                message: err.to_string(),
            },
            err @ StoreError::AgreementRequired(_) => Self::Refused {
                code: "baa_not_executed",
                message: err.to_string(),
            },
            other => Self::Unexpected(other.into()),
        }
    }
}

/// The problem details body (RFC 9457 section 3), with two extension members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Problem {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: String,
    /// A stable, machine-readable name for the problem.
    code: &'static str,
    /// The request's correlation id, also in the `X-Request-Id` header and the logs.
    correlation_id: Option<String>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            Self::InvalidInput(_) | Self::BadText { .. } => {
                (StatusCode::BAD_REQUEST, "invalid_input", "Invalid input")
            }
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Self::DuplicatePatient(_) => (
                StatusCode::CONFLICT,
                "duplicate_patient",
                "Possible duplicate patient",
            ),
            Self::IllegalStep(_) => (StatusCode::CONFLICT, "illegal_step", "Step not allowed now"),
            Self::Rejected(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "rejected",
                "Request refused",
            ),
            Self::Refused { code, .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, code, "Request refused")
            }
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            Self::Gone => (StatusCode::GONE, "data_destroyed", "Data destroyed"),
            Self::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Sign-in required",
            ),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::CrossOrigin => (
                StatusCode::FORBIDDEN,
                "cross_origin",
                "Cross-origin request",
            ),
            Self::BadBody(_) => (StatusCode::BAD_REQUEST, "invalid_body", "Malformed body"),
            Self::UnprocessableBody(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                "Body not accepted",
            ),
            Self::BadQuery(_) => (StatusCode::BAD_REQUEST, "invalid_query", "Invalid query"),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
            ),
            Self::Unexpected(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }
}

impl ApiError {
    /// The status, title and the message a client may see (an unexpected error's
    /// cause goes to the log here, never to the client).
    pub(crate) fn public(&self) -> (StatusCode, &'static str, &'static str, String) {
        let (status, code, title) = self.parts();
        let detail = match self {
            Self::Unexpected(cause) => {
                // Causes carry ids and context, never values (see StoreError, InvalidValue).
                tracing::error!(error = format!("{cause:#}"), "request failed unexpectedly");
                "Something went wrong on our side. Quote the correlation id when reporting it."
                    .to_owned()
            }
            Self::NotFound => "The resource does not exist or is not yours.".to_owned(),
            other => other.to_string(),
        };
        (status, code, title, detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title, detail) = self.public();
        problem(status, code, title, detail)
    }
}

/// Builds a problem response; also used for errors raised outside handlers.
pub(crate) fn problem(
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
) -> Response {
    let body = Problem {
        kind: "about:blank",
        title,
        status: status.as_u16(),
        detail,
        code,
        correlation_id: current_request_id(),
    };
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shredded_data_is_a_410_problem_that_says_so() {
        let response = ApiError::from(StoreError::Shredded).into_response();
        assert_eq!(response.status(), StatusCode::GONE);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["code"], "data_destroyed");
        assert_eq!(problem["detail"], "this practice's data has been destroyed");
    }

    #[tokio::test]
    async fn a_failed_decryption_is_a_500_that_reveals_nothing() {
        let err = StoreError::Crypto(enamel_crypto::CryptoError::Authentication);
        let response = ApiError::from(err).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("authentication"));
    }
}
