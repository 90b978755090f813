//! SMTP against a real `aiosmtpd` server (`enamel-testkit`'s `support/smtp_sink.py`).

use enamel_domain::VendorName;
use enamel_integrations::{SendError, SmtpMailer, SmtpSecurity, SmtpSettings};
use enamel_testkit::smtp::{SmtpSink, body, header};

use crate::support::closed_port;

trait Mailer {
    fn mailer(&self) -> SmtpMailer;
}

impl Mailer for SmtpSink {
    fn mailer(&self) -> SmtpMailer {
        mailer_on(self.port)
    }
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
