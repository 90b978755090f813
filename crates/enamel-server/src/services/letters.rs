//! The "draft a letter" assistant: an Anthropic-compatible model drafts the letter
//! that goes with a referral, from the referral's clinical details with every
//! direct identifier taken out. It stays inert for a practice until the practice's
//! BAA with the vendor is executed; each use is recorded as a disclosure.

use crate::auth::Authenticated;
use crate::{ApiError, AppState};
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::ReferralId;
use enamel_integrations::SendError;
use enamel_store::ReferralDetail;

const SYSTEM: &str = "You draft short, professional referral letters between dental offices. \
    Write in plain text, under 200 words, from the referring dentist to the specialist. \
    Refer to the patient only as [patient]; never invent names, dates or contact details. \
    Keep every clinical fact you are given and add none.";

/// Replaces direct identifiers in free text typed by staff: the patient's names
/// (matched on every run of letters, case-insensitively, so "Ana's" and "Mary-Jane"
/// are caught), anything shaped like a date (numeric, ISO with a time, or with a month
/// name), an email address, or a phone or id number.
#[must_use]
pub(crate) fn deidentify(text: &str, names: &[&str]) -> String {
    let names: Vec<String> = names
        .iter()
        .flat_map(|n| n.split(|c: char| !c.is_alphanumeric()))
        .filter(|n| n.chars().count() > 1)
        .map(str::to_lowercase)
        .collect();
    let mut out = Vec::new();
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        let space = &piece[word.len()..];
        let core = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '@');
        let masked = if core.contains('@') {
            word.replacen(core, "[email]", 1)
        } else if is_date(core) {
            word.replacen(core, "[date]", 1)
        } else {
            mask_names(word, &names)
        };
        out.push(masked + space);
    }
    mask_numbers(&mask_month_dates(&out.concat()))
}

/// Every run of letters and digits in `word` that is one of `names` becomes
/// `[patient]`.
fn mask_names(word: &str, names: &[String]) -> String {
    let mut out = String::with_capacity(word.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if names.contains(&run.to_lowercase()) {
            out.push_str("[patient]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in word.chars() {
        if c.is_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// `2024-03-05`, `3/5/2024`, `03.05.24`, `04/12`, `2026-10-02T10:00`, `DOB:04/12/1981`:
/// digits in two or three groups split by one kind of separator, after any label.
fn is_date(word: &str) -> bool {
    let word = word.rsplit(':').next().unwrap_or(word);
    let word = word.split('T').next().unwrap_or(word);
    ['-', '/', '.'].iter().any(|sep| {
        let parts: Vec<&str> = word.split(*sep).collect();
        (2..=3).contains(&parts.len())
            && parts
                .iter()
                .all(|p| (1..=4).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
            && (parts.len() == 3 || parts.iter().all(|p| p.len() <= 2))
    })
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// "April 12", "12 April 1981", "Apr. 12, 1981": a month name next to a day number;
/// the month, the day and a following year become `[date]`.
fn mask_month_dates(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let is_month = |w: &str| {
        let w = w.trim_matches(|c: char| !c.is_alphabetic()).to_lowercase();
        // A month's name or its abbreviation ("Apr", "Sept"), not a word like "marked".
        w.chars().count() >= 3 && MONTHS.iter().any(|m| m.starts_with(w.as_str()))
    };
    let is_day = |w: &str| {
        let d = w.trim_matches(|c: char| !c.is_ascii_digit());
        !d.is_empty() && d.len() <= 2 && d.parse::<u8>().is_ok_and(|n| (1..=31).contains(&n))
    };
    let is_year = |w: &str| {
        let y = w.trim_matches(|c: char| !c.is_ascii_digit());
        y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit())
    };
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let month_then_day = is_month(words[i]) && words.get(i + 1).is_some_and(|w| is_day(w));
        let day_then_month = is_day(words[i]) && words.get(i + 1).is_some_and(|w| is_month(w));
        if month_then_day || day_then_month {
            let mut end = i + 2;
            if words.get(end).is_some_and(|w| is_year(w)) {
                end += 1;
            }
            out.push("[date]".to_owned());
            i = end;
        } else {
            out.push(words[i].to_owned());
            i += 1;
        }
    }
    out.join(" ")
}

/// Seven or more digits in at most four groups, joined by the separators of phone
/// numbers (`(512) 555-0199`, `+1 512 555 0199`, `512.555.0199`, `512/555-0199`) or
/// none (a member id), become `[number]`. A list of tooth numbers ("2 3 14 15 18 19")
/// has more groups and is kept.
fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() || chars[i] == '+' || chars[i] == '(' {
            let (mut j, mut digits, mut groups, mut last_digit) = (i, 0, 0, i);
            let mut in_group = false;
            while j < chars.len() && (chars[j].is_ascii_digit() || " -().+/".contains(chars[j])) {
                if chars[j].is_ascii_digit() {
                    if !in_group {
                        groups += 1;
                    }
                    in_group = true;
                    digits += 1;
                    last_digit = j;
                } else {
                    in_group = false;
                }
                j += 1;
            }
            if digits >= 7 && groups <= 4 {
                out.push_str("[number]");
                i = last_digit + 1;
                continue;
            }
            if digits > 0 {
                // Not a number to hide: keep the whole run, so its tail is not
                // judged again on its own.
                out.extend(&chars[i..=last_digit]);
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
    let names = [first.as_str(), last.as_str()];
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
    auth.actor.practice().ok_or(ApiError::Forbidden)?;
    let detail = auth
        .scoped(&state.store)
        .referral(id, state.clock.now())
        .await?;
    if detail.summary.side != enamel_domain::Side::Referrer {
        return Err(ApiError::Rejected(
            "the letter assistant drafts the referring office's letter".into(),
        ));
    }
    let vendor = assistant.vendor();
    let scoped = auth.scoped(&state.store);
    // Nothing leaves without an executed BAA; a refusal is audited by the gate.
    scoped
        .require_baa(
            vendor,
            enamel_store::Outbound {
                purpose: "letter_draft_deidentified",
                resource: ResourceType::Referral,
                resource_id: Some(id.to_string()),
                patient: Some(detail.patient.id),
            },
        )
        .await?;
    let mut event = scoped.event(
        AuditAction::Disclose,
        ResourceType::Referral,
        Some(id.to_string()),
        Outcome::Success,
    );
    event.patient_id = Some(detail.patient.id.as_uuid());
    for (key, value) in [
        ("recipient_type", "vendor"),
        ("recipient", vendor.as_str()),
        ("purpose", "letter_draft_deidentified"),
    ] {
        event.detail.insert(key, Detail::Code(value.to_owned()));
    }
    // Recorded before anything leaves.
    state.store.audit().record(event).await?;
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
        let teeth = deidentify("Extract 2 3 14 15 18 19 before ortho.", &["Lee"]);
        assert_eq!(teeth, "Extract 2 3 14 15 18 19 before ortho.");
    }

    #[test]
    fn possessives_hyphens_case_and_partial_dates_are_caught() {
        let text = "JOSÉ's mother (Mary-Jane Lee) said on April 12, 1981 and 12 apr; \
                    seen 04/12, at 2026-10-02T10:00, DOB:04/12/1981, call 512.555.0199 \
                    or 512/555-0199.";
        let clean = deidentify(text, &["José", "Lee"]);
        for gone in [
            "JOSÉ",
            "Lee",
            "April",
            "1981",
            "12 apr",
            "04/12",
            "2026-10-02",
            "555",
        ] {
            assert!(!clean.contains(gone), "{gone} in {clean}");
        }
        assert!(
            clean.contains("mother") && clean.contains("Mary-Jane"),
            "{clean}"
        );
        assert_eq!(deidentify("marked 2 teeth", &[]), "marked 2 teeth");
        // Odd input does not panic (multi-byte letters next to cut points).
        let _ = deidentify("éééé 2026-10-02Tééé Décembre 1 ñañ@x (5", &["ñ"]);
    }
}
