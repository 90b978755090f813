//! PHI fields sealed with AES-256-GCM under a practice's data key.
//!
//! Format (version 1): `version (1) || key id (16) || nonce (12) || ciphertext || tag (16)`.
//! The associated data is the header plus the field's place: practice, table, column
//! and row. A ciphertext copied into another row, column or practice fails
//! authentication instead of decrypting to the other row's value.

use aws_lc_rs::aead::{Aad, NONCE_LEN, Nonce};
use enamel_domain::PracticeId;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{CryptoError, DataKey, KeyId, random};

/// The format version written by this build.
pub const VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 16 + NONCE_LEN;
const TAG_LEN: usize = 16;

/// Where a field lives. Every part is bound into the ciphertext.
#[derive(Clone, Copy, Debug)]
pub struct FieldContext<'a> {
    pub practice: PracticeId,
    pub table: &'a str,
    pub column: &'a str,
    pub row: Uuid,
}

impl FieldContext<'_> {
    fn aad(&self, header: &[u8]) -> Vec<u8> {
        let mut aad = Vec::with_capacity(64 + self.table.len() + self.column.len());
        aad.extend_from_slice(b"enamel-field-v1\0");
        aad.extend_from_slice(header);
        aad.extend_from_slice(self.practice.as_uuid().as_bytes());
        for part in [self.table, self.column] {
            aad.extend_from_slice(&u16::try_from(part.len()).unwrap_or(u16::MAX).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad.extend_from_slice(self.row.as_bytes());
        aad
    }
}

/// Seals `plaintext` for the place `context` names, with a fresh random nonce.
///
/// Nonces are 96 random bits from the system CSPRNG: no counter to lose on a
/// restart or to coordinate between processes. Keys are rotated long before the
/// 2^32 encryptions per key at which random nonces reach NIST's bound.
#[must_use]
pub fn seal(key: &DataKey, context: &FieldContext<'_>, plaintext: &[u8]) -> Vec<u8> {
    let mut sealed = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    sealed.push(VERSION);
    sealed.extend_from_slice(key.id().as_bytes());
    let mut nonce = [0_u8; NONCE_LEN];
    random(&mut nonce);
    sealed.extend_from_slice(&nonce);
    let aad = context.aad(&sealed[..HEADER_LEN]);
    sealed.extend_from_slice(plaintext);
    let tag = key
        .aead
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut sealed[HEADER_LEN..],
        )
        .expect("sealing within AES-GCM's length limit cannot fail");
    sealed.extend_from_slice(tag.as_ref());
    sealed
}

/// The id of the key that sealed `ciphertext`, read from its header so the caller
/// can load that key.
pub fn key_id(ciphertext: &[u8]) -> Result<KeyId, CryptoError> {
    if ciphertext.len() < HEADER_LEN + TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    if ciphertext[0] != VERSION {
        return Err(CryptoError::UnsupportedVersion(ciphertext[0]));
    }
    let id = Uuid::from_slice(&ciphertext[1..17]).map_err(|_| CryptoError::Malformed)?;
    Ok(KeyId::from_uuid(id))
}

/// Opens a ciphertext sealed by [`seal`] for the same place.
pub fn open(
    key: &DataKey,
    context: &FieldContext<'_>,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if key_id(ciphertext)? != key.id() || key.practice() != context.practice {
        return Err(CryptoError::UnknownKey);
    }
    let nonce = Nonce::try_assume_unique_for_key(&ciphertext[17..HEADER_LEN])
        .map_err(|_| CryptoError::Malformed)?;
    let aad = context.aad(&ciphertext[..HEADER_LEN]);
    let mut buffer = Zeroizing::new(ciphertext[HEADER_LEN..].to_vec());
    let plain_len = key
        .aead
        .open_in_place(nonce, Aad::from(aad), &mut buffer)
        .map_err(|_| CryptoError::Authentication)?
        .len();
    buffer.truncate(plain_len);
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::keys::KeyMaterial;

    fn key(practice: PracticeId) -> DataKey {
        DataKey::new(KeyId::generate(), practice, &KeyMaterial::generate())
    }

    fn place(practice: PracticeId, column: &'static str, row: Uuid) -> FieldContext<'static> {
        FieldContext {
            practice,
            table: "patients",
            column,
            row,
        }
    }

    #[test]
    fn a_sealed_field_opens_in_its_place() {
        let practice = PracticeId::generate();
        let key = key(practice);
        let here = place(practice, "phone", Uuid::new_v4());
        let sealed = seal(&key, &here, b"+12145550142");
        assert_eq!(
            open(&key, &here, &sealed).unwrap().as_slice(),
            b"+12145550142"
        );
        assert!(
            !sealed.windows(7).any(|w| w == b"5550142"),
            "no plaintext in the ciphertext"
        );
    }

    #[test]
    fn a_ciphertext_moved_to_another_row_column_or_table_fails() {
        let practice = PracticeId::generate();
        let key = key(practice);
        let row = Uuid::new_v4();
        let sealed = seal(&key, &place(practice, "phone", row), b"+12145550142");
        let elsewhere = [
            place(practice, "phone", Uuid::new_v4()),
            place(practice, "email", row),
            FieldContext {
                table: "users",
                ..place(practice, "phone", row)
            },
        ];
        for other in elsewhere {
            assert!(matches!(
                open(&key, &other, &sealed),
                Err(CryptoError::Authentication)
            ));
        }
    }

    #[test]
    fn another_practice_cannot_open_it_even_with_the_right_key_bytes() {
        let (mine, theirs) = (PracticeId::generate(), PracticeId::generate());
        let material = KeyMaterial::generate();
        let id = KeyId::generate();
        let row = Uuid::new_v4();
        let sealed = seal(
            &DataKey::new(id, mine, &material),
            &place(mine, "phone", row),
            b"x",
        );
        // Their key object: refused before decryption.
        let their_key = DataKey::new(id, theirs, &material);
        assert!(open(&their_key, &place(theirs, "phone", row), &sealed).is_err());
        // My key object, but the field claimed for their practice: fails authentication.
        let my_key_for_them = DataKey::new(id, theirs, &material);
        let swapped = FieldContext {
            practice: theirs,
            ..place(mine, "phone", row)
        };
        assert!(open(&my_key_for_them, &swapped, &sealed).is_err());
    }

    #[test]
    fn any_tampered_byte_fails_including_the_header() {
        let practice = PracticeId::generate();
        let key = key(practice);
        let here = place(practice, "name", Uuid::new_v4());
        let sealed = seal(&key, &here, b"Ada Testwell");
        for i in 17..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(open(&key, &here, &tampered).is_err(), "byte {i}");
        }
        let mut version = sealed.clone();
        version[0] = 9;
        assert!(matches!(
            open(&key, &here, &version),
            Err(CryptoError::UnsupportedVersion(9))
        ));
        let mut key_id = sealed;
        key_id[5] ^= 0x01;
        assert!(matches!(
            open(&key, &here, &key_id),
            Err(CryptoError::UnknownKey)
        ));
    }

    #[test]
    fn nonces_do_not_repeat_over_a_million_encryptions() {
        let practice = PracticeId::generate();
        let key = key(practice);
        let here = place(practice, "phone", Uuid::new_v4());
        let mut nonces = HashSet::with_capacity(1_000_000);
        for _ in 0..1_000_000 {
            let sealed = seal(&key, &here, b"");
            assert!(nonces.insert(<[u8; 12]>::try_from(&sealed[17..29]).unwrap()));
        }
    }

    #[test]
    fn short_or_empty_input_is_malformed_not_a_panic() {
        let practice = PracticeId::generate();
        let key = key(practice);
        let here = place(practice, "phone", Uuid::new_v4());
        for len in [0, 1, 17, 28, 44] {
            assert!(open(&key, &here, &vec![1_u8; len]).is_err(), "{len}");
        }
    }
}
