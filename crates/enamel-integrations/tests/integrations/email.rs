//! SMTP against a real `aiosmtpd` server (`tests/support/smtp_sink.py`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use enamel_domain::VendorName;
use enamel_integrations::{SendError, SmtpMailer, SmtpSecurity, SmtpSettings};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::support::{closed_port, python_module};

const SINK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");

/// A running sink; killed when dropped.
struct SmtpSink {
    port: u16,
    dir: tempfile::TempDir,
    _child: Child,
}

impl SmtpSink {
    async fn start() -> Option<Self> {
        if !python_module("aiosmtpd", "SMTP (aiosmtpd)") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(SINK)
            .arg(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(20),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("the SMTP sink starts")
        .unwrap();
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

    fn mailer(&self) -> SmtpMailer {
        mailer_on(self.port)
    }

    /// The `n`th message received (1-based), waiting for it briefly.
    async fn message(&self, n: usize) -> String {
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

    fn received(&self) -> usize {
        count_eml(self.dir.path())
    }
}

fn count_eml(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
        })
        .count()
}

fn mailer_on(port: u16) -> SmtpMailer {
    SmtpMailer::new(&SmtpSettings {
        host: "127.0.0.1".to_owned(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "Enamel <no-reply@enamel.test>".to_owned(),
        vendor: VendorName::parse("smtp-relay").unwrap(),
    })
    .unwrap()
}

/// The value of header `name` (unfolded), from a raw message.
fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let (head, _) = raw.split_once("\r\n\r\n")?;
    head.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn body(raw: &str) -> &str {
    raw.split_once("\r\n\r\n").map_or("", |(_, b)| b.trim_end())
}

#[tokio::test]
async fn a_sent_email_arrives_with_its_recipient_subject_message_id_and_body() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let mailer = sink.mailer();
    assert_eq!(mailer.vendor().as_str(), "smtp-relay");

    let delivered = mailer
        .send(
            "patient@example.test",
            "Your referral was received",
            "Dr. Lee's office will call you within two days.",
            "notif-0190-a",
        )
        .await
        .unwrap();

    let raw = sink.message(1).await;
    assert_eq!(header(&raw, "To"), Some("patient@example.test"));
    assert_eq!(header(&raw, "From"), Some("Enamel <no-reply@enamel.test>"));
    assert_eq!(header(&raw, "Subject"), Some("Your referral was received"));
    assert_eq!(
        header(&raw, "Message-ID"),
        Some("<enamel.notif-0190-a@enamel.test>")
    );
    assert_eq!(delivered.provider_id, "<enamel.notif-0190-a@enamel.test>");
    assert_eq!(
        body(&raw),
        "Dr. Lee's office will call you within two days."
    );
}

#[tokio::test]
async fn a_retried_send_carries_the_same_message_id() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let mailer = sink.mailer();
    for _ in 0..2 {
        mailer
            .send(
                "a@example.test",
                "Reminder",
                "See you Tuesday.",
                "retry key/1",
            )
            .await
            .unwrap();
    }
    let (first, second) = (sink.message(1).await, sink.message(2).await);
    let id = header(&first, "Message-ID").unwrap();
    assert_eq!(header(&second, "Message-ID"), Some(id));
    assert!(!id.contains("retry key"), "an unsafe key is hashed: {id}");
}

#[tokio::test]
async fn a_refused_recipient_is_permanent_and_a_busy_one_transient_without_echoing_them() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let mailer = sink.mailer();

    let refused = mailer
        .send("reject-jane@example.test", "Hi", "Body", "k-1")
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        SendError::Permanent {
            code: "smtp-550".to_owned()
        }
    );
    let busy = mailer
        .send("busy-jane@example.test", "Hi", "Body", "k-2")
        .await
        .unwrap_err();
    assert_eq!(
        busy,
        SendError::Transient {
            code: "smtp-451".to_owned()
        }
    );
    for err in [refused, busy] {
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("jane"), "{shown}");
    }
    assert_eq!(sink.received(), 0);
}

#[tokio::test]
async fn an_unreachable_relay_is_transient_and_a_bad_address_permanent() {
    let mailer = mailer_on(closed_port());
    assert!(
        mailer
            .send("a@example.test", "Hi", "Body", "k-3")
            .await
            .unwrap_err()
            .is_transient()
    );
    assert_eq!(
        mailer
            .send("not an address", "Hi", "Body", "k-4")
            .await
            .unwrap_err(),
        SendError::Permanent {
            code: "invalid-recipient".to_owned()
        }
    );
}
