//! A real SMTP server for tests: `aiosmtpd` running `support/smtp_sink.py`, which
//! stores each message it accepts as a file the test reads back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const SINK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/support/smtp_sink.py");

/// Whether `python3` can import `module`. When it cannot, the suite is skipped with a
/// notice, or fails under `ENAMEL_TEST_REQUIRE_ALL=1` (as in CI).
///
/// # Panics
/// Under `ENAMEL_TEST_REQUIRE_ALL=1`, when the module is missing.
#[must_use]
pub fn python_module(module: &str, suite: &str) -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !ok {
        let why = format!("python3 cannot import {module}");
        assert!(
            std::env::var(crate::REQUIRE_ALL_VAR).as_deref() != Ok("1"),
            "the {suite} suite is required ({}=1) but {why}",
            crate::REQUIRE_ALL_VAR
        );
        crate::notify_skipped_once(suite, &why);
    }
    ok
}

/// A running SMTP sink on a loopback port; stopped when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    _child: Child,
}

impl SmtpSink {
    /// Starts the sink, or answers `None` (skipping) when `aiosmtpd` is missing.
    ///
    /// # Panics
    /// When the sink does not start within 20 seconds.
    pub async fn start() -> Option<Self> {
        if !python_module("aiosmtpd", "SMTP (aiosmtpd)") {
            return None;
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut child = Command::new("python3")
            .arg(SINK)
            .arg(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(20),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("the SMTP sink starts")
        .expect("the SMTP sink prints its port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the sink printed {line:?}"));
        Some(Self {
            port,
            dir,
            _child: child,
        })
    }

    /// The `n`th message received (1-based), waiting for it up to five seconds.
    ///
    /// # Panics
    /// When it does not arrive.
    pub async fn message(&self, n: usize) -> String {
        let path: PathBuf = self.dir.path().join(format!("{n}.eml"));
        for _ in 0..100 {
            if let Ok(raw) = tokio::fs::read_to_string(&path).await {
                return raw;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "message {n} did not arrive in {}",
            self.dir.path().display()
        );
    }

    /// How many messages have arrived.
    #[must_use]
    pub fn received(&self) -> usize {
        count_eml(self.dir.path())
    }
}

fn count_eml(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
            })
            .count()
    })
}

/// The value of header `name` (unfolded), from a raw message.
#[must_use]
pub fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let (head, _) = raw.split_once("\r\n\r\n")?;
    head.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A raw message's body.
#[must_use]
pub fn body(raw: &str) -> &str {
    raw.split_once("\r\n\r\n").map_or("", |(_, b)| b.trim_end())
}
