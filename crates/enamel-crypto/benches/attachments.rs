//! Attachment encryption and decryption throughput, beside OpenSSL's AES-256-GCM on
//! the same machine in the same run. DESIGN.md's bar: at least half of OpenSSL's
//! figure for 16 KiB blocks.
//!
//! Run with `cargo bench -p enamel-crypto`.

#![allow(clippy::print_stdout, clippy::cast_precision_loss)]

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use enamel_crypto::keys::KeyMaterial;
use enamel_crypto::stream::{AttachmentContext, DEFAULT_CHUNK_SIZE, decrypt, encrypt};
use enamel_crypto::{DataKey, KeyId};
use enamel_domain::PracticeId;

const BODY: usize = 256 * 1024 * 1024;

/// Discards what it is given.
struct Sink;
impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn mb_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

/// OpenSSL's AES-256-GCM figure for 16 KiB blocks, in MB/s (its "k" columns are 1000s
/// of bytes per second).
fn openssl_16k() -> Option<f64> {
    let output = Command::new("openssl")
        .args([
            "speed",
            "-evp",
            "aes-256-gcm",
            "-bytes",
            "16384",
            "-seconds",
            "3",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("AES-256-GCM") || l.starts_with("aes-256-gcm"))?;
    let kbytes: f64 = line
        .split_whitespace()
        .last()?
        .trim_end_matches('k')
        .parse()
        .ok()?;
    Some(kbytes / 1000.0)
}

fn main() {
    let practice = PracticeId::generate();
    let key = DataKey::new(KeyId::generate(), practice, &KeyMaterial::generate());
    let context = AttachmentContext {
        practice,
        attachment: uuid_like(),
    };
    let body = vec![0x5A_u8; BODY];
    println!("attachment stream, {} MiB body", BODY / (1024 * 1024));
    let mut results = Vec::new();
    for chunk in [16 * 1024, DEFAULT_CHUNK_SIZE] {
        // The ciphertext to decrypt is made untimed; the timed pass seals into a sink,
        // as `openssl speed` does, so neither side pays for first-touch page faults.
        let mut sealed = Vec::with_capacity(BODY + BODY / chunk * 16 + 4096);
        encrypt(&key, &context, chunk, &body[..], &mut sealed).expect("encrypts");
        let started = Instant::now();
        encrypt(&key, &context, chunk, &body[..], Sink).expect("encrypts");
        let seal = mb_per_s(BODY, started.elapsed());
        let started = Instant::now();
        decrypt(|_| Ok(&key), &context, &sealed[..], Sink).expect("decrypts");
        let open = mb_per_s(BODY, started.elapsed());
        println!(
            "  chunk {:>3} KiB: encrypt {seal:>8.1} MB/s, decrypt {open:>8.1} MB/s",
            chunk / 1024
        );
        results.push((chunk, seal, open));
    }
    match openssl_16k() {
        Some(openssl) => {
            println!("openssl speed -evp aes-256-gcm, 16 KiB blocks: {openssl:.1} MB/s");
            for (chunk, seal, open) in results {
                println!(
                    "  chunk {:>3} KiB: encrypt {:.2}x, decrypt {:.2}x of OpenSSL (bar: 0.50x)",
                    chunk / 1024,
                    seal / openssl,
                    open / openssl
                );
            }
        }
        None => println!("openssl speed was not available; no ratio printed"),
    }
}

fn uuid_like() -> uuid::Uuid {
    uuid::Uuid::from_u128(0x0193_f1c2_7a6b_7c3d_9e4f_0123_4567_89ab)
}
