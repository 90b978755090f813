//! Bearer secrets: session tokens, API tokens, invitation tokens, recovery codes.
//!
//! Each carries at least 80 bits from the CSPRNG (256 for tokens), is shown once,
//! and is stored only as its SHA-256 digest. A fast hash is right here and wrong for
//! passwords: a guess at a 256-bit random value is hopeless however fast the hash.

use std::fmt;

use aws_lc_rs::digest;
use zeroize::Zeroizing;

/// Lower-case hexadecimal.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// The SHA-256 digest under which a secret is stored and looked up.
#[must_use]
pub fn digest(secret: &str) -> [u8; 32] {
    let hash = digest::digest(&digest::SHA256, secret.as_bytes());
    hash.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// A random 256-bit secret in its text form (`prefix` + 64 hex digits). Its Debug
/// output is redacted; the text is reachable only through [`SecretToken::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(Zeroizing<String>);

impl SecretToken {
    /// A fresh token whose text starts with `prefix` (`enm_` for API tokens, so a
    /// leaked one is recognizable by secret scanners; empty for cookies).
    #[must_use]
    pub fn generate(prefix: &str) -> Self {
        let mut bytes = Zeroizing::new([0_u8; 32]);
        crate::random(bytes.as_mut());
        Self(Zeroizing::new(format!("{prefix}{}", hex(bytes.as_ref()))))
    }

    /// A token received from a client, to be looked up by its digest.
    #[must_use]
    pub fn from_client(text: &str) -> Self {
        Self(Zeroizing::new(text.to_owned()))
    }

    /// The text to hand to its owner, once.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The digest stored in place of the token.
    #[must_use]
    pub fn digest(&self) -> [u8; 32] {
        digest(&self.0)
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(..)")
    }
}

/// Ten recovery codes for a second factor, each 80 random bits written as four
/// groups of four Crockford base-32 characters (`7KQ2-M9XD-0PRT-4HWA`).
#[must_use]
pub fn recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    (0..10)
        .map(|_| {
            let mut bytes = [0_u8; 16];
            crate::random(&mut bytes);
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
                .collect();
            chars
                .chunks(4)
                .map(|group| group.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// A recovery code as typed, reduced to the form its digest was taken of: upper
/// case, no separators or spaces, and the letters people confuse with digits mapped
/// as Crockford's base 32 maps them.
#[must_use]
pub fn normalize_recovery_code(typed: &str) -> String {
    typed
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_of_hex_after_their_prefix_and_never_debug_printed() {
        let token = SecretToken::generate("enm_");
        assert_eq!(token.expose().len(), 4 + 64);
        assert!(token.expose().starts_with("enm_"));
        assert_ne!(token, SecretToken::generate("enm_"));
        assert_eq!(format!("{token:?}"), "SecretToken(..)");
        assert_eq!(
            SecretToken::from_client(token.expose()).digest(),
            token.digest()
        );
    }

    #[test]
    fn recovery_codes_are_ten_distinct_codes_of_sixteen_characters() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), 10);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10);
        for code in &codes {
            assert_eq!(normalize_recovery_code(code).len(), 16, "{code}");
        }
    }

    #[test]
    fn a_recovery_code_typed_loosely_normalizes_to_the_same_form() {
        assert_eq!(
            normalize_recovery_code("7kq2 m9xd-0prt-4hwa"),
            "7KQ2M9XD0PRT4HWA"
        );
        assert_eq!(normalize_recovery_code("oIl1"), "0111");
    }
}
