//! The schedule through the API and the pages: the day with its open time, a
//! no-show in one step, the waitlist, recalls, a patient's schedule; who may.

use enamel_domain::Role;
use enamel_store::Backend;
use serde_json::{Value, json};

use crate::identity::demo_on;

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn the_front_desk_works_the_schedule(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    enamel_demo::seed_office_schedule(&demo.db.store, &demo.network.practices[0])
        .await
        .unwrap();
    let desk = demo.session(&demo.email(0, Role::FrontDesk)).await;

    // Tomorrow's day (a weekday or not, the demo books weekdays): find a weekday ahead.
    let mut day = None;
    for ahead in 1..=4 {
        let date = (demo.clock_now() + time::Duration::days(ahead)).date();
        let (status, body) = demo
            .read(&format!("/api/v1/schedule?day={date}"), &desk)
            .await;
        assert_eq!(status, 200, "{body}");
        if body["providers"][0]["visits"]
            .as_array()
            .is_some_and(|v| !v.is_empty())
        {
            day = Some((date, body));
            break;
        }
    }
    let (date, body) = day.expect("a booked weekday within four days");
    assert_eq!(
        body["providers"].as_array().unwrap().len(),
        2,
        "dentist and hygienist"
    );
    let dentist = &body["providers"][0];
    let open_before: i64 = dentist["open"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["minutes"].as_i64().unwrap())
        .sum();
    let booked = dentist["visits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["status"] == "scheduled" || v["status"] == "confirmed")
        .expect("a booked visit")
        .clone();
    assert!(booked["patient_name"].is_string());

    // One step marks it a no-show; its time opens.
    let id = booked["id"].as_str().unwrap();
    let (status, _) = demo
        .post(
            &format!("/api/v1/appointments/{id}/status"),
            &desk,
            json!({ "status": "no-show" }),
        )
        .await;
    assert_eq!(status, 204);
    let (_, after) = demo
        .read(&format!("/api/v1/schedule?day={date}"), &desk)
        .await;
    let open_after: i64 = after["providers"][0]["open"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["minutes"].as_i64().unwrap())
        .sum();
    assert_eq!(
        open_after,
        open_before + booked["duration_minutes"].as_i64().unwrap()
    );
    let (status, problem) = demo
        .post(
            &format!("/api/v1/appointments/{id}/status"),
            &desk,
            json!({ "status": "maybe" }),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid_input"))
    );

    // The page shows the day, with its open time and the buttons.
    let (status, page) = demo.page(&format!("/schedule?day={date}"), &desk).await;
    assert_eq!(status, 200);
    assert!(page.contains("Open:"), "{page}");
    assert!(
        page.contains("No-show</td>") || page.contains(">No-show<"),
        "{page}"
    );

    // The waitlist: most urgent first; a bad form is named; removing works.
    let (_, list) = demo.read("/api/v1/waitlist", &desk).await;
    let entries = list["entries"].as_array().unwrap();
    assert_eq!(entries.len(), enamel_demo::DEMO_WAITLIST);
    let priorities: Vec<i64> = entries
        .iter()
        .map(|e| e["priority"].as_i64().unwrap())
        .collect();
    assert!(
        priorities.windows(2).all(|w| w[0] <= w[1]),
        "{priorities:?}"
    );
    let patient = demo.add_patient(&desk, "Waitwell").await;
    let form = json!({ "patient_id": patient, "duration_minutes": "30", "priority": "1",
                       "days": "tue,thu", "times": "morning" });
    let (status, created) = demo.post("/api/v1/waitlist", &desk, form.clone()).await;
    assert_eq!(status, 201, "{created}");
    let (_, list) = demo.read("/api/v1/waitlist", &desk).await;
    let entries = list["entries"].as_array().unwrap();
    let at = entries
        .iter()
        .position(|e| e["id"] == created["id"])
        .unwrap();
    // Priority 1, after those of priority 1 who joined earlier, before everyone else.
    assert!(entries[..at].iter().all(|e| e["priority"] == 1));
    let joined = entries[at]["joined_at"].as_str().unwrap();
    assert!(
        entries[at + 1..]
            .iter()
            .all(|e| e["priority"] != 1 || e["joined_at"].as_str().unwrap() >= joined)
    );
    assert_eq!(entries[at]["patient_name"], "Testa Waitwell");
    assert_eq!(entries[at]["availability"], "Tue, Thu · morning");
    let mut bad = form.clone();
    bad["priority"] = json!("0");
    let (status, _) = demo.post("/api/v1/waitlist", &desk, bad).await;
    assert_eq!(status, 400);
    let mut bad = form.clone();
    bad["earliest"] = json!("2026-12-10");
    bad["latest"] = json!("2026-12-01");
    let (status, _) = demo.post("/api/v1/waitlist", &desk, bad).await;
    assert_eq!(status, 400);
    // Another practice's (or no) provider is refused, not a database error.
    let mut foreign = form.clone();
    foreign["provider_id"] = json!(demo.network.practices[1].practice.id.to_string());
    let (status, problem) = demo.post("/api/v1/waitlist", &desk, foreign).await;
    assert_eq!(
        (status, problem["detail"].as_str()),
        (422, Some("no such provider")),
        "{problem}"
    );
    // The same patient twice is refused: their entry is changed instead.
    let (status, problem) = demo.post("/api/v1/waitlist", &desk, form.clone()).await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("already on the waitlist")
    );
    // Without minutes, a chosen visit type gives its usual length.
    let (_, types_page) = demo.page(&format!("/patients/{patient}"), &desk).await;
    assert!(types_page.contains("leave empty for the visit"));
    let entry = created["id"].as_str().unwrap();
    // The page changes one entry's priority, and nothing else of it.
    let saved = demo
        .form(
            &format!("/schedule/waitlist/{entry}/priority"),
            Some(&desk),
            &[("priority", "9")],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let (_, list) = demo.read("/api/v1/waitlist", &desk).await;
    let changed = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == entry)
        .unwrap();
    assert_eq!(changed["priority"], 9);
    assert_eq!(changed["availability"], "Tue, Thu · morning");
    let response = demo
        .send_json(
            reqwest::Method::DELETE,
            &format!("/api/v1/waitlist/{entry}"),
            &desk,
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), 204);

    // Recalls due, and a patient's schedule with coverage.
    let (status, recalls) = demo.read("/api/v1/recalls?within=30", &desk).await;
    assert_eq!(status, 200);
    let recalls = recalls["recalls"].as_array().unwrap();
    assert!(!recalls.is_empty(), "the demo has overdue recalls");
    let someone = recalls[0]["patient_id"].as_str().unwrap();
    let (status, schedule) = demo
        .read(&format!("/api/v1/patients/{someone}/schedule"), &desk)
        .await;
    assert_eq!(status, 200, "{schedule}");
    assert!(!schedule["recalls"].as_array().unwrap().is_empty());
    for path in [
        "/schedule/waitlist",
        "/schedule/recalls",
        &format!("/patients/{someone}"),
    ] {
        let (status, page) = demo.page(path, &desk).await;
        assert_eq!(status, 200, "{path}");
        assert!(!page.contains("{{"), "{path}");
    }
    let (_, patient_page) = demo.page(&format!("/patients/{someone}"), &desk).await;
    assert!(patient_page.contains("Add to the waitlist"));
    // A mistake on the page's form comes back to the patient's page with the reason.
    let mistake = demo
        .form(
            "/schedule/waitlist",
            Some(&desk),
            &[
                ("patient_id", someone),
                ("duration_minutes", "30"),
                ("priority", "5"),
                ("earliest", "2026-12-10"),
                ("latest", "2026-12-01"),
            ],
        )
        .await;
    assert_eq!(mistake.status(), 303);
    let to = mistake.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        to.starts_with(&format!("/patients/{someone}?waitlist=")),
        "{to}"
    );
    let (status, page) = demo.page(&to, &desk).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Not added to the waitlist: latest date is before the earliest"),
        "{page}"
    );

    // Billing and the practice administrator do not work the schedule.
    let billing = demo.session(&demo.email(0, Role::Billing)).await;
    let (admin, _) = demo
        .admin_session(&demo.email(0, Role::PracticeAdmin))
        .await;
    for cookie in [billing, admin] {
        let (status, _): (u16, Value) = demo.read("/api/v1/schedule", &cookie).await;
        assert_eq!(status, 403);
    }
}

/// A multipart body with the import form's fields, built by hand (no client
/// feature needed for one test).
fn import_form(kind: &str, dry_run: bool, csv: &str) -> (String, Vec<u8>) {
    let boundary = "enamel-test-boundary";
    let dry = if dry_run {
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"dry_run\"\r\n\r\non\r\n")
    } else {
        String::new()
    };
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n{dry}\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

async fn the_administrator_imports_a_file_on_the_page(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let (admin, _) = demo
        .admin_session(&demo.email(1, Role::PracticeAdmin))
        .await;
    let (status, page) = demo.page("/practice/import", &admin).await;
    assert_eq!(status, 200);
    assert!(page.contains("Import the schedule"));
    let csv = "OperatoryNum,OpName\n1,Op 1\n2,\n3,Hygiene 2\n";
    for (dry_run, expected) in [
        (
            true,
            "3 rows: 2 would be imported (added, or updated where the record is already here), 1 rejected. Nothing was written.",
        ),
        (false, "3 rows: 2 added, 0 updated, 1 rejected."),
        (false, "3 rows: 0 added, 2 updated, 1 rejected."),
    ] {
        let (content_type, body) = import_form("operatories", dry_run, csv);
        let response = demo
            .client
            .post(format!("{}/practice/import", demo.url))
            .header(reqwest::header::COOKIE, &admin)
            .header(reqwest::header::ORIGIN, demo.origin())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let page = response.text().await.unwrap();
        assert!(page.contains(expected), "{expected}: {page}");
        assert!(
            page.contains("<td>3</td><td>OpName: is empty</td>"),
            "{page}"
        );
    }
    // The front desk may not import.
    let desk = demo.session(&demo.email(1, Role::FrontDesk)).await;
    let (status, _) = demo.page("/practice/import", &desk).await;
    assert_eq!(status, 403);
}

on_both_backends!(
    the_front_desk_works_the_schedule,
    the_administrator_imports_a_file_on_the_page
);
