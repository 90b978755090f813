//! Open Dental's API against a local server that speaks its documented shapes
//! (`enamel_testkit::opendental`): paging, the keys, rate limits and server errors,
//! changes since a server time, and the write-backs.

use std::time::Duration;

use enamel_integrations::opendental::{
    BreakType, OpenDental, OpenDentalError, OpenDentalSettings, PAGE_SIZE, Resource, text,
};
use enamel_testkit::opendental::FakeOpenDental;
use secrecy::SecretString;
use serde_json::json;

const DEVELOPER: &str = "NFF6i0KrXrxDkZHt";
const CUSTOMER: &str = "VzkmZEaUWOjnQX2z";

fn client(fake: &FakeOpenDental, customer: &str) -> OpenDental {
    OpenDental::new(OpenDentalSettings {
        base_url: fake.url.clone(),
        developer_key: SecretString::from(DEVELOPER),
        customer_key: SecretString::from(customer.to_owned()),
        first_pause: Duration::from_millis(5),
    })
    .unwrap()
}

fn patient(num: i64) -> serde_json::Value {
    json!({"PatNum": num, "LName": "Ellery", "FName": "Jules", "Birthdate": "1980-02-03", "PatStatus": "Patient"})
}

#[tokio::test]
async fn lists_come_in_pages_of_a_hundred_until_a_short_one() {
    let fake = FakeOpenDental::start(DEVELOPER, CUSTOMER).await;
    for num in 1..=250 {
        fake.insert("patients", patient(num));
    }
    let od = client(&fake, CUSTOMER);
    let mut pages = od.pages(Resource::Patients, None);
    let mut sizes = Vec::new();
    let mut numbers = Vec::new();
    while let Some(page) = pages.next().await.unwrap() {
        sizes.push(page.items.len());
        assert!(page.server_time.is_some(), "patients carry serverDateTime");
        numbers.extend(page.items.iter().map(|i| text(i, "PatNum").unwrap()));
    }
    assert_eq!(sizes, [PAGE_SIZE, PAGE_SIZE, 50]);
    assert_eq!(numbers.len(), 250);
    assert_eq!(
        fake.requests(),
        [
            "GET patients/Simple?Limit=100",
            "GET patients/Simple?Limit=100&Offset=100",
            "GET patients/Simple?Limit=100&Offset=200",
        ]
    );

    // Exactly a hundred: one more request finds the end.
    let fake = FakeOpenDental::start(DEVELOPER, CUSTOMER).await;
    for num in 1..=100 {
        fake.insert("providers", json!({"ProvNum": num, "LName": "Okafor"}));
    }
    let od = client(&fake, CUSTOMER);
    let mut pages = od.pages(Resource::Providers, None);
    let mut read = 0;
    while let Some(page) = pages.next().await.unwrap() {
        read += page.items.len();
    }
    assert_eq!(read, 100);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn the_keys_go_in_the_odfhir_header_and_a_refusal_is_unauthorized() {
    let fake = FakeOpenDental::start(DEVELOPER, CUSTOMER).await;
    fake.insert("patients", patient(1));
    let wrong = client(&fake, "SomeOtherKey");
    assert_eq!(
        wrong.page(Resource::Patients, None, 0).await.unwrap_err(),
        OpenDentalError::Unauthorized(401)
    );
    let right = client(&fake, CUSTOMER);
    assert_eq!(
        right
            .page(Resource::Patients, None, 0)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_then_given_up() {
    let fake = FakeOpenDental::start(DEVELOPER, CUSTOMER).await;
    fake.insert(
        "recalls",
        json!({"RecallNum": 1, "PatNum": 1, "RecallTypeNum": 1}),
    );
    let od = client(&fake, CUSTOMER);
    fake.fail_next(&[429, 503]);
    let page = od.page(Resource::Recalls, None, 0).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(fake.requests().len(), 3, "two refusals, then the answer");

    fake.fail_next(&[429, 429, 429, 429]);
    let err = od.page(Resource::Recalls, None, 0).await.unwrap_err();
    assert_eq!(err, OpenDentalError::Unavailable(429));
    assert!(err.is_transient());

    // A 400 is not retried, and its explanation is not kept.
    let requests = fake.requests().len();
    fake.fail_next(&[400]);
    let err = od.page(Resource::Recalls, None, 0).await.unwrap_err();
    assert_eq!(err, OpenDentalError::Refused(400));
    assert_eq!(fake.requests().len(), requests + 1);
    assert!(!err.to_string().contains("Try again"));
}

#[tokio::test]
async fn a_changed_record_is_all_that_comes_after_the_server_time() {
    let fake = FakeOpenDental::start(DEVELOPER, CUSTOMER).await;
    for num in 1..=5 {
        fake.insert("appointments", json!({"AptNum": num, "PatNum": num, "AptStatus": "Scheduled", "AptDateTime": "2026-12-01 09:00:00"}));
    }
    let od = client(&fake, CUSTOMER);
    let first = od.page(Resource::Appointments, None, 0).await.unwrap();
    assert_eq!(first.items.len(), 5);
    let since = first.server_time.unwrap();
    assert!(
        od.page(Resource::Appointments, Some(&since), 0)
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing changed since"
    );
    assert!(fake.change("appointments", 3, |apt| {
        apt.insert("AptStatus".into(), json!("Broken"));
    }));
    let changed = od
        .page(Resource::Appointments, Some(&since), 0)
        .await
        .unwrap();
    let numbers: Vec<_> = changed
        .items
        .iter()
        .map(|i| text(i, "AptNum").unwrap())
        .collect();
    assert_eq!(numbers, ["3"]);
    assert_eq!(
        text(&changed.items[0], "AptStatus").as_deref(),
        Some("Broken")
    );
    assert!(
        fake.requests()
            .last()
            .unwrap()
            .contains(&format!("DateTStamp={since}"))
    );
}

#[tokio::test]
async fn the_write_backs_break_move_and_set_a_recalls_status() {
    let fake = FakeOpenDental::start(DEVELOPER, CUSTOMER).await;
    fake.insert("appointments", json!({"AptNum": 18, "PatNum": 17, "AptStatus": "Scheduled", "Op": 3, "ProvNum": 1, "AptDateTime": "2026-12-01 08:30:00"}));
    fake.insert("appointments", json!({"AptNum": 19, "PatNum": 21, "AptStatus": "UnschedList", "Op": 0, "ProvNum": 1, "AptDateTime": "0001-01-01 00:00:00"}));
    fake.insert(
        "recalls",
        json!({"RecallNum": 40, "PatNum": 38, "RecallStatus": 0}),
    );
    let od = client(&fake, CUSTOMER);

    od.break_appointment("18", BreakType::Missed).await.unwrap();
    assert_eq!(
        fake.item("appointments", 18).unwrap()["AptStatus"],
        "Broken"
    );
    assert_eq!(
        fake.writes()[0],
        (
            "appointments/18/Break".to_owned(),
            json!({"sendToUnscheduledList": "false", "breakType": "Missed"})
        )
    );
    // A server error on a break is not repeated (the first may have taken).
    fake.insert("appointments", json!({"AptNum": 20, "PatNum": 5, "AptStatus": "Scheduled", "AptDateTime": "2026-12-01 11:00:00"}));
    let asked = fake.requests().len();
    fake.fail_next(&[500]);
    assert_eq!(
        od.break_appointment("20", BreakType::Missed)
            .await
            .unwrap_err(),
        OpenDentalError::Unavailable(500)
    );
    assert_eq!(fake.requests().len(), asked + 1);
    assert_eq!(
        fake.item("appointments", 20).unwrap()["AptStatus"],
        "Scheduled"
    );
    // Breaking one again is refused by Open Dental, and said so.
    assert_eq!(
        od.break_appointment("18", BreakType::Cancelled)
            .await
            .unwrap_err(),
        OpenDentalError::Refused(400)
    );

    let slot = time::macros::datetime!(2026-12-02 10:00);
    od.move_appointment("19", slot, Some("2"), Some("3"))
        .await
        .unwrap();
    let moved = fake.item("appointments", 19).unwrap();
    assert_eq!(moved["AptDateTime"], "2026-12-02 10:00:00");
    assert_eq!(moved["Op"], 2);
    assert_eq!(moved["ProvNum"], 3);

    od.set_recall_status("40", 142).await.unwrap();
    assert_eq!(fake.item("recalls", 40).unwrap()["RecallStatus"], 142);

    assert_eq!(
        od.move_appointment("999", slot, None, None)
            .await
            .unwrap_err(),
        OpenDentalError::NotFound
    );
    assert_eq!(
        od.set_recall_status("not-a-number", 1).await.unwrap_err(),
        OpenDentalError::Refused(0),
        "refused before anything is sent"
    );
}
