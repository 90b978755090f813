//! The PHI canary scanner: finds any synthetic patient's name, phone, email or birth
//! date in text, and reports where without repeating the value.

use std::collections::HashSet;
use std::fmt;

use time::Date;
use time::macros::format_description;

use crate::DemoNetwork;
use crate::names::SURNAMES;

/// Which kind of PHI a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhiKind {
    Name,
    Phone,
    Email,
    BirthDate,
}

/// One leak: where it is and what kind of value, never the value itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub source: String,
    pub line: usize,
    pub kind: PhiKind,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            PhiKind::Name => "patient name",
            PhiKind::Phone => "patient phone number",
            PhiKind::Email => "patient email address",
            PhiKind::BirthDate => "patient birth date",
        };
        write!(f, "{}:{}: a synthetic {kind}", self.source, self.line)
    }
}

/// Looks for the demo patients' PHI in text.
///
/// Names are caught by their invented surnames (first names alone identify no one);
/// phones in any common format, including inside longer digit runs; emails
/// case-insensitively; birth dates as `YYYY-MM-DD` or `MM/DD/YYYY`. Each line is also
/// checked after URL-decoding, so a value in a logged query string is caught.
#[derive(Debug)]
pub struct CanaryScanner {
    surnames: HashSet<&'static str>,
    phones: HashSet<String>,
    emails: HashSet<String>,
    birth_dates: HashSet<Date>,
}

impl CanaryScanner {
    /// A scanner for the patients of the network generated from `seed`.
    #[must_use]
    pub fn for_seed(seed: u64) -> Self {
        let network = DemoNetwork::generate(seed);
        let patients = &network.patients;
        Self {
            surnames: SURNAMES.iter().copied().collect(),
            // The ten national digits: matched inside any run of digits.
            phones: patients
                .iter()
                .map(|p| p.phone.expose().e164()[2..].to_owned())
                .collect(),
            emails: patients
                .iter()
                .map(|p| p.email.expose().as_str().to_owned())
                .collect(),
            birth_dates: patients.iter().map(|p| *p.birth_date.expose()).collect(),
        }
    }

    /// Every finding in `text`, labelled with `source` and 1-based line numbers.
    #[must_use]
    pub fn scan(&self, source: &str, text: &str) -> Vec<Finding> {
        let mut findings = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let decoded = percent_decode(raw);
            let mut kinds: Vec<PhiKind> = self.kinds_in(raw);
            if decoded != raw {
                kinds.extend(self.kinds_in(&decoded));
            }
            kinds.sort_by_key(|k| *k as u8);
            kinds.dedup();
            findings.extend(kinds.into_iter().map(|kind| Finding {
                source: source.to_owned(),
                line: index + 1,
                kind,
            }));
        }
        findings
    }

    fn kinds_in(&self, line: &str) -> Vec<PhiKind> {
        let mut kinds = Vec::new();
        if line
            .split(|c: char| !c.is_ascii_alphabetic())
            .any(|w| self.surnames.contains(w))
        {
            kinds.push(PhiKind::Name);
        }
        if self.has_phone(line) {
            kinds.push(PhiKind::Phone);
        }
        let lower = line.to_ascii_lowercase();
        let is_email_char = |c: char| c.is_ascii_alphanumeric() || "@.-_+".contains(c);
        if lower
            .split(|c: char| !is_email_char(c))
            .any(|w| self.emails.contains(w))
        {
            kinds.push(PhiKind::Email);
        }
        if self.has_birth_date(line) {
            kinds.push(PhiKind::BirthDate);
        }
        kinds
    }

    /// Joins digits across the separators people put in phone numbers, then checks
    /// every ten-digit window.
    fn has_phone(&self, line: &str) -> bool {
        let mut run = String::new();
        let check = |run: &mut String| {
            let found = run.len() >= 10
                && (0..=run.len() - 10).any(|i| self.phones.contains(&run[i..i + 10]));
            run.clear();
            found
        };
        for c in line.chars() {
            match c {
                '0'..='9' => run.push(c),
                ' ' | '-' | '.' | '(' | ')' | '+' => {}
                _ => {
                    if check(&mut run) {
                        return true;
                    }
                }
            }
        }
        check(&mut run)
    }

    fn has_birth_date(&self, line: &str) -> bool {
        let iso = format_description!("[year]-[month]-[day]");
        let us = format_description!("[month]/[day]/[year]");
        let bytes = line.as_bytes();
        (0..bytes.len().saturating_sub(9)).any(|i| {
            let Some(window) = line.get(i..i + 10) else {
                return false;
            };
            let date = match (bytes[i + 4], bytes[i + 2]) {
                (b'-', _) => Date::parse(window, &iso).ok(),
                (_, b'/') => Date::parse(window, &us).ok(),
                _ => None,
            };
            date.is_some_and(|d| self.birth_dates.contains(&d))
        })
    }
}

/// URL-decodes `%XX` escapes and `+` as space, leaving malformed escapes as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, byte) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DEFAULT_SEED, SyntheticPatient};

    fn patient() -> (CanaryScanner, SyntheticPatient) {
        let network = DemoNetwork::generate(DEFAULT_SEED);
        (
            CanaryScanner::for_seed(DEFAULT_SEED),
            network.patients[42].clone(),
        )
    }

    fn kinds(scanner: &CanaryScanner, text: &str) -> Vec<PhiKind> {
        scanner
            .scan("t", text)
            .into_iter()
            .map(|f| f.kind)
            .collect()
    }

    #[test]
    fn a_full_name_in_a_log_line_is_found() {
        let (scanner, p) = patient();
        let line = format!(
            r#"{{"msg":"hello {} {}"}}"#,
            p.first_name.expose(),
            p.last_name.expose()
        );
        assert_eq!(kinds(&scanner, &line), [PhiKind::Name]);
    }

    #[test]
    fn phones_are_found_in_every_common_format() {
        let (scanner, p) = patient();
        let phone = p.phone.expose();
        let digits = &phone.e164()[2..];
        for text in [
            phone.e164().to_owned(),
            phone.national(),
            format!("{}-{}-{}", &digits[..3], &digits[3..6], &digits[6..]),
            format!("tel={digits}&x=1"),
        ] {
            assert_eq!(kinds(&scanner, &text), [PhiKind::Phone], "{}", text.len());
        }
    }

    #[test]
    fn emails_birth_dates_and_url_encoded_values_are_found() {
        let (scanner, p) = patient();
        let email = p.email.expose().as_str().to_uppercase();
        assert_eq!(kinds(&scanner, &format!("to: <{email}>")), [PhiKind::Email]);
        let date = p.birth_date.expose();
        let iso = format!("dob={date}");
        assert_eq!(kinds(&scanner, &iso), [PhiKind::BirthDate]);
        let us = format!(
            "{:02}/{:02}/{}",
            u8::from(date.month()),
            date.day(),
            date.year()
        );
        assert_eq!(kinds(&scanner, &us), [PhiKind::BirthDate]);
        let encoded = format!(
            "GET /x?q={}%20{}&p=%2B1{}",
            p.first_name.expose(),
            p.last_name.expose(),
            &p.phone.expose().e164()[2..]
        );
        assert_eq!(kinds(&scanner, &encoded), [PhiKind::Name, PhiKind::Phone]);
    }

    #[test]
    fn ordinary_log_lines_are_clean() {
        let (scanner, _) = patient();
        let text = concat!(
            r#"{"timestamp":"2026-11-22T10:00:00.123Z","level":"INFO","fields":{"message":"#,
            r#""request finished","status":200,"latency_ms":3},"request_id":"0193f1c2-7a6b"}"#,
            "\nnote: office (512) 555-0100, front-desk@bluebonnet.example.test, Avery\n",
            "test storage::sqlite::practices_list_by_name ... ok\n"
        );
        assert_eq!(scanner.scan("t", text), []);
    }

    #[test]
    fn a_finding_names_the_place_but_not_the_value() {
        let (scanner, p) = patient();
        let text = format!("line one\nname={}", p.last_name.expose());
        let findings = scanner.scan("server.log", &text);
        assert_eq!(findings.len(), 1);
        let shown = findings[0].to_string();
        assert_eq!(shown, "server.log:2: a synthetic patient name");
        assert!(!shown.contains(p.last_name.expose().as_str()));
    }
}
