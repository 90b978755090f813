//! Twilio against an in-test server that speaks the Messages API's documented shapes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::Engine as _;
use enamel_integrations::sms::verify_signature;
use enamel_integrations::{SendError, Twilio, TwilioSender, TwilioSettings};
use secrecy::SecretString;
use serde_json::json;

use crate::support::{closed_port, python_module, serve};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "test-auth-token";
const FROM: &str = "+15125550100";

/// One request as the fake Twilio saw it.
#[derive(Debug, Clone)]
struct Seen {
    account: String,
    authorization: Option<String>,
    idempotency: Option<String>,
    form: HashMap<String, String>,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Answers by recipient, with the bodies Twilio documents.
async fn messages(
    State(log): State<Log>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> impl IntoResponse {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let to = form.get("To").cloned().unwrap_or_default();
    log.lock().unwrap().push(Seen {
        account: account.clone(),
        authorization: text("authorization"),
        idempotency: text("i-twilio-idempotency-token"),
        form,
    });
    let error = |status: StatusCode, code: u32, message: String| {
        let body = json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status.as_u16(),
        });
        (status, Json(body)).into_response()
    };
    match to.as_str() {
        "+12025550101" => (
            StatusCode::CREATED,
            Json(json!({
                "account_sid": account,
                "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
                "status": "queued",
                "to": to,
                "from": FROM,
                "body": "echoed",
                "error_code": null,
                "uri": format!("/2010-04-01/Accounts/{account}/Messages/SM1f0e8ae6ade43cb3c0ce4525424e404f.json"),
            })),
        )
            .into_response(),
        "+12025550102" => error(
            StatusCode::BAD_REQUEST,
            21211,
            format!("The 'To' number {to} is not a valid phone number."),
        ),
        "+12025550103" => error(
            StatusCode::BAD_REQUEST,
            21610,
            format!("Attempt to send to unsubscribed recipient {to}"),
        ),
        "+12025550104" => error(
            StatusCode::TOO_MANY_REQUESTS,
            20429,
            "Too Many Requests".to_owned(),
        ),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
    }
}

async fn fake_twilio() -> (url::Url, Log) {
    let log = Log::default();
    let app = Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            post(messages),
        )
        .with_state(log.clone());
    (serve(app).await, log)
}

fn twilio(base_url: url::Url, sender: TwilioSender) -> Twilio {
    Twilio::new(TwilioSettings {
        base_url,
        account_sid: SID.to_owned(),
        auth_token: SecretString::from(TOKEN),
        sender,
    })
    .unwrap()
}

#[tokio::test]
async fn a_queued_message_returns_its_sid_after_a_well_formed_request() {
    let (base, log) = fake_twilio().await;
    let sms = twilio(base, TwilioSender::From(FROM.to_owned()));
    assert_eq!(sms.vendor().as_str(), "twilio");

    let delivered = sms
        .send(
            "+12025550101",
            "Your appointment is at 9:00 & ok?",
            "notif-77",
        )
        .await
        .unwrap();

    assert_eq!(delivered.provider_id, "SM1f0e8ae6ade43cb3c0ce4525424e404f");
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(seen.account, SID);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"));
    assert_eq!(seen.authorization, Some(format!("Basic {basic}")));
    assert_eq!(seen.idempotency.as_deref(), Some("notif-77"));
    assert_eq!(
        seen.form.get("To").map(String::as_str),
        Some("+12025550101")
    );
    assert_eq!(seen.form.get("From").map(String::as_str), Some(FROM));
    assert_eq!(
        seen.form.get("Body").map(String::as_str),
        Some("Your appointment is at 9:00 & ok?")
    );
    assert!(!seen.form.contains_key("MessagingServiceSid"));
}

#[tokio::test]
async fn a_messaging_service_is_named_instead_of_a_from_number() {
    let (base, log) = fake_twilio().await;
    let service = "MG0123456789abcdef0123456789abcdef";
    let sms = twilio(base, TwilioSender::MessagingService(service.to_owned()));
    sms.send("+12025550101", "Hi", "k").await.unwrap();
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(
        seen.form.get("MessagingServiceSid").map(String::as_str),
        Some(service)
    );
    assert!(!seen.form.contains_key("From"));
}

#[tokio::test]
async fn twilio_errors_map_to_permanent_opted_out_and_transient_without_echoing_the_number() {
    let (base, _) = fake_twilio().await;
    let sms = twilio(base, TwilioSender::From(FROM.to_owned()));
    let cases = [
        (
            "+12025550102",
            SendError::Permanent {
                code: "twilio-21211".to_owned(),
            },
        ),
        ("+12025550103", SendError::OptedOut),
        (
            "+12025550104",
            SendError::Transient {
                code: "twilio-20429".to_owned(),
            },
        ),
        (
            "+12025550105",
            SendError::Transient {
                code: "twilio-http-500".to_owned(),
            },
        ),
    ];
    for (to, expected) in cases {
        let err = sms.send(to, "Hi", "k").await.unwrap_err();
        assert_eq!(err, expected, "{to}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(&to[2..]), "{shown}");
    }
}

#[tokio::test]
async fn an_unreachable_api_is_transient_and_a_bad_number_is_refused_before_sending() {
    let base = url::Url::parse(&format!("http://127.0.0.1:{}/", closed_port())).unwrap();
    let sms = twilio(base, TwilioSender::From(FROM.to_owned()));
    assert!(
        sms.send("+12025550101", "Hi", "k")
            .await
            .unwrap_err()
            .is_transient()
    );
    assert_eq!(
        sms.send("2025550101", "Hi", "k").await.unwrap_err(),
        SendError::Permanent {
            code: "invalid-recipient".to_owned()
        }
    );
}

#[test]
fn plain_http_is_refused_for_a_remote_api() {
    let settings = TwilioSettings {
        base_url: url::Url::parse("http://api.twilio.com/").unwrap(),
        account_sid: SID.to_owned(),
        auth_token: SecretString::from(TOKEN),
        sender: TwilioSender::From(FROM.to_owned()),
    };
    assert!(Twilio::new(settings).is_err());
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Twilio's security documentation's example inputs; the signature was computed with
/// Python's `hmac`, `hashlib.sha1` and `base64` from the documented algorithm.
#[test]
fn the_documented_example_signature_verifies() {
    let token = SecretString::from("12345");
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    let params = pairs(&[
        ("To", "+18005551212"),
        ("From", "+12349013030"),
        ("Digits", "1234"),
        ("Caller", "+12349013030"),
        ("CallSid", "CA1234567890ABCDE"),
    ]);
    assert!(verify_signature(
        &token,
        url,
        &params,
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    ));
    let mut tampered = params.clone();
    tampered[2].1 = "9999".to_owned();
    assert!(!verify_signature(
        &token,
        url,
        &tampered,
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    ));
    assert!(!verify_signature(
        &SecretString::from("54321"),
        url,
        &params,
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    ));
}

/// An inbound SMS webhook signed independently by Python.
#[test]
fn a_signature_computed_by_python_verifies() {
    if !python_module("hmac", "Twilio signature (python3)") {
        return;
    }
    let url = "https://enamel.example/hooks/twilio/sms?practice=7";
    let params = pairs(&[
        ("MessageSid", "SM0000000000000000000000000000000a"),
        ("Body", "Stop ✋"),
        ("From", "+12025550199"),
        ("AccountSid", SID),
        ("NumMedia", "0"),
    ]);
    let script = "import base64, hashlib, hmac, json, sys\n\
        token, url, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])\n\
        data = url + ''.join(k + v for k, v in sorted(params))\n\
        print(base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode())";
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            script,
            TOKEN,
            url,
            &serde_json::to_string(&params).unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let signature = String::from_utf8(out.stdout).unwrap();
    let token = SecretString::from(TOKEN);
    assert!(verify_signature(&token, url, &params, signature.trim()));
    assert!(!verify_signature(
        &token,
        "https://enamel.example/other",
        &params,
        signature.trim()
    ));
}
