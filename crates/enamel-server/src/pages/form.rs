//! Reading the pages' multipart forms: text fields with a size cap, lists typed as
//! text, and file fields streamed into a referral's attachments.

use axum::extract::multipart::Field;
use enamel_domain::ReferralId;
use futures_util::{StreamExt as _, TryStreamExt as _};

use crate::auth::Authenticated;
use crate::services::attachments::store_attachment;
use crate::{ApiError, AppState};

/// The longest text field a form may send (a clinical note is at most a few pages).
pub(crate) const MAX_FIELD_BYTES: usize = 64 * 1024;

pub(crate) async fn text_of(field: Field<'_>) -> Result<String, ApiError> {
    let name = field.name().unwrap_or_default().to_owned();
    let mut bytes = Vec::new();
    let mut stream = field;
    while let Some(chunk) = stream
        .chunk()
        .await
        .map_err(|_| ApiError::Rejected("the form could not be read".into()))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_FIELD_BYTES {
            return Err(ApiError::Rejected("a form field is too long".into()));
        }
    }
    let text =
        String::from_utf8(bytes).map_err(|_| ApiError::Rejected("the form is not UTF-8".into()))?;
    crate::http::extract::check_text_field(&name, &text)?;
    Ok(text)
}

pub(crate) fn split_list(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Streams one file field into the referral's attachments; an empty file input (no
/// file chosen) is skipped.
pub(crate) async fn attach_field(
    state: &AppState,
    auth: &Authenticated,
    id: ReferralId,
    field: Field<'_>,
) -> Result<bool, ApiError> {
    let name = field.file_name().unwrap_or_default().to_owned();
    let mut body = field
        .map_err(|_| std::io::Error::other("the upload was interrupted"))
        .peekable();
    if std::pin::Pin::new(&mut body).peek().await.is_none() {
        return Ok(false);
    }
    store_attachment(state, auth, id, &name, body).await?;
    Ok(true)
}
