//! Work a practice meets at its own hour: the "patient not responding" flags are
//! raised by the jobs runtime at 07:00 in the referring practice's time zone, not at
//! a UTC hour, with the clock moved across days as a real one would.

use enamel_domain::Role;
use enamel_server::clock::Clock as _;
use enamel_store::Backend;
use time::PrimitiveDateTime;
use time::macros::time;

use crate::identity::{Demo, demo_on};

async fn flagged(demo: &Demo, referral: &str) -> bool {
    // A fresh session at the moved clock (the first one has long expired).
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let response = demo
        .get(&format!("/api/v1/referrals/{referral}"), &front_desk)
        .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["referral"]["not_responding"].as_bool().unwrap()
}

async fn a_referral_is_flagged_at_seven_in_the_referring_practices_morning(backend: Backend) {
    let Some(demo) = demo_on(backend, |settings| {
        settings.notifications.poll_millis = Some(50);
    })
    .await
    else {
        return;
    };
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let patient = demo.add_patient(&front_desk, "Waitwell").await;
    let referral = demo.refer(&front_desk, &patient).await;
    let zone = demo.network.practices[0].practice.time_zone;
    // The demo's limit is 14 days; 15 local days on, the flag is due that morning.
    let day = zone.local_date(demo.clock.now()) + time::Duration::days(15);
    demo.clock
        .set(zone.instant(PrimitiveDateTime::new(day, time!(06:59))));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !flagged(&demo, &referral).await,
        "flagged before 07:00 in the practice's time zone"
    );
    demo.clock
        .set(zone.instant(PrimitiveDateTime::new(day, time!(07:00))));
    let mut raised = false;
    for _ in 0..100 {
        if flagged(&demo, &referral).await {
            raised = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(raised, "the 07:00 run flagged the referral");
}

on_both_backends!(a_referral_is_flagged_at_seven_in_the_referring_practices_morning);
