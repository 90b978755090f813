//! `SRFax` against an in-test server that speaks `Queue_Fax`'s documented shapes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::Engine as _;
use enamel_integrations::{SendError, SrFax, SrFaxSettings};
use secrecy::SecretString;
use serde_json::json;

use crate::support::serve;

type Log = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// Answers by destination: success, a documented failure, or a server error.
async fn web_service(
    State(log): State<Log>,
    Form(form): Form<HashMap<String, String>>,
) -> impl IntoResponse {
    let to = form.get("sToFaxNumber").cloned().unwrap_or_default();
    log.lock().unwrap().push(form);
    match to.as_str() {
        "15125550101" => Json(json!({"Status": "Success", "Result": "389091764"})).into_response(),
        "15125550102" => Json(json!({
            "Status": "Failed",
            "Result": format!("Invalid Fax Number {to}"),
        }))
        .into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "Service Unavailable").into_response(),
    }
}

async fn fake_srfax() -> (SrFax, Log) {
    let log = Log::default();
    let app = Router::new()
        .route("/SRF_SecWebSvc.php", post(web_service))
        .with_state(log.clone());
    let base = serve(app).await.join("SRF_SecWebSvc.php").unwrap();
    let fax = SrFax::new(SrFaxSettings {
        base_url: base,
        access_id: "12345".to_owned(),
        access_pwd: SecretString::from("fax-password"),
        caller_id: "5125550100".to_owned(),
        sender_email: "fax@enamel.test".to_owned(),
    })
    .unwrap();
    (fax, log)
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

#[tokio::test]
async fn a_queued_fax_returns_its_id_after_a_well_formed_request() {
    let (fax, log) = fake_srfax().await;
    assert_eq!(fax.vendor().as_str(), "srfax");

    let delivered = fax
        .send_pdf("+15125550101", "referral-0042.pdf", PDF, "fax-key-1")
        .await
        .unwrap();

    assert_eq!(delivered.provider_id, "389091764");
    let form = log.lock().unwrap()[0].clone();
    let field = |name: &str| form.get(name).map(String::as_str);
    assert_eq!(field("action"), Some("Queue_Fax"));
    assert_eq!(field("access_id"), Some("12345"));
    assert_eq!(field("access_pwd"), Some("fax-password"));
    assert_eq!(field("sCallerID"), Some("5125550100"));
    assert_eq!(field("sSenderEmail"), Some("fax@enamel.test"));
    assert_eq!(field("sFaxType"), Some("SINGLE"));
    assert_eq!(field("sToFaxNumber"), Some("15125550101"));
    assert_eq!(field("sFileName_1"), Some("referral-0042.pdf"));
    assert_eq!(field("sResponseFormat"), Some("JSON"));
    let content = base64::engine::general_purpose::STANDARD
        .decode(field("sFileContent_1").unwrap())
        .unwrap();
    assert_eq!(content, PDF);
    let reference = field("sAccountCode").unwrap();
    assert_eq!(reference.len(), 20);
    assert!(!reference.contains("fax-key"));
}

#[tokio::test]
async fn a_failed_status_is_permanent_and_a_server_error_transient_without_echoing_the_number() {
    let (fax, _) = fake_srfax().await;
    let failed = fax
        .send_pdf("+15125550102", "r.pdf", PDF, "k")
        .await
        .unwrap_err();
    assert_eq!(
        failed,
        SendError::Permanent {
            code: "srfax-failed".to_owned()
        }
    );
    let down = fax
        .send_pdf("+15125550103", "r.pdf", PDF, "k")
        .await
        .unwrap_err();
    assert_eq!(
        down,
        SendError::Transient {
            code: "srfax-http-500".to_owned()
        }
    );
    for err in [failed, down] {
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("555010"), "{shown}");
    }
}

#[tokio::test]
async fn numbers_outside_north_america_and_odd_file_names_are_refused_before_sending() {
    let (fax, log) = fake_srfax().await;
    for (to, name) in [
        ("+445125550101", "r.pdf"),
        ("5125550101", "r.pdf"),
        ("+15125550101", "../r.pdf"),
        ("+15125550101", "r.exe"),
    ] {
        assert!(
            matches!(
                fax.send_pdf(to, name, PDF, "k").await,
                Err(SendError::Permanent { .. })
            ),
            "{to} {name}"
        );
    }
    assert!(log.lock().unwrap().is_empty());
}
