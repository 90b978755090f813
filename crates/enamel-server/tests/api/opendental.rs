//! Open Dental, as a practice administrator connects it and the `pms-sync` agent
//! keeps the schedule in step, against a local server that speaks Open Dental's
//! documented shapes: the BAA gate, a first full read, a changed record, a rate
//! limit, refused keys, and who may.

use std::time::Duration;

use enamel_domain::{Actor, AppointmentStatus, Role, User};
use enamel_store::{BaaStatus, Backend, Store, VendorEntry};
use enamel_testkit::demo::Demo;
use enamel_testkit::opendental::{FakeOpenDental, populate};
use secrecy::SecretString;
use serde_json::json;

use crate::identity::demo_on;

pub(crate) const DEVELOPER: &str = "NFF6i0KrXrxDkZHt";
pub(crate) const CUSTOMER: &str = "VzkmZEaUWOjnQX2z";

pub(crate) async fn user(demo: &Demo, role: Role) -> User {
    let email = enamel_domain::Email::parse(&demo.email(1, role)).unwrap();
    demo.db
        .store
        .users()
        .find_by_email(&email)
        .await
        .unwrap()
        .unwrap()
}

/// Waits until the practice's sync has ended after `after` (the jobs runtime runs
/// it); returns its outcome code.
pub(crate) async fn run_ended(
    store: &Store,
    admin: &User,
    after: Option<time::OffsetDateTime>,
) -> String {
    let actor = Actor::human(admin);
    for _ in 0..300 {
        let connection = store
            .scoped(&actor)
            .pms_connection()
            .await
            .unwrap()
            .unwrap();
        if connection.last_finished_at.is_some() && connection.last_finished_at != after {
            return connection.last_outcome.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sync did not run");
}

pub(crate) async fn last_finished(store: &Store, admin: &User) -> Option<time::OffsetDateTime> {
    store
        .scoped(&Actor::human(admin))
        .pms_connection()
        .await
        .unwrap()
        .and_then(|c| c.last_finished_at)
}

pub(crate) async fn execute_baa(demo: &Demo) {
    let practice = demo.network.practices[1].practice.id;
    let actor = Actor::system_for(practice, enamel_domain::SystemTask::Seed);
    let executed = time::macros::date!(2026 - 06 - 01);
    demo.db
        .store
        .scoped(&actor)
        .put_vendor(
            &VendorEntry {
                name: enamel_domain::VendorName::parse("open-dental").unwrap(),
                display_name: "Open Dental".into(),
                services: "practice schedule sync".into(),
                baa_status: BaaStatus::Executed,
                executed_on: Some(executed),
                expires_on: Some(time::macros::date!(2029 - 06 - 01)),
                document_ref: Some("BAA-OD-1".into()),
            },
            demo.clock_now(),
        )
        .await
        .unwrap();
}

#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn the_administrator_connects_open_dental_and_the_schedule_keeps_in_step(backend: Backend) {
    let fake = FakeOpenDental::start(DEVELOPER, CUSTOMER).await;
    populate(&fake, 60);
    let base = fake.url.to_string();
    let Some(demo) = demo_on(backend, |settings| {
        settings.pms.opendental_developer_key = Some(SecretString::from(DEVELOPER));
        settings.pms.opendental_base_url = Some(base);
    })
    .await
    else {
        return;
    };
    let store = demo.db.store.clone();
    let admin_user = user(&demo, Role::PracticeAdmin).await;
    let (admin, _) = demo
        .admin_session(&demo.email(1, Role::PracticeAdmin))
        .await;
    let (status, page) = demo.page("/practice/opendental", &admin).await;
    assert_eq!(status, 200);
    assert!(page.contains("Customer key"), "{page}");

    // The front desk has no business here.
    let desk = demo.session(&demo.email(1, Role::FrontDesk)).await;
    let (status, _) = demo.page("/practice/opendental", &desk).await;
    assert_eq!(status, 403);
    let response = demo
        .form(
            "/practice/opendental",
            Some(&desk),
            &[("customer_key", CUSTOMER), ("minutes", "5")],
        )
        .await;
    assert_eq!(response.status(), 403);

    // A key that is not a key is refused with the reason.
    let response = demo
        .form(
            "/practice/opendental",
            Some(&admin),
            &[("customer_key", "a b/c"), ("minutes", "5")],
        )
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("customer key"));

    // Connected: the first run is queued. The registry has no executed BAA with
    // Open Dental yet, so nothing is read.
    let response = demo
        .form(
            "/practice/opendental",
            Some(&admin),
            &[("customer_key", CUSTOMER), ("minutes", "5")],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        run_ended(&store, &admin_user, None).await,
        "no_executed_baa"
    );
    assert!(
        fake.requests().is_empty(),
        "nothing was asked of Open Dental"
    );
    let (_, page) = demo.page("/practice/opendental", &admin).await;
    assert!(
        page.contains("no executed business associate agreement"),
        "{page}"
    );

    // With the agreement, "sync now" reads everything, through a rate limit.
    execute_baa(&demo).await;
    fake.fail_next(&[429]);
    let before = last_finished(&store, &admin_user).await;
    demo.clock.advance(time::Duration::seconds(1));
    let response = demo
        .form("/practice/opendental/sync", Some(&admin), &[])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(run_ended(&store, &admin_user, before).await, "ok");
    let (_, page) = demo.page("/practice/opendental", &admin).await;
    assert!(page.contains("Synced."), "{page}");
    assert!(
        page.contains("<th scope=\"row\">Patients</th><td>60</td><td>60</td><td>0</td>"),
        "sixty patients read and added: {page}"
    );

    let desk_user = user(&demo, Role::FrontDesk).await;
    let desk_actor = Actor::human(&desk_user);
    let staff = store.scoped(&desk_actor);
    let from = time::macros::datetime!(2026-11-29 00:00 UTC);
    let to = time::macros::datetime!(2026-12-20 00:00 UTC);
    let appointments = staff.appointments_between(from, to).await.unwrap();
    assert_eq!(appointments.len(), 20, "every third patient has one");
    let broken = |list: &[enamel_store::Appointment]| {
        list.iter()
            .filter(|a| a.status == AppointmentStatus::Broken)
            .count()
    };
    assert_eq!(broken(&appointments), 2);
    let waitlist = staff.waitlist().await.unwrap();
    assert_eq!(waitlist.len(), 2, "the ASAP list");
    assert!(
        waitlist.iter().all(|entry| entry.moves.is_some()),
        "an ASAP entry would move its own appointment"
    );
    let references = store
        .scoped(&Actor::human(&admin_user))
        .pms_references()
        .await
        .unwrap();
    assert_eq!(references.providers.len(), 3);
    assert_eq!(references.operatories.len(), 4);
    let due = staff
        .recalls(Some(time::macros::date!(2027 - 12 - 31)), None)
        .await
        .unwrap();
    assert_eq!(due.len(), 60);

    // A changed appointment and patient are all the next run writes; the small
    // lists are unchanged and not written again.
    assert!(fake.change("appointments", 3, |apt| {
        apt.insert("AptStatus".into(), json!("Broken"));
    }));
    assert!(fake.change("patients", 5, |pat| {
        pat.insert("Email".into(), json!("changed@example.test"));
    }));
    let requests_before = fake.requests().len();
    let before = last_finished(&store, &admin_user).await;
    demo.clock.advance(time::Duration::seconds(1));
    demo.form("/practice/opendental/sync", Some(&admin), &[])
        .await;
    assert_eq!(run_ended(&store, &admin_user, before).await, "ok");
    let asked: Vec<String> = fake.requests()[requests_before..].to_vec();
    assert!(
        asked
            .iter()
            .any(|r| r.starts_with("GET patients/Simple?DateTStamp=")),
        "{asked:?}"
    );
    let connection = store
        .scoped(&Actor::human(&admin_user))
        .pms_connection()
        .await
        .unwrap()
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_str(connection.last_report.as_deref().unwrap()).unwrap();
    assert_eq!(report["lists"]["appointments"]["read"], 1, "{report}");
    assert_eq!(report["lists"]["appointments"]["updated"], 1, "{report}");
    assert_eq!(report["lists"]["patients"]["read"], 1, "{report}");
    assert_eq!(report["lists"]["operatories"]["inserted"], 0, "{report}");
    assert_eq!(report["lists"]["operatories"]["updated"], 0, "{report}");
    assert_eq!(report["lists"]["recalls"]["updated"], 0, "{report}");
    let appointments = staff.appointments_between(from, to).await.unwrap();
    assert_eq!(broken(&appointments), 3);

    // One run of a practice at a time: while one holds it, another is refused; and
    // the agent, whose scope is the import, may not disconnect its practice.
    let practice = demo.network.practices[1].practice.id;
    let agent = connection.agent;
    let agent_actor = enamel_agents::pms::sync::agent_actor(agent, practice);
    let as_agent = store.scoped(&agent_actor);
    as_agent
        .pms_sync_started(demo.clock_now() + time::Duration::minutes(30))
        .await
        .unwrap();
    let settings = enamel_agents::jobs::pms_sync::PmsClientSettings {
        base_url: fake.url.clone(),
        developer_key: Some(SecretString::from(DEVELOPER)),
        first_pause: Duration::from_millis(5),
    };
    let second =
        enamel_agents::jobs::pms_sync::sync_practice(&store, &settings, practice, false).await;
    assert!(
        matches!(second, Err(ref err) if err.code() == "already_running"),
        "{second:?}"
    );
    as_agent.pms_sync_finished("ok", "").await.unwrap();
    assert!(matches!(
        as_agent.disconnect_pms().await,
        Err(enamel_store::StoreError::Denied)
    ));

    // Refused keys: the run stops and says so; nothing is lost.
    let before = last_finished(&store, &admin_user).await;
    demo.clock.advance(time::Duration::seconds(1));
    let response = demo
        .form(
            "/practice/opendental",
            Some(&admin),
            &[("customer_key", "WrongKey123"), ("minutes", "10")],
        )
        .await;
    assert_eq!(response.status(), 303);
    // The reconnection queued a run; wait for it.
    let outcome = run_ended(&store, &admin_user, before).await;
    assert_eq!(outcome, "opendental-unauthorized-401");
    let (_, page) = demo.page("/practice/opendental", &admin).await;
    assert!(page.contains("Open Dental refused the keys"), "{page}");
    assert!(page.contains("every 10 minutes"), "{page}");
    assert!(!page.contains("WrongKey123"), "the key is never shown");
    assert_eq!(
        staff.appointments_between(from, to).await.unwrap().len(),
        20
    );

    // Disconnected: no more runs.
    let response = demo
        .form("/practice/opendental/disconnect", Some(&admin), &[])
        .await;
    assert_eq!(response.status(), 303);
    assert!(
        store
            .scoped(&Actor::human(&admin_user))
            .pms_connection()
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.pms_connections().await.unwrap().is_empty());
}

on_both_backends!(the_administrator_connects_open_dental_and_the_schedule_keeps_in_step);
