//! Time-based one-time passwords (RFC 6238 over RFC 4226), as authenticator apps
//! speak them: HMAC-SHA1, 6 digits, 30-second steps, a 160-bit secret.
//!
//! Written here on aws-lc-rs's HMAC rather than taken from `totp-rs` (DESIGN.md's
//! pick) because refusing a reused code needs the matched time step, which that
//! crate's check does not report; the algorithm is a dozen lines, tested against the
//! RFC's Appendix B vectors.

use std::fmt;

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

/// Seconds per time step.
pub const STEP_SECONDS: i64 = 30;
/// Digits in a code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of the current one, for clock drift and typing time.
pub const DRIFT_STEPS: i64 = 1;

/// A TOTP secret. Debug output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A fresh 160-bit secret (RFC 4226 section 4 recommends 160).
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new(vec![0_u8; 20]);
        crate::random(&mut bytes);
        Self(bytes)
    }

    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret in unpadded RFC 4648 base 32, as typed into an app by hand.
    #[must_use]
    pub fn base32(&self) -> String {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut out = String::new();
        let (mut buffer, mut bits) = (0_u32, 0_u32);
        for &byte in self.0.iter() {
            buffer = (buffer << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
            }
        }
        if bits > 0 {
            out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
        }
        out
    }

    /// The `otpauth://` URI an authenticator app reads from a QR code.
    #[must_use]
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let label = encode(&format!("{issuer}:{account}"));
        format!(
            "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            self.base32(),
            encode(issuer)
        )
    }

    /// The code for time step `step`.
    #[must_use]
    pub fn code_at_step(&self, step: u64) -> u32 {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let mac = hmac::sign(&key, &step.to_be_bytes());
        let mac = mac.as_ref();
        // Dynamic truncation, RFC 4226 section 5.3.
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([
            mac[offset],
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ]) & 0x7fff_ffff;
        binary % 10_u32.pow(DIGITS)
    }

    /// The step containing `unix_seconds`.
    #[must_use]
    pub fn step_at(unix_seconds: i64) -> u64 {
        u64::try_from(unix_seconds.div_euclid(STEP_SECONDS)).unwrap_or_default()
    }

    /// Checks `code` at `unix_seconds`, within [`DRIFT_STEPS`] either side. Returns
    /// the matched step, or `None`; a step at or before `last_used` is refused, so a
    /// code (or an older one) cannot be replayed. Comparison is constant-time.
    #[must_use]
    pub fn verify(&self, code: &str, unix_seconds: i64, last_used: Option<u64>) -> Option<u64> {
        let code = code.trim();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = Self::step_at(unix_seconds);
        let mut matched = None;
        for delta in -DRIFT_STEPS..=DRIFT_STEPS {
            let Some(step) = now.checked_add_signed(delta) else {
                continue;
            };
            let expected = format!(
                "{:0width$}",
                self.code_at_step(step),
                width = DIGITS as usize
            );
            let equal = aws_lc_rs::constant_time::verify_slices_are_equal(
                expected.as_bytes(),
                code.as_bytes(),
            )
            .is_ok();
            if equal && last_used.is_none_or(|used| step > used) {
                matched = Some(step);
            }
        }
        matched
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    use fmt::Write as _;
    text.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B's SHA-1 seed and vectors (8 digits there; the last six
    /// digits are the 6-digit code, since truncation is modulo a power of ten).
    const RFC_SEED: &[u8] = b"12345678901234567890";
    const RFC_VECTORS: [(i64, u32); 6] = [
        (59, 94_287_082),
        (1_111_111_109, 7_081_804),
        (1_111_111_111, 14_050_471),
        (1_234_567_890, 89_005_924),
        (2_000_000_000, 69_279_037),
        (20_000_000_000, 65_353_130),
    ];

    #[test]
    fn codes_match_rfc_6238_appendix_b() {
        let secret = TotpSecret::from_bytes(RFC_SEED);
        for (time, expected) in RFC_VECTORS {
            let code = secret.code_at_step(TotpSecret::step_at(time));
            assert_eq!(code, expected % 1_000_000, "at {time}");
        }
    }

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(TotpSecret::from_bytes(b"foobar").base32(), "MZXW6YTBOI");
        assert_eq!(
            TotpSecret::from_bytes(RFC_SEED).base32(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }

    #[test]
    fn a_code_verifies_within_one_step_of_drift_and_not_beyond() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_000;
        let code = format!("{:06}", secret.code_at_step(TotpSecret::step_at(now)));
        assert_eq!(
            secret.verify(&code, now, None),
            Some(TotpSecret::step_at(now))
        );
        assert!(secret.verify(&code, now + STEP_SECONDS, None).is_some());
        assert!(secret.verify(&code, now + 2 * STEP_SECONDS, None).is_none());
        assert!(secret.verify("12345", now, None).is_none());
        assert!(secret.verify("abcdef", now, None).is_none());
    }

    #[test]
    fn a_used_step_and_earlier_ones_are_refused() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_000;
        let step = TotpSecret::step_at(now);
        let code = format!("{:06}", secret.code_at_step(step));
        assert_eq!(secret.verify(&code, now, Some(step)), None);
        let previous = format!("{:06}", secret.code_at_step(step - 1));
        assert_eq!(secret.verify(&previous, now, Some(step - 1)), None);
        assert_eq!(secret.verify(&code, now, Some(step - 1)), Some(step));
    }

    #[test]
    fn the_otpauth_uri_names_issuer_account_and_parameters() {
        let uri = TotpSecret::from_bytes(b"foobar").otpauth_uri("Enamel", "ana@example.test");
        assert_eq!(
            uri,
            "otpauth://totp/Enamel%3Aana%40example.test?secret=MZXW6YTBOI&issuer=Enamel&algorithm=SHA1&digits=6&period=30"
        );
    }
}
