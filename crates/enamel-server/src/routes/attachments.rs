//! Attachment upload and download, streamed: an upload is checked by its first
//! bytes, sealed chunk by chunk into a temporary file and handed to the object
//! store; a download is audited, fetched as ciphertext and opened chunk by chunk
//! into the response. No body is ever whole in memory.

use std::io::Write as _;

use crate::extract::Json;
use crate::extract::Query;
use crate::extract::{Id, parse_id};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use enamel_crypto::stream::{self, DEFAULT_CHUNK_SIZE, Encryptor, HEADER_LEN};
use enamel_domain::{AttachmentId, Phi, ReferralId};
use enamel_store::{AttachmentInfo, MediaType};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt as _;

use crate::auth::Authenticated;
use crate::{ApiError, AppState};

/// The header that names an uploaded file (a header, never the URL: names can be PHI).
pub(crate) const FILE_NAME_HEADER: &str = "x-file-name";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/referrals/{id}/attachments", post(upload))
        .route(
            "/api/v1/referrals/{id}/attachments/{attachment}",
            get(download),
        )
}

fn unexpected(err: impl Into<anyhow::Error>, doing: &'static str) -> ApiError {
    ApiError::Unexpected(err.into().context(doing))
}

/// A stored attachment's id, type (by content) and size; never its name or bytes.
#[derive(Serialize, utoipa::ToSchema)]
struct AttachmentCreated {
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
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn upload(
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

/// Checks, seals and stores one uploaded file for a referral, streamed from `body`,
/// and records it. `file_name` is the client's name for it (sealed; a blank name
/// becomes "attachment"). An upload that fails once authorized is audited as a
/// failure with its reason.
pub(crate) async fn store_attachment<S, E>(
    state: &AppState,
    auth: &Authenticated,
    id: ReferralId,
    file_name: &str,
    body: S,
) -> Result<AttachmentInfo, ApiError>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
{
    let file_name = Some(file_name.trim())
        .filter(|n| !n.is_empty() && n.len() <= 200)
        .unwrap_or("attachment")
        .to_owned();
    let scoped = auth.scoped(&state.store);
    let ticket = scoped.attachment_upload(id).await?;
    match seal_and_store(state, auth, &ticket, file_name, body).await {
        Ok(info) => Ok(info),
        Err(failed) => {
            if let Err(err) = scoped
                .attachment_upload_failed(&ticket, failed.reason)
                .await
            {
                tracing::error!(
                    error = %err,
                    reason = failed.reason,
                    "a failed attachment upload could not be audited"
                );
            }
            Err(failed.for_client())
        }
    }
}

/// Why an authorized upload failed: the error for the client and the code the
/// audit log records for it.
struct UploadFailed {
    error: ApiError,
    reason: &'static str,
}

impl UploadFailed {
    const fn new(error: ApiError, reason: &'static str) -> Self {
        Self { error, reason }
    }
}

impl UploadFailed {
    /// The error the client sees: a refusal carries the same reason code as the
    /// audit log (`unsupported_type`, `too_large`, `no_storage_baa`), not just
    /// `rejected`; anything else is passed on as it is.
    fn for_client(self) -> ApiError {
        match self.error {
            ApiError::Rejected(message) | ApiError::Refused { message, .. } => ApiError::Refused {
                code: self.reason,
                message,
            },
            other => other,
        }
    }
}

/// Any other failure (I/O, sealing, the database) is recorded as `error`.
impl From<ApiError> for UploadFailed {
    fn from(error: ApiError) -> Self {
        Self::new(error, "error")
    }
}

async fn seal_and_store<S, E>(
    state: &AppState,
    auth: &Authenticated,
    ticket: &enamel_store::UploadTicket,
    file_name: String,
    body: S,
) -> Result<AttachmentInfo, UploadFailed>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
{
    check_storage_baa(state, auth, ticket).await?;
    let sealed = tempfile::NamedTempFile::new_in(&state.scratch_dir)
        .map_err(|e| unexpected(e, "creating a temporary file"))?;
    let max = state.referrals.attachment_max_bytes;
    let (media_type, size) = seal_body(body, ticket, &sealed, max).await?;
    state
        .objects
        .put_file(&ticket.object_key, sealed.path())
        .await
        .map_err(|e| UploadFailed::new(unexpected(e, "storing an attachment"), "storage_failed"))?;
    let recorded = auth
        .scoped(&state.store)
        .record_attachment(
            ticket,
            media_type,
            &Phi::new(file_name),
            size,
            state.clock.now(),
        )
        .await;
    match recorded {
        Ok(info) => Ok(info),
        Err(err) => {
            let _ = state.objects.delete(&ticket.object_key).await;
            Err(ApiError::from(err).into())
        }
    }
}

/// The BAA gate for the object store: sealed attachments go to an S3 provider only
/// while the practice has an executed, unexpired BAA with it (the file system needs
/// none).
async fn check_storage_baa(
    state: &AppState,
    auth: &Authenticated,
    ticket: &enamel_store::UploadTicket,
) -> Result<(), UploadFailed> {
    let Some(vendor) = state.objects.vendor() else {
        return Ok(());
    };
    match auth
        .scoped(&state.store)
        .require_baa(
            vendor,
            enamel_store::Outbound {
                purpose: "attachment_storage",
                resource: enamel_audit::entry::ResourceType::Referral,
                resource_id: Some(ticket.referral.to_string()),
                patient: None,
            },
        )
        .await
    {
        Ok(()) => Ok(()),
        Err(err @ enamel_store::StoreError::NoBaa(_)) => {
            Err(UploadFailed::new(err.into(), "no_storage_baa"))
        }
        Err(other) => Err(ApiError::from(other).into()),
    }
}

fn too_large(max: u64) -> ApiError {
    ApiError::Rejected(format!(
        "the file is larger than the limit of {} MB",
        max / (1024 * 1024)
    ))
}

/// Seals the request body into `into`, checking its kind from the first bytes and
/// its size as it arrives.
async fn seal_body<S, E>(
    mut stream: S,
    ticket: &enamel_store::UploadTicket,
    into: &tempfile::NamedTempFile,
    max: u64,
) -> Result<(MediaType, u64), UploadFailed>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
{
    let mut encryptor = Encryptor::new(&ticket.data_key, &ticket.context, DEFAULT_CHUNK_SIZE)
        .map_err(|e| unexpected(e, "starting an attachment stream"))?;
    let file = into
        .reopen()
        .map_err(|e| unexpected(e, "opening a temporary file"))?;
    let mut file = tokio::fs::File::from_std(file);
    file.write_all(encryptor.header())
        .await
        .map_err(|e| unexpected(e, "writing a temporary file"))?;
    let mut pending: Vec<u8> = Vec::with_capacity(DEFAULT_CHUNK_SIZE * 2);
    let mut total = 0_u64;
    let mut media_type = None;
    while let Some(bytes) = stream.next().await {
        let bytes = bytes.map_err(|_| {
            UploadFailed::new(
                ApiError::Rejected("the upload was interrupted".into()),
                "interrupted",
            )
        })?;
        total += bytes.len() as u64;
        if total > max {
            return Err(UploadFailed::new(too_large(max), "too_large"));
        }
        pending.extend_from_slice(&bytes);
        if media_type.is_none() && pending.len() >= MediaType::SNIFF_LEN {
            media_type = Some(sniff(&pending)?);
        }
        while pending.len() > DEFAULT_CHUNK_SIZE {
            let rest = pending.split_off(DEFAULT_CHUNK_SIZE);
            let mut chunk = std::mem::replace(&mut pending, rest);
            encryptor
                .seal_chunk(&mut chunk, false)
                .map_err(|e| unexpected(e, "sealing a chunk"))?;
            file.write_all(&chunk)
                .await
                .map_err(|e| unexpected(e, "writing a temporary file"))?;
        }
    }
    if total == 0 {
        return Err(UploadFailed::new(
            ApiError::Rejected("the file is empty".into()),
            "empty",
        ));
    }
    let media_type = match media_type {
        Some(kind) => kind,
        None => sniff(&pending)?,
    };
    encryptor
        .seal_chunk(&mut pending, true)
        .map_err(|e| unexpected(e, "sealing a chunk"))?;
    file.write_all(&pending)
        .await
        .map_err(|e| unexpected(e, "writing a temporary file"))?;
    file.sync_all()
        .await
        .map_err(|e| unexpected(e, "writing a temporary file"))?;
    Ok((media_type, total))
}

fn sniff(head: &[u8]) -> Result<MediaType, UploadFailed> {
    MediaType::sniff(head).ok_or_else(|| {
        UploadFailed::new(
            ApiError::Rejected(
                "only JPEG, PNG, PDF and DICOM files can be attached (judged by content, not \
                 name)"
                    .into(),
            ),
            "unsupported_type",
        )
    })
}

#[derive(Deserialize)]
struct DownloadQuery {
    /// Show an image in the page instead of saving it.
    inline: Option<bool>,
}

/// Sends decrypted chunks to the response body as they open.
struct ChannelWriter(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::other("the client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/referrals/{id}/attachments/{attachment}",
    tag = "referrals",
    summary = "Download an attachment (audited before the first byte)",
    params(("id" = String, Path, description = "Referral id"), ("attachment" = String, Path, description = "Attachment id"), ("inline" = Option<bool>, Query, description = "Show an image in the page")),
    responses(
        (status = 200, description = "The file, decrypted as it streams", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn download(
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
