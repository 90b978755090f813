//! SHA-256 checksums of files handed out of Enamel (an export's attachments), for
//! the recipient to check the copy they received.

use std::io::Read;

use aws_lc_rs::digest;

/// The SHA-256 of everything `reader` yields, as 64 lowercase hex digits. Reads in
/// blocks: a file of any size is never whole in memory.
///
/// # Errors
/// When reading fails.
pub fn sha256_hex(mut reader: impl Read) -> std::io::Result<String> {
    use std::fmt::Write as _;
    let mut context = digest::Context::new(&digest::SHA256);
    let mut block = vec![0_u8; 64 * 1024];
    loop {
        let read = reader.read(&mut block)?;
        if read == 0 {
            break;
        }
        context.update(&block[..read]);
    }
    Ok(context
        .finish()
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_test_vectors() {
        // FIPS 180-2, appendix B.1 ("abc") and the empty message.
        assert_eq!(
            sha256_hex(&b"abc"[..]).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(&b""[..]).unwrap(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_file_longer_than_one_block_is_hashed_whole() {
        let long = vec![7_u8; 200 * 1024];
        let mut split = long.clone();
        split[150 * 1024] = 8;
        assert_ne!(
            sha256_hex(&long[..]).unwrap(),
            sha256_hex(&split[..]).unwrap()
        );
    }
}
