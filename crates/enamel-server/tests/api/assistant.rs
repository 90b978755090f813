//! The letter assistant against a local server speaking Anthropic's Messages API:
//! inert until the practice's BAA with `anthropic` is executed, then sent only
//! de-identified clinical content, each use in the accounting of disclosures.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use enamel_domain::Role;
use enamel_store::Backend;
use serde_json::{Value, json};

use crate::identity::demo_on;

/// What the fake received, and whether it should answer "overloaded".
#[derive(Clone, Default)]
struct Fake {
    requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    overloaded: Arc<Mutex<bool>>,
}

async fn messages(
    axum::extract::State(fake): axum::extract::State<Fake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> axum::response::Response {
    fake.requests.lock().unwrap().push((headers, body));
    if *fake.overloaded.lock().unwrap() {
        let error = json!({ "type": "error",
            "error": { "type": "overloaded_error", "message": "Overloaded" } });
        return (StatusCode::from_u16(529).unwrap(), Json(error)).into_response();
    }
    Json(json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{ "type": "text", "text": "Dear Doctor,\n\nI am referring [patient] for evaluation of tooth 30." }],
        "stop_reason": "end_turn", "usage": { "input_tokens": 120, "output_tokens": 30 }
    }))
    .into_response()
}

async fn serve(fake: Fake) -> String {
    let app = axum::Router::new()
        .route("/v1/messages", post(messages))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/")
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn the_assistant_waits_for_the_baa_and_never_sees_identifiers(backend: Backend) {
    let fake = Fake::default();
    let base = serve(fake.clone()).await;
    let Some(demo) = demo_on(backend, |settings| {
        settings.referrals.assistant_api_key = Some(secrecy::SecretString::from("sk-test-key"));
        settings.referrals.assistant_base_url = Some(base);
        settings.referrals.assistant_model = Some("claude-test".into());
    })
    .await
    else {
        return;
    };
    let dentist = demo.session(&demo.email(0, Role::Dentist)).await;
    let endo = demo.network.practices[3].practice.id.to_string();
    let (_, patient) = demo
        .post(
            "/api/v1/patients",
            &dentist,
            json!({ "first_name": "Theodora", "last_name": "Willoughby", "birth_date": "1968-11-03",
                    "phone": "(512) 555-0142" }),
        )
        .await;
    let (status, referral) = demo
        .post(
            "/api/v1/referrals",
            &dentist,
            json!({ "patient_id": patient["id"], "receiving_practice_id": endo,
                    "urgency": "soon", "reason": "Willoughby has pain on #30",
                    "cdt_codes": ["D3330"], "teeth": ["30"],
                    "notes": "Theodora (DOB 11/03/1968) reports swelling since 2026-11-01; call 512-555-0142." }),
        )
        .await;
    assert_eq!(status, 201, "{referral}");
    let id = referral["id"].as_str().unwrap();
    let path = format!("/api/v1/referrals/{id}/letter-draft");

    // The demo registry has no BAA with anthropic: refused, nothing sent.
    let (status, refused) = demo.post(&path, &dentist, json!(null)).await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("no executed BAA")
    );
    assert!(fake.requests.lock().unwrap().is_empty());

    // The security officer records the executed BAA; the draft now comes back.
    let (officer, _) = demo
        .admin_session(&demo.email(0, Role::SecurityOfficer))
        .await;
    let (status, _) = demo
        .api(
            reqwest::Method::PUT,
            "/api/v1/vendors/anthropic",
            &officer,
            Some(
                json!({ "display_name": "Anthropic", "services": "AI drafting",
                          "baa_status": "executed", "executed_on": "2026-01-10" }),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let (status, drafted) = demo.post(&path, &dentist, json!(null)).await;
    assert_eq!(status, 200, "{drafted}");
    assert!(drafted["draft"].as_str().unwrap().contains("[patient]"));

    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (headers, body) = &requests[0];
    assert_eq!(headers["x-api-key"], "sk-test-key");
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert_eq!(body["model"], "claude-test");
    let sent = body.to_string();
    for identifier in [
        "Theodora",
        "Willoughby",
        "1968",
        "11/03",
        "555-0142",
        "2026-11-01",
    ] {
        assert!(
            !sent.contains(identifier),
            "{identifier} sent to the vendor: {sent}"
        );
    }
    assert!(
        sent.contains("D3330") && sent.contains("swelling"),
        "{sent}"
    );

    // On the referral's page, the draft lands in the message box to edit.
    let page = demo
        .form(
            &format!("/referrals/{id}/letter-draft"),
            Some(&dentist),
            &[],
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("I am referring [patient]"), "{page}");

    // An overloaded vendor is a clear, retryable problem.
    *fake.overloaded.lock().unwrap() = true;
    let (status, busy) = demo.post(&path, &dentist, json!(null)).await;
    assert_eq!(
        (status, busy["code"].as_str()),
        (503, Some("unavailable")),
        "{busy}"
    );

    // Each use (and the refusal) is in the patient's accounting of disclosures.
    let scope = enamel_audit::entry::Scope::Practice(demo.network.practices[0].practice.id);
    let stored = demo
        .db
        .store
        .audit()
        .entries(&scope, 0, 100_000)
        .await
        .unwrap();
    let disclosures: Vec<String> = stored
        .iter()
        .map(|s| enamel_audit::entry::Entry::parse_canonical(&s.entry).unwrap())
        .filter(|e| e.action == "disclose" && e.detail.contains_key("recipient"))
        .filter(|e| e.resource_id.as_deref() == Some(id))
        .map(|e| e.outcome)
        .collect();
    assert_eq!(disclosures, ["denied", "success", "success", "success"]);
}

on_both_backends!(the_assistant_waits_for_the_baa_and_never_sees_identifiers);
