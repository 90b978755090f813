//! Data keys, key-encryption keys, and wrapping one with the other.
//!
//! A practice's data keys (DEKs) encrypt its PHI; they exist at rest only wrapped
//! by a key-encryption key (KEK) from a key provider. The KEK never touches the
//! database, so a copy of the database alone decrypts nothing.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use enamel_domain::PracticeId;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{CryptoError, random};

/// Length of every key Enamel uses (AES-256, HMAC-SHA256).
pub const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
const WRAP_VERSION: u8 = 1;

/// Identifies a data key; every ciphertext names the key that sealed it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(Uuid);

impl KeyId {
    /// A fresh id, time-ordered (UUIDv7) so the newest key sorts last.
    #[must_use]
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    #[must_use]
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    #[must_use]
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }

    pub(crate) const fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What a practice key is for. Encryption and blind-index keys are separate, so an
/// index reveals nothing about the encryption key and vice versa.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum KeyPurpose {
    Data,
    Index,
}

impl KeyPurpose {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Index => "index",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, CryptoError> {
        match raw {
            "data" => Ok(Self::Data),
            "index" => Ok(Self::Index),
            _ => Err(CryptoError::Malformed),
        }
    }
}

/// 256 bits of key material, zeroized when dropped and never printed.
#[derive(Clone)]
pub struct KeyMaterial(Zeroizing<[u8; KEY_LEN]>);

impl KeyMaterial {
    /// Fresh random key material.
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0_u8; KEY_LEN]);
        random(bytes.as_mut());
        Self(bytes)
    }

    /// Key material from bytes (a key file, a KMS response); exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let array: [u8; KEY_LEN] = bytes.try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Self(Zeroizing::new(array)))
    }

    /// The bytes, for the one place that must hand them on (a KMS request, HMAC).
    #[must_use]
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A key for one purpose derived from this one: HKDF-SHA256 (RFC 5869) with
    /// `label` as its info, so keys derived for different labels are independent of
    /// each other and of this key's own use.
    #[must_use]
    pub fn derive(&self, label: &'static [u8]) -> Self {
        use aws_lc_rs::hkdf;
        struct Len;
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                KEY_LEN
            }
        }
        let info = [label];
        let mut bytes = Zeroizing::new([0_u8; KEY_LEN]);
        hkdf::Salt::new(hkdf::HKDF_SHA256, b"enamel")
            .extract(self.0.as_ref())
            .expand(&info, Len)
            .and_then(|okm| okm.fill(bytes.as_mut()))
            .expect("HKDF-SHA256 yields 32 bytes");
        Self(bytes)
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial([redacted])")
    }
}

pub(crate) fn aes_key(material: &KeyMaterial) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, material.expose()).expect("a 32-byte key"))
}

/// A practice's data key, unwrapped and ready to seal and open.
pub struct DataKey {
    id: KeyId,
    practice: PracticeId,
    pub(crate) aead: LessSafeKey,
}

impl DataKey {
    #[must_use]
    pub fn new(id: KeyId, practice: PracticeId, material: &KeyMaterial) -> Self {
        Self {
            id,
            practice,
            aead: aes_key(material),
        }
    }

    #[must_use]
    pub const fn id(&self) -> KeyId {
        self.id
    }

    #[must_use]
    pub const fn practice(&self) -> PracticeId {
        self.practice
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({}, practice {})", self.id, self.practice)
    }
}

/// A local key-encryption key: wraps data keys with AES-256-GCM.
pub struct Kek {
    id: String,
    aead: LessSafeKey,
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kek({})", self.id)
    }
}

/// What a wrapped key is bound to: unwrapping it under any other binding fails.
#[derive(Clone, Copy, Debug)]
pub struct KeyBinding {
    pub practice: PracticeId,
    pub key: KeyId,
    pub purpose: KeyPurpose,
}

impl KeyBinding {
    fn aad(&self, kek_id: &str) -> Vec<u8> {
        let mut aad = b"enamel-wrap-v1\0".to_vec();
        aad.extend_from_slice(
            &u16::try_from(kek_id.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        aad.extend_from_slice(kek_id.as_bytes());
        aad.extend_from_slice(self.practice.as_uuid().as_bytes());
        aad.extend_from_slice(self.key.as_bytes());
        aad.extend_from_slice(self.purpose.as_str().as_bytes());
        aad
    }
}

impl Kek {
    #[must_use]
    pub fn new(id: String, material: &KeyMaterial) -> Self {
        Self {
            id,
            aead: aes_key(material),
        }
    }

    /// The KEK's id, stored beside each key it wraps.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Wraps `material`: version, nonce, then ciphertext and tag.
    #[must_use]
    pub fn wrap(&self, binding: &KeyBinding, material: &KeyMaterial) -> Vec<u8> {
        let mut nonce = [0_u8; NONCE_LEN];
        random(&mut nonce);
        let mut sealed = material.expose().to_vec();
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(binding.aad(&self.id)),
                &mut sealed,
            )
            .expect("sealing 32 bytes cannot fail");
        let mut wrapped = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        wrapped.push(WRAP_VERSION);
        wrapped.extend_from_slice(&nonce);
        wrapped.extend_from_slice(&sealed);
        wrapped
    }

    /// Unwraps a key wrapped by [`Kek::wrap`] under the same binding.
    pub fn unwrap(&self, binding: &KeyBinding, wrapped: &[u8]) -> Result<KeyMaterial, CryptoError> {
        if wrapped.len() != 1 + NONCE_LEN + KEY_LEN + TAG_LEN {
            return Err(CryptoError::Malformed);
        }
        if wrapped[0] != WRAP_VERSION {
            return Err(CryptoError::UnsupportedVersion(wrapped[0]));
        }
        let nonce = Nonce::try_assume_unique_for_key(&wrapped[1..=NONCE_LEN])
            .map_err(|_| CryptoError::Malformed)?;
        let mut sealed = Zeroizing::new(wrapped[1 + NONCE_LEN..].to_vec());
        let plain = self
            .aead
            .open_in_place(nonce, Aad::from(binding.aad(&self.id)), &mut sealed)
            .map_err(|_| CryptoError::Authentication)?;
        KeyMaterial::from_slice(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding() -> KeyBinding {
        KeyBinding {
            practice: PracticeId::generate(),
            key: KeyId::generate(),
            purpose: KeyPurpose::Data,
        }
    }

    #[test]
    fn a_wrapped_key_unwraps_to_the_same_material() {
        let kek = Kek::new("kek-1".into(), &KeyMaterial::generate());
        let (binding, material) = (binding(), KeyMaterial::generate());
        let wrapped = kek.wrap(&binding, &material);
        assert_eq!(
            kek.unwrap(&binding, &wrapped).unwrap().expose(),
            material.expose()
        );
    }

    #[test]
    fn a_wrapped_key_does_not_unwrap_for_another_practice_key_or_purpose() {
        let kek = Kek::new("kek-1".into(), &KeyMaterial::generate());
        let binding = binding();
        let wrapped = kek.wrap(&binding, &KeyMaterial::generate());
        let others = [
            KeyBinding {
                practice: PracticeId::generate(),
                ..binding
            },
            KeyBinding {
                key: KeyId::generate(),
                ..binding
            },
            KeyBinding {
                purpose: KeyPurpose::Index,
                ..binding
            },
        ];
        for other in others {
            assert!(matches!(
                kek.unwrap(&other, &wrapped),
                Err(CryptoError::Authentication)
            ));
        }
    }

    #[test]
    fn another_kek_cannot_unwrap() {
        let binding = binding();
        let wrapped =
            Kek::new("a".into(), &KeyMaterial::generate()).wrap(&binding, &KeyMaterial::generate());
        let other = Kek::new("a".into(), &KeyMaterial::generate());
        assert!(other.unwrap(&binding, &wrapped).is_err());
    }

    #[test]
    fn key_material_never_prints() {
        assert_eq!(
            format!("{:?}", KeyMaterial::generate()),
            "KeyMaterial([redacted])"
        );
    }
}
