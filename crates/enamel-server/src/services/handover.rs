//! "Return or destroy" (docs/onboarding.md): a terminated practice's records written
//! out for handover to the practice, as one JSON document and its attachments,
//! before the operator destroys the practice's keys.
//!
//! Layout of the directory written:
//!
//! ```text
//! records.json             the practice, its patients, its referrals and its schedule
//! attachments/<id>         each attachment, decrypted, named by its id
//! ```
//!
//! `records.json` names each attachment's file, media type, size and SHA-256, so the
//! practice can check the copy it received. The directory is created by this export
//! and must not exist before: nothing is overwritten.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use enamel_crypto::{checksum, stream};
use enamel_domain::{Actor, Patient, Phi, PracticeId, SystemTask};
use enamel_integrations::ObjectStore;
use enamel_store::{
    DownloadTicket, HandedOverReferral, HandedOverSchedule, Handover, Store, TimelineEntry,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What one export wrote.
#[derive(Debug)]
pub struct ExportSummary {
    pub directory: PathBuf,
    pub patients: usize,
    pub referrals: usize,
    pub attachments: usize,
    /// Referrals left out because the other office's keys were already destroyed.
    pub unreadable: usize,
}

/// The version of the layout above, written into `records.json`.
pub const FORMAT: &str = "enamel-handover/1";

/// Writes the records of `practice` (whose agreement must be terminated) into the new
/// directory `out`, as Enamel's `handover` task. Every record read is audited as an
/// export; a failure part-way leaves a directory the operator deletes and exports
/// again.
pub async fn export(
    store: &Store,
    objects: &ObjectStore,
    practice: PracticeId,
    out: &Path,
) -> anyhow::Result<ExportSummary> {
    if out.exists() {
        bail!(
            "{} already exists: name a new directory for the export",
            out.display()
        );
    }
    let actor = Actor::system_for(practice, SystemTask::Handover);
    let handover = store.scoped(&actor).handover().await?;
    let attachments_dir = out.join("attachments");
    std::fs::create_dir_all(&attachments_dir)
        .with_context(|| format!("creating {}", attachments_dir.display()))?;
    restrict_to_owner(out)?;
    let mut referrals = Vec::with_capacity(handover.referrals.len());
    let mut attachments = 0;
    for referral in &handover.referrals {
        let mut files = Vec::with_capacity(referral.attachments.len());
        for ticket in &referral.attachments {
            let target = attachments_dir.join(ticket.info.id.to_string());
            let sha256 = decrypt_to_file(store, objects, ticket, &target).await?;
            files.push(attachment_json(ticket, &sha256));
            attachments += 1;
        }
        referrals.push(referral_json(referral, &files));
    }
    let document = json!({
        "format": FORMAT,
        "exported_at": rfc3339(store.now()),
        "agreement_terminated_at": rfc3339(handover.terminated_at),
        "practice": handover.practice,
        "patients": handover.patients.iter().map(patient_json).collect::<Vec<_>>(),
        "referrals": referrals,
        "schedule": schedule_json(&handover.schedule),
        "unreadable_referrals": handover
            .unreadable
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
    });
    let records = out.join("records.json");
    let text = serde_json::to_vec_pretty(&document).context("writing records.json")?;
    std::fs::write(&records, text).with_context(|| format!("writing {}", records.display()))?;
    Ok(summary(out, &handover, attachments))
}

fn summary(out: &Path, handover: &Handover, attachments: usize) -> ExportSummary {
    ExportSummary {
        directory: out.to_path_buf(),
        patients: handover.patients.len(),
        referrals: handover.referrals.len(),
        attachments,
        unreadable: handover.unreadable.len(),
    }
}

/// The export is PHI on the operator's disk: readable by its owner only.
fn restrict_to_owner(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Fetches one attachment's ciphertext, opens it into `target` and returns the
/// plaintext's SHA-256 (hex).
async fn decrypt_to_file(
    store: &Store,
    objects: &ObjectStore,
    ticket: &DownloadTicket,
    target: &Path,
) -> anyhow::Result<String> {
    let sealed = target.with_extension("sealed");
    objects
        .get_to_file(&ticket.object_key, &sealed)
        .await
        .context("fetching an attachment")?;
    let header = {
        use std::io::Read as _;
        let mut bytes = vec![0_u8; stream::HEADER_LEN];
        std::fs::File::open(&sealed)
            .and_then(|mut file| file.read_exact(&mut bytes))
            .context("reading an attachment's header")?;
        stream::read_header(&bytes).context("reading an attachment's header")?
    };
    let key = store.attachment_key(ticket, header.key).await?;
    let context = ticket.context;
    let (from, to) = (sealed.clone(), target.to_path_buf());
    tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let input = std::fs::File::open(&from)?;
        let mut output = std::fs::File::create(&to)?;
        stream::decrypt(|_| Ok(&*key), &context, input, &mut output)
            .context("an attachment failed to open")?;
        std::fs::remove_file(&from)?;
        Ok(checksum::sha256_hex(std::fs::File::open(&to)?)?)
    })
    .await
    .context("decrypting an attachment")?
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn patient_json(patient: &Patient) -> Value {
    json!({
        "id": patient.id.to_string(),
        "first_name": patient.first_name.expose(),
        "last_name": patient.last_name.expose(),
        "birth_date": patient.birth_date.expose().to_string(),
        "contact": patient.contact.as_ref().map(Phi::expose),
        "insurance": patient.insurance.as_ref().map(Phi::expose),
        "restricted": patient.restricted,
        "sms_opt_out": patient.sms_opt_out,
        "created_at": rfc3339(patient.created_at),
    })
}

fn referral_json(referral: &HandedOverReferral, attachments: &[Value]) -> Value {
    let summary = &referral.summary;
    json!({
        "id": summary.id.to_string(),
        "side": summary.side,
        "referrer": { "id": summary.referrer.to_string(), "name": summary.referrer_name },
        "receiver": { "id": summary.receiver.to_string(), "name": summary.receiver_name },
        "patient_id": summary.patient.id.to_string(),
        "patient": referral.patient.as_ref().map(patient_json),
        "status": summary.status.as_str(),
        "urgency": summary.urgency.as_str(),
        "created_at": rfc3339(summary.created_at),
        "sent_at": summary.sent_at.map(rfc3339),
        "updated_at": rfc3339(summary.updated_at),
        "not_responding": summary.not_responding,
        "clinical": referral.clinical.expose(),
        "appointment_local_time": referral.appointment.as_ref().map(|at| {
            let at = at.expose();
            format!("{}T{:02}:{:02}", at.date(), at.hour(), at.minute())
        }),
        "timeline": referral.timeline.iter().map(timeline_json).collect::<Vec<_>>(),
        "attachments": attachments,
    })
}

fn schedule_json(schedule: &HandedOverSchedule) -> Value {
    let date = |d: Option<time::Date>| d.map(|d| d.to_string());
    json!({
        "appointments": schedule.appointments.iter().map(|a| json!({
            "id": a.id.to_string(),
            "patient_id": a.patient_id.to_string(),
            "provider": a.provider,
            "appointment_type": a.appointment_type,
            "starts_at": rfc3339(a.starts_at),
            "minutes": a.minutes,
            "status": a.status,
            "procedures": a.procedures.expose(),
            "note": a.note.as_ref().map(Phi::expose),
        })).collect::<Vec<_>>(),
        "waitlist": schedule.waitlist.iter().map(|w| json!({
            "id": w.id.to_string(),
            "patient_id": w.patient_id.to_string(),
            "minutes": w.minutes,
            "earliest": date(w.earliest),
            "latest": date(w.latest),
            "priority": w.priority,
            "joined_at": rfc3339(w.joined_at),
            "note": w.note.as_ref().map(Phi::expose),
        })).collect::<Vec<_>>(),
        "recalls": schedule.recalls.iter().map(|r| json!({
            "id": r.id.to_string(),
            "patient_id": r.patient_id.to_string(),
            "recall_type": r.recall_type,
            "previous_visit": date(r.previous),
            "due": date(r.due),
            "disabled": r.disabled,
        })).collect::<Vec<_>>(),
        "coverage": schedule.coverage.iter().map(|c| json!({
            "id": c.id.to_string(),
            "patient_id": c.patient_id.to_string(),
            "ordinal": c.ordinal,
            "payer_id": c.payer_id,
            "payer_name": c.payer_name,
            "relationship": c.relationship,
            "member_id": c.membership.expose().member_id,
            "group_number": c.membership.expose().group_number,
        })).collect::<Vec<_>>(),
    })
}

fn timeline_json(entry: &TimelineEntry) -> Value {
    json!({
        "kind": entry.kind,
        "side": entry.side,
        "by": entry.actor_name,
        "at": rfc3339(entry.at),
        "note": entry.note.as_ref().map(Phi::expose),
    })
}

fn attachment_json(ticket: &DownloadTicket, sha256: &str) -> Value {
    let info = &ticket.info;
    json!({
        "id": info.id.to_string(),
        "file": format!("attachments/{}", info.id),
        "file_name": info.file_name.expose(),
        "media_type": info.media_type.as_str(),
        "purpose": info.purpose,
        "side": info.side,
        "size": info.size,
        "sha256": sha256,
        "created_at": rfc3339(info.created_at),
    })
}
