//! Office settings: the administrator chooses how the office hears of referrals
//! (email, a text to the office phone, or a fax), its phones, address, listing,
//! hours, time zone and distance unit, on a page and in the API; the worker then
//! reaches the office by fax through `SRFax` and by text through Twilio (both fakes
//! that speak the vendors' documented shapes).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use enamel_domain::Role;
use enamel_store::Backend;
use serde_json::{Value, json};

use crate::identity::{Demo, demo_on};

type Form = Vec<(String, String)>;

/// What the fake vendors received: `SRFax`'s `Queue_Fax` forms and Twilio's messages.
#[derive(Clone, Default)]
struct Vendors {
    faxes: Arc<Mutex<Vec<Form>>>,
    texts: Arc<Mutex<Vec<Form>>>,
}

async fn srfax(
    axum::extract::State(vendors): axum::extract::State<Vendors>,
    axum::Form(form): axum::Form<Form>,
) -> axum::Json<Value> {
    let action = form
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.clone());
    vendors.faxes.lock().unwrap().push(form);
    if action.as_deref() == Some("Queue_Fax") {
        axum::Json(json!({ "Status": "Success", "Result": "389091764" }))
    } else {
        axum::Json(json!({ "Status": "Failed", "Result": "Unknown action" }))
    }
}

async fn twilio(
    axum::extract::State(vendors): axum::extract::State<Vendors>,
    axum::Form(form): axum::Form<Form>,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    vendors.texts.lock().unwrap().push(form);
    (
        axum::http::StatusCode::CREATED,
        axum::Json(json!({ "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued" })),
    )
}

async fn start_vendors() -> (Vendors, String) {
    let vendors = Vendors::default();
    let app = axum::Router::new()
        .route("/SRF_SecWebSvc.php", axum::routing::post(srfax))
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            axum::routing::post(twilio),
        )
        .with_state(vendors.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (vendors, base)
}

fn field(form: &Form, name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

async fn wait_for(list: &Arc<Mutex<Vec<Form>>>, count: usize) -> Vec<Form> {
    for _ in 0..100 {
        if list.lock().unwrap().len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    list.lock().unwrap().clone()
}

fn settings_form<'a>(channel: &'a str, fax: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("notify_channel", channel),
        ("notify_email", "office@lonestar-endo.example.test"),
        ("phone", "(512) 555-0140"),
        ("fax", fax),
        ("address_line1", "2400 Lake Austin Blvd"),
        ("address_line2", ""),
        ("city", "Austin"),
        ("state", "TX"),
        ("postal_code", "78703"),
        ("latitude", "30.2905"),
        ("longitude", "-97.7712"),
        ("listed", "true"),
        ("time_zone", "America/Chicago"),
        ("office_hours", "Mon–Thu 8–5, Fri 8–noon"),
        ("distance_unit", "km"),
    ]
}

async fn refer_to_the_endodontist(demo: &Demo, last_name: &str) {
    let referrer = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let patient = demo.add_patient(&referrer, last_name).await;
    demo.refer(&referrer, &patient).await;
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn the_office_hears_of_referrals_by_fax_or_text_as_its_admin_chose(backend: Backend) {
    let (vendors, base) = start_vendors().await;
    let Some(demo) = demo_on(backend, |settings| {
        let n = &mut settings.notifications;
        n.srfax_base_url = Some(format!("{base}/SRF_SecWebSvc.php"));
        n.srfax_access_id = Some("12345".into());
        n.srfax_access_pwd = Some(secrecy::SecretString::from("srfax-test-password"));
        n.srfax_caller_id = Some("5125550100".into());
        n.srfax_sender_email = Some("faxes@enamel.example.test".into());
        n.twilio_base_url = Some(format!("{base}/"));
        n.twilio_account_sid = Some("AC0123456789abcdef0123456789abcdef".into());
        n.twilio_auth_token = Some(secrecy::SecretString::from("twilio-test-token"));
        n.twilio_from = Some("+15125550100".into());
        n.poll_millis = Some(100);
    })
    .await
    else {
        return;
    };
    // The endodontist's security officer executes SRFax's and Twilio's BAAs.
    let (officer, _) = demo
        .admin_session(&demo.email(3, Role::SecurityOfficer))
        .await;
    for (vendor, name, services) in [("srfax", "SRFax", "Fax"), ("twilio", "Twilio", "SMS")] {
        let (status, body) = demo
            .api(
                reqwest::Method::PUT,
                &format!("/api/v1/vendors/{vendor}"),
                &officer,
                Some(json!({ "display_name": name, "services": services,
                              "baa_status": "executed", "executed_on": "2026-02-01" })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    // Only the administrator keeps the settings.
    let desk = demo.session(&demo.email(3, Role::FrontDesk)).await;
    let (status, _) = demo.read("/api/v1/practice/settings", &desk).await;
    assert_eq!(status, 403);
    let (admin, _) = demo
        .admin_session(&demo.email(3, Role::PracticeAdmin))
        .await;
    let (status, page) = demo.page("/practice/settings", &admin).await;
    assert_eq!(status, 200);
    assert!(page.contains("By fax, to the office fax"), "{page}");

    // Fax with no fax number: the form comes back with the message beside the field.
    let refused = demo
        .form(
            "/practice/settings",
            Some(&admin),
            &settings_form("fax", ""),
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"p-fax-error\""), "{page}");
    assert!(page.contains("value=\"Mon–Thu 8–5, Fri 8–noon\""));
    let saved = demo
        .form(
            "/practice/settings",
            Some(&admin),
            &settings_form("fax", "(512) 555-0199"),
        )
        .await;
    assert_eq!(saved.status(), 303);
    let (_, page) = demo.page("/practice/settings?flash=saved", &admin).await;
    assert!(page.contains("Your office settings are saved."));
    let (status, settings) = demo.read("/api/v1/practice/settings", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(settings["notify_channel"], "fax");
    assert_eq!(settings["fax"], "(512) 555-0199");
    assert_eq!(settings["distance_unit"], "km");
    assert_eq!(
        settings["latitude"], 30.2905,
        "a number, as the schema says"
    );

    // Other offices see the hours in the directory.
    let referrer = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (_, directory) = demo
        .read("/api/v1/directory?specialty=endodontics", &referrer)
        .await;
    assert!(
        directory["practices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["office_hours"] == "Mon–Thu 8–5, Fri 8–noon"),
        "{directory}"
    );

    // A referral reaches the office by fax: a PDF through SRFax, no patient in it.
    refer_to_the_endodontist(&demo, "Faxworthy").await;
    let faxes = wait_for(&vendors.faxes, 1).await;
    assert_eq!(faxes.len(), 1, "{faxes:?}");
    assert_eq!(field(&faxes[0], "action"), "Queue_Fax");
    assert_eq!(field(&faxes[0], "sToFaxNumber"), "15125550199");
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(field(&faxes[0], "sFileContent_1"))
        .unwrap();
    let text = String::from_utf8_lossy(&pdf);
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(text.contains("New referral from"), "{text}");
    assert!(!text.contains("Faxworthy"), "no patient on a fax cover");

    // Switched to texts, the next one reaches the office phone through Twilio.
    let (status, _) = demo
        .api(
            reqwest::Method::PUT,
            "/api/v1/practice/settings",
            &admin,
            Some(json!({ "notify_channel": "sms", "phone": "(512) 555-0140",
                          "fax": "(512) 555-0199", "address_line1": "2400 Lake Austin Blvd",
                          "city": "Austin", "state": "TX", "postal_code": "78703",
                          "latitude": 30.2905, "longitude": -97.7712, "listed": true,
                          "time_zone": "America/Chicago", "distance_unit": "mi" })),
        )
        .await;
    assert_eq!(status, 204);
    refer_to_the_endodontist(&demo, "Textington").await;
    let texts = wait_for(&vendors.texts, 1).await;
    let office_texts: Vec<&Form> = texts
        .iter()
        .filter(|form| field(form, "To") == "+15125550140")
        .collect();
    assert_eq!(office_texts.len(), 1, "{texts:?}");
    let body = field(office_texts[0], "Body");
    assert!(body.contains("New referral from"), "{body}");
    assert!(!body.contains("Textington"));
    assert_eq!(wait_for(&vendors.faxes, 1).await.len(), 1, "no second fax");
}

on_both_backends!(the_office_hears_of_referrals_by_fax_or_text_as_its_admin_chose);
