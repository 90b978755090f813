//! Signed links for no-show recovery's offers (issue 18): a patient offered an open
//! slot gets a link that names the offer, signed with HMAC-SHA256 over the offer,
//! the slot it is for and its expiry, under a key named by a one-byte key id so the
//! key can rotate while links signed under the previous one still open.
//!
//! The token is short enough for a one-segment SMS: base64url (no padding) of the key
//! id, the offer's id and the expiry in seconds (21 bytes), a dot, and the first 16
//! bytes of the tag (a 128-bit truncated HMAC, within NIST SP 800-107's bounds). The
//! slot is not in the token: the verifier reads the offer's slot from the database
//! and the tag holds only for that slot. Every tag is compared by [`tags_match`], in
//! constant time, and nowhere else.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use uuid::Uuid;

use crate::KeyMaterial;

/// The tag's length in the token.
const TAG_LEN: usize = 16;
/// Key id, offer id, expiry.
const BODY_LEN: usize = 1 + 16 + 4;

/// What an offer link names and is signed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferLink {
    pub offer: Uuid,
    /// The slot the offer is for (not in the token; the tag covers it).
    pub slot: Uuid,
    /// Seconds since the Unix epoch after which the link is void.
    pub expires_at: u32,
}

/// What a token says before it is checked: which offer, under which key, until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferToken {
    pub key_id: u8,
    pub offer: Uuid,
    pub expires_at: u32,
    tag: [u8; TAG_LEN],
}

/// Why a link was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OfferLinkError {
    #[error("the link is not one of ours")]
    Malformed,
    #[error("the link was signed with a key that is no longer kept")]
    UnknownKey,
    #[error("the link's signature does not match")]
    Forged,
    #[error("the link has expired")]
    Expired,
}

/// Signs with the current key; checks under the current key or older ones kept.
pub struct OfferSigner {
    current: (u8, hmac::Key),
    older: Vec<(u8, hmac::Key)>,
}

impl std::fmt::Debug for OfferSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfferSigner")
            .field("current", &self.current.0)
            .finish_non_exhaustive()
    }
}

fn message(key_id: u8, link: &OfferLink) -> [u8; 1 + 16 + 16 + 4] {
    let mut bytes = [0_u8; 37];
    bytes[0] = key_id;
    bytes[1..17].copy_from_slice(link.offer.as_bytes());
    bytes[17..33].copy_from_slice(link.slot.as_bytes());
    bytes[33..].copy_from_slice(&link.expires_at.to_be_bytes());
    bytes
}

/// The one place tags are compared: in constant time, whatever the inputs' lengths.
#[must_use]
pub fn tags_match(expected: &[u8], given: &[u8]) -> bool {
    #[cfg(test)]
    tests::COMPARISONS.with(|c| c.set(c.get() + 1));
    aws_lc_rs::constant_time::verify_slices_are_equal(expected, given).is_ok()
}

impl OfferToken {
    /// Reads a token's parts without trusting them.
    pub fn parse(token: &str) -> Result<Self, OfferLinkError> {
        let (body, tag) = token.split_once('.').ok_or(OfferLinkError::Malformed)?;
        let body = B64.decode(body).map_err(|_| OfferLinkError::Malformed)?;
        let tag = B64.decode(tag).map_err(|_| OfferLinkError::Malformed)?;
        if body.len() != BODY_LEN {
            return Err(OfferLinkError::Malformed);
        }
        Ok(Self {
            key_id: body[0],
            offer: Uuid::from_slice(&body[1..17]).map_err(|_| OfferLinkError::Malformed)?,
            expires_at: u32::from_be_bytes(
                body[17..21]
                    .try_into()
                    .map_err(|_| OfferLinkError::Malformed)?,
            ),
            tag: tag.try_into().map_err(|_| OfferLinkError::Malformed)?,
        })
    }
}

impl OfferSigner {
    /// Signs under `current` (its key id and material); checks under it and `older`.
    #[must_use]
    pub fn new(current: (u8, &KeyMaterial), older: &[(u8, &KeyMaterial)]) -> Self {
        let key = |m: &KeyMaterial| hmac::Key::new(hmac::HMAC_SHA256, m.expose());
        Self {
            current: (current.0, key(current.1)),
            older: older.iter().map(|(id, m)| (*id, key(m))).collect(),
        }
    }

    fn tag(key: &hmac::Key, key_id: u8, link: &OfferLink) -> [u8; TAG_LEN] {
        let full = hmac::sign(key, &message(key_id, link));
        let mut tag = [0_u8; TAG_LEN];
        tag.copy_from_slice(&full.as_ref()[..TAG_LEN]);
        tag
    }

    /// The token for `link`, under the current key.
    #[must_use]
    pub fn sign(&self, link: &OfferLink) -> String {
        let (key_id, key) = &self.current;
        let mut body = [0_u8; BODY_LEN];
        body[0] = *key_id;
        body[1..17].copy_from_slice(link.offer.as_bytes());
        body[17..].copy_from_slice(&link.expires_at.to_be_bytes());
        format!(
            "{}.{}",
            B64.encode(body),
            B64.encode(Self::tag(key, *key_id, link))
        )
    }

    /// Checks `token` for the offer's `slot` at `now` (seconds since the epoch):
    /// the tag first, then the expiry, so a forged link never learns whether it
    /// would have expired.
    pub fn verify(
        &self,
        token: &OfferToken,
        slot: Uuid,
        now: i64,
    ) -> Result<OfferLink, OfferLinkError> {
        let key = std::iter::once(&self.current)
            .chain(&self.older)
            .find(|(id, _)| *id == token.key_id)
            .map(|(_, key)| key)
            .ok_or(OfferLinkError::UnknownKey)?;
        let link = OfferLink {
            offer: token.offer,
            slot,
            expires_at: token.expires_at,
        };
        if !tags_match(&Self::tag(key, token.key_id, &link), &token.tag) {
            return Err(OfferLinkError::Forged);
        }
        if now >= i64::from(token.expires_at) {
            return Err(OfferLinkError::Expired);
        }
        Ok(link)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        pub(super) static COMPARISONS: Cell<usize> = const { Cell::new(0) };
    }

    fn link() -> OfferLink {
        OfferLink {
            offer: Uuid::now_v7(),
            slot: Uuid::now_v7(),
            expires_at: 1_800_000_000,
        }
    }

    #[test]
    fn a_signed_link_opens_for_its_slot_until_it_expires() {
        let key = KeyMaterial::generate();
        let signer = OfferSigner::new((1, &key), &[]);
        let link = link();
        let token = signer.sign(&link);
        assert!(
            token.len() <= 52,
            "short enough for an SMS: {}",
            token.len()
        );
        let parsed = OfferToken::parse(&token).unwrap();
        assert_eq!(signer.verify(&parsed, link.slot, 1_799_999_999), Ok(link));
        assert_eq!(
            signer.verify(&parsed, link.slot, 1_800_000_000),
            Err(OfferLinkError::Expired)
        );
        // The same token for another slot is a forgery.
        assert_eq!(
            signer.verify(&parsed, Uuid::now_v7(), 1_700_000_000),
            Err(OfferLinkError::Forged)
        );
    }

    #[test]
    fn tampering_with_any_part_is_refused() {
        let key = KeyMaterial::generate();
        let signer = OfferSigner::new((1, &key), &[]);
        let link = link();
        let token = signer.sign(&link);
        let (body, tag) = token.split_once('.').unwrap();
        let mut bytes = B64.decode(body).unwrap();
        // A later expiry, under the same tag.
        bytes[20] ^= 1;
        let later = format!("{}.{tag}", B64.encode(&bytes));
        assert_eq!(
            signer.verify(&OfferToken::parse(&later).unwrap(), link.slot, 0),
            Err(OfferLinkError::Forged)
        );
        // Another signer's key.
        let other = OfferSigner::new((1, &KeyMaterial::generate()), &[]);
        assert_eq!(
            other.verify(&OfferToken::parse(&token).unwrap(), link.slot, 0),
            Err(OfferLinkError::Forged)
        );
        for bad in ["", ".", "abc", "abc.def", &format!("{body}.{}", &tag[..10])] {
            assert_eq!(
                OfferToken::parse(bad),
                Err(OfferLinkError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_rotated_key_still_opens_its_links_and_an_unknown_one_does_not() {
        let old = KeyMaterial::generate();
        let new = KeyMaterial::generate();
        let link = link();
        let before = OfferSigner::new((1, &old), &[]).sign(&link);
        let rotated = OfferSigner::new((2, &new), &[(1, &old)]);
        let parsed = OfferToken::parse(&before).unwrap();
        assert_eq!(rotated.verify(&parsed, link.slot, 0), Ok(link));
        assert!(rotated.sign(&link).starts_with(&B64.encode([2_u8])[..1]));
        let forgot = OfferSigner::new((2, &new), &[]);
        assert_eq!(
            forgot.verify(&parsed, link.slot, 0),
            Err(OfferLinkError::UnknownKey)
        );
    }

    #[test]
    fn every_check_compares_through_the_one_constant_time_function() {
        let key = KeyMaterial::generate();
        let signer = OfferSigner::new((1, &key), &[]);
        let link = link();
        let parsed = OfferToken::parse(&signer.sign(&link)).unwrap();
        let before = COMPARISONS.with(Cell::get);
        let _ = signer.verify(&parsed, link.slot, 0);
        let _ = signer.verify(&parsed, Uuid::now_v7(), 0);
        assert_eq!(COMPARISONS.with(Cell::get), before + 2);
    }
}
