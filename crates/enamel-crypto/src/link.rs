//! Signed, expiring links (the patient portal's): the link names an id and an
//! expiry, and carries an HMAC-SHA256 over both, checked in constant time. The
//! database makes a link single use; the signature makes it unforgeable.

use aws_lc_rs::hmac;
use uuid::Uuid;

use crate::KeyMaterial;
use crate::token::hex;

/// Signs and checks link tokens with one key.
pub struct LinkSigner(hmac::Key);

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner")
    }
}

/// A token's signed contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedLink {
    pub id: Uuid,
    /// Seconds since the Unix epoch after which the link is void.
    pub expires_at: i64,
}

fn payload(link: SignedLink) -> [u8; 24] {
    let mut bytes = [0_u8; 24];
    bytes[..16].copy_from_slice(link.id.as_bytes());
    bytes[16..].copy_from_slice(&link.expires_at.to_be_bytes());
    bytes
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl LinkSigner {
    #[must_use]
    pub fn new(material: &KeyMaterial) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, material.expose()))
    }

    /// The token for `link`: hex of id and expiry, a dot, hex of the tag.
    #[must_use]
    pub fn sign(&self, link: SignedLink) -> String {
        let payload = payload(link);
        let tag = hmac::sign(&self.0, &payload);
        format!("{}.{}", hex(&payload), hex(tag.as_ref()))
    }

    /// The link a token names, if its tag is right (expiry is the caller's to check
    /// against its clock). Anything malformed is `None`.
    #[must_use]
    pub fn verify(&self, token: &str) -> Option<SignedLink> {
        let (payload, tag) = token.split_once('.')?;
        let payload = unhex(payload)?;
        let tag = unhex(tag)?;
        if payload.len() != 24 {
            return None;
        }
        hmac::verify(&self.0, &payload, &tag).ok()?;
        Some(SignedLink {
            id: Uuid::from_slice(&payload[..16]).ok()?,
            expires_at: i64::from_be_bytes(payload[16..].try_into().ok()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> LinkSigner {
        LinkSigner::new(&KeyMaterial::from_slice(&[7_u8; 32]).unwrap())
    }

    #[test]
    fn a_signed_link_verifies_and_names_its_id_and_expiry() {
        let link = SignedLink {
            id: Uuid::now_v7(),
            expires_at: 1_800_000_000,
        };
        assert_eq!(signer().verify(&signer().sign(link)), Some(link));
    }

    #[test]
    fn a_changed_expiry_or_id_or_tag_fails() {
        let link = SignedLink {
            id: Uuid::now_v7(),
            expires_at: 1_800_000_000,
        };
        let token = signer().sign(link);
        let longer = signer().sign(SignedLink {
            expires_at: 1_900_000_000,
            ..link
        });
        // Splice the later expiry's payload onto the first tag.
        let forged = format!(
            "{}.{}",
            longer.split_once('.').unwrap().0,
            token.split_once('.').unwrap().1
        );
        assert_eq!(signer().verify(&forged), None);
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(signer().verify(&String::from_utf8(flipped).unwrap()), None);
        let other = LinkSigner::new(&KeyMaterial::from_slice(&[8_u8; 32]).unwrap());
        assert_eq!(other.verify(&token), None);
        for junk in ["", ".", "zz.zz", "00.00", &token[..10]] {
            assert_eq!(signer().verify(junk), None);
        }
    }
}
