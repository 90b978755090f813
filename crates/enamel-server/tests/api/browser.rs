//! The staff UI in a real browser: headless Chromium, driven by playwright-core
//! (`tests/browser/refer.mjs`), signs in, sends a referral with a radiograph and
//! checks each page it visits with axe-core. Needs `ENAMEL_TEST_CHROMIUM` (the
//! browser's path) and `npm ci --prefix tests/browser`; `.ci/run` provides both.

use std::path::PathBuf;
use std::process::Command;

use enamel_demo::DEMO_PASSWORD;
use enamel_domain::Role;
use enamel_store::Backend;
use serde_json::{Value, json};

use crate::identity::{Demo, demo_on};

fn browser_tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

/// Runs one of `tests/browser`'s scripts against the demo as `email`; answers its
/// report, after checking it ran and axe-core found nothing on the pages it checked.
async fn run_script(
    demo: &Demo,
    script: &str,
    email: String,
    pages: usize,
    env: &[(&str, String)],
) -> Option<Value> {
    let chromium = enamel_testkit::setting("ENAMEL_TEST_CHROMIUM", "browser (Chromium)")?;
    let dir = browser_tests_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "run `npm ci --prefix tests/browser` first"
    );
    let url = demo.url.clone();
    let script = dir.join(script);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args([&url, &email])
            .env("CHROMIUM", chromium)
            .env("ENAMEL_PASSWORD", DEMO_PASSWORD)
            .envs(env)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}\n{stdout}");
    let report: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(
        report["checked"].as_array().map(Vec::len),
        Some(pages),
        "{report}"
    );
    assert_eq!(report["violations"], json!([]), "axe-core: {report}");
    Some(report)
}

/// A referral with a portal link queued to its patient; the link's full URL.
async fn portal_link(demo: &Demo) -> String {
    let desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (status, patient) = demo
        .post(
            "/api/v1/patients",
            &desk,
            json!({ "first_name": "Phoebe", "last_name": "Handsetter", "birth_date": "1993-09-12",
                    "email": "phoebe@example.test", "preferred_contact": "email" }),
        )
        .await;
    assert_eq!(status, 201, "{patient}");
    let referral = demo.refer(&desk, patient["id"].as_str().unwrap()).await;
    let path = demo.send_portal_link(&desk, &referral).await;
    format!("{}{path}", demo.url)
}

#[tokio::test]
async fn a_front_desk_sends_a_referral_with_a_radiograph_in_chromium() {
    let demo = demo_on(Backend::Sqlite, |_| {}).await.unwrap();
    enamel_demo::seed_office_schedule(&demo.db.store, &demo.network.practices[0])
        .await
        .unwrap();
    let email = demo.email(0, Role::FrontDesk);
    let env = [
        ("PORTAL_URL", portal_link(&demo).await),
        ("PORTAL_BIRTH_DATE", "1993-09-12".to_owned()),
    ];
    let Some(report) = run_script(&demo, "refer.mjs", email, 14, &env).await else {
        return;
    };
    // The referral the browser sent is stored, sent, with its attachment.
    let referral = report["referral"]
        .as_str()
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let cookie = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let detail: Value = demo
        .get(&format!("/api/v1/referrals/{referral}"), &cookie)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["referral"]["status"], "sent", "{detail}");
    assert_eq!(
        detail["attachments"][0]["media_type"], "image/png",
        "{detail}"
    );
    assert_eq!(detail["cdt_codes"], json!(["D3330", "D0220"]));
    // The second went with no file, and is sent all the same.
    let second: Value = demo
        .get(
            &format!("/api/v1/referrals/{}", report["second"].as_str().unwrap()),
            &cookie,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["referral"]["status"], "sent", "{second}");
    assert_eq!(second["attachments"], json!([]));
}

#[tokio::test]
async fn the_operator_onboards_a_practice_whose_admin_executes_the_agreement_in_chromium() {
    let mailbox = tempfile::tempdir().unwrap();
    let dir = mailbox.path().to_owned();
    let demo = demo_on(Backend::Sqlite, |settings| {
        settings.notifications.mailbox_dir = Some(dir);
        settings.notifications.poll_millis = Some(100);
    })
    .await
    .unwrap();
    let email = demo.network.operator.email().as_str().to_owned();
    let env = [("MAILBOX", mailbox.path().display().to_string())];
    run_script(&demo, "onboard.mjs", email, 13, &env).await;
}

#[tokio::test]
async fn a_security_officer_enrols_and_reviews_in_chromium_and_every_page_passes_axe() {
    let demo = demo_on(Backend::Sqlite, |_| {}).await.unwrap();
    // A patient referred out (a disclosure), and a dentist's break-glass (an alert).
    let desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let patient = demo.add_patient(&desk, "Browserwick").await;
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
    let (status, _) = demo
        .post(
            "/api/v1/break-glass",
            &dentist,
            json!({ "patient_id": patient, "reason": "emergency_treatment", "note": "After hours" }),
        )
        .await;
    assert_eq!(status, 201);
    let email = demo.email(0, Role::SecurityOfficer);
    let env = [("PATIENT_LAST_NAME", "Browserwick".to_owned())];
    run_script(&demo, "officer.mjs", email, 17, &env).await;
}

#[tokio::test]
async fn a_no_show_is_offered_and_booked_from_a_phone_in_chromium() {
    let mailbox = tempfile::tempdir().unwrap();
    let dir = mailbox.path().to_owned();
    let demo = demo_on(Backend::Sqlite, |settings| {
        settings.notifications.mailbox_dir = Some(dir);
        settings.notifications.poll_millis = Some(100);
    })
    .await
    .unwrap();
    let office = &demo.network.practices[0];
    enamel_demo::seed_office_schedule(&demo.db.store, office)
        .await
        .unwrap();
    // The demo's story: recovery on, one of the next days' visits a no-show.
    enamel_demo::seed_recovery(&demo.db.store, office)
        .await
        .unwrap();
    let mut links = Vec::new();
    for _ in 0..100 {
        links = std::fs::read_dir(mailbox.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter_map(|text| {
                text.split_whitespace()
                    .find(|w| w.contains("/o/"))
                    .map(str::to_owned)
            })
            .collect();
        if links.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(links.len() >= 2, "two offers in the mailbox: {links:?}");
    let env = [
        ("OFFER_URL", links[0].clone()),
        ("OFFER_URL_2", links[1].clone()),
    ];
    let email = demo.email(0, Role::FrontDesk);
    run_script(&demo, "recovery.mjs", email, 6, &env).await;
}
