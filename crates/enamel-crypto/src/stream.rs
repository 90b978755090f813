//! Attachments sealed in fixed-size chunks under a key of their own.
//!
//! Each file gets a fresh random file key, wrapped under the practice's data key
//! and bound to the attachment's id. The body is cut into chunks of `chunk_size`
//! bytes (the last may be shorter, or empty), each sealed with AES-256-GCM under the
//! nonce `prefix (7) || chunk counter (4, big-endian) || final flag (1)` (the STREAM
//! construction of Hoang, Reyhanitabar, Rogaway and Vizár), with the whole header as
//! associated data. So:
//! - a reordered or dropped chunk fails (its counter is wrong);
//! - a truncated file fails (no chunk carries the final flag where it ends);
//! - a chunk spliced from another file fails (another file key and header);
//! - memory use is one chunk, whatever the file's size.
//!
//! Header: `"ENAT" || version (1) || chunk size (4) || data key id (16) ||
//! wrapped file key (1 + 12 + 32 + 16) || nonce prefix (7)`.

use std::io::{BufRead, BufReader, Read, Write};

use aws_lc_rs::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce};
use enamel_domain::PracticeId;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::keys::{KEY_LEN, KeyMaterial, aes_key};
use crate::{CryptoError, DataKey, KeyId, random};

const MAGIC: &[u8; 4] = b"ENAT";
const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
const PREFIX_LEN: usize = 7;
const WRAPPED_LEN: usize = 1 + NONCE_LEN + KEY_LEN + TAG_LEN;
/// The header's length in bytes.
pub const HEADER_LEN: usize = 4 + 1 + 4 + 16 + WRAPPED_LEN + PREFIX_LEN;
/// The chunk size Enamel writes: large enough for throughput, small enough that
/// many uploads at once stay within memory.
pub const DEFAULT_CHUNK_SIZE: usize = 64 * 1024;
const MAX_CHUNK_SIZE: usize = 16 * 1024 * 1024;

/// Which attachment a stream is: the file key is bound to it.
#[derive(Clone, Copy, Debug)]
pub struct AttachmentContext {
    pub practice: PracticeId,
    pub attachment: Uuid,
}

impl AttachmentContext {
    fn wrap_aad(&self, key: KeyId) -> Vec<u8> {
        let mut aad = b"enamel-attachment-key-v1\0".to_vec();
        aad.extend_from_slice(self.practice.as_uuid().as_bytes());
        aad.extend_from_slice(self.attachment.as_bytes());
        aad.extend_from_slice(key.as_bytes());
        aad
    }
}

fn chunk_nonce(prefix: [u8; PREFIX_LEN], counter: u32, last: bool) -> Nonce {
    let mut nonce = [0_u8; NONCE_LEN];
    nonce[..PREFIX_LEN].copy_from_slice(&prefix);
    nonce[PREFIX_LEN..11].copy_from_slice(&counter.to_be_bytes());
    nonce[11] = u8::from(last);
    Nonce::assume_unique_for_key(nonce)
}

/// Seals one attachment chunk by chunk.
pub struct Encryptor {
    file_key: LessSafeKey,
    header: Vec<u8>,
    prefix: [u8; PREFIX_LEN],
    counter: u32,
    chunk_size: usize,
    finished: bool,
}

impl std::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Encryptor(chunk {})", self.counter)
    }
}

impl Encryptor {
    /// Starts a stream for `context` with a fresh file key wrapped under `data_key`.
    pub fn new(
        data_key: &DataKey,
        context: &AttachmentContext,
        chunk_size: usize,
    ) -> Result<Self, CryptoError> {
        if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE || data_key.practice() != context.practice
        {
            return Err(CryptoError::Malformed);
        }
        let file_key = KeyMaterial::generate();
        let mut wrap_nonce = [0_u8; NONCE_LEN];
        random(&mut wrap_nonce);
        let mut wrapped = file_key.expose().to_vec();
        data_key
            .aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(wrap_nonce),
                Aad::from(context.wrap_aad(data_key.id())),
                &mut wrapped,
            )
            .expect("sealing 32 bytes cannot fail");
        let mut prefix = [0_u8; PREFIX_LEN];
        random(&mut prefix);
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.push(VERSION);
        header.extend_from_slice(
            &u32::try_from(chunk_size)
                .expect("bounded above")
                .to_be_bytes(),
        );
        header.extend_from_slice(data_key.id().as_bytes());
        header.push(1);
        header.extend_from_slice(&wrap_nonce);
        header.extend_from_slice(&wrapped);
        header.extend_from_slice(&prefix);
        debug_assert_eq!(header.len(), HEADER_LEN);
        Ok(Self {
            file_key: aes_key(&file_key),
            header,
            prefix,
            counter: 0,
            chunk_size,
            finished: false,
        })
    }

    /// The header, written before the first chunk.
    #[must_use]
    pub fn header(&self) -> &[u8] {
        &self.header
    }

    #[must_use]
    pub const fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// Seals one chunk in place, appending its tag. Every chunk but the last must be
    /// exactly `chunk_size` bytes; the last (`last = true`) may be shorter or empty.
    pub fn seal_chunk(&mut self, chunk: &mut Vec<u8>, last: bool) -> Result<(), CryptoError> {
        if self.finished
            || chunk.len() > self.chunk_size
            || (!last && chunk.len() != self.chunk_size)
        {
            return Err(CryptoError::Malformed);
        }
        let nonce = chunk_nonce(self.prefix, self.counter, last);
        self.file_key
            .seal_in_place_append_tag(nonce, Aad::from(&self.header[..]), chunk)
            .map_err(|_| CryptoError::Malformed)?;
        self.counter = self.counter.checked_add(1).ok_or(CryptoError::Malformed)?;
        self.finished = last;
        Ok(())
    }
}

/// Opens a stream sealed by [`Encryptor`], chunk by chunk.
pub struct Decryptor {
    file_key: LessSafeKey,
    header: Vec<u8>,
    prefix: [u8; PREFIX_LEN],
    counter: u32,
    chunk_size: usize,
    finished: bool,
}

impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Decryptor(chunk {})", self.counter)
    }
}

/// The parts of a header needed before the data key is at hand.
#[derive(Clone, Copy, Debug)]
pub struct HeaderInfo {
    pub key: KeyId,
    pub chunk_size: usize,
}

/// Reads the data key id and chunk size from a header.
pub fn read_header(header: &[u8]) -> Result<HeaderInfo, CryptoError> {
    if header.len() != HEADER_LEN || &header[..4] != MAGIC {
        return Err(CryptoError::Malformed);
    }
    if header[4] != VERSION {
        return Err(CryptoError::UnsupportedVersion(header[4]));
    }
    let chunk_size = u32::from_be_bytes(header[5..9].try_into().expect("4 bytes")) as usize;
    if chunk_size == 0 || chunk_size > MAX_CHUNK_SIZE {
        return Err(CryptoError::Malformed);
    }
    let key = Uuid::from_slice(&header[9..25]).map_err(|_| CryptoError::Malformed)?;
    Ok(HeaderInfo {
        key: KeyId::from_uuid(key),
        chunk_size,
    })
}

impl Decryptor {
    /// Unwraps the file key from `header` with `data_key` (the key the header names).
    pub fn new(
        data_key: &DataKey,
        context: &AttachmentContext,
        header: &[u8],
    ) -> Result<Self, CryptoError> {
        let info = read_header(header)?;
        if info.key != data_key.id() || data_key.practice() != context.practice {
            return Err(CryptoError::UnknownKey);
        }
        let wrapped = &header[25..25 + WRAPPED_LEN];
        if wrapped[0] != 1 {
            return Err(CryptoError::UnsupportedVersion(wrapped[0]));
        }
        let nonce = Nonce::try_assume_unique_for_key(&wrapped[1..=NONCE_LEN])
            .map_err(|_| CryptoError::Malformed)?;
        let mut sealed = Zeroizing::new(wrapped[1 + NONCE_LEN..].to_vec());
        let material = data_key
            .aead
            .open_in_place(
                nonce,
                Aad::from(context.wrap_aad(data_key.id())),
                &mut sealed,
            )
            .map_err(|_| CryptoError::Authentication)?;
        let file_key = KeyMaterial::from_slice(material)?;
        let prefix: [u8; PREFIX_LEN] = header[HEADER_LEN - PREFIX_LEN..]
            .try_into()
            .expect("7 bytes");
        Ok(Self {
            file_key: aes_key(&file_key),
            header: header.to_vec(),
            prefix,
            counter: 0,
            chunk_size: info.chunk_size,
            finished: false,
        })
    }

    /// Bytes one sealed chunk takes (the last may take fewer).
    #[must_use]
    pub const fn sealed_chunk_size(&self) -> usize {
        self.chunk_size + TAG_LEN
    }

    /// Opens one sealed chunk in place; `last` says whether the stream ends after it.
    pub fn open_chunk(&mut self, chunk: &mut Vec<u8>, last: bool) -> Result<(), CryptoError> {
        if self.finished || chunk.len() < TAG_LEN || chunk.len() > self.sealed_chunk_size() {
            return Err(CryptoError::Malformed);
        }
        let nonce = chunk_nonce(self.prefix, self.counter, last);
        let plain_len = self
            .file_key
            .open_in_place(nonce, Aad::from(&self.header[..]), chunk)
            .map_err(|_| CryptoError::Authentication)?
            .len();
        chunk.truncate(plain_len);
        self.counter = self.counter.checked_add(1).ok_or(CryptoError::Malformed)?;
        self.finished = last;
        Ok(())
    }
}

/// Either side of a failed stream: the bytes could not be moved, or did not open.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Reads up to `buf`'s capacity target, stopping only at end of input.
fn read_full(reader: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> std::io::Result<()> {
    buf.clear();
    let mut taken = reader.take(want as u64);
    taken.read_to_end(buf)?;
    Ok(())
}

/// Seals everything `reader` yields into `writer`, one chunk in memory at a time.
/// Returns the number of plaintext bytes.
pub fn encrypt(
    data_key: &DataKey,
    context: &AttachmentContext,
    chunk_size: usize,
    reader: impl Read,
    mut writer: impl Write,
) -> Result<u64, StreamError> {
    let mut encryptor = Encryptor::new(data_key, context, chunk_size)?;
    writer.write_all(encryptor.header())?;
    let mut reader = BufReader::with_capacity(chunk_size, reader);
    let mut chunk = Vec::with_capacity(chunk_size + TAG_LEN);
    let mut total = 0_u64;
    loop {
        read_full(&mut reader, &mut chunk, chunk_size)?;
        total += chunk.len() as u64;
        let last = chunk.len() < chunk_size || reader.fill_buf()?.is_empty();
        encryptor.seal_chunk(&mut chunk, last)?;
        writer.write_all(&chunk)?;
        if last {
            writer.flush()?;
            return Ok(total);
        }
    }
}

/// Opens a sealed stream from `reader` into `writer`. `key_for` is given the data
/// key id from the header and returns that key. Returns the plaintext length.
///
/// On an error, `writer` may hold part of the plaintext: callers stream into a
/// response or a temporary file that they discard on error.
pub fn decrypt<'k>(
    key_for: impl FnOnce(KeyId) -> Result<&'k DataKey, CryptoError>,
    context: &AttachmentContext,
    reader: impl Read,
    mut writer: impl Write,
) -> Result<u64, StreamError> {
    let mut reader = BufReader::new(reader);
    let mut header = Vec::with_capacity(HEADER_LEN);
    read_full(&mut reader, &mut header, HEADER_LEN)?;
    let info = read_header(&header)?;
    let mut decryptor = Decryptor::new(key_for(info.key)?, context, &header)?;
    let sealed_size = decryptor.sealed_chunk_size();
    let mut chunk = Vec::with_capacity(sealed_size);
    let mut total = 0_u64;
    loop {
        read_full(&mut reader, &mut chunk, sealed_size)?;
        let last = chunk.len() < sealed_size || reader.fill_buf()?.is_empty();
        decryptor.open_chunk(&mut chunk, last)?;
        total += chunk.len() as u64;
        writer.write_all(&chunk)?;
        if last {
            writer.flush()?;
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        key: DataKey,
        context: AttachmentContext,
    }

    fn fixture() -> Fixture {
        let practice = PracticeId::generate();
        Fixture {
            key: DataKey::new(KeyId::generate(), practice, &KeyMaterial::generate()),
            context: AttachmentContext {
                practice,
                attachment: Uuid::new_v4(),
            },
        }
    }

    fn body(len: usize) -> Vec<u8> {
        (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect()
    }

    fn seal(f: &Fixture, plain: &[u8], chunk: usize) -> Vec<u8> {
        let mut sealed = Vec::new();
        encrypt(&f.key, &f.context, chunk, plain, &mut sealed).unwrap();
        sealed
    }

    fn open(f: &Fixture, sealed: &[u8]) -> Result<Vec<u8>, StreamError> {
        let mut plain = Vec::new();
        decrypt(|_| Ok(&f.key), &f.context, sealed, &mut plain)?;
        Ok(plain)
    }

    #[test]
    fn streams_of_every_awkward_length_round_trip() {
        let f = fixture();
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 128, 1000] {
            let plain = body(len);
            let sealed = seal(&f, &plain, 16);
            assert_eq!(open(&f, &sealed).unwrap(), plain, "{len}");
        }
    }

    #[test]
    fn a_truncated_stream_fails_even_at_a_chunk_boundary() {
        let f = fixture();
        let sealed = seal(&f, &body(64), 16);
        let chunk = 16 + TAG_LEN;
        for cut in [
            sealed.len() - 1,
            sealed.len() - chunk,
            HEADER_LEN + chunk,
            HEADER_LEN,
        ] {
            assert!(open(&f, &sealed[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn reordered_or_dropped_chunks_fail() {
        let f = fixture();
        let sealed = seal(&f, &body(80), 16);
        let chunk = 16 + TAG_LEN;
        let (header, chunks) = sealed.split_at(HEADER_LEN);
        let pieces: Vec<&[u8]> = chunks.chunks(chunk).collect();
        assert_eq!(
            pieces.len(),
            5,
            "80 bytes in 16-byte chunks, the fifth marked final"
        );
        let mut swapped = header.to_vec();
        for i in [1, 0, 2, 3, 4] {
            swapped.extend_from_slice(pieces[i]);
        }
        assert!(open(&f, &swapped).is_err());
        let mut dropped = header.to_vec();
        for i in [0, 2, 3, 4] {
            dropped.extend_from_slice(pieces[i]);
        }
        assert!(open(&f, &dropped).is_err());
    }

    #[test]
    fn a_chunk_spliced_from_another_file_fails() {
        let f = fixture();
        let one = seal(&f, &body(64), 16);
        let other = seal(&f, &body(64), 16);
        let mut spliced = one.clone();
        let at = HEADER_LEN + 16 + TAG_LEN;
        spliced[at..at + 16 + TAG_LEN].copy_from_slice(&other[at..at + 16 + TAG_LEN]);
        assert!(open(&f, &spliced).is_err());
        assert!(open(&f, &one).is_ok());
    }

    #[test]
    fn a_stream_does_not_open_as_another_attachment_or_after_header_tampering() {
        let f = fixture();
        let sealed = seal(&f, &body(40), 16);
        let elsewhere = Fixture {
            key: DataKey::new(f.key.id(), f.context.practice, &KeyMaterial::generate()),
            context: AttachmentContext {
                attachment: Uuid::new_v4(),
                ..f.context
            },
        };
        assert!(open(&elsewhere, &sealed).is_err());
        let moved = AttachmentContext {
            attachment: Uuid::new_v4(),
            ..f.context
        };
        assert!(decrypt(|_| Ok(&f.key), &moved, &sealed[..], Vec::new()).is_err());
        for i in [0, 4, 6, 40, HEADER_LEN - 1] {
            let mut tampered = sealed.clone();
            tampered[i] ^= 1;
            assert!(open(&f, &tampered).is_err(), "header byte {i}");
        }
    }

    #[test]
    fn a_large_stream_is_processed_in_bounded_memory() {
        // A reader that yields 32 MiB without ever holding it, a file in between, and a
        // writer that only counts: neither side ever holds the whole body.
        struct Pattern(u64);
        impl Read for Pattern {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(usize::try_from(self.0).unwrap());
                buf[..n].fill(0xA5);
                self.0 -= n as u64;
                Ok(n)
            }
        }
        use std::io::{Seek as _, SeekFrom};

        let f = fixture();
        let mut sealed = tempfile::tempfile().unwrap();
        let len = 32 * 1024 * 1024;
        encrypt(
            &f.key,
            &f.context,
            DEFAULT_CHUNK_SIZE,
            Pattern(len),
            &mut sealed,
        )
        .unwrap();
        sealed.seek(SeekFrom::Start(0)).unwrap();
        let mut counted = 0_u64;
        let sink = CountingSink(&mut counted);
        assert_eq!(
            decrypt(|_| Ok(&f.key), &f.context, &sealed, sink).unwrap(),
            len
        );
        assert_eq!(counted, len);
    }

    struct CountingSink<'a>(&'a mut u64);
    impl Write for CountingSink<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            assert!(buf.iter().all(|b| *b == 0xA5));
            *self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
