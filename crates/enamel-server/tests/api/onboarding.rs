//! Onboarding from nothing: the platform operator creates a practice on the
//! operator's pages, its administrator gets the invitation by email (the demo's
//! mailbox), accepts it, sets up a second factor, can add no patient until the
//! agreement is executed, executes it, and invites a front desk. The operator sees
//! each step on the practice's page and in the API, and nobody else may onboard.

use enamel_domain::Role;
use enamel_store::Backend;
use serde_json::json;

use crate::identity::{Demo, demo_on};

const ADMIN: &str = "ada.onboard@example.test";

fn practice_form<'a>(npi: &'a str, email: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("name", "Harbor Light Dental"),
        ("npi", npi),
        ("specialty", "general"),
        ("phone", "(206) 555-0117"),
        ("fax", ""),
        ("address_line1", "1200 Western Ave"),
        ("address_line2", ""),
        ("city", "Seattle"),
        ("state", "WA"),
        ("postal_code", "98101"),
        ("time_zone", "America/Los_Angeles"),
        ("admin_name", "Ada Onboard"),
        ("admin_email", email),
    ]
}

async fn create_on_the_page(demo: &Demo, operator: &str) -> String {
    // A mistake keeps the form, with the message beside the field.
    let refused = demo
        .form(
            "/operator/practices",
            Some(operator),
            &practice_form("1234567890", ADMIN),
        )
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"p-npi-error\""), "{page}");
    assert!(page.contains("value=\"Harbor Light Dental\""));
    assert!(page.contains("<option value=\"America/Los_Angeles\" selected>"));

    let created = demo
        .form(
            "/operator/practices",
            Some(operator),
            &practice_form("1234567893", ADMIN),
        )
        .await;
    assert_eq!(created.status(), 303);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with("?flash=created"), "{location}");
    let (status, page) = demo.page(&location, operator).await;
    assert_eq!(status, 200);
    assert!(page.contains("invitation is on its way"));
    assert!(page.contains("Not executed"));
    assert!(page.contains(&format!("{ADMIN}: invited")));
    location
        .trim_start_matches("/operator/practices/")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn an_operator_onboards_a_practice_whose_admin_executes_the_agreement(backend: Backend) {
    let mailbox = tempfile::tempdir().unwrap();
    let dir = mailbox.path().to_owned();
    let Some(demo) = demo_on(backend, |settings| {
        settings.notifications.mailbox_dir = Some(dir);
        settings.notifications.poll_millis = Some(100);
    })
    .await
    else {
        return;
    };
    let (operator, _) = demo
        .admin_session(demo.network.operator.email().as_str())
        .await;
    let id = create_on_the_page(&demo, &operator).await;

    // No one but the operator onboards or lists practices.
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (status, _) = demo
        .post(
            "/api/v1/operator/practices",
            &front_desk,
            json!({ "name": "Sneaky Dental" }),
        )
        .await;
    assert!(status == 403 || status == 422, "{status}");
    let (status, _) = demo.read("/api/v1/operator/practices", &front_desk).await;
    assert_eq!(status, 403);

    // The invitation arrives by email, with a working link and nothing else.
    let message =
        enamel_testkit::demo::mailbox_message(mailbox.path(), &format!("To: {ADMIN}")).await;
    assert!(message.contains("Harbor Light Dental"), "{message}");
    let link = message
        .split_whitespace()
        .find(|w| w.contains("/invitations/"))
        .unwrap()
        .to_owned();
    assert!(link.starts_with(&demo.url), "{link}");
    let token = link.rsplit('/').next().unwrap().to_owned();
    let page = demo.client.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let password = "harbor light keeper 77";
    let accepted = demo
        .form(
            "/invitations/accept",
            None,
            &[("token", &token), ("password", password)],
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let (admin, _) = demo.enrolled_session(ADMIN, password).await;

    // The admin invites a front desk, as any practice does.
    let (status, invited) = demo
        .post(
            "/api/v1/invitations",
            &admin,
            json!({ "display_name": "Finn Desk", "email": "finn.desk@example.test", "role": "front_desk" }),
        )
        .await;
    assert_eq!(status, 201, "{invited}");
    let desk_token = invited["invitation_path"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let desk_password = "finn front desk 2026";
    let accepted = demo
        .form(
            "/invitations/accept",
            None,
            &[("token", &desk_token), ("password", desk_password)],
        )
        .await;
    assert_eq!(accepted.status(), 200);
    let (desk, _) = demo.sign_in("finn.desk@example.test", desk_password).await;
    let desk = desk.unwrap();

    // Until the agreement is executed the practice holds no patient.
    let patient =
        json!({ "first_name": "Nell", "last_name": "Harborview", "birth_date": "1988-07-01" });
    let (status, problem) = demo.post("/api/v1/patients", &desk, patient.clone()).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "baa_not_executed");
    let sha = enamel_store::agreement_sha256();
    let (status, executed) = demo
        .post(
            "/api/v1/practice/agreement",
            &admin,
            json!({ "signer_name": "Ada Onboard", "signer_title": "Practice owner",
                    "sha256": sha, "authorized": true }),
        )
        .await;
    assert_eq!(status, 201, "{executed}");
    let (status, created) = demo.post("/api/v1/patients", &desk, patient).await;
    assert_eq!(status, 201, "{created}");

    // The operator sees the agreement (and its executed copy) and the active admin.
    let (status, shown) = demo
        .read(&format!("/api/v1/operator/practices/{id}"), &operator)
        .await;
    assert_eq!(status, 200);
    assert_eq!(shown["admin"]["status"], "active", "{shown}");
    assert_eq!(shown["agreement"]["signer_name"], "Ada Onboard");
    assert_eq!(shown["agreement"]["sha256"], sha);
    let pdf = demo
        .get(
            &format!("/operator/practices/{id}/agreement.pdf"),
            &operator,
        )
        .await;
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let (_, list) = demo.read("/api/v1/operator/practices", &operator).await;
    assert!(
        list["practices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == id.as_str() && p["staff"] == 2),
        "{list}"
    );
    // With an active admin, the operator invites no one else into the practice.
    let (status, _) = demo
        .post(
            &format!("/api/v1/operator/practices/{id}/admin-invitation"),
            &operator,
            json!({ "name": "Other Admin", "email": "other.admin@example.test" }),
        )
        .await;
    assert_eq!(status, 409);
    // Nothing the operator sees names a patient.
    let (_, page) = demo.page("/operator/practices", &operator).await;
    assert!(!page.contains("Harborview"));
}

async fn an_expired_admin_invitation_is_replaced_by_a_new_one(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let operator_email = demo.network.operator.email().as_str();
    let (operator, secret) = demo.admin_session(operator_email).await;
    let mut body = serde_json::Map::new();
    for (key, value) in practice_form("1234567893", ADMIN) {
        body.insert(key.to_owned(), json!(value));
    }
    let (status, created) = demo
        .post("/api/v1/operator/practices", &operator, body.into())
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["admin"]["status"], "invited");
    let id = created["id"].as_str().unwrap().to_owned();
    // The same NPI again is a conflict.
    let mut again = serde_json::Map::new();
    for (key, value) in practice_form("1234567893", "someone.else@example.test") {
        again.insert(key.to_owned(), json!(value));
    }
    let (status, _) = demo
        .post("/api/v1/operator/practices", &operator, again.into())
        .await;
    assert_eq!(status, 409);

    demo.clock.advance(time::Duration::hours(73));
    let operator = demo.second_factor_session(operator_email, &secret).await;
    let (_, shown) = demo
        .read(&format!("/api/v1/operator/practices/{id}"), &operator)
        .await;
    assert_eq!(shown["admin"]["status"], "expired", "{shown}");
    let (status, _) = demo
        .post(
            &format!("/api/v1/operator/practices/{id}/admin-invitation"),
            &operator,
            json!({ "name": "Ada Onboard", "email": ADMIN }),
        )
        .await;
    assert_eq!(status, 204);
    let (_, shown) = demo
        .read(&format!("/api/v1/operator/practices/{id}"), &operator)
        .await;
    assert_eq!(shown["admin"]["status"], "invited", "{shown}");
}

async fn a_terminated_agreement_lets_no_more_phi_in(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let (operator, _) = demo
        .admin_session(demo.network.operator.email().as_str())
        .await;
    let practice = demo.network.practices[1].practice.id;
    let path = format!("/operator/practices/{practice}/termination");
    // The name typed back must be the practice's.
    let wrong = demo
        .form(
            &path,
            Some(&operator),
            &[("confirm_name", "Some Other Dental")],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong.text().await.unwrap().contains("exact name"));
    let name = demo.network.practices[1].practice.name.as_str().to_owned();
    let terminated = demo
        .form(&path, Some(&operator), &[("confirm_name", &name)])
        .await;
    assert_eq!(terminated.status(), 303);
    let (_, page) = demo
        .page(
            &format!("/operator/practices/{practice}?flash=terminated"),
            &operator,
        )
        .await;
    assert!(page.contains("The agreement is terminated"), "{page}");
    assert!(page.contains("enamel keys shred --practice"));
    let (_, shown) = demo
        .read(&format!("/api/v1/operator/practices/{practice}"), &operator)
        .await;
    assert!(shown["agreement"].is_null(), "{shown}");
    assert!(shown["terminated_at"].is_string(), "{shown}");
    // Its staff can add no patient now; twice is a conflict.
    let desk = demo.session(&demo.email(1, Role::FrontDesk)).await;
    let (status, problem) = demo
        .post(
            "/api/v1/patients",
            &desk,
            json!({ "first_name": "Late", "last_name": "Arrival", "birth_date": "1980-01-01" }),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (422, Some("baa_not_executed"))
    );
    let (status, _) = demo
        .post(
            &format!("/api/v1/operator/practices/{practice}/termination"),
            &operator,
            json!({ "confirm_name": name }),
        )
        .await;
    assert_eq!(status, 409);
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn a_terminated_practice_is_handed_over_whole_and_audited(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let objects =
        enamel_integrations::ObjectStore::file_system(demo.data_dir().join("attachments"));
    let practice = demo.network.practices[0].practice.id;
    enamel_demo::seed_office_schedule(&demo.db.store, &demo.network.practices[0])
        .await
        .unwrap();
    let desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let specialist = demo.session(&demo.email(3, Role::FrontDesk)).await;
    let patient = demo.add_patient(&desk, "Quillfeather").await;
    let referral = demo.refer(&desk, &patient).await;
    let film = enamel_demo::films::png(&enamel_demo::films::periapical(7));
    let uploaded = demo
        .client
        .post(format!(
            "{}/api/v1/referrals/{referral}/attachments",
            demo.url
        ))
        .header(reqwest::header::COOKIE, &desk)
        .header(reqwest::header::ORIGIN, demo.origin())
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .header("x-file-name", "periapical-19.png")
        .body(film.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    let (status, _) = demo
        .post(
            &format!("/api/v1/referrals/{referral}/messages"),
            &specialist,
            json!({ "body": "We can see her Tuesday morning." }),
        )
        .await;
    assert_eq!(status, 201);

    // While the agreement is in force there is nothing to hand over.
    let out = demo.data_dir().join("handover");
    let refused = enamel_server::handover::export(&demo.db.store, &objects, practice, &out)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("in force"), "{refused:#}");
    assert!(!out.exists(), "nothing is written when refused");

    let (operator, _) = demo
        .admin_session(demo.network.operator.email().as_str())
        .await;
    let name = demo.network.practices[0].practice.name.as_str().to_owned();
    let (status, _) = demo
        .post(
            &format!("/api/v1/operator/practices/{practice}/termination"),
            &operator,
            json!({ "confirm_name": name }),
        )
        .await;
    assert_eq!(status, 200);

    let done = enamel_server::handover::export(&demo.db.store, &objects, practice, &out)
        .await
        .unwrap();
    assert_eq!(
        (done.referrals, done.attachments, done.unreadable),
        (1, 1, 0)
    );
    assert!(done.patients > 1, "the demo's patients and the new one");
    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("records.json")).unwrap()).unwrap();
    assert_eq!(records["format"], "enamel-handover/1");
    assert_eq!(records["practice"]["id"], practice.to_string());
    let ours = records["patients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == patient.as_str())
        .expect("the new patient is handed over");
    assert_eq!(ours["last_name"], "Quillfeather");
    assert_eq!(ours["contact"]["email"], "quillfeather@example.test");
    let handed = &records["referrals"][0];
    assert_eq!(handed["id"], referral.as_str());
    assert_eq!(handed["side"], "referrer");
    assert_eq!(handed["clinical"]["reason"], "Evaluate");
    let message = handed["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "message")
        .expect("the specialist's message");
    assert_eq!(message["note"], "We can see her Tuesday morning.");
    assert_eq!(message["side"], "receiver");
    let attachment = &handed["attachments"][0];
    assert_eq!(attachment["file_name"], "periapical-19.png");
    assert_eq!(attachment["media_type"], "image/png");
    // The schedule goes with it: appointments, waitlist, recalls, coverage.
    let schedule = &records["schedule"];
    for part in ["appointments", "waitlist", "recalls", "coverage"] {
        assert!(
            !schedule[part].as_array().unwrap().is_empty(),
            "{part}: {schedule}"
        );
    }
    assert!(
        schedule["coverage"][0]["member_id"]
            .as_str()
            .unwrap()
            .starts_with("DEMO")
    );
    let copy = std::fs::read(out.join(attachment["file"].as_str().unwrap())).unwrap();
    assert_eq!(copy, film, "the attachment is decrypted byte for byte");
    assert_eq!(
        attachment["sha256"].as_str().unwrap(),
        enamel_crypto::checksum::sha256_hex(&film[..]).unwrap()
    );
    // Only the owner may read the export.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    // A second export never overwrites the first.
    let again = enamel_server::handover::export(&demo.db.store, &objects, practice, &out)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again:#}");

    // The practice's security officer finds each record in the log as exported.
    let (officer, _) = demo
        .admin_session(&demo.email(0, Role::SecurityOfficer))
        .await;
    let (status, entries) = demo
        .read(
            &format!("/api/v1/audit/entries?patient={patient}&action=export"),
            &officer,
        )
        .await;
    assert_eq!(status, 200, "{entries}");
    let kinds: Vec<&str> = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource_type"].as_str().unwrap())
        .collect();
    for kind in ["patient", "referral", "attachment"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
}

on_both_backends!(
    an_operator_onboards_a_practice_whose_admin_executes_the_agreement,
    an_expired_admin_invitation_is_replaced_by_a_new_one,
    a_terminated_agreement_lets_no_more_phi_in,
    a_terminated_practice_is_handed_over_whole_and_audited
);
