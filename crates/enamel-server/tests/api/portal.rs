//! The patient's page: the link asks for the birth date before it shows anything,
//! opens again within its 24 hours, locks after five wrong dates (audited), shows the
//! booked visit in the specialist's time zone, and the patient is told of the booking.

use enamel_domain::Role;
use enamel_store::Backend;
use serde_json::json;

use crate::identity::{Demo, demo_on};

const BIRTH_DATE: &str = "1986-03-14";

/// A referral of a new patient to the demo's endodontist, and its portal link's path.
async fn referral_with_link(demo: &Demo) -> (String, String) {
    let referrer = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (status, patient) = demo
        .post(
            "/api/v1/patients",
            &referrer,
            json!({ "first_name": "Perpetua", "last_name": "Lindqvist-Amadi", "birth_date": BIRTH_DATE,
                    "email": "perpetua@example.test", "preferred_contact": "email" }),
        )
        .await;
    assert_eq!(status, 201, "{patient}");
    let referral = demo.refer(&referrer, patient["id"].as_str().unwrap()).await;
    let path = demo.send_portal_link(&referrer, &referral).await;
    (referral, path)
}

async fn the_link_opens_with_the_birth_date_and_shows_the_booked_visit(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let (referral, path) = referral_with_link(&demo).await;
    let (status, before) = demo.open_portal(&path, BIRTH_DATE).await;
    assert_eq!(status, 200, "{before}");
    assert!(before.contains("Hi Perpetua"));
    assert!(!before.contains("Your visit:"), "not booked yet");

    // The specialist books the visit at 09:30 their time on the day after the
    // autumn change (the demo's endodontist keeps America/Chicago).
    let specialist = demo.session(&demo.email(3, Role::FrontDesk)).await;
    for (step, body) in [
        ("accept", json!({})),
        ("schedule", json!({ "appointment": "2026-11-02T09:30" })),
    ] {
        let (status, moved) = demo
            .post(
                &format!("/api/v1/referrals/{referral}/steps/{step}"),
                &specialist,
                body,
            )
            .await;
        assert_eq!(status, 200, "{step}: {moved}");
    }
    let (status, after) = demo.open_portal(&path, BIRTH_DATE).await;
    assert_eq!(status, 200, "{after}");
    assert!(
        after.contains("Your visit: <strong>Monday, November 2, 2026 at 9:30 AM CST</strong>"),
        "{after}"
    );
    // The patient was told, by first name, with the time in the specialist's zone.
    let outbox = demo.db.store.outbox();
    let queued = outbox
        .of_practice(demo.network.practices[0].practice.id, 100)
        .await
        .unwrap();
    let booked = queued
        .iter()
        .find(|m| m.kind == "patient_visit_booked")
        .expect("the patient hears of the booking");
    if let Some(message) = outbox.pending(booked.id).await.unwrap() {
        let body = &message.text.expose().body;
        assert!(body.contains("Hi Perpetua"), "{body}");
        assert!(
            body.contains("Monday, November 2, 2026 at 9:30 AM CST"),
            "{body}"
        );
        assert!(!body.contains("Lindqvist"), "no last name");
    }

    // After 24 hours the link no longer works, birth date or not.
    demo.clock.advance(time::Duration::hours(25));
    let (status, gone) = demo.open_portal(&path, BIRTH_DATE).await;
    assert_eq!(status, 410);
    assert!(gone.contains("This link no longer works"));
}

async fn five_wrong_birth_dates_lock_the_link_and_are_audited(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let (_, path) = referral_with_link(&demo).await;
    for left in (1..=4).rev() {
        let (status, page) = demo.open_portal(&path, "1986-03-15").await;
        assert_eq!(status, 422);
        let tries = if left == 1 { "try" } else { "tries" };
        assert!(page.contains(&format!("{left} {tries} left")), "{page}");
        assert!(!page.contains("Perpetua"));
    }
    let (status, locked) = demo.open_portal(&path, "15/03/1986").await;
    assert_eq!(status, 422, "a date that does not parse is not an attempt");
    assert!(locked.contains("Enter your date of birth"));
    let (status, locked) = demo.open_portal(&path, "1986-03-15").await;
    assert_eq!(status, 410);
    assert!(locked.contains("This link is locked"), "{locked}");
    // Even the right date does not open a locked link.
    let (status, _) = demo.open_portal(&path, BIRTH_DATE).await;
    assert_eq!(status, 410);

    let (officer, _) = demo
        .admin_session(&demo.email(0, Role::SecurityOfficer))
        .await;
    let (status, failures) = demo.read("/api/v1/audit/failures", &officer).await;
    assert_eq!(status, 200);
    let portal: Vec<&serde_json::Value> = failures["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource_type"] == "portal_link")
        .collect();
    assert_eq!(portal.len(), 5, "{failures}");
    assert!(
        portal
            .iter()
            .any(|e| e["detail"]["portal"]["code"] == "link_locked"),
        "{failures}"
    );
}

on_both_backends!(
    the_link_opens_with_the_birth_date_and_shows_the_booked_visit,
    five_wrong_birth_dates_lock_the_link_and_are_audited
);
