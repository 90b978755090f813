//! The referral story end to end through the API, with its failure paths.

use enamel_domain::Role;
use enamel_store::Backend;
use reqwest::header;
use serde_json::{Value, json};

use crate::identity::{Demo, demo_on};

/// A PNG: the signature, then filler (content decides the type, not the name).
fn radiograph() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend((0..200_000_u32).map(|i| u8::try_from(i % 251).unwrap()));
    png
}

async fn upload(demo: &Demo, referral: &str, cookie: &str, bytes: Vec<u8>) -> (u16, Value) {
    let response = demo
        .client
        .post(format!(
            "{}/api/v1/referrals/{referral}/attachments",
            demo.url
        ))
        .header(header::COOKIE, cookie)
        .header(header::ORIGIN, demo.origin())
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header("x-file-name", "bitewing-19.png")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn a_referral_goes_from_general_dentist_to_specialist_and_back(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    // Bluebonnet (general) refers to Lone Star Endodontics; Riverbend is a bystander.
    let referrer = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let specialist = demo.session(&demo.email(3, Role::FrontDesk)).await;
    let bystander = demo.session(&demo.email(1, Role::FrontDesk)).await;

    let (status, directory) = demo
        .read("/api/v1/directory?specialty=endodontics", &referrer)
        .await;
    assert_eq!(status, 200);
    let endo = directory["practices"][0]["id"].as_str().unwrap().to_owned();

    let patient = json!({
        "first_name": "Marisol", "last_name": "Vantongeren", "birth_date": "1979-06-21",
        "phone": "(512) 555-0177", "email": "marisol@example.test", "preferred_contact": "email"
    });
    let (status, created) = demo
        .post("/api/v1/patients", &referrer, patient.clone())
        .await;
    assert_eq!(status, 201, "{created}");
    let patient_id = created["id"].as_str().unwrap().to_owned();
    let (status, duplicate) = demo.post("/api/v1/patients", &referrer, patient).await;
    assert_eq!(
        (status, duplicate["code"].as_str()),
        (409, Some("duplicate_patient"))
    );

    let mut referral = json!({
        "patient_id": patient_id, "receiving_practice_id": endo, "urgency": "soon",
        "reason": "Evaluate #19 for endodontic therapy", "cdt_codes": ["D3330"],
        "teeth": ["19"], "notes": "Lingering cold sensitivity", "send": true
    });
    referral["teeth"] = json!(["46"]);
    let (status, problem) = demo
        .post("/api/v1/referrals", &referrer, referral.clone())
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid_input")),
        "FDI 46 is not Universal"
    );
    referral["teeth"] = json!(["19"]);
    let (status, created) = demo.post("/api/v1/referrals", &referrer, referral).await;
    assert_eq!(
        (status, created["status"].as_str()),
        (201, Some("sent")),
        "{created}"
    );
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, problem) = upload(
        &demo,
        &id,
        &referrer,
        b"MZ\x90\x00not an image at all".repeat(20),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("unsupported_type")),
        "an executable is refused, with the reason's code"
    );
    // The refused write is in the log, with its reason and no trace of the file.
    let (officer, _) = demo
        .admin_session(&demo.email(0, Role::SecurityOfficer))
        .await;
    let (_, failures) = demo.read("/api/v1/audit/failures", &officer).await;
    let refused: Vec<&Value> = failures["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "create" && e["resource_type"] == "attachment")
        .collect();
    assert_eq!(refused.len(), 1, "{failures}");
    assert_eq!(refused[0]["outcome"], "failure");
    assert_eq!(refused[0]["patient_id"], patient_id.as_str());
    assert_eq!(refused[0]["detail"]["reason"]["code"], "unsupported_type");
    assert!(!failures.to_string().contains("bitewing"), "{failures}");
    let (status, uploaded) = upload(&demo, &id, &referrer, radiograph()).await;
    assert_eq!(
        (status, uploaded["media_type"].as_str()),
        (201, Some("image/png")),
        "{uploaded}"
    );
    let attachment = uploaded["id"].as_str().unwrap().to_owned();

    // Another practice sees nothing: the same 404 as an id that does not exist.
    let (foreign, foreign_body) = demo
        .read(&format!("/api/v1/referrals/{id}"), &bystander)
        .await;
    let (missing, missing_body) = demo
        .read(
            &format!("/api/v1/referrals/{}", uuid::Uuid::now_v7()),
            &bystander,
        )
        .await;
    assert_eq!((foreign, missing), (404, 404));
    assert_eq!(foreign_body["detail"], missing_body["detail"]);
    let (status, _) = demo
        .read(
            &format!("/api/v1/referrals/{id}/attachments/{attachment}"),
            &bystander,
        )
        .await;
    assert_eq!(status, 404);

    let (status, inbox) = demo.read("/api/v1/referrals?box=inbox", &specialist).await;
    assert_eq!(status, 200);
    assert_eq!(inbox["needs_attention"], 1);
    assert!(
        inbox["referrals"][0].get("notes").is_none(),
        "lists carry no clinical notes"
    );
    let (status, detail) = demo
        .read(&format!("/api/v1/referrals/{id}"), &specialist)
        .await;
    assert_eq!(
        (status, detail["referral"]["status"].as_str()),
        (200, Some("received"))
    );
    assert_eq!(detail["cdt_codes"], json!(["D3330"]));
    let downloaded = demo
        .get(
            &format!("/api/v1/referrals/{id}/attachments/{attachment}"),
            &specialist,
        )
        .await;
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.headers()[header::CONTENT_TYPE], "image/png");
    assert_eq!(downloaded.bytes().await.unwrap().to_vec(), radiograph());

    for (step, body) in [
        ("accept", json!({})),
        ("schedule", json!({ "appointment": "2026-12-01T09:30" })),
        ("complete", json!({})),
        (
            "send_report",
            json!({ "note": "Completed RCT on #19; crown advised" }),
        ),
    ] {
        let (status, moved) = demo
            .post(
                &format!("/api/v1/referrals/{id}/steps/{step}"),
                &specialist,
                body,
            )
            .await;
        assert_eq!(status, 200, "{step}: {moved}");
    }
    let (status, problem) = demo
        .post(
            &format!("/api/v1/referrals/{id}/steps/accept"),
            &referrer,
            json!({}),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("illegal_step"))
    );
    let (status, closed) = demo
        .post(
            &format!("/api/v1/referrals/{id}/steps/close"),
            &referrer,
            json!({}),
        )
        .await;
    assert_eq!((status, closed["status"].as_str()), (200, Some("closed")));
    let (status, problem) = upload(&demo, &id, &referrer, radiograph()).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("rejected")));
    let (_, failures) = demo.read("/api/v1/audit/failures", &officer).await;
    assert_eq!(
        failures["entries"][0]["detail"]["reason"]["code"], "referral_closed",
        "{failures}"
    );

    // The patient's portal link: signed, behind the birth date, nothing clinical.
    let (status, _) = demo
        .post(
            &format!("/api/v1/referrals/{id}/portal-link"),
            &referrer,
            json!({}),
        )
        .await;
    assert_eq!(status, 202);
    let now = demo.clock_now();
    let outbox = demo.db.store.outbox();
    let queued = outbox
        .of_practice(demo.network.practices[0].practice.id, 100)
        .await
        .unwrap();
    let queued = queued
        .iter()
        .find(|m| m.kind == "patient_portal_link")
        .expect("the link was queued");
    let link = outbox
        .pending(queued.id)
        .await
        .unwrap()
        .expect("not sent yet");
    let body = &link.text.expose().body;
    let path = body[body.find("/p/").unwrap()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    // A forged tag first: refused, and the real link still opens afterwards.
    let mut forged = path.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    let refused = demo
        .client
        .get(format!("{}{forged}", demo.url))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 410);
    // A mail scanner's fetch shows nothing and uses nothing up.
    let scanned = demo
        .client
        .get(format!("{}{path}", demo.url))
        .send()
        .await
        .unwrap();
    assert_eq!(scanned.status(), 200);
    let scanned = scanned.text().await.unwrap();
    assert!(!scanned.contains("Marisol") && !scanned.contains("Lone Star"));
    // A wrong birth date is refused, saying how many tries are left.
    let (status, wrong) = demo.open_portal(&path, "1979-06-22").await;
    assert_eq!(status, 422);
    assert!(wrong.contains("4 tries left"), "{wrong}");
    let (status, html) = demo.open_portal(&path, "06/21/1979").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Lone Star Endodontics") && html.contains("Hi Marisol"));
    assert!(
        !html.contains("#19") && !html.contains("D3330"),
        "nothing clinical"
    );
    // Within its 24 hours the link opens again (a reload, another device).
    let (status, again) = demo.open_portal(&path, "1979-06-21").await;
    assert_eq!(status, 200, "{again}");

    the_baa_gate_decides_at_send_time(&demo, now + time::Duration::hours(3)).await;
}

/// The worker sends through a relay whose BAA is executed in the registry (the
/// demo's `smtp-relay`: the closed port makes it a retry) and refuses one without.
async fn the_baa_gate_decides_at_send_time(demo: &Demo, at: time::OffsetDateTime) {
    use enamel_agents::jobs::deliver::{Senders, deliver_due};
    use enamel_integrations::{SmtpMailer, SmtpSecurity, SmtpSettings};

    let referrer = demo.network.practices[0].practice.id;
    let senders = |vendor: &str| Senders {
        email: Some(
            SmtpMailer::new(&SmtpSettings {
                host: "127.0.0.1".into(),
                port: 1,
                security: SmtpSecurity::None,
                username: None,
                password: None,
                from: "notices@enamel.example.test".into(),
                vendor: enamel_domain::VendorName::parse(vendor).unwrap(),
            })
            .unwrap(),
        ),
        ..Senders::default()
    };
    let emails = |all: Vec<enamel_store::MessageStatus>| -> Vec<enamel_store::MessageStatus> {
        all.into_iter()
            .filter(|m| m.channel == enamel_store::Channel::Email)
            .collect()
    };
    // The demo's own worker has no channel, so it leaves these messages alone.
    demo.clock.set(at);
    deliver_due(&demo.db.store, &senders("smtp-relay"), &demo.url, "test")
        .await
        .unwrap();
    let tried = emails(
        demo.db
            .store
            .outbox()
            .of_practice(referrer, 100)
            .await
            .unwrap(),
    );
    assert!(!tried.is_empty());
    assert!(
        tried
            .iter()
            .all(|m| m.status == "pending" && m.attempts >= 1),
        "an executed BAA lets the send be tried (and retried): {tried:?}"
    );
    demo.clock.set(at + time::Duration::hours(2));
    deliver_due(
        &demo.db.store,
        &senders("unvetted-relay"),
        &demo.url,
        "test",
    )
    .await
    .unwrap();
    let refused = emails(
        demo.db
            .store
            .outbox()
            .of_practice(referrer, 100)
            .await
            .unwrap(),
    );
    assert!(
        refused
            .iter()
            .all(|m| m.status == "refused" && m.last_error.as_deref() == Some("no_executed_baa")),
        "no BAA, no send: {refused:?}"
    );
}

async fn the_directory_finds_offices_by_distance_nearest_first(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    // Bluebonnet is in downtown Austin.
    let referrer = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (status, near) = demo.read("/api/v1/directory?within_km=25", &referrer).await;
    assert_eq!(status, 200, "{near}");
    let found: Vec<(&str, f64)> = near["practices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["distance_km"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("Lone Star Endodontics", 4.7),
            ("Capitol Oral Surgery", 10.0),
            ("Bluebonnet Pediatric Dentistry", 10.3),
            ("Pecan Grove Orthodontics", 22.7)
        ]
    );
    let (_, endo_only) = demo
        .read(
            "/api/v1/directory?within_km=25&specialty=endodontics",
            &referrer,
        )
        .await;
    assert_eq!(endo_only["practices"].as_array().unwrap().len(), 1);
    let (status, problem) = demo.read("/api/v1/directory?within_km=-3", &referrer).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid_input"))
    );

    // The endodontist's admin unlists the office; it is no longer found.
    let (admin, _) = demo
        .admin_session(&demo.email(3, Role::PracticeAdmin))
        .await;
    let (status, _) = demo
        .api(
            reqwest::Method::PUT,
            "/api/v1/practice/listing",
            &admin,
            Some(json!({ "listed": false, "latitude": 30.3072, "longitude": -97.7406 })),
        )
        .await;
    assert_eq!(status, 204);
    let (_, after) = demo.read("/api/v1/directory?within_km=25", &referrer).await;
    assert_eq!(after["practices"].as_array().unwrap().len(), 3);
    // A front desk may not change the listing.
    let (status, _) = demo
        .api(
            reqwest::Method::PUT,
            "/api/v1/practice/listing",
            &referrer,
            Some(json!({ "listed": false })),
        )
        .await;
    assert_eq!(status, 403);

    // An office that clears its location in its settings cannot search by distance:
    // the refusal says why, and the API document lists it (a fuzzer found it
    // undocumented).
    let (status, saved) = demo
        .api(
            reqwest::Method::PUT,
            "/api/v1/practice/settings",
            &admin,
            Some(json!({ "notify_channel": "sms", "phone": "(512) 555-0140",
                          "address_line1": "2400 Lake Austin Blvd", "city": "Austin",
                          "state": "TX", "postal_code": "78703", "listed": true,
                          "time_zone": "America/Chicago", "distance_unit": "km" })),
        )
        .await;
    assert_eq!(status, 204, "{saved}");
    let (status, problem) = demo.read("/api/v1/directory?within_km=25", &admin).await;
    assert_eq!((status, problem["code"].as_str()), (422, Some("rejected")));
    assert!(
        problem["detail"].as_str().unwrap().contains("location"),
        "{problem}"
    );
    let (status, by_name) = demo.read("/api/v1/directory?name=lone", &admin).await;
    assert_eq!(status, 200, "a search by name still works: {by_name}");
    let (_, document) = demo.read("/api/v1/openapi.json", &admin).await;
    assert!(
        document["paths"]["/api/v1/directory"]["get"]["responses"]["422"].is_object(),
        "the refusal is documented"
    );
}

on_both_backends!(
    the_directory_finds_offices_by_distance_nearest_first,
    a_referral_goes_from_general_dentist_to_specialist_and_back,
);
