//! Retention of operational records: an ended session, an expired portal link and a
//! delivered message's sealed words are gone after their period; the delivery record
//! and the audit log stay.

use enamel_domain::Role;
use enamel_store::Backend;
use serde_json::json;
use time::Duration;

use crate::identity::demo_on;

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn served_records_are_removed_after_their_period(backend: Backend) {
    let mailbox = tempfile::tempdir().unwrap();
    let Some(demo) = demo_on(backend, |settings| {
        // Delivered by the jobs runtime, as the demo delivers: into files.
        settings.notifications.mailbox_dir = Some(mailbox.path().to_owned());
        settings.notifications.poll_millis = Some(50);
    })
    .await
    else {
        return;
    };
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let patient = demo.add_patient(&front_desk, "Keepwell").await;
    let referral = demo.refer(&front_desk, &patient).await;
    let (status, _) = demo
        .post(
            &format!("/api/v1/referrals/{referral}/portal-link"),
            &front_desk,
            json!({}),
        )
        .await;
    assert_eq!(status, 202);
    // Delivered by the runtime.
    let store = &demo.db.store;
    let mut delivered = false;
    for _ in 0..100 {
        let sent = store
            .outbox()
            .of_practice(demo.network.practices[0].practice.id, 100)
            .await
            .unwrap();
        if !sent.is_empty() && sent.iter().all(|m| m.status == "sent") {
            delivered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(delivered, "the runtime delivered the messages");
    demo.form("/sign-out", Some(&front_desk), &[]).await;
    let practice = enamel_audit::entry::Scope::Practice(demo.network.practices[0].practice.id);
    let logged = store.audit().heads().await.unwrap();
    let size_of = |heads: &[(enamel_audit::entry::Scope, u64)]| {
        heads
            .iter()
            .find(|(s, _)| *s == practice)
            .map(|(_, n)| *n)
            .unwrap()
    };

    // The runtime's daily retention run (30 days by default) finds nothing yet...
    let runs = || async {
        crate::identity::log_of(&demo, &enamel_audit::entry::Scope::Platform)
            .await
            .iter()
            .map(|e| serde_json::from_slice::<serde_json::Value>(e).unwrap())
            .filter(|e| e["resource_type"] == "retention")
            .collect::<Vec<_>>()
    };
    let count =
        |run: &serde_json::Value, what: &str| run["detail"][what]["count"].as_u64().unwrap();
    let first = wait_for_run(&runs).await;
    assert_eq!(
        count(&first, "portal_links"),
        0,
        "nothing has served long enough: {first}"
    );
    // ...and, the day the link has been expired for 30 days, removes what has served.
    demo.clock.advance(Duration::days(32));
    let mut late = None;
    for _ in 0..100 {
        late = runs()
            .await
            .into_iter()
            .find(|r| count(r, "portal_links") == 1);
        if late.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let late = late.expect("a retention run removed the expired link");
    assert!(count(&late, "sessions") >= 1, "{late}");
    assert!(
        count(&late, "message_bodies") >= 2,
        "the patient's and the office's: {late}"
    );

    // The delivery records stay, without their words; the practice's log is untouched.
    let (officer, _) = demo
        .admin_session(&demo.email(0, Role::PracticeAdmin))
        .await;
    let (status, notifications) = demo.read("/api/v1/notifications", &officer).await;
    assert_eq!(status, 200, "{notifications}");
    assert!(
        notifications["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["status"] == "sent"),
        "{notifications}"
    );
    let heads = store.audit().heads().await.unwrap();
    assert!(
        size_of(&heads) >= size_of(&logged),
        "nothing removed from the audit log"
    );
}

/// The first retention run the runtime records.
async fn wait_for_run<F, Fut>(runs: &F) -> serde_json::Value
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<serde_json::Value>>,
{
    for _ in 0..100 {
        if let Some(run) = runs().await.into_iter().next() {
            return run;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no retention run was recorded");
}

on_both_backends!(served_records_are_removed_after_their_period);
