//! Attachments of a referral: the metadata, sealed file names, and the keys the
//! server streams bodies through. Bodies are sealed with the streaming encryption
//! under the uploading practice's data key before they leave the process; the
//! object store only ever holds ciphertext. Each download is audited before a byte
//! of it is sent.

use std::sync::Arc;

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_crypto::stream::AttachmentContext;
use enamel_crypto::{DataKey, KeyId};
use enamel_domain::{AttachmentId, MediaType, Phi, PracticeId, ReferralId, Side};
use enamel_policy::Action;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{TimelineRow, insert_timeline};
use crate::db::{on_pool, on_tx};
use crate::sealed::ATTACHMENT_FILE_NAME;
use crate::{Scoped, Store, StoreError};

/// Why the attachment is there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Sent with the referral.
    Referral,
    /// Sent back with the specialist's report.
    Report,
}

/// An attachment as a referral shows it.
#[derive(Clone, Debug)]
pub struct AttachmentInfo {
    pub id: AttachmentId,
    pub referral: ReferralId,
    pub side: Side,
    pub purpose: Purpose,
    pub media_type: MediaType,
    pub file_name: Phi<String>,
    pub size: u64,
    pub created_at: OffsetDateTime,
}

/// Permission to upload one attachment: its id, where it goes, and the key that
/// seals it.
#[derive(Debug)]
pub struct UploadTicket {
    pub id: AttachmentId,
    pub referral: ReferralId,
    pub context: AttachmentContext,
    pub data_key: Arc<DataKey>,
    pub object_key: String,
    side: Side,
    /// The referral's patient, for the audit event of an upload that fails.
    patient: Uuid,
}

/// Permission to download one attachment, granted after the download was audited.
#[derive(Debug)]
pub struct DownloadTicket {
    pub info: AttachmentInfo,
    pub context: AttachmentContext,
    pub object_key: String,
}

impl Scoped<'_> {
    /// Authorizes an upload to a referral and hands out the key to seal it with.
    /// Only the referring office adds to an open referral; the receiving office adds
    /// report attachments.
    pub async fn attachment_upload(
        &self,
        referral: ReferralId,
    ) -> Result<UploadTicket, StoreError> {
        let practice = self.practice()?;
        let (row, side) = self
            .referral_for(
                referral,
                Action::ReferralAct,
                (AuditAction::Create, ResourceType::Attachment),
            )
            .await?;
        self.require_referral_agreements(&row, ResourceType::Attachment)
            .await?;
        let id = AttachmentId::generate();
        if row.status()?.is_finished() {
            self.record_upload_failure(id, row.patient_id, "referral_closed")
                .await?;
            return Err(StoreError::Refused(
                "this referral is closed to new attachments",
            ));
        }
        Ok(UploadTicket {
            id,
            referral,
            context: AttachmentContext {
                practice,
                attachment: id.as_uuid(),
            },
            data_key: self.store.data_key(practice).await?,
            object_key: format!("attachments/{practice}/{id}"),
            side,
            patient: row.patient_id,
        })
    }

    /// Records that an authorized upload did not complete, and why (`reason`, a
    /// code such as `unsupported_type` or `no_storage_baa`; never the file's name or
    /// content), so a failed write shows among the security officer's failures.
    pub async fn attachment_upload_failed(
        &self,
        ticket: &UploadTicket,
        reason: &'static str,
    ) -> Result<(), StoreError> {
        self.record_upload_failure(ticket.id, ticket.patient, reason)
            .await
    }

    /// An event about one attachment of `patient`'s referral.
    fn attachment_event(
        &self,
        action: AuditAction,
        attachment: Uuid,
        patient: Uuid,
        outcome: Outcome,
    ) -> enamel_audit::entry::Event {
        let mut event = self.event(
            action,
            ResourceType::Attachment,
            Some(attachment.to_string()),
            outcome,
        );
        event.patient_id = Some(patient);
        event
    }

    async fn record_upload_failure(
        &self,
        attachment: AttachmentId,
        patient: Uuid,
        reason: &'static str,
    ) -> Result<(), StoreError> {
        let mut event = self.attachment_event(
            AuditAction::Create,
            attachment.as_uuid(),
            patient,
            Outcome::Failure,
        );
        event
            .detail
            .insert("reason", Detail::Code(reason.to_owned()));
        self.store.audit().record(event).await?;
        Ok(())
    }

    /// Records an uploaded (already stored, sealed) attachment with its timeline
    /// entry and audit event, in one transaction.
    pub async fn record_attachment(
        &self,
        ticket: &UploadTicket,
        media_type: MediaType,
        file_name: &Phi<String>,
        size: u64,
        at: OffsetDateTime,
    ) -> Result<AttachmentInfo, StoreError> {
        let practice = self.practice()?;
        let row = self.referral_row(ticket.referral).await?;
        let purpose = match ticket.side {
            Side::Referrer => Purpose::Referral,
            Side::Receiver => Purpose::Report,
        };
        let id = ticket.id.as_uuid();
        let sealed_name = self
            .store
            .seal(
                practice,
                &ATTACHMENT_FILE_NAME,
                id,
                file_name.expose().as_bytes(),
            )
            .await?;
        let mut event =
            self.attachment_event(AuditAction::Create, id, row.patient_id, Outcome::Success);
        event.detail.insert("bytes", Detail::Count(size));
        event
            .detail
            .insert("media_type", Detail::Code(media_type.as_str().into()));
        let user = self.actor.user().map_or(Uuid::nil(), |u| u.as_uuid());
        let size_column = i64::try_from(size).map_err(|_| StoreError::Refused("file too large"))?;
        let write = async {
            let mut tx = self.store.begin().await?;
            on_tx!(&mut tx, conn => {
                sqlx::query(
                    "INSERT INTO attachments (id, referral_id, practice_id, purpose, media_type, \
                     file_name, size, object_key, uploaded_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(id)
                .bind(row.id)
                .bind(practice.as_uuid())
                .bind(match purpose { Purpose::Referral => "referral", Purpose::Report => "report" })
                .bind(media_type.as_str())
                .bind(&sealed_name)
                .bind(size_column)
                .bind(&ticket.object_key)
                .bind(user)
                .bind(at)
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected())
            })?;
            let entry = TimelineRow::new(row.id, practice.as_uuid(), "attachment", Some(user), at);
            insert_timeline(&mut tx, entry).await?;
            tx.commit_with(&[&event]).await
        };
        write.await.context("recording an attachment")?;
        Ok(AttachmentInfo {
            id: ticket.id,
            referral: ticket.referral,
            side: ticket.side,
            purpose,
            media_type,
            file_name: file_name.clone(),
            size,
            created_at: at,
        })
    }

    /// Authorizes and audits a download; the event is durable before this returns.
    pub async fn attachment_download(
        &self,
        referral: ReferralId,
        attachment: AttachmentId,
    ) -> Result<DownloadTicket, StoreError> {
        let (row, _) = self
            .referral_for(
                referral,
                Action::ReferralRead,
                (AuditAction::Download, ResourceType::Attachment),
            )
            .await?;
        let found = self
            .store
            .attachments_of(referral)
            .await?
            .into_iter()
            .find(|a| a.id == attachment);
        let outcome = if found.is_some() {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        let event = self.attachment_event(
            AuditAction::Download,
            attachment.as_uuid(),
            row.patient_id,
            outcome,
        );
        self.store.audit().record(event).await?;
        let info = found.ok_or(StoreError::NotFound)?;
        let owner = match info.side {
            Side::Referrer => row.referrer(),
            Side::Receiver => row.receiver(),
        };
        Ok(DownloadTicket {
            context: AttachmentContext {
                practice: owner,
                attachment: attachment.as_uuid(),
            },
            object_key: format!("attachments/{owner}/{attachment}"),
            info,
        })
    }
}

impl Store {
    /// The data key with id `key` of `practice`, to open an attachment stream whose
    /// header names it. Only for a [`DownloadTicket`]'s practice.
    pub async fn attachment_key(
        &self,
        ticket: &DownloadTicket,
        key: KeyId,
    ) -> Result<Arc<DataKey>, StoreError> {
        self.keys
            .data_key(&self.db, ticket.context.practice, key)
            .await
    }

    pub(crate) async fn attachments_of(
        &self,
        referral: ReferralId,
    ) -> Result<Vec<AttachmentInfo>, StoreError> {
        type Row = (
            Uuid,
            Uuid,
            Uuid,
            String,
            String,
            Vec<u8>,
            i64,
            OffsetDateTime,
        );
        let rows: Vec<Row> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT a.id, a.practice_id, r.practice_id, a.purpose, a.media_type, a.file_name, \
                 a.size, a.created_at FROM attachments a JOIN referrals r ON r.id = a.referral_id \
                 WHERE a.referral_id = $1 ORDER BY a.id",
            )
            .bind(referral.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("listing attachments")?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, owner, referrer, purpose, media_type, name, size, created_at) in rows {
            let owner = PracticeId::from_uuid(owner);
            let name = self.open(owner, &ATTACHMENT_FILE_NAME, id, &name).await?;
            out.push(AttachmentInfo {
                id: AttachmentId::from_uuid(id),
                referral,
                side: if owner.as_uuid() == referrer {
                    Side::Referrer
                } else {
                    Side::Receiver
                },
                purpose: if purpose == "report" {
                    Purpose::Report
                } else {
                    Purpose::Referral
                },
                media_type: MediaType::parse(&media_type).unwrap_or(MediaType::Pdf),
                file_name: Phi::new(String::from_utf8_lossy(&name).into_owned()),
                size: u64::try_from(size).unwrap_or_default(),
                created_at,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::MediaType;

    #[test]
    fn files_are_recognized_by_their_first_bytes_only() {
        assert_eq!(
            MediaType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(MediaType::Jpeg)
        );
        assert_eq!(
            MediaType::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(MediaType::Png)
        );
        assert_eq!(MediaType::sniff(b"%PDF-1.7\n"), Some(MediaType::Pdf));
        let mut dicom = vec![0_u8; 128];
        dicom.extend_from_slice(b"DICM");
        assert_eq!(MediaType::sniff(&dicom), Some(MediaType::Dicom));
        assert_eq!(MediaType::sniff(b"MZ\x90\x00 an executable"), None);
        assert_eq!(MediaType::sniff(b"<html><script>"), None);
        assert_eq!(MediaType::sniff(b""), None);
    }
}
