//! The practice administrator's import page: one CSV file of one kind, checked (a
//! dry run) or imported, with the rejected rows by line number and reason.

use askama::Template;
use axum::extract::{Multipart, State};
use futures_util::TryStreamExt as _;
use tokio::io::AsyncWriteExt as _;

use super::form::text_of;
use super::{Chrome, PageResult, chrome, render};
use crate::auth::Authenticated;
use crate::services::import::{ImportKind, ImportReport, import_csv};
use crate::{ApiError, AppState};

/// The largest file the page takes; larger exports go through `enamel import csv`.
const MAX_UPLOAD_BYTES: u64 = 200 * 1024 * 1024;

#[derive(Template)]
#[template(path = "import.html")]
pub(super) struct ImportPage {
    chrome: Chrome,
    /// Each kind's value and label.
    kinds: Vec<(&'static str, &'static str)>,
    chosen: &'static str,
    outcome: Option<Outcome>,
}

fn kinds() -> Vec<(&'static str, &'static str)> {
    ImportKind::ALL
        .iter()
        .map(|k| {
            (
                k.as_str(),
                match k {
                    ImportKind::Patients => "Patients",
                    ImportKind::Providers => "Providers",
                    ImportKind::Operatories => "Operatories (chairs)",
                    ImportKind::AppointmentTypes => "Appointment types",
                    ImportKind::RecallTypes => "Recall types",
                    ImportKind::Appointments => "Appointments",
                    ImportKind::Waitlist => "Waitlist",
                    ImportKind::Recalls => "Recalls",
                    ImportKind::Coverage => "Insurance coverage",
                },
            )
        })
        .collect()
}

pub(super) struct Outcome {
    kind: &'static str,
    dry_run: bool,
    report: ImportReport,
}

pub(super) async fn import_page(State(state): State<AppState>, auth: Authenticated) -> PageResult {
    // Only a role that may import sees the form; the store decides on the upload.
    auth.scoped(&state.store).pms_references().await?;
    Ok(render(&ImportPage {
        chrome: chrome(&state, Some(auth.person()?)),
        kinds: kinds(),
        chosen: ImportKind::Patients.as_str(),
        outcome: None,
    }))
}

pub(super) async fn import_upload(
    State(state): State<AppState>,
    auth: Authenticated,
    mut form: Multipart,
) -> PageResult {
    // Authorized before a byte of the file is staged.
    let scoped = auth.scoped(&state.store);
    scoped.pms_references().await?;
    let unreadable = |_| ApiError::Rejected("the form could not be read".into());
    let mut kind = None;
    let mut dry_run = false;
    let staged = tempfile::NamedTempFile::new_in(&state.scratch_dir)
        .map_err(|e| ApiError::Unexpected(anyhow::Error::new(e).context("staging an import")))?;
    let mut received = 0_u64;
    while let Some(field) = form.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("kind") => kind = Some(ImportKind::parse(&text_of(field).await?)?),
            Some("dry_run") => dry_run = text_of(field).await? == "on",
            Some("file") => {
                let mut file = tokio::fs::File::from_std(staged.reopen().map_err(|e| {
                    ApiError::Unexpected(anyhow::Error::new(e).context("staging an import"))
                })?);
                let mut body =
                    field.map_err(|_| std::io::Error::other("the upload was interrupted"));
                while let Some(chunk) = body
                    .try_next()
                    .await
                    .map_err(|_| ApiError::Rejected("the upload was interrupted".into()))?
                {
                    received += chunk.len() as u64;
                    if received > MAX_UPLOAD_BYTES {
                        return Err(ApiError::Rejected(
                            "the file is larger than 200 MB: import it with `enamel import csv`"
                                .into(),
                        )
                        .into());
                    }
                    file.write_all(&chunk).await.map_err(|e| {
                        ApiError::Unexpected(anyhow::Error::new(e).context("staging an import"))
                    })?;
                }
                file.flush().await.map_err(|e| {
                    ApiError::Unexpected(anyhow::Error::new(e).context("staging an import"))
                })?;
            }
            _ => {}
        }
    }
    let kind = kind.ok_or_else(|| ApiError::Rejected("choose what the file holds".into()))?;
    if received == 0 {
        return Err(ApiError::Rejected("choose a CSV file to import".into()).into());
    }
    let zone = scoped.own_practice().await?.time_zone;
    let input = std::io::BufReader::new(staged.reopen().map_err(|e| {
        ApiError::Unexpected(anyhow::Error::new(e).context("reading a staged import"))
    })?);
    let report = import_csv(&scoped, &zone, kind, input, dry_run, |_| {})
        .await
        .map_err(|err| match err {
            crate::services::import::ImportError::Store(err) => ApiError::from(err),
            other => ApiError::Rejected(other.to_string()),
        })?;
    Ok(render(&ImportPage {
        chrome: chrome(&state, Some(auth.person()?)),
        kinds: kinds(),
        chosen: kind.as_str(),
        outcome: Some(Outcome {
            kind: kinds()
                .into_iter()
                .find(|(value, _)| *value == kind.as_str())
                .map_or(kind.as_str(), |(_, label)| label),
            dry_run,
            report,
        }),
    }))
}
