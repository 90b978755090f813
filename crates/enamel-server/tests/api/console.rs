//! The security officer's console, as pages: the audit log with people's and
//! patients' names and its filters, the day's failures, the patient picker and the
//! accounting of disclosures with recipients named (page, CSV, PDF), and alerts
//! acknowledged and closed with a note. Nobody else sees it.

use enamel_domain::Role;
use enamel_store::Backend;
use serde_json::json;

use crate::identity::demo_on;

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn the_security_officer_reads_the_log_an_accounting_and_closes_an_alert(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    // A referral discloses a patient to the endodontist; a dentist breaks the glass
    // on a restricted patient.
    let desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (status, patient) = demo
        .post(
            "/api/v1/patients",
            &desk,
            json!({ "first_name": "Wilhelmina", "last_name": "Auditorne", "birth_date": "1972-08-30",
                    "email": "wilhelmina@example.test", "preferred_contact": "email" }),
        )
        .await;
    assert_eq!(status, 201, "{patient}");
    let patient = patient["id"].as_str().unwrap().to_owned();
    demo.refer(&desk, &patient).await;
    let dentist = demo.session(&demo.email(0, Role::Dentist)).await;
    let restricted = demo
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/patients/{patient}/restriction"),
            &dentist,
            &json!({ "restricted": true }),
        )
        .await;
    assert_eq!(restricted.status(), 200);
    let (status, grant) = demo
        .post(
            "/api/v1/break-glass",
            &dentist,
            json!({ "patient_id": patient, "reason": "emergency_treatment",
                    "note": "Swelling after hours" }),
        )
        .await;
    assert_eq!(status, 201, "{grant}");

    // Nobody but the security officer sees the console; they get a page, not JSON.
    let (status, page) = demo.page("/security/audit", &desk).await;
    assert_eq!(status, 403);
    assert!(page.contains("<html"), "{page}");

    let (officer, _) = demo
        .admin_session(&demo.email(0, Role::SecurityOfficer))
        .await;
    let desk_name = demo.network.practices[0]
        .users
        .iter()
        .find(|u| u.role() == Role::FrontDesk)
        .unwrap()
        .display_name()
        .as_str()
        .to_owned();
    let (status, log) = demo.page("/security/audit", &officer).await;
    assert_eq!(status, 200);
    assert!(log.contains(&desk_name), "people by name");
    assert!(log.contains("Wilhelmina Auditorne"), "patients by name");
    // Filtered to the patient and to break-glass.
    let (status, one) = demo
        .page(
            &format!("/security/audit?patient={patient}&action=break_glass"),
            &officer,
        )
        .await;
    assert_eq!(status, 200);
    assert!(one.contains("Patient: <strong>Wilhelmina Auditorne</strong>"));
    assert_eq!(one.matches("<td>break glass</td>").count(), 1, "{one}");
    // A filter that does not parse is named, on a page.
    let (status, bad) = demo.page("/security/audit?from=yesterday", &officer).await;
    assert_eq!(status, 400);
    assert!(
        bad.contains("The start date must be a date as YYYY-MM-DD."),
        "{bad}"
    );
    let (status, _) = demo.page("/security/failures", &officer).await;
    assert_eq!(status, 200);

    // The picker (a POST: no name in a URL) leads to the accounting of disclosures.
    let picked = demo
        .form(
            "/security/patients",
            Some(&officer),
            &[("last_name", "Auditorne"), ("birth_date", "1972-08-30")],
        )
        .await;
    assert_eq!(picked.status(), 200);
    let picked = picked.text().await.unwrap();
    assert!(picked.contains(&format!("/security/patients/{patient}/disclosures")));
    let (status, accounting) = demo
        .page(
            &format!("/security/patients/{patient}/disclosures"),
            &officer,
        )
        .await;
    assert_eq!(status, 200);
    assert!(accounting.contains("Lone Star Endodontics"), "{accounting}");
    let csv = demo
        .get(
            &format!("/security/patients/{patient}/disclosures.csv"),
            &officer,
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("when,recipient,purpose,what\n"), "{csv}");
    assert!(csv.contains("\"Lone Star Endodontics\""), "{csv}");
    let pdf = demo
        .get(
            &format!("/security/patients/{patient}/disclosures.pdf"),
            &officer,
        )
        .await
        .bytes()
        .await
        .unwrap();
    assert!(pdf.starts_with(b"%PDF-"));

    // The alert names the dentist, the patient and the reason; acknowledged, then closed.
    let (_, alerts) = demo.page("/security/alerts", &officer).await;
    assert!(
        alerts.contains("Emergency access (break-glass)"),
        "{alerts}"
    );
    assert!(alerts.contains("Wilhelmina Auditorne"));
    assert!(
        alerts.contains("emergency treatment: “Swelling after hours”"),
        "{alerts}"
    );
    let id = alerts
        .split("action=\"/security/alerts/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let acknowledged = demo
        .form(
            &format!("/security/alerts/{id}"),
            Some(&officer),
            &[
                ("resolution", "acknowledge"),
                ("note", "Called the dentist"),
            ],
        )
        .await;
    assert_eq!(acknowledged.status(), 303);
    let (_, alerts) = demo.page("/security/alerts", &officer).await;
    assert!(alerts.contains("Acknowledged"), "{alerts}");
    assert!(alerts.contains("Called the dentist"));
    let closed = demo
        .form(
            &format!("/security/alerts/{id}"),
            Some(&officer),
            &[("resolution", "close"), ("note", "Emergency confirmed")],
        )
        .await;
    assert_eq!(closed.status(), 303);
    let (_, open) = demo.page("/security/alerts", &officer).await;
    assert!(!open.contains(&id), "closed alerts leave the open list");
    let (_, every) = demo.page("/security/alerts?all=1", &officer).await;
    assert!(every.contains("Closed"), "{every}");
    assert!(every.contains("Emergency confirmed"));
    let again = demo
        .form(
            &format!("/security/alerts/{id}"),
            Some(&officer),
            &[("resolution", "close"), ("note", "")],
        )
        .await;
    assert_eq!(again.status(), 422, "closed once");

    // Reading names is itself in the log; the API's accounting needs its patient.
    let (status, entries) = demo
        .read("/api/v1/audit/entries?action=read&limit=500", &officer)
        .await;
    assert_eq!(status, 200);
    assert!(
        entries["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["resource_type"] == "patient" && e["detail"]["fields"]["code"] == "name"),
        "{entries}"
    );
    let (status, problem) = demo.read("/api/v1/audit/disclosures", &officer).await;
    assert_eq!(status, 400, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("patient"),
        "{problem}"
    );
}

on_both_backends!(the_security_officer_reads_the_log_an_accounting_and_closes_an_alert);
