//! Enamel's own `Json`, `Form` and `Query` extractors, used by every route in place
//! of axum's. They differ in two ways: every rejection is an RFC 9457 problem with a
//! stable code (axum answers plain text), and every string in the input, keys and
//! values, is checked against the one text rule (`enamel_domain::TextRule`) before
//! any handler sees it, so a control character or an oversized field is a 400 that
//! names the field, never a 500 from the database or a stored NUL.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use enamel_domain::TextRule;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// A JSON request body (`application/json`), checked, then deserialized; as a
/// response, a JSON body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

/// A form body (`application/x-www-form-urlencoded`), checked, then deserialized.
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

/// A query string, checked, then deserialized.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Whether the request says its body is of `media_type` (parameters such as a
/// charset aside).
fn has_media_type(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(media_type))
}

/// The body as bytes, or the problem: too large (413) or cut short (400).
async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadBody("the request body could not be read".into())
            }
        })
}

/// A field name fit to show: only names Enamel's own inputs could have.
fn shown(field: &str) -> String {
    if !field.is_empty()
        && field.len() <= 64
        && field
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        field.to_owned()
    } else {
        "a field".to_owned()
    }
}

/// Checks one field: its name and its value against the text rule for that name.
fn check_field(path: &str, name: &str, value: &str) -> Result<(), ApiError> {
    TextRule::Line
        .check(name)
        .map_err(|why| ApiError::BadText {
            field: "a field name".into(),
            why,
        })?;
    TextRule::for_field(name)
        .check(value)
        .map_err(|why| ApiError::BadText {
            field: if path.is_empty() {
                shown(name)
            } else {
                path.to_owned()
            },
            why,
        })
}

/// Checks one text field that arrived some other way (a multipart form's field).
pub(crate) fn check_text_field(name: &str, value: &str) -> Result<(), ApiError> {
    check_field(&shown(name), name, value)
}

/// Walks a JSON value, checking every key and string; `path` names where it is
/// (`address.city`, `teeth[2]`).
fn check_json(value: &serde_json::Value, name: &str, path: &str) -> Result<(), ApiError> {
    match value {
        serde_json::Value::String(text) => check_field(path, name, text),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_json(item, name, &format!("{path}[{i}]"))),
        serde_json::Value::Object(fields) => fields.iter().try_for_each(|(key, item)| {
            let key_shown = shown(key);
            let inner = if path.is_empty() {
                key_shown
            } else {
                format!("{path}.{key_shown}")
            };
            check_field(&inner, key, "")?;
            check_json(item, key, &inner)
        }),
        _ => Ok(()),
    }
}

/// Checks every pair of a URL-encoded text (a query string or a form body).
fn check_pairs(encoded: &[u8]) -> Result<(), ApiError> {
    for (name, value) in url::form_urlencoded::parse(encoded) {
        check_field(&shown(&name), &name, &value)?;
    }
    Ok(())
}

/// serde's message without any value it quotes: field names (in backticks) stay,
/// quoted input does not.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("a value");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    match out.find(" at line ") {
        Some(at) => out[..at].to_owned(),
        None => out,
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_media_type(request.headers(), "application/json") {
            return Err(ApiError::UnsupportedMediaType("application/json"));
        }
        let bytes = body_bytes(request, state).await?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|err| {
            ApiError::BadBody(format!(
                "the body is not JSON: {}",
                without_values(&err.to_string())
            ))
        })?;
        check_json(&value, "", "")?;
        serde_json::from_value(value)
            .map(Json)
            .map_err(|err| ApiError::UnprocessableBody(without_values(&err.to_string())))
    }
}

/// A body that may be left out: no `Content-Type` means no body; anything else is
/// judged as [`Json`] judges it.
impl<T: DeserializeOwned, S: Send + Sync> axum::extract::OptionalFromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if request.headers().get(header::CONTENT_TYPE).is_none() {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(request, state)
            .await
            .map(Some)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Form<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_media_type(request.headers(), "application/x-www-form-urlencoded") {
            return Err(ApiError::UnsupportedMediaType(
                "application/x-www-form-urlencoded",
            ));
        }
        let bytes = body_bytes(request, state).await?;
        check_pairs(&bytes)?;
        let request = Request::builder()
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .method(axum::http::Method::POST)
            .body(axum::body::Body::from(bytes))
            .map_err(|err| ApiError::Unexpected(err.into()))?;
        axum::Form::<T>::from_request(request, state)
            .await
            .map(|axum::Form(value)| Form(value))
            .map_err(|rejection| {
                ApiError::UnprocessableBody(without_values(&rejection.body_text()))
            })
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        check_pairs(parts.uri.query().unwrap_or_default().as_bytes())?;
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| ApiError::BadQuery(without_values(&rejection.body_text())))
    }
}

/// An id Enamel accepts in a URL or a body: a typed id, or a bare UUID (sessions,
/// tokens, jobs), in the one spelling of `enamel_domain::ids::parse_uuid`.
pub(crate) trait IdValue: Sized {
    fn parse_id(raw: &str) -> Option<Self>;
}

impl IdValue for uuid::Uuid {
    fn parse_id(raw: &str) -> Option<Self> {
        enamel_domain::ids::parse_uuid(raw)
    }
}

macro_rules! typed_ids {
    ($($id:ty),* $(,)?) => {
        $(impl IdValue for $id {
            fn parse_id(raw: &str) -> Option<Self> {
                raw.parse().ok()
            }
        })*
    };
}

typed_ids!(
    enamel_domain::AgentId,
    enamel_domain::AppointmentId,
    enamel_domain::WaitlistEntryId,
    enamel_domain::AttachmentId,
    enamel_domain::PatientId,
    enamel_domain::PracticeId,
    enamel_domain::RecoveryRunId,
    enamel_domain::ReferralId,
    enamel_domain::UserId,
);

/// Parses an id (from a body, a query or a two-id path); one that does not parse
/// names nothing, so it is answered like a missing one: 404.
pub(crate) fn parse_id<T: IdValue>(raw: &str) -> Result<T, ApiError> {
    T::parse_id(raw).ok_or(ApiError::NotFound)
}

/// A path's one id, typed. A malformed id is a 404, exactly like an id that names
/// nothing or another practice's resource.
pub(crate) struct Id<T>(pub T);

impl<T: IdValue + Send, S: Send + Sync> FromRequestParts<S> for Id<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound)?;
        parse_id(&raw).map(Id)
    }
}

/// A date typed as `YYYY-MM-DD` (surrounding spaces ignored); `what` names the field
/// in the problem when it is not one.
pub(crate) fn parse_date(raw: &str, what: &'static str) -> Result<time::Date, ApiError> {
    time::Date::parse(
        raw.trim(),
        &time::format_description::well_known::Iso8601::DATE,
    )
    .map_err(|_| {
        ApiError::InvalidInput(enamel_domain::InvalidValue::new(
            what,
            "must be a date as YYYY-MM-DD",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_control_character_is_named_by_its_field_never_shown() {
        let value =
            serde_json::json!({ "address": { "city": "Aus\u{0}tin" }, "teeth": ["3", "1\n4"] });
        let err = check_json(&value, "", "").unwrap_err();
        assert!(err.to_string().contains("address.city"), "{err}");
        assert!(!err.to_string().contains("Aus"));
        let notes = serde_json::json!({ "notes": "line one\nline two", "teeth": ["3"] });
        assert!(check_json(&notes, "", "").is_ok());
        assert!(check_pairs(b"actor=Jane%00Roe").is_err());
        assert!(check_pairs(b"actor=Jane+Roe").is_ok());
    }

    #[test]
    fn serde_messages_lose_the_values_they_quote() {
        let message =
            r#"invalid type: string "Jane Roe 1980-01-01", expected u32 at line 1 column 30"#;
        assert_eq!(
            without_values(message),
            "invalid type: string a value, expected u32"
        );
        assert_eq!(
            without_values("missing field `email`"),
            "missing field `email`"
        );
    }
}
