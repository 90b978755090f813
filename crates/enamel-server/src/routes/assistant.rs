//! The "draft a letter" assistant: an Anthropic-compatible model drafts the letter
//! that goes with a referral, from the referral's clinical details with every
//! direct identifier taken out. It stays inert for a practice until the practice's
//! BAA with the vendor is executed; each use is recorded as a disclosure.

use axum::Json;
use axum::extract::{Path, State};
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::ReferralId;
use enamel_integrations::SendError;
use enamel_store::ReferralDetail;
use serde_json::{Value, json};

use crate::auth::Authenticated;
use crate::routes::referrals::id_of;
use crate::{ApiError, AppState};

const SYSTEM: &str = "You draft short, professional referral letters between dental offices. \
    Write in plain text, under 200 words, from the referring dentist to the specialist. \
    Refer to the patient only as [patient]; never invent names, dates or contact details. \
    Keep every clinical fact you are given and add none.";

/// Replaces direct identifiers in free text typed by staff: the patient's names,
/// anything shaped like a phone number, an email address or a date.
#[must_use]
pub(crate) fn deidentify(text: &str, names: &[&str]) -> String {
    let words = text.split_inclusive(char::is_whitespace).map(|piece| {
        let word = piece.trim_end();
        let space = &piece[word.len()..];
        let core = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '@');
        let replaced = if core.contains('@') {
            Some("[email]")
        } else if is_date(core) {
            Some("[date]")
        } else if names
            .iter()
            .any(|n| !n.is_empty() && core.eq_ignore_ascii_case(n))
        {
            Some("[patient]")
        } else {
            None
        };
        match replaced {
            Some(mark) => word.replacen(core, mark, 1) + space,
            None => piece.to_owned(),
        }
    });
    mask_numbers(&words.collect::<String>())
}

/// `2024-03-05`, `3/5/2024`, `03.05.24`: digits in three groups split by one kind
/// of separator.
fn is_date(word: &str) -> bool {
    ['-', '/', '.'].iter().any(|sep| {
        let parts: Vec<&str> = word.split(*sep).collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| (1..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Runs of seven or more digits, allowing the separators of phone numbers and ids
/// (`(512) 555-0199`, `+1 512 555 0199`), become `[number]`.
fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() || (chars[i] == '+' || chars[i] == '(') {
            let mut j = i;
            let mut digits = 0;
            let mut last_digit = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || " -().+".contains(chars[j])) {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                    last_digit = j;
                }
                j += 1;
            }
            if digits >= 7 {
                out.push_str("[number]");
                i = last_digit + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The prompt: the referral's clinical content, de-identified; nothing else.
fn prompt(detail: &ReferralDetail) -> String {
    let clinical = detail.clinical.expose();
    let first = detail.patient.first_name.expose();
    let last = detail.patient.last_name.expose();
    let names: Vec<&str> = first
        .split_whitespace()
        .chain(last.split_whitespace())
        .chain(last.split('-'))
        .collect();
    let codes: Vec<&str> = clinical
        .cdt_codes
        .iter()
        .map(enamel_domain::CdtCode::as_str)
        .collect();
    let teeth: Vec<String> = clinical.teeth.iter().map(ToString::to_string).collect();
    format!(
        "Draft the referral letter.\nUrgency: {}\nReason: {}\nCDT codes: {}\n\
         Teeth (Universal numbering): {}\nClinical notes: {}",
        detail.summary.urgency.label(),
        deidentify(&clinical.reason, &names),
        if codes.is_empty() {
            "none".to_owned()
        } else {
            codes.join(", ")
        },
        if teeth.is_empty() {
            "none".to_owned()
        } else {
            teeth.join(", ")
        },
        deidentify(&clinical.notes, &names),
    )
}

/// Drafts the letter for a referral the caller's office may read.
pub(crate) async fn draft(
    state: &AppState,
    auth: &Authenticated,
    id: ReferralId,
) -> Result<String, ApiError> {
    let Some(assistant) = &state.assistant else {
        return Err(ApiError::Rejected(
            "the letter assistant is not set up on this server".into(),
        ));
    };
    let practice = auth.actor.practice().ok_or(ApiError::Forbidden)?;
    let detail = auth
        .scoped(&state.store)
        .referral(id, state.clock.now())
        .await?;
    let vendor = assistant.vendor();
    let allowed = state
        .store
        .vendor_of(practice, vendor)
        .await?
        .is_some_and(|v| v.may_receive_phi(state.clock.now().date()));
    let mut event = enamel_store::audit::event_for(
        &auth.actor,
        AuditAction::Disclose,
        ResourceType::Referral,
        Some(id.to_string()),
        if allowed {
            Outcome::Success
        } else {
            Outcome::Denied
        },
    );
    event.patient_id = Some(detail.patient.id.as_uuid());
    for (key, value) in [
        ("recipient_type", "vendor"),
        ("recipient", vendor.as_str()),
        ("purpose", "letter_draft_deidentified"),
    ] {
        event.detail.insert(key, Detail::Code(value.to_owned()));
    }
    // Recorded before anything leaves: a disclosure, or the refusal of one.
    state.store.audit().record(event).await?;
    if !allowed {
        return Err(ApiError::Rejected(format!(
            "the letter assistant is off for your practice: {vendor} has no executed BAA in \
             your registry (the security officer records it on the Vendors page)"
        )));
    }
    assistant
        .complete(SYSTEM, &prompt(&detail))
        .await
        .map_err(|err| match err {
            SendError::Transient { .. } => {
                ApiError::Unavailable("the letter assistant is busy; try again in a minute")
            }
            SendError::Permanent { code } => {
                ApiError::Rejected(format!("the letter assistant refused the request ({code})"))
            }
            SendError::OptedOut => ApiError::Rejected("the letter assistant refused".into()),
        })
}

#[utoipa::path(
    post,
    path = "/api/v1/referrals/{id}/letter-draft",
    tag = "referrals",
    summary = "Draft the referral letter with the AI assistant (de-identified; only with an executed BAA)",
    params(("id" = String, Path, description = "Referral id")),
    responses(
        (status = 200, description = "The draft, with the patient as [patient]", body = serde_json::Value),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The assistant is busy", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn draft_letter(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = id_of(&id, ReferralId::from_uuid)?;
    let text = draft(&state, &auth, id).await?;
    Ok(Json(json!({ "draft": text, "deidentified": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_contacts_and_dates_are_taken_out_of_free_text() {
        let text = "Ana Quintero-Reyes (DOB 04/12/1981, ana.q@example.test, \
                    call (512) 555-0199) has pain on #19 since 2026-10-02; quintero is anxious.";
        let clean = deidentify(text, &["Ana", "Quintero-Reyes", "Quintero", "Reyes"]);
        for gone in [
            "Ana ",
            "Quintero",
            "quintero",
            "04/12/1981",
            "ana.q@",
            "555-0199",
            "2026-10-02",
        ] {
            assert!(!clean.contains(gone), "{gone} in {clean}");
        }
        assert!(clean.contains("pain on #19"), "{clean}");
        assert!(
            clean.contains("[patient]") && clean.contains("[number]"),
            "{clean}"
        );
    }

    #[test]
    fn clinical_numbers_are_kept() {
        let clean = deidentify("D3330 on tooth 19, 3 canals, 21 mm", &["Lee"]);
        assert_eq!(clean, "D3330 on tooth 19, 3 canals, 21 mm");
    }
}
