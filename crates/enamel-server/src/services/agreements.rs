//! The executed copy of a practice's business associate agreement, as a PDF: the
//! same document for the practice (its agreement page) and for the operator.

use enamel_domain::Practice;
use enamel_store::{AGREEMENT_TEXT, ExecutedAgreement};

/// The executed copy: who signed, when (in the practice's time zone), from where,
/// which text (version and digest), then the text itself.
pub(crate) fn executed_copy_pdf(practice: &Practice, executed: &ExecutedAgreement) -> Vec<u8> {
    let header = format!(
        "Executed copy for {}\nSigned by {}, {}, at {}, from {}.\nText version {}, SHA-256 {}.\n\n",
        practice.name.as_str(),
        executed.signer_name,
        executed.signer_title,
        practice.time_zone.stamp(executed.executed_at),
        executed
            .ip_address
            .as_deref()
            .unwrap_or("an address not recorded"),
        executed.version,
        executed.sha256,
    );
    enamel_integrations::pdf::text_pdf(
        "Business Associate Agreement",
        &format!("{header}{AGREEMENT_TEXT}"),
    )
}

/// The PDF as a download.
pub(crate) fn pdf_download(pdf: Vec<u8>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (
        [
            (axum::http::header::CONTENT_TYPE, "application/pdf"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"business-associate-agreement.pdf\"",
            ),
        ],
        pdf,
    )
        .into_response()
}
