//! Notifications end to end: the jobs runtime (beside the server, as in `enamel
//! serve`) sends referral notices through a real SMTP server (aiosmtpd), with no PHI
//! beyond a first name in any subject, and a message the first worker could not
//! deliver is delivered by the next one.

use std::sync::Arc;
use std::time::Duration;

use enamel_domain::Role;
use enamel_server::Settings;
use enamel_server::clock::ManualClock;
use enamel_store::Backend;
use enamel_testkit::smtp::{SmtpSink, body, header};
use serde_json::json;

use crate::identity::{Demo, demo_on};

/// Email notices through the SMTP relay on `port` (the demo's `smtp-relay`, whose
/// BAA is executed in every demo practice's registry).
pub(crate) fn email_through(settings: &mut Settings, port: u16) {
    let notifications = &mut settings.notifications;
    notifications.smtp_host = Some("127.0.0.1".into());
    notifications.smtp_port = Some(port);
    notifications.smtp_security = Some("none".into());
    notifications.smtp_from = Some("Enamel <notices@enamel.example.test>".into());
    notifications.poll_millis = Some(100);
}

const LAST_NAME: &str = "Quennellwright";
const BIRTH_DATE: &str = "1983-02-17";
const REASON: &str = "Evaluate #30 for apicoectomy";

/// Creates a patient who prefers email and sends them to the endodontist; answers
/// the referral's id.
async fn send_a_referral(demo: &Demo) -> String {
    let referrer = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let endo = demo.network.practices[3].practice.id.to_string();
    let (status, created) = demo
        .post(
            "/api/v1/patients",
            &referrer,
            json!({
                "first_name": "Ottoline", "last_name": LAST_NAME, "birth_date": BIRTH_DATE,
                "email": "ottoline@example.test", "preferred_contact": "email"
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, sent) = demo
        .post(
            "/api/v1/referrals",
            &referrer,
            json!({
                "patient_id": created["id"], "receiving_practice_id": endo, "urgency": "urgent",
                "reason": REASON, "cdt_codes": ["D3410"], "teeth": ["30"],
                "notes": "Persistent periapical lesion", "send": true
            }),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    sent["id"].as_str().unwrap().to_owned()
}

/// Undoes quoted-printable's soft line breaks ("=" at the end of a line), so a word
/// split across lines is found whole.
pub(crate) fn unfolded(text: &str) -> String {
    text.replace("=\r\n", "")
}

async fn wait_for(sink: &SmtpSink, count: usize) {
    for _ in 0..200 {
        if sink.received() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{count} messages did not arrive; {} did", sink.received());
}

/// A practice's email notices as the outbox holds them (kind, status, attempts).
async fn email_notices(demo: &Demo, practice: usize) -> Vec<enamel_store::MessageStatus> {
    demo.db
        .store
        .outbox()
        .of_practice(demo.network.practices[practice].practice.id, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.channel == enamel_store::Channel::Email)
        .collect()
}

async fn the_specialist_and_the_patient_get_emails(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let port = sink.port;
    let Some(demo) = demo_on(backend, |settings| email_through(settings, port)).await else {
        return;
    };
    let referral = send_a_referral(&demo).await;
    wait_for(&sink, 2).await;
    let messages = [sink.message(1).await, sink.message(2).await];
    let to_patient = messages
        .iter()
        .find(|m| header(m, "To") == Some("ottoline@example.test"))
        .expect("the patient's notice");
    let to_office = messages
        .iter()
        .find(|m| header(m, "To") != Some("ottoline@example.test"))
        .expect("the specialist's notice");

    assert_eq!(
        header(to_patient, "Subject"),
        Some("Ottoline, your dental referral")
    );
    let endo = &demo.network.practices[3].practice;
    let text = unfolded(body(to_patient));
    assert!(text.contains(endo.name.as_str()), "{text}");
    assert!(
        header(to_office, "Subject").is_some_and(|s| !s.contains("Ottoline")),
        "an office subject names no patient"
    );
    assert!(unfolded(body(to_office)).contains(&format!("/referrals/{referral}")));
    for raw in &messages {
        let raw = unfolded(raw);
        for phi in [LAST_NAME, BIRTH_DATE, REASON, "periapical", "D3410"] {
            assert!(!raw.contains(phi), "{phi} in an email");
        }
    }
    // The referring office sees its patient notice sent; the specialist its own.
    // The relay has the message a moment before the worker records it as sent.
    let is_sent =
        |n: &enamel_store::MessageStatus| n.kind == "patient_referral_sent" && n.status == "sent";
    let mut sent = email_notices(&demo, 0).await;
    for _ in 0..200 {
        if sent.iter().any(is_sent) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        sent = email_notices(&demo, 0).await;
    }
    assert!(sent.iter().any(is_sent), "{sent:?}");
    // The log says which address a notice went to only as a keyed hash.
    let practice = demo.network.practices[0].practice.id;
    let expected = demo
        .db
        .store
        .audit_hash(practice, "recipient", "ottoline@example.test")
        .await
        .unwrap();
    let scope = enamel_audit::entry::Scope::Practice(practice);
    let mut found = false;
    for _ in 0..50 {
        let log = crate::identity::log_of(&demo, &scope).await;
        assert!(
            log.iter()
                .all(|e| !String::from_utf8_lossy(e).contains("ottoline")),
            "no address in the log"
        );
        found = log.iter().any(|e| {
            let entry = enamel_audit::entry::Entry::parse_canonical(e).unwrap();
            entry.action == "notify" && entry.detail.get("recipient") == Some(&expected)
        });
        if found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        found,
        "the patient's notice is logged with the keyed hash of the address"
    );
}

/// The relay is down while the first server runs: the notices wait in the outbox.
/// A second worker on the same database, later, with the relay up, sends them once.
#[tokio::test]
async fn notices_the_first_server_could_not_send_are_sent_by_the_next() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let demo = demo_on(Backend::Sqlite, |settings| email_through(settings, closed))
        .await
        .unwrap();
    send_a_referral(&demo).await;
    // The worker tries and fails; the notices stay pending with an attempt counted.
    let mut waiting = Vec::new();
    for _ in 0..100 {
        waiting = email_notices(&demo, 0).await;
        if waiting
            .iter()
            .any(|n| n.attempts >= 1 && n.status == "pending")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !waiting.is_empty() && waiting.iter().all(|n| n.status == "pending"),
        "{waiting:?}"
    );
    assert_eq!(sink.received(), 0);

    let mut settings = crate::helpers::test_settings();
    email_through(&mut settings, sink.port);
    let later = ManualClock::new(time::OffsetDateTime::now_utc() + time::Duration::hours(2));
    // Another worker process, later: its own connection to the same database.
    let store = demo.db.reopen().await;
    let (_stop, _jobs) = crate::helpers::start_jobs(&settings, store, Arc::new(later), &demo.url);
    wait_for(&sink, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.received(), 2, "each notice once");
    let sent = email_notices(&demo, 0).await;
    assert!(sent.iter().all(|n| n.status == "sent"), "{sent:?}");
}

/// Twilio's webhook signature, computed by Python's standard library (not by the
/// code under test): base64 HMAC-SHA1 over the URL and the sorted parameters.
fn twilio_signature(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort_unstable();
    let data: String = std::iter::once(url.to_owned())
        .chain(sorted.iter().map(|(k, v)| format!("{k}{v}")))
        .collect();
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import base64,hmac,hashlib,sys; \
             print(base64.b64encode(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), \
             hashlib.sha1).digest()).decode())",
            token,
            &data,
        ])
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn a_stop_reply_opts_the_number_out_in_every_practice_and_a_forged_one_does_not() {
    const TOKEN: &str = "twilio-auth-token-for-tests-0001";
    let demo = demo_on(Backend::Sqlite, |settings| {
        settings.notifications.twilio_auth_token = Some(secrecy::SecretString::from(TOKEN));
    })
    .await
    .unwrap();
    let mut patients = Vec::new();
    for practice in [0, 3] {
        let front_desk = demo.session(&demo.email(practice, Role::FrontDesk)).await;
        let (status, created) = demo
            .post(
                "/api/v1/patients",
                &front_desk,
                json!({ "first_name": "Wren", "last_name": "Abernethy-Sloane",
                        "birth_date": "1975-09-30", "phone": "(512) 555-0188",
                        "preferred_contact": "sms" }),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        patients.push((front_desk, created["id"].as_str().unwrap().to_owned()));
    }
    let url = format!("{}/webhooks/twilio/sms", demo.url);
    let post = |params: Vec<(&'static str, &'static str)>, signature: String| {
        demo.client
            .post(&url)
            .header("x-twilio-signature", signature)
            .form(&params)
            .send()
    };
    let stop = vec![
        ("From", "+15125550188"),
        ("To", "+15125550100"),
        ("Body", " Stop "),
        ("MessageSid", "SM00000000000000000000000000000001"),
    ];

    // A forged signature changes nothing.
    let forged = post(stop.clone(), twilio_signature("not-the-token", &url, &stop))
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    for (cookie, id) in &patients {
        let (_, patient) = demo.read(&format!("/api/v1/patients/{id}"), cookie).await;
        assert_eq!(patient["sms_opt_out"], false);
    }

    let signed = post(stop.clone(), twilio_signature(TOKEN, &url, &stop))
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    assert_eq!(signed.headers()[reqwest::header::CONTENT_TYPE], "text/xml");
    for (cookie, id) in &patients {
        let (_, patient) = demo.read(&format!("/api/v1/patients/{id}"), cookie).await;
        assert_eq!(patient["sms_opt_out"], true, "opted out in each practice");
    }

    // START opts back in.
    let start = vec![("From", "+15125550188"), ("Body", "START")];
    let signed = post(start.clone(), twilio_signature(TOKEN, &url, &start))
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let (cookie, id) = &patients[0];
    let (_, patient) = demo.read(&format!("/api/v1/patients/{id}"), cookie).await;
    assert_eq!(patient["sms_opt_out"], false);
}

/// The demo's mailbox: messages become files, each channel still behind its real
/// vendor's BAA (email's relay executed, Twilio pending in the demo registry), and
/// the patient's portal link in the file opens the portal.
#[tokio::test]
async fn the_demo_mailbox_holds_the_portal_link_and_the_baa_gate_still_decides() {
    let mailbox = tempfile::tempdir().unwrap();
    let dir = mailbox.path().to_owned();
    let demo = demo_on(Backend::Sqlite, |settings| {
        settings.notifications.mailbox_dir = Some(dir);
        settings.notifications.poll_millis = Some(100);
    })
    .await
    .unwrap();
    let referral = send_a_referral(&demo).await;
    let referrer = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (status, _) = demo
        .post(
            &format!("/api/v1/referrals/{referral}/portal-link"),
            &referrer,
            json!(null),
        )
        .await;
    assert_eq!(status, 202);
    let files = |dir: &std::path::Path| -> Vec<String> {
        let mut texts: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "txt"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
        texts.sort();
        texts
    };
    let mut written = Vec::new();
    for _ in 0..100 {
        written = files(mailbox.path());
        if written.iter().any(|t| t.contains("/p/")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let link_message = written
        .iter()
        .find(|t| t.contains("/p/"))
        .unwrap_or_else(|| panic!("no portal link among {written:?}"));
    assert!(link_message.contains("To: ottoline@example.test"));
    for text in &written {
        assert!(!text.contains(LAST_NAME) && !text.contains(REASON));
    }
    let link = link_message
        .split_whitespace()
        .find(|w| w.contains("/p/"))
        .unwrap();
    let (status, page) = demo.open_portal(link, BIRTH_DATE).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Lone Star Endodontics"), "{page}");
    assert!(!page.contains(LAST_NAME) && !page.contains("apicoectomy"));

    // A patient who prefers texts: Twilio's BAA is only pending in the demo registry,
    // so the text is refused, not written, and the practice sees why.
    let endo = demo.network.practices[3].practice.id.to_string();
    let (_, texter) = demo
        .post(
            "/api/v1/patients",
            &referrer,
            json!({ "first_name": "Bram", "last_name": "Oyelaran-Fitch", "birth_date": "1991-01-09",
                    "phone": "(512) 555-0175", "preferred_contact": "sms" }),
        )
        .await;
    let (status, _) = demo
        .post(
            "/api/v1/referrals",
            &referrer,
            json!({ "patient_id": texter["id"], "receiving_practice_id": endo,
                    "urgency": "routine", "reason": "Evaluate", "send": true }),
        )
        .await;
    assert_eq!(status, 201);
    let mut refused = Vec::new();
    for _ in 0..100 {
        refused = demo
            .db
            .store
            .outbox()
            .of_practice(demo.network.practices[0].practice.id, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.channel == enamel_store::Channel::Sms && m.status == "refused")
            .collect();
        if !refused.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].last_error.as_deref(), Some("no_executed_baa"));
    assert_eq!(refused[0].vendor.as_deref(), Some("twilio"));
    assert!(
        files(mailbox.path())
            .iter()
            .all(|t| !t.contains("Channel: sms"))
    );
}

/// Every step's office notice reaches the right office through the real SMTP
/// server, and the patient gets the referral notice and the portal link.
async fn every_step_notifies_the_right_office(backend: Backend) {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let port = sink.port;
    let Some(demo) = demo_on(backend, |settings| email_through(settings, port)).await else {
        return;
    };
    let referral = send_a_referral(&demo).await;
    let specialist = demo.session(&demo.email(3, Role::FrontDesk)).await;
    let referrer = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (status, _) = demo
        .read(&format!("/api/v1/referrals/{referral}"), &specialist)
        .await;
    assert_eq!(status, 200);
    for (step, body) in [
        ("accept", json!({})),
        ("schedule", json!({ "appointment": "2026-12-02T08:15" })),
        ("complete", json!({})),
        (
            "send_report",
            json!({ "note": "Apicoectomy done; review in 6 months" }),
        ),
    ] {
        let (status, moved) = demo
            .post(
                &format!("/api/v1/referrals/{referral}/steps/{step}"),
                &specialist,
                body,
            )
            .await;
        assert_eq!(status, 200, "{step}: {moved}");
    }
    let (status, _) = demo
        .post(
            &format!("/api/v1/referrals/{referral}/portal-link"),
            &referrer,
            json!(null),
        )
        .await;
    assert_eq!(status, 202);
    // Five office notices, and the patient's three: the referral, the booked visit
    // and the portal link.
    wait_for(&sink, 8).await;
    let mut seen = Vec::new();
    for n in 1..=8 {
        let raw = sink.message(n).await;
        let to = header(&raw, "To").unwrap().to_owned();
        let subject = header(&raw, "Subject").unwrap().to_owned();
        assert!(!unfolded(&raw).contains(LAST_NAME), "{subject}");
        seen.push((to, subject));
    }
    let office = |practice: usize| {
        let slug = demo.email(practice, Role::FrontDesk);
        format!("office@{}", slug.rsplit('@').next().unwrap())
    };
    let (general, endo) = (office(0), office(3));
    let expected = [
        (endo.as_str(), "New referral from Bluebonnet Family Dental"),
        (
            general.as_str(),
            "Lone Star Endodontics accepted your referral",
        ),
        (
            general.as_str(),
            "Lone Star Endodontics scheduled your referred patient",
        ),
        (
            general.as_str(),
            "Lone Star Endodontics completed treatment for your referral",
        ),
        (
            general.as_str(),
            "Lone Star Endodontics sent a report on your referral",
        ),
        ("ottoline@example.test", "Ottoline, your visit is booked"),
    ];
    for (to, subject) in expected {
        assert!(
            seen.iter().any(|(t, s)| t == to && s == subject),
            "{subject} to {to} not among {seen:?}"
        );
    }
    let to_patient = seen
        .iter()
        .filter(|(to, _)| to == "ottoline@example.test")
        .count();
    assert_eq!(
        to_patient, 3,
        "the referral notice, the booked visit and the portal link: {seen:?}"
    );
}

/// A local server speaking Twilio's Messages API: 201 with a SID, or error 21610
/// (the number unsubscribed) for one number.
#[derive(Clone, Default)]
pub(crate) struct TwilioFake {
    /// Each request's `Authorization` header and form fields.
    pub(crate) received: Arc<std::sync::Mutex<Vec<(String, Form)>>>,
}

pub(crate) type Form = Vec<(String, String)>;

/// The account SID the tests' Twilio settings name.
pub(crate) const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";

/// Starts the fake on loopback; answers it and its base URL.
pub(crate) async fn twilio_fake() -> (TwilioFake, String) {
    let fake = TwilioFake::default();
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            axum::routing::post(twilio_messages),
        )
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, base)
}

/// The first office's security officer records Twilio's BAA as executed.
pub(crate) async fn execute_twilio_baa(demo: &crate::identity::Demo) {
    let (officer, _) = demo
        .admin_session(&demo.email(0, Role::SecurityOfficer))
        .await;
    let (status, _) = demo
        .api(
            reqwest::Method::PUT,
            "/api/v1/vendors/twilio",
            &officer,
            Some(json!({ "display_name": "Twilio", "services": "SMS",
                          "baa_status": "executed", "executed_on": "2026-02-01" })),
        )
        .await;
    assert_eq!(status, 200);
}

/// Texts through the fake at `base`, sent by the runtime polling every 100 ms.
pub(crate) fn texts_through(settings: &mut Settings, base: String) {
    let n = &mut settings.notifications;
    n.twilio_base_url = Some(base);
    n.twilio_account_sid = Some(TWILIO_SID.into());
    n.twilio_auth_token = Some(secrecy::SecretString::from("twilio-test-token"));
    n.twilio_from = Some("+15125550100".into());
    n.poll_millis = Some(100);
}

const UNSUBSCRIBED: &str = "+15125550162";

async fn twilio_messages(
    axum::extract::State(fake): axum::extract::State<TwilioFake>,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<Form>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let to = form
        .iter()
        .find(|(k, _)| k == "To")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    fake.received.lock().unwrap().push((auth, form));
    if to == UNSUBSCRIBED {
        let error = json!({ "code": 21610, "message": "Attempt to send to unsubscribed recipient",
                            "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400 });
        return (axum::http::StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
    }
    let created = json!({ "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued" });
    (axum::http::StatusCode::CREATED, axum::Json(created)).into_response()
}

#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn patients_get_texts_through_twilio_once_its_baa_is_executed() {
    let (fake, base) = twilio_fake().await;
    let demo = demo_on(Backend::Sqlite, |settings| texts_through(settings, base))
        .await
        .unwrap();
    execute_twilio_baa(&demo).await;
    let referrer = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let endo = demo.network.practices[3].practice.id.to_string();
    let mut patients = Vec::new();
    for (first, phone) in [("Cosima", "(512) 555-0161"), ("Dashiell", "(512) 555-0162")] {
        let (_, patient) = demo
            .post(
                "/api/v1/patients",
                &referrer,
                json!({ "first_name": first, "last_name": "Brightwater-Ames", "birth_date": "1988-03-07",
                        "phone": phone, "preferred_contact": "sms" }),
            )
            .await;
        let (status, _) = demo
            .post(
                "/api/v1/referrals",
                &referrer,
                json!({ "patient_id": patient["id"], "receiving_practice_id": endo,
                        "urgency": "routine", "reason": "Evaluate", "send": true }),
            )
            .await;
        assert_eq!(status, 201);
        patients.push(patient["id"].as_str().unwrap().to_owned());
    }
    for _ in 0..100 {
        if fake.received.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let received = fake.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "{received:?}");
    let field = |form: &[(String, String)], name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let (auth, text) = received
        .iter()
        .find(|(_, form)| field(form, "To") == "+15125550161")
        .unwrap();
    assert!(
        auth.starts_with("Basic "),
        "HTTP basic auth with the account SID"
    );
    assert_eq!(field(text, "From"), "+15125550100");
    let body = field(text, "Body");
    assert!(
        body.starts_with("Hi Cosima,") && body.contains("Reply STOP"),
        "{body}"
    );
    assert!(
        !body.contains("Brightwater") && !body.contains("1988"),
        "{body}"
    );
    // Twilio's 21610 for the other number: refused, and the patient is opted out.
    let mut opted_out = json!(false);
    for _ in 0..50 {
        let (_, patient) = demo
            .read(&format!("/api/v1/patients/{}", patients[1]), &referrer)
            .await;
        opted_out = patient["sms_opt_out"].clone();
        if opted_out == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(opted_out, true);
}

on_both_backends!(
    the_specialist_and_the_patient_get_emails,
    every_step_notifies_the_right_office,
);
