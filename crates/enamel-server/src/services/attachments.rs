//! Attachment upload and download, streamed; the API and the referral page call these: an upload is checked by its first
//! bytes, sealed chunk by chunk into a temporary file and handed to the object
//! store; a download is audited, fetched as ciphertext and opened chunk by chunk
//! into the response. No body is ever whole in memory.

use crate::auth::Authenticated;
use crate::{ApiError, AppState};
use axum::body::Bytes;
use enamel_crypto::stream::{DEFAULT_CHUNK_SIZE, Encryptor};
use enamel_domain::{Phi, ReferralId};
use enamel_integrations::ObjectStore;
use enamel_store::{AttachmentInfo, MediaType, Scoped};
use futures_util::StreamExt as _;
use std::path::Path;
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt as _;

/// The header that names an uploaded file (a header, never the URL: names can be PHI).
pub(crate) const FILE_NAME_HEADER: &str = "x-file-name";

pub(crate) fn unexpected(err: impl Into<anyhow::Error>, doing: &'static str) -> ApiError {
    ApiError::Unexpected(err.into().context(doing))
}

/// Where sealed attachments are kept, where they are staged, and how large one may be.
#[derive(Clone, Copy, Debug)]
pub struct AttachmentStorage<'a> {
    pub objects: &'a ObjectStore,
    /// A directory for sealed files on their way to the object store.
    pub scratch_dir: &'a Path,
    pub max_bytes: u64,
}

impl AppState {
    pub(crate) fn attachment_storage(&self) -> AttachmentStorage<'_> {
        AttachmentStorage {
            objects: &self.objects,
            scratch_dir: &self.scratch_dir,
            max_bytes: self.referrals.attachment_max_bytes,
        }
    }
}

/// Checks, seals and stores one uploaded file for a referral, streamed from `body`,
/// and records it, for the signed-in person.
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
    let scoped = auth.scoped(&state.store);
    attach(
        state.attachment_storage(),
        &scoped,
        id,
        file_name,
        body,
        state.clock.now(),
    )
    .await
}

/// [`store_attachment`] for a file already in memory, by any actor the store allows
/// to attach (the demo's synthetic radiographs, seeded by the command line).
///
/// # Errors
/// As an upload through the API: a refused kind or size, a missing storage BAA, the
/// store's refusals.
pub async fn attach_file(
    storage: AttachmentStorage<'_>,
    scoped: &Scoped<'_>,
    id: ReferralId,
    file_name: &str,
    bytes: Vec<u8>,
    now: OffsetDateTime,
) -> Result<AttachmentInfo, ApiError> {
    let body = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Bytes::from(bytes))]);
    attach(storage, scoped, id, file_name, body, now).await
}

/// Checks, seals and stores one file for a referral, streamed from `body`, and
/// records it. `file_name` is the client's name for it (sealed; a blank name becomes
/// "attachment"). An upload that fails once authorized is audited as a failure with
/// its reason.
async fn attach<S, E>(
    storage: AttachmentStorage<'_>,
    scoped: &Scoped<'_>,
    id: ReferralId,
    file_name: &str,
    body: S,
    now: OffsetDateTime,
) -> Result<AttachmentInfo, ApiError>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
{
    let file_name = Some(file_name.trim())
        .filter(|n| !n.is_empty() && n.len() <= 200)
        .unwrap_or("attachment")
        .to_owned();
    let ticket = scoped.attachment_upload(id).await?;
    match seal_and_store(storage, scoped, &ticket, file_name, body, now).await {
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
pub(crate) struct UploadFailed {
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
    storage: AttachmentStorage<'_>,
    scoped: &Scoped<'_>,
    ticket: &enamel_store::UploadTicket,
    file_name: String,
    body: S,
    now: OffsetDateTime,
) -> Result<AttachmentInfo, UploadFailed>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
{
    check_storage_baa(storage.objects, scoped, ticket).await?;
    let sealed = tempfile::NamedTempFile::new_in(storage.scratch_dir)
        .map_err(|e| unexpected(e, "creating a temporary file"))?;
    let (media_type, size) = seal_body(body, ticket, &sealed, storage.max_bytes).await?;
    storage
        .objects
        .put_file(&ticket.object_key, sealed.path())
        .await
        .map_err(|e| UploadFailed::new(unexpected(e, "storing an attachment"), "storage_failed"))?;
    let recorded = scoped
        .record_attachment(ticket, media_type, &Phi::new(file_name), size, now)
        .await;
    match recorded {
        Ok(info) => Ok(info),
        Err(err) => {
            let _ = storage.objects.delete(&ticket.object_key).await;
            Err(ApiError::from(err).into())
        }
    }
}

/// The BAA gate for the object store: sealed attachments go to an S3 provider only
/// while the practice has an executed, unexpired BAA with it (the file system needs
/// none).
async fn check_storage_baa(
    objects: &ObjectStore,
    scoped: &Scoped<'_>,
    ticket: &enamel_store::UploadTicket,
) -> Result<(), UploadFailed> {
    let Some(vendor) = objects.vendor() else {
        return Ok(());
    };
    match scoped
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

pub(crate) fn too_large(max: u64) -> ApiError {
    ApiError::Rejected(format!(
        "the file is larger than the limit of {} MB",
        max / (1024 * 1024)
    ))
}

/// Seals the request body into `into`, checking its kind from the first bytes and
/// its size as it arrives.
pub(crate) async fn seal_body<S, E>(
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

pub(crate) fn sniff(head: &[u8]) -> Result<MediaType, UploadFailed> {
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

/// Sends decrypted chunks to the response body as they open.
pub(crate) struct ChannelWriter(
    pub(crate) tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
);

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
