//! A referral's files: upload (the file's name in a header, never the URL) and download.

use crate::auth::Authenticated;
use crate::http::extract::Json;
use crate::http::extract::Query;
use crate::http::extract::{Id, parse_id};
use crate::services::attachments::{
    ChannelWriter, FILE_NAME_HEADER, store_attachment, too_large, unexpected,
};
use crate::{ApiError, AppState};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use enamel_crypto::stream::{self, HEADER_LEN};
use enamel_domain::{AttachmentId, ReferralId};
use enamel_store::MediaType;
use serde::{Deserialize, Serialize};
use std::io::Write as _;

/// A stored attachment's id, type (by content) and size; never its name or bytes.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AttachmentCreated {
    id: String,
    /// `image/jpeg`, `image/png`, `application/pdf` or `application/dicom`.
    #[schema(value_type = String)]
    media_type: MediaType,
    /// In bytes.
    size: u64,
}

#[utoipa::path(
    post,
    path = "/api/v1/referrals/{id}/attachments",
    tag = "referrals",
    summary = "Attach a file (JPEG, PNG, PDF or DICOM by content; streamed and sealed)",
    request_body(content = Vec<u8>, description = "The file's bytes; its name in the X-File-Name header", content_type = "application/octet-stream"),
    params(("id" = String, Path, description = "Referral id"), ("X-File-Name" = Option<String>, Header, description = "The file's name (sealed; never in a URL)")),
    responses(
        (status = 201, description = "The attachment's id, type and size", body = AttachmentCreated),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn upload(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<AttachmentCreated>), ApiError> {
    let file_name = headers
        .get(FILE_NAME_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let max = state.referrals.attachment_max_bytes;
    if let Some(length) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && length > max
    {
        return Err(too_large(max));
    }
    let info = store_attachment(&state, &auth, id, file_name, body.into_data_stream()).await?;
    Ok((
        StatusCode::CREATED,
        Json(AttachmentCreated {
            id: info.id.to_string(),
            media_type: info.media_type,
            size: info.size,
        }),
    ))
}

#[derive(Deserialize)]
pub(crate) struct DownloadQuery {
    /// Show an image in the page instead of saving it.
    inline: Option<bool>,
}

#[utoipa::path(
    get,
    path = "/api/v1/referrals/{id}/attachments/{attachment}",
    tag = "referrals",
    summary = "Download an attachment (audited before the first byte)",
    params(("id" = String, Path, description = "Referral id"), ("attachment" = String, Path, description = "Attachment id"), ("inline" = Option<bool>, Query, description = "Show an image in the page")),
    responses(
        (status = 200, description = "The file, decrypted as it streams", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn download(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, attachment)): Path<(String, String)>,
    Query(query): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    let id = parse_id::<ReferralId>(&id)?;
    let attachment = parse_id::<AttachmentId>(&attachment)?;
    let ticket = auth
        .scoped(&state.store)
        .attachment_download(id, attachment)
        .await?;
    // A directory of its own: the object store writes the file by renaming into place.
    let staging = tempfile::TempDir::new_in(&state.scratch_dir)
        .map_err(|e| unexpected(e, "creating a temporary directory"))?;
    let sealed = staging.path().join("sealed");
    state
        .objects
        .get_to_file(&ticket.object_key, &sealed)
        .await
        .map_err(|e| unexpected(e, "fetching an attachment"))?;
    let mut header_bytes = vec![0_u8; HEADER_LEN];
    {
        use std::io::Read as _;
        let mut file =
            std::fs::File::open(&sealed).map_err(|e| unexpected(e, "opening an attachment"))?;
        file.read_exact(&mut header_bytes)
            .map_err(|e| unexpected(e, "reading an attachment header"))?;
    }
    let info = stream::read_header(&header_bytes)
        .map_err(|e| unexpected(e, "reading an attachment header"))?;
    let key = state.store.attachment_key(&ticket, info.key).await?;
    let context = ticket.context;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let failure = sender.clone();
        let result = std::fs::File::open(&sealed)
            .map_err(stream::StreamError::Io)
            .and_then(|file| {
                let mut writer = ChannelWriter(sender);
                let opened = stream::decrypt(|_| Ok(&*key), &context, file, &mut writer);
                let _ = writer.flush();
                opened
            });
        if let Err(err) = result {
            tracing::error!(error = %err, "an attachment failed to open while streaming");
            let _ = failure.blocking_send(Err(std::io::Error::other("attachment failed to open")));
        }
        drop(staging);
    });
    let body = Body::from_stream(futures_util::stream::unfold(
        receiver,
        |mut receiver| async { receiver.recv().await.map(|item| (item, receiver)) },
    ));
    let media = ticket.info.media_type;
    let disposition = if query.inline.unwrap_or(false) && media.is_image() {
        "inline"
    } else {
        "attachment"
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.as_str()),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(disposition),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(ticket.info.size));
    Ok(response)
}
