//! Day one for a practice: until its administrator executes Enamel's business
//! associate agreement, no patient information can enter it, in the API or the
//! pages, and the answer says what to do; executing it records the executed copy.

use enamel_demo::DEMO_PASSWORD;
use enamel_domain::{DisplayName, Email, NewUser, Role, UserStatus};
use enamel_store::Backend;
use serde_json::json;

use crate::identity::{Demo, demo_on};

async fn add_patient(demo: &Demo, cookie: &str) -> (u16, serde_json::Value) {
    demo.post(
        "/api/v1/patients",
        cookie,
        json!({ "first_name": "Ines", "last_name": "Firstcase", "birth_date": "1990-04-02" }),
    )
    .await
}

async fn refer(
    demo: &Demo,
    cookie: &str,
    patient: &str,
    to: enamel_domain::PracticeId,
) -> (u16, serde_json::Value) {
    demo.post(
        "/api/v1/referrals",
        cookie,
        json!({ "patient_id": patient, "receiving_practice_id": to.to_string(),
                "urgency": "routine", "reason": "Evaluate" }),
    )
    .await
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn a_new_practice_takes_patients_only_after_its_admin_executes_the_agreement(
    backend: Backend,
) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    // A practice on its first day: an administrator and a front desk, no agreement.
    let store = &demo.db.store;
    let mut new = demo.network.practices[0].practice.clone();
    new.id = enamel_domain::PracticeId::generate();
    new.name = enamel_domain::PracticeName::parse("Firstday Family Dental").unwrap();
    new.npi = enamel_domain::Npi::from_base(198_765_432).unwrap();
    store.practices().insert(&new).await.unwrap();
    let hash = enamel_crypto::password::Passwords::new().hash(DEMO_PASSWORD);
    for (email, role) in [
        ("admin@firstday.example.test", Role::PracticeAdmin),
        ("desk@firstday.example.test", Role::FrontDesk),
    ] {
        let user = NewUser::new(
            Some(new.id),
            Email::parse(email).unwrap(),
            DisplayName::parse("Firstday Staff").unwrap(),
            role,
            UserStatus::Active,
        )
        .unwrap();
        store.users().insert(&user).await.unwrap();
        store
            .identity()
            .set_password(user.id(), &hash)
            .await
            .unwrap();
    }
    let desk = demo.session("desk@firstday.example.test").await;

    // The API refuses a patient with a problem that names the rule and the fix.
    let (status, problem) = add_patient(&demo, &desk).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "baa_not_executed");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("/practice/agreement"),
        "{problem}"
    );
    // The page answers with a page that says the same, never JSON.
    let page = demo
        .form(
            "/patients",
            Some(&desk),
            &[
                ("first_name", "Ines"),
                ("last_name", "Firstcase"),
                ("birth_date", "1990-04-02"),
            ],
        )
        .await;
    assert_eq!(page.status(), 422);
    let text = page.text().await.unwrap();
    assert!(text.contains("business associate agreement"), "{text}");
    assert!(!text.trim_start().starts_with('{'));
    // Nor can another office send it a referral.
    let referrer = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let patient = demo.add_patient(&referrer, "Crossover").await;
    let (status, problem) = refer(&demo, &referrer, &patient, new.id).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "baa_not_executed");

    // The administrator reads it and executes it.
    let (admin, _) = demo.admin_session("admin@firstday.example.test").await;
    let (status, agreement) = demo.page("/practice/agreement", &admin).await;
    assert_eq!(status, 200);
    assert!(agreement.contains("has not executed this agreement yet"));
    assert!(agreement.contains("# Business Associate Agreement"));
    let sha = enamel_store::agreement_sha256();
    assert!(agreement.contains(&sha));
    // Without the authority box it is not executed, and what was typed stays.
    let unconfirmed = demo
        .form(
            "/practice/agreement",
            Some(&admin),
            &[
                ("signer_name", "Ada Firstday"),
                ("signer_title", "Owner"),
                ("sha256", &sha),
            ],
        )
        .await;
    assert_eq!(unconfirmed.status(), 422);
    assert!(
        unconfirmed
            .text()
            .await
            .unwrap()
            .contains("value=\"Ada Firstday\"")
    );
    let executed = demo
        .form(
            "/practice/agreement",
            Some(&admin),
            &[
                ("signer_name", "Ada Firstday"),
                ("signer_title", "Owner"),
                ("sha256", &sha),
                ("authorized", "yes"),
            ],
        )
        .await;
    assert_eq!(executed.status(), 303);
    let (_, copy) = demo
        .page("/practice/agreement?flash=executed", &admin)
        .await;
    assert!(copy.contains("The agreement is executed."));
    assert!(copy.contains("Ada Firstday, Owner"));
    let pdf = demo.get("/practice/agreement.pdf", &admin).await;
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let pdf = pdf.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-1.4"));
    assert!(String::from_utf8_lossy(&pdf).contains("Ada Firstday, Owner"));
    // The API shows the executed copy; a second execution is a conflict.
    let (status, again) = demo
        .post(
            "/api/v1/practice/agreement",
            &admin,
            json!({ "signer_name": "Ada Firstday", "signer_title": "Owner",
                    "sha256": sha, "authorized": true }),
        )
        .await;
    assert_eq!(status, 409, "{again}");

    // Now the front desk adds the patient, and the referral goes through.
    let (status, created) = add_patient(&demo, &desk).await;
    assert_eq!(status, 201, "{created}");
    let (status, sent) = refer(&demo, &referrer, &patient, new.id).await;
    assert_eq!(status, 201, "{sent}");
}

on_both_backends!(a_new_practice_takes_patients_only_after_its_admin_executes_the_agreement);
