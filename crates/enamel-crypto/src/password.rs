//! Passwords: the rules a new one must meet, and Argon2id hashing.
//!
//! Parameters follow OWASP's Password Storage Cheat Sheet: Argon2id, 19 MiB of
//! memory, 2 iterations, 1 lane. A hash is a PHC string (`$argon2id$v=19$m=...`), so
//! it carries its own parameters and stays verifiable if they are raised later.
//!
//! Hashing and verifying take tens of milliseconds of CPU on purpose; callers on an
//! async runtime run them on a blocking thread. [`Passwords::verify`] does the same
//! work for an account that does not exist (against a hash made at start-up), so the
//! time of an answer does not tell whether an email has an account.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// The shortest password accepted, in characters (NIST SP 800-63B asks at least 8;
/// seed 001 and OWASP's guidance for a PHI system, 12).
pub const MIN_CHARS: usize = 12;
/// The longest, in characters: long passphrases are welcome, megabyte bodies are not.
pub const MAX_CHARS: usize = 128;

/// Argon2id's memory cost in KiB, iterations and lanes (OWASP's first option).
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

/// Common passwords and the words they are built on, one per line, lower case.
const COMMON: &str = include_str!("common-passwords.txt");

/// Why a new password was refused. The messages are shown to the person choosing it
/// and never include the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("use at least {MIN_CHARS} characters")]
    TooShort,
    #[error("use at most {MAX_CHARS} characters")]
    TooLong,
    #[error("this password is on a list of commonly used passwords; choose another")]
    Common,
    #[error("this password is a simple sequence or repetition; choose another")]
    Pattern,
    #[error("the password must not contain your email address or name")]
    Personal,
}

/// Checks a new password against the rules: length, the bundled list of common
/// passwords (also with digits and symbols stripped from its ends, so `Password2024!`
/// is refused as `password`), keyboard and alphabet sequences, repetition, and the
/// person's own email and name (`personal`, each compared case-insensitively).
pub fn check_new(password: &str, personal: &[&str]) -> Result<(), WeakPassword> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(WeakPassword::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(WeakPassword::TooLong);
    }
    let lower = password.to_lowercase();
    let core = lower.trim_matches(|c: char| !c.is_alphabetic());
    if is_common(&lower) || is_common(core) {
        return Err(WeakPassword::Common);
    }
    if is_pattern(&lower) {
        return Err(WeakPassword::Pattern);
    }
    for word in personal {
        let word = word.trim().to_lowercase();
        let local = word.split('@').next().unwrap_or_default();
        if (local.chars().count() >= 4 && lower.contains(local))
            || (word.chars().count() >= 4 && lower.contains(&word))
        {
            return Err(WeakPassword::Personal);
        }
    }
    Ok(())
}

fn is_common(candidate: &str) -> bool {
    !candidate.is_empty() && COMMON.lines().any(|line| line == candidate)
}

/// One character repeated, or a run along the alphabet, the digits or a keyboard row.
fn is_pattern(lower: &str) -> bool {
    const RUNS: [&str; 4] = [
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
        "12345678901234567890123456789",
        "qwertyuiopasdfghjklzxcvbnmqwertyuiopasdfghjklzxcvbnm",
        "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p1qaz2wsx3edc4rfv",
    ];
    let mut chars = lower.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return true;
    }
    let reversed: String = lower.chars().rev().collect();
    RUNS.iter()
        .any(|run| run.contains(lower) || run.contains(reversed.as_str()))
}

/// Hashes and verifies passwords with Argon2id.
pub struct Passwords {
    argon: Argon2<'static>,
    /// A hash of a random password, verified against when an account does not exist.
    decoy: String,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passwords(argon2id)")
    }
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    /// Builds the hasher and its decoy hash (one hash's worth of work).
    #[must_use]
    pub fn new() -> Self {
        let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None)
            .expect("OWASP's Argon2id parameters are valid");
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut secret = [0_u8; 32];
        crate::random(&mut secret);
        let decoy = hash_with(&argon, &crate::token::hex(&secret));
        Self { argon, decoy }
    }

    /// The PHC string of `password` under a fresh 128-bit salt.
    #[must_use]
    pub fn hash(&self, password: &str) -> String {
        hash_with(&self.argon, password)
    }

    /// Whether `password` matches `stored`. With no stored hash (no such account, or
    /// an account that has not set a password) the decoy is verified instead and the
    /// answer is `false`, after the same work.
    #[must_use]
    pub fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let (phc, real) = match stored {
            Some(phc) => (phc, true),
            None => (self.decoy.as_str(), false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            // A malformed stored hash: do the work anyway, then refuse.
            let _ = self.argon.verify_password(
                password.as_bytes(),
                &PasswordHash::new(&self.decoy).expect("the decoy parses"),
            );
            return false;
        };
        let matched = self
            .argon
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matched && real
    }
}

fn hash_with(argon: &Argon2<'static>, password: &str) -> String {
    let mut salt = [0_u8; 16];
    crate::random(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    argon
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2id hashes any password within the length limit")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_a_fresh_salt() {
        let passwords = Passwords::new();
        let first = passwords.hash("correct horse battery");
        let second = passwords.hash("correct horse battery");
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second);
        assert!(passwords.verify("correct horse battery", Some(&first)));
        assert!(!passwords.verify("correct horse batterz", Some(&first)));
    }

    #[test]
    fn no_stored_hash_or_a_broken_one_never_verifies() {
        let passwords = Passwords::new();
        assert!(!passwords.verify("anything at all", None));
        assert!(!passwords.verify("anything at all", Some("$argon2id$garbage")));
    }

    #[test]
    fn short_long_common_patterned_and_personal_passwords_are_refused() {
        assert_eq!(check_new("Tr0ub4dor&3", &[]), Err(WeakPassword::TooShort));
        assert_eq!(check_new(&"a1".repeat(65), &[]), Err(WeakPassword::TooLong));
        assert_eq!(check_new("Password2024!", &[]), Err(WeakPassword::Common));
        assert_eq!(check_new("iloveyou123456", &[]), Err(WeakPassword::Common));
        assert_eq!(check_new("234567890123", &[]), Err(WeakPassword::Pattern));
        assert_eq!(check_new("asdfghjklzxc", &[]), Err(WeakPassword::Pattern));
        assert_eq!(check_new("zzzzzzzzzzzzzz", &[]), Err(WeakPassword::Pattern));
        assert_eq!(
            check_new("dr.okafor-molar-2031", &["dr.okafor@example.test"]),
            Err(WeakPassword::Personal)
        );
        assert_eq!(
            check_new("violet kettle orbit", &["someone@example.test"]),
            Ok(())
        );
    }

    #[test]
    fn the_common_list_is_lower_case_and_has_no_blank_lines() {
        let words: Vec<&str> = COMMON.lines().collect();
        assert!(words.len() > 200, "{}", words.len());
        assert!(
            words
                .iter()
                .all(|w| !w.is_empty() && *w == w.to_lowercase())
        );
    }
}
